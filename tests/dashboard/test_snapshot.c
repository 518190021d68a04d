/*
 * Tests of the snapshot reads the dashboard makes (src/store/snapshot.c,
 * through the read-only index it opens) and of its instance table
 * (dashboard/table.c) on a real index in a temp dir, written through the
 * store's index API: filters by project, host,
 * "no project" and none, stopped instances, unknown values, hosts, hostile
 * ids as bound parameters, and the server-side sort (empty lists
 * included).
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
#include <unistd.h>

#include <cmocka.h>

#include "index.h"
#include "page.h"
#include "snapshot.h"
#include "sm_uuid.h"

static char dir[64], path[128];
static const double T = 1800000000.0;

static void domain(struct agg_index *idx, const char *uuid, const char *project, const char *name,
		   const char *host, double cpu, bool latest)
{
	struct sm_domain_stats d = {0};

	assert_int_equal(sm_uuid_parse(uuid, d.uuid), 0);
	snprintf(d.name, sizeof(d.name), "lv-%s", name);
	d.state = 1;
	if (project) {
		d.has_identity = true;
		snprintf(d.identity.display_name, sizeof(d.identity.display_name), "%s", name);
		snprintf(d.identity.project_id, sizeof(d.identity.project_id), "%s", project);
		snprintf(d.identity.project_name, sizeof(d.identity.project_name), "name of %s",
			 project);
	}
	d.cpu_pct = cpu;
	d.steal_pct = NAN;
	d.load[0] = d.load[1] = d.load[2] = 0.5;
	d.mem_pct = NAN;
	assert_true(index_upsert_domain(idx, host, &d, T) >= 0);
	if (latest)
		assert_int_equal(index_put_latest(idx, &d, T), 1);
}

static int setup(void **state)
{
	struct agg_index *idx;
	struct sm_host_stats h = {0};

	snprintf(dir, sizeof(dir), "/tmp/sm-test-snap-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/index.sqlite", dir);
	idx = index_open(path, INDEX_READ_WRITE, NULL);
	assert_non_null(idx);
	assert_int_equal(index_begin(idx), 0);
	domain(idx, "10000000-0000-4000-8000-000000000001", "p1", "zeta", "cn1", 10, true);
	domain(idx, "10000000-0000-4000-8000-000000000002", "p1", "Alpha", "cn2", 90, true);
	domain(idx, "10000000-0000-4000-8000-000000000003", "p1", "mid", "cn2", NAN, false);
	domain(idx, "20000000-0000-4000-8000-000000000001", "p2", "other", "cn1", 50, true);
	domain(idx, "30000000-0000-4000-8000-000000000001", NULL, "bare", "cn1", 5, true);
	domain(idx, "10000000-0000-4000-8000-0000000000ff", "p1", "gone", "cn1", 1, true);
	h.ncpus = 8;
	h.cpu_pct = 42;
	h.load[0] = 1;
	h.mem_pct = 50;
	h.mem_total_kib = 1000;
	h.mem_used_kib = 500;
	h.libvirt_ok = true;
	assert_int_equal(index_put_host_latest(idx, "cn1", &h, 3, T), 1);
	assert_int_equal(index_commit(idx), 0);
	assert_int_equal(
	    index_domain_stopped(idx, "10000000-0000-4000-8000-0000000000ff", "cn1", T + 1, 60), 1);
	index_close(&idx);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const struct snap_row *find(const struct snap_list *l, const char *uuid)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->rows[i].uuid, uuid) == 0)
			return &l->rows[i];
	return NULL;
}

/* The fixture's index, read-only, as the dashboard opens it. */
static struct agg_index *open_ro(void)
{
	struct agg_index *idx = index_open(path, INDEX_READ_ONLY, NULL);

	assert_non_null(idx);
	return idx;
}

static void snapshot_lists_active_instances_of_one_project(void **state)
{
	struct agg_index *s = open_ro();
	struct snap_list l;
	const struct snap_row *r;

	assert_non_null(s);
	assert_int_equal(snapshot_list(s, SNAP_BY_PROJECT, "p1", &l), 0);
	assert_int_equal(l.n, 3); /* the stopped one is not listed */
	r = find(&l, "10000000-0000-4000-8000-000000000002");
	assert_non_null(r);
	assert_string_equal(r->display_name, "Alpha");
	assert_string_equal(r->project_name, "name of p1");
	assert_string_equal(r->host, "cn2");
	assert_true(r->v[SNAP_CPU] == 90);
	assert_true(isnan(r->v[SNAP_STEAL]));
	assert_true(r->time == T);
	/* Never reported a latest row: every value unknown, no time. */
	r = find(&l, "10000000-0000-4000-8000-000000000003");
	assert_true(isnan(r->time) && isnan(r->v[SNAP_CPU]) && isnan(r->v[SNAP_LOAD1]));
	assert_null(find(&l, "10000000-0000-4000-8000-0000000000ff"));
	snap_list_clear(&l);

	assert_int_equal(snapshot_list(s, SNAP_BY_PROJECT, "p2", &l), 0);
	assert_int_equal(l.n, 1);
	snap_list_clear(&l);
	assert_int_equal(snapshot_list(s, SNAP_WITHOUT_PROJECT, NULL, &l), 0);
	assert_int_equal(l.n, 1);
	assert_null(l.rows[0].project_id);
	snap_list_clear(&l);
	assert_int_equal(snapshot_list(s, SNAP_BY_HOST, "cn2", &l), 0);
	assert_int_equal(l.n, 2);
	snap_list_clear(&l);
	/* Every project's and none's, never the stopped one. */
	assert_int_equal(snapshot_list(s, SNAP_ALL, "ignored", &l), 0);
	assert_int_equal(l.n, 5);
	assert_null(find(&l, "10000000-0000-4000-8000-0000000000ff"));
	snap_list_clear(&l);
	index_close(&s);
	assert_null(s);
}

static void snapshot_hostile_ids_are_only_values(void **state)
{
	struct agg_index *s = open_ro();
	struct snap_list l;

	assert_int_equal(snapshot_list(s, SNAP_BY_PROJECT, "p1' OR '1'='1", &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(snapshot_list(s, SNAP_BY_PROJECT, "'); DROP TABLE domains;--", &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(snapshot_list(s, SNAP_BY_PROJECT, "p1", &l), 0);
	assert_int_equal(l.n, 3);
	snap_list_clear(&l);
	index_close(&s);
}

static void snapshot_get_finds_stopped_and_reports_unknown(void **state)
{
	struct agg_index *s = open_ro();
	struct snap_row r;

	assert_int_equal(snapshot_get(s, "10000000-0000-4000-8000-0000000000ff", &r), 1);
	assert_true(r.stopped_at == T + 1);
	snap_row_clear(&r);
	assert_int_equal(snapshot_get(s, "10000000-0000-4000-8000-000000000001", &r), 1);
	assert_true(isnan(r.stopped_at));
	snap_row_clear(&r);
	assert_int_equal(snapshot_get(s, "99999999-0000-4000-8000-000000000001", &r), 0);
	index_close(&s);
}

static void snapshot_hosts_with_and_without_latest(void **state)
{
	struct agg_index *s = open_ro();
	struct snap_hosts h;

	assert_int_equal(snapshot_hosts(s, NULL, &h), 0);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.rows[0].name, "cn1");
	assert_int_equal(h.rows[0].ncpus, 8);
	assert_true(h.rows[0].cpu_pct == 42);
	assert_int_equal(h.rows[0].libvirt_ok, 1);
	assert_int_equal(h.rows[0].active, 3); /* zeta, other, bare */
	assert_string_equal(h.rows[1].name, "cn2");
	assert_int_equal(h.rows[1].ncpus, -1);
	assert_true(isnan(h.rows[1].cpu_pct));
	assert_int_equal(h.rows[1].libvirt_ok, -1);
	snap_hosts_clear(&h);
	assert_int_equal(snapshot_hosts(s, "cn2", &h), 0);
	assert_int_equal(h.n, 1);
	snap_hosts_clear(&h);
	assert_int_equal(snapshot_hosts(s, "nope", &h), 0);
	assert_int_equal(h.n, 0);
	index_close(&s);
}

/* The snapshot reads through the index's own connection: what is not an
 * index is refused when it is opened. */
static void snapshot_index_refuses_what_is_not_an_index(void **state)
{
	enum index_error err = INDEX_OK;
	char junk[160];
	FILE *f;

	assert_null(index_open("/nonexistent/index.sqlite", INDEX_READ_ONLY, &err));
	assert_int_equal(err, INDEX_E_IO);
	snprintf(junk, sizeof(junk), "%s/junk.sqlite", dir);
	f = fopen(junk, "w");
	fputs("not sqlite at all, just some bytes that are long enough to look like a header", f);
	fclose(f);
	err = INDEX_OK;
	assert_null(index_open(junk, INDEX_READ_ONLY, &err));
	assert_int_not_equal(err, INDEX_OK);
}

static void table_sort_puts_unknown_last_both_ways(void **state)
{
	struct agg_index *s = open_ro();
	struct snap_list l;

	assert_int_equal(snapshot_list(s, SNAP_BY_PROJECT, "p1", &l), 0);
	table_sort(l.rows, l.n, SORT_CPU, true, T);
	assert_string_equal(l.rows[0].display_name, "Alpha");
	assert_string_equal(l.rows[2].display_name, "mid"); /* unknown cpu */
	table_sort(l.rows, l.n, SORT_CPU, false, T);
	assert_string_equal(l.rows[0].display_name, "zeta");
	assert_string_equal(l.rows[2].display_name, "mid");
	/* Names ignore case; ties broken by uuid so the order is total. */
	table_sort(l.rows, l.n, SORT_NAME, false, T);
	assert_string_equal(l.rows[0].display_name, "Alpha");
	assert_string_equal(l.rows[2].display_name, "zeta");
	table_sort(l.rows, l.n, SORT_NAME, true, T);
	assert_string_equal(l.rows[0].display_name, "zeta");
	table_sort(l.rows, l.n, SORT_AGE, false, T + 10);
	assert_string_equal(l.rows[2].display_name, "mid"); /* no point: last */
	snap_list_clear(&l);
	index_close(&s);

	assert_int_equal(sort_parse("rx"), SORT_RX);
	assert_int_equal(sort_parse("cpu;drop"), -1);
	assert_int_equal(sort_parse(NULL), -1);
	assert_string_equal(sort_name(SORT_LOAD15), "load15");
}

/* A project without instances gives rows == NULL, n == 0: sorting it is a
 * no-op, not a NULL handed to qsort_r (the sanitizer build aborts on it). */
static void table_sort_of_an_empty_list(void **state)
{
	struct agg_index *s = open_ro();
	struct snap_list l;

	assert_int_equal(snapshot_list(s, SNAP_BY_PROJECT, "no-such-project", &l), 0);
	assert_int_equal(l.n, 0);
	for (int k = 0; k < SORT_COUNT; k++) {
		table_sort(l.rows, l.n, (enum sort_key)k, false, T);
		table_sort(l.rows, l.n, (enum sort_key)k, true, T);
	}
	assert_int_equal(l.n, 0);
	snap_list_clear(&l);
	index_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(snapshot_lists_active_instances_of_one_project),
	    cmocka_unit_test(snapshot_hostile_ids_are_only_values),
	    cmocka_unit_test(snapshot_get_finds_stopped_and_reports_unknown),
	    cmocka_unit_test(snapshot_hosts_with_and_without_latest),
	    cmocka_unit_test(snapshot_index_refuses_what_is_not_an_index),
	    cmocka_unit_test(table_sort_puts_unknown_last_both_ways),
	    cmocka_unit_test(table_sort_of_an_empty_list),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
