#!/usr/bin/env python3
"""Subscribes to stackmon-alert's own fan-out (its `publish` endpoint) and
prints every alert/ message as one JSON line: {"topic": ..., "body": {...}},
flushed at once, so a scenario can read the transitions while it runs.
With SECRET_KEY_FILE and SERVER_KEY_FILE (stackmon-keygen's files) it
subscribes as a CurveZMQ client with that key pair to the alerter's public
key, and also prints the outcome of every handshake as
{"handshake": "succeeded" | "failed_auth" | "failed_protocol" | ...},
so a scenario knows when it is admitted, or that it was refused.
Usage: alert_frames.py ENDPOINT [SECRET_KEY_FILE SERVER_KEY_FILE]"""
import json
import os
import sys

import msgpack
import zmq
import zmq.utils.monitor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "collector"))
from smtest import curve_client  # noqa: E402

HANDSHAKE = {
    zmq.EVENT_HANDSHAKE_SUCCEEDED: "succeeded",
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "failed_auth",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "failed_protocol",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "failed_no_detail",
}


def out(obj):
    print(json.dumps(obj), flush=True)


ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"alert/")
if len(sys.argv) == 4:
    curve_client(sub, sys.argv[2], sys.argv[3])
mon = sub.get_monitor_socket(sum(HANDSHAKE))
sub.connect(sys.argv[1])
poller = zmq.Poller()
poller.register(sub, zmq.POLLIN)
poller.register(mon, zmq.POLLIN)
while True:
    for sock, _ in poller.poll():
        if sock is mon:
            ev = zmq.utils.monitor.recv_monitor_message(mon)
            if ev["event"] in HANDSHAKE:
                out({"handshake": HANDSHAKE[ev["event"]]})
            continue
        parts = sub.recv_multipart()
        body = msgpack.unpackb(parts[1], raw=False) if len(parts) == 2 else None
        out({"topic": parts[0].decode(), "parts": len(parts), "body": body})
