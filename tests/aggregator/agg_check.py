#!/usr/bin/python3
"""agg_check.py -- what the aggregator's end-to-end scenarios check, through
Debian's python3-whisper and sqlite3 (never through our own C reader):

  agg_check.py readable DATA           every .wsp under domains/ and hosts/ opens
                                       with whisper.info and whisper.fetch
  agg_check.py registered DATA         every file is in the index, every indexed
                                       path exists, no path leaves the directory
  agg_check.py values FILE MIN MAX N   at least N known values in the last 30 min,
                                       all within [MIN, MAX]
  agg_check.py count FILE              prints the number of known values (30 min)
  agg_check.py info FILE               prints method, xff and archives
Exits 1 with a message on the first failed check.
"""
import os
import sqlite3
import sys
import time

import whisper


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def wsp_files(data):
    out = []
    for top in ("domains", "hosts"):
        for root, _dirs, files in os.walk(os.path.join(data, top)):
            out.extend(os.path.join(root, f) for f in files if f.endswith(".wsp"))
    return sorted(out)


def known(path, seconds=1800):
    now = int(time.time())
    (_start, _end, _step), values = whisper.fetch(path, now - seconds, now + 1)
    return [v for v in values if v is not None]


def readable(data):
    files = wsp_files(data)
    for f in files:
        try:
            whisper.info(f)
            whisper.fetch(f, int(time.time()) - 3600)
        except Exception as e:  # any failure is the finding
            fail("%s: %s: %s" % (f, type(e).__name__, e))
    print("%d files readable" % len(files))


def registered(data):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(data, "index.sqlite"), uri=True)
    paths = [r[0] for r in db.execute("SELECT path FROM metrics")]
    real = os.path.realpath(data)
    for p in paths:
        full = os.path.realpath(os.path.join(data, p))
        if os.path.isabs(p) or ".." in p.split("/") or not full.startswith(real + "/"):
            fail("indexed path leaves the data directory: %r" % p)
        if not os.path.isfile(full):
            fail("indexed file missing: %s" % p)
    on_disk = {os.path.relpath(f, data) for f in wsp_files(data)}
    missing = sorted(on_disk - set(paths))
    if missing:
        fail("%d files not in the index, e.g. %s" % (len(missing), missing[0]))
    print("%d files, all registered" % len(paths))


def values(path, lo, hi, n):
    v = known(path)
    if len(v) < n:
        fail("%s: %d known values, expected at least %d" % (path, len(v), n))
    bad = [x for x in v if not lo <= x <= hi]
    if bad:
        fail("%s: values outside [%g, %g]: %s" % (path, lo, hi, bad[:5]))
    print("%s: %d values in [%g, %g]" % (os.path.basename(path), len(v), lo, hi))


def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    cmd, arg = sys.argv[1], sys.argv[2]
    if cmd == "readable":
        readable(arg)
    elif cmd == "registered":
        registered(arg)
    elif cmd == "values":
        values(arg, float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "count":
        print(len(known(arg)))
    elif cmd == "info":
        i = whisper.info(arg)
        print(i["aggregationMethod"], i["xFilesFactor"],
              ",".join("%d:%d" % (a["secondsPerPoint"], a["points"]) for a in i["archives"]))
    else:
        fail("unknown check %s" % cmd)


if __name__ == "__main__":
    main()
