/*
 * test_whisper_enospc — Whisper files on a full disk: a 64 KiB tmpfs mounted
 * for the run (needs root; exits 77, "skipped", when mounting fails).
 * Proves a create that cannot get its space leaves nothing behind, a
 * preallocated file keeps taking points on a full disk, and a sparse file's
 * failed write leaves earlier points intact, the cut point invalidated, and
 * resumes once space returns; and that a sparse file whose coarse page a
 * full disk refuses keeps taking its finest points, the coarse ones being
 * caught up once space returns.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cmocka.h>

#include "whisper.h"

#define T0 1699999800

static char mnt[64];

static char *in_mnt(const char *name)
{
	static char p[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", mnt, name);
	return p[i];
}

/* Removes every file of the tmpfs between tests. */
static int empty_mnt(void **state)
{
	DIR *d = opendir(mnt);
	struct dirent *e;

	(void)state;
	while (d != NULL && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			unlink(in_mnt(e->d_name));
	if (d != NULL)
		closedir(d);
	return 0;
}

static int count_files(void)
{
	DIR *d = opendir(mnt);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Fills the file system with a filler file until ENOSPC. */
static void fill_disk(void)
{
	static const char page[4096];
	int fd = open(in_mnt("filler"), O_CREAT | O_WRONLY | O_TRUNC, 0600);
	ssize_t w;

	assert_true(fd >= 0);
	do
		w = write(fd, page, sizeof(page));
	while (w > 0);
	assert_int_equal(errno, ENOSPC);
	/* and the last partial page */
	while (write(fd, page, 1) == 1)
		;
	close(fd);
}

static struct whisper *create_open(const char *name, const char *retention, unsigned flags)
{
	struct whisper_retention r[WHISPER_MAX_ARCHIVES];
	struct whisper_err err = {0};
	size_t n;
	struct whisper *w;

	assert_int_equal(whisper_retention_parse(retention, r, WHISPER_MAX_ARCHIVES, &n, &err), 0);
	if (whisper_create(in_mnt(name), r, n, WHISPER_AGG_AVERAGE, 0.0, flags, &err) != 0)
		fail_msg("create: %s", err.msg);
	w = whisper_open(in_mnt(name), 0, &err);
	if (w == NULL)
		fail_msg("open: %s", err.msg);
	return w;
}

static double value_step(struct whisper *w, int64_t t, int64_t now, uint32_t step)
{
	struct whisper_series *s = NULL;
	double v;

	assert_int_equal(whisper_fetch_step(w, t - 1, t - 1, now, step, &s), 0);
	assert_int_equal(s->from, t);
	v = s->values[0];
	whisper_series_destroy(&s);
	return v;
}

static double value_at(struct whisper *w, int64_t t, int64_t now)
{
	return value_step(w, t, now, 1);
}

/* What another process reads from the file now (a handle that owes nothing). */
static double read_back(const char *name, int64_t t, int64_t now, uint32_t step)
{
	struct whisper *r =
	    whisper_open(in_mnt(name), WHISPER_OPEN_RDONLY | WHISPER_OPEN_NOCACHE, NULL);
	double v;

	assert_non_null(r);
	v = value_step(r, t, now, step);
	whisper_close(&r);
	return v;
}

static void create_without_space_fails_and_leaves_nothing(void **state)
{
	struct whisper_retention big[] = {{1, 10000}}; /* 120 KB > 64 KiB */
	struct whisper_err err = {0};
	struct whisper *w;

	(void)state;
	assert_int_equal(whisper_create(in_mnt("a.wsp"), big, 1, WHISPER_AGG_AVERAGE, 0.5, 0, &err),
			 -ENOSPC);
	assert_non_null(strstr(err.msg, "No space"));
	assert_int_equal(whisper_create(in_mnt("a.wsp"), big, 1, WHISPER_AGG_AVERAGE, 0.5,
					WHISPER_CREATE_ZEROFILL, NULL),
			 -ENOSPC);
	assert_int_equal(count_files(), 0);
	/* the space was given back: a file that fits is created */
	w = create_open("b.wsp", "1s:1000", 0);
	whisper_close(&w);
	assert_int_equal(count_files(), 1);
}

static void preallocated_file_takes_points_on_a_full_disk(void **state)
{
	struct whisper *w = create_open("m.wsp", "1s:600,60s:60", 0);

	(void)state;
	fill_disk();
	for (int i = 0; i < 1200; i++) /* two laps, every propagation */
		assert_int_equal(whisper_update(w, T0 + i, i, T0 + i), 0);
	assert_true(value_at(w, T0 + 1199, T0 + 1199) == 1199);
	whisper_close(&w);
}

static void sparse_file_write_on_full_disk_keeps_data_and_resumes(void **state)
{
	/* one archive: header 28 bytes, point k at 28 + 12k; point 680
	 * (bytes 8188..8199) straddles the boundary of pages 1 and 2 */
	struct whisper *w = create_open("s.wsp", "1s:4000", WHISPER_CREATE_SPARSE);
	struct whisper_point run[16];
	int64_t now = T0 + 690;

	(void)state;
	assert_int_equal(whisper_update(w, T0, 1, now), 0);	  /* page 0: base in slot 0 */
	assert_int_equal(whisper_update(w, T0 + 679, 2, now), 0); /* page 1 */
	fill_disk();
	for (int i = 0; i < 16; i++)
		run[i] = (struct whisper_point){T0 + 675 + i, 100 + i};
	assert_int_equal(whisper_update_many(w, run, 16, now), -ENOSPC);
	/* before the cut: new points whole; the cut point: no data; after: none */
	assert_true(value_at(w, T0 + 679, now) == 104);
	assert_true(isnan(value_at(w, T0 + 680, now)));
	assert_true(isnan(value_at(w, T0 + 681, now)));
	assert_true(value_at(w, T0, now) == 1); /* older data untouched */
	/* the same write succeeds once space returns */
	assert_int_equal(unlink(in_mnt("filler")), 0);
	assert_int_equal(whisper_update_many(w, run, 16, now), 0);
	assert_true(value_at(w, T0 + 680, now) == 105);
	assert_true(value_at(w, T0 + 690, now) == 115);
	whisper_close(&w);
}

static void sparse_file_takes_fine_points_while_its_coarse_page_is_refused(void **state)
{
	/* header 40 bytes; archive 0 (680 points) at 40..8199, archive 1 from
	 * 8200: page 2, which no write reaches before the first propagation */
	struct whisper_retention r[WHISPER_MAX_ARCHIVES];
	struct whisper_point batch[16];
	struct whisper *w;
	int64_t now = T0 + 130;
	size_t n;

	(void)state;
	assert_int_equal(
	    whisper_retention_parse("1s:680,60s:60", r, WHISPER_MAX_ARCHIVES, &n, NULL), 0);
	assert_int_equal(whisper_create(in_mnt("c.wsp"), r, n, WHISPER_AGG_AVERAGE, 0.0,
					WHISPER_CREATE_SPARSE, NULL),
			 0);
	w = whisper_open(in_mnt("c.wsp"), WHISPER_OPEN_DEFER, NULL);
	assert_non_null(w);
	for (int i = 0; i < 60; i++) /* page 0 only; interval T0's propagation owed */
		assert_int_equal(whisper_update(w, T0 + i, i, T0 + i), 0);
	fill_disk();

	/* the next interval pays the debt first: its coarse write fails, the
	 * point is written all the same and the failure reported */
	for (int i = 60; i < 70; i++)
		assert_int_equal(whisper_update(w, T0 + i, i, T0 + i), 0);
	assert_int_equal(whisper_owed_error(w), -ENOSPC);
	/* a batch across an interval boundary: written whole too */
	for (int i = 0; i < 16; i++)
		batch[i] = (struct whisper_point){T0 + 110 + i, 110 + i};
	assert_int_equal(whisper_update_many(w, batch, 16, now), 0);
	assert_int_equal(whisper_owed_error(w), -ENOSPC);
	assert_int_equal(whisper_flush(w), -ENOSPC); /* still owed after a failed flush */
	assert_true(read_back("c.wsp", T0 + 65, now, 1) == 65);
	assert_true(read_back("c.wsp", T0 + 125, now, 1) == 125);
	assert_true(isnan(read_back("c.wsp", T0, now, 60)));

	/* space returns: the next write pays every owed interval, oldest first */
	assert_int_equal(unlink(in_mnt("filler")), 0);
	assert_int_equal(whisper_update(w, T0 + 126, 126, now), 0);
	assert_int_equal(whisper_owed_error(w), 0);
	assert_true(read_back("c.wsp", T0, now, 60) == 29.5);
	assert_true(read_back("c.wsp", T0 + 60, now, 60) == (645.0 + 1145.0) / 20);
	assert_int_equal(whisper_flush(w), 0);
	assert_true(read_back("c.wsp", T0 + 120, now, 60) == 123);
	whisper_close(&w);
}

static void coarse_points_owed_for_a_lap_are_given_up_not_miscomputed(void **state)
{
	/* archive 0 (340 points) at 40..4119: slots 0..337 lie in page 0,
	 * archive 1 starts in page 1, which the full disk refuses */
	struct whisper_retention r[WHISPER_MAX_ARCHIVES];
	struct whisper *w;
	int64_t now = T0 + 400;
	size_t n;

	(void)state;
	assert_int_equal(
	    whisper_retention_parse("1s:340,60s:60", r, WHISPER_MAX_ARCHIVES, &n, NULL), 0);
	assert_int_equal(whisper_create(in_mnt("l.wsp"), r, n, WHISPER_AGG_AVERAGE, 0.0,
					WHISPER_CREATE_SPARSE, NULL),
			 0);
	w = whisper_open(in_mnt("l.wsp"), WHISPER_OPEN_DEFER, NULL);
	assert_non_null(w);
	assert_int_equal(whisper_update(w, T0, 0, T0), 0);
	fill_disk();
	/* more than a lap of archive 0 while every coarse write fails; slots
	 * 338 and 339 need page 1 too */
	for (int i = 1; i <= 400; i++)
		assert_int_equal(whisper_update(w, T0 + i, i, T0 + i),
				 i % 340 == 338 || i % 340 == 339 ? -ENOSPC : 0);
	assert_int_equal(whisper_owed_error(w), -ENOSPC);

	assert_int_equal(unlink(in_mnt("filler")), 0);
	assert_int_equal(whisper_flush(w), 0);
	/* T0+60's points were partly overwritten by T0+400 in slot 60 before
	 * its propagation could run: given up, not averaged from the rest */
	assert_true(isnan(read_back("l.wsp", T0, now, 60)));
	assert_true(isnan(read_back("l.wsp", T0 + 60, now, 60)));
	assert_true(read_back("l.wsp", T0 + 120, now, 60) == 149.5);
	assert_true(read_back("l.wsp", T0 + 180, now, 60) == 209.5);
	assert_true(read_back("l.wsp", T0 + 360, now, 60) == 380);
	whisper_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(create_without_space_fails_and_leaves_nothing, empty_mnt),
	    cmocka_unit_test_teardown(preallocated_file_takes_points_on_a_full_disk, empty_mnt),
	    cmocka_unit_test_teardown(sparse_file_write_on_full_disk_keeps_data_and_resumes,
				      empty_mnt),
	    cmocka_unit_test_teardown(
		sparse_file_takes_fine_points_while_its_coarse_page_is_refused, empty_mnt),
	    cmocka_unit_test_teardown(coarse_points_owed_for_a_lap_are_given_up_not_miscomputed,
				      empty_mnt),
	};
	int rc;

	snprintf(mnt, sizeof(mnt), "/tmp/test_whisper_enospc.XXXXXX");
	if (mkdtemp(mnt) == NULL)
		return 1;
	if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0700") < 0) {
		printf("cannot mount a tmpfs (%s): skipped\n", strerror(errno));
		rmdir(mnt);
		return 77;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (umount2(mnt, MNT_DETACH) < 0)
		perror("umount");
	rmdir(mnt);
	return rc;
}
