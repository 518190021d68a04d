"""Shared helpers of stackmon-monitor's integration, lifecycle and QEMU tests.

A test runs the real daemon, a real ZeroMQ SUB standing in for a collector's
fan-in (sub_capture, which decodes every message with sm_wire_decode_frames),
and real libvirt. Everything lives in one temporary folder; every process a
test starts is ended by it (atexit), by PID.
"""
import atexit
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from testproc import PROCS, check, fail, log  # noqa: E402,F401  (re-exported to the tests)

SKIP = 77


def tmpdir(tag):
    d = tempfile.mkdtemp(prefix="sm-%s-" % tag)
    if os.environ.get("STACKMON_KEEP_TMP") != "1":
        atexit.register(shutil.rmtree, d, True)
    return d


def virsh(uri, *args, check_rc=True, timeout=30):
    r = subprocess.run(["virsh", "-q", "-c", uri] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    if check_rc and r.returncode != 0:
        fail("virsh %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def require_libvirtd(uri="test+unix:///default"):
    """Exits 77 (skip) when libvirtd does not answer, or fails when CI says it must."""
    ok = shutil.which("virsh") is not None
    if ok:
        try:
            ok = subprocess.run(["virsh", "-q", "-c", uri, "list"], capture_output=True,
                                timeout=15).returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
    if not ok:
        if os.environ.get("STACKMON_REQUIRE_LIBVIRTD") == "1":
            fail("libvirtd does not answer on %s (run scripts/libvirtd.sh start)" % uri)
        print("SKIP: libvirtd does not answer on %s" % uri)
        sys.exit(SKIP)


class Capture:
    """sub_capture bound at `endpoint`; messages are collected by a thread."""

    def __init__(self, binary, endpoint):
        self.proc = subprocess.Popen([binary, endpoint], stdout=subprocess.PIPE, text=True,
                                     bufsize=1)
        PROCS.append(self.proc)
        self.q = queue.Queue()
        self.all = []
        self.errors = []
        self.lock = threading.Lock()
        first = self.proc.stdout.readline()
        check(first.startswith('{"ready"'), "sub_capture did not start: %r" % first)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            rec = json.loads(line)
            with self.lock:
                if "error" in rec:
                    self.errors.append(rec)
                else:
                    self.all.append(rec)
            self.q.put(rec)

    def snapshot(self):
        with self.lock:
            return list(self.all)

    def stats(self, host=None):
        return [r for r in self.snapshot() if r["msg"]["kind"] == "stats" and
                (host is None or r["msg"]["host"] == host)]

    def events(self, host=None):
        return [r for r in self.snapshot() if r["msg"]["kind"] == "event" and
                (host is None or r["msg"]["host"] == host)]

    def wait(self, pred, timeout, what):
        """Waits until pred(list of all records) is true."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred(self.snapshot()):
                return
            time.sleep(0.05)
        fail("timed out after %gs waiting for %s" % (timeout, what))

    def wait_frames(self, n, timeout, host=None):
        start = len(self.stats(host))
        self.wait(lambda _: len(self.stats(host)) >= start + n, timeout,
                  "%d more stats frames" % n)
        return self.stats(host)[-1]["msg"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        check(not self.errors, "messages that did not decode: %r" % self.errors[:3])


class Monitor:
    """The daemon under test; stderr goes to a file checked at the end."""

    def __init__(self, binary, args, workdir, tag="monitor", env=None):
        self.errpath = os.path.join(workdir, tag + ".stderr")
        self.errf = open(self.errpath, "w")
        e = dict(os.environ)
        if env:
            e.update(env)
        self.proc = subprocess.Popen([binary, "-c", "/dev/null"] + args, stdout=subprocess.PIPE,
                                     stderr=self.errf, env=e)
        PROCS.append(self.proc)

    def stderr(self):
        with open(self.errpath) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM; must exit 0 within `timeout`. Returns stderr text."""
        check(self.alive(), "monitor died early (rc=%s):\n%s" % (self.proc.poll(), self.stderr()))
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            fail("monitor did not stop within %ds of SIGTERM" % timeout)
        self.errf.close()
        err = self.stderr()
        check(rc == 0, "monitor exited %d:\n%s" % (rc, err))
        return err


def valid_text(s, limit):
    """A string a consumer can trust: bounded, valid UTF-8, no control characters."""
    b = s.encode("utf-8")  # Python str from JSON: already valid code points
    if len(b) > limit:
        return False
    return not any(unicodedata.category(c) == "Cc" for c in s)


def by_uuid(frame):
    return {d["uuid"]: d for d in frame["domains"]}


def seqs_contiguous(records):
    seqs = [r["msg"]["seq"] for r in records]
    return all(b == a + 1 for a, b in zip(seqs, seqs[1:])), seqs
