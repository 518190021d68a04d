/*
 * whisper_bench — the C side of bench/aggregator/whisper_bench.sh: writes the
 * same deterministic points as whisper_bench.py (python3-whisper) to FILES
 * Whisper files and prints points per second and CPU seconds per million
 * points of the write phase only (files are created, untimed, first).
 *
 *   whisper_bench DIR FILES ROUNDS CHUNK RETENTION [exact|defer]
 *
 * Each round gives every file one update_many of CHUNK consecutive seconds
 * (`now` = the last of them): ROUNDS x 1 is the aggregator at 1 Hz, 1 x 600
 * a backfill. "defer" opens the files WHISPER_OPEN_DEFER. Closing the
 * handles (which pays any deferred propagation) is part of the timed phase.
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
	struct whisper_err err = {0};
	struct whisper **w = NULL;
	struct whisper_point *pts = NULL;
	struct whisper_iostats io = {0};
	size_t n_arch;
	long files, rounds, chunk, points = 0;
	double cpu0, wall0, cpu, wall;
	char path[4096];
	bool defer;
	int rc = 1;

	if (argc < 6 || argc > 7) {
		fprintf(stderr,
			"usage: whisper_bench DIR FILES ROUNDS CHUNK RETENTION [exact|defer]\n");
		return 2;
	}
	files = atol(argv[2]);
	rounds = atol(argv[3]);
	chunk = atol(argv[4]);
	defer = argc == 7 && strcmp(argv[6], "defer") == 0;
	if (files <= 0 || rounds <= 0 || chunk <= 0 ||
	    whisper_retention_parse(argv[5], r, WHISPER_MAX_ARCHIVES, &n_arch, &err) < 0) {
		fprintf(stderr, "whisper_bench: bad arguments %s\n", err.msg);
		return 2;
	}
	w = calloc((size_t)files, sizeof(*w));
	pts = calloc((size_t)chunk, sizeof(*pts));
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
	for (long round = 0; round < rounds; round++) {
		int64_t first = T_END - rounds * chunk + 1 + round * chunk;

		for (long i = 0; i < files; i++) {
			for (long j = 0; j < chunk; j++)
				pts[j] = (struct whisper_point){first + j,
								value_of(i, round * chunk + j)};
			if (whisper_update_many(w[i], pts, (size_t)chunk, first + chunk - 1) < 0)
				goto out;
			points += chunk;
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
	/* one line, key=value, parsed by whisper_bench.sh (syscalls include the
	 * header read of whisper_open) */
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
