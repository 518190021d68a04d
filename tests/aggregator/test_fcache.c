/*
 * Tests of the aggregator's file cache: a bound on open Whisper handles,
 * least recently used closed first, on real files in a temp dir. Whether a
 * handle is really closed is read from /proc/self/fd.
 */
#define _GNU_SOURCE /* nftw */
#include <dirent.h>
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

#include "fcache.h"
#include "whisper.h"

#define NFILES 6

struct fixture {
	char dir[64];
	char path[NFILES][128];
	struct fcache_node node[NFILES];
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct whisper_retention r[] = {{1, 60}};

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sm-test-fcache-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	for (int i = 0; i < NFILES; i++) {
		snprintf(fx->path[i], sizeof(fx->path[i]), "%s/f%d.wsp", fx->dir, i);
		if (whisper_create(fx->path[i], r, 1, WHISPER_AGG_AVERAGE, 0.5,
				   WHISPER_CREATE_NOSYNC, NULL) != 0)
			return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Descriptors of this process open on files of the fixture's directory. */
static int fds_in(const struct fixture *fx)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char link[300], target[256];
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strncmp(target, fx->dir, strlen(fx->dir)) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void open_node(struct fixture *fx, struct fcache *c, int i)
{
	struct whisper *w = whisper_open(fx->path[i], WHISPER_OPEN_DEFER, NULL);

	assert_non_null(w);
	fcache_add(c, &fx->node[i], w);
}

static void fcache_closes_least_recently_used_beyond_bound(void **state)
{
	struct fixture *fx = *state;
	struct fcache *c = fcache_new(3);

	assert_non_null(c);
	for (int i = 0; i < 5; i++)
		open_node(fx, c, i);
	/* 0 and 1 were the least recent: closed, their nodes emptied. */
	assert_int_equal(fcache_count(c), 3);
	assert_int_equal(fcache_evictions(c), 2);
	assert_null(fx->node[0].w);
	assert_null(fx->node[1].w);
	assert_non_null(fx->node[2].w);
	assert_non_null(fx->node[4].w);
	assert_int_equal(fds_in(fx), 3);

	/* Using 2 makes 3 the least recent: the next file closes 3. */
	fcache_touch(c, &fx->node[2]);
	open_node(fx, c, 5);
	assert_non_null(fx->node[2].w);
	assert_null(fx->node[3].w);
	assert_non_null(fx->node[4].w);
	assert_non_null(fx->node[5].w);
	assert_int_equal(fds_in(fx), 3);
	fcache_destroy(&c);
	assert_null(c);
	/* Destroy closed every handle and emptied every node. */
	for (int i = 0; i < NFILES; i++)
		assert_null(fx->node[i].w);
	assert_int_equal(fds_in(fx), 0);
	fcache_destroy(&c); /* NULL-safe */
}

static void fcache_close_and_shrink_release_descriptors(void **state)
{
	struct fixture *fx = *state;
	struct fcache *c = fcache_new(10);

	for (int i = 0; i < NFILES; i++)
		open_node(fx, c, i);
	assert_int_equal(fcache_count(c), NFILES);
	fcache_close(c, &fx->node[3]);
	assert_null(fx->node[3].w);
	fcache_close(c, &fx->node[3]); /* already closed: no-op */
	fcache_touch(c, &fx->node[3]); /* idem */
	assert_int_equal(fcache_count(c), NFILES - 1);
	assert_int_equal(fds_in(fx), NFILES - 1);

	/* A smaller bound closes the least recent at once: 0 and 1 of 0,1,2,4,5. */
	fcache_touch(c, &fx->node[0]);
	fcache_set_max(c, 3);
	assert_int_equal(fcache_max(c), 3);
	assert_int_equal(fcache_count(c), 3);
	assert_non_null(fx->node[0].w); /* touched: spared */
	assert_null(fx->node[1].w);
	assert_null(fx->node[2].w);
	assert_non_null(fx->node[4].w);
	assert_non_null(fx->node[5].w);
	assert_int_equal(fds_in(fx), 3);
	fcache_set_max(c, 0); /* at least one stays possible */
	assert_int_equal(fcache_max(c), 1);
	assert_int_equal(fcache_count(c), 1);
	fcache_destroy(&c);
	assert_int_equal(fds_in(fx), 0);
}

static void fcache_of_one_keeps_the_newest(void **state)
{
	struct fixture *fx = *state;
	struct fcache *c = fcache_new(1);

	open_node(fx, c, 0);
	open_node(fx, c, 1);
	assert_null(fx->node[0].w);
	assert_non_null(fx->node[1].w);
	assert_int_equal(fcache_count(c), 1);
	fcache_destroy(&c);
}

static void fcache_closing_pays_deferred_propagation(void **state)
{
	struct fixture *fx = *state;
	struct whisper_retention r[] = {{1, 120}, {60, 10}};
	struct fcache *c = fcache_new(1);
	struct whisper_series *s = NULL;
	struct whisper *w;
	char path[160];
	int64_t t0 = 1795917600; /* a whole minute */

	snprintf(path, sizeof(path), "%s/deferred.wsp", fx->dir);
	assert_int_equal(
	    whisper_create(path, r, 2, WHISPER_AGG_AVERAGE, 0.5, WHISPER_CREATE_NOSYNC, NULL), 0);
	w = whisper_open(path, WHISPER_OPEN_DEFER, NULL);
	assert_non_null(w);
	fcache_add(c, &fx->node[0], w);
	for (int i = 0; i < 60; i++)
		assert_int_equal(whisper_update(fx->node[0].w, t0 + i, 2.0, t0 + 60), 0);
	/* Eviction closes the handle: the minute's average must be on disk. */
	open_node(fx, c, 1);
	assert_null(fx->node[0].w);
	w = whisper_open(path, WHISPER_OPEN_RDONLY, NULL);
	assert_non_null(w);
	assert_int_equal(whisper_fetch_step(w, t0 - 60, t0 + 60, t0 + 100, 60, &s), 0);
	assert_non_null(s);
	{
		bool found = false;

		for (size_t i = 0; i < s->count; i++)
			if (s->from + (int64_t)i * 60 == t0)
				found = s->values[i] == 2.0;
		assert_true(found);
	}
	whisper_series_destroy(&s);
	whisper_close(&w);
	fcache_destroy(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(fcache_closes_least_recently_used_beyond_bound, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(fcache_close_and_shrink_release_descriptors, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(fcache_of_one_keeps_the_newest, setup, teardown),
	    cmocka_unit_test_setup_teardown(fcache_closing_pays_deferred_propagation, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
