/*
 * whisper_bench — the C side of bench/aggregator/whisper_bench.sh: writes the
 * same deterministic points as whisper_bench.py (python3-whisper) to FILES
 * Whisper files and prints points per second and CPU seconds per million
 * points of the write phase only (files are created, untimed, first).
 *
 *   whisper_bench DIR FILES MODE N RETENTION [exact|defer]
 *     MODE stream: N rounds; each round one update_many of 1 point per file
 *                  (the aggregator's steady state at 1 Hz)
 *     MODE batch:  one update_many of N consecutive points per file (backfill)
 *     defer opens the files WHISPER_OPEN_DEFER. Closing the handles (which
 *     pays any deferred propagation) is part of the timed phase.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "whisper.h"

#define T_END 1700000000 /* `now` of the last point; shared with whisper_bench.py */

/* The value of point `j` of file `i`: exact in binary, same formula in python. */
static double value_of(long i, long j)
{
	return (double)((i * 7919 + j * 104729) % 1000) / 10.0;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static double wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct whisper_retention r[WHISPER_MAX_ARCHIVES];
	struct whisper_err err;
	struct whisper **w = NULL;
	struct whisper_point *pts = NULL;
	struct whisper_iostats io = {0};
	size_t n_arch;
	long files, n, points = 0;
	double cpu0, wall0, cpu, wall;
	char path[4096];
	bool defer;
	int rc = 1;

	if (argc < 6 || argc > 7 ||
	    (strcmp(argv[3], "stream") != 0 && strcmp(argv[3], "batch") != 0)) {
		fprintf(stderr,
			"usage: whisper_bench DIR FILES stream|batch N RETENTION [exact|defer]\n");
		return 2;
	}
	defer = argc == 7 && strcmp(argv[6], "defer") == 0;
	files = atol(argv[2]);
	n = atol(argv[4]);
	if (files <= 0 || n <= 0 ||
	    whisper_retention_parse(argv[5], r, WHISPER_MAX_ARCHIVES, &n_arch, &err) < 0) {
		fprintf(stderr, "whisper_bench: bad arguments %s\n",
			files > 0 && n > 0 ? err.msg : "");
		return 2;
	}
	w = calloc((size_t)files, sizeof(*w));
	pts = calloc((size_t)n, sizeof(*pts));
	if (w == NULL || pts == NULL)
		goto out;
	for (long i = 0; i < files; i++) {
		snprintf(path, sizeof(path), "%s/c%ld.wsp", argv[1], i);
		if (whisper_create(path, r, n_arch, WHISPER_AGG_AVERAGE, 0.5, WHISPER_CREATE_NOSYNC,
				   &err) < 0 ||
		    (w[i] = whisper_open(path, defer ? WHISPER_OPEN_DEFER : 0, &err)) == NULL) {
			fprintf(stderr, "whisper_bench: %s\n", err.msg);
			goto out;
		}
	}

	cpu0 = cpu_seconds();
	wall0 = wall_seconds();
	if (strcmp(argv[3], "stream") == 0) {
		for (long j = 0; j < n; j++) {
			int64_t now = T_END - n + 1 + j;
			for (long i = 0; i < files; i++) {
				struct whisper_point p = {now, value_of(i, j)};
				if (whisper_update_many(w[i], &p, 1, now) < 0)
					goto out;
				points++;
			}
		}
	} else {
		for (long i = 0; i < files; i++) {
			for (long j = 0; j < n; j++)
				pts[j] = (struct whisper_point){T_END - n + 1 + j, value_of(i, j)};
			if (whisper_update_many(w[i], pts, (size_t)n, T_END) < 0)
				goto out;
			points += n;
		}
	}
	for (long i = 0; i < files; i++) {
		struct whisper_iostats s;

		if (whisper_flush(w[i]) < 0) /* what close would do; counted */
			goto out;
		s = whisper_iostats(w[i]);
		io.preads += s.preads;
		io.pwrites += s.pwrites;
		whisper_close(&w[i]);
	}
	cpu = cpu_seconds() - cpu0;
	wall = wall_seconds() - wall0;
	/* one line, key=value, parsed by whisper_bench.sh */
	printf("writer=C%s points=%ld wall_s=%.3f cpu_s=%.3f points_per_s=%.0f "
	       "points_per_cpu_s=%.0f cpu_s_per_million=%.3f syscalls_per_point=%.2f\n",
	       defer ? "-defer" : "", points, wall, cpu, points / wall, points / cpu,
	       cpu / (points / 1e6), (double)(io.preads + io.pwrites) / (double)points);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "whisper_bench: failed (%s)\n", strerror(errno));
	for (long i = 0; w != NULL && i < files; i++)
		whisper_close(&w[i]);
	free(w);
	free(pts);
	return rc;
}
