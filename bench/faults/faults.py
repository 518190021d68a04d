#!/usr/bin/python3
"""faults.py -- the counting half of bench/faults/run.sh: reads back what a
fault left behind (stackmon-sub's JSON lines, the aggregator's Whisper files,
index and log) and prints plain numbers for the shell to put in its table.
Standard library only, except python3-whisper (Debian's, as the aggregator's
end-to-end checks use) for reading Whisper files.

  faults.py ports N                       N free TCP ports on 127.0.0.1
  faults.py seq JSONL HOST KIND           expected received lost epochs gap
  faults.py resume JSONL HOST KIND TK TB  seconds from TB to the frame after the outage's gap
  faults.py stamp OUT ARRIVALS            stdin to OUT, arrival times of stats to ARRIVALS
  faults.py latency ARRIVALS              median and largest sampling-to-arrival delay
  faults.py stale JSONL HOST T_UP         libvirt_down_frames stale_frames fresh_after
  faults.py events JSONL HOST PREFIX      started events of domains named PREFIX*
  faults.py colldrops JSONL               the last collector counters' drops
  faults.py wsp DATA HOST METRIC T0 T1    seconds of [T0, T1) and those with a point
  faults.py index DATA HOST KIND          received lost restarts (host_streams)
  faults.py aggsum LOG FROM TO            written dropped_space over log lines FROM..TO
  faults.py held LOG                      figures of the monitor's outage lines

Counting by sequence number (docs/PROTOCOL.md): every publisher numbers each
kind from 1 in each epoch, and the subscriber was listening before the
monitor started, so an epoch's expected frames are 1..highest seq seen. What
a publisher sent after the last frame seen cannot be counted this way: every
fault therefore ends with a quiet stretch that lets the flow resume.
"""
import json
import os
import re
import socket
import sqlite3
import sys
import time


def frames(path, host, kind):
    """Yields the decoded messages of HOST and KIND in file order."""
    with open(path, "rb") as f:
        for raw in f:
            # Cheap filter first: stats frames of big nodes are long lines.
            if b'"kind":"' + kind.encode() + b'"' not in raw[:64]:
                continue
            try:
                m = json.loads(raw)
            except ValueError:
                continue  # a line cut short by a killed subscriber
            if m.get("host") == host and m.get("kind") == kind:
                yield m


def cmd_ports(n):
    socks, ports = [], []
    for _ in range(int(n)):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    print(" ".join(str(p) for p in ports))


def cmd_seq(path, host, kind):
    """expected received lost epochs largest_gap_seconds"""
    epochs = {}  # epoch -> set of seq, in order of first appearance
    times = []
    for m in frames(path, host, kind):
        epochs.setdefault(m["epoch"], set()).add(m["seq"])
        times.append(m["time"])
    expected = received = 0
    for seqs in epochs.values():
        expected += max(seqs)
        received += len(seqs)
    gap = max((b - a for a, b in zip(times, times[1:])), default=0.0)
    print(expected, received, expected - received, len(epochs), "%.1f" % gap)


def cmd_resume(path, host, kind, t_kill, t_back):
    """Where the loss of an outage ended: of the seq gaps after T_KILL, the
    longest in time; prints the sampling time of the frame after it minus
    T_BACK (the collector running again), i.e. how long after the collector
    was back the first frame it passed on was sampled; "none" without a gap."""
    t_kill, t_back = float(t_kill), float(t_back)
    last = {}  # epoch -> previous frame
    best = None
    for m in frames(path, host, kind):
        prev = last.get(m["epoch"])
        last[m["epoch"]] = m
        if prev and m["seq"] > prev["seq"] + 1 and m["time"] > t_kill:
            if best is None or m["time"] - prev["time"] > best[1]:
                best = (m["time"], m["time"] - prev["time"])
    print("none" if best is None else "%+.1f" % (best[0] - t_back))


def cmd_stamp(out, arrivals):
    """Copies standard input (stackmon-sub's JSON lines) to OUT and writes,
    for each stats line, "seq time arrival" to ARRIVALS: how late a frame
    reached this subscriber (stackmon-sub flushes every line)."""
    with open(out, "ab") as o, open(arrivals, "a") as a:
        for raw in sys.stdin.buffer:
            t = time.time()
            o.write(raw)
            o.flush()
            if b'"kind":"stats"' in raw[:64]:
                m = re.search(rb'"time":([0-9.]+),"seq":([0-9]+)', raw[:200])
                if m:
                    a.write("%s %s %.6f\n" % (m.group(2).decode(), m.group(1).decode(), t))
                    a.flush()


def cmd_latency(arrivals):
    """median and largest delay (s) from sampling to arrival."""
    d = sorted(float(x.split()[2]) - float(x.split()[1]) for x in open(arrivals) if x.strip())
    if not d:
        print("? ?")
        return
    print("%.3f %.3f" % (d[len(d) // 2], d[-1]))


def cmd_stale(path, host, t_up):
    """Frames sent while libvirt was unreachable or with stale domains, and
    seconds from T_UP (libvirtd answering again) to the first frame whose
    domains are all fresh."""
    t_up = float(t_up)
    down = stale = 0
    fresh = None
    for m in frames(path, host, "stats"):
        ok = m.get("node", {}).get("libvirt_ok", True)
        doms = m.get("domains", [])
        any_stale = any(d.get("stale") for d in doms)
        if not ok:
            down += 1
        if any_stale:
            stale += 1
        if fresh is None and m["time"] >= t_up and ok and doms and not any_stale:
            fresh = m["time"] - t_up
    print(down, stale, "never" if fresh is None else "%.1f" % fresh)


def cmd_events(path, host, prefix):
    """started stopped: distinct domains named PREFIX* with such an event."""
    started, stopped = set(), set()
    for m in frames(path, host, "event"):
        if not str(m.get("name", "")).startswith(prefix):
            continue
        (started if m.get("event") == "started" else stopped).add(m.get("uuid"))
    print(len(started), len(stopped))


def cmd_colldrops(path):
    """The collector's cumulative drops by reason, from its last counters."""
    last = None
    with open(path, "rb") as f:
        for raw in f:
            if b'"kind":"collector"' in raw[:64]:
                last = raw
    if last is None:
        print("none")
        return
    m = json.loads(last)
    d = m.get("dropped", {})
    print(",".join("%s=%s" % (k, v) for k, v in sorted(d.items()) if v) or "0",
          "lost=%s" % m.get("lost", 0))


def cmd_wsp(data, host, metric, t0, t1):
    """seconds_in_window seconds_with_a_point, from the 1-second archive."""
    import whisper  # only here: the other commands run without it

    t0, t1 = int(float(t0)), int(float(t1))
    path = os.path.join(data, "hosts", host, metric + ".wsp")
    if not os.path.exists(path):
        print(t1 - t0, 0)
        return
    (start, _end, step), vals = whisper.fetch(path, t0 - 1, t1, archiveToSelect=1)
    have = sum(1 for i, v in enumerate(vals) if v is not None and t0 <= start + i * step < t1)
    print(t1 - t0, have)


def cmd_index(data, host, kind):
    """received lost restarts of HOST's KIND frames, as the aggregator counted."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(data, "index.sqlite"), uri=True)
    row = db.execute("SELECT sum(received), sum(lost), sum(restarts) FROM host_streams"
                     " WHERE host = ? AND kind = ?", (host, kind)).fetchone()
    print(*(x if x is not None else 0 for x in row))


SUMMARY = {
    "written": re.compile(r"points (\d+) written"),
    "space": re.compile(r"\(space (\d+),"),
    "owed": re.compile(r"\((\d+) coarse owed\)"),
    "created": re.compile(r"(\d+) created,"),
    "refused_files": re.compile(r"files (\d+) \(points \d+\)"),
    "refused_points": re.compile(r"files \d+ \(points (\d+)\)"),
}


def cmd_aggsum(log, first, last):
    """written dropped_space coarse_owed files_created files_refused
    points_refused, summed over the summary lines among log lines
    FIRST..LAST (1-based)."""
    sums = dict.fromkeys(SUMMARY, 0)
    with open(log, errors="replace") as f:
        for i, line in enumerate(f, 1):
            if int(first) <= i <= int(last) and "points" in line and " written" in line:
                for k, rx in SUMMARY.items():
                    m = rx.search(line)
                    if m:
                        sums[k] += int(m.group(1))
    print(*sums.values())


def cmd_held(log):
    """silent_lines back_lines held dropped (from the last 'answers again')."""
    silent = back = 0
    held = dropped = "?"
    with open(log, errors="replace") as f:
        for line in f:
            if "no collector answered" in line:
                silent += 1
            if "answers again" in line:
                back += 1
                m = re.search(r"(\d+) message\(s\) held meanwhile.*?(\d+) dropped", line)
                if m:
                    held, dropped = m.group(1), m.group(2)
    print(silent, back, held, dropped)


def main():
    cmds = {"ports": cmd_ports, "seq": cmd_seq, "resume": cmd_resume, "stale": cmd_stale,
            "stamp": cmd_stamp, "latency": cmd_latency, "events": cmd_events,
            "colldrops": cmd_colldrops, "wsp": cmd_wsp, "index": cmd_index,
            "aggsum": cmd_aggsum, "held": cmd_held, "now": lambda: print("%.3f" % time.time())}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
