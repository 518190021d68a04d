"""smtest -- helpers for the collector's end-to-end scenarios (tests/e2e/collector_*.sh).

A subscriber that decodes every frame (pyzmq + msgpack, as docs/PROTOCOL.md
describes), tracks sequence numbers per (host, kind), and waits for
conditions with generous deadlines so a loaded machine does not fail a test.
"""
import sys
import time

import msgpack
import zmq

CTX = zmq.Context.instance()


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def curve_client(sock, secret_file, server_file):
    """Makes sock a CurveZMQ client with the key pair in secret_file (as
    stackmon-keygen writes it) for the server whose public key file is
    server_file."""
    import zmq.auth
    public, secret = zmq.auth.load_certificate(secret_file)
    server, _ = zmq.auth.load_certificate(server_file)
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.curve_serverkey = server


class Sub:
    """A SUB socket on a fan-out that remembers what it saw."""

    def __init__(self, endpoint, prefixes=("",), rcvhwm=None, curve=None):
        self.sock = CTX.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            curve_client(self.sock, *curve)
        if rcvhwm is not None:
            self.sock.setsockopt(zmq.RCVHWM, rcvhwm)
        for p in prefixes:
            self.sock.setsockopt(zmq.SUBSCRIBE, p.encode())
        self.sock.connect(endpoint)
        self.last = {}       # (host, kind) -> (epoch, seq)
        self.gaps = {}       # (host, kind) -> frames missing
        self.dups = {}       # (host, kind) -> duplicates or reordered
        self.count = {}      # (host, kind) -> frames received
        self.collector = {}  # collector name -> last counters body

    def recv(self, timeout):
        """One (topic, body) within timeout seconds, or None."""
        if not self.sock.poll(int(timeout * 1000)):
            return None
        parts = self.sock.recv_multipart()
        if len(parts) != 2:
            fail("fan-out carried a message of %d frames" % len(parts))
        topic = parts[0].decode()
        body = msgpack.unpackb(parts[1], raw=False)
        kind, host = topic.split("/")[0:2]
        if body.get("v") not in (1, 2) or body.get("kind") != kind or body.get("host") != host:
            fail("fan-out carried a frame whose body disagrees with topic %r" % topic)
        self._account(host, kind, body)
        if kind == "collector":
            self.collector[host] = body
        return topic, body

    def _account(self, host, kind, body):
        key = (host, kind)
        self.count[key] = self.count.get(key, 0) + 1
        epoch, seq = body["epoch"], body["seq"]
        if key in self.last and self.last[key][0] == epoch:
            last = self.last[key][1]
            if seq > last:
                self.gaps[key] = self.gaps.get(key, 0) + seq - last - 1
                self.last[key] = (epoch, seq)
            else:
                self.dups[key] = self.dups.get(key, 0) + 1
        else:
            self.last[key] = (epoch, seq)

    def wait(self, pred, timeout, what):
        """Reads until pred(topic, body) is true; fails with `what` at the deadline."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = self.recv(min(0.2, max(0.01, end - time.monotonic())))
            if m is not None and pred(*m):
                return m
        fail("timed out after %.0f s waiting for %s" % (timeout, what))

    def pump(self, seconds):
        """Reads everything for `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.recv(min(0.1, max(0.01, end - time.monotonic())))

    def wait_counters(self, name, pred, timeout, what):
        """Waits for collector `name`'s counters to satisfy pred(body); returns the body."""
        return self.wait(lambda t, b: t == "collector/%s/" % name and pred(b), timeout, what)[1]


def loss_row(counters, host, kind="stats"):
    """[host, kind, received, lost] from a collector's counters, or None."""
    for row in counters.get("loss", []):
        if row[0] == host and row[1] == kind:
            return row
    return None


def frame(kind, host, seq, epoch=7, v=1, **extra):
    """A minimal valid body (event kind needs its fields passed in extra)."""
    body = {"v": v, "kind": kind, "host": host, "time": time.time(), "seq": seq,
            "epoch": epoch}
    body.update(extra)
    return msgpack.packb(body)


def event(host, seq, epoch=7, what="stopped"):
    return frame("event", host, seq, epoch, event=what, uuid=bytes(range(16)),
                 name="instance-%d" % seq, reason="destroyed")
