/*
 * Tests of the dashboard's series layer (dashboard/series.c) on real
 * Whisper files in a temp dir: the window reads the right archive, points
 * spread into buckets with min/max/mean, missing data stays a gap, and a
 * missing, cut or hostile-path file is "no data" with a reason, never an
 * error the page has to handle.
 */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "series.h"
#include "whisper.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/sm-test-series-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Creates DIR/name with the default retention and points at 1 s for the
 * last `secs` seconds (value = age), skipping ages in [gap_lo, gap_hi). */
static void make_file(const char *name, int64_t now, int64_t secs, int64_t gap_lo, int64_t gap_hi)
{
	struct whisper_retention r[4];
	struct whisper_point *pts = calloc((size_t)secs, sizeof(*pts));
	struct whisper *w;
	size_t n = 0, nr;
	char path[256];

	assert_int_equal(whisper_retention_parse("1s:3h,1m:7d,10m:1y", r, 4, &nr, NULL), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(whisper_create(path, r, nr, WHISPER_AGG_AVERAGE, 0.5,
					WHISPER_CREATE_SPARSE | WHISPER_CREATE_NOSYNC, NULL),
			 0);
	for (int64_t age = secs - 1; age >= 0; age--)
		if (age < gap_lo || age >= gap_hi)
			pts[n++] = (struct whisper_point){now - age, (double)age};
	w = whisper_open(path, 0, NULL);
	assert_non_null(w);
	assert_int_equal(whisper_update_many(w, pts, n, now), 0);
	whisper_close(&w);
	free(pts);
}

static void series_windows_are_known_by_name(void **state)
{
	assert_int_equal(window_parse("15m"), WIN_15M);
	assert_int_equal(window_parse("7d"), WIN_7D);
	assert_int_equal(window_parse("7D"), -1);
	assert_int_equal(window_parse("1w"), -1);
	assert_int_equal(window_parse(NULL), -1);
	assert_int_equal(windows[WIN_3H].seconds, 10800);
}

static void series_relpath_refuses_escapes(void **state)
{
	assert_true(series_relpath_ok("domains/ab/uuid/cpu_pct.wsp"));
	assert_true(series_relpath_ok("hosts/cn1/load1.wsp"));
	assert_true(series_relpath_ok("a..b/c"));
	assert_false(series_relpath_ok("/etc/passwd"));
	assert_false(series_relpath_ok("../index.sqlite"));
	assert_false(series_relpath_ok("domains/../../etc/passwd"));
	assert_false(series_relpath_ok("domains/./x"));
	assert_false(series_relpath_ok("domains//x"));
	assert_false(series_relpath_ok("domains/x/"));
	assert_false(series_relpath_ok(".."));
	assert_false(series_relpath_ok(""));
	assert_false(series_relpath_ok(NULL));
}

static void series_15_minutes_read_1_second_points(void **state)
{
	int64_t now = time(NULL);
	struct whisper_series *s = NULL;
	char why[96];

	make_file("m.wsp", now, 1200, -1, -1);
	assert_int_equal(series_fetch(dir, "m.wsp", now - 900, now, now, &s, why, sizeof(why)), 0);
	assert_non_null(s);
	assert_int_equal(s->step, 1);
	assert_int_equal(s->count, 900);
	/* The newest value is the point of age 0 or 1 (the interval after `from`). */
	assert_true(s->values[s->count - 1] <= 1);
	whisper_series_destroy(&s);
	/* A day reads the 1-minute archive. */
	assert_int_equal(series_fetch(dir, "m.wsp", now - 86400, now, now, &s, why, sizeof(why)),
			 0);
	assert_int_equal(s->step, 60);
	whisper_series_destroy(&s);
}

static void series_buckets_keep_min_max_mean_and_gaps(void **state)
{
	int64_t now = time(NULL);
	struct whisper_series *s = NULL;
	struct buckets b;
	char why[96];
	size_t gaps = 0, full = 0;

	/* 15 minutes of points with 5 minutes missing (ages 300..599). */
	make_file("g.wsp", now, 900, 300, 600);
	assert_int_equal(series_fetch(dir, "g.wsp", now - 900, now, now, &s, why, sizeof(why)), 0);
	assert_int_equal(buckets_fill(&b, s, now - 900, now, 90), 0);
	assert_int_equal(b.n, 90);
	for (size_t i = 0; i < b.n; i++) {
		if (isnan(b.mean[i])) {
			gaps++;
			continue;
		}
		full++;
		assert_true(b.min[i] <= b.mean[i] && b.mean[i] <= b.max[i]);
	}
	/* 300 of 900 seconds missing: a third of the buckets, give or take the
	 * ones at the gap's edges. */
	assert_in_range(gaps, 29, 31);
	assert_true(full >= 58);
	/* Bucket 0 holds ages 899..890: values 890..899 (within 1 s of fetch alignment). */
	assert_true(b.max[0] - b.min[0] >= 8 && b.max[0] - b.min[0] <= 10);
	buckets_clear(&b);
	whisper_series_destroy(&s);

	/* No series at all: every bucket is a gap. */
	assert_int_equal(buckets_fill(&b, NULL, now - 900, now, 10), 0);
	assert_int_equal(b.points, 0);
	for (size_t i = 0; i < b.n; i++)
		assert_true(isnan(b.mean[i]));
	buckets_clear(&b);
	assert_int_equal(buckets_fill(&b, NULL, now, now, 10), -1);
}

static void series_unusable_files_are_gaps_with_a_reason(void **state)
{
	int64_t now = time(NULL);
	struct whisper_series *s = (void *)1;
	char why[96], path[256];

	assert_int_equal(series_fetch(dir, "absent.wsp", now - 900, now, now, &s, why, sizeof(why)),
			 -1);
	assert_null(s);
	assert_string_equal(why, "no file yet");

	/* Cut in the middle of its data, as by a crash or a full disk. */
	make_file("cut.wsp", now, 60, -1, -1);
	snprintf(path, sizeof(path), "%s/cut.wsp", dir);
	assert_int_equal(truncate(path, 4000), 0);
	assert_int_equal(series_fetch(dir, "cut.wsp", now - 900, now, now, &s, why, sizeof(why)),
			 -1);
	assert_string_equal(why, "file incomplete or damaged");

	/* Not a Whisper file at all. */
	snprintf(path, sizeof(path), "%s/junk.wsp", dir);
	FILE *f = fopen(path, "w");
	fputs("this is not a whisper file, just text of some length..............", f);
	fclose(f);
	assert_int_equal(series_fetch(dir, "junk.wsp", now - 900, now, now, &s, why, sizeof(why)),
			 -1);
	assert_string_equal(why, "file incomplete or damaged");

	/* A path that would leave the data directory is never opened. */
	assert_int_equal(
	    series_fetch(dir, "../etc/passwd", now - 900, now, now, &s, why, sizeof(why)), -1);
	assert_string_equal(why, "bad path in the index");
	/* A directory where a file should be. */
	snprintf(path, sizeof(path), "%s/d.wsp", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(series_fetch(dir, "d.wsp", now - 900, now, now, &s, why, sizeof(why)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(series_windows_are_known_by_name),
	    cmocka_unit_test(series_relpath_refuses_escapes),
	    cmocka_unit_test_setup_teardown(series_15_minutes_read_1_second_points, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(series_buckets_keep_min_max_mean_and_gaps, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(series_unusable_files_are_gaps_with_a_reason, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
