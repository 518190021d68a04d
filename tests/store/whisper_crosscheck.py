#!/usr/bin/python3
"""whisper_crosscheck — proves the C whisper module and Debian's python3-whisper
agree both ways. For each seeded scenario (retention, aggregation, xff, a
random sequence of update/update_many calls with gaps, out-of-order and
duplicate points, several laps of the finest archive, -0.0, 1e300, inf, NaN)
it (a) has the C module and python-whisper write the same calls to two files
and requires identical call results and byte-identical files, python's
info/fetch of the C file equal to python's own; and (b) requires the C
reader's fetch of the python file to equal python's fetch, for many ranges.

usage: whisper_crosscheck.py WHISPER_TOOL [SCENARIOS]   (exit 77: no python3-whisper)
"""
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

try:
    import whisper
except ImportError:
    print("python3-whisper is not installed: skipping")
    sys.exit(77)

TOOL = sys.argv[1]
SCENARIOS = int(sys.argv[2]) if len(sys.argv) > 2 else 120

RETENTIONS = [
    "1s:60,10s:60,60s:60",
    "1s:10,10s:10,100s:10",   # k == points: propagation reads a whole archive
    "1s:60,60s:10",           # 60 fine points per coarse one (xff 0.1 edge)
    "5s:12,60s:10,300s:12",   # steps above 1 s: alignment
    "1s:100",                 # single archive: no propagation
    "2s:30,6s:30,30s:20,120s:10",
]
METHODS = ["average", "sum", "last", "max", "min", "avg_zero", "absmax", "absmin"]
XFFS = [0.0, 0.1, 0.5, 1.0, 1.0 / 3, 0.25]
SPECIAL = [-0.0, 0.0, 1e300, -1e300, float("inf"), float("-inf"), float("nan"),
           5e-324, 2.0 ** 53 + 1, -7.5]


def hexbits(v):
    return struct.pack(">d", v).hex()


def norm(v):
    """A fetched value as text: python's None and a stored NaN both read as nan in C."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "nan"
    return hexbits(v)


def parse_archives(text):
    return [whisper.parseRetentionDef(d) for d in text.split(",")]


class Scenario:
    def __init__(self, seed):
        rnd = random.Random(seed)
        self.rnd = rnd
        self.retention = RETENTIONS[seed % len(RETENTIONS)]
        self.method = METHODS[(seed // len(RETENTIONS)) % len(METHODS)]
        self.xff = rnd.choice(XFFS)
        self.c_mode = rnd.choice(["fallocate", "sparse", "zero"])
        # how the C side opens the file: all caches, none, deferred propagation
        self.c_open = ["cache", "nocache", "defer", "defer,nocache"][seed % 4]
        self.py_mode = rnd.choice(["fallocate", "sparse", "zero"])
        self.archives = sorted(parse_archives(self.retention))
        self.rets = [s * p for s, p in self.archives]
        self.maxret = max(self.rets)
        self.ops = []
        self.now = 1700000000 + rnd.randrange(0, 100000)
        if seed % 5 == 4:
            # the epoch's first seconds: interval 0, and points before 1970 that
            # python refuses (struct.error) while packing
            self.now = rnd.randrange(0, 20)
        self.generate()
        # flush and compare the files at a few points on the way
        for _ in range(3):
            self.ops.insert(rnd.randrange(1, len(self.ops)), ("snap",))

    def value(self):
        rnd = self.rnd
        r = rnd.random()
        if r < 0.08:
            return rnd.choice(SPECIAL)
        if r < 0.2:
            return rnd.choice([-0.0, 0.0, 1.0, -1.0])  # ties: which of equals wins
        if r < 0.5:
            return float(rnd.randrange(-1000, 1000))
        return rnd.uniform(-1e6, 1e6)

    def age(self):
        """An age spread over every archive, with retention boundaries."""
        rnd = self.rnd
        r = rnd.random()
        if r < 0.4:
            return rnd.randrange(0, 4)
        if r < 0.7:
            return rnd.randrange(0, self.rets[0] + 2)
        if r < 0.85:
            return rnd.randrange(0, self.maxret + 30)
        return rnd.choice(self.rets) + rnd.choice([-1, 0, 1])

    def generate(self):
        rnd = self.rnd
        fine = self.rets[0]
        end = self.now + rnd.choice([3, 4, 6]) * max(fine, 60)  # several laps of archive 0
        while self.now < end or len(self.ops) < 250:
            r = rnd.random()
            if r < 0.3:
                age = self.age() if rnd.random() < 0.9 else -rnd.randrange(1, 4)
                self.ops.append(("update", self.now - age, self.value(), self.now))
            else:
                n = rnd.choice([1, 1, 1, 2, 3, 5, 8, 20, 60, 150])
                pts = []
                for _ in range(n):
                    q = rnd.random()
                    if pts and q < 0.15:
                        ts = pts[rnd.randrange(len(pts))][0]  # duplicate timestamp
                    elif q < 0.6:
                        ts = self.now - len(pts)              # contiguous run
                    elif q < 0.65 and n <= 5:
                        ts = self.now + rnd.randrange(1, 3)   # future: accepted by update_many
                    else:
                        ts = self.now - self.age()
                    pts.append((ts, self.value()))
                if rnd.random() < 0.3:
                    rnd.shuffle(pts)
                self.ops.append(("many", self.now, pts))
            step = rnd.random()
            if step < 0.75:
                self.now += 1
            elif step < 0.95:
                self.now += rnd.randrange(0, 8)
            elif step < 0.99:
                self.now += rnd.randrange(fine, 2 * fine + 2)  # a gap of more than a lap
            else:
                self.now += rnd.randrange(self.maxret // 2, self.maxret + 10)

    def script(self, path):
        lines = ["create %s %s %s %r %s %s" % (path, self.retention, self.method, self.xff,
                                              self.c_mode, self.c_open)]
        snaps = 0
        for op in self.ops:
            if op[0] == "snap":
                lines.append("snap %s.snap%d" % (path, snaps))
                snaps += 1
            elif op[0] == "update":
                lines.append("update %d %s %d" % (op[1], hexbits(op[2]), op[3]))
            else:
                lines.append("many %d %s" % (op[1], " ".join(
                    "%d %s" % (t, hexbits(v)) for t, v in op[2])))
        return "\n".join(lines) + "\n"

    def run_python(self, path):
        whisper.create(path, parse_archives(self.retention), xFilesFactor=self.xff,
                       aggregationMethod=self.method, sparse=self.py_mode == "sparse",
                       useFallocate=self.py_mode == "fallocate")
        results = ["ok"]
        snaps = 0
        for op in self.ops:
            try:
                if op[0] == "snap":
                    shutil.copyfile(path, "%s.snap%d" % (path, snaps))
                    snaps += 1
                elif op[0] == "update":
                    whisper.update(path, op[2], op[1], now=op[3])
                else:
                    whisper.update_many(path, list(op[2]), now=op[1])
                results.append("ok")
            except whisper.TimestampNotCovered:
                results.append("notcovered")
            except struct.error:
                results.append("range")
        return results

    def queries(self):
        rnd = self.rnd
        now = self.now
        qs = []
        for _ in range(60):
            now_q = now + rnd.choice([0, 0, 0, 1, 5, rnd.randrange(0, self.maxret)])
            a = now_q - rnd.randrange(-20, self.maxret + 40)
            b = now_q - rnd.randrange(-20, self.maxret + 40)
            frm, until = min(a, b), max(a, b)
            r = rnd.random()
            if r < 0.1:
                until = frm                                   # zero-length range
            elif r < 0.15:
                frm, until = until + 5, frm                   # from > until: error
            step = 0
            if rnd.random() < 0.3:
                step = rnd.choice([s for s, _ in self.archives] + [7])
            qs.append((frm, until, now_q, step))
        for s, p in self.archives:                            # each archive in full
            qs.append((now - s * p, now, now, 0))
            qs.append((now - s * p + 1, now, now, s))
        return qs


def py_fetch(path, q):
    frm, until, now, step = q
    try:
        r = whisper.fetch(path, frm, until, now=now, archiveToSelect=step or None)
    except (whisper.InvalidTimeInterval, ValueError):
        return "error invalid"
    if r is None:
        return "none"
    (f, u, s), values = r
    return " ".join(["%d %d %d %d" % (f, u, s, len(values))] + [norm(v) for v in values])


def py_info(path):
    i = whisper.info(path)
    lines = ["%s %d %s %d" % (i["aggregationMethod"], i["maxRetention"],
                              struct.pack(">f", i["xFilesFactor"]).hex(), len(i["archives"]))]
    lines += ["%d %d %d" % (a["offset"], a["secondsPerPoint"], a["points"])
              for a in i["archives"]]
    return lines


def tool(*args):
    return subprocess.run([TOOL] + list(args), capture_output=True, text=True,
                          check=True).stdout.splitlines()


def first_difference(a, b, archives):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            where = "header"
            off = 16 + 12 * len(archives)
            for k, (s, p) in enumerate(archives):
                if i < off + 12 * p:
                    slot = (i - off) // 12
                    where = "archive %d slot %d: C %s python %s" % (
                        k, slot, a[off + 12 * slot:off + 12 * slot + 12].hex(),
                        b[off + 12 * slot:off + 12 * slot + 12].hex())
                    break
                off += 12 * p
            return "byte %d (%s)" % (i, where)
    return "sizes %d vs %d" % (len(a), len(b))


def check(seed, tmp):
    sc = Scenario(seed)
    name = "seed %d (%s, %s, xff %r, C %s %s, python %s, %d ops)" % (
        seed, sc.retention, sc.method, sc.xff, sc.c_mode, sc.c_open, sc.py_mode, len(sc.ops))
    cpath = os.path.join(tmp, "c%d.wsp" % seed)
    ppath = os.path.join(tmp, "p%d.wsp" % seed)
    spath = os.path.join(tmp, "s%d.txt" % seed)
    qpath = os.path.join(tmp, "q%d.txt" % seed)
    with open(spath, "w") as f:
        f.write(sc.script(cpath))
    errors = []
    c_results = tool("run", spath)
    p_results = sc.run_python(ppath)
    if c_results != p_results:
        i = next(i for i, (x, y) in enumerate(zip(c_results + [""], p_results)) if x != y)
        errors.append("call results differ at op %d: C %s, python %s" % (
            i, c_results[i:i + 1], p_results[i:i + 1]))
    for i in range(3):
        cs, ps = "%s.snap%d" % (cpath, i), "%s.snap%d" % (ppath, i)
        a, b = open(cs, "rb").read(), open(ps, "rb").read()
        if a != b:
            errors.append("files differ at snapshot %d: %s" % (
                i, first_difference(a, b, sc.archives)))
        os.unlink(cs)
        os.unlink(ps)
    cbytes = open(cpath, "rb").read()
    pbytes = open(ppath, "rb").read()
    if cbytes != pbytes:
        errors.append("files differ: " + first_difference(cbytes, pbytes, sc.archives))
    # (a) python reads the C file as it reads its own
    if py_info(cpath) != py_info(ppath):
        errors.append("python info of the C file differs")
    queries = sc.queries()
    p_own = [py_fetch(ppath, q) for q in queries]
    p_of_c = [py_fetch(cpath, q) for q in queries]
    for q, x, y in zip(queries, p_of_c, p_own):
        if x != y:
            errors.append("python fetch %r of the C file differs" % (q,))
            break
    # (b) the C reader reads the python file as python does
    with open(qpath, "w") as f:
        f.write("".join("%d %d %d %d\n" % q for q in queries))
    c_of_p = tool("fetch", ppath, qpath)
    for q, x, y in zip(queries, c_of_p, p_own):
        if x != y:
            errors.append("C fetch %r of the python file differs:\n  C  %s\n  py %s" % (
                q, x[:200], y[:200]))
            break
    if len(c_of_p) != len(p_own):
        errors.append("C fetch answered %d of %d queries" % (len(c_of_p), len(p_own)))
    if tool("info", ppath) != py_info(ppath):
        errors.append("C info of the python file differs")
    for p in (cpath, ppath, spath, qpath):
        os.unlink(p)
    return name, errors


def main():
    failed = 0
    with tempfile.TemporaryDirectory(prefix="whisper-xcheck-") as tmp:
        for seed in range(SCENARIOS):
            name, errors = check(seed, tmp)
            if errors:
                failed += 1
                print("FAIL %s" % name)
                for e in errors:
                    print("  " + e)
            else:
                print("ok   %s" % name)
    print("%d of %d scenarios failed" % (failed, SCENARIOS))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
