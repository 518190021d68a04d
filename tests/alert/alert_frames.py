#!/usr/bin/env python3
"""Subscribes to stackmon-alert's own fan-out (its `publish` endpoint) and
prints every alert/ message as one JSON line: {"topic": ..., "body": {...}},
flushed at once, so a scenario can read the transitions while it runs.
Usage: alert_frames.py ENDPOINT"""
import json
import sys

import msgpack
import zmq

ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"alert/")
sub.connect(sys.argv[1])
while True:
    parts = sub.recv_multipart()
    body = msgpack.unpackb(parts[1], raw=False) if len(parts) == 2 else None
    print(json.dumps({"topic": parts[0].decode(), "parts": len(parts), "body": body}), flush=True)
