#!/usr/bin/python3
"""The living node of the main command's demo (scripts/run-suite.sh): several
tenants' domains on libvirtd's shared test driver whose figures move, one of
them started or stopped now and then, and an on/off load pattern for the real
QEMU guests run-suite starts. It only drives libvirt; the monitor reads the
result like any other node. Standard library and virsh only.

Usage:
  demo-node.py node --run-dir DIR [--domains N] [--seed S]
      writes DIR/node.xml and exits (the in-process test driver reads it)
  demo-node.py run --run-dir DIR [--domains N] [--seed S] [--churn SECONDS]
                   [--vary SECONDS] [--guest NAME]...
      writes DIR/node.xml, creates its domains on test+unix:///default (a
      <test:runstate>3 one paused, a 5 one left off), touches DIR/demo/ready,
      then until SIGTERM: every --vary seconds (5) sets each domain's memory
      and, where the flavor has several, its vCPUs on slow waves (what the
      test driver reports follows them: memory used, vCPU % = 100 / vCPUs);
      every --churn seconds (25, +-20 %; 0 = never) starts one of the
      domains that were off or destroys the one of those up longest, so the
      monitor sends "started" and "stopped" events; and pauses every second
      guest (qemu:///system: each --guest, and each line of DIR/demo/guests,
      read again every --vary seconds) for 15 s out of 60, so its CPU, disk
      and network rates drop to nothing and come back. On SIGTERM it destroys
      the domains it created and resumes what it paused. SIGINT is ignored:
      run-suite stops it last, after the monitor, so a Ctrl-C does not show
      every domain as stopped.
  demo-node.py down --run-dir DIR
      destroys whatever of DIR/node.xml's domains still runs on the test
      driver (after a run that was killed).

The node is tests/fixtures/gen_node.py's (its tenants, flavors and hostile
names) with every UUID and name made unique to DIR: the first 8 hex digits of
the UUIDs and 4 in each name come from DIR's path, so two run directories can
share libvirtd's one test driver and a run directory keeps its instances'
history from one run to the next. All its test-driver calls go through one
interactive virsh kept open all along (a virsh per call would cost a tenth of
a CPU-second each), which also keeps the domains: libvirtd forgets the shared
test driver's domains when its last client leaves. A domain of the node that
vanishes anyway (someone destroyed it, libvirtd restarted) is created again.
Every process it starts goes into DIR/pids as well.
"""

import argparse
import ctypes
import hashlib
import math
import os
import random
import re
import select
import signal
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN_NODE = os.path.join(TOP, "tests", "fixtures", "gen_node.py")
TEST_URI = "test+unix:///default"
QEMU_URI = "qemu:///system"
UUID_PREFIX = "53ac0000"  # gen_node.py's, replaced by the run directory's tag
MEM_PERIOD = 180.0  # seconds of one memory wave
VCPU_PERIOD = 150.0  # seconds of one vCPU wave
PAUSE_EVERY, PAUSE_FOR = 60.0, 15.0  # the paused guest's cycle
# What churn does, in turn: a domain starts, one stops, two start, two stop;
# so "started" and "stopped" both come within two periods, and zero to two
# of the pool run at a time.
CHURN_CYCLE = ("start", "stop", "start", "start", "stop", "stop")
PR_SET_PDEATHSIG = 1


class Stop(Exception):
    """SIGTERM, or run-suite gone."""


def log(msg):
    print("demo-node: " + msg, flush=True)


def child_setup():
    """In every virsh started here: not stopped by a terminal's Ctrl-C (this
    script decides the order), and ended when this script ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def virsh(uri, commands):
    """Runs virsh commands (argument lists) in a virsh of their own; returns
    the error lines. virsh goes on after a failing command."""
    line = " ; ".join(" ".join(c) for c in commands)
    p = subprocess.run(["virsh", "-q", "-c", uri, line], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, preexec_fn=child_setup)
    return [e for e in p.stderr.splitlines() if e.strip()]


def record_pid(run_dir, pid, name):
    """Appends "PID STARTTIME NAME" to DIR/pids (run-suite's format)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        start = "gone"
    with open(os.path.join(run_dir, "pids"), "a") as f:
        f.write("%d %s %s\n" % (pid, start, name))


def tag_of(run_dir):
    return hashlib.md5(os.path.realpath(run_dir).encode()).hexdigest()[:8]


def make_node(run_dir, ndomains, seed):
    """Writes DIR/node.xml; returns its domains as dicts (uuid, xml without
    runstate, state, mem_mib, vcpus)."""
    text = subprocess.run(["/usr/bin/python3", GEN_NODE, "--domains", str(ndomains),
                           "--seed", str(seed), "--out", "-"],
                          check=True, capture_output=True, text=True).stdout
    tag = tag_of(run_dir)
    text = text.replace(UUID_PREFIX + "-", tag + "-")

    def rename(m):
        name = m.group(1)
        hit = re.fullmatch(r"instance-[0-9a-f]{4}([0-9a-f]{4})", name)
        name = "instance-%s%s" % (tag[:4], hit.group(1)) if hit else "%s-%s" % (name, tag[:4])
        return "\n    <name>%s</name>" % name

    text = re.sub(r"\n    <name>(.*?)</name>", rename, text, flags=re.S)
    path = os.path.join(run_dir, "node.xml")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)

    domains = []
    for block in re.findall(r"  <domain .*?\n  </domain>\n", text, flags=re.S):
        state = re.search(r"<test:runstate>(\d)</test:runstate>", block)
        domains.append({
            "uuid": re.search(r"<uuid>([^<]+)</uuid>", block).group(1),
            "xml": re.sub(r"\n *<test:runstate>\d</test:runstate>", "", block),
            "state": {"3": "paused", "5": "off"}.get(state.group(1) if state else "", "running"),
            "mem_mib": int(re.search(r"<memory unit='MiB'>(\d+)</memory>", block).group(1)),
            "vcpus": int(re.search(r"<vcpu>(\d+)</vcpu>", block).group(1)),
        })
    return domains


def node_uuids(run_dir):
    try:
        with open(os.path.join(run_dir, "node.xml"), encoding="utf-8") as f:
            return re.findall(r"<uuid>([^<]+)</uuid>", f.read())
    except OSError:
        return []


def active_uuids(uri):
    p = subprocess.run(["virsh", "-q", "-c", uri, "list", "--uuid"], capture_output=True,
                       text=True, preexec_fn=child_setup)
    return set(p.stdout.split()) if p.returncode == 0 else set()


def destroy_ours(run_dir):
    """Destroys every domain of DIR/node.xml that is active; returns how many."""
    active = active_uuids(TEST_URI)
    ours = [u for u in node_uuids(run_dir) if u in active]
    if ours:
        for e in virsh(TEST_URI, [["destroy", u] for u in ours]):
            log("destroy: " + e)
    return len(ours)


class Session:
    """One interactive virsh on URI: commands in on its stdin, their output
    read back up to an `echo` marker."""

    def __init__(self, uri, run_dir):
        self.p = subprocess.Popen(["virsh", "-q", "-c", uri], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  preexec_fn=child_setup)
        record_pid(run_dir, self.p.pid, "demo-virsh")
        self.n = 0
        self.buf = b""

    def run(self, commands, timeout=30.0):
        """Returns (output lines, error lines) of the commands (argument lists).
        Raises RuntimeError when virsh exits or does not answer in time."""
        self.n += 1
        mark = ("@@demo-node-%d@@" % self.n).encode()
        text = "".join(" ".join(c) + "\n" for c in commands) + "echo %s\n" % mark.decode()
        try:
            self.p.stdin.write(text.encode())
            self.p.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise RuntimeError("virsh exited")
        deadline = time.monotonic() + timeout
        while mark not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.p.stdout], [], [], left)[0]:
                raise RuntimeError("virsh did not answer in %g s" % timeout)
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError("virsh exited")
            self.buf += chunk
        out, _, self.buf = self.buf.partition(mark)
        out_lines, errors = [], []
        for line in out.decode(errors="replace").splitlines():
            line = line.strip()
            # "virsh # COMMAND": the prompt and the command read, not output.
            if not line or line.startswith("virsh #"):
                continue
            (errors if line.startswith("error:") else out_lines).append(line)
        return out_lines, errors

    def alive(self):
        return self.p.poll() is None

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()
                self.p.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()


class Demo:
    def __init__(self, a):
        self.a = a
        self.dir = os.path.join(a.run_dir, "demo")
        self.virsh = None  # the Session on the test driver
        self.trouble = None  # the last failure logged, to log a failure once
        self.domains = []
        self.pool = []  # domains churn starts and stops (the node's "off" ones)
        self.churned = []  # pool domains churn started, oldest first
        self.turn = 0  # position in CHURN_CYCLE
        self.sent = {}  # uuid -> (mem_kib, vcpus) last set
        self.paused_guests = set()
        self.missing_guests = set()
        self.rng = random.Random(a.seed)
        self.t0 = time.monotonic()

    def call(self, commands, what):
        """Runs commands in the session (started again if it died); returns
        the output lines, or None when virsh failed (logged once)."""
        try:
            if self.virsh is None or not self.virsh.alive():
                if self.virsh:
                    self.virsh.close()
                self.virsh = Session(TEST_URI, self.a.run_dir)
            out, errors = self.virsh.run(commands)
        except RuntimeError as e:
            if self.virsh:
                self.virsh.close()
            self.virsh = None
            if self.trouble != str(e):
                log("%s: %s; trying again every %g s" % (what, e, self.a.vary))
            self.trouble = str(e)
            return None
        if self.trouble:
            log("%s: virsh answers again" % what)
            self.trouble = None
        for e in errors:
            log("%s: %s" % (what, e))
        return out

    def active(self):
        out = self.call([["list", "--uuid"]], "list")
        return None if out is None else set(out)

    def expected(self):
        """The domains of ours that should be active now."""
        return [d for d in self.domains if d["state"] != "off"] + self.churned

    def start_node(self):
        os.makedirs(self.dir, exist_ok=True)
        self.domains = make_node(self.a.run_dir, self.a.domains, self.a.seed)
        if not self.domains:
            return
        up = self.active()
        if up is None:
            raise RuntimeError("%s does not answer" % TEST_URI)
        left = [d["uuid"] for d in self.domains if d["uuid"] in up]
        if left:
            self.call([["destroy", u] for u in left], "destroy")
            log("destroyed %d domains left by an earlier run" % len(left))
        for d in self.domains:
            d["file"] = os.path.join(self.dir, d["uuid"] + ".xml")
            with open(d["file"], "w", encoding="utf-8") as f:
                f.write(d["xml"])
            if d["state"] == "off":
                self.pool.append(d)
        self.create(self.expected())
        up = self.active() or set()
        made = sum(1 for d in self.expected() if d["uuid"] in up)
        if made < len(self.expected()):
            raise RuntimeError("only %d of the node's %d active domains could be created on %s"
                               % (made, len(self.expected()), TEST_URI))
        if self.a.churn <= 0:
            self.pool = []
        elif not self.pool:
            self.pool.append(self.domains[-1])  # nothing off: churn the last one
        log("%d domains on %s; %d more started and stopped in turn"
            % (made, TEST_URI, len(self.pool)))

    def create(self, domains):
        cmds = []
        for d in domains:
            cmds.append(["create", d["file"]])
            if d["state"] == "paused":
                cmds.append(["suspend", d["uuid"]])
            self.sent.pop(d["uuid"], None)
        if cmds:
            self.call(cmds, "create")

    def wave(self, k, period, phase):
        t = time.monotonic() - self.t0
        return 0.5 + 0.5 * math.sin(2 * math.pi * (t / period + phase))

    def vary(self):
        """Memory and vCPUs of every active domain of ours, on waves; a domain
        that should be active and is not is created again."""
        up = self.active()
        if up is None:
            return
        gone = [d for d in self.expected() if d["uuid"] not in up]
        if gone:
            log("%d domain(s) of the node vanished; creating them again" % len(gone))
            self.create(gone)
        n = max(len(self.domains), 1)
        cmds = []
        for k, d in enumerate(self.domains):
            if d["uuid"] not in up:
                continue
            # 35 % to 95 % of the flavor's memory, in 8 MiB steps.
            frac = 0.35 + 0.6 * self.wave(k, MEM_PERIOD, k / n)
            mem_kib = int(d["mem_mib"] * frac / 8) * 8 * 1024
            vcpus = d["vcpus"]
            if vcpus > 1:
                vcpus = 1 + int(round((vcpus - 1) * self.wave(k, VCPU_PERIOD, 0.3 + k / n)))
            last = self.sent.get(d["uuid"], (None, None))
            if mem_kib != last[0]:
                cmds.append(["setmem", d["uuid"], "%dKiB" % mem_kib, "--live"])
            if vcpus != last[1] and d["vcpus"] > 1:
                cmds.append(["setvcpus", d["uuid"], str(vcpus), "--live"])
            self.sent[d["uuid"]] = (mem_kib, vcpus)
        if cmds:
            self.call(cmds, "vary")

    def churn(self):
        """Starts the next pool domain, or destroys the one started first."""
        action = CHURN_CYCLE[self.turn % len(CHURN_CYCLE)]
        self.turn += 1
        if self.churned and (action == "stop" or len(self.churned) == len(self.pool)):
            d = self.churned.pop(0)
            ok = self.call([["destroy", d["uuid"]]], "churn") is not None
            what = "stopped"
        else:
            # The pool in turn, so every one of its domains gets its go.
            idle = [x for x in self.pool if x not in self.churned]
            d = idle[self.turn % len(idle)]
            self.churned.append(d)
            self.sent.pop(d["uuid"], None)
            ok = self.call([["create", d["file"]]], "churn") is not None
            what = "started"
        if ok:
            log("%s %s" % (what, d["uuid"]))

    def guests(self):
        """Every second guest is paused PAUSE_FOR seconds out of PAUSE_EVERY."""
        t = time.monotonic() - self.t0
        names = list(self.a.guest)
        try:
            with open(os.path.join(self.dir, "guests"), encoding="utf-8") as f:
                names += [n for n in f.read().split() if n not in names]
        except OSError:
            pass
        for k, name in enumerate(names):
            if k % 2 == 0:
                continue
            want = (t + k * 7) % PAUSE_EVERY >= PAUSE_EVERY - PAUSE_FOR
            if want == (name in self.paused_guests):
                continue
            errs = virsh(QEMU_URI, [["suspend" if want else "resume", name]])
            if errs:
                if name not in self.missing_guests:
                    log("guest %s: %s" % (name, errs[-1]))
                self.missing_guests.add(name)
                continue
            self.missing_guests.discard(name)
            if want:
                self.paused_guests.add(name)
            else:
                self.paused_guests.discard(name)

    def loop(self):
        vary_next = time.monotonic()
        churn_next = self.next_churn(vary_next)
        while True:
            now = time.monotonic()
            if now >= vary_next:
                if self.domains:
                    self.vary()
                self.guests()
                vary_next += self.a.vary * math.ceil((now - vary_next + 1e-9) / self.a.vary)
            if self.pool and now >= churn_next:
                self.churn()
                churn_next = self.next_churn(now)
            time.sleep(max(0.05, min(vary_next, churn_next) - time.monotonic()))

    def next_churn(self, now):
        if self.a.churn <= 0:
            return math.inf
        return now + self.a.churn * self.rng.uniform(0.8, 1.2)

    def stop(self):
        log("stopping")
        if self.paused_guests:
            virsh(QEMU_URI, [["resume", g] for g in sorted(self.paused_guests)])
        if self.domains:
            n = destroy_ours(self.a.run_dir)
            log("destroyed its %d domains" % n)
        if self.virsh:
            self.virsh.close()


def on_term(signum, frame):
    raise Stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=("node", "run", "down"))
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--domains", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--churn", type=float, default=25.0)
    ap.add_argument("--vary", type=float, default=5.0)
    ap.add_argument("--guest", action="append", default=[])
    a = ap.parse_args()
    if a.domains < 0 or a.vary < 1 or a.churn < 0:
        ap.error("--domains must be >= 0, --vary >= 1 and --churn >= 0")
    os.makedirs(a.run_dir, exist_ok=True)

    if a.command == "node":
        make_node(a.run_dir, a.domains, a.seed)
        return 0
    if a.command == "down":
        n = destroy_ours(a.run_dir)
        if n:
            log("destroyed %d domains" % n)
        return 0

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    child_setup()  # and this script ends with run-suite, even if it is killed
    demo = Demo(a)
    ready = os.path.join(a.run_dir, "demo", "ready")
    status = 0
    try:
        if os.path.exists(ready):
            os.unlink(ready)
        demo.start_node()
        with open(ready, "w") as f:
            f.write("%d\n" % os.getpid())
        demo.loop()
    except Stop:
        pass
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        log("error: %s" % e)
        status = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
