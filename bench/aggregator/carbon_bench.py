#!/usr/bin/python3
"""carbon_bench.py -- Debian's carbon-cache (graphite-carbon) writing the same
points as agg_bench: every metric of N domains (33 per domain + 8 for the
host), ROUNDS seconds of 1 Hz data, into Whisper files of the same retention
(sparse). Carbon runs in the foreground with a configuration of its own in
DIR (loopback ports, no rate limits, no self-metrics); points go in through
its pickle receiver as fast as it takes them. Its CPU (from /proc) is
measured from the first point sent until it has written everything (its CPU
stays still for 3 s), the files having been created by a first, untimed
round. Prints one key=value line.

  carbon_bench.py DIR DOMAINS ROUNDS RETENTION
"""
import os
import pickle
import socket
import struct
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_idle(pid, quiet=3.0, limit=1800):
    """Waits until the process's CPU time stops growing for `quiet` seconds."""
    last, since, start = proc_cpu(pid), time.monotonic(), time.monotonic()
    while time.monotonic() - start < limit:
        time.sleep(0.5)
        now = proc_cpu(pid)
        if now - last > 0.02:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise SystemExit("carbon-cache did not settle")


def main():
    d, ndom, rounds, retention = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    for sub in ("conf", "whisper", "log", "storage"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    pickle_port = free_port()
    conf = os.path.join(d, "conf")
    with open(os.path.join(conf, "carbon.conf"), "w") as f:
        f.write("""[cache]
STORAGE_DIR = {d}/storage/
LOCAL_DATA_DIR = {d}/whisper/
CONF_DIR = {conf}/
LOG_DIR = {d}/log/
PID_DIR = {d}/
DATABASE = whisper
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {line}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pickle}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {query}
USE_FLOW_CONTROL = True
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = False
WHISPER_SPARSE_CREATE = True
WHISPER_FALLOCATE_CREATE = False
CARBON_METRIC_INTERVAL = 0
LOG_LISTENER_CONNECTIONS = False
""".format(d=d, conf=conf, line=free_port(), pickle=pickle_port, query=free_port()))
    with open(os.path.join(conf, "storage-schemas.conf"), "w") as f:
        f.write("[all]\npattern = .*\nretentions = %s\n" % retention)
    with open(os.path.join(conf, "storage-aggregation.conf"), "w") as f:
        f.write("[all]\npattern = .*\nxFilesFactor = 0.5\naggregationMethod = average\n")
    log = open(os.path.join(d, "log", "stdout.log"), "w")
    proc = subprocess.Popen(["carbon-cache", "--config=%s/carbon.conf" % conf, "--nodaemon",
                             "--pidfile=%s/carbon.pid" % d, "start"], stdout=log, stderr=log)
    try:
        sock = None
        for _ in range(100):
            try:
                sock = socket.create_connection(("127.0.0.1", pickle_port))
                break
            except OSError:
                time.sleep(0.2)
        if sock is None:
            raise SystemExit("carbon-cache did not start (see %s/log)" % d)
        names = ["dom%05d.m%02d" % (i, k) for i in range(ndom) for k in range(33)]
        names += ["host.m%d" % k for k in range(8)]

        def send_round(ts, r):
            batch = []
            for i, n in enumerate(names):
                batch.append((n, (ts, float((i * 7919 + r * 104729) % 1000) / 10.0)))
                if len(batch) == 500:
                    payload = pickle.dumps(batch, protocol=2)
                    sock.sendall(struct.pack("!L", len(payload)) + payload)
                    batch = []
            if batch:
                payload = pickle.dumps(batch, protocol=2)
                sock.sendall(struct.pack("!L", len(payload)) + payload)

        t0 = int(time.time()) - rounds - 2
        send_round(t0, 0)  # creates the files: untimed
        wait_idle(proc.pid)
        files = sum(len(fs) for _r, _d, fs in os.walk(os.path.join(d, "whisper")))
        cpu0, wall0 = proc_cpu(proc.pid), time.monotonic()
        for r in range(1, rounds + 1):
            send_round(t0 + r, r)
        wait_idle(proc.pid)
        cpu, wall = proc_cpu(proc.pid) - cpu0, time.monotonic() - wall0 - 3.0
        points = rounds * len(names)
        print("writer=carbon-cache domains=%d files=%d points=%d wall_s=%.3f cpu_s=%.3f "
              "points_per_s=%.0f points_per_cpu_s=%.0f cpu_s_per_million=%.3f" % (
                  ndom, files, points, wall, cpu, points / wall, points / cpu,
                  cpu / (points / 1e6)))
        sock.close()
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
