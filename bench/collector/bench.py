#!/usr/bin/python3
"""bench.py -- the collector benchmark's driver (run.sh is the entry point).

Throughput is measured two ways, the collector and a bare zmq_proxy
(XSUB/XPUB) side by side, their trials interleaved so both see the same
background load: (1) CPU cost per frame, the relay process's CPU time (both
its threads) per frame delivered at a fixed rate both sustain -- robust on a
shared machine, and 1e6 / cost is the frames/s one core carries; (2) the
highest steady rate carried with no loss (>= 99.9 % delivered, publishers
never held back), found by doubling the offered rate and bisecting -- the
end-to-end figure, but at the mercy of whatever else runs on the machine. Latency is the delay from the publisher's
timestamp to the subscriber at a steady 10,000 frames/s, through the
collector, through the proxy, and direct (no relay). Finally 10,000
publishers connect to one collector at once. The cost of CurveZMQ (--only
curve, not in the default set) runs the collector with curve off and on,
trials alternating, the same publishers, frames and offered rate: frames/s
delivered and collector CPU per frame.
"""
import argparse
import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("build", help="build directory")
ap.add_argument("--quick", action="store_true", help="fewer, shorter trials")
ap.add_argument("--only", choices=["throughput", "cost", "latency", "fds", "curve", "tree"],
                action="append",
                help="cost: the CPU-cost half of throughput only; curve: curve off vs on")
ap.add_argument("--curve-seconds", type=float, default=24,
                help="with --only curve: seconds of trials per configuration and frame size")
ap.add_argument("--transport", choices=["tcp", "ipc"], default="tcp",
                help="tcp on 127.0.0.1 (default) or ipc in a temp dir")
ap.add_argument("--monitors", type=int, nargs="+", default=[1000, 10000],
                help="--only tree: simulated monitors (default 1000 10000)")
ap.add_argument("--racks", type=int, default=10,
                help="--only tree: rack collectors between the monitors and the master")
ap.add_argument("--tree-seconds", type=float, default=20,
                help="--only tree: seconds of load at 1 frame/s per monitor")
ap.add_argument("--rounds", type=int, default=2,
                help="trials per relay in the CPU-cost tables, the best counts (default 2)")
ap.add_argument("--boost", action="store_true",
                help="run every benchmark process at nice -10 (root), against background load")
args = ap.parse_args()

B = os.path.abspath(args.build)
COLLECTOR = B + "/src/collector/stackmon-collector"
KEYGEN = B + "/src/keygen/stackmon-keygen"
PROXY = B + "/bench/collector/bench_proxy"
LOADGEN = B + "/bench/collector/bench_loadgen"
SINK = B + "/bench/collector/bench_sink"
TRIAL_S = 2.0 if args.quick else 3.0
BISECT = 2 if args.quick else 3
LAT_S = 5 if args.quick else 10
PORT = [17100 + (os.getpid() % 500) * 10]


def boost():
    if args.boost:
        os.nice(-10)


POPEN = dict(preexec_fn=boost)


IPC_DIR = tempfile.mkdtemp(prefix="sm-bench-")
atexit.register(shutil.rmtree, IPC_DIR, True)


def endpoints():
    PORT[0] += 2
    if args.transport == "ipc":
        return ("ipc://%s/%d.in" % (IPC_DIR, PORT[0]), "ipc://%s/%d.out" % (IPC_DIR, PORT[0]))
    return "tcp://127.0.0.1:%d" % PORT[0], "tcp://127.0.0.1:%d" % (PORT[0] + 1)


def kv(text):
    return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", text)}


def cpu_seconds(pid):
    """CPU time of every thread of pid, from the scheduler's nanosecond
    counters (/proc/PID/task/*/schedstat): the clock-tick figures of
    /proc/PID/stat are 10 ms grains, 3 % of a 2 s trial."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that just ended
    return total / 1e9


KEYS = IPC_DIR + "/keys"


def make_keys():
    """Key pairs for the curve trials: the collector's, the load generator's
    (speaking for its hosts lg-*), the sink's; both clients allowed."""
    if os.path.isdir(KEYS):
        return
    os.makedirs(KEYS + "/allow")
    for name, hosts in (("collector", []), ("loadgen", ["lg-*"]), ("sink", [])):
        cmd = [KEYGEN, "--dir", KEYS, "--name", name]
        for h in hosts:
            cmd += ["--host", h]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    for name in ("loadgen", "sink"):
        shutil.copy("%s/%s.key" % (KEYS, name), KEYS + "/allow/")


class Relay:
    def __init__(self, kind):
        self.kind = kind
        self.fin, self.fout = endpoints()
        self.loadgen_opts, self.sink_opts = [], []
        if kind in ("collector", "collector-curve", "collector-header"):
            cmd = [COLLECTOR, "--name", "bench", "--fan-in", self.fin, "--fan-out", self.fout,
                   "--stats-interval", "1", "-q"]
            if kind == "collector-header":  # a master behind rack collectors
                cmd += ["--check-body", "no"]
            if kind == "collector-curve":
                make_keys()
                cmd += ["--curve", "yes", "--curve-secret-key", KEYS + "/collector.key_secret",
                        "--curve-allow-dir", KEYS + "/allow"]
                server = ["--curve-server", KEYS + "/collector.key"]
                self.loadgen_opts = ["--curve-secret", KEYS + "/loadgen.key_secret"] + server
                self.sink_opts = ["--curve-secret", KEYS + "/sink.key_secret"] + server
        else:
            cmd = [PROXY, self.fin, self.fout]
        self.proc = subprocess.Popen(cmd, **POPEN)
        time.sleep(0.5)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


def trial(relay, publishers, domains, rate, seconds=None):
    """Offers `rate` frames/s (0: flat out) for `seconds` (TRIAL_S); returns
    (ok, delivered/s, relay CPU %)."""
    sink = subprocess.Popen([SINK, "--connect", relay.fout, "--idle", "1.5"] + relay.sink_opts,
                            stdout=subprocess.PIPE, text=True, **POPEN)
    time.sleep(1.0)  # the sink's subscription reaches the relay
    cpu0 = cpu_seconds(relay.proc.pid)
    lg = subprocess.run([LOADGEN, "--connect", relay.fin, "--publishers", str(publishers),
                         "--domains", str(domains), "--rate", str(rate),
                         "--duration", str(seconds or TRIAL_S)] + relay.loadgen_opts,
                        stdout=subprocess.PIPE, text=True, timeout=300, **POPEN)
    out, _ = sink.communicate(timeout=120)
    cpu = cpu_seconds(relay.proc.pid) - cpu0
    sent = kv(lg.stdout)
    got = kv(out)
    ok = (got.get("frames", 0) >= 0.999 * sent["sent"] and
          sent["rate"] >= 0.97 * rate)
    return ok, got.get("frames", 0) / sent["seconds"], 100 * cpu / sent["seconds"]


class Search:
    """Highest passing rate: doubles from `start` until a trial fails, then bisects."""

    def __init__(self, start):
        self.lo, self.lo_cpu, self.hi, self.rate = 0, 0, None, start
        self.bisecting, self.steps = False, 0

    def done(self):
        if self.hi is None:
            return self.rate > 2000000
        return self.steps >= BISECT or self.hi - self.lo <= max(1, self.lo // 100)

    def record(self, ok, cpu):
        if self.bisecting:
            self.steps += 1
        if ok:
            self.lo, self.lo_cpu = self.rate, cpu
        else:
            self.hi = self.rate
        if self.hi is None:
            self.rate *= 2
        else:
            self.bisecting = True
            self.rate = (self.lo + self.hi) // 2


def max_rates(publishers, domains, start):
    """Searches the proxy's and the collector's rates with their trials interleaved,
    so both see the same background load. Returns {kind: (rate, cpu %)}."""
    relays = {k: Relay(k) for k in ("proxy", "collector")}
    searches = {k: Search(start) for k in relays}
    try:
        while not all(s.done() for s in searches.values()):
            for k, s in searches.items():
                if not s.done():
                    ok, _, cpu = trial(relays[k], publishers, domains, s.rate)
                    if not ok:  # a second chance: one scheduling hiccup is not capacity
                        ok, _, cpu = trial(relays[k], publishers, domains, s.rate)
                    s.record(ok, cpu)
        return {k: (s.lo, s.lo_cpu) for k, s in searches.items()}
    finally:
        for r in relays.values():
            r.stop()


def frame_size(domains):
    relay = Relay("proxy")
    try:
        sink = subprocess.Popen([SINK, "--connect", relay.fout, "--idle", "0.5"],
                                stdout=subprocess.PIPE, text=True, **POPEN)
        time.sleep(0.5)
        lg = subprocess.run([LOADGEN, "--connect", relay.fin, "--publishers", "1", "--domains",
                             str(domains), "--rate", "10", "--duration", "0.2"],
                            stdout=subprocess.PIPE, text=True, **POPEN)
        sink.communicate(timeout=30)
        return int(re.search(r"frame (\d+) bytes", lg.stdout).group(1))
    finally:
        relay.stop()


def cpu_cost(publishers, domains, rate, rounds=None):
    """Relay CPU µs per delivered frame at a fixed `rate`, least disturbed of
    `rounds`: the bare proxy, the collector as shipped (check_body = yes) and
    the collector reading headers only (check_body = no)."""
    rounds = rounds or args.rounds
    relays = {k: Relay(k) for k in ("proxy", "collector", "collector-header")}
    best = {k: None for k in relays}
    try:
        for _ in range(rounds):
            for k, r in relays.items():
                ok, delivered, cpu = trial(r, publishers, domains, rate)
                if delivered > 0:
                    us = cpu / 100 / delivered * 1e6
                    best[k] = us if best[k] is None else min(best[k], us)
    finally:
        for r in relays.values():
            r.stop()
    return best


def cost_row(publishers, domains, size, c):
    """The CPU-cost columns: each relay's µs/frame (capacity/core), and each
    collector's capacity as a fraction of the bare proxy's."""
    return ("| %d | %d domains, %d B | %.1f (%d) | %.1f (%d) | %.2f | %.1f (%d) | %.2f |" %
            (publishers, domains, size, c["proxy"], 1e6 / c["proxy"], c["collector"],
             1e6 / c["collector"], c["proxy"] / c["collector"], c["collector-header"],
             1e6 / c["collector-header"], c["proxy"] / c["collector-header"]))


COST_HEAD = ("| publishers | frame | zmq_proxy µs/frame (capacity/core) | collector µs/frame "
             "(capacity/core) | capacity ratio | collector, check_body = no | capacity ratio |")
COST_RULE = "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"


def cost_only():
    print("## CPU cost per frame (relay process, all threads, best of %d)\n" % args.rounds)
    print(COST_HEAD)
    print(COST_RULE)
    for domains, fixed in ((10, 5000), (100, 1000)):
        size = frame_size(domains)
        for publishers in (1, 100, 1000):
            print(cost_row(publishers, domains, size, cpu_cost(publishers, domains, fixed)),
                  flush=True)
    print()


def curve_cost():
    """The collector with curve off and on: the same publishers and frames at
    the same offered rate, trials alternating so both see the same background
    load. Per trial: frames/s the subscriber received, and the collector's CPU
    time (all threads) per delivered frame -- the figure that holds on a
    shared machine; 1e6 / µs is the frames/s one core carries."""
    publishers = 100
    trial_s = 4.0
    rounds = max(1, int(round(args.curve_seconds / trial_s)))
    print("## Cost of CurveZMQ (collector, curve off vs on, %d publishers, %s)\n" %
          (publishers, args.transport))
    print("%d alternating trials of %.0f s per frame size and configuration (%.0f s of load"
          " each). Delivered: median frames/s received by the subscriber; CPU: collector CPU time per delivered frame, best trial and median;"
          " capacity: 1e6 / best µs, frames/s per core.\n" %
          (rounds, trial_s, rounds * trial_s))
    print("| frame | offered | off: delivered/s | on: delivered/s | on/off delivered"
          " | off: µs/frame best (median) | on: µs/frame best (median) | on/off µs"
          " | capacity/core off → on |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for domains, fixed in ((10, 5000), (100, 1000)):
        size = frame_size(domains)
        relays = {k: Relay(k) for k in ("collector", "collector-curve")}
        rate = {k: [] for k in relays}
        cost = {k: [] for k in relays}
        try:
            for _ in range(rounds):
                for k, r in relays.items():
                    ok, delivered, cpu = trial(r, publishers, domains, fixed, trial_s)
                    rate[k].append(delivered)
                    if delivered > 0:
                        cost[k].append(cpu / 100 / delivered * 1e6)
                    if not ok:
                        print("(%s: %.0f of %d frames/s delivered in one trial)" %
                              (k, delivered, fixed), file=sys.stderr)
        finally:
            for r in relays.values():
                r.stop()
        if not all(cost[k] for k in relays):
            sys.exit("curve: a configuration delivered nothing: %r" % rate)

        def med(v):
            return sorted(v)[len(v) // 2]
        off, on = cost["collector"], cost["collector-curve"]
        print("| %d domains, %d B | %d/s | %.0f | %.0f | %.2f | %.1f (%.1f) | %.1f (%.1f) | "
              "%.2f | %d → %d |" %
              (domains, size, fixed, med(rate["collector"]), med(rate["collector-curve"]),
               med(rate["collector-curve"]) / med(rate["collector"]),
               min(off), med(off), min(on), med(on), min(on) / min(off), 1e6 / min(off),
               1e6 / min(on)), flush=True)
    print()


def throughput():
    print("## Throughput\n")
    print("CPU cost: relay process CPU time (all threads) per frame at a fixed rate, best of %d;"
          % args.rounds)
    print("capacity = 1e6 / cost (frames/s per core). Loss-free: highest steady rate delivered")
    print("with >= 99.9 % of frames, relay CPU % there (zmq_proxy and the collector as shipped).\n")
    print(COST_HEAD[:-1] + " loss-free zmq_proxy | loss-free collector | ratio |")
    print(COST_RULE + " ---: | ---: | ---: |")
    for domains, start, fixed in ((10, 4000, 5000), (100, 500, 1000)):
        size = frame_size(domains)
        for publishers in (1, 100, 1000):
            c = cpu_cost(publishers, domains, fixed)
            r = max_rates(publishers, domains, start)
            (p, pcpu), (q, qcpu) = r["proxy"], r["collector"]
            print(cost_row(publishers, domains, size, c) + " %d (%.0f %%) | %d (%.0f %%) | %.2f |"
                  % (p, pcpu, q, qcpu, q / p if p else 0), flush=True)
    print()


def latency_once(kind):
    relay = None
    if kind == "direct":
        fin, _ = endpoints()
        where = ["--bind", fin]
    else:
        relay = Relay(kind)
        fin = relay.fin
        where = ["--connect", relay.fout]
    sink = subprocess.Popen([SINK] + where + ["--latency", "--skip", "2", "--duration", str(LAT_S)],
                            stdout=subprocess.PIPE, text=True, **POPEN)
    time.sleep(1.0)
    subprocess.run([LOADGEN, "--connect", fin, "--publishers", "100", "--domains", "10",
                    "--rate", "10000", "--duration", str(LAT_S + 4)], stdout=subprocess.PIPE,
                   **POPEN)
    r = kv(sink.communicate(timeout=60)[0])
    if relay:
        relay.stop()
    return r


def latency():
    rounds = 1 if args.quick else 3
    print("## Latency at a steady 10,000 frames/s (100 publishers x 100/s, 10-domain frames)\n")
    print("Median over %d interleaved rounds of %d s each.\n" % (rounds, LAT_S))
    print("| path | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | lost | "
          "added p50 / p90 / p99 vs direct |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    kinds = ("direct", "proxy", "collector")
    runs = {k: [] for k in kinds}
    for _ in range(rounds):
        for k in kinds:
            runs[k].append(latency_once(k))
    med = {k: {m: sorted(r[m] for r in runs[k])[len(runs[k]) // 2] for m in runs[k][0]}
           for k in kinds}
    base = med["direct"]
    for k in kinds:
        r = med[k]
        added = "—" if k == "direct" else "%+.0f / %+.0f / %+.0f µs" % (
            r["p50_us"] - base["p50_us"], r["p90_us"] - base["p90_us"],
            r["p99_us"] - base["p99_us"])
        print("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %d | %s |" %
              (k, r["p50_us"], r["p90_us"], r["p99_us"], r["p999_us"], r["max_us"], r["lost"],
               added), flush=True)
    print()


def fds():
    n_proc, per = 4, 2500
    print("## %d publishers on one collector (%d processes x %d sockets, %s)\n" %
          (n_proc * per, n_proc, per, args.transport))
    import msgpack
    import zmq
    relay = Relay("collector")
    sink = subprocess.Popen([SINK, "--connect", relay.fout, "--idle", "3"],
                            stdout=subprocess.PIPE, text=True, **POPEN)
    time.sleep(1.0)
    t0 = time.monotonic()
    gens = [subprocess.Popen([LOADGEN, "--connect", relay.fin, "--publishers", str(per),
                              "--domains", "0", "--rate", "500", "--duration", "20",
                              "--prefix", "p%d" % i],
                             stdout=subprocess.PIPE, text=True, **POPEN)
            for i in range(n_proc)]
    # Each generator prints its first line once all its sockets are subscribed.
    firsts = [g.stdout.readline() for g in gens]
    connect_s = time.monotonic() - t0
    connected = sum(int(re.search(r"(\d+)/\d+ publishers connected", l).group(1))
                    for l in firsts)
    time.sleep(5)  # every publisher has sent a few frames by now
    nfd = len(os.listdir("/proc/%d/fd" % relay.proc.pid))
    with open("/proc/%d/status" % relay.proc.pid) as f:
        rss = re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)
    with open("/proc/%d/limits" % relay.proc.pid) as f:
        limit = re.search(r"Max open files\s+(\d+)", f.read()).group(1)
    # The collector's own counters: the publishers it currently sees.
    s = zmq.Context.instance().socket(zmq.SUB)
    s.setsockopt(zmq.SUBSCRIBE, b"collector/")
    s.connect(relay.fout)
    pubs, end = 0, time.monotonic() + 5
    while time.monotonic() < end:
        if s.poll(500):
            pubs = max(pubs, msgpack.unpackb(s.recv_multipart()[1], raw=False)["publishers"])
    s.close(0)
    sent = sum(kv(g.communicate(timeout=120)[0]).get("sent", 0) for g in gens)
    delivered = kv(sink.communicate(timeout=120)[0]).get("frames", 0)
    relay.stop()
    print("| connected and subscribed (time) | publishers in the collector's counters | "
          "collector fds (limit) | collector RSS | frames delivered / sent |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print("| %d (%.0f s) | %d | %d (%s) | %d MiB | %d / %d |\n" %
          (connected, connect_s, pubs, nfd, limit, int(rss) // 1024, delivered, sent))


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024


def tree_once(monitors, racks, domains, seconds):
    """`monitors` simulated monitors, 1 frame/s each, spread over `racks` rack
    collectors (check_body = yes, startup grace off) relaying to one master
    (check_body = no); a subscriber counts what reaches the master's fan-out.
    Returns the row's figures."""
    mfin, mfout = endpoints()
    common = ["--stats-interval", "1", "--startup-grace", "0", "-q"]
    master = subprocess.Popen([COLLECTOR, "--name", "master", "--fan-in", mfin, "--fan-out", mfout,
                               "--check-body", "no"] + common, **POPEN)
    rack_procs, rack_fins = [], []
    for i in range(racks):
        fin, fout = endpoints()
        rack_fins.append(fin)
        rack_procs.append(subprocess.Popen(
            [COLLECTOR, "--name", "rack%d" % i, "--fan-in", fin, "--fan-out", fout,
             "--upstream", "%s=%s" % (mfin, mfout)] + common, **POPEN))
    time.sleep(1.0)
    import msgpack
    import zmq
    counters = zmq.Context.instance().socket(zmq.SUB)  # every collector's own counters
    counters.setsockopt(zmq.SUBSCRIBE, b"collector/")
    counters.connect(mfout)
    sink = subprocess.Popen([SINK, "--connect", mfout, "--idle", "4"], stdout=subprocess.PIPE,
                            text=True, **POPEN)
    time.sleep(1.0)
    per = [monitors // racks + (1 if i < monitors % racks else 0) for i in range(racks)]
    t0 = time.monotonic()
    gens = [subprocess.Popen([LOADGEN, "--connect", rack_fins[i], "--publishers", str(per[i]),
                              "--domains", str(domains), "--rate", str(per[i]),
                              "--duration", str(seconds), "--prefix", "r%d-" % i],
                             stdout=subprocess.PIPE, text=True, **POPEN)
            for i in range(racks)]
    for g in gens:  # each prints a line once all its sockets are subscribed
        g.stdout.readline()
    connect_s = time.monotonic() - t0
    procs = rack_procs + [master]
    cpu0 = [cpu_seconds(p.pid) for p in procs]
    w0 = time.monotonic()
    outs = [g.communicate(timeout=seconds + 300)[0] for g in gens]
    wall = time.monotonic() - w0
    cpu = [cpu_seconds(p.pid) - c for p, c in zip(procs, cpu0)]
    rss = [rss_mib(p.pid) for p in procs]
    delivered = kv(sink.communicate(timeout=300)[0]).get("frames", 0)
    latest = {}
    while counters.poll(0):
        body = msgpack.unpackb(counters.recv_multipart()[1], raw=False)
        latest[body["host"]] = body
    counters.close(0)
    drops = {"master": {}, "racks": {}}
    for host, body in latest.items():
        into = drops["master" if host == "master" else "racks"]
        for reason, n in body.get("dropped", {}).items():
            # A rack's own fan-out has no subscriber here: its frames go upstream.
            if n and not (host != "master" and reason == "no_subscriber"):
                into[reason] = into.get(reason, 0) + n
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=30)
    sent = sum(kv(o).get("sent", 0) for o in outs)
    return dict(monitors=monitors, racks=racks, connect_s=connect_s, sent=sent,
                delivered=delivered, rate=sent / wall, rack_cpu=100 * sum(cpu[:-1]) / wall,
                rack_cpu_max=100 * max(cpu[:-1]) / wall, master_cpu=100 * cpu[-1] / wall,
                rack_rss=max(rss[:-1]), master_rss=rss[-1], drops=drops)


def tree():
    domains = 10
    print("## A rack tier into one master (%d racks, %d-domain frames, 1 frame/s per monitor, "
          "%.0f s)\n" % (args.racks, domains, args.tree_seconds))
    print("Rack collectors as shipped (check_body = yes), the master with check_body = no; one"
          " load-generator process per rack; CPU % of one core over the window of load;"
          " drops from the collectors' own counters by reason (hwm_fanout at the master: the"
          " subscriber's queue was full).\n")
    print("| monitors | connected in | frames/s offered | delivered / sent | lost | rack CPU, all"
          " (busiest) | master CPU | master µs/frame | RSS rack (max) / master | dropped by"
          " the racks | dropped by the master |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |")
    for m in args.monitors:
        r = tree_once(m, args.racks, domains, args.tree_seconds)
        named = lambda d: ", ".join("%s %d" % kv_ for kv_ in sorted(d.items())) or "none"
        print("| %d | %.0f s | %.0f | %d / %d | %.3f %% | %.0f %% (%.0f %%) | %.0f %% | %.1f |"
              " %.0f / %.0f MiB | %s | %s |" %
              (m, r["connect_s"], r["rate"], r["delivered"], r["sent"],
               100 * (1 - r["delivered"] / r["sent"]) if r["sent"] else 0, r["rack_cpu"],
               r["rack_cpu_max"], r["master_cpu"], 1e4 * r["master_cpu"] / r["rate"],
               r["rack_rss"], r["master_rss"], named(r["drops"]["racks"]),
               named(r["drops"]["master"])), flush=True)
    print()


print("# stackmon-collector benchmark, %s, %d CPUs, libzmq %s, load %s%s\n" %
      (time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(),
       subprocess.run(["pkg-config", "--modversion", "libzmq"], stdout=subprocess.PIPE,
                      text=True).stdout.strip(), open("/proc/loadavg").read().split()[0],
       (", processes at nice -10" if args.boost else "") + ", " + args.transport))
todo = args.only or ["fds", "throughput", "latency"]
if "fds" in todo:  # first: before earlier trials leave ports in TIME_WAIT
    fds()
if "throughput" in todo:
    throughput()
elif "cost" in todo:
    cost_only()
if "latency" in todo:
    latency()
if "curve" in todo:
    curve_cost()
if "tree" in todo:
    tree()
print("Load average at the end: %s" % open("/proc/loadavg").read().split()[0])
