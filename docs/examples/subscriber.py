#!/usr/bin/env python3
"""A StackMon subscriber written from docs/PROTOCOL.md alone.

Connects a ZeroMQ SUB socket to one or more collector fan-out endpoints (or a monitor's PUB),
decodes every message kind into named fields, refuses other protocol versions, expands brief
domain records from the full ones they refer to (docs/PROTOCOL.md "Brief records"), counts
lost messages per (host, kind) from the sequence numbers, and prints one JSON object per line.

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

VERSIONS = (1, 2)  # version 1 bodies are version 2 bodies with full records only
BRIEF = 4  # domain flag: a brief record
MAX_GAP = 128  # frames lost after which a publisher's full records are forgotten
KINDS = ("stats", "event", "hb", "collector")
MEM_BASIS = ("none", "guest_usable", "guest_unused", "host_rss", "host_alloc")
IDENTITY = ("display_name", "project_id", "project_name", "user_id", "user_name", "flavor")
DOMAIN = ("uuid", "name", "state", "flags", "identity", "vcpus", "cpu_time_ns", "cpu_pct",
          "steal_pct", "load", "mem_basis", "mem_total_kib", "mem_used_kib", "mem_pct",
          "disks", "nics")
DOMAIN_V2 = ("gen", "since_us")  # appended in version 2; absent from version 1 records
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
    d.update(zip(DOMAIN_V2, values[len(DOMAIN):len(DOMAIN) + len(DOMAIN_V2)]))
    d.setdefault("gen", 0)
    d.setdefault("since_us", 0)
    if not isinstance(d["uuid"], bytes) or len(d["uuid"]) != 16:
        raise BadMessage("domain uuid: expected 16 bytes")
    d["uuid"] = str(uuid.UUID(bytes=d["uuid"]))
    flags = d.pop("flags")
    d["stale"] = bool(flags & 1)
    d["brief"] = bool(flags & BRIEF)
    if d["brief"] and len(values) < len(DOMAIN) + len(DOMAIN_V2):
        raise BadMessage("a brief record without gen and since_us")
    d["identity"] = identity(d["identity"])
    basis = d["mem_basis"]
    d["mem_basis"] = MEM_BASIS[basis] if basis < len(MEM_BASIS) else "other"
    # A brief device record is the full one cut before its rates (6 and 9 fields).
    d["disks"] = [device(x, DISK, 6 if d["brief"] else len(DISK), "disk") for x in d["disks"]]
    d["nics"] = [device(x, NIC, 9 if d["brief"] else len(NIC), "nic") for x in d["nics"]]
    return d


def device(values, names, minimum, what):
    """A device record of at least `minimum` fields; the ones it lacks (a brief record's
    rates) are None until BriefExpander computes them."""
    if not isinstance(values, list) or len(values) < minimum:
        raise BadMessage(f"{what}: expected an array of at least {minimum} fields")
    d = dict(zip(names, values))
    for name in names[len(values):]:
        d[name] = None
    return d


class BriefExpander:
    """Turns brief domain records back into full ones (docs/PROTOCOL.md "Brief records").

    Per publisher it keeps, for each domain of its latest frame, the full record (base) and
    the last record expanded from it. A brief record's counters are growth since its base;
    its rates are the growth between two records over their since_us difference."""

    COUNTERS = {"disks": (DISK[1:6], DISK[6:]), "nics": (NIC[1:9], NIC[9:])}
    RATE_OF = {"rd_req_ps": "rd_req", "rd_bytes_ps": "rd_bytes", "wr_req_ps": "wr_req",
               "wr_bytes_ps": "wr_bytes", "rx_bytes_ps": "rx_bytes",
               "rx_packets_ps": "rx_packets", "tx_bytes_ps": "tx_bytes",
               "tx_packets_ps": "tx_packets"}

    def __init__(self):
        self.hosts = {}  # host -> (epoch, seq, {uuid: (base, last)})

    @staticmethod
    def _rate(prev, cur, dt, last):
        if dt == 0:
            return last
        if dt < 0 or cur < prev:
            return None
        return (cur - prev) / dt

    def _expand(self, d, base, last):
        if d["gen"] != base["gen"] or any(len(d[k]) != len(base[k]) for k in ("disks", "nics")):
            return False
        dt = (d["since_us"] - last["since_us"]) / 1e6
        d["cpu_time_ns"] += base["cpu_time_ns"]
        if dt == 0:
            d["cpu_pct"] = last["cpu_pct"]
        elif dt < 0 or d["cpu_time_ns"] < last["cpu_time_ns"] or d["vcpus"] == 0:
            d["cpu_pct"] = None
        else:
            d["cpu_pct"] = min(100.0, (d["cpu_time_ns"] - last["cpu_time_ns"]) / 1e9 / dt
                               / d["vcpus"] * 100.0)
        for kind, (counters, rates) in self.COUNTERS.items():
            for dev, b, l in zip(d[kind], base[kind], last[kind]):
                dev["name"] = b["name"]
                for c in counters:
                    dev[c] += b[c]
                for r in rates:
                    c = self.RATE_OF[r]
                    dev[r] = self._rate(l[c], dev[c], dt, l[r])
        d["name"], d["identity"] = base["name"], base["identity"]
        d["brief"] = False
        return True

    def frame(self, msg):
        """Expands msg's brief records in place; drops those without a known full record."""
        host = msg["host"]
        epoch, seq, doms = self.hosts.get(host, (None, 0, {}))
        if epoch != msg["epoch"] or msg["seq"] - seq > MAX_GAP:
            doms = {}
        kept, table = [], {}
        for d in msg["domains"]:
            if not d["brief"]:
                d["since_us"] = 0
                table[d["uuid"]] = (d, d)
            elif d["uuid"] in doms and d["uuid"] not in table:
                base, last = doms[d["uuid"]]
                if not self._expand(d, base, last):
                    continue
                table[d["uuid"]] = (base, d)
            else:
                continue  # its full record not seen yet: it comes within full_interval
            kept.append(d)
        msg["domains"] = kept
        self.hosts[host] = (msg["epoch"], msg["seq"], table)


def _map_once(pairs):
    """A map whose keys are each given once (docs/PROTOCOL.md "Evolution
    rules"): a relay reads only the first header fields, so a second "host"
    further in must never be believed."""
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"key {k!r} given twice")
        out[k] = v
    return out


def decode(topic, body):
    """Returns the message as a dict of named fields, or raises BadMessage."""
    try:
        kind, host, rest = topic.decode("ascii").split("/")
    except (UnicodeDecodeError, ValueError):
        raise BadMessage(f"topic {topic[:40]!r} is not <kind>/<host>/")
    if rest != "" or kind not in KINDS:
        raise BadMessage(f"topic {topic[:40]!r}: unknown kind or shape")
    try:
        m = msgpack.unpackb(body, raw=False, strict_map_key=True, object_pairs_hook=_map_once)
    except Exception as e:  # msgpack raises several types for bad input
        raise BadMessage(f"body is not msgpack: {e}")
    if not isinstance(m, dict):
        raise BadMessage("body is not a map")
    if m.get("v") not in VERSIONS:
        raise BadMessage(f"protocol version {m.get('v')}, this subscriber speaks {VERSIONS}")
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
    brief = BriefExpander()
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
        if msg["kind"] == "stats":
            brief.frame(msg)
            for d in msg["domains"]:
                del d["brief"]
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
