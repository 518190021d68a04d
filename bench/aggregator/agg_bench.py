#!/usr/bin/python3
"""agg_bench.py -- the python3-whisper side of bench/aggregator/run.sh: the
same points agg_bench writes (every metric of N domains: 7 + 2 x 5 + 2 x 8
= 33 files per domain, plus 8 for the host; one point per file per second)
written with whisper.update_many to files of the same retention.

  agg_bench.py DIR DOMAINS ROUNDS RETENTION BATCH

BATCH 1: one update_many of one point per file per second (a writer that
keeps up in real time). BATCH K: one update_many of K points per file every
K seconds (write-behind, as carbon-cache and our aggregator do). Files are
created sparse, untimed. Prints one key=value line like agg_bench.
"""
import os
import resource
import sys
import time

import whisper

METRICS_PER_DOMAIN = 33
HOST_METRICS = 8


def value_of(i, rnd, k):
    return float((i * 7919 + rnd * 104729 + k * 31) % 1000) / 10.0


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main():
    d, ndom, rounds, retention, batch = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                         sys.argv[4], int(sys.argv[5]))
    archives = [whisper.parseRetentionDef(x) for x in retention.split(",")]
    os.makedirs(d, exist_ok=True)
    paths = []
    for i in range(ndom * METRICS_PER_DOMAIN + HOST_METRICS):
        sub = os.path.join(d, "%03d" % (i % 1000))
        if i < 1000:
            os.makedirs(sub, exist_ok=True)
        p = os.path.join(sub, "m%d.wsp" % i)
        whisper.create(p, archives, xFilesFactor=0.5, aggregationMethod="average", sparse=True)
        paths.append(p)
    t_end = int(time.time()) - 1
    t0 = t_end - rounds + 1
    points = 0
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    for start in range(0, rounds, batch):
        n = min(batch, rounds - start)
        for i, p in enumerate(paths):
            pts = [(t0 + start + j, value_of(i, start + j, i % 33)) for j in range(n)]
            whisper.update_many(p, pts, now=t0 + start + n - 1)
            points += n
    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
    print("writer=python batch=%d domains=%d files=%d points=%d wall_s=%.3f cpu_s=%.3f "
          "points_per_s=%.0f points_per_cpu_s=%.0f cpu_s_per_million=%.3f" % (
              batch, ndom, len(paths), points, wall, cpu, points / wall, points / cpu,
              cpu / (points / 1e6)))


if __name__ == "__main__":
    main()
