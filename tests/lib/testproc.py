"""Messages and process bookkeeping shared by StackMon's Python tests.

Every process a test starts goes into PROCS (start() does it) and is ended
when the test exits, whatever the reason: terminated, then killed after 10 s.
"""
import atexit
import os
import socket
import subprocess
import sys

PROCS = []


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def log(msg):
    print(msg, flush=True)


def _end_all():
    for p in reversed(PROCS):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


atexit.register(_end_all)


def start(name, cmd, logdir, env=None):
    """Starts cmd in its own session, output in logdir/NAME.log."""
    out = open(os.path.join(logdir, name + ".log"), "w")
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                         start_new_session=True)
    PROCS.append(p)
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
