#!/usr/bin/python3
"""probe.py -- the measuring hands of bench/evaluation/run.sh (which is the
entry point and says what each window is).

  probe.py sample SECS OUT.json [PID ...]
      one window of SECS s, sampled every 1 s: CPU % of one core of the
      PIDs together (utime+stime over the window), their RSS and VSZ (kB,
      mean and peak of the 1 s samples), libvirtd's and all QEMU processes'
      CPU % over the same window (and the same without the busiest quarter
      of the seconds: *_trim); the window's wall-clock ends (w0, w1).
  probe.py sub ENDPOINT HOST OUT.json
      a SUB socket connected to a collector's fan-out: every message of HOST
      (topic + body bytes, arrival time) and, decoded with brief records
      expanded by docs/examples/subscriber.py, each stats frame's domains;
      written at SIGTERM.
  probe.py scrape URL OUT.json
      GETs URL every 1 s (Prometheus' way of reading an exporter): arrival
      time and bytes of each HTTP response (headers and body); at SIGTERM
      also the series of the last response per domain label.
  probe.py domstats URI OUT.json NAME ...
      libvirt's own counters of the domains (virsh domstats) and the time.
  probe.py window-bytes OUT.json W0 W1
      bytes per second a sub/scrape record received within [W0, W1].
  probe.py get FILE.json KEY ...
      the values of KEYs (a.b for nested ones; 0 if absent), one line.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "docs", "examples"))
sys.path.insert(0, os.path.join(ROOT, "tests", "monitor"))
HZ = os.sysconf("SC_CLK_TCK")

STOP = []
signal.signal(signal.SIGTERM, lambda *_: STOP.append(1))


def ticks(pid):
    """utime + stime of pid, 0 once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def mem_kb(pid):
    """(VmRSS, VmSize) of pid in kB, (0, 0) once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            text = f.read()
    except OSError:
        return 0, 0
    get = lambda k: int((re.search(r"^%s:\s+(\d+)" % k, text, re.M) or [0, 0])[1])
    return get("VmRSS"), get("VmSize")


def pids_named(pattern):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/comm" % p) as f:
                    if re.match(pattern, f.read().strip()):
                        out.append(int(p))
            except OSError:
                pass
    return out


def libvirtd_pid():
    """The oldest libvirtd: not one of its forked helpers."""
    r = subprocess.run(["pgrep", "-xo", "libvirtd"], capture_output=True, text=True)
    return int(r.stdout.split()[0]) if r.stdout.split() else None


def trimmed_rate(snaps, col):
    """% of one core of column col over the window, from the 1 s snapshots
    [(time, (ticks...))], leaving out the busiest quarter of the seconds:
    libvirtd is shared on the machines this runs on, and another client's
    burst lands there, while a client's steady per-interval cost does not."""
    rates = sorted((b[1][col] - a[1][col]) / HZ / (b[0] - a[0]) * 100
                   for a, b in zip(snaps, snaps[1:]) if b[0] > a[0])
    keep = rates[:max(1, len(rates) - len(rates) // 4)]
    return sum(keep) / len(keep) if keep else 0.0


def sample(secs, out, pids):
    lv = libvirtd_pid()
    qemus = pids_named(r"^qemu-system")
    snap = lambda: (time.time(), (sum(ticks(p) for p in pids), ticks(lv) if lv else 0,
                                  sum(ticks(p) for p in qemus)))
    rss, vsz, snaps = [], [], [snap()]
    end = time.monotonic() + secs
    while True:
        m = [mem_kb(p) for p in pids]
        rss.append(sum(x[0] for x in m))
        vsz.append(sum(x[1] for x in m))
        left = end - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(1.0, left))
        snaps.append(snap())
    (w0, c0), (w1, c1) = snaps[0], snaps[-1]
    pct = [(b - a) / HZ / (w1 - w0) * 100 for a, b in zip(c0, c1)]
    res = dict(w0=w0, w1=w1, cpu=pct[0], libvirtd=pct[1], qemu=pct[2],
               libvirtd_trim=trimmed_rate(snaps, 1), qemu_trim=trimmed_rate(snaps, 2),
               rss_avg=sum(rss) / len(rss), rss_peak=max(rss),
               vsz_avg=sum(vsz) / len(vsz), vsz_peak=max(vsz))
    with open(out, "w") as f:
        json.dump(res, f)


# Per domain, what the accuracy table compares (see accuracy.py).
def dom_figures(d):
    return dict(cpu_pct=d["cpu_pct"], stale=d["stale"],
                rd_bytes_ps=sum(x["rd_bytes_ps"] or 0 for x in d["disks"]),
                wr_bytes_ps=sum(x["wr_bytes_ps"] or 0 for x in d["disks"]),
                rx_bytes_ps=sum(x["rx_bytes_ps"] or 0 for x in d["nics"]),
                tx_bytes_ps=sum(x["tx_bytes_ps"] or 0 for x in d["nics"]),
                mem_used_kib=d["mem_used_kib"], mem_basis=d["mem_basis"], values=leaves(d))


def leaves(x):
    """Number of scalar values in a decoded record (what a consumer gets)."""
    if isinstance(x, dict):
        return sum(leaves(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return sum(leaves(v) for v in x)
    return 0 if x is None else 1


def sub(endpoint, host, out):
    import zmq
    import subscriber
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.setsockopt(zmq.RCVHWM, 100000)
    s.connect(endpoint)
    brief = subscriber.BriefExpander()
    rx, frames, bad = [], [], 0
    print("ready", flush=True)
    while not STOP:
        if not s.poll(200):
            continue
        parts = s.recv_multipart()
        if len(parts) != 2 or parts[0].split(b"/")[1:2] != [host.encode()]:
            continue
        now = time.time()
        rx.append((round(now, 6), len(parts[0]) + len(parts[1])))
        try:
            msg = subscriber.decode(parts[0], parts[1])
        except (subscriber.BadMessage, KeyError, TypeError, ValueError):
            bad += 1
            continue
        if msg["kind"] == "stats":
            brief.frame(msg)
            frames.append(dict(rx=now, time=msg["time"],
                               domains={d["name"]: dom_figures(d) for d in msg["domains"]}))
    with open(out, "w") as f:
        json.dump(dict(rx=rx, frames=frames, bad=bad), f)


def scrape(url, out):
    rx, last = [], ""
    nxt = time.monotonic()
    print("ready", flush=True)
    while not STOP:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = r.read()
                head = sum(len(k) + len(v) + 4 for k, v in r.getheaders()) + 17
            rx.append((round(time.time(), 6), head + len(body)))
            last = body.decode("utf-8", "replace")
        except OSError:
            pass
        nxt += 1
        time.sleep(max(0, nxt - time.monotonic()))
    per = {}
    for line in last.splitlines():
        m = re.search(r'domain="([^"]+)"', line)
        if m and not line.startswith("#"):
            per[m.group(1)] = per.get(m.group(1), 0) + 1
    with open(out, "w") as f:
        json.dump(dict(rx=rx, series_per_domain=per), f)


def domstats(uri, out, names):
    r = subprocess.run(["virsh", "-c", uri, "domstats", "--cpu-total", "--block", "--interface",
                        "--balloon"] + names, capture_output=True, text=True, timeout=60)
    doms, cur = {}, None
    for line in r.stdout.splitlines():
        m = re.match(r"Domain: '(.*)'", line)
        if m:
            cur = doms.setdefault(m.group(1), {})
        elif "=" in line and cur is not None:
            k, v = line.strip().split("=", 1)
            cur[k] = v
    with open(out, "w") as f:
        json.dump(dict(t=time.time(), doms=doms), f)


def window_bytes(path, w0, w1):
    rx = json.load(open(path))["rx"]
    print("%.1f" % (sum(n for t, n in rx if w0 < t <= w1) / (w1 - w0)))


def get(path, keys):
    d = json.load(open(path))
    out = []
    for k in keys:
        v = d
        for part in k.split(".", 1) if k.startswith("series_per_domain.") else [k]:
            v = v.get(part, 0) if isinstance(v, dict) else 0
        out.append("%.3f" % v if isinstance(v, float) else str(v))
    print(" ".join(out))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sample":
        sample(float(args[0]), args[1], [int(p) for p in args[2:]])
    elif cmd == "sub":
        sub(*args)
    elif cmd == "scrape":
        scrape(*args)
    elif cmd == "domstats":
        domstats(args[0], args[1], args[2:])
    elif cmd == "get":
        get(args[0], args[1:])
    elif cmd == "window-bytes":
        window_bytes(args[0], float(args[1]), float(args[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
