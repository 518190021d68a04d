#!/usr/bin/python3
"""report.py -- the arithmetic and the writing of bench/evaluation/run.sh.

  report.py accuracy SUB.json DS0.json DS1.json EXP VMS
      rows for results.tsv: the monitor's figures (its frames over the window
      between the two virsh domstats, means over the guests) next to
      libvirt's own counters over the same window (tests/monitor/accuracy.py)
  report.py collectd-values CSVDIR VM
      values collectd's CSV writer received per second for one VM
  report.py doc DOCDIR OUT.md META TESTDRIVER.md
      docs/EVALUATION.md and DOCDIR/*.svg from DOCDIR/results.tsv (and
      DOCDIR/previous.tsv when a previous run left one)
"""
import csv
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "monitor"))
import accuracy  # noqa: E402

TOOLS = ("stackmon", "collectd", "prometheus")
COLOR = {"stackmon": "#1f77b4", "collectd": "#2ca02c", "prometheus": "#d62728"}
LABEL = {"stackmon": "stackmon-monitor", "collectd": "collectd virt plugin",
         "prometheus": "prometheus-libvirt-exporter", "none": "no client"}
ACC = (("cpu_pct", "vCPU %", "cpu.time: growth / window / 1 vCPU"),
       ("rd_bytes_ps", "block read B/s", "block.N.rd.bytes, all disks"),
       ("wr_bytes_ps", "block write B/s", "block.N.wr.bytes, all disks"),
       ("rx_bytes_ps", "NIC rx B/s", "net.0.rx.bytes"),
       ("tx_bytes_ps", "NIC tx B/s", "net.0.tx.bytes"),
       ("mem_used_kib", "memory used KiB", "balloon.available - balloon.usable, mean of both ends"))


# --- accuracy ----------------------------------------------------------------------
def libvirt_figures(ds0, ds1):
    """Per domain: libvirt's rates over the window between two domstats."""
    dt = ds1["t"] - ds0["t"]
    out = {}
    for name, a in ds0["doms"].items():
        b = ds1["doms"].get(name)
        if not b:
            continue
        r = lambda k: accuracy.counter_rate(a, b, k, dt) if k in a and k in b else 0.0
        nblk = int(a.get("block.count", 0))
        f = {"cpu_pct": r("cpu.time") / 1e9 * 100}
        for fld, key in (("rd_bytes_ps", "rd.bytes"), ("wr_bytes_ps", "wr.bytes")):
            f[fld] = sum(r("block.%d.%s" % (i, key)) for i in range(nblk))
        f["rx_bytes_ps"] = r("net.0.rx.bytes")
        f["tx_bytes_ps"] = r("net.0.tx.bytes")
        used = [int(x["balloon.available"]) - int(x["balloon.usable"]) for x in (a, b)
                if "balloon.available" in x and "balloon.usable" in x]
        f["mem_used_kib"] = sum(used) / len(used) if used else None
        out[name] = f
    return out


def cmd_accuracy(sub, ds0, ds1, exp, vms):
    s, d0, d1 = json.load(open(sub)), json.load(open(ds0)), json.load(open(ds1))
    t0, t1 = d0["t"], d1["t"]
    frames = s["frames"]
    before = [f for f in frames if f["rx"] <= t0]
    inside = [f for f in frames if t0 < f["rx"] <= t1]
    if not before or not inside:
        return
    ref = libvirt_figures(d0, d1)
    mon, lib = {k: [] for k, _, _ in ACC}, {k: [] for k, _, _ in ACC}
    for name, f in ref.items():
        fresh = accuracy.fresh_weighted([(fr["time"], fr["domains"].get(name)) for fr in inside],
                                        before[-1]["time"])
        if not fresh:
            continue
        for k, _, _ in ACC:
            m = accuracy.weighted_mean(fresh, lambda d: d[k])
            if m is not None and f[k] is not None:
                mon[k].append(m)
                lib[k].append(f[k])
    work = exp[5:] if exp.startswith("work-") else "busy"
    for k, _, _ in ACC:
        if mon[k]:
            print("acc-%s\tstackmon\t%s\t%s\t%.3f" % (work, vms, k, sum(mon[k]) / len(mon[k])))
            print("acc-%s\tlibvirt\t%s\t%s\t%.3f" % (work, vms, k, sum(lib[k]) / len(lib[k])))
    vals = [d["values"] for fr in inside for d in fr["domains"].values()]
    if vals:
        print("%s\tstackmon\t%s\tvalues_per_vm\t%d" % (exp, vms, max(vals)))


def cmd_collectd_values(csvdir, vm):
    """Values per second for vm: every value of every CSV file of its host
    folder, over the seconds the files span."""
    n, t0, t1 = 0, None, None
    top = os.path.join(csvdir, vm)
    for dirpath, _, files in os.walk(top):
        for fn in files:
            with open(os.path.join(dirpath, fn)) as f:
                rows = list(csv.reader(f))
            for row in rows[1:]:
                try:
                    t = float(row[0])
                except (ValueError, IndexError):
                    continue
                n += len(row) - 1
                t0 = t if t0 is None else min(t0, t)
                t1 = t if t1 is None else max(t1, t)
    secs = (t1 - t0 + 1) if t0 is not None else 0
    print("%.0f" % (n / secs) if secs else 0)


# --- the document --------------------------------------------------------------------
def load(path):
    r = {}
    if not os.path.exists(path):
        return r
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            r[(row["experiment"], row["tool"], int(row["vms"]), row["metric"])] = float(row["value"])
    return r


def derived(r):
    """Adds libvirtd_extra, qemu_extra and total per (exp, tool, vms) from the
    no-client window of the same exp and count."""
    for (exp, tool, vms, metric), v in list(r.items()):
        if metric != "cpu" or tool not in TOOLS or (exp, "none", vms, "libvirtd") not in r:
            continue
        # The trimmed figures (probe.py: the busiest quarter of the seconds
        # left out) where the run has them: another client's burst in the
        # shared libvirtd does not make a client's extra negative.
        lk = "libvirtd_trim" if (exp, "none", vms, "libvirtd_trim") in r else "libvirtd"
        qk = "qemu_trim" if (exp, "none", vms, "qemu_trim") in r else "qemu"
        lx = r[(exp, tool, vms, lk)] - r[(exp, "none", vms, lk)]
        qx = r[(exp, tool, vms, qk)] - r[(exp, "none", vms, qk)]
        r[(exp, tool, vms, "libvirtd_extra")] = lx
        r[(exp, tool, vms, "qemu_extra")] = qx
        r[(exp, tool, vms, "total")] = v + lx + qx
    return r


def fmt(v, nd=2):
    return "—" if v is None else ("%.*f" % (nd, v))


def g(r, *k):
    return r.get(k)


def count_table(w, counts, column, cell, extra=None):
    """A Markdown table with one row per VM count: a column per tool
    (header `column % label`, cells cell(tool, n)) and, if given, a last
    column extra = (header, cell(n))."""
    heads = [column % LABEL[t] for t in TOOLS] + ([extra[0]] if extra else [])
    w("| VMs | " + " | ".join(heads) + " |")
    w("| ---: |" + " --- |" * len(heads))
    for n in counts:
        cells = [cell(t, n) for t in TOOLS] + ([extra[1](n)] if extra else [])
        w("| %d | %s |" % (n, " | ".join(cells)))


def plot(docdir, name, title, ylabel, series, log=False):
    """series: [(label, [(x, y)], tool, dashed)]; writes DOCDIR/NAME.svg with
    gnuplot, one colour per tool, a thin line with open points for a tool's
    second figure (dashes render badly in some SVG viewers)."""
    dat = os.path.join(docdir, name + ".dat")
    with open(dat, "w") as f:
        for label, pts, _, _ in series:
            f.write("# %s\n" % label)
            for x, y in pts:
                f.write("%g %g\n" % (x, y))
            f.write("\n\n")
    plots = []
    for i, (label, pts, tool, dashed) in enumerate(series):
        if pts:
            plots.append("'%s' index %d with linespoints lw %d pt %d ps 0.8 lc rgb '%s' "
                         "title '%s'" % (dat, i, 1 if dashed else 3, 6 if dashed else 7,
                                         COLOR[tool], label.replace("'", "")))
    script = """set terminal svg size 720,520 dynamic font 'sans,12'
set output '%s'
set title '%s'
set xlabel 'running VMs (busy loop, vCPU capped)'
set ylabel '%s'
set key below
set grid
set xrange [0:11]
set xtics 1
%s
plot %s
""" % (os.path.join(docdir, name + ".svg"), title, ylabel,
       "set logscale y" if log else "set yrange [0:*]", ", \\\n     ".join(plots))
    # commands: gnuplot
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.remove(dat)


def cmd_doc(docdir, out, meta_path, td_path):
    meta = dict(line.rstrip("\n").split("=", 1) for line in open(meta_path) if "=" in line)
    r = derived(load(os.path.join(docdir, "results.tsv")))
    prev = derived(load(os.path.join(docdir, "previous.tsv")))
    counts = sorted({k[2] for k in r if k[0] == "paper"})
    top = max(counts)
    wl_n = int(meta["wl_n"])
    L = []
    w = L.append
    w("# Evaluation: the paper's §4.1 on real VMs, beside collectd and prometheus-libvirt-exporter")
    w("")
    w("Generated by `bench/evaluation/run.sh` (do not edit by hand; the discussion at the end is "
      "written by the script with the measured numbers and may be edited after a run).")
    w("")
    w("| | |")
    w("| --- | --- |")
    for k, label in (("command", "command"), ("date", "date (UTC)"), ("mode", "mode"),
                     ("nproc", "CPUs"), ("cpu", "CPU model"), ("ram", "RAM"),
                     ("kernel", "kernel"), ("debian", "Debian"), ("libvirt", "libvirt"),
                     ("qemu", "QEMU"), ("collectd", "collectd-core"),
                     ("exporter", "prometheus-libvirt-exporter"), ("stackmon", "stackmon (git describe)"),
                     ("load_before", "load average before"), ("load_after", "load average after"),
                     ("wall_s", "wall time, s")):
        v = meta.get(k, "")
        w("| %s | %s |" % (label, "`%s`" % v if k == "command" else v))
    w("")
    w("Run it again: `sudo bench/evaluation/run.sh` (full: 1, 2, 4, 6, 8 and 10 VMs, 60 s "
      "windows, 36-40 minutes on this machine) or `--quick` (1, 4 and 10 VMs, 17 s windows, "
      "about 9 minutes). It builds what it needs "
      "(`build-eval`), starts libvirtd if needed, and rewrites this file, the plots in "
      "`docs/evaluation/` and `docs/evaluation/results.tsv` (the previous one becomes "
      "`previous.tsv`, compared at the end). Packages: `scripts/install-deps.sh`.")
    w("")
    w("## Method")
    w("")
    w("Guests: `tests/lib/qemu_domain.sh create smtest-eval-N --work busy` (busybox initramfs on "
      "Debian's kernel, TCG, 96 MiB, 1 vCPU, one virtio disk, one NIC, balloon stats every 1 s), "
      "booted one at a time and kept from one count to the next, each vCPU then capped at "
      "%s %% of a core (`qemu_domain.sh vcpu-quota`, libvirt's cputune vcpu quota) so that 10 busy "
      "guests use about %.1f of the %s cores and what the clients cost libvirtd and QEMU can still "
      "be seen; QEMU's emulator threads are not capped." % (
          meta["quota"], 10 * float(meta["quota"]) / 100, meta["nproc"]))
    w("")
    w("For each count, four configurations, one window of %s s each (after %s s of warm-up), their "
      "order rotated from one count to the next so that drift on the shared machine hits each in "
      "turn:" % (meta["win"], meta["warmup"]))
    w("")
    w("- **no client**: the baseline of libvirtd's and QEMU's CPU;")
    w("- **stackmon-monitor** (`--interval 1`) publishing to a real stackmon-collector; bytes = "
      "ZeroMQ message bytes (topic + body) of the monitor's messages, counted by a subscriber on "
      "the collector's fan-out;")
    w("- **collectd** (`collectd-core`, virt plugin, `Interval 1`), sending with its network plugin "
      "to a second collectd writing CSV; bytes = UDP payload on lo (tcpdump);")
    w("- **prometheus-libvirt-exporter** (Debian's binary, `qemu:///system`, a private port), "
      "scraped every 1 s by a client in the script; bytes = HTTP response bytes (headers + body).")
    w("")
    w("Per window: the client's CPU (utime+stime over the window, % of one core), its RSS and VSZ "
      "(kB, mean and peak of 1 s samples), bytes/s, and libvirtd's and all QEMU processes' CPU; "
      "*extra* = that CPU minus the same in the no-client window of the same count, both taken "
      "over the window's seconds without its busiest quarter (libvirtd is shared with other work "
      "on this machine: another client's burst falls there, a client's steady per-second cost "
      "does not; a client's own rare bursts, such as collectd's re-reading of domain XML every "
      "60 s, are left out too). The *no client* columns show the plain mean. *dom0 total* = "
      "client + libvirtd extra + QEMU extra. A single window per configuration and count: "
      "differences under a few tenths of a point of a core are noise here (see the agreement "
      "section).")
    w("")

    # Figure 2: CPU
    def line(tool, metric, scale=1.0):
        return [(n, r[("paper", tool, n, metric)] * scale) for n in counts
                if ("paper", tool, n, metric) in r]

    w("## Figure 2 redrawn: CPU against running VMs")
    w("")
    plot(docdir, "cpu", "Client CPU (thick) and dom0 total (thin: client + libvirtd + QEMU extra)",
         "% of one core",
         [(LABEL[t], line(t, "cpu"), t, False) for t in TOOLS] +
         [(LABEL[t] + ", dom0 total", line(t, "total"), t, True) for t in TOOLS])
    w("![CPU against VMs](evaluation/cpu.svg)")
    w("")
    count_table(w, counts, "%s CPU %% / libvirtd extra / QEMU extra",
                lambda t, n: "%s / %s / %s" % tuple(fmt(g(r, "paper", t, n, m))
                                                    for m in ("cpu", "libvirtd_extra", "qemu_extra")),
                ("no client: libvirtd / QEMU %",
                 lambda n: "%s / %s" % (fmt(g(r, "paper", "none", n, "libvirtd")),
                                        fmt(g(r, "paper", "none", n, "qemu"), 1))))
    w("")
    w("The paper (Xen 4.1, 2 × 4-core Xeon E5530, `ps`, 30 s at 1 s): the monitor's CPU grew "
      "linearly with the VMs and stayed under 1 % of the whole system (8 cores, i.e. under about "
      "8 % of one core) at 10 VMs; the collector under 0.1 %.")
    w("")

    # Figure 3: memory
    w("## Figure 3 redrawn: RSS and VSZ against running VMs")
    w("")
    plot(docdir, "memory", "RSS (thick) and VSZ (thin), mean over the window", "MiB (log scale)",
         [(LABEL[t] + " RSS", line(t, "rss_avg", 1 / 1024), t, False) for t in TOOLS] +
         [(LABEL[t] + " VSZ", line(t, "vsz_avg", 1 / 1024), t, True) for t in TOOLS], log=True)
    w("![RSS and VSZ against VMs](evaluation/memory.svg)")
    w("")
    count_table(w, counts, "%s RSS mean / peak, VSZ mean / peak (MiB)",
                lambda t, n: "%s / %s, %s / %s" % tuple(
                    fmt(x / 1024 if x is not None else None, 1)
                    for x in (g(r, "paper", t, n, m)
                              for m in ("rss_avg", "rss_peak", "vsz_avg", "vsz_peak"))))
    w("")
    w("The paper: RSS grew with the VMs and stayed under 50 MB at 10 VMs (under 0.2 % of 40 GB); "
      "VSZ was also plotted. RSS here includes shared library pages (libvirt, ZeroMQ; the Go "
      "runtime for the exporter), as `ps` did.")
    w("")

    # Figure 4: network
    w("## Figure 4 redrawn: bytes sent against running VMs")
    w("")
    plot(docdir, "network", "What each client sends per second", "kbit/s (log scale)",
         [(LABEL[t], line(t, "bps", 8 / 1000), t, False) for t in TOOLS], log=True)
    w("![kbit/s against VMs](evaluation/network.svg)")
    w("")
    def kbit(t, n):
        b = g(r, "paper", t, n, "bps")
        return "—" if b is None else "%.1f (%.0f)" % (b * 8 / 1000, b / n)

    count_table(w, counts, "%s kbit/s (B per VM per s)", kbit)
    w("")
    w("The paper: under 7 kbit/s at 10 VMs (peak over 40 s, iftop), a message a second. Here the "
      "mean over the window; collectd's and the exporter's bytes are what they put on the wire "
      "to their own receivers (UDP payload; HTTP responses to a 1 s scrape).")
    w("")

    # Peers: values per VM, cost, ratio at the top count
    w("## The peers at %d VMs: what each sends, what it costs, our ratio" % top)
    w("")
    w("| client | values per VM | CPU % | libvirtd extra % | QEMU extra % | dom0 total % | "
      "B per VM per s | RSS MiB | ratio stackmon / peer: dom0 total, bytes |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for t in TOOLS:
        tot = g(r, "paper", t, top, "total")
        b = g(r, "paper", t, top, "bps")
        ours_t, ours_b = g(r, "paper", "stackmon", top, "total"), g(r, "paper", "stackmon", top, "bps")
        ratio = "—"
        if t != "stackmon" and tot and b and ours_t is not None and ours_b is not None:
            ratio = "%.2f, %.2f" % (ours_t / tot, ours_b / b)
        vals = g(r, "paper", t, top, "values_per_vm")
        w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            LABEL[t], fmt(vals, 0), fmt(g(r, "paper", t, top, "cpu")),
            fmt(g(r, "paper", t, top, "libvirtd_extra")), fmt(g(r, "paper", t, top, "qemu_extra")),
            fmt(tot), fmt(b / top if b else None, 0),
            fmt((g(r, "paper", t, top, "rss_avg") or 0) / 1024, 1), ratio))
    w("")
    w("Values per VM: stackmon = scalar fields of one decoded domain record (full form; brief "
      "records send fewer); collectd = values per second its CSV writer got for one VM (every "
      "value of every type instance); exporter = series with that VM's `domain` label in one "
      "scrape.")
    w("")

    # Workloads
    w("## Other workloads at %d VMs: which figures move" % wl_n)
    w("")
    w("Busy from the experiment above (%s s windows); disk (`dd` write + fsync + read back), net "
      "(1,000-byte pings to the host back to back) and mem (8 MiB tmpfs file filled and freed "
      "every 10 s), switched at run time in the same guests, %s s windows." % (meta["win"], meta["wl_win"]))
    w("")
    w("| workload | client | CPU % | libvirtd extra % | QEMU extra % | B per VM per s | "
      "no client: libvirtd / QEMU % |")
    w("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for wl, exp in (("busy", "paper"), ("disk", "work-disk"), ("net", "work-net"), ("mem", "work-mem")):
        for t in TOOLS:
            b = g(r, exp, t, wl_n, "bps")
            w("| %s | %s | %s | %s | %s | %s | %s / %s |" % (
                wl, LABEL[t], fmt(g(r, exp, t, wl_n, "cpu")), fmt(g(r, exp, t, wl_n, "libvirtd_extra")),
                fmt(g(r, exp, t, wl_n, "qemu_extra")), fmt(b / wl_n if b else None, 0),
                fmt(g(r, exp, "none", wl_n, "libvirtd")), fmt(g(r, exp, "none", wl_n, "qemu"), 1)))
    w("")

    # Accuracy
    w("## Accuracy beside cost (%d VMs)" % wl_n)
    w("")
    w("The monitor's figures from its frames over each monitor window (each fresh record weighted by "
      "the time since the previous one, as tests/monitor/qemu_test.py does, via "
      "tests/monitor/accuracy.py), against libvirt's own counters (`virsh domstats` at the "
      "window's start and end); means over the guests.")
    w("")
    w("Memory: the monitor's figure is its mean over the window; libvirt's the mean of its two "
      "ends, so the mem workload (8 MiB filled and freed every 10 s) differs by design over short "
      "windows. Block figures include the control disk the guests read each second.")
    w("")
    w("| workload | figure | monitor | libvirt | difference | libvirt's figure |")
    w("| --- | --- | ---: | ---: | ---: | --- |")
    for wl in ("busy", "disk", "net", "mem"):
        for k, label, how in ACC:
            m, l = g(r, "acc-" + wl, "stackmon", wl_n, k), g(r, "acc-" + wl, "libvirt", wl_n, k)
            if m is None or l is None:
                continue
            d = accuracy.difference_pct(m, l)
            w("| %s | %s | %.1f | %.1f | %s | %s |" % (wl, label, m, l,
                                                   "%.1f %%" % d if d != float("inf") else "—", how))
    w("")

    # Past the paper
    w("## Past the paper: 100 and 1,000 domains on libvirt's test driver")
    w("")
    w("`bench/lib/monitor.sh`'s compare_case (as bench/monitor/run.sh): one %s s window of each "
      "tool on a node of N running Nova domains (tests/fixtures/gen_node.py), in-process "
      "(`test:///node.xml`) and through libvirtd (`test+unix:///node.xml`, with an idle window "
      "before for libvirtd's extra; plain means here, not trimmed, so a burst of another libvirtd "
      "client in the idle window shows as a low or negative extra)." % meta["td_win"])
    w("")
    w("| case | monitor CPU vs collectd, % of a core (ratio) | libvirtd extra CPU (monitor vs collectd) | "
      "dom0 total ratio (monitor vs collectd) | bytes per VM per s (monitor vs collectd, ratio) |")
    w("| --- | --- | --- | --- | --- |")
    if os.path.exists(td_path):
        for line_ in open(td_path):
            if line_.startswith("|"):
                w(line_.rstrip("\n"))
    w("")
    w("## Past the paper: collector and aggregator at 1,000 simulated monitors")
    w("")
    w("bench/collector's load generator: 1,000 publishers, one 1-domain frame a second each, into "
      "one stackmon-collector; stackmon-aggregator (retention 1s:10m,1m:1h, no preallocation) and "
      "a counting sink subscribed to its fan-out; %s s, including the aggregator creating its "
      "Whisper files." % meta["load_s"])
    w("")
    w("| daemon | CPU % of a core | peak RSS MiB | frames lost |")
    w("| --- | ---: | ---: | --- |")
    sent = g(r, "load1000", "collector", 1000, "frames_sent")
    for k in ("collector", "aggregator"):
        lost = g(r, "load1000", k, 1000, "frames_lost")
        w("| stackmon-%s | %s | %s | %s |" % (
            k, fmt(g(r, "load1000", k, 1000, "cpu")),
            fmt((g(r, "load1000", k, 1000, "rss_peak") or 0) / 1024, 1),
            ("%d of %d sent (sink on the fan-out)" % (lost, sent) if k == "collector" and sent is not None
             else "%d (sequence gaps in the index)" % lost if lost is not None and lost >= 0 else "—")))
    w("")

    # Discussion
    w("## Discussion")
    w("")
    m = lambda t, k: g(r, "paper", t, top, k)
    if m("stackmon", "cpu") is not None:
        w("- **Against the paper.** At %d VMs the monitor used %.2f %% of one core (%.3f %% of "
          "this %s-CPU machine; the paper: under 1 %% of 8 cores), a mean RSS of %.1f MiB (paper: "
          "under 50 MB) and sent %.2f kbit/s (paper: under 7 kbit/s). It reads every domain with "
          "one bulk call (virConnectGetAllDomainStats) where the paper's prototype kept a libvirt "
          "handle and per-domain calls per VM, and sends one frame a second with %s B per VM." % (
              top, m("stackmon", "cpu"), m("stackmon", "cpu") / int(meta["nproc"]), meta["nproc"],
              m("stackmon", "rss_avg") / 1024, m("stackmon", "bps") * 8 / 1000,
              "%.0f" % (m("stackmon", "bps") / top)))
    for t in ("collectd", "prometheus"):
        if m(t, "total") is not None and m("stackmon", "total") is not None and m(t, "bps"):
            w("- **Against %s.** dom0 total %.2f vs %.2f %% of a core (client %.2f vs %.2f, "
              "libvirtd extra %.2f vs %.2f, QEMU extra %.2f vs %.2f); %.0f vs %.0f B per VM per s "
              "for %s vs %s values per VM." % (
                  LABEL[t], m("stackmon", "total"), m(t, "total"), m("stackmon", "cpu"), m(t, "cpu"),
                  m("stackmon", "libvirtd_extra"), m(t, "libvirtd_extra"), m("stackmon", "qemu_extra"),
                  m(t, "qemu_extra"), m("stackmon", "bps") / top, m(t, "bps") / top,
                  fmt(m("stackmon", "values_per_vm"), 0), fmt(m(t, "values_per_vm"), 0)))
    w("- **Why libvirtd and QEMU work.** Their extra comes from what each client asks per "
      "interval. A request that libvirt answers from the host (`virDomainGetInfo`, the bulk "
      "call's state and interface groups) costs QEMU nothing; one that becomes a QMP command "
      "costs the guest's QEMU process 1.5-2.7 ms of CPU here (QEMU reads a command from its "
      "monitor socket one byte per system call) and libvirtd about 0.5 ms "
      "(`bench/monitor/qmp_cost.sh`, docs/MONITOR.md). libvirt 9.0 sends one for the bulk "
      "call's cpu-total and vcpu groups (a KVM halt-polling query, made even under TCG), two for "
      "its block group and one for balloon statistics; the monitor's bulk call thus costs each "
      "guest about four commands a second (balloon every 5 s), against two for collectd "
      "(`virDomainBlockStats` per disk, `virDomainMemoryStats`). That is why the monitor's QEMU "
      "extra is not below collectd's although its own CPU is a tenth. The bulk call saves "
      "libvirtd round trips (see the test-driver rows through libvirtd), not QEMU's answers.")
    w("- **Frame size.** The monitor's bytes per VM come from one msgpack record per domain "
      "(brief records between full ones, docs/PROTOCOL.md); collectd sends each value with its "
      "own names; the exporter's text format repeats every label on every series.")
    w("- **Noise.** One window per configuration on a 2-core machine shared with other work: a "
      "difference of a few tenths of a point of a core, especially in libvirtd's and QEMU's "
      "extra (a difference of two large numbers), is within noise; see the next section.")
    w("")

    # Agreement
    w("## Agreement with the previous run")
    w("")
    if not prev:
        w("No previous results (docs/evaluation/previous.tsv): run the command again to fill this in.")
    else:
        w("Key figures of this run (results.tsv) and the previous one (previous.tsv). *Differs* "
          "marks a difference over 25 % that is also over 0.2 points of a core (CPU figures) or "
          "over 25 % alone (memory, bytes).")
        w("")
        if not any(k[3] == "libvirtd_trim" for k in prev):
            w("The previous run predates the trimmed libvirtd and QEMU figures: its extras are "
              "differences of plain means, which a burst of another libvirtd client can turn "
              "negative; compare its client CPU, memory and bytes, not its extras.")
            w("")
        w("| figure | this run | previous | difference | |")
        w("| --- | ---: | ---: | ---: | --- |")
        for exp, tool, vms, metric in sorted(k for k in r if k[0] == "paper" and k[2] == top and
                                             k[1] in TOOLS and k[3] in
                                             ("cpu", "libvirtd_extra", "qemu_extra", "total",
                                              "rss_avg", "vsz_avg", "bps")):
            a, b = r[(exp, tool, vms, metric)], prev.get((exp, tool, vms, metric))
            if b is None:
                continue
            rel = abs(a - b) / abs(b) * 100 if b else float("inf")
            cpu = metric in ("cpu", "libvirtd_extra", "qemu_extra", "total")
            differs = rel > 25 and (abs(a - b) > 0.2 if cpu else True)
            w("| %s, %s, %d VMs | %.2f | %.2f | %+.2f (%s) | %s |" % (
                LABEL[tool], metric, vms, a, b, a - b,
                "%.0f %%" % rel if rel != float("inf") else "—", "**differs**" if differs else "noise"))
    w("")
    w("Raw figures: [evaluation/results.tsv](evaluation/results.tsv) (experiment, tool, vms, "
      "metric, value; CPU in % of one core, memory in kB, bytes per second).")
    with open(out, "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "accuracy":
        cmd_accuracy(*a)
    elif cmd == "collectd-values":
        cmd_collectd_values(*a)
    elif cmd == "doc":
        cmd_doc(*a)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
