/*
 * Tests of the state file: firing and pending pairs and known nodes saved
 * and restored into a new evaluator, the firing one not notified again, a
 * restored node that never reports going stale, and the firing file the
 * dashboard reads keeping every byte of tenant text.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "eval.h"
#include "fake_stats.h"
#include "firing.h"
#include "statefile.h"

#define RULES                                                                                      \
	"rule hot\n when domain cpu_pct > 90\nrule slow\n when domain cpu_pct > 90 for 1h\n"       \
	"rule down\n when node stale for 5s\n"

static size_t notified;

static void count(void *ctx, const struct alert_info *a)
{
	(void)ctx;
	(void)a;
	notified++;
}

static struct eval *new_eval(void)
{
	char err[128];
	struct rule_set *r = rules_parse("t", RULES, err, sizeof(err));

	assert_non_null(r);
	return eval_new(&r);
}

static void statefile_restores_without_notifying_again(void **state)
{
	char dir[] = "/tmp/sm-alert-state-XXXXXX", path[256], err[256];
	struct eval *e = new_eval(), *e2 = new_eval();
	struct statefile_result res;
	struct eval_stats st;
	struct sm_message m;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(fake_stats_fill(&m, "cn1", 2, 1, 1), 0);
	m.u.stats.domains[0].cpu_pct = 95;
	m.u.stats.domains[1].cpu_pct = 10;
	eval_apply_stats(e, &m, 100, true, count, NULL);
	eval_tick(e, 100.5, 0, count, NULL);
	assert_int_equal(notified, 1);
	assert_int_equal(statefile_save(e, path, err, sizeof(err)), 0);

	notified = 0;
	assert_int_equal(statefile_load(e2, path, 200, &res, err, sizeof(err)), 0);
	assert_int_equal(res.hosts, 1);
	assert_int_equal(res.pairs, 2); /* hot firing, slow pending */
	assert_int_equal(res.skipped, 0);
	eval_tick(e2, 201, 0, count, NULL);
	eval_get_stats(e2, &st);
	assert_int_equal(st.firing, 1);
	assert_int_equal(st.pending, 1);
	assert_int_equal(notified, 0);
	/* Still hot when the node reports: no new notification. */
	eval_apply_stats(e2, &m, 202, true, count, NULL);
	eval_tick(e2, 202.5, 0, count, NULL);
	assert_int_equal(notified, 0);
	fake_stats_free(&m);
	eval_destroy(&e);
	eval_destroy(&e2);
	unlink(path);
	rmdir(dir);
}

static void statefile_restored_node_that_stays_silent_goes_stale(void **state)
{
	char dir[] = "/tmp/sm-alert-state-XXXXXX", path[256], err[256];
	struct eval *e = new_eval(), *e2 = new_eval();
	struct statefile_result res;
	struct sm_message m;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(fake_stats_fill(&m, "cn9", 0, 1, 1), 0);
	eval_apply_stats(e, &m, 100, true, count, NULL);
	fake_stats_free(&m);
	assert_int_equal(statefile_save(e, path, err, sizeof(err)), 0);
	notified = 0;
	assert_int_equal(statefile_load(e2, path, 1000, &res, err, sizeof(err)), 0);
	eval_tick(e2, 1004, 0, count, NULL);
	assert_int_equal(notified, 0); /* the restart counts as a sighting */
	eval_tick(e2, 1005.5, 0, count, NULL);
	assert_int_equal(notified, 1);
	/* A file that is not ours is refused, a missing one is empty. */
	assert_int_equal(statefile_load(e2, "/nonexistent/state", 0, &res, err, sizeof(err)), 0);
	{
		FILE *f = fopen(path, "w");

		fputs("garbage\n", f);
		fclose(f);
	}
	assert_int_equal(statefile_load(e2, path, 0, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a stackmon-alert state file"));
	eval_destroy(&e);
	eval_destroy(&e2);
	unlink(path);
	rmdir(dir);
}

static struct firing_row got;

static void keep_row(void *ctx, const struct firing_row *r)
{
	(void)ctx;
	got = *r;
}

static void firing_file_round_trips_hostile_text(void **state)
{
	char dir[] = "/tmp/sm-alert-state-XXXXXX", path[256], err[256];
	struct firing_row r = {.since = 1234.5, .value = NAN};
	struct afile a;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/firing", dir);
	snprintf(r.rule, sizeof(r.rule), "hot");
	snprintf(r.name, sizeof(r.name), "tab\there\nnewline %%41 \x1b[31m");
	snprintf(r.project_id, sizeof(r.project_id), "p1");
	assert_int_equal(afile_open(&a, path, err, sizeof(err)), 0);
	firing_put_row(a.f, &r);
	assert_int_equal(afile_commit(&a, err, sizeof(err)), 0);
	assert_int_equal(firing_read(path, keep_row, NULL), 1);
	assert_string_equal(got.name, r.name);
	assert_string_equal(got.project_id, "p1");
	assert_true(got.since == 1234.5 && isnan(got.value));
	assert_int_equal(firing_read("/nonexistent/firing", keep_row, NULL), -1);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(statefile_restores_without_notifying_again),
	    cmocka_unit_test(statefile_restored_node_that_stays_silent_goes_stale),
	    cmocka_unit_test(firing_file_round_trips_hostile_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
