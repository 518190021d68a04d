/*
 * Tests of beneath (paths resolved below a directory without links) and of
 * whisper_openat/whisper_createat built on it: a link at the end or in the
 * middle, "..", an absolute path; each with openat2 and with the walk the
 * aggregator falls back to on kernels without it. Real files in a temp dir.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "beneath.h"
#include "whisper.h"

struct fixture {
	char dir[64];	  /* temp root */
	char inside[96];  /* the directory the calls are relative to */
	char outside[96]; /* what links point at */
	int fd;		  /* of inside */
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static int setup(void **state, bool walk)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char path[256];

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sm-test-beneath-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->inside, sizeof(fx->inside), "%s/in", fx->dir);
	snprintf(fx->outside, sizeof(fx->outside), "%s/out", fx->dir);
	if (mkdir(fx->inside, 0755) < 0 || mkdir(fx->outside, 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/real", fx->inside);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/real/file", fx->inside);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	snprintf(path, sizeof(path), "%s/secret", fx->outside);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	snprintf(path, sizeof(path), "%s/linkdir", fx->inside);
	if (symlink(fx->outside, path) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/real/linkfile", fx->inside);
	if (symlink("../../out/secret", path) < 0)
		return -1;
	fx->fd = open(fx->inside, O_RDONLY | O_DIRECTORY);
	beneath_set_walk_only(walk);
	*state = fx;
	return fx->fd < 0 ? -1 : 0;
}

static int setup_openat2(void **state)
{
	return setup(state, false);
}

static int setup_walk(void **state)
{
	return setup(state, true);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	beneath_set_walk_only(false);
	close(fx->fd);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Entries in the outside directory: links must never add any. */
static int outside_entries(const struct fixture *fx)
{
	DIR *d = opendir(fx->outside);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void beneath_opens_a_plain_path(void **state)
{
	struct fixture *fx = *state;
	const char *last;
	int fd = beneath_open(fx->fd, "real/file", O_RDONLY, 0);

	assert_true(fd >= 0);
	close(fd);
	fd = beneath_open_parent(fx->fd, "real/file", &last);
	assert_true(fd >= 0);
	assert_string_equal(last, "file");
	close(fd);
	fd = beneath_open_parent(fx->fd, "top", &last);
	assert_true(fd >= 0);
	assert_string_equal(last, "top");
	close(fd);
}

static void beneath_refuses_a_link_at_the_end(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(beneath_open(fx->fd, "real/linkfile", O_RDWR, 0), -ELOOP);
	assert_int_equal(beneath_open(fx->fd, "linkdir", O_RDONLY | O_DIRECTORY, 0), -ELOOP);
	assert_true(beneath_refused(-ELOOP));
}

static void beneath_refuses_a_link_on_the_way(void **state)
{
	struct fixture *fx = *state;
	const char *last;

	assert_int_equal(beneath_open(fx->fd, "linkdir/secret", O_RDWR, 0), -ELOOP);
	assert_int_equal(beneath_open(fx->fd, "linkdir/new", O_RDWR | O_CREAT, 0644), -ELOOP);
	assert_int_equal(beneath_open_parent(fx->fd, "linkdir/x", &last), -ELOOP);
	assert_int_equal(outside_entries(fx), 1);
}

static void beneath_refuses_a_way_out(void **state)
{
	struct fixture *fx = *state;
	const char *last;

	assert_true(beneath_refused(beneath_open(fx->fd, "../out/secret", O_RDONLY, 0)));
	assert_true(beneath_refused(beneath_open(fx->fd, "real/../../out/secret", O_RDONLY, 0)));
	assert_true(beneath_refused(beneath_open(fx->fd, "/etc/passwd", O_RDONLY, 0)));
	assert_int_equal(beneath_open_parent(fx->fd, "real/..", &last), -EXDEV);
	assert_int_equal(beneath_open_parent(fx->fd, "/x", &last), -EXDEV);
}

static void beneath_mkdirs_makes_and_refuses(void **state)
{
	struct fixture *fx = *state;
	char path[256];
	struct stat st;

	assert_int_equal(beneath_mkdirs(fx->fd, "a/b/c", 0755), 0);
	assert_int_equal(beneath_mkdirs(fx->fd, "a/b/c", 0755), 0); /* exists: fine */
	snprintf(path, sizeof(path), "%s/a/b/c", fx->inside);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(beneath_mkdirs(fx->fd, "linkdir/sub", 0755), -ELOOP);
	assert_int_equal(beneath_mkdirs(fx->fd, "linkdir", 0755), -ELOOP);
	assert_int_equal(beneath_mkdirs(fx->fd, "a/../..", 0755), -EXDEV);
	assert_int_equal(outside_entries(fx), 1);
}

static void whisper_at_refuses_links_and_writes_inside(void **state)
{
	struct fixture *fx = *state;
	struct whisper_retention arch[] = {{1, 60}, {60, 10}};
	struct whisper_err err;
	struct whisper *w;

	assert_int_equal(whisper_createat(fx->fd, "linkdir/x.wsp", arch, 2, WHISPER_AGG_AVERAGE,
					  0.5, WHISPER_CREATE_NOSYNC, &err),
			 -ELOOP);
	assert_int_equal(err.code, -ELOOP);
	assert_int_equal(outside_entries(fx), 1);
	assert_int_equal(whisper_createat(fx->fd, "real/m.wsp", arch, 2, WHISPER_AGG_AVERAGE, 0.5,
					  WHISPER_CREATE_NOSYNC, &err),
			 0);
	assert_int_equal(whisper_createat(fx->fd, "real/m.wsp", arch, 2, WHISPER_AGG_AVERAGE, 0.5,
					  WHISPER_CREATE_NOSYNC, &err),
			 -EEXIST);
	w = whisper_openat(fx->fd, "real/m.wsp", 0, &err);
	assert_non_null(w);
	assert_string_equal(whisper_path(w), "real/m.wsp");
	assert_int_equal(whisper_info(w)->file_size, whisper_file_size(arch, 2));
	whisper_close(&w);
	assert_null(whisper_openat(fx->fd, "real/linkfile", 0, &err));
	assert_int_equal(err.code, -ELOOP);
	assert_null(whisper_openat(fx->fd, "linkdir/secret", WHISPER_OPEN_RDONLY, &err));
	assert_int_equal(err.code, -ELOOP);
	/* a link named like the file to be made is not replaced nor followed */
	assert_int_equal(whisper_createat(fx->fd, "real/linkfile", arch, 2, WHISPER_AGG_AVERAGE,
					  0.5, WHISPER_CREATE_NOSYNC, &err),
			 -EEXIST);
}

#define BOTH(t)                                                                                    \
	cmocka_unit_test_setup_teardown(t, setup_openat2, teardown),                               \
	    cmocka_unit_test_setup_teardown(t, setup_walk, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(beneath_opens_a_plain_path),
	    BOTH(beneath_refuses_a_link_at_the_end),
	    BOTH(beneath_refuses_a_link_on_the_way),
	    BOTH(beneath_refuses_a_way_out),
	    BOTH(beneath_mkdirs_makes_and_refuses),
	    BOTH(whisper_at_refuses_links_and_writes_inside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
