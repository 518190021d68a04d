#!/usr/bin/python3
"""The monitor against libvirt's test driver with a node of many domains
(tests/fixtures/gen_node.py: several disks and NICs, Nova 1.1 and 1.0
metadata, none, hostile names): every active domain is in every frame with
its identity and tenant, devices, CPU, rates and memory; hostile names arrive
sanitised and bounded; frames come once a second on a drift-free schedule
with contiguous sequence numbers; --once prints the same as JSON; -n checks
the configuration with the documented exit codes. Started before any
collector, the monitor still reports READY=1 (it is sampling), logs its first
frame as held, and "first frame sent" only once a collector has taken it.

usage: node_test.py MONITOR SUB_CAPTURE GEN_NODE KEYGEN
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monlib  # noqa: E402
from monlib import check, fail, log  # noqa: E402

NOVA = ["http://openstack.org/xmlns/libvirt/nova/1.1", "http://openstack.org/xmlns/libvirt/nova/1.0"]
TESTNS = "http://libvirt.org/schemas/domain/test/1.0"
NDOMAINS = 60
FRAMES = 5


def sanitize(s, limit):
    """What sm_utf8_sanitize makes of valid text: controls become '?', cut
    at a character boundary to `limit` bytes."""
    out, n = [], 0
    for ch in s or "":
        c = "?" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch
        b = len(c.encode())
        if n + b > limit:
            break
        out.append(c)
        n += b
    return "".join(out)


def expected_domains(path):
    want = {}
    for dom in ET.parse(path).getroot().iter("domain"):
        runstate = dom.find("{%s}runstate" % TESTNS)
        state = int(runstate.text) if runstate is not None else 1
        if state == 5:
            continue  # shut off: not active, not monitored
        d = {
            "name": sanitize(dom.findtext("name"), 255),
            "state": state,
            "vcpus": int(dom.findtext("vcpu")),
            "disks": [t.get("dev") for t in dom.findall("devices/disk/target")],
            "nics": [t.get("dev") for t in dom.findall("devices/interface/target")],
            "identity": None,
        }
        for ns in NOVA:
            inst = dom.find("metadata/{%s}instance" % ns)
            if inst is None:
                continue
            q = lambda tag: "{%s}%s" % (ns, tag)  # noqa: E731
            user = inst.find("%s/%s" % (q("owner"), q("user")))
            proj = inst.find("%s/%s" % (q("owner"), q("project")))
            flavor = inst.find(q("flavor"))
            d["identity"] = {
                "display_name": sanitize(inst.findtext(q("name")), 255),
                "project_id": sanitize(proj.get("uuid") if proj is not None else "", 64),
                "project_name": sanitize(proj.text if proj is not None else "", 255),
                "user_id": sanitize(user.get("uuid") if user is not None else "", 64),
                "user_name": sanitize(user.text if user is not None else "", 255),
                "flavor": sanitize(flavor.get("name") if flavor is not None else "", 255),
            }
            break
        want[dom.findtext("uuid")] = d
    return want


def check_config(monitor, keygen, work):
    """-n: 0 for a good configuration, 2 for each kind of bad one."""
    def run(text, *args):
        path = os.path.join(work, "m.conf")
        with open(path, "w") as f:
            f.write(text)
        return subprocess.run([monitor, "-c", path, "-n"] + list(args), capture_output=True,
                              text=True, timeout=30)

    good = "uri = test:///default\npublish = tcp://127.0.0.1:5550, ipc:///tmp/x=ipc:///tmp/y\n" \
           "interval = 0.5\nhost = cn-01.rack_2\n"
    r = run(good)
    check(r.returncode == 0, "good config refused: %s" % r.stderr)
    for bad, why in [("interval = 0\n", "interval below 0.05"),
                     ("interval = 4000\n", "interval above 3600"),
                     ("interval = soon\n", "interval not a number"),
                     ("bogus = 1\n", "unknown key"),
                     ("host = bad/host\n", "host with '/'"),
                     ("publish = nowhere\n", "endpoint without transport"),
                     ("log_level = loud\n", "unknown log level"),
                     ("memory_interval = -1\n", "memory_interval below 0"),
                     ("memory_interval = 3601\n", "memory_interval above 3600"),
                     ("memory_interval = often\n", "memory_interval not a number"),
                     ("libvirt_calls = 0\n", "libvirt_calls below 1"),
                     ("libvirt_calls = 9\n", "libvirt_calls above 8"),
                     ("libvirt_calls = many\n", "libvirt_calls not a number"),
                     ("cpu_from_kernel = perhaps\n", "cpu_from_kernel not a boolean"),
                     ("libvirt_pipeline = sometimes\n", "libvirt_pipeline not a boolean")]:
        text = good + bad if "publish" not in bad else good.replace(
            "publish = tcp://127.0.0.1:5550, ipc:///tmp/x=ipc:///tmp/y\n", bad)
        r = run(text)
        check(r.returncode == 2, "%s: exit %d (want 2): %s" % (why, r.returncode, r.stderr))
    r = run(good.replace("publish = tcp://127.0.0.1:5550, ipc:///tmp/x=ipc:///tmp/y\n", ""))
    check(r.returncode == 2, "no publish endpoint accepted")
    r = run(good, "--interval", "abc")
    check(r.returncode == 2, "bad option accepted")
    r = run(good, "--memory-interval", "-5")
    check(r.returncode == 2 and "memory_interval" in r.stderr.replace("-", "_"),
          "bad --memory-interval: exit %d: %s" % (r.returncode, r.stderr))
    r = subprocess.run([monitor, "--no-such-option"], capture_output=True, timeout=30)
    check(r.returncode == 2, "unknown option: exit %d" % r.returncode)

    # The shipped sample: valid as it is (plus an endpoint), and every
    # commented default valid once uncommented. It turns CurveZMQ on with
    # the keys the package's postinst makes in /etc/stackmon/keys/, which
    # -n reads: made here with stackmon-keygen, the paths pointed at them.
    shipped = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "etc",
                           "stackmon", "monitor.conf")
    keys = os.path.join(work, "keys")
    os.makedirs(keys, exist_ok=True)
    for name in ("monitor", "collector"):
        subprocess.run([keygen, "--dir", keys, "--name", name], check=True,
                       capture_output=True, timeout=30)
    sample = os.path.join(work, "monitor.conf")
    with open(shipped) as f, open(sample, "w") as out:
        out.write(f.read().replace("/etc/stackmon/keys/", keys + "/"))
    r = subprocess.run([monitor, "-n", "-c", sample, "--publish", "tcp://127.0.0.1:5550"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "sample config refused: %s" % r.stderr)
    # Keys the sample sets (curve and its key files) keep their set value.
    set_keys = {line.split("=")[0].strip() for line in open(sample)
                if not line.startswith("#") and " = " in line}
    lines = []
    for line in open(sample):
        key = line[1:].split("=")[0].strip() if line.startswith("#") and " = " in line else None
        if key and key.replace("_", "").isalnum() and key not in set_keys and \
                not line[1:].split("=", 1)[1].strip() == "":
            line = line[1:]
        lines.append(line)
    r = run("".join(lines))
    check(r.returncode == 0, "sample defaults refused: %s" % r.stderr)


def wait_until(pred, timeout, what):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            fail("timed out after %gs waiting for %s" % (timeout, what))
        time.sleep(0.05)


def check_ready_without_collector(monitor, capture_bin, work):
    """READY=1 means sampling, even before any collector listens; the log
    says the first frame is held, and "first frame sent" only once a
    collector has subscribed and taken it."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(os.path.join(work, "notify"))
    notify.settimeout(30)
    endpoint = "ipc://%s/late-fanin" % work
    mon = monlib.Monitor(monitor, ["--uri", "test:///default", "--publish", endpoint,
                                   "--interval", "0.2", "--host", "late"], work, tag="late",
                         env={"NOTIFY_SOCKET": os.path.join(work, "notify")})
    try:
        ready = notify.recv(4096).decode()
    except socket.timeout:
        fail("no READY=1 within 30 s without a collector:\n" + mon.stderr())
    check(ready == "READY=1", "first notification %r" % ready)
    wait_until(lambda: "first frame queued" in mon.stderr(), 10,
                    "the log line of the held first frame")
    err = mon.stderr()
    check("no collector has subscribed at %s" % endpoint in err, "held frame log:\n" + err)
    check("first frame sent" not in err, "\"first frame sent\" with no collector:\n" + err)
    cap = monlib.Capture(capture_bin, endpoint)
    cap.wait_frames(2, 30, "late")
    wait_until(lambda: "first frame sent to %s" % endpoint in mon.stderr(), 10,
                    "\"first frame sent\" once a collector took it")
    first = cap.stats("late")[0]["msg"]
    check(first["seq"] == 1, "the held first frame was lost: first seq %d" % first["seq"])
    mon.stop()
    cap.stop()
    notify.close()
    log("node: READY without a collector; first frame held, then sent to the late one")


def main():
    monitor, capture_bin, gen_node, keygen = sys.argv[1:5]
    work = monlib.tmpdir("node")
    check_config(monitor, keygen, work)
    check_ready_without_collector(monitor, capture_bin, work)

    node = os.path.join(work, "node.xml")
    subprocess.run(["/usr/bin/python3", gen_node, "--domains", str(NDOMAINS), "--seed", "3",
                    "--running-fraction", "0.8", "--paused-fraction", "0.1", "--out", node],
                   check=True)
    want = expected_domains(node)
    check(len(want) >= NDOMAINS * 0.8, "node has %d active domains" % len(want))
    uri = "test://" + node
    host = "node-%d" % os.getpid()

    cap = monlib.Capture(capture_bin, "ipc://%s/fanin" % work)
    # libvirt logs each API call it is asked for: the count of memory
    # statistics calls against GetInfo calls shows memory_interval at work.
    apilog = os.path.join(work, "libvirt-api.log")
    mon = monlib.Monitor(monitor, ["--uri", uri, "--publish", "ipc://%s/fanin" % work,
                                   "--host", host], work,
                         env={"LIBVIRT_LOG_FILTERS": "1:libvirt", "LIBVIRT_LOG_OUTPUTS":
                              "1:file:" + apilog})
    cap.wait_frames(FRAMES + 8, 90, host)
    err = mon.stop()
    cap.stop()
    with open(apilog, errors="replace") as f:
        api = f.read()
    infos = len(re.findall(r" virDomainGetInfo:\d+ ", api))
    mems = len(re.findall(r" virDomainMemoryStats:\d+ ", api))
    # memory_interval 5 at a 1 s interval: a fifth of the passes, plus each
    # domain's first read; the CPU figures are read on every pass.
    log("node: %d GetInfo and %d MemoryStats calls (default memory_interval 5 s)" %
        (infos, mems))
    check(infos >= len(want) * FRAMES, "only %d GetInfo calls" % infos)
    check(len(want) <= mems <= infos * 0.35, "%d MemoryStats calls for %d GetInfo: want "
          "about a fifth" % (mems, infos))

    # Frames go out on time even before libvirt first answers (a slow start,
    # e.g. under sanitizers): those may be empty, flagged libvirt_ok false or
    # stale. From the first complete one on, every frame must be complete.
    allframes = cap.stats(host)
    k0 = next((k for k, r in enumerate(allframes) if len(r["msg"]["domains"]) == len(want) and
               not any(d["stale"] for d in r["msg"]["domains"])), None)
    # Under sanitizers on a loaded 2-core machine the first passes over 60
    # domains can take longer than an interval: allow a few.
    check(k0 is not None and k0 <= 7, "no complete frame among the first eight")
    # A frame sent at the deadline of a first pass that has not reached every
    # domain lists those it has sampled and counts the rest in domains_stale.
    for r in allframes[:k0]:
        node_rec = r["msg"]["node"]
        check(r["msg"]["domains"] == [] or any(d["stale"] for d in r["msg"]["domains"]) or
              not node_rec["libvirt_ok"] or
              node_rec.get("domains_stale", 0) >= len(want) - len(r["msg"]["domains"]) > 0,
              "incomplete frame not flagged: %d of %d domains, domains_stale %s" % (
                  len(r["msg"]["domains"]), len(want), node_rec.get("domains_stale")))
    frames = allframes[k0:]
    events = [r["msg"] for r in cap.events(host)]
    # Lifecycle: one "started" (first-seen) per active domain, nothing else.
    started = sorted(e["uuid"] for e in events if e["event"] == "started")
    check(started == sorted(want), "started events %d for %d domains" % (len(started), len(want)))
    check(all(e["reason"] == "first-seen" for e in events), "reasons %r" %
          {e["reason"] for e in events})
    check(not [e for e in events if e["event"] == "stopped"], "stopped events")
    for e in events:
        w = want[e["uuid"]]
        check(e["name"] == w["name"], "event name %r != %r" % (e["name"], w["name"]))
        check(e.get("identity") == w["identity"], "event identity of %s" % e["uuid"])

    for k, rec in enumerate(frames):
        f = rec["msg"]
        got = monlib.by_uuid(f)
        check(sorted(got) == sorted(want), "frame %d: %d domains, want %d" %
              (f["seq"], len(got), len(want)))
        check(f["node"]["libvirt_ok"], "libvirt_ok false")
        check(f["node"]["ncpus"] >= 1 and f["node"]["mem_total_kib"] > 0, "node figures")
        for u, d in got.items():
            w = want[u]
            ctx = "frame %d, domain %s" % (f["seq"], u)
            check(monlib.valid_text(d["name"], 255), "%s: name not clean: %r" % (ctx, d["name"]))
            check(d["name"] == w["name"], "%s: name %r != %r" % (ctx, d["name"], w["name"]))
            check(d["identity"] == w["identity"], "%s: identity %r != %r" %
                  (ctx, d["identity"], w["identity"]))
            if d["identity"]:
                for key, v in d["identity"].items():
                    check(monlib.valid_text(v, 64 if key.endswith("_id") else 255),
                          "%s: %s not clean" % (ctx, key))
            check(d["state"] == w["state"], "%s: state %r" % (ctx, d["state"]))
            check(d["vcpus"] == w["vcpus"], "%s: vcpus %r" % (ctx, d["vcpus"]))
            check([x["name"] for x in d["disks"]] == w["disks"], "%s: disks" % ctx)
            check([x["name"] for x in d["nics"]] == w["nics"], "%s: nics" % ctx)
            check(not d["stale"], "%s: stale" % ctx)
            check(d["mem_basis"] != "none" and 0 <= d["mem_pct"] < 100,
                  "%s: memory %r %r" % (ctx, d["mem_basis"], d["mem_pct"]))
            if k >= 1 and d["state"] == 1:
                check(d["cpu_pct"] is not None and 0 <= d["cpu_pct"] <= 100,
                      "%s: cpu_pct %r" % (ctx, d["cpu_pct"]))
                check(all(x["rd_bytes_ps"] is not None and x["rd_bytes_ps"] >= 0
                          for x in d["disks"]), "%s: disk rates" % ctx)
                check(all(x["tx_packets_ps"] is not None and x["tx_packets_ps"] >= 0
                          for x in d["nics"]), "%s: nic rates" % ctx)
                check(all(v is not None for v in d["load"]), "%s: load" % ctx)

    ok, seqs = monlib.seqs_contiguous(allframes)
    check(ok and seqs[0] == 1, "stats seqs %r" % seqs)
    check(len({r["msg"]["epoch"] for r in cap.snapshot()}) == 1, "epoch changed")
    # Drift-free: the k-th frame is stamped k intervals after the first.
    t = [r["msg"]["time"] for r in frames]
    drift = max(abs((t[i] - t[0]) - i * 1.0) for i in range(len(t)))
    check(drift < 0.25, "frame times drift: %r" % t)
    rx = [r["rx"] for r in frames]
    gaps = [b - a for a, b in zip(rx, rx[1:])]
    check(all(0.5 < g < 1.5 for g in gaps), "frame spacing %r" % gaps)
    per_dom = frames[-1]["size"] / len(want)
    log("node: %d domains, %d frames, %.0f bytes per domain per frame, drift %.3fs" %
        (len(want), len(frames), per_dom, drift))
    check("error" not in err, "errors logged:\n" + err)

    # --once on the same node: one JSON object, the same domains.
    r = subprocess.run([monitor, "-c", "/dev/null", "--uri", uri, "--once", "--host", host],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "--once exit %d: %s" % (r.returncode, r.stderr))
    once = json.loads(r.stdout)
    check(once["kind"] == "stats" and sorted(monlib.by_uuid(once)) == sorted(want),
          "--once domains")
    check(all(d["cpu_pct"] is not None for d in once["domains"] if d["state"] == 1),
          "--once without warm-up rates")
    r = subprocess.run([monitor, "-c", "/dev/null", "--uri", "test:///nonexistent/node.xml",
                        "--once"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 1, "--once without libvirt: exit %d" % r.returncode)
    log("node: OK")


if __name__ == "__main__":
    main()
