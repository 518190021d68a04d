/*
 * test_whisper_enospc — Whisper files on a full disk: a 64 KiB tmpfs mounted
 * for the run (needs root; exits 77, "skipped", when mounting fails).
 * Proves a create that cannot get its space leaves nothing behind, a
 * preallocated file keeps taking points on a full disk, and a sparse file's
 * failed write leaves earlier points intact, the cut point invalidated, and
 * resumes once space returns.
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

static double value_at(struct whisper *w, int64_t t, int64_t now)
{
	struct whisper_series *s = NULL;
	double v;

	assert_int_equal(whisper_fetch_step(w, t - 1, t - 1, now, 1, &s), 0);
	assert_int_equal(s->from, t);
	v = s->values[0];
	whisper_series_destroy(&s);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(create_without_space_fails_and_leaves_nothing, empty_mnt),
	    cmocka_unit_test_teardown(preallocated_file_takes_points_on_a_full_disk, empty_mnt),
	    cmocka_unit_test_teardown(sparse_file_write_on_full_disk_keeps_data_and_resumes,
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
