#!/usr/bin/env python3
"""A StackMon subscriber written from docs/PROTOCOL.md alone.

Connects a ZeroMQ SUB socket to one or more collector fan-out endpoints (or a monitor's PUB),
decodes every message kind into named fields, refuses other protocol versions, counts lost
messages per (host, kind) from the sequence numbers, and prints one JSON object per line.

    subscriber.py --connect tcp://master:7101 [--subscribe event/] [--count N] [--timeout S]

Debian packages: python3-zmq, python3-msgpack. Exit status: 0 done, 1 error, 2 usage,
3 timeout before --count messages arrived.
"""
import argparse
import json
import math
import sys
import time
import uuid

import msgpack
import zmq

VERSION = 1
KINDS = ("stats", "event", "hb", "collector")
MEM_BASIS = ("none", "guest_usable", "guest_unused", "host_rss", "host_alloc")
IDENTITY = ("display_name", "project_id", "project_name", "user_id", "user_name", "flavor")
DOMAIN = ("uuid", "name", "state", "flags", "identity", "vcpus", "cpu_time_ns", "cpu_pct",
          "steal_pct", "load", "mem_basis", "mem_total_kib", "mem_used_kib", "mem_pct",
          "disks", "nics")
DISK = ("name", "rd_req", "rd_bytes", "wr_req", "wr_bytes", "errors",
        "rd_req_ps", "rd_bytes_ps", "wr_req_ps", "wr_bytes_ps")
NIC = ("name", "rx_bytes", "rx_packets", "rx_errors", "rx_drops",
       "tx_bytes", "tx_packets", "tx_errors", "tx_drops",
       "rx_bytes_ps", "rx_packets_ps", "tx_bytes_ps", "tx_packets_ps")


class BadMessage(Exception):
    pass


def record(values, names, what):
    """Positional record -> dict; extra trailing elements are ignored (evolution rule)."""
    if not isinstance(values, list) or len(values) < len(names):
        raise BadMessage(f"{what}: expected an array of at least {len(names)} fields")
    return dict(zip(names, values))


def identity(value):
    return None if value is None else record(value, IDENTITY, "identity")


def domain(values):
    d = record(values, DOMAIN, "domain")
    if not isinstance(d["uuid"], bytes) or len(d["uuid"]) != 16:
        raise BadMessage("domain uuid: expected 16 bytes")
    d["uuid"] = str(uuid.UUID(bytes=d["uuid"]))
    flags = d.pop("flags")
    d["stale"] = bool(flags & 1)
    d["identity"] = identity(d["identity"])
    basis = d["mem_basis"]
    d["mem_basis"] = MEM_BASIS[basis] if basis < len(MEM_BASIS) else "other"
    d["disks"] = [record(x, DISK, "disk") for x in d["disks"]]
    d["nics"] = [record(x, NIC, "nic") for x in d["nics"]]
    return d


def decode(topic, body):
    """Returns the message as a dict of named fields, or raises BadMessage."""
    try:
        kind, host, rest = topic.decode("ascii").split("/")
    except (UnicodeDecodeError, ValueError):
        raise BadMessage(f"topic {topic[:40]!r} is not <kind>/<host>/")
    if rest != "" or kind not in KINDS:
        raise BadMessage(f"topic {topic[:40]!r}: unknown kind or shape")
    try:
        m = msgpack.unpackb(body, raw=False, strict_map_key=True)
    except Exception as e:  # msgpack raises several types for bad input
        raise BadMessage(f"body is not msgpack: {e}")
    if not isinstance(m, dict):
        raise BadMessage("body is not a map")
    if m.get("v") != VERSION:
        raise BadMessage(f"protocol version {m.get('v')}, this subscriber speaks {VERSION}")
    if m.get("kind") != kind or m.get("host") != host:
        raise BadMessage("topic disagrees with body")
    out = {k: m[k] for k in ("kind", "v", "host", "time", "seq", "epoch")}
    if kind == "stats":
        out["interval"] = m["interval"]
        out["node"] = m["node"]
        out["domains"] = [domain(x) for x in m["domains"]]
    elif kind == "event":
        out["event"] = m["event"]
        out["uuid"] = str(uuid.UUID(bytes=m["uuid"]))
        out["name"] = m["name"]
        out["identity"] = identity(m.get("identity"))
        out["reason"] = m.get("reason", "")
    elif kind == "hb":
        out["interval"] = m["interval"]
    else:
        out.update({k: m[k] for k in ("interval", "frames_in", "bytes_in", "frames_out",
                                      "bytes_out", "frames_up", "dropped", "lost",
                                      "publishers", "upstream")})
        out["origin_unknown"] = m.get("origin_unknown", 0)  # absent before it existed
        out["loss"] = [dict(zip(("host", "kind", "received", "lost"), row))
                       for row in m["loss"]]
    return out


class LossCounter:
    """Per (host, kind): the last (epoch, seq) seen, and the messages lost so far."""

    def __init__(self):
        self.last = {}
        self.lost = {}

    def see(self, host, kind, epoch, seq):
        key = (host, kind)
        prev = self.last.get(key)
        if prev is not None and prev[0] == epoch and seq > prev[1] + 1:
            self.lost[key] = self.lost.get(key, 0) + seq - prev[1] - 1
        if prev is None or prev[0] != epoch or seq > prev[1]:
            self.last[key] = (epoch, seq)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connect", action="append", required=True, help="endpoint (repeatable)")
    ap.add_argument("--subscribe", action="append", default=None,
                    help="topic prefix, e.g. event/ or stats/cn12/ (repeatable; default all)")
    ap.add_argument("--count", type=int, default=0, help="exit after N messages")
    ap.add_argument("--timeout", type=float, default=0, help="exit after S seconds")
    ap.add_argument("--loss", action="store_true", help="print a loss summary line at exit")
    args = ap.parse_args()

    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    for prefix in args.subscribe or [""]:
        sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
    for ep in args.connect:
        sock.connect(ep)

    loss = LossCounter()
    seen = bad = 0
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else math.inf
    status = 0
    while args.count == 0 or seen < args.count:
        wait_ms = None if deadline == math.inf else max(0, int((deadline - time.monotonic()) * 1000))
        if wait_ms == 0 or not sock.poll(wait_ms):
            status = 3 if args.count else 0
            break
        frames = sock.recv_multipart()
        try:
            if len(frames) != 2:
                raise BadMessage(f"{len(frames)} frames, expected 2")
            msg = decode(frames[0], frames[1])
        except (BadMessage, KeyError, TypeError, ValueError) as e:
            bad += 1
            print(f"subscriber.py: dropped a message: {e}", file=sys.stderr)
            continue
        loss.see(msg["host"], msg["kind"], msg["epoch"], msg["seq"])
        print(json.dumps(msg, ensure_ascii=False), flush=True)
        seen += 1
    if args.loss:
        summary = {f"{h}/{k}": n for (h, k), n in sorted(loss.lost.items())}
        print(json.dumps({"loss": summary, "received": seen, "malformed": bad}), file=sys.stderr)
    sock.close()
    ctx.term()
    return status


if __name__ == "__main__":
    sys.exit(main())
