#!/usr/bin/python3
"""The per-domain path's pipelined statistics calls (lv_rpc) against the real
libvirtd: a node file of test-driver domains (hostile names included) read
through test+unix by two monitors at once, one pipelining its calls and one
asking through libvirt's library (libvirt_pipeline = no). Both must report
the same domains, devices, memory and counters. Then libvirtd drops the
pipelined connection (virt-admin client-disconnect): the monitor must log it
once, keep every domain fresh through libvirt's library, and pipeline again
after its retry interval.

usage: pipeline_test.py MONITOR SUB_CAPTURE GEN_NODE
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monlib  # noqa: E402
from monlib import check, log  # noqa: E402

INTERVAL = 0.5
RETRY_PASSES = 60  # sampler.c: PIPELINE_RETRY_PASSES


def clients_of(pid):
    """libvirtd's client ids whose process is `pid`, lowest first."""
    out = subprocess.run(["virt-admin", "srv-clients-list", "libvirtd"], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    ids = [int(m.group(1)) for m in re.finditer(r"^\s*(\d+)\s+unix", out, re.M)]
    mine = []
    for i in ids:
        info = subprocess.run(["virt-admin", "client-info", "libvirtd", str(i)],
                              capture_output=True, text=True, timeout=30).stdout
        if re.search(r"unix_process_id\s*:\s*%d$" % pid, info, re.M):
            mine.append(i)
    return sorted(mine)


def stale_count(frame):
    return sum(1 for d in frame["domains"] if d.get("stale"))


def main():
    monitor, capture_bin, gen_node = sys.argv[1:4]
    monlib.require_libvirtd()
    work = monlib.tmpdir("pipeline")
    node = os.path.join(work, "node.xml")
    subprocess.run(["/usr/bin/python3", gen_node, "--domains", "40", "--running-fraction", "1",
                    "--seed", "5", "--out", node], check=True)
    uri = "test+unix://" + node
    cap = monlib.Capture(capture_bin, "ipc://%s/fanin" % work)
    common = ["--uri", uri, "--interval", str(INTERVAL), "--publish", "ipc://%s/fanin" % work,
              "-v"]
    pipe = monlib.Monitor(monitor, common + ["--host", "pipe"], work, "pipe")
    lib = monlib.Monitor(monitor, common + ["--host", "lib", "--libvirt-pipeline", "no"], work,
                         "lib")
    try:
        cap.wait_frames(6, 30, "pipe")
        cap.wait_frames(6, 30, "lib")
        check("per-domain statistics pipelined to /" in pipe.stderr(),
              "the pipelining monitor did not say it pipelines:\n" + pipe.stderr())
        check("pipelined" not in lib.stderr(),
              "libvirt_pipeline = no pipelined anyway:\n" + lib.stderr())

        # The same figures by both paths. The test driver's CPU time and
        # disk counters follow the wall clock, so they are compared at the
        # two monitors' sampling times.
        a = cap.stats("pipe")[-1]["msg"]
        b = cap.stats("lib")[-1]["msg"]
        da, db = monlib.by_uuid(a), monlib.by_uuid(b)
        check(len(da) == 40 and set(da) == set(db),
              "domains differ: %d by the pipeline, %d by the library" % (len(da), len(db)))
        check(stale_count(a) == 0 and stale_count(b) == 0,
              "stale domains: %d pipelined, %d library" % (stale_count(a), stale_count(b)))
        dt_ns = abs(a["time"] - b["time"]) * 1e9
        for u, x in da.items():
            y = db[u]
            for f in ("name", "state", "vcpus", "mem_basis", "mem_total_kib", "mem_used_kib"):
                check(x.get(f) == y.get(f), "%s: %s %r (pipelined) vs %r" % (u, f, x.get(f),
                                                                            y.get(f)))
            check([d["name"] for d in x["disks"]] == [d["name"] for d in y["disks"]] and
                  [n["name"] for n in x["nics"]] == [n["name"] for n in y["nics"]],
                  "%s: devices differ: %r vs %r" % (u, x["disks"], y["disks"]))
            check(abs(x["cpu_time_ns"] - y["cpu_time_ns"]) <= dt_ns + 1.5e9,
                  "%s: cpu_time_ns %d vs %d, frames %.2f s apart" % (
                      u, x["cpu_time_ns"], y["cpu_time_ns"], dt_ns / 1e9))
            for dx, dy in zip(x["disks"] + x["nics"], y["disks"] + y["nics"]):
                for k in ("rd_bytes", "wr_req", "rx_bytes", "tx_packets"):
                    if k in dx:
                        check(abs(dx[k] - dy[k]) <= 0.01 * max(dx[k], dy[k]) + 1e6,
                              "%s %s %s: %d vs %d" % (u, dx["name"], k, dx[k], dy[k]))
        log("40 domains: the same by both paths (%d disks, %d NICs)" % (
            sum(len(x["disks"]) for x in da.values()), sum(len(x["nics"]) for x in da.values())))

        # libvirtd drops the pipelined connection: the later of the
        # monitor's two clients (the library's connection comes first).
        ids = clients_of(pipe.proc.pid)
        check(len(ids) == 2, "expected 2 libvirtd clients of the monitor, found %r" % ids)
        subprocess.run(["virt-admin", "client-disconnect", "libvirtd", str(ids[-1])], check=True,
                       capture_output=True, timeout=30)
        t_cut = time.time()
        cap.wait(lambda _: "pipelined statistics failed" in pipe.stderr(), 10,
                 "the monitor to notice the dropped connection")
        cap.wait_frames(8, 20, "pipe")
        after = [r["msg"] for r in cap.stats("pipe") if r["msg"]["time"] > t_cut + 2 * INTERVAL]
        check(after and all(stale_count(f) == 0 and len(f["domains"]) == 40 for f in after),
              "frames after the cut were not all whole and fresh: %r" % [
                  (len(f["domains"]), stale_count(f)) for f in after])
        check(pipe.stderr().count("pipelined statistics failed") == 1,
              "the failure was not logged exactly once:\n" + pipe.stderr())
        log("connection dropped: logged once, %d frames after it all fresh" % len(after))

        # After the retry interval it pipelines again.
        cap.wait(lambda _: pipe.stderr().count("per-domain statistics pipelined to") == 2,
                 RETRY_PASSES * INTERVAL + 20, "the monitor to pipeline again")
        check(len(clients_of(pipe.proc.pid)) == 2, "no second pipelined connection")
        check(stale_count(cap.wait_frames(2, 10, "pipe")) == 0, "stale after pipelining again")
        log("pipelined again after %.0f s" % (time.time() - t_cut))

        err_pipe, err_lib = pipe.stop(), lib.stop()
        for name, err in (("pipe", err_pipe), ("lib", err_lib)):
            check(" error:" not in err, "%s logged an error:\n%s" % (name, err))
        cap.stop()
    finally:
        for m in (pipe, lib):
            if m.alive():
                m.proc.kill()
    print("PASS")


if __name__ == "__main__":
    main()
