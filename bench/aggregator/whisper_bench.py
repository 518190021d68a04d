#!/usr/bin/python3
"""whisper_bench.py — the python3-whisper side of whisper_bench.sh: writes the
same points as whisper_bench.c with whisper.update_many and prints the same
key=value line. Files are created (untimed) with fallocate, as carbon does on
Debian, so both writers start from the same state.

usage: whisper_bench.py DIR FILES ROUNDS CHUNK RETENTION   (as whisper_bench.c)
"""
import os
import resource
import sys
import time

import whisper

T_END = 1700000000


def value_of(i, j):
    return float((i * 7919 + j * 104729) % 1000) / 10.0


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main():
    d, files, rounds, chunk, retention = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                          int(sys.argv[4]), sys.argv[5])
    archives = [whisper.parseRetentionDef(x) for x in retention.split(",")]
    paths = [os.path.join(d, "p%d.wsp" % i) for i in range(files)]
    for p in paths:
        whisper.create(p, archives, xFilesFactor=0.5, aggregationMethod="average",
                       useFallocate=True)
    points = 0
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    for r in range(rounds):
        first = T_END - rounds * chunk + 1 + r * chunk
        for i, p in enumerate(paths):
            whisper.update_many(p, [(first + j, value_of(i, r * chunk + j)) for j in range(chunk)],
                                now=first + chunk - 1)
            points += chunk
    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
    print("writer=python points=%d wall_s=%.3f cpu_s=%.3f points_per_s=%.0f "
          "points_per_cpu_s=%.0f cpu_s_per_million=%.3f" % (
              points, wall, cpu, points / wall, points / cpu, cpu / (points / 1e6)))


if __name__ == "__main__":
    main()
