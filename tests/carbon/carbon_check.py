#!/usr/bin/python3
"""carbon_check.py -- helpers of the stackmon-carbon scenarios.

  sink PORT FILE     accept TCP connections on 127.0.0.1:PORT (any number,
                     one after another or at once) and append every byte
                     received to FILE (flushed as it comes)
  compare JSONL PREFIX DIR...
                     read the Whisper files under the carbon-cache data
                     directories DIR... with python3-whisper and check, for
                     every stats frame stackmon-sub printed (JSONL), that
                     cpu_pct and mem_pct of every domain, a disk's
                     rd_bytes_ps and errors, a NIC's rx_bytes_ps and
                     rx_errors, and the host's mem_pct and load1 hold at
                     floor(time) the value of the frame (null: no point);
                     that each file is in exactly one DIR, and that every
                     DIR holds some (the relay's hashing spread them)
  lines FILE REGEX   number of lines of FILE matching REGEX
  value FILE PATH    the value of the last line of FILE for PATH
"""
import json
import math
import os
import re
import selectors
import socket
import struct
import sys

import whisper


def sink(port, path):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ)
    with open(path, "ab") as out:
        while True:
            for key, _ in sel.select():
                if key.fileobj is srv:
                    conn, _ = srv.accept()
                    sel.register(conn, selectors.EVENT_READ)
                    continue
                data = key.fileobj.recv(65536)
                if not data:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    continue
                out.write(data)
                out.flush()


def host_component(host):
    return re.sub(r"[^A-Za-z0-9_-]", "_", host)[:253] or "_"


def expected(frames, prefix):
    """{graphite path: {ts: value or None}} from the frames (the last frame of a second wins)."""
    want = {}
    pre = prefix + "." if prefix else ""

    def put(path, ts, v):
        want.setdefault(pre + path, {})[ts] = v

    for m in frames:
        ts = int(math.floor(m["time"]))
        h = "hosts." + host_component(m["host"])
        put(h + ".mem_pct", ts, m["node"]["mem_pct"])
        put(h + ".load1", ts, m["node"]["load"][0])
        for d in m["domains"]:
            if d.get("stale"):
                continue
            u = d["uuid"]
            stem = "domains.%s.%s" % (u[:2], u)
            put(stem + ".cpu_pct", ts, d["cpu_pct"])
            put(stem + ".mem_pct", ts, d["mem_pct"])
            if d["disks"]:
                k = d["disks"][0]
                put("%s.disk.%s.rd_bytes_ps" % (stem, k["name"]), ts, k["rd_bytes_ps"])
                put("%s.disk.%s.errors" % (stem, k["name"]), ts, k["errors"])
            if d["nics"]:
                n = d["nics"][0]
                name = re.sub(r"[^A-Za-z0-9_-]", "_", n["name"])
                put("%s.nic.%s.rx_bytes_ps" % (stem, name), ts, n["rx_bytes_ps"])
                put("%s.nic.%s.rx_errors" % (stem, name), ts, n["rx_errors"])
    return want


def same(got, printed):
    """Whisper's double against stackmon-sub's text: equal, or the wire's
    float32 that the text printed shortest (50000.004 for 50000.00390625)."""
    if got == printed:
        return True
    try:
        return got == struct.unpack("f", struct.pack("f", printed))[0]
    except OverflowError:
        return False


def compare(jsonl, prefix, dirs):
    frames = []
    with open(jsonl, encoding="utf-8") as f:
        for line in f:
            m = json.loads(line)
            if m.get("kind") == "stats":
                frames.append(m)
    if len(frames) < 3:
        sys.exit("only %d stats frames in %s" % (len(frames), jsonl))
    want = expected(frames, prefix)
    per_dir = {d: 0 for d in dirs}
    for d in dirs:
        for _root, _dirs, files in os.walk(os.path.join(d, *prefix.split("."))
                                           if prefix else d):
            per_dir[d] += sum(1 for f in files if f.endswith(".wsp"))
    empty = [d for d, n in per_dir.items() if n == 0]
    if empty:
        sys.exit("no metric file under %s (files per cache: %s)" % (empty, per_dir))
    checked = known = 0
    for path, points in sorted(want.items()):
        rel = path.replace(".", "/") + ".wsp"
        where = [d for d in dirs if os.path.exists(os.path.join(d, rel))]
        if len(where) != 1:
            sys.exit("%s is in %d caches, not one" % (rel, len(where)))
        lo = min(points) - 1
        (start, _end, step), values = whisper.fetch(os.path.join(where[0], rel), lo,
                                                     max(points) + 1)
        got = {start + i * step: v for i, v in enumerate(values)}
        for ts, v in points.items():
            g = got.get(ts)
            if v is None:
                if g is not None:
                    sys.exit("%s at %d: %r in Whisper, but the frame had no value" % (path, ts, g))
            elif g is None or not same(g, v):
                sys.exit("%s at %d: %r in Whisper, %r in the frame" % (path, ts, g, v))
            else:
                known += 1
            checked += 1
    print("compared %d points (%d with a value) of %d series over %d frames; files per cache %s"
          % (checked, known, len(want), len(frames), sorted(per_dir.values())))
    if known < len(want):
        sys.exit("too few known values: %d" % known)


def lines(path, regex):
    r = re.compile(regex)
    n = 0
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            n = sum(1 for line in f if r.search(line))
    print(n)


def value(path, metric):
    v = ""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and p[0] == metric:
                v = p[1]
    print(v)


def main():
    cmd = sys.argv[1]
    if cmd == "sink":
        sink(int(sys.argv[2]), sys.argv[3])
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif cmd == "lines":
        lines(sys.argv[2], sys.argv[3])
    elif cmd == "value":
        value(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
