/*
 * test_whisper — the Whisper file layer on real files in a temp dir: the
 * documented layout, slot mapping (base == 0, modulo, wrap-around),
 * propagation and the xff edge, every aggregation method, update_many's
 * grouping rules, fetch alignment, rejection of corrupt files, quarantine,
 * short writes (RLIMIT_FSIZE) and the hot path's syscalls.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "whisper.h"

#define T0 1699999800 /* a multiple of 600 (and of 60, 10, 5) */

struct fixture {
	char dir[64];
	char path[128];
	struct whisper *w;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_whisper.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/m.wsp", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d;
	struct dirent *e;
	char p[512];

	whisper_close(&f->w);
	d = opendir(f->dir);
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Creates f->path with `retention` and opens it read-write into f->w. */
static void make(struct fixture *f, const char *retention, enum whisper_aggregation agg, double xff)
{
	struct whisper_retention r[WHISPER_MAX_ARCHIVES];
	struct whisper_err err = {0};
	size_t n;

	assert_int_equal(whisper_retention_parse(retention, r, WHISPER_MAX_ARCHIVES, &n, &err), 0);
	if (whisper_create(f->path, r, n, agg, xff, WHISPER_CREATE_NOSYNC, &err) != 0)
		fail_msg("create: %s", err.msg);
	f->w = whisper_open(f->path, 0, &err);
	if (f->w == NULL)
		fail_msg("open: %s", err.msg);
}

static void read_bytes(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void write_bytes(const char *path, uint64_t off, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The raw point in slot `slot` of archive `a`. */
static void slot_point(struct fixture *f, uint32_t a, uint32_t slot, uint32_t *ts, double *v)
{
	const struct whisper_archive *ar = &whisper_info(f->w)->archives[a];
	uint8_t p[12];
	uint64_t bits = 0;

	read_bytes(f->path, ar->offset + 12ull * slot, p, sizeof(p));
	*ts = be32(p);
	bits = (uint64_t)be32(p + 4) << 32 | be32(p + 8);
	memcpy(v, &bits, sizeof(*v));
}

/* The value fetch returns for the single interval `t` of the archive with `step`. */
static double value_at(struct fixture *f, int64_t t, uint32_t step, int64_t now)
{
	struct whisper_series *s = NULL;
	double v;

	assert_int_equal(whisper_fetch_step(f->w, t - step, t - step, now, step, &s), 0);
	assert_non_null(s);
	assert_int_equal(s->from, t);
	assert_true(s->count >= 1);
	v = s->values[0];
	whisper_series_destroy(&s);
	return v;
}

/* ---- layout ---- */

static void create_writes_documented_layout(void **state)
{
	struct fixture *f = *state;
	static const uint8_t meta[16] = {0, 0, 0, 1, 0, 0x27, 0x8d, 0, 0x3f, 0, 0, 0, 0, 0, 0, 3};
	uint8_t got[16];
	struct stat st;
	const struct whisper_header *h;

	make(f, "1s:3h,1m:1d,5m:30d", WHISPER_AGG_AVERAGE, 0.5);
	h = whisper_info(f->w);
	assert_int_equal(h->archive_count, 3);
	assert_int_equal(h->archives[0].offset, 52);
	assert_int_equal(h->archives[1].offset, 129652);
	assert_int_equal(h->archives[2].offset, 146932);
	assert_int_equal(h->max_retention, 2592000);
	assert_int_equal(h->file_size, 250612);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, 250612);
	assert_int_equal(st.st_mode & 0777, 0644);
	read_bytes(f->path, 0, got, sizeof(got));
	assert_memory_equal(got, meta, sizeof(meta));
}

static void create_modes_give_identical_bytes(void **state)
{
	struct fixture *f = *state;
	static const unsigned modes[] = {0, WHISPER_CREATE_SPARSE, WHISPER_CREATE_ZEROFILL};
	struct whisper_retention r[] = {{60, 100}, {1, 600}}; /* unsorted on purpose */
	uint8_t first[40 + 700 * 12], other[sizeof(first)];

	for (size_t m = 0; m < 3; m++) {
		char p[160];
		snprintf(p, sizeof(p), "%s/mode%zu.wsp", f->dir, m);
		assert_int_equal(whisper_create(p, r, 2, WHISPER_AGG_MAX, 0.25, modes[m], NULL), 0);
		read_bytes(p, 0, m == 0 ? first : other, sizeof(first));
		if (m > 0)
			assert_memory_equal(first, other, sizeof(first));
	}
	/* sorted finest first, zeros after the header */
	assert_int_equal(be32(first + 16 + 4), 1);
	assert_int_equal(be32(first + 28 + 4), 60);
	for (size_t i = 40; i < sizeof(first); i++)
		assert_int_equal(first[i], 0);
}

static void create_rejects_bad_configuration(void **state)
{
	struct fixture *f = *state;
	struct whisper_retention ok[] = {{1, 60}, {60, 10}};
	struct whisper_retention bad[] = {{2, 60}, {45, 10}};
	struct whisper_err err = {0};
	struct stat st;

	assert_int_equal(whisper_create(f->path, ok, 2, WHISPER_AGG_AVERAGE, 2.0, 0, &err),
			 WHISPER_ECONFIG);
	assert_non_null(strstr(err.msg, "xFilesFactor"));
	assert_int_equal(whisper_create(f->path, ok, 2, WHISPER_AGG_AVERAGE, NAN, 0, &err),
			 WHISPER_ECONFIG);
	assert_int_equal(whisper_create(f->path, ok, 2, WHISPER_AGG_AVERAGE, -0.1, 0, &err),
			 WHISPER_ECONFIG);
	assert_int_equal(whisper_create(f->path, ok, 2, 0, 0.5, 0, &err), WHISPER_ECONFIG);
	assert_int_equal(whisper_create(f->path, ok, 2, 9, 0.5, 0, &err), WHISPER_ECONFIG);
	assert_int_equal(whisper_create(f->path, bad, 2, WHISPER_AGG_AVERAGE, 0.5, 0, &err),
			 WHISPER_ECONFIG);
	assert_non_null(strstr(err.msg, f->path));
	assert_non_null(strstr(err.msg, "not a multiple"));
	assert_int_equal(whisper_create(f->path, ok, 0, WHISPER_AGG_AVERAGE, 0.5, 0, &err),
			 WHISPER_ECONFIG);
	assert_int_equal(stat(f->path, &st), -1); /* nothing created */
}

/* ---- create refusing to replace ---- */

static void create_never_replaces_a_file(void **state)
{
	struct fixture *f = *state;
	struct whisper_retention r[] = {{1, 10}};
	struct whisper_err err = {0};
	char b[5] = {0};
	int fd = open(f->path, O_CREAT | O_WRONLY, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(whisper_create(f->path, r, 1, WHISPER_AGG_AVERAGE, 0.5, 0, &err), -EEXIST);
	assert_int_equal(err.code, -EEXIST);
	read_bytes(f->path, 0, b, 4);
	assert_string_equal(b, "keep");
}

/* ---- slot mapping ---- */

static void first_point_goes_to_slot_0(void **state)
{
	struct fixture *f = *state;
	uint32_t ts;
	double v;

	make(f, "1s:10", WHISPER_AGG_AVERAGE, 0.5);
	/* base == 0: the first point lands in slot 0 whatever its time */
	assert_int_equal(whisper_update(f->w, T0 + 7, 1.5, T0 + 7), 0);
	slot_point(f, 0, 0, &ts, &v);
	assert_int_equal(ts, T0 + 7);
	assert_true(v == 1.5);
}

static void slot_is_distance_from_base_modulo_points(void **state)
{
	struct fixture *f = *state;
	uint32_t ts;
	double v;

	make(f, "1s:10", WHISPER_AGG_AVERAGE, 0.5);
	assert_int_equal(whisper_update(f->w, T0, 1, T0 + 5), 0); /* base = T0 */
	assert_int_equal(whisper_update(f->w, T0 + 3, 2, T0 + 5), 0);
	slot_point(f, 0, 3, &ts, &v);
	assert_int_equal(ts, T0 + 3);
	/* older than base: mathematical modulo, wraps to the end (slot 8) */
	assert_int_equal(whisper_update(f->w, T0 - 2, 3, T0 + 5), 0);
	slot_point(f, 0, 8, &ts, &v);
	assert_int_equal(ts, T0 - 2);
	assert_true(v == 3);
}

static void next_lap_overwrites_slot_and_old_lap_reads_as_no_data(void **state)
{
	struct fixture *f = *state;
	uint32_t ts;
	double v;

	make(f, "1s:10", WHISPER_AGG_AVERAGE, 0.5);
	for (int i = 0; i < 10; i++)
		assert_int_equal(whisper_update(f->w, T0 + i, i, T0 + i), 0);
	/* a full lap later the same slots are reused */
	assert_int_equal(whisper_update(f->w, T0 + 10, 100, T0 + 10), 0);
	slot_point(f, 0, 0, &ts, &v);
	assert_int_equal(ts, T0 + 10);
	assert_true(v == 100);
	/* skip 5 s: slots 1..5 still hold the old lap, which fetch must hide */
	assert_int_equal(whisper_update(f->w, T0 + 16, 106, T0 + 16), 0);
	assert_true(isnan(value_at(f, T0 + 12, 1, T0 + 16)));
	assert_true(value_at(f, T0 + 16, 1, T0 + 16) == 106);
	assert_true(value_at(f, T0 + 10, 1, T0 + 16) == 100);
	assert_true(value_at(f, T0 + 7, 1, T0 + 16) == 7); /* not yet overwritten */
}

static void update_truncates_timestamp_to_interval(void **state)
{
	struct fixture *f = *state;
	uint32_t ts;
	double v;

	make(f, "5s:12", WHISPER_AGG_AVERAGE, 0.5);
	assert_int_equal(whisper_update(f->w, T0 + 7, 4, T0 + 9), 0);
	slot_point(f, 0, 0, &ts, &v);
	assert_int_equal(ts, T0 + 5);
}

static void update_rejects_future_and_too_old(void **state)
{
	struct fixture *f = *state;

	make(f, "1s:10,10s:6", WHISPER_AGG_AVERAGE, 0.5); /* maxRetention 60 */
	assert_int_equal(whisper_update(f->w, T0 + 1, 1, T0), WHISPER_ENOTCOVERED);
	assert_int_equal(whisper_update(f->w, T0 - 60, 1, T0), WHISPER_ENOTCOVERED);
	assert_int_equal(whisper_update(f->w, T0 - 59, 1, T0), 0);
	assert_int_equal(whisper_update(f->w, INT64_MIN, 1, T0), WHISPER_ENOTCOVERED);
}

static void update_before_epoch_is_out_of_range(void **state)
{
	struct fixture *f = *state;

	make(f, "1s:10,10s:6", WHISPER_AGG_AVERAGE, 0.5);
	/* python's struct.pack("!L") refuses a negative interval */
	assert_int_equal(whisper_update(f->w, -5, 1, 10), -ERANGE);
}

static void update_at_exact_retention_overwrites_newest_slot(void **state)
{
	struct fixture *f = *state;
	uint32_t ts;
	double v;

	make(f, "1s:10,10s:6", WHISPER_AGG_AVERAGE, 0.0);
	assert_int_equal(whisper_update(f->w, T0, 1, T0), 0);
	/* diff == 10 == retention of archive 0: python picks archive 0, and the
	 * point takes the slot of T0 (ten seconds later is the same slot) */
	assert_int_equal(whisper_update(f->w, T0 - 10, 2, T0), 0);
	slot_point(f, 0, 0, &ts, &v);
	assert_int_equal(ts, T0 - 10);
	assert_true(v == 2);
}

/* ---- propagation, xff ---- */

static void xff_0_1_is_not_met_by_6_of_60(void **state)
{
	struct fixture *f = *state;

	make(f, "1s:60,60s:10", WHISPER_AGG_AVERAGE, 0.1);
	for (int i = 0; i < 6; i++)
		assert_int_equal(whisper_update(f->w, T0 + i, 10, T0 + 59), 0);
	/* 6/60 = 0.1 < 0.1f widened (0.10000000149...) */
	assert_true(isnan(value_at(f, T0, 60, T0 + 59)));
	assert_int_equal(whisper_update(f->w, T0 + 6, 17, T0 + 59), 0);
	assert_true(value_at(f, T0, 60, T0 + 59) == 11.0); /* (60 + 17) / 7 */
}

static void coarse_point_is_rewritten_as_fine_points_arrive(void **state)
{
	struct fixture *f = *state;

	make(f, "1s:60,10s:60", WHISPER_AGG_AVERAGE, 0.5);
	for (int i = 0; i < 4; i++)
		assert_int_equal(whisper_update(f->w, T0 + i, 2, T0 + 9), 0);
	assert_true(isnan(value_at(f, T0, 10, T0 + 9))); /* 4 of 10 */
	assert_int_equal(whisper_update(f->w, T0 + 4, 7, T0 + 9), 0);
	assert_true(value_at(f, T0, 10, T0 + 9) == 3.0); /* 5 of 10: (8 + 7) / 5 */
	assert_int_equal(whisper_update(f->w, T0 + 5, 3, T0 + 9), 0);
	assert_true(value_at(f, T0, 10, T0 + 9) == 3.0);
	assert_int_equal(whisper_update(f->w, T0 + 6, 10, T0 + 9), 0);
	assert_true(value_at(f, T0, 10, T0 + 9) == 4.0);
}

static void propagation_stops_at_first_level_that_fails(void **state)
{
	struct fixture *f = *state;
	uint32_t ts;
	double v;

	make(f, "1s:20,2s:20,10s:20", WHISPER_AGG_SUM, 1.0);
	/* xff 1.0: every finer point of the interval must be present */
	assert_int_equal(whisper_update(f->w, T0, 1, T0 + 1), 0);
	slot_point(f, 1, 0, &ts, &v);
	assert_int_equal(ts, 0); /* 1 of 2 < 1.0: nothing written to 2 s */
	assert_int_equal(whisper_update(f->w, T0 + 1, 2, T0 + 1), 0);
	slot_point(f, 1, 0, &ts, &v);
	assert_int_equal(ts, T0);
	assert_true(v == 3);
	slot_point(f, 2, 0, &ts, &v);
	assert_int_equal(ts, 0); /* 1 of 5 two-second points: 10 s not written */
}

struct agg_case {
	enum whisper_aggregation agg;
	double expect;
};

static void every_aggregation_method_consolidates_like_python(void **state)
{
	struct fixture *f = *state;
	/* known points 2, -5, 4, 1 at seconds 0, 1, 3, 9 of a 10 s interval */
	static const struct agg_case cases[] = {
	    {WHISPER_AGG_AVERAGE, 0.5}, {WHISPER_AGG_SUM, 2.0},	   {WHISPER_AGG_LAST, 1.0},
	    {WHISPER_AGG_MAX, 4.0},	{WHISPER_AGG_MIN, -5.0},   {WHISPER_AGG_AVG_ZERO, 0.2},
	    {WHISPER_AGG_ABSMAX, -5.0}, {WHISPER_AGG_ABSMIN, 1.0},
	};
	static const struct whisper_point pts[] = {{T0 + 9, 1}, {T0, 2}, {T0 + 1, -5}, {T0 + 3, 4}};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		whisper_close(&f->w);
		unlink(f->path);
		make(f, "1s:20,10s:10", cases[c].agg, 0.0);
		assert_int_equal(whisper_update_many(f->w, pts, 4, T0 + 9), 0);
		double got = value_at(f, T0, 10, T0 + 9);
		if (got != cases[c].expect)
			fail_msg("%s: got %.17g, expected %.17g",
				 whisper_aggregation_name(cases[c].agg), got, cases[c].expect);
	}
}

static void max_and_absmax_keep_the_first_of_equal_values(void **state)
{
	struct fixture *f = *state;
	static const struct whisper_point pts[] = {{T0, -0.0}, {T0 + 1, 0.0}};

	make(f, "1s:20,10s:10", WHISPER_AGG_MAX, 0.0);
	assert_int_equal(whisper_update_many(f->w, pts, 2, T0 + 9), 0);
	assert_true(signbit(value_at(f, T0, 10, T0 + 9))); /* -0.0, as python's max() */
	whisper_close(&f->w);
	unlink(f->path);
	make(f, "1s:20,10s:10", WHISPER_AGG_ABSMAX, 0.0);
	assert_int_equal(whisper_update_many(f->w, pts, 2, T0 + 9), 0);
	assert_true(signbit(value_at(f, T0, 10, T0 + 9)));
}

static void sum_of_negative_zero_is_positive_zero(void **state)
{
	struct fixture *f = *state;

	make(f, "1s:20,10s:10", WHISPER_AGG_SUM, 0.0);
	assert_int_equal(whisper_update(f->w, T0, -0.0, T0 + 9), 0);
	/* python's sum() starts from int 0: 0 + -0.0 == +0.0 */
	double v = value_at(f, T0, 10, T0 + 9);
	assert_true(v == 0.0 && !signbit(v));
}

/* ---- update_many ---- */

static void update_many_keeps_last_point_of_an_interval(void **state)
{
	struct fixture *f = *state;
	static const struct whisper_point pts[] = {{T0 + 4, 3}, {T0, 1}, {T0 + 2, 2}};

	make(f, "5s:12", WHISPER_AGG_AVERAGE, 0.5);
	assert_int_equal(whisper_update_many(f->w, pts, 3, T0 + 10), 0);
	assert_true(value_at(f, T0, 5, T0 + 10) == 3); /* chronologically last */
}

static void update_many_keeps_first_of_equal_timestamps(void **state)
{
	struct fixture *f = *state;
	static const struct whisper_point pts[] = {{T0, 1}, {T0 + 1, 9}, {T0, 2}, {T0, 3}};

	make(f, "1s:12", WHISPER_AGG_AVERAGE, 0.5);
	assert_int_equal(whisper_update_many(f->w, pts, 4, T0 + 10), 0);
	assert_true(value_at(f, T0, 1, T0 + 10) == 1); /* python: the caller's first */
}

static void update_many_groups_points_by_archive_and_drops_too_old(void **state)
{
	struct fixture *f = *state;
	/* ages 0 (archive 0), 15 (archive 1, raw), 70 (dropped: maxRetention 60) */
	static const struct whisper_point pts[] = {{T0 + 100, 1}, {T0 + 85, 5}, {T0 + 30, 9}};

	make(f, "1s:10,10s:6", WHISPER_AGG_AVERAGE, 0.5);
	assert_int_equal(whisper_update_many(f->w, pts, 3, T0 + 100), 0);
	assert_true(value_at(f, T0 + 100, 1, T0 + 100) == 1);
	assert_true(value_at(f, T0 + 80, 10, T0 + 100) == 5); /* aligned to 10 s, not averaged */
	for (uint32_t a = 0; a < 2; a++) {
		for (uint32_t slot = 0; slot < whisper_info(f->w)->archives[a].points; slot++) {
			uint32_t ts;
			double v;
			slot_point(f, a, slot, &ts, &v);
			assert_true(ts != T0 + 30); /* the too-old point is nowhere */
		}
	}
}

static void update_many_splits_a_run_at_the_archive_end(void **state)
{
	struct fixture *f = *state;
	struct whisper_point pts[6];
	uint32_t ts;
	double v;

	make(f, "1s:10", WHISPER_AGG_AVERAGE, 0.5);
	assert_int_equal(whisper_update(f->w, T0, 0, T0), 0); /* base T0 in slot 0 */
	for (int i = 0; i < 6; i++)
		pts[i] = (struct whisper_point){T0 + 7 + i, 70 + i}; /* slots 7, 8, 9, 0, 1, 2 */
	assert_int_equal(whisper_update_many(f->w, pts, 6, T0 + 12), 0);
	slot_point(f, 0, 9, &ts, &v);
	assert_int_equal(ts, T0 + 9);
	slot_point(f, 0, 0, &ts, &v);
	assert_int_equal(ts, T0 + 10);
	assert_true(v == 73);
	slot_point(f, 0, 2, &ts, &v);
	assert_int_equal(ts, T0 + 12);
}

static void update_many_long_future_run_stays_inside_its_archive(void **state)
{
	struct fixture *f = *state;
	struct whisper_point pts[25];
	uint8_t before[12 * 10], after[12 * 10];
	const struct whisper_archive *a1;

	make(f, "1s:10,10s:10", WHISPER_AGG_AVERAGE, 1.0);
	a1 = &whisper_info(f->w)->archives[1];
	read_bytes(f->path, a1->offset, before, sizeof(before));
	/* 25 contiguous future points: python would write past archive 0 into
	 * archive 1; we keep the newest lap only */
	for (int i = 0; i < 25; i++)
		pts[i] = (struct whisper_point){T0 + i, i};
	assert_int_equal(whisper_update_many(f->w, pts, 25, T0), 0);
	for (int i = 15; i < 25; i++)
		assert_true(value_at(f, T0 + i, 1, T0 + 25) == i);
	/* archive 1 got only propagated points at its own slots */
	read_bytes(f->path, a1->offset, after, sizeof(after));
	for (int s = 0; s < 10; s++) {
		uint32_t ts = be32(after + 12 * s);
		assert_true(ts == 0 || ts % 10 == 0);
	}
	(void)before;
}

static void update_many_of_nothing_is_a_no_op(void **state)
{
	struct fixture *f = *state;
	struct whisper_iostats io;

	make(f, "1s:10", WHISPER_AGG_AVERAGE, 0.5);
	io = whisper_iostats(f->w);
	assert_int_equal(whisper_update_many(f->w, NULL, 0, T0), 0);
	assert_int_equal(whisper_iostats(f->w).pwrites, io.pwrites);
}

/* ---- hot path ---- */

static void hot_path_reads_finer_points_once_per_interval_and_never_writes_header(void **state)
{
	struct fixture *f = *state;
	uint8_t head[52], head_after[52];
	struct whisper_iostats a, b;

	make(f, "1s:3600,1m:1440,10m:1000", WHISPER_AGG_AVERAGE, 0.0);
	read_bytes(f->path, 0, head, sizeof(head));
	assert_int_equal(whisper_update(f->w, T0, 0, T0), 0); /* reads bases and windows */
	a = whisper_iostats(f->w);
	for (int i = 1; i < 60; i++) {
		struct whisper_point p = {T0 + i, i};
		if (i % 2)
			assert_int_equal(whisper_update(f->w, T0 + i, i, T0 + i), 0);
		else
			assert_int_equal(whisper_update_many(f->w, &p, 1, T0 + i), 0);
	}
	b = whisper_iostats(f->w);
	/* one write per archive per point, no read: the 60 one-second points of
	 * the minute and the minute points of the 10 minutes are cached */
	assert_int_equal(b.pwrites - a.pwrites, 59 * 3);
	assert_int_equal(b.preads - a.preads, 0);
	/* a new minute: its 60 points are read once */
	assert_int_equal(whisper_update(f->w, T0 + 60, 60, T0 + 60), 0);
	a = whisper_iostats(f->w);
	assert_int_equal(a.preads - b.preads, 1);
	assert_int_equal(a.bytes_read - b.bytes_read, 60 * 12);
	assert_true(value_at(f, T0, 60, T0 + 60) == 29.5);
	read_bytes(f->path, 0, head_after, sizeof(head_after));
	assert_memory_equal(head, head_after, sizeof(head));
}

/* Writes the same stream through an exact handle on f->path and a deferring
 * one on `other`, and returns the deferring handle's pwrites. */
static uint64_t write_both(struct fixture *f, struct whisper *defer, int n)
{
	uint64_t before = whisper_iostats(defer).pwrites;

	for (int i = 0; i < n; i++) {
		int64_t t = T0 + i - (i % 7 == 3 ? 2 : 0); /* some out of order */
		assert_int_equal(whisper_update(f->w, t, i, T0 + i), 0);
		assert_int_equal(whisper_update(defer, t, i, T0 + i), 0);
	}
	return whisper_iostats(defer).pwrites - before;
}

static void defer_mode_writes_one_point_per_update_and_matches_after_flush(void **state)
{
	struct fixture *f = *state;
	char other[160];
	struct whisper *d;
	struct whisper_series *s = NULL;
	uint64_t size;
	uint8_t *x, *y;

	make(f, "1s:600,1m:60,5m:24", WHISPER_AGG_AVERAGE, 0.5);
	snprintf(other, sizeof(other), "%s/defer.wsp", f->dir);
	assert_int_equal(whisper_create(other,
					(struct whisper_retention[]){{1, 600}, {60, 60}, {300, 24}},
					3, WHISPER_AGG_AVERAGE, 0.5, WHISPER_CREATE_NOSYNC, NULL),
			 0);
	d = whisper_open(other, WHISPER_OPEN_DEFER, NULL);
	assert_non_null(d);
	/* 5 minutes: a point per second plus one write per minute per coarse level */
	uint64_t writes = write_both(f, d, 300);
	assert_true(writes <= 300 + 2 * 5 + 2);
	/* fetch through the deferring handle pays first: same answer as exact */
	assert_int_equal(whisper_fetch_step(d, T0 + 200, T0 + 260, T0 + 299, 60, &s), 0);
	assert_true(s->values[0] == value_at(f, T0 + 240, 60, T0 + 299));
	whisper_series_destroy(&s);
	writes = write_both(f, d, 150);
	assert_int_equal(whisper_flush(d), 0);
	assert_int_equal(whisper_flush(d), 0); /* nothing owed: no-op */
	size = whisper_info(d)->file_size;
	x = malloc(size);
	y = malloc(size);
	read_bytes(f->path, 0, x, size);
	read_bytes(other, 0, y, size);
	assert_memory_equal(x, y, size);
	/* close pays too */
	write_both(f, d, 70);
	whisper_close(&d);
	read_bytes(f->path, 0, x, size);
	read_bytes(other, 0, y, size);
	assert_memory_equal(x, y, size);
	free(x);
	free(y);
}

static void nocache_handle_sees_another_writers_points(void **state)
{
	struct fixture *f = *state;
	struct whisper *other, *nc;

	make(f, "1s:120,1m:10", WHISPER_AGG_SUM, 0.0);
	nc = whisper_open(f->path, WHISPER_OPEN_NOCACHE, NULL);
	other = whisper_open(f->path, WHISPER_OPEN_NOCACHE, NULL);
	assert_non_null(nc);
	assert_non_null(other);
	assert_int_equal(whisper_update(nc, T0, 1, T0 + 2), 0);
	assert_int_equal(whisper_update(other, T0 + 1, 10, T0 + 2), 0);
	assert_int_equal(whisper_update(nc, T0 + 2, 100, T0 + 2), 0);
	/* the minute's sum includes the other handle's point */
	assert_true(value_at(f, T0, 60, T0 + 2) == 111);
	whisper_close(&nc);
	whisper_close(&other);
}

static void update_on_read_only_handle_is_ebadf(void **state)
{
	struct fixture *f = *state;
	struct whisper *ro;

	make(f, "1s:10", WHISPER_AGG_AVERAGE, 0.5);
	ro = whisper_open(f->path, WHISPER_OPEN_RDONLY, NULL);
	assert_non_null(ro);
	assert_int_equal(whisper_update(ro, T0, 1, T0), -EBADF);
	assert_int_equal(whisper_update_many(ro, &(struct whisper_point){T0, 1}, 1, T0), -EBADF);
	whisper_close(&ro);
	assert_null(ro);
	whisper_close(&ro); /* NULL-safe */
	whisper_close(NULL);
}

/* ---- fetch ---- */

static void fetch_aligns_range_to_intervals(void **state)
{
	struct fixture *f = *state;
	struct whisper_series *s = NULL;

	make(f, "10s:100", WHISPER_AGG_AVERAGE, 0.5);
	for (int i = 0; i < 10; i++)
		assert_int_equal(whisper_update(f->w, T0 + 10 * i, i, T0 + 100), 0);
	/* from 105 -> first interval 110; until 125 -> 130 (exclusive) */
	assert_int_equal(whisper_fetch(f->w, T0 + 5, T0 + 25, T0 + 100, &s), 0);
	assert_int_equal(s->from, T0 + 10);
	assert_int_equal(s->until, T0 + 30);
	assert_int_equal(s->step, 10);
	assert_int_equal(s->count, 2);
	assert_true(s->values[0] == 1 && s->values[1] == 2);
	whisper_series_destroy(&s);
	assert_null(s);
	/* an aligned from is excluded, an aligned until included */
	assert_int_equal(whisper_fetch(f->w, T0 + 10, T0 + 30, T0 + 100, &s), 0);
	assert_int_equal(s->from, T0 + 20);
	assert_int_equal(s->count, 2);
	whisper_series_destroy(&s);
	/* zero-length range: one point, the next interval */
	assert_int_equal(whisper_fetch(f->w, T0 + 40, T0 + 40, T0 + 100, &s), 0);
	assert_int_equal(s->count, 1);
	assert_true(s->values[0] == 5);
	whisper_series_destroy(&s);
}

static void fetch_picks_finest_archive_covering_from(void **state)
{
	struct fixture *f = *state;
	struct whisper_series *s = NULL;

	make(f, "1s:60,10s:60,60s:60", WHISPER_AGG_AVERAGE, 0.5);
	assert_int_equal(whisper_fetch(f->w, T0 - 60, T0, T0, &s), 0);
	assert_int_equal(s->step, 1);
	whisper_series_destroy(&s);
	assert_int_equal(whisper_fetch(f->w, T0 - 61, T0, T0, &s), 0);
	assert_int_equal(s->step, 10);
	whisper_series_destroy(&s);
	assert_int_equal(whisper_fetch(f->w, T0 - 9999, T0, T0, &s), 0); /* clamped */
	assert_int_equal(s->step, 60);
	assert_int_equal(s->from, T0 - 3600 + 60);
	whisper_series_destroy(&s);
}

static void fetch_of_empty_archive_is_all_nan(void **state)
{
	struct fixture *f = *state;
	struct whisper_series *s = NULL;

	make(f, "1s:60", WHISPER_AGG_AVERAGE, 0.5);
	assert_int_equal(whisper_fetch(f->w, T0 - 30, T0, T0, &s), 0);
	assert_int_equal(s->count, 30);
	for (size_t i = 0; i < s->count; i++)
		assert_true(isnan(s->values[i]));
	whisper_series_destroy(&s);
}

static void fetch_outside_retention_is_none_and_bad_range_invalid(void **state)
{
	struct fixture *f = *state;
	struct whisper_series *s = (void *)1;

	make(f, "1s:60", WHISPER_AGG_AVERAGE, 0.5);
	assert_int_equal(whisper_fetch(f->w, T0 + 1, T0 + 5, T0, &s), 0);
	assert_null(s); /* wholly in the future */
	assert_int_equal(whisper_fetch(f->w, T0 - 200, T0 - 61, T0, &s), 0);
	assert_null(s); /* wholly before the retention */
	assert_int_equal(whisper_fetch(f->w, T0, T0 - 1, T0, &s), -EINVAL);
	assert_int_equal(whisper_fetch_step(f->w, T0 - 10, T0, T0, 7, &s), -EINVAL);
	assert_int_equal(whisper_fetch_step(f->w, T0 - 10, T0, T0, 0, &s), -EINVAL);
	assert_int_equal(whisper_fetch(f->w, INT64_MIN, T0, T0, &s), -EINVAL);
	assert_int_equal(whisper_fetch(f->w, T0, INT64_MAX, INT64_MAX, &s), -EINVAL);
}

/* ---- corrupt files ---- */

static int open_code(const char *path)
{
	struct whisper_err err = {0};
	struct whisper *w = whisper_open(path, WHISPER_OPEN_RDONLY, &err);

	if (w != NULL) {
		whisper_close(&w);
		return 0;
	}
	assert_int_not_equal(err.code, 0);
	assert_true(err.msg[0] != '\0');
	return err.code;
}

static void open_rejects_bad_aggregation_type_and_xff(void **state)
{
	struct fixture *f = *state;
	static const uint8_t agg0[4] = {0, 0, 0, 0}, agg9[4] = {0, 0, 0, 9};
	static const uint8_t xff2[4] = {0x40, 0, 0, 0}, xffnan[4] = {0x7f, 0xc0, 0, 0};
	static const uint8_t xffneg[4] = {0xbf, 0, 0, 0}, xff1[4] = {0x3f, 0x80, 0, 0};

	make(f, "1s:60,60s:10", WHISPER_AGG_AVERAGE, 0.5);
	whisper_close(&f->w);
	write_bytes(f->path, 0, agg0, 4);
	assert_int_equal(open_code(f->path), WHISPER_ECORRUPT);
	write_bytes(f->path, 0, agg9, 4);
	assert_int_equal(open_code(f->path), WHISPER_ECORRUPT);
	write_bytes(f->path, 0, (uint8_t[]){0, 0, 0, 8}, 4);
	assert_int_equal(open_code(f->path), 0);
	write_bytes(f->path, 8, xff2, 4);
	assert_int_equal(open_code(f->path), WHISPER_ECORRUPT);
	write_bytes(f->path, 8, xffnan, 4);
	assert_int_equal(open_code(f->path), WHISPER_ECORRUPT);
	write_bytes(f->path, 8, xffneg, 4);
	assert_int_equal(open_code(f->path), WHISPER_ECORRUPT);
	write_bytes(f->path, 8, xff1, 4);
	assert_int_equal(open_code(f->path), 0);
}

static void open_rejects_inconsistent_archive_table(void **state)
{
	struct fixture *f = *state;
	uint8_t good[40], b[4];

	make(f, "1s:60,60s:10", WHISPER_AGG_AVERAGE, 0.5);
	whisper_close(&f->w);
	read_bytes(f->path, 0, good, sizeof(good));
	/* archive 0 offset off by one */
	write_bytes(f->path, 16, (uint8_t[]){0, 0, 0, 41}, 4);
	assert_int_equal(open_code(f->path), WHISPER_ECORRUPT);
	write_bytes(f->path, 0, good, sizeof(good));
	/* archive 1 with precision 0 */
	write_bytes(f->path, 28 + 4, (uint8_t[]){0, 0, 0, 0}, 4);
	assert_int_equal(open_code(f->path), WHISPER_ECORRUPT);
	write_bytes(f->path, 0, good, sizeof(good));
	/* maxRetention disagreeing with the table */
	write_bytes(f->path, 4, (uint8_t[]){0, 0, 0, 1}, 4);
	assert_int_equal(open_code(f->path), WHISPER_ECORRUPT);
	write_bytes(f->path, 0, good, sizeof(good));
	/* archive count 0, and absurdly large */
	write_bytes(f->path, 12, (uint8_t[]){0, 0, 0, 0}, 4);
	assert_int_equal(open_code(f->path), WHISPER_ECORRUPT);
	write_bytes(f->path, 12, (uint8_t[]){0xff, 0xff, 0xff, 0xff}, 4);
	assert_true(whisper_err_is_corrupt(open_code(f->path)));
	write_bytes(f->path, 0, good, sizeof(good));
	/* archives out of order (points swapped keep sizes, break the rules) */
	memcpy(b, good + 20, 4);
	write_bytes(f->path, 20, good + 32, 4);
	write_bytes(f->path, 32, b, 4);
	assert_int_equal(open_code(f->path), WHISPER_ECORRUPT);
	write_bytes(f->path, 0, good, sizeof(good));
	assert_int_equal(open_code(f->path), 0);
}

static void open_rejects_wrong_size(void **state)
{
	struct fixture *f = *state;
	struct whisper_err err = {0};
	uint64_t size;

	make(f, "1s:60,60s:10", WHISPER_AGG_AVERAGE, 0.5);
	size = whisper_info(f->w)->file_size;
	whisper_close(&f->w);
	assert_int_equal(truncate(f->path, (off_t)size - 1), 0);
	assert_null(whisper_open(f->path, 0, &err));
	assert_int_equal(err.code, WHISPER_ESIZE);
	assert_non_null(strstr(err.msg, "truncated"));
	assert_int_equal(truncate(f->path, (off_t)size + 12), 0);
	assert_int_equal(open_code(f->path), WHISPER_ESIZE);
	assert_int_equal(truncate(f->path, 20), 0); /* cut inside the table */
	assert_int_equal(open_code(f->path), WHISPER_ESIZE);
	assert_int_equal(truncate(f->path, 10), 0); /* cut inside the metadata */
	assert_int_equal(open_code(f->path), WHISPER_ESIZE);
	assert_int_equal(truncate(f->path, 0), 0);
	assert_int_equal(open_code(f->path), WHISPER_ESIZE);
}

static void open_of_missing_file_or_directory_is_not_corrupt(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(open_code(f->path), -ENOENT);
	assert_false(whisper_err_is_corrupt(-ENOENT));
	assert_int_equal(open_code(f->dir), -EINVAL);
}

static void file_shrunk_under_an_open_handle_reports_esize(void **state)
{
	struct fixture *f = *state;
	struct whisper_series *s = NULL;

	make(f, "1s:60,60s:10", WHISPER_AGG_AVERAGE, 0.5);
	assert_int_equal(whisper_update(f->w, T0, 1, T0), 0);
	assert_int_equal(truncate(f->path, 100), 0);
	assert_int_equal(whisper_fetch(f->w, T0 - 50, T0, T0, &s), WHISPER_ESIZE);
	assert_null(s);
}

static void quarantine_moves_file_aside_without_replacing(void **state)
{
	struct fixture *f = *state;
	char moved[256], moved2[256];
	struct stat st;

	make(f, "1s:10", WHISPER_AGG_AVERAGE, 0.5);
	whisper_close(&f->w);
	assert_int_equal(whisper_quarantine(f->path, "test", moved, sizeof(moved)), 0);
	assert_int_equal(stat(f->path, &st), -1);
	assert_int_equal(stat(moved, &st), 0);
	assert_int_equal(strncmp(moved, f->path, strlen(f->path)), 0);
	assert_non_null(strstr(moved, ".corrupt-"));
	/* a second bad file in the same second gets its own name */
	make(f, "1s:10", WHISPER_AGG_AVERAGE, 0.5);
	whisper_close(&f->w);
	assert_int_equal(whisper_quarantine(f->path, "test", moved2, sizeof(moved2)), 0);
	assert_string_not_equal(moved, moved2);
	assert_int_equal(stat(moved, &st), 0);
	assert_int_equal(stat(moved2, &st), 0);
	assert_int_equal(whisper_quarantine(f->path, "gone", NULL, 0), -ENOENT);
}

/* ---- short writes ---- */

static void set_fsize_limit(rlim_t limit)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = limit;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void short_write_invalidates_the_cut_point(void **state)
{
	struct fixture *f = *state;
	struct whisper_point run[4];
	uint32_t ts;
	double v;
	uint64_t slot5;

	signal(SIGXFSZ, SIG_IGN); /* get EFBIG instead of a signal */
	make(f, "1s:20", WHISPER_AGG_AVERAGE, 0.5);
	assert_int_equal(whisper_update(f->w, T0, 1, T0), 0);
	slot5 = whisper_info(f->w)->archives[0].offset + 5 * 12;
	/* the limit falls inside the value of slot 5: the run 3..6 is cut there */
	for (int i = 0; i < 4; i++)
		run[i] = (struct whisper_point){T0 + 3 + i, 30 + i};
	set_fsize_limit(slot5 + 7);
	int rc = whisper_update_many(f->w, run, 4, T0 + 6);
	set_fsize_limit(RLIM_INFINITY);
	assert_int_equal(rc, -EFBIG);
	slot_point(f, 0, 4, &ts, &v); /* before the cut: written whole */
	assert_int_equal(ts, T0 + 4);
	assert_true(v == 31);
	slot_point(f, 0, 5, &ts, &v); /* the cut point: no data, not a wrong value */
	assert_int_equal(ts, 0);
	slot_point(f, 0, 0, &ts, &v); /* earlier data intact */
	assert_int_equal(ts, T0);
	assert_true(v == 1);
	/* writing resumes once the limit is gone */
	assert_int_equal(whisper_update_many(f->w, run, 4, T0 + 6), 0);
	assert_true(value_at(f, T0 + 5, 1, T0 + 6) == 32);
	signal(SIGXFSZ, SIG_DFL);
}

static void create_over_file_size_limit_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct whisper_retention r[] = {{1, 10000}};
	struct whisper_err err = {0};
	DIR *d;
	struct dirent *e;
	int files = 0;

	signal(SIGXFSZ, SIG_IGN);
	set_fsize_limit(4096);
	int rc =
	    whisper_create(f->path, r, 1, WHISPER_AGG_AVERAGE, 0.5, WHISPER_CREATE_ZEROFILL, &err);
	int rc2 = whisper_create(f->path, r, 1, WHISPER_AGG_AVERAGE, 0.5, 0, NULL);
	set_fsize_limit(RLIM_INFINITY);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(rc, -EFBIG);
	assert_int_equal(rc2, -EFBIG);
	assert_non_null(strstr(err.msg, "tmp-"));
	d = opendir(f->dir);
	while ((e = readdir(d)) != NULL)
		files += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 0); /* no file, no temporary */
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(create_writes_documented_layout),
	    T(create_modes_give_identical_bytes),
	    T(create_rejects_bad_configuration),
	    T(create_never_replaces_a_file),
	    T(first_point_goes_to_slot_0),
	    T(slot_is_distance_from_base_modulo_points),
	    T(next_lap_overwrites_slot_and_old_lap_reads_as_no_data),
	    T(update_truncates_timestamp_to_interval),
	    T(update_rejects_future_and_too_old),
	    T(update_before_epoch_is_out_of_range),
	    T(update_at_exact_retention_overwrites_newest_slot),
	    T(xff_0_1_is_not_met_by_6_of_60),
	    T(coarse_point_is_rewritten_as_fine_points_arrive),
	    T(propagation_stops_at_first_level_that_fails),
	    T(every_aggregation_method_consolidates_like_python),
	    T(max_and_absmax_keep_the_first_of_equal_values),
	    T(sum_of_negative_zero_is_positive_zero),
	    T(update_many_keeps_last_point_of_an_interval),
	    T(update_many_keeps_first_of_equal_timestamps),
	    T(update_many_groups_points_by_archive_and_drops_too_old),
	    T(update_many_splits_a_run_at_the_archive_end),
	    T(update_many_long_future_run_stays_inside_its_archive),
	    T(update_many_of_nothing_is_a_no_op),
	    T(hot_path_reads_finer_points_once_per_interval_and_never_writes_header),
	    T(defer_mode_writes_one_point_per_update_and_matches_after_flush),
	    T(nocache_handle_sees_another_writers_points),
	    T(update_on_read_only_handle_is_ebadf),
	    T(fetch_aligns_range_to_intervals),
	    T(fetch_picks_finest_archive_covering_from),
	    T(fetch_of_empty_archive_is_all_nan),
	    T(fetch_outside_retention_is_none_and_bad_range_invalid),
	    T(open_rejects_bad_aggregation_type_and_xff),
	    T(open_rejects_inconsistent_archive_table),
	    T(open_rejects_wrong_size),
	    T(open_of_missing_file_or_directory_is_not_corrupt),
	    T(file_shrunk_under_an_open_handle_reports_esize),
	    T(quarantine_moves_file_aside_without_replacing),
	    T(short_write_invalidates_the_cut_point),
	    T(create_over_file_size_limit_leaves_nothing),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
