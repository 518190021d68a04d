#!/usr/bin/python3
"""Benchmark sink standing in for a collector's fan-in: binds a SUB socket,
counts what monitors send and writes a JSON summary when it gets SIGTERM.
Light on purpose (no per-field decoding) so it does not steal the CPU the
benchmark measures; the domain count of each stats frame is read from the
msgpack body. Each message's arrival (wall clock) and size (topic and body:
what a subscriber receives) go to "rx", so a benchmark can sum the bytes of
any window it measured.

usage: sink.py ENDPOINT OUT.json [NAME_PREFIX]
(started/stopped are counted only for domains whose name has NAME_PREFIX)
"""
import json
import signal
import sys
import time

import msgpack
import zmq

endpoint, out = sys.argv[1], sys.argv[2]
prefix = sys.argv[3] if len(sys.argv) > 3 else ""
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"")
sub.setsockopt(zmq.RCVHWM, 100000)
sub.bind(endpoint)
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
s = {"stats": 0, "events": 0, "started": 0, "stopped": 0, "stats_bytes": 0, "last_size": 0,
     "last_domains": 0, "sizes": {}, "first_rx": None, "last_rx": None, "rx": []}
print("ready", flush=True)
while not stop:
    if not sub.poll(200):
        continue
    parts = sub.recv_multipart()
    if len(parts) != 2:
        continue
    topic, body = parts
    now = time.monotonic()
    s["rx"].append((round(time.time(), 6), len(topic) + len(body)))
    if topic.startswith(b"stats/"):
        m = msgpack.unpackb(body, raw=False, strict_map_key=False)
        n = len(m.get("domains", []))
        s["stats"] += 1
        s["stats_bytes"] += len(body)
        s["last_size"] = len(body)
        s["last_domains"] = n
        s["sizes"][str(n)] = len(body)  # latest frame size seen for n domains
        s["first_rx"] = s["first_rx"] or now
        s["last_rx"] = now
    elif topic.startswith(b"event/"):
        m = msgpack.unpackb(body, raw=False, strict_map_key=False)
        s["events"] += 1
        if m.get("event") in ("started", "stopped") and m.get("name", "").startswith(prefix):
            s[m["event"]] += 1
with open(out, "w") as f:
    json.dump(s, f)
