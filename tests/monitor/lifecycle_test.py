#!/usr/bin/python3
"""Lifecycle through libvirtd's shared test hypervisor (test+unix:///default):
domains started and destroyed while the monitor runs give one "started" and
one "stopped" event each, frames stop listing a domain once it is stopped (its
tracker is freed), a restart under the same UUID is stop-then-start, a Nova
metadata change shows in the next frames, SIGHUP reloads without a gap, and
SIGTERM ends the monitor cleanly.

usage: lifecycle_test.py MONITOR SUB_CAPTURE
"""
import os
import sys
import uuid as uuidlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monlib  # noqa: E402
from monlib import check, log  # noqa: E402

URI = "test+unix:///default"
NOVA = "http://openstack.org/xmlns/libvirt/nova/1.1"


def domain_xml(workdir, name, uuid):
    path = os.path.join(workdir, name + ".xml")
    with open(path, "w") as f:
        f.write("""<domain type='test'><name>%s</name><uuid>%s</uuid>
<memory unit='KiB'>262144</memory><currentMemory unit='KiB'>131072</currentMemory>
<vcpu>2</vcpu><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><source file='/nonexistent/%s.img'/><target dev='vda'/></disk>
<interface type='ethernet'><target dev='smt%s'/></interface>
</devices></domain>""" % (name, uuid, name, uuid[:8]))
    return path


def main():
    monitor, capture_bin = sys.argv[1], sys.argv[2]
    monlib.require_libvirtd(URI)
    work = monlib.tmpdir("lifecycle")
    tag = "smtest-mon%d" % os.getpid()
    host = "lifecycle-%d" % os.getpid()
    names = ["%s-%d" % (tag, i) for i in range(5)]
    uuids = {n: str(uuidlib.uuid4()) for n in names}
    by_uuid = {u: n for n, u in uuids.items()}

    cap = monlib.Capture(capture_bin, "ipc://%s/fanin" % work)
    mon = monlib.Monitor(monitor, ["--uri", URI, "--interval", "0.5", "--host", host,
                                   "--publish", "ipc://%s/fanin" % work, "-v"], work)
    try:
        first = cap.wait_frames(1, 20, host)
        check(first["node"]["libvirt_ok"], "libvirt_ok false in the first frame")

        # Start five domains; each must be announced once and then listed.
        for n in names:
            monlib.virsh(URI, "create", domain_xml(work, n, uuids[n]))

        def started(recs, u):
            return [r for r in recs if r["msg"]["kind"] == "event" and r["msg"]["uuid"] == u
                    and r["msg"]["event"] == "started"]

        cap.wait(lambda recs: all(started(recs, uuids[n]) for n in names), 15,
                 "started events of 5 domains")
        frame = cap.wait_frames(3, 15, host)
        listed = monlib.by_uuid(frame)
        for n in names:
            d = listed.get(uuids[n])
            check(d is not None, "%s not in frames after its start" % n)
            check(d["name"] == n, "name %r != %r" % (d["name"], n))
            check(d["cpu_pct"] is not None and 0 <= d["cpu_pct"] <= 100,
                  "%s: cpu_pct %r" % (n, d["cpu_pct"]))
            check(d["vcpus"] == 2, "%s: vcpus %r" % (n, d["vcpus"]))
            check([x["name"] for x in d["disks"]] == ["vda"], "%s: disks %r" % (n, d["disks"]))
            check(len(d["nics"]) == 1 and d["nics"][0]["rx_bytes_ps"] is not None,
                  "%s: nics %r" % (n, d["nics"]))
            check(d["mem_basis"] == "host_alloc" and abs(d["mem_pct"] - 50.0) < 1e-6,
                  "%s: memory %r %r" % (n, d["mem_basis"], d["mem_pct"]))
            check(not d["stale"], "%s stale" % n)

        # Nova metadata set on a running domain reaches the frames.
        meta = os.path.join(work, "nova.xml")
        with open(meta, "w") as f:
            f.write("<instance><name>web \x01one</name><owner><project uuid='p-42'>acme"
                    "</project><user uuid='u-7'>alice</user></owner>"
                    "<flavor name='m1.tiny'/></instance>".replace("\x01", "&#9;"))
        monlib.virsh(URI, "metadata", names[0], NOVA, "--key", "nova", "--set",
                     open(meta).read(), "--live")
        cap.wait(lambda _: (monlib.by_uuid(cap.stats(host)[-1]["msg"]).get(uuids[names[0]], {})
                            .get("identity") or {}).get("project_id") == "p-42", 10,
                 "identity from the metadata change event")
        ident = monlib.by_uuid(cap.stats(host)[-1]["msg"])[uuids[names[0]]]["identity"]
        check(ident == {"display_name": "web ?one", "project_id": "p-42",
                        "project_name": "acme", "user_id": "u-7", "user_name": "alice",
                        "flavor": "m1.tiny"}, "identity %r" % ident)

        # SIGHUP: the configuration is read again, identities re-read, the
        # monitor goes on (same epoch, no gap in seq).
        mon.proc.send_signal(monlib.signal.SIGHUP)
        cap.wait(lambda _: "reloaded" in mon.stderr(), 10, "the reload log line")
        cap.wait_frames(2, 10, host)
        check(mon.alive(), "monitor died on SIGHUP")

        # Destroy three; restart one of them under the same UUID.
        for n in names[:3]:
            monlib.virsh(URI, "destroy", n)

        def stopped(recs, u):
            return [r for r in recs if r["msg"]["kind"] == "event" and r["msg"]["uuid"] == u
                    and r["msg"]["event"] == "stopped"]

        cap.wait(lambda recs: all(stopped(recs, uuids[n]) for n in names[:3]), 15,
                 "stopped events of 3 domains")
        monlib.virsh(URI, "create", domain_xml(work, names[0], uuids[names[0]]))
        cap.wait(lambda recs: len(started(recs, uuids[names[0]])) == 2, 15,
                 "second started event after the restart")
        frame = cap.wait_frames(3, 15, host)
        listed = monlib.by_uuid(frame)
        for n in names[1:3]:
            check(uuids[n] not in listed, "%s still listed after it stopped" % n)
        for n in [names[0]] + names[3:]:
            check(uuids[n] in listed, "%s missing" % n)
        # The restarted domain has no identity any more (new XML, no metadata).
        check(listed[uuids[names[0]]]["identity"] is None, "identity survived a restart")

        for n in [names[0]] + names[3:]:
            monlib.virsh(URI, "destroy", n)
        cap.wait(lambda recs: all(len(stopped(recs, uuids[n])) == (2 if n == names[0] else 1)
                                  for n in names), 15, "all stopped")
        frame = cap.wait_frames(2, 15, host)
        check(not any(u in monlib.by_uuid(frame) for u in by_uuid), "trackers not freed")
        err = mon.stop()
    finally:
        for n in names:
            monlib.virsh(URI, "destroy", n, check_rc=False)
    cap.stop()

    # Exactly once each, with reasons, and never listed outside its life.
    recs = [r for r in cap.snapshot() if r["msg"]["host"] == host]
    ev = [r["msg"] for r in recs if r["msg"]["kind"] == "event" and r["msg"]["uuid"] in by_uuid]
    # The reason comes from libvirt's event, also when a tick's list sees
    # the domain before the event arrives (the monitor waits for it).
    for n in names:
        mine = [e["event"] for e in ev if e["uuid"] == uuids[n]]
        want = ["started", "stopped"] * (2 if n == names[0] else 1)
        check(mine == want, "%s: events %r, want %r" % (n, mine, want))
        for e in ev:
            if e["uuid"] == uuids[n]:
                check(e["reason"] in ({"booted"} if e["event"] == "started"
                                      else {"destroyed", "vanished"}),
                      "%s: reason %r" % (n, e["reason"]))
                check(e["name"] == n, "event name %r" % e["name"])
    alive = {}
    for r in recs:
        m = r["msg"]
        if m["kind"] == "event" and m["uuid"] in by_uuid:
            if m["event"] == "started":
                alive[m["uuid"]] = m["time"]
            else:
                alive.pop(m["uuid"], None)
        elif m["kind"] == "stats":
            extra = {d["uuid"] for d in m["domains"] if d["uuid"] in by_uuid} - set(alive)
            check(not extra, "frame %d lists %r outside started..stopped" % (m["seq"], extra))
            for d in m["domains"]:
                # Listed only with real figures, never placeholders, and
                # never in a frame older than its "started".
                check(1 <= d["state"] <= 7 and d["vcpus"] >= 1,
                      "frame %d: %s state %r, %r vCPUs" % (m["seq"], d["name"], d["state"],
                                                           d["vcpus"]))
                if d["uuid"] in alive:
                    check(m["time"] >= alive[d["uuid"]],
                          "frame %d (time %r) lists %s, started at %r" %
                          (m["seq"], m["time"], d["name"], alive[d["uuid"]]))
    for kind in ("stats", "event"):
        ok, seqs = monlib.seqs_contiguous([r for r in recs if r["msg"]["kind"] == kind])
        check(ok, "%s seq not contiguous: %r" % (kind, seqs))
    check("lost" not in err, "unexpected libvirt trouble:\n" + err)
    log("lifecycle: %d frames, %d events of ours, OK" % (len(cap.stats(host)), len(ev)))


if __name__ == "__main__":
    main()
