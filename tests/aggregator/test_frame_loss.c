/*
 * Tests of the aggregator's frame_loss: gaps logged with their missing
 * seqs, one line per host per minute and the rest summed up, counts per
 * host per minute saved in batches into a real index (sqlite in a temp
 * dir), a minute that closes before a save, the host bound, and the save
 * cadence that keeps writes off the per-frame path.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame_loss.h"
#include "index.h"
#include "sm_log.h"

struct fixture {
	char dir[64];
	char path[128];
	char capture[160];
	int saved_stderr;
	struct agg_index *idx;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sm-test-floss-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/index.sqlite", fx->dir);
	snprintf(fx->capture, sizeof(fx->capture), "%s/stderr.txt", fx->dir);
	fx->idx = index_open(fx->path, INDEX_READ_WRITE, NULL);
	if (!fx->idx)
		return -1;
	sm_log_open("test", SM_LOG_INFO, false);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	index_close(&fx->idx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static void capture_start(struct fixture *fx)
{
	int fd = open(fx->capture, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	fflush(stderr);
	fx->saved_stderr = dup(STDERR_FILENO);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

static char *capture_stop(struct fixture *fx)
{
	char *buf = calloc(1, 1 << 16);
	FILE *f;

	fflush(stderr);
	dup2(fx->saved_stderr, STDERR_FILENO);
	close(fx->saved_stderr);
	f = fopen(fx->capture, "r");
	assert_non_null(f);
	buf[fread(buf, 1, (1 << 16) - 1, f)] = '\0';
	fclose(f);
	return buf;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static struct sm_header hdr(const char *host, enum sm_msg_kind kind, uint64_t epoch, uint64_t seq)
{
	struct sm_header h = {.version = SM_WIRE_VERSION, .kind = kind, .epoch = epoch, .seq = seq};

	snprintf(h.host, sizeof(h.host), "%s", host);
	return h;
}

static uint64_t note(struct frame_loss *fl, const char *host, uint64_t seq, double now)
{
	struct sm_header h = hdr(host, SM_KIND_STATS, 1, seq);

	return frame_loss_note(fl, &h, now);
}

struct minutes {
	size_t n;
	struct index_loss_minute m[8];
};

static int copy_minute(void *arg, const struct index_loss_minute *m)
{
	struct minutes *c = arg;

	if (c->n < 8)
		c->m[c->n++] = *m;
	return 0;
}

static struct minutes minutes_of(struct agg_index *idx, const char *host)
{
	struct minutes c = {0};

	assert_true(index_list_loss_minutes(idx, host, 0, copy_minute, &c) >= 0);
	return c;
}

static void frame_loss_logs_first_gap_of_a_minute_and_sums_up_the_rest(void **state)
{
	struct fixture *fx = *state;
	struct frame_loss *fl = frame_loss_new(16);
	struct frame_loss_counters c;
	char *log;
	uint64_t seq = 1180;

	capture_start(fx);
	note(fl, "cn1", seq, 6000.0);
	assert_int_equal(note(fl, "cn1", 1499, 6000.5), 318);
	/* 100 more gaps of 2 frames within the same minute: no line each. */
	seq = 1499;
	for (int i = 0; i < 100; i++) {
		seq += 3;
		assert_int_equal(note(fl, "cn1", seq, 6001.0 + i * 0.1), 2);
	}
	/* Another host has its own window. */
	note(fl, "cn2", 1, 6002.0);
	note(fl, "cn2", 3, 6002.0);
	/* The minute is over: the held-back gaps are told by the next save. */
	assert_true(frame_loss_save_due(fl, 6061.0));
	assert_int_equal(frame_loss_save(fl, fx->idx, 6061.0), 0);
	log = capture_stop(fx);
	assert_int_equal(
	    count_of(log, "gap from host cn1 (stats): seq 1181-1498 missing (318 frames)"), 1);
	assert_int_equal(count_of(log, "gap from host cn2 (stats): seq 2 missing (1 frame)"), 1);
	assert_int_equal(count_of(log, "gap from host"), 2);
	assert_int_equal(count_of(log, "gaps from host cn1: 100 more in the minute after the last"
				       " line (200 frames missing)"),
			 1);
	free(log);
	frame_loss_counters(fl, &c);
	assert_int_equal(c.lost, 318 + 200 + 1);
	assert_int_equal(c.gaps, 102);
	assert_int_equal(c.received, 104);
	assert_int_equal(c.quiet_gaps, 100);
	frame_loss_destroy(&fl);
	assert_null(fl);
}

static void frame_loss_saves_minutes_in_batches_not_per_frame(void **state)
{
	struct fixture *fx = *state;
	struct frame_loss *fl = frame_loss_new(0);
	struct index_stats before, after;
	struct minutes m;

	/* The first save (and prune) is due at once; then every 10 s. */
	note(fl, "cn1", 1, 6000.0);
	assert_true(frame_loss_save_due(fl, 6000.0));
	assert_int_equal(frame_loss_save(fl, fx->idx, 6000.0), 0);
	index_get_stats(fx->idx, &before);
	for (int i = 0; i < 50; i++) {
		note(fl, "cn1", 3 + 2 * (uint64_t)i, 6001.0 + i * 0.1); /* each one frame lost */
		assert_false(frame_loss_save_due(fl, 6001.0 + i * 0.1));
	}
	index_get_stats(fx->idx, &after);
	assert_int_equal(after.commits, before.commits); /* nothing written meanwhile */
	assert_true(frame_loss_save_due(fl, 6010.0));
	assert_int_equal(frame_loss_save(fl, fx->idx, 6010.0), 0);
	m = minutes_of(fx->idx, "cn1");
	assert_int_equal(m.n, 1);
	assert_int_equal(m.m[0].minute, 6000);
	assert_int_equal(m.m[0].received, 51);
	assert_int_equal(m.m[0].lost, 50);
	/* Nothing waiting: no save due before the prune a minute on. */
	assert_false(frame_loss_save_due(fl, 6020.0));
	frame_loss_destroy(&fl);
}

static void frame_loss_keeps_a_closed_minute_apart(void **state)
{
	struct fixture *fx = *state;
	struct frame_loss *fl = frame_loss_new(4);
	struct minutes m;

	assert_int_equal(frame_loss_save(fl, fx->idx, 5990.0), 0);
	note(fl, "cn1", 1, 6050.0);
	note(fl, "cn1", 5, 6059.0); /* 3 lost in minute 6000 */
	note(fl, "cn1", 6, 6061.0); /* minute 6060 begins: the save is due at once */
	assert_true(frame_loss_save_due(fl, 6061.0));
	note(fl, "cn1", 9, 6062.0); /* 2 lost in minute 6060 */
	assert_int_equal(frame_loss_save(fl, fx->idx, 6062.0), 0);
	m = minutes_of(fx->idx, "cn1");
	assert_int_equal(m.n, 2);
	assert_int_equal(m.m[0].minute, 6000);
	assert_int_equal(m.m[0].received, 2);
	assert_int_equal(m.m[0].lost, 3);
	assert_int_equal(m.m[1].minute, 6060);
	assert_int_equal(m.m[1].received, 2);
	assert_int_equal(m.m[1].lost, 2);
	frame_loss_destroy(&fl);
}

static void frame_loss_prunes_minutes_older_than_a_day(void **state)
{
	struct fixture *fx = *state;
	struct frame_loss *fl = frame_loss_new(4);
	const double day = FRAME_LOSS_KEEP_S;

	note(fl, "cn1", 1, 6000.0);
	assert_int_equal(frame_loss_save(fl, fx->idx, 6000.0), 0);
	assert_int_equal(minutes_of(fx->idx, "cn1").n, 1);
	note(fl, "cn1", 2, 6000.0 + day + 120);
	assert_true(frame_loss_save_due(fl, 6000.0 + day + 120));
	assert_int_equal(frame_loss_save(fl, fx->idx, 6000.0 + day + 120), 0);
	assert_int_equal(minutes_of(fx->idx, "cn1").n, 1); /* the old one went, the new one came */
	assert_int_equal(minutes_of(fx->idx, "cn1").m[0].minute, 6000 + 86400 + 120);
	frame_loss_destroy(&fl);
}

static void frame_loss_bounds_its_hosts(void **state)
{
	struct fixture *fx = *state;
	struct frame_loss *fl = frame_loss_new(2);
	struct frame_loss_counters c;

	note(fl, "cn1", 1, 6000.0);
	note(fl, "cn2", 1, 6000.0);
	note(fl, "cn3", 1, 6000.0); /* beyond the bound: not per minute */
	assert_int_equal(frame_loss_save(fl, fx->idx, 6000.0), 0);
	frame_loss_counters(fl, &c);
	assert_int_equal(c.unbucketed, 1);
	assert_int_equal(minutes_of(fx->idx, "cn3").n, 0);
	assert_int_equal(minutes_of(fx->idx, "cn2").n, 1);
	frame_loss_destroy(&fl);
}

static void frame_loss_save_reports_a_read_only_index(void **state)
{
	struct fixture *fx = *state;
	struct frame_loss *fl = frame_loss_new(2);
	struct agg_index *ro = index_open(fx->path, INDEX_READ_ONLY, NULL);

	assert_non_null(ro);
	note(fl, "cn1", 1, 6000.0);
	capture_start(fx);
	assert_int_equal(frame_loss_save(fl, ro, 6000.0), -1);
	free(capture_stop(fx));
	index_close(&ro);
	frame_loss_destroy(&fl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		frame_loss_logs_first_gap_of_a_minute_and_sums_up_the_rest, setup, teardown),
	    cmocka_unit_test_setup_teardown(frame_loss_saves_minutes_in_batches_not_per_frame,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(frame_loss_keeps_a_closed_minute_apart, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(frame_loss_prunes_minutes_older_than_a_day, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(frame_loss_bounds_its_hosts, setup, teardown),
	    cmocka_unit_test_setup_teardown(frame_loss_save_reports_a_read_only_index, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
