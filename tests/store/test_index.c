/*
 * Tests of the aggregator's sqlite index: real sqlite files in a temp dir,
 * read back through the API and through a second, raw connection. Covers
 * schema creation and migrations, change detection, moves, loss accounting,
 * stop/purge/forget, read-only use, hostile names, and every sqlite failure
 * the index must survive (busy, full, read-only, corrupt, killed mid-write).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "index.h"
#include "index_schema.h"
#include "snapshot.h"
#include "sm_uuid.h"

/* Per-test fixture: a temp dir, the index path in it, and stderr capture. */
struct fixture {
	char dir[64];
	char path[128];
	char capture[160];
	int saved_stderr;
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sm-test-index-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/index.db", fx->dir);
	snprintf(fx->capture, sizeof(fx->capture), "%s/stderr.txt", fx->dir);
	fx->saved_stderr = -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx->saved_stderr >= 0) {
		dup2(fx->saved_stderr, STDERR_FILENO);
		close(fx->saved_stderr);
	}
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Sends stderr (where sm_log writes) to a file until capture_stop. */
static void capture_start(struct fixture *fx)
{
	int fd = open(fx->capture, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	fflush(stderr);
	fx->saved_stderr = dup(STDERR_FILENO);
	assert_true(fx->saved_stderr >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

/* Restores stderr; returns what was logged (caller frees). */
static char *capture_stop(struct fixture *fx)
{
	char *buf = calloc(1, 1 << 16);
	FILE *f;
	size_t n = 0;

	fflush(stderr);
	dup2(fx->saved_stderr, STDERR_FILENO);
	close(fx->saved_stderr);
	fx->saved_stderr = -1;
	f = fopen(fx->capture, "r");
	if (f && buf) {
		n = fread(buf, 1, (1 << 16) - 1, f);
		buf[n] = '\0';
	}
	if (f)
		fclose(f);
	/* Echo it, so a failing test still shows its log. */
	fputs(buf ? buf : "", stderr);
	return buf;
}

static int count_substr(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static bool file_exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* ---- helpers: domains, raw sqlite --------------------------------------- */

/* Domain number `i` on a fixed pattern; project "p<proj>" (none if proj < 0). */
static void mkdom(struct sm_domain_stats *d, uint32_t i, int proj)
{
	memset(d, 0, sizeof(*d));
	for (int b = 0; b < 16; b++)
		d->uuid[b] = (uint8_t)(0x10 + b);
	d->uuid[12] = (uint8_t)(i >> 24);
	d->uuid[13] = (uint8_t)(i >> 16);
	d->uuid[14] = (uint8_t)(i >> 8);
	d->uuid[15] = (uint8_t)i;
	snprintf(d->name, sizeof(d->name), "instance-%08x", i);
	d->state = 1;
	if (proj >= 0) {
		d->has_identity = true;
		snprintf(d->identity.display_name, sizeof(d->identity.display_name), "vm-%u", i);
		snprintf(d->identity.project_id, sizeof(d->identity.project_id), "p%d", proj);
		snprintf(d->identity.project_name, sizeof(d->identity.project_name), "project %d",
			 proj);
		snprintf(d->identity.user_id, sizeof(d->identity.user_id), "u%u", i % 7);
		snprintf(d->identity.user_name, sizeof(d->identity.user_name), "user %u", i % 7);
		snprintf(d->identity.flavor, sizeof(d->identity.flavor), "m1.small");
	}
}

static void uuid_of(const struct sm_domain_stats *d, char out[37])
{
	sm_uuid_format(d->uuid, out);
}

static sqlite3 *raw_open(const char *path, int flags)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, flags, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* First column of the first row of `sql`, as an integer (-999 if none). */
static int64_t raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -999;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int64_t path_int(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path, SQLITE_OPEN_READONLY);
	int64_t v = raw_int(db, sql);

	sqlite3_close(db);
	return v;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : "?");
}

static struct agg_index *open_rw(struct fixture *fx)
{
	enum index_error err = INDEX_E_INTERNAL;
	struct agg_index *idx = index_open(fx->path, INDEX_READ_WRITE, &err);

	assert_non_null(idx);
	assert_int_equal(err, INDEX_OK);
	return idx;
}

/* A copy of one domain row, taken in the callback. */
struct dom_copy {
	int calls;
	char uuid[37], name[SM_NAME_MAX + 1], display[SM_NAME_MAX + 1], project[SM_ID_MAX + 1];
	char host[SM_HOST_MAX + 1], user_name[SM_NAME_MAX + 1], flavor[SM_NAME_MAX + 1];
	bool has_display, has_project;
	uint32_t state;
	double first_seen, last_seen, stopped_at, purge_after;
};

static int copy_domain(void *arg, const struct index_domain *d)
{
	struct dom_copy *c = arg;

	c->calls++;
	snprintf(c->uuid, sizeof(c->uuid), "%s", d->uuid);
	snprintf(c->name, sizeof(c->name), "%s", d->name);
	c->has_display = d->display_name != NULL;
	snprintf(c->display, sizeof(c->display), "%s", d->display_name ? d->display_name : "");
	c->has_project = d->project_id != NULL;
	snprintf(c->project, sizeof(c->project), "%s", d->project_id ? d->project_id : "");
	snprintf(c->user_name, sizeof(c->user_name), "%s", d->user_name ? d->user_name : "");
	snprintf(c->flavor, sizeof(c->flavor), "%s", d->flavor ? d->flavor : "");
	snprintf(c->host, sizeof(c->host), "%s", d->host);
	c->state = d->state;
	c->first_seen = d->first_seen;
	c->last_seen = d->last_seen;
	c->stopped_at = d->stopped_at;
	c->purge_after = d->purge_after;
	return 0;
}

static struct dom_copy get_dom(struct agg_index *idx, const char *uuid)
{
	struct dom_copy c = {0};

	assert_int_equal(index_get_domain(idx, uuid, copy_domain, &c), 1);
	assert_int_equal(c.calls, 1);
	return c;
}

static int count_cb(void *arg, const void *row)
{
	(*(int *)arg)++;
	return 0;
}

static int count_domain(void *arg, const struct index_domain *d)
{
	return count_cb(arg, d);
}

static int count_metric(void *arg, const struct index_metric *m)
{
	return count_cb(arg, m);
}

static int count_move(void *arg, const struct index_move *m)
{
	return count_cb(arg, m);
}

static int count_project(void *arg, const struct index_project *p)
{
	return count_cb(arg, p);
}

/* ---- schema ---------------------------------------------------------- */

static void index_creates_versioned_wal_schema(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	sqlite3 *db = index_sqlite(idx);

	assert_string_equal(index_path(idx), fx->path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), INDEX_SCHEMA_VERSION);
	assert_int_equal(raw_int(db, "PRAGMA application_id"), INDEX_APPLICATION_ID);
	assert_int_equal(raw_int(db, "PRAGMA foreign_keys"), 1);
	assert_int_equal(raw_int(db, "PRAGMA synchronous"), 1); /* NORMAL */
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND"
				     " name IN ('hosts', 'host_streams', 'tenants', 'domains',"
				     " 'domain_moves', 'metrics')"),
			 6);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'host_loss'"),
			 1);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND"
				     " name IN ('latest', 'host_latest')"),
			 2);
	index_close(&idx);
	assert_null(idx);
	index_close(&idx); /* NULL-safe */
	index_close(NULL);

	/* WAL is a property of the file; -wal and -shm stay for read-only readers. */
	assert_int_equal(path_int(fx->path, "SELECT count(*) FROM pragma_journal_mode"
					    " WHERE journal_mode = 'wal'"),
			 1);
	{
		char wal[160], shm[160];

		snprintf(wal, sizeof(wal), "%s-wal", fx->path);
		snprintf(shm, sizeof(shm), "%s-shm", fx->path);
		assert_true(file_exists(wal));
		assert_true(file_exists(shm));
	}
	/* Reopening an up-to-date file changes nothing. */
	idx = open_rw(fx);
	assert_int_equal(raw_int(index_sqlite(idx), "PRAGMA user_version"), INDEX_SCHEMA_VERSION);
	index_close(&idx);
}

/* ---- upsert ---------------------------------------------------------- */

static void index_upsert_writes_only_changes(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d;
	struct index_stats before, after;
	struct dom_copy c;
	char uuid[37];

	mkdom(&d, 1, 7);
	uuid_of(&d, uuid);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1000.0), INDEX_NEW);
	c = get_dom(idx, uuid);
	assert_string_equal(c.uuid, uuid);
	assert_string_equal(c.name, "instance-00000001");
	assert_string_equal(c.display, "vm-1");
	assert_string_equal(c.project, "p7");
	assert_string_equal(c.host, "cn1");
	assert_string_equal(c.flavor, "m1.small");
	assert_int_equal(c.state, 1);
	assert_true(c.first_seen == 1000.0 && c.last_seen == 1000.0);
	assert_true(isnan(c.stopped_at) && isnan(c.purge_after));

	/* Same facts within the touch interval: not a single row written. */
	index_get_stats(idx, &before);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1001.0), INDEX_UNCHANGED);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1009.5), INDEX_UNCHANGED);
	index_get_stats(idx, &after);
	assert_int_equal(after.rows_written, before.rows_written);
	assert_true(get_dom(idx, uuid).last_seen == 1000.0);

	/* A touch interval later, last_seen moves (and nothing else). */
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1010.0), INDEX_TOUCHED);
	assert_true(get_dom(idx, uuid).last_seen == 1010.0);

	/* Each fact is compared: state, name, identity. */
	d.state = 3;
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1011.0), INDEX_CHANGED);
	assert_int_equal(get_dom(idx, uuid).state, 3);
	snprintf(d.name, sizeof(d.name), "renamed");
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1012.0), INDEX_CHANGED);
	assert_string_equal(get_dom(idx, uuid).name, "renamed");
	snprintf(d.identity.display_name, sizeof(d.identity.display_name), "web-2");
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1013.0), INDEX_CHANGED);
	assert_string_equal(get_dom(idx, uuid).display, "web-2");
	snprintf(d.identity.flavor, sizeof(d.identity.flavor), "m1.large");
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1014.0), INDEX_CHANGED);
	assert_string_equal(get_dom(idx, uuid).flavor, "m1.large");
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1014.5), INDEX_UNCHANGED);

	/* Losing the Nova identity clears it. */
	d.has_identity = false;
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1015.0), INDEX_CHANGED);
	c = get_dom(idx, uuid);
	assert_false(c.has_display);
	assert_false(c.has_project);
	assert_true(c.first_seen == 1000.0 && c.last_seen == 1015.0);

	/* A late frame (older than what is stored) changes nothing. */
	d.state = 1;
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1001.0), INDEX_IGNORED);
	assert_int_equal(get_dom(idx, uuid).state, 3);

	/* Touch interval 0: every newer frame writes last_seen. */
	index_set_touch_interval(idx, 0);
	d.state = 3;
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1016.0), INDEX_TOUCHED);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1016.0), INDEX_UNCHANGED);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1016.5), INDEX_TOUCHED);
	index_close(&idx);
}

static void index_touches_unchanged_domains_together(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats a, b;

	/* Created 6 s apart, but their last_seen falls due in the same frame (on
	 * the 10 s grid), so a page holding both is written once. */
	mkdom(&a, 1, -1);
	mkdom(&b, 2, -1);
	assert_int_equal(index_upsert_domain(idx, "cn1", &a, 1001.0), INDEX_NEW);
	assert_int_equal(index_upsert_domain(idx, "cn1", &b, 1007.0), INDEX_NEW);
	for (double t = 1008.0; t < 1010.0; t += 1.0) {
		assert_int_equal(index_upsert_domain(idx, "cn1", &a, t), INDEX_UNCHANGED);
		assert_int_equal(index_upsert_domain(idx, "cn1", &b, t), INDEX_UNCHANGED);
	}
	assert_int_equal(index_upsert_domain(idx, "cn1", &a, 1010.0), INDEX_TOUCHED);
	assert_int_equal(index_upsert_domain(idx, "cn1", &b, 1010.0), INDEX_TOUCHED);
	for (double t = 1011.0; t < 1020.0; t += 1.0) {
		assert_int_equal(index_upsert_domain(idx, "cn1", &a, t), INDEX_UNCHANGED);
		assert_int_equal(index_upsert_domain(idx, "cn1", &b, t), INDEX_UNCHANGED);
	}
	assert_int_equal(index_upsert_domain(idx, "cn1", &b, 1020.5), INDEX_TOUCHED);
	index_close(&idx);
}

static int copy_project(void *arg, const struct index_project *p)
{
	struct index_project *out = arg;
	static char id[SM_ID_MAX + 1], name[SM_NAME_MAX + 1];

	snprintf(id, sizeof(id), "%s", p->project_id);
	snprintf(name, sizeof(name), "%s", p->project_name);
	*out = *p;
	out->project_id = id;
	out->project_name = name;
	return 0;
}

static void index_tracks_tenants_and_lists_by_project(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d;
	struct index_project p = {0};
	char uuid[37];
	int n = 0;

	assert_int_equal(index_begin(idx), 0);
	for (uint32_t i = 0; i < 6; i++) {
		mkdom(&d, i, i < 4 ? (int)(i % 2) : -1); /* p0: 0,2  p1: 1,3  none: 4,5 */
		assert_int_equal(index_upsert_domain(idx, "cn1", &d, 100.0), INDEX_NEW);
	}
	assert_int_equal(index_commit(idx), 0);

	assert_int_equal(index_list_projects(idx, count_project, &n), 2);
	n = 0;
	assert_int_equal(index_list_domains(idx, "p0", 0, count_domain, &n), 2);
	n = 0;
	assert_int_equal(index_list_domains(idx, "p1", 0, count_domain, &n), 2);
	n = 0;
	assert_int_equal(index_list_domains(idx, "", 0, count_domain, &n), 2);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(index_list_domains(idx, NULL, 0, count_domain, &n), 6);
	n = 0;
	assert_int_equal(index_list_domains(idx, "nosuch", 0, count_domain, &n), 0);

	/* A renamed tenant is renamed on the next write of one of its domains. */
	mkdom(&d, 0, 0);
	snprintf(d.identity.project_name, sizeof(d.identity.project_name), "renamed project");
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 200.0), INDEX_TOUCHED);
	assert_int_equal(index_list_projects(idx, copy_project, &p), 2);
	/* Ordered by name: "project 1" < "renamed project". */
	assert_string_equal(p.project_id, "p0");
	assert_string_equal(p.project_name, "renamed project");
	assert_true(p.first_seen == 100.0 && p.last_seen == 200.0);
	assert_int_equal(p.active_domains, 2);
	assert_int_equal(p.domains, 2);

	/* Stopped domains are listed only on request. */
	mkdom(&d, 2, 0);
	uuid_of(&d, uuid);
	assert_int_equal(index_domain_stopped(idx, uuid, "cn1", 300.0, 60.0), 1);
	n = 0;
	assert_int_equal(index_list_domains(idx, "p0", 0, count_domain, &n), 1);
	n = 0;
	assert_int_equal(index_list_domains(idx, "p0", INDEX_LIST_STOPPED, count_domain, &n), 2);
	assert_int_equal(index_list_projects(idx, copy_project, &p), 2);
	assert_int_equal(p.active_domains, 1);
	assert_int_equal(p.domains, 2);
	index_close(&idx);
}

/* ---- moves ----------------------------------------------------------- */

struct moves_copy {
	int n;
	char from[4][SM_HOST_MAX + 1], to[4][SM_HOST_MAX + 1];
	double at[4];
};

static int copy_move(void *arg, const struct index_move *m)
{
	struct moves_copy *c = arg;

	if (c->n < 4) {
		snprintf(c->from[c->n], sizeof(c->from[0]), "%s", m->from_host);
		snprintf(c->to[c->n], sizeof(c->to[0]), "%s", m->to_host);
		c->at[c->n] = m->at;
	}
	c->n++;
	return 0;
}

static void index_records_moves_between_hosts(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d;
	struct moves_copy mv = {0};
	char uuid[37];

	mkdom(&d, 42, 1);
	uuid_of(&d, uuid);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 100.0), INDEX_NEW);
	/* Live migration to cn2: the incoming copy is paused while cn1 runs it. */
	d.state = 3;
	assert_int_equal(index_upsert_domain(idx, "cn2", &d, 101.0), INDEX_IGNORED);
	d.state = 1;
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 101.0), INDEX_UNCHANGED);
	/* Switch-over: cn2 runs it. */
	assert_int_equal(index_upsert_domain(idx, "cn2", &d, 103.0), INDEX_MOVED);
	assert_string_equal(get_dom(idx, uuid).host, "cn2");
	/* The source's paused leftover and its late frames do not move it back. */
	d.state = 3;
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 104.0), INDEX_IGNORED);
	d.state = 1;
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 102.5), INDEX_IGNORED);
	assert_int_equal(index_upsert_domain(idx, "cn2", &d, 104.0), INDEX_UNCHANGED);
	assert_string_equal(get_dom(idx, uuid).host, "cn2");

	/* A paused copy elsewhere takes over once the current host went quiet. */
	d.state = 3;
	assert_int_equal(index_upsert_domain(idx, "cn3", &d, 103.0 + 10 + 30 + 1), INDEX_MOVED);

	assert_int_equal(index_list_moves(idx, uuid, copy_move, &mv), 2);
	assert_string_equal(mv.from[0], "cn1");
	assert_string_equal(mv.to[0], "cn2");
	assert_true(mv.at[0] == 103.0);
	assert_string_equal(mv.from[1], "cn2");
	assert_string_equal(mv.to[1], "cn3");
	assert_string_equal(get_dom(idx, uuid).host, "cn3");
	assert_int_equal(get_dom(idx, uuid).state, 3);
	index_close(&idx);
}

/* ---- frame loss ------------------------------------------------------ */

struct host_copy {
	int n;
	char name[SM_HOST_MAX + 1];
	struct index_host h;
};

static int copy_host(void *arg, const struct index_host *h)
{
	struct host_copy *c = arg;

	if (strcmp(h->name, c->name) == 0)
		c->h = *h;
	c->n++;
	return 0;
}

static struct index_host host_totals(struct agg_index *idx, const char *name)
{
	struct host_copy c = {0};

	snprintf(c.name, sizeof(c.name), "%s", name);
	assert_true(index_list_hosts(idx, copy_host, &c) >= 1);
	return c.h;
}

static void note(struct agg_index *idx, const char *host, enum sm_msg_kind kind, uint64_t epoch,
		 uint64_t seq, struct index_frame_note *v)
{
	assert_int_equal(index_note_frame(idx, host, kind, epoch, seq, 1000.0 + (double)seq, v), 0);
}

static void index_counts_loss_duplicates_and_restarts(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	const uint64_t e1 = 0xfedcba9876543210ull, e2 = 7; /* e1 > INT64_MAX on purpose */
	struct index_frame_note v;
	struct index_host h;

	note(idx, "cn1", SM_KIND_STATS, e1, 1, &v);
	assert_true(v.first && !v.restart && !v.duplicate && v.lost == 0);
	note(idx, "cn1", SM_KIND_STATS, e1, 2, &v);
	assert_true(!v.first && v.lost == 0);
	note(idx, "cn1", SM_KIND_STATS, e1, 5, &v); /* 3 and 4 lost */
	assert_int_equal(v.lost, 2);
	note(idx, "cn1", SM_KIND_STATS, e1, 5, &v); /* duplicate */
	assert_true(v.duplicate && v.lost == 0);
	note(idx, "cn1", SM_KIND_STATS, e1, 3, &v); /* reordered: not loss, not un-loss */
	assert_true(v.duplicate && v.lost == 0);
	note(idx, "cn1", SM_KIND_STATS, e1, 6, &v); /* last stayed 5 */
	assert_true(!v.duplicate && v.lost == 0);
	/* Another kind has its own sequence. */
	note(idx, "cn1", SM_KIND_EVENT, e1, 1, &v);
	assert_true(v.first && v.lost == 0);
	note(idx, "cn1", SM_KIND_EVENT, e1, 2, &v);
	assert_int_equal(v.lost, 0);
	/* A restart (new epoch) resets counting without loss. */
	note(idx, "cn1", SM_KIND_STATS, e2, 9, &v);
	assert_true(v.restart && v.lost == 0 && !v.duplicate);
	note(idx, "cn1", SM_KIND_STATS, e2, 10, &v);
	assert_true(!v.restart && v.lost == 0);
	note(idx, "cn1", SM_KIND_STATS, e2, 12, &v);
	assert_int_equal(v.lost, 1);
	/* Another host counts on its own. */
	note(idx, "cn2", SM_KIND_STATS, e2, 1, &v);

	h = host_totals(idx, "cn1");
	assert_int_equal(h.received, 11);
	assert_int_equal(h.lost, 3);
	assert_int_equal(h.duplicates, 2);
	assert_int_equal(h.restarts, 1);
	assert_true(h.first_seen == 1001.0 && h.last_seen == 1012.0);
	h = host_totals(idx, "cn2");
	assert_int_equal(h.received, 1);
	assert_int_equal(h.lost, 0);

	/* The uint64 epoch survives the signed column; counting goes on after reopen. */
	index_close(&idx);
	idx = open_rw(fx);
	note(idx, "cn1", SM_KIND_EVENT, e1, 4, &v);
	assert_true(!v.restart && v.lost == 1);
	note(idx, "cn1", SM_KIND_STATS, e2, 13, &v);
	assert_true(!v.restart && v.lost == 0);
	assert_int_equal(host_totals(idx, "cn1").lost, 4);
	/* The view documented for the dashboard agrees. */
	assert_int_equal(
	    raw_int(index_sqlite(idx), "SELECT lost FROM host_loss WHERE host = 'cn1'"), 4);
	index_close(&idx);
}

/* ---- stop, purge, forget ---------------------------------------------- */

struct purge_list {
	int n;
	char uuid[8][37];
	double stopped_at[8];
	struct agg_index *forget; /* if set, forget each domain from the callback */
};

static int collect_purge(void *arg, const char *uuid, double stopped_at)
{
	struct purge_list *p = arg;

	if (p->n < 8) {
		snprintf(p->uuid[p->n], sizeof(p->uuid[0]), "%s", uuid);
		p->stopped_at[p->n] = stopped_at;
	}
	p->n++;
	if (p->forget)
		assert_int_equal(index_forget_domain(p->forget, uuid), 1);
	return 0;
}

static void index_stops_domains_and_lists_purges_after_grace(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d, other;
	struct purge_list p = {0};
	struct dom_copy c;
	char uuid[37], other_uuid[37];

	mkdom(&d, 1, 1);
	uuid_of(&d, uuid);
	mkdom(&other, 2, 1);
	uuid_of(&other, other_uuid);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 100.0), INDEX_NEW);
	assert_int_equal(index_upsert_domain(idx, "cn1", &other, 100.0), INDEX_NEW);

	/* Not from another host, not before the last report, not unknown. */
	assert_int_equal(index_domain_stopped(idx, uuid, "cn2", 200.0, 3600.0), 0);
	assert_int_equal(index_domain_stopped(idx, uuid, "cn1", 50.0, 3600.0), 0);
	assert_int_equal(
	    index_domain_stopped(idx, "00000000-0000-0000-0000-000000000000", NULL, 200.0, 3600.0),
	    0);
	assert_int_equal(index_domain_stopped(idx, uuid, "cn1", 200.0, 3600.0), 1);
	assert_int_equal(index_domain_stopped(idx, uuid, NULL, 250.0, 3600.0), 0); /* already */
	c = get_dom(idx, uuid);
	assert_true(c.stopped_at == 200.0 && c.purge_after == 3800.0);

	/* Within the grace period nothing is due. */
	assert_int_equal(index_next_purges(idx, 3799.0, 10, collect_purge, &p), 0);
	assert_int_equal(p.n, 0);

	/* A late frame from before the stop does not bring it back; a later one does. */
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 150.0), INDEX_IGNORED);
	assert_false(isnan(get_dom(idx, uuid).stopped_at));
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 300.0), INDEX_CHANGED);
	c = get_dom(idx, uuid);
	assert_true(isnan(c.stopped_at) && isnan(c.purge_after) && c.last_seen == 300.0);
	assert_int_equal(index_next_purges(idx, 1e12, 10, collect_purge, &p), 0);

	/* Stopped again; with grace 0 it is due at once, oldest first. */
	assert_int_equal(index_domain_stopped(idx, uuid, "cn1", 400.0, 0.0), 1);
	assert_int_equal(index_domain_stopped(idx, other_uuid, "cn1", 500.0, 0.0), 1);
	assert_int_equal(index_next_purges(idx, 400.0, 10, collect_purge, &p), 1);
	assert_string_equal(p.uuid[0], uuid);
	assert_true(p.stopped_at[0] == 400.0);
	p.n = 0;
	assert_int_equal(index_next_purges(idx, 1000.0, 1, collect_purge, &p), 1); /* max */
	p.n = 0;
	assert_int_equal(index_next_purges(idx, 1000.0, 10, collect_purge, &p), 2);
	assert_string_equal(p.uuid[0], uuid);
	assert_string_equal(p.uuid[1], other_uuid);

	/* The callback may forget each one: the listing was read first. */
	p = (struct purge_list){.forget = idx};
	assert_int_equal(index_next_purges(idx, 1000.0, 10, collect_purge, &p), 2);
	assert_int_equal(index_next_purges(idx, 1e12, 10, collect_purge, &p), 0);
	assert_int_equal(index_get_domain(idx, uuid, copy_domain, &c), 0);
	index_close(&idx);
}

static void index_stops_stale_domains(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d;
	struct dom_copy c;
	char old_uuid[37], fresh_uuid[37];

	mkdom(&d, 1, -1);
	uuid_of(&d, old_uuid);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 100.0), INDEX_NEW);
	mkdom(&d, 2, -1);
	uuid_of(&d, fresh_uuid);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 900.0), INDEX_NEW);

	assert_int_equal(index_stop_stale(idx, 1000.0, 300.0, 60.0), 1);
	c = get_dom(idx, old_uuid);
	assert_true(c.stopped_at == 100.0 && c.purge_after == 1060.0);
	assert_true(isnan(get_dom(idx, fresh_uuid).stopped_at));
	assert_int_equal(index_stop_stale(idx, 1000.0, 300.0, 60.0), 0); /* idempotent */
	index_close(&idx);
}

static void index_forget_removes_every_trace(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats a, b;
	char ua[37], ub[37];
	int n = 0;

	mkdom(&a, 1, 5);
	uuid_of(&a, ua);
	mkdom(&b, 2, 5);
	uuid_of(&b, ub);
	assert_int_equal(index_upsert_domain(idx, "cn1", &a, 100.0), INDEX_NEW);
	assert_int_equal(index_upsert_domain(idx, "cn1", &b, 100.0), INDEX_NEW);
	assert_int_equal(index_upsert_domain(idx, "cn2", &a, 200.0), INDEX_MOVED);
	assert_int_equal(index_register_metric(idx, ua, NULL, "cpu_pct", "d/a/cpu_pct.wsp", 100.0),
			 1);
	assert_int_equal(index_register_metric(idx, ua, NULL, "mem_pct", "d/a/mem_pct.wsp", 100.0),
			 1);
	assert_int_equal(index_register_metric(idx, ub, NULL, "cpu_pct", "d/b/cpu_pct.wsp", 100.0),
			 1);
	assert_int_equal(
	    index_register_metric(idx, NULL, "cn1", "cpu_pct", "h/cn1/cpu_pct.wsp", 100.0), 1);

	assert_int_equal(index_forget_domain(idx, ua), 1);
	assert_int_equal(index_get_domain(idx, ua, count_domain, &n), 0);
	assert_int_equal(index_list_metrics(idx, ua, NULL, count_metric, &n), 0);
	assert_int_equal(index_list_moves(idx, ua, count_move, &n), 0);
	/* Others untouched; the tenant stays while b uses it. */
	assert_int_equal(index_list_metrics(idx, ub, NULL, count_metric, &n), 1);
	assert_int_equal(index_list_metrics(idx, NULL, "cn1", count_metric, &n), 1);
	assert_int_equal(index_list_projects(idx, count_project, &n), 1);
	assert_int_equal(index_forget_domain(idx, ua), 0); /* already gone */

	/* The last domain of a tenant takes the tenant with it. */
	assert_int_equal(index_forget_domain(idx, ub), 1);
	assert_int_equal(index_list_projects(idx, count_project, &n), 0);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM domains"), 0);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM domain_moves"), 0);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM metrics"),
			 1); /* host's */
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM hosts"), 2);
	assert_int_equal(raw_int(index_sqlite(idx), "PRAGMA foreign_key_check"),
			 -999); /* no rows */
	index_close(&idx);
}

/* ---- metrics --------------------------------------------------------- */

struct metric_copy {
	int n;
	char name[4][64], path[4][128];
	bool has_uuid[4], has_host[4];
};

static int copy_metric(void *arg, const struct index_metric *m)
{
	struct metric_copy *c = arg;

	if (c->n < 4) {
		snprintf(c->name[c->n], sizeof(c->name[0]), "%s", m->name);
		snprintf(c->path[c->n], sizeof(c->path[0]), "%s", m->path);
		c->has_uuid[c->n] = m->uuid != NULL;
		c->has_host[c->n] = m->host != NULL;
	}
	c->n++;
	return 0;
}

static void index_registers_metric_files(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d;
	struct metric_copy mc = {0};
	char uuid[37];
	static const char *const bad_paths[] = {
	    "", "/etc/passwd", "../x.wsp", "a/../../b.wsp", "a//b.wsp", "a/", "./a.wsp", "a/..",
	};

	mkdom(&d, 1, -1);
	uuid_of(&d, uuid);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 100.0), INDEX_NEW);
	assert_int_equal(index_register_metric(idx, uuid, NULL, "mem_pct", "x/mem.wsp", 100.0), 1);
	assert_int_equal(index_register_metric(idx, uuid, NULL, "cpu_pct", "x/cpu.wsp", 100.0), 1);
	assert_int_equal(index_register_metric(idx, uuid, NULL, "cpu_pct", "x/cpu.wsp", 101.0), 0);
	assert_int_equal(index_register_metric(idx, uuid, NULL, "cpu_pct", "y/cpu.wsp", 102.0), 1);
	/* Host metrics; the host row is created if needed. */
	assert_int_equal(index_register_metric(idx, NULL, "cn9", "load1", "h/cn9/load1.wsp", 100.0),
			 1);
	assert_int_equal(index_list_metrics(idx, uuid, NULL, copy_metric, &mc), 2);
	assert_string_equal(mc.name[0], "cpu_pct");
	assert_string_equal(mc.path[0], "y/cpu.wsp");
	assert_true(mc.has_uuid[0] && !mc.has_host[0]);
	assert_string_equal(mc.name[1], "mem_pct");
	mc.n = 0;
	assert_int_equal(index_list_metrics(idx, NULL, "cn9", copy_metric, &mc), 1);
	assert_true(!mc.has_uuid[0] && mc.has_host[0]);

	/* Refused: paths that could leave the data directory, missing scope. */
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		assert_int_equal(index_register_metric(idx, uuid, NULL, "m", bad_paths[i], 1.0),
				 -1);
		assert_int_equal(index_last_error(idx), INDEX_E_INVALID);
	}
	assert_int_equal(index_register_metric(idx, uuid, "cn1", "m", "ok.wsp", 1.0), -1);
	assert_int_equal(index_register_metric(idx, NULL, NULL, "m", "ok.wsp", 1.0), -1);
	assert_int_equal(index_register_metric(idx, uuid, NULL, "", "ok.wsp", 1.0), -1);

	/* An unknown domain, or a path another metric owns, fails without
	 * spoiling the frame's transaction. */
	assert_int_equal(index_begin(idx), 0);
	assert_int_equal(index_register_metric(idx, "99999999-9999-9999-9999-999999999999", NULL,
					       "cpu_pct", "z/cpu.wsp", 1.0),
			 -1);
	assert_int_equal(index_last_error(idx), INDEX_E_INVALID);
	assert_int_equal(index_register_metric(idx, uuid, NULL, "other", "y/cpu.wsp", 1.0), -1);
	assert_int_equal(index_last_error(idx), INDEX_E_INVALID);
	assert_int_equal(index_register_metric(idx, uuid, NULL, "steal_pct", "x/steal.wsp", 1.0),
			 1);
	assert_int_equal(index_commit(idx), 0);
	mc.n = 0;
	assert_int_equal(index_list_metrics(idx, uuid, NULL, copy_metric, &mc), 3);
	index_close(&idx);
}

/* ---- hostile input ---------------------------------------------------- */

static void index_stores_hostile_names_byte_exact(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d;
	struct dom_copy c;
	char uuid[37], long_name[SM_NAME_MAX + 1];
	size_t o = 0;

	/* 255 bytes of UTF-8: 84 three-byte characters and 3 ASCII bytes. */
	while (o + 3 <= 252) {
		memcpy(long_name + o, "\xe2\x82\xac", 3); /* € */
		o += 3;
	}
	memcpy(long_name + o, "'\";", 3);
	o += 3;
	long_name[o] = '\0';
	assert_int_equal(strlen(long_name), 255);

	mkdom(&d, 1, 0);
	uuid_of(&d, uuid);
	snprintf(d.identity.display_name, sizeof(d.identity.display_name), "%s",
		 "'); DROP TABLE domains;--");
	snprintf(d.name, sizeof(d.name), "%s", long_name);
	snprintf(d.identity.user_name, sizeof(d.identity.user_name), "%s",
		 "Robert\"); DELETE FROM tenants; -- %s%n \\ ?1 :a @b $c");
	snprintf(d.identity.project_id, sizeof(d.identity.project_id), "%s", "p' OR '1'='1");
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 100.0), INDEX_NEW);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 101.0), INDEX_UNCHANGED);

	c = get_dom(idx, uuid);
	assert_int_equal(strlen(c.name), 255);
	assert_memory_equal(c.name, long_name, 256);
	assert_string_equal(c.display, "'); DROP TABLE domains;--");
	assert_string_equal(c.user_name, "Robert\"); DELETE FROM tenants; -- %s%n \\ ?1 :a @b $c");
	assert_string_equal(c.project, "p' OR '1'='1");
	{
		int n = 0;

		assert_int_equal(index_list_domains(idx, "p' OR '1'='1", 0, count_domain, &n), 1);
		assert_int_equal(index_list_domains(idx, "p0", 0, count_domain, &n), 0);
	}
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM sqlite_schema WHERE"
						    " name IN ('domains', 'tenants')"),
			 2);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM tenants"), 1);
	index_close(&idx);
}

static void index_refuses_bad_arguments(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d;
	char long_host[SM_HOST_MAX + 2];
	struct dom_copy c;
	int n = 0;

	memset(long_host, 'h', sizeof(long_host) - 1);
	long_host[sizeof(long_host) - 1] = '\0';
	mkdom(&d, 1, -1);
	capture_start(fx);
	assert_int_equal(index_upsert_domain(idx, "", &d, 1.0), -1);
	assert_int_equal(index_upsert_domain(idx, "../cn1", &d, 1.0), -1);
	assert_int_equal(index_upsert_domain(idx, long_host, &d, 1.0), -1);
	assert_int_equal(index_upsert_domain(idx, NULL, &d, 1.0), -1);
	assert_int_equal(index_upsert_domain(idx, "cn1", NULL, 1.0), -1);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, NAN), -1);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, INFINITY), -1);
	assert_int_equal(index_note_frame(idx, "cn 1", SM_KIND_STATS, 1, 1, 1.0, NULL), -1);
	assert_int_equal(index_note_frame(idx, "cn1", (enum sm_msg_kind)99, 1, 1, 1.0, NULL), -1);
	assert_int_equal(index_domain_stopped(idx, "not-a-uuid", NULL, 1.0, 1.0), -1);
	assert_int_equal(index_domain_stopped(idx, NULL, NULL, 1.0, 1.0), -1);
	assert_int_equal(
	    index_domain_stopped(idx, "00000000-0000-0000-0000-000000000000", NULL, 1.0, -1.0), -1);
	assert_int_equal(index_forget_domain(idx, "0000"), -1);
	assert_int_equal(
	    index_get_domain(idx, "zzzzzzzz-0000-0000-0000-000000000000", copy_domain, &c), -1);
	assert_int_equal(index_list_metrics(idx, NULL, NULL, count_metric, &n), -1);
	assert_int_equal(index_list_moves(idx, "../etc/passwd", count_move, &n), -1);
	assert_int_equal(n, 0);
	assert_int_equal(index_list_domains(idx, NULL, 0, NULL, NULL), -1);
	assert_int_equal(index_stop_stale(idx, NAN, 1.0, 1.0), -1);
	assert_int_equal(index_next_purges(idx, 1.0, 1, NULL, NULL), -1);
	{
		enum index_error err = INDEX_OK;
		char missing[160];

		snprintf(missing, sizeof(missing), "%s/no/such/dir/index.db", fx->dir);
		assert_null(index_open(missing, INDEX_READ_WRITE, &err));
		assert_int_equal(err, INDEX_E_IO);
		assert_null(index_open("", INDEX_READ_WRITE, &err));
		assert_int_equal(err, INDEX_E_INVALID);
		assert_null(index_open(NULL, INDEX_READ_ONLY, &err));
	}
	free(capture_stop(fx));
	assert_int_equal(index_last_error(idx), INDEX_E_INVALID);
	/* NULL handles are refused too. */
	assert_int_equal(index_begin(NULL), -1);
	assert_int_equal(index_upsert_domain(NULL, "cn1", &d, 1.0), -1);
	assert_int_equal(index_list_hosts(NULL, NULL, NULL), -1);
	index_rollback(NULL);
	/* Nothing was written. */
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM domains"), 0);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM hosts"), 0);
	index_close(&idx);
}

static void index_accepts_any_uuid_spelling(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d;
	char uuid[37], upper[37], plain[33];
	size_t o = 0;

	mkdom(&d, 0xabcdef, -1);
	uuid_of(&d, uuid);
	for (size_t i = 0; i <= 36; i++)
		upper[i] = (char)(uuid[i] >= 'a' && uuid[i] <= 'f' ? uuid[i] - 32 : uuid[i]);
	for (size_t i = 0; i < 36; i++)
		if (uuid[i] != '-')
			plain[o++] = uuid[i];
	plain[o] = '\0';
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1.0), INDEX_NEW);
	assert_string_equal(get_dom(idx, upper).uuid, uuid);
	assert_string_equal(get_dom(idx, plain).uuid, uuid);
	assert_int_equal(index_domain_stopped(idx, upper, "cn1", 2.0, 0.0), 1);
	assert_int_equal(index_forget_domain(idx, plain), 1);
	index_close(&idx);
}

/* ---- transactions ---------------------------------------------------- */

static void index_frame_transaction_is_all_or_nothing(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d;
	struct index_stats st;
	int n = 0;

	/* Misuse is refused. */
	capture_start(fx);
	assert_int_equal(index_commit(idx), -1);
	assert_int_equal(index_begin(idx), 0);
	assert_int_equal(index_begin(idx), -1);
	free(capture_stop(fx));

	/* A frame is visible to readers only once committed. */
	for (uint32_t i = 0; i < 10; i++) {
		mkdom(&d, i, 1);
		assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1.0), INDEX_NEW);
	}
	assert_int_equal(path_int(fx->path, "SELECT count(*) FROM domains"), 0);
	assert_int_equal(index_commit(idx), 0);
	assert_int_equal(path_int(fx->path, "SELECT count(*) FROM domains"), 10);

	/* Rolled back: nothing of the frame stays, not even its host. */
	assert_int_equal(index_begin(idx), 0);
	assert_int_equal(index_note_frame(idx, "cn2", SM_KIND_STATS, 1, 1, 2.0, NULL), 0);
	mkdom(&d, 100, 2);
	assert_int_equal(index_upsert_domain(idx, "cn2", &d, 2.0), INDEX_NEW);
	index_rollback(idx);
	index_rollback(idx); /* no-op without a transaction */
	assert_int_equal(index_list_domains(idx, NULL, 0, count_domain, &n), 10);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM hosts"), 1);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM tenants"), 1);

	/* The host cache of a rolled-back frame does not leak into the next. */
	assert_int_equal(index_begin(idx), 0);
	assert_int_equal(index_upsert_domain(idx, "cn2", &d, 3.0), INDEX_NEW);
	assert_int_equal(index_commit(idx), 0);

	/* A write outside begin/commit commits by itself. */
	mkdom(&d, 101, 2);
	assert_int_equal(index_upsert_domain(idx, "cn2", &d, 3.0), INDEX_NEW);
	assert_int_equal(path_int(fx->path, "SELECT count(*) FROM domains"), 12);

	/* Closing inside a transaction rolls it back. */
	assert_int_equal(index_begin(idx), 0);
	mkdom(&d, 102, 2);
	assert_int_equal(index_upsert_domain(idx, "cn2", &d, 4.0), INDEX_NEW);
	index_get_stats(idx, &st);
	assert_true(st.commits >= 3);
	assert_true(st.rollbacks >= 1);
	capture_start(fx);
	index_close(&idx);
	free(capture_stop(fx));
	assert_int_equal(path_int(fx->path, "SELECT count(*) FROM domains"), 12);
}

/* ---- read-only ------------------------------------------------------- */

static void index_read_only_never_writes_nor_creates(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *w, *r;
	struct sm_domain_stats d;
	enum index_error err = INDEX_OK;
	char wal[160], *log;
	int n = 0;

	/* No file: refused, and none is created. */
	snprintf(wal, sizeof(wal), "%s-wal", fx->path);
	capture_start(fx);
	r = index_open(fx->path, INDEX_READ_ONLY, &err);
	log = capture_stop(fx);
	assert_null(r);
	assert_int_equal(err, INDEX_E_IO);
	assert_non_null(strstr(log, fx->path));
	free(log);
	assert_false(file_exists(fx->path));
	assert_false(file_exists(wal));

	/* A reader beside a writer sees the last commit, never the open frame. */
	w = open_rw(fx);
	mkdom(&d, 1, 3);
	assert_int_equal(index_upsert_domain(w, "cn1", &d, 10.0), INDEX_NEW);
	r = index_open(fx->path, INDEX_READ_ONLY, &err);
	assert_non_null(r);
	assert_int_equal(err, INDEX_OK);
	assert_int_equal(sqlite3_db_readonly(index_sqlite(r), "main"), 1);
	assert_int_equal(index_begin(w), 0);
	mkdom(&d, 2, 3);
	assert_int_equal(index_upsert_domain(w, "cn1", &d, 11.0), INDEX_NEW);
	assert_int_equal(index_list_domains(r, NULL, 0, count_domain, &n), 1);
	assert_int_equal(index_commit(w), 0);
	assert_int_equal(index_list_domains(r, NULL, 0, count_domain, &n), 2);

	/* Every write is refused before sqlite; sqlite would refuse it too. */
	capture_start(fx);
	assert_int_equal(index_begin(r), -1);
	assert_int_equal(index_last_error(r), INDEX_E_READONLY);
	mkdom(&d, 3, 3);
	assert_int_equal(index_upsert_domain(r, "cn1", &d, 12.0), -1);
	assert_int_equal(index_note_frame(r, "cn1", SM_KIND_STATS, 1, 1, 12.0, NULL), -1);
	assert_int_equal(
	    index_domain_stopped(r, "00000000-0000-0000-0000-000000000000", NULL, 1.0, 1.0), -1);
	assert_int_equal(index_stop_stale(r, 1e9, 1.0, 1.0), -1);
	assert_int_equal(index_forget_domain(r, "00000000-0000-0000-0000-000000000000"), -1);
	assert_int_equal(index_register_metric(r, NULL, "cn1", "m", "m.wsp", 1.0), -1);
	assert_int_equal(index_last_error(r), INDEX_E_READONLY);
	assert_int_not_equal(sqlite3_exec(index_sqlite(r), "DELETE FROM domains", NULL, NULL, NULL),
			     SQLITE_OK);
	log = capture_stop(fx);
	assert_non_null(strstr(log, "read-only"));
	free(log);
	assert_int_equal(index_list_domains(r, NULL, 0, count_domain, &n), 2);
	index_close(&r);
	index_close(&w);

	/* After the writer is gone the reader still opens (persistent -wal/-shm). */
	r = index_open(fx->path, INDEX_READ_ONLY, &err);
	assert_non_null(r);
	assert_int_equal(index_list_domains(r, NULL, 0, count_domain, &n), 2);
	index_close(&r);
}

static void index_read_only_refuses_an_uninitialised_file(void **state)
{
	struct fixture *fx = *state;
	enum index_error err = INDEX_OK;
	struct agg_index *r;
	char *log;
	int fd = open(fx->path, O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	close(fd);
	capture_start(fx);
	r = index_open(fx->path, INDEX_READ_ONLY, &err);
	log = capture_stop(fx);
	assert_null(r);
	assert_int_equal(err, INDEX_E_SCHEMA);
	assert_non_null(strstr(log, fx->path));
	free(log);
}

/* ---- schema versions ------------------------------------------------- */

static void index_refuses_a_newer_schema(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	enum index_error err = INDEX_OK;
	sqlite3 *db;
	char *log;

	index_close(&idx);
	db = raw_open(fx->path, SQLITE_OPEN_READWRITE);
	raw_exec(db, "PRAGMA user_version = 99");
	sqlite3_close(db);

	capture_start(fx);
	assert_null(index_open(fx->path, INDEX_READ_WRITE, &err));
	assert_int_equal(err, INDEX_E_SCHEMA);
	err = INDEX_OK;
	assert_null(index_open(fx->path, INDEX_READ_ONLY, &err));
	assert_int_equal(err, INDEX_E_SCHEMA);
	log = capture_stop(fx);
	assert_int_equal(count_substr(log, "is newer than"), 2);
	assert_non_null(strstr(log, fx->path));
	assert_non_null(strstr(log, "v99"));
	free(log);
	assert_int_equal(path_int(fx->path, "PRAGMA user_version"), 99); /* untouched */
}

static void index_refuses_a_foreign_database(void **state)
{
	struct fixture *fx = *state;
	enum index_error err = INDEX_OK;
	sqlite3 *db = raw_open(fx->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	char *log;

	raw_exec(db, "CREATE TABLE hosts (x); INSERT INTO hosts VALUES (1)");
	sqlite3_close(db);
	capture_start(fx);
	assert_null(index_open(fx->path, INDEX_READ_WRITE, &err));
	log = capture_stop(fx);
	assert_int_equal(err, INDEX_E_SCHEMA);
	assert_non_null(strstr(log, "not a StackMon index"));
	free(log);
	assert_int_equal(path_int(fx->path, "SELECT count(*) FROM hosts"), 1);
	assert_int_equal(path_int(fx->path, "SELECT count(*) FROM sqlite_schema"), 1);
}

static void index_migrates_an_empty_v0_file(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = raw_open(fx->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	struct agg_index *idx;

	/* A v0 file: a valid sqlite database, no tables, user_version 0. */
	raw_exec(db, "PRAGMA user_version = 0; VACUUM");
	sqlite3_close(db);
	idx = open_rw(fx);
	assert_int_equal(raw_int(index_sqlite(idx), "PRAGMA user_version"), INDEX_SCHEMA_VERSION);
	index_close(&idx);
}

/* A migration after this build's last one, and one that fails half-way:
 * the tests append them to index_migrations (next_list). */
#define NEXT_VERSION (INDEX_SCHEMA_VERSION + 1)
static const struct index_migration test_next_ok[] = {
    {NEXT_VERSION, "test: a column and a table",
     "ALTER TABLE domains ADD COLUMN note TEXT;"
     "CREATE TABLE extra (x INTEGER);"
     "UPDATE domains SET note = 'migrated';"},
};

static const struct index_migration test_next_broken[] = {
    {NEXT_VERSION, "test: fails half-way",
     "CREATE TABLE extra (x INTEGER);"
     "INSERT INTO extra VALUES (1);"
     "ALTER TABLE domains ADD COLUMN note TEXT;"
     "INSERT INTO no_such_table VALUES (1);"},
};

/* This build's migrations followed by `next`. */
static void next_list(struct index_migration list[NEXT_VERSION], const struct index_migration *next)
{
	for (size_t i = 0; i < INDEX_SCHEMA_VERSION; i++)
		list[i] = index_migrations[i];
	list[INDEX_SCHEMA_VERSION] = *next;
}

/* A hand-made v1 file: the v1 DDL and rows written by plain SQL. */
static void make_v1_by_hand(const char *path)
{
	sqlite3 *db = raw_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);

	raw_exec(db, "BEGIN");
	raw_exec(db, index_migrations[0].sql);
	raw_exec(db, "PRAGMA application_id = 1397573976; PRAGMA user_version = 1;"
		     "INSERT INTO hosts VALUES ('cn1', 1, 2);"
		     "INSERT INTO tenants VALUES ('p1', 'one', 1, 2);"
		     "INSERT INTO domains (uuid, name, display_name, project_id, host, state,"
		     " first_seen, last_seen) VALUES ('10111213-1415-1617-1819-1a1b00000001',"
		     " 'instance-1', 'web', 'p1', 'cn1', 1, 1, 2);"
		     "INSERT INTO metrics (uuid, name, path, created_at) VALUES"
		     " ('10111213-1415-1617-1819-1a1b00000001', 'cpu_pct', 'a/cpu.wsp', 1);");
	raw_exec(db, "COMMIT");
	sqlite3_close(db);
}

static void index_migrates_v1_to_a_later_version(void **state)
{
	struct fixture *fx = *state;
	struct index_migration list[NEXT_VERSION];
	enum index_error err = INDEX_E_INTERNAL;
	struct agg_index *idx;
	struct sm_domain_stats d;
	char *log;
	int n = 0;

	assert_int_equal(INDEX_APPLICATION_ID, 1397573976); /* as make_v1_by_hand writes it */
	char expect[32];

	next_list(list, test_next_ok);
	make_v1_by_hand(fx->path);
	capture_start(fx);
	idx = index_open_with(fx->path, INDEX_READ_WRITE, list, NEXT_VERSION, &err);
	log = capture_stop(fx);
	assert_non_null(idx);
	/* Step by step: every version after 1 was applied, in order. */
	for (int v = 2; v <= NEXT_VERSION; v++) {
		snprintf(expect, sizeof(expect), "upgraded to v%d ", v);
		assert_non_null(strstr(log, expect));
	}
	free(log);
	assert_int_equal(raw_int(index_sqlite(idx), "PRAGMA user_version"), NEXT_VERSION);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM domains WHERE"
						    " note = 'migrated'"),
			 1);
	assert_int_equal(raw_int(index_sqlite(idx), "PRAGMA foreign_keys"), 1);
	/* The old rows serve the API, and it keeps writing. */
	assert_string_equal(get_dom(idx, "10111213-1415-1617-1819-1a1b00000001").display, "web");
	assert_int_equal(
	    index_list_metrics(idx, "10111213-1415-1617-1819-1a1b00000001", NULL, count_metric, &n),
	    1);
	mkdom(&d, 1, 1);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 5.0), INDEX_CHANGED);
	index_close(&idx);

	/* This build now refuses the newer file. */
	capture_start(fx);
	assert_null(index_open(fx->path, INDEX_READ_ONLY, &err));
	free(capture_stop(fx));
	assert_int_equal(err, INDEX_E_SCHEMA);
}

static void index_failed_migration_rolls_back(void **state)
{
	struct fixture *fx = *state;
	struct index_migration list[NEXT_VERSION];
	enum index_error err = INDEX_OK;
	struct agg_index *idx;
	char *log;

	next_list(list, test_next_broken);
	make_v1_by_hand(fx->path);
	capture_start(fx);
	idx = index_open_with(fx->path, INDEX_READ_WRITE, list, NEXT_VERSION, &err);
	log = capture_stop(fx);
	assert_null(idx);
	assert_int_not_equal(err, INDEX_OK);
	assert_non_null(strstr(log, fx->path));
	assert_non_null(strstr(log, "rolled back"));
	free(log);
	/* Nothing of the half-applied step remains; the steps before it, each
	 * in its own transaction, stay applied. */
	assert_int_equal(path_int(fx->path, "PRAGMA user_version"), INDEX_SCHEMA_VERSION);
	assert_int_equal(path_int(fx->path, "SELECT count(*) FROM sqlite_schema WHERE"
					    " name = 'extra'"),
			 0);
	assert_int_equal(path_int(fx->path, "SELECT count(*) FROM pragma_table_info('domains')"
					    " WHERE name = 'note'"),
			 0);
	assert_int_equal(path_int(fx->path, "SELECT count(*) FROM domains"), 1);
	/* This build still uses it. */
	idx = open_rw(fx);
	assert_string_equal(get_dom(idx, "10111213-1415-1617-1819-1a1b00000001").name,
			    "instance-1");
	index_close(&idx);
}

/* ---- latest values (schema v2), read back as the dashboard reads them -- */

/* The latest row of domain `uuid` (snapshot_get: the one reader of it). */
static struct snap_row get_latest(struct agg_index *idx, const char *uuid)
{
	struct snap_row r;

	assert_int_equal(snapshot_get(idx, uuid, &r), 1);
	return r;
}

/* Rows of a list that have a latest row (a time). */
static size_t with_latest(const struct snap_list *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += !isnan(l->rows[i].time);
	return n;
}

/* The listed row of display name `display`, or NULL. */
static const struct snap_row *find_display(const struct snap_list *l, const char *display)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->rows[i].display_name && strcmp(l->rows[i].display_name, display) == 0)
			return &l->rows[i];
	return NULL;
}

/* Gives a domain two disks and one nic with known rates. */
static void add_devices(struct sm_domain_stats *d, struct sm_disk_stats disks[2],
			struct sm_nic_stats *nic)
{
	memset(disks, 0, 2 * sizeof(*disks));
	memset(nic, 0, sizeof(*nic));
	for (int i = 0; i < 2; i++) {
		snprintf(disks[i].name, sizeof(disks[i].name), "vd%c", 'a' + i);
		disks[i].rd_req_ps = 10.0 * (i + 1);
		disks[i].wr_req_ps = 1.0 * (i + 1);
		disks[i].rd_bytes_ps = 4096.0 * (i + 1);
		disks[i].wr_bytes_ps = 512.0 * (i + 1);
	}
	snprintf(nic->name, sizeof(nic->name), "tap0");
	nic->rx_bytes_ps = 1500.0;
	nic->tx_bytes_ps = 700.0;
	nic->rx_packets_ps = 3.0;
	nic->tx_packets_ps = 2.0;
	d->ndisks = 2;
	d->disks = disks;
	d->nnics = 1;
	d->nics = nic;
}

static void index_latest_holds_the_last_report_with_device_sums(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d;
	struct sm_disk_stats disks[2];
	struct sm_nic_stats nic;
	struct snap_row c;
	char uuid[37];

	mkdom(&d, 1, 3);
	uuid_of(&d, uuid);
	add_devices(&d, disks, &nic);
	d.cpu_pct = 37.5;
	d.steal_pct = NAN;
	d.load[0] = 0.5, d.load[1] = 0.25, d.load[2] = 0.125;
	d.mem_basis = SM_MEM_GUEST_USABLE;
	d.mem_pct = 41.0;
	/* The domain's row must exist first. */
	capture_start(fx);
	assert_int_equal(index_put_latest(idx, &d, 100.0), -1);
	free(capture_stop(fx));
	assert_int_equal(index_last_error(idx), INDEX_E_INVALID);

	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 100.0), INDEX_NEW);
	assert_int_equal(index_put_latest(idx, &d, 100.0), 1);
	c = get_latest(idx, uuid);
	assert_false(isnan(c.time)); /* it has a latest row */
	assert_true(c.time == 100.0);
	assert_false(c.stale);
	assert_true(c.v[SNAP_CPU] == 37.5);
	assert_true(isnan(c.v[SNAP_STEAL])); /* unknown: stored as NULL */
	assert_true(c.v[SNAP_LOAD1] == 0.5 && c.v[SNAP_LOAD5] == 0.25 && c.v[SNAP_LOAD15] == 0.125);
	assert_true(c.v[SNAP_MEM] == 41.0);
	assert_int_equal(c.mem_basis, SM_MEM_GUEST_USABLE);
	assert_true(c.v[SNAP_RD_REQ] == 30.0 && c.v[SNAP_WR_REQ] == 3.0);
	assert_true(c.v[SNAP_RD_BYTES] == 12288.0 && c.v[SNAP_WR_BYTES] == 1536.0);
	assert_true(c.v[SNAP_RX_BYTES] == 1500.0 && c.v[SNAP_TX_BYTES] == 700.0);
	assert_true(c.v[SNAP_RX_PKTS] == 3.0 && c.v[SNAP_TX_PKTS] == 2.0);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM latest WHERE"
						    " steal_pct IS NULL"),
			 1);

	/* Replaced by the next report: one row per domain. One unknown device
	 * rate makes its sum unknown; no nics makes the network sums 0. */
	d.cpu_pct = 80.0;
	d.flags |= SM_DOM_STALE;
	disks[1].rd_bytes_ps = NAN;
	d.nnics = 0;
	assert_int_equal(index_put_latest(idx, &d, 101.0), 1);
	snap_row_clear(&c);
	c = get_latest(idx, uuid);
	assert_true(c.time == 101.0 && c.v[SNAP_CPU] == 80.0);
	assert_true(c.stale);
	assert_true(isnan(c.v[SNAP_RD_BYTES]));
	assert_true(c.v[SNAP_RD_REQ] == 30.0);
	assert_true(c.v[SNAP_RX_BYTES] == 0.0 && c.v[SNAP_TX_PKTS] == 0.0);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM latest"), 1);

	/* A late report does not replace a newer one. */
	d.cpu_pct = 1.0;
	assert_int_equal(index_put_latest(idx, &d, 99.0), 0);
	snap_row_clear(&c);
	c = get_latest(idx, uuid);
	assert_true(c.v[SNAP_CPU] == 80.0);
	snap_row_clear(&c);
	index_close(&idx);
}

static void index_lists_latest_by_project_and_forgets_it(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d;
	struct snap_list l;
	struct snap_row r;
	char uuid1[37];

	/* Domains 1 and 2 in project p1 (2 never reported values), 3 in p2, 4
	 * without a project. */
	for (uint32_t i = 1; i <= 4; i++) {
		mkdom(&d, i, i <= 2 ? 1 : (i == 3 ? 2 : -1));
		d.cpu_pct = 10.0 * i;
		assert_int_equal(index_upsert_domain(idx, "cn1", &d, 100.0), INDEX_NEW);
		if (i != 2)
			assert_int_equal(index_put_latest(idx, &d, 100.0), 1);
	}
	mkdom(&d, 1, 1);
	uuid_of(&d, uuid1);

	assert_int_equal(snapshot_list(idx, SNAP_BY_PROJECT, "p1", &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(with_latest(&l), 1); /* domain 2 comes without values */
	assert_non_null(find_display(&l, "vm-2"));
	assert_true(isnan(find_display(&l, "vm-2")->time));
	snap_list_clear(&l);
	assert_int_equal(snapshot_list(idx, SNAP_WITHOUT_PROJECT, NULL, &l), 0);
	assert_int_equal(l.n, 1);
	assert_true(l.rows[0].v[SNAP_CPU] == 40.0);
	snap_list_clear(&l);
	assert_int_equal(snapshot_list(idx, SNAP_ALL, NULL, &l), 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(with_latest(&l), 3);
	snap_list_clear(&l);

	/* A stopped domain is listed no more, but still read by uuid;
	 * forgetting it deletes its latest row too. */
	assert_int_equal(index_domain_stopped(idx, uuid1, "cn1", 110.0, 5.0), 1);
	assert_int_equal(snapshot_list(idx, SNAP_BY_PROJECT, "p1", &l), 0);
	assert_int_equal(l.n, 1);
	snap_list_clear(&l);
	r = get_latest(idx, uuid1);
	assert_true(r.stopped_at == 110.0);
	snap_row_clear(&r);
	assert_int_equal(index_forget_domain(idx, uuid1), 1);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM latest"), 2);
	assert_int_equal(snapshot_get(idx, uuid1, &r), 0);
	/* A malformed uuid is refused before any query, and said so. */
	capture_start(fx);
	assert_int_equal(snapshot_get(idx, "1234", &r), -1);
	assert_int_equal(index_last_error(idx), INDEX_E_INVALID);
	{
		char *log = capture_stop(fx);

		assert_non_null(strstr(log, "reading latest values: bad uuid refused"));
		free(log);
	}
	index_close(&idx);
}

static void index_host_latest_holds_the_last_node_report(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_host_stats h = {.ncpus = 32,
				  .cpu_pct = 41.5,
				  .load = {1.0, 2.0, 3.0},
				  .mem_total_kib = 263921000,
				  .mem_used_kib = 190000000,
				  .mem_pct = NAN,
				  .libvirt_ok = true};
	struct snap_hosts c;

	assert_int_equal(snapshot_hosts(idx, "cn1", &c), 0);
	assert_int_equal(c.n, 0);
	/* Creates the host row itself. */
	assert_int_equal(index_put_host_latest(idx, "cn1", &h, 12, 100.0), 1);
	assert_int_equal(snapshot_hosts(idx, "cn1", &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.rows[0].name, "cn1");
	assert_true(c.rows[0].time == 100.0);
	assert_int_equal(c.rows[0].ncpus, 32);
	assert_true(c.rows[0].cpu_pct == 41.5 && c.rows[0].load[2] == 3.0);
	assert_true(isnan(c.rows[0].mem_pct));
	assert_true(c.rows[0].mem_used_kib == 190000000);
	assert_true(c.rows[0].mem_total_kib == 263921000);
	assert_int_equal(c.rows[0].domains, 12);
	assert_int_equal(c.rows[0].libvirt_ok, 1);
	snap_hosts_clear(&c);

	h.libvirt_ok = false;
	assert_int_equal(index_put_host_latest(idx, "cn1", &h, 0, 101.0), 1);
	assert_int_equal(index_put_host_latest(idx, "cn1", &h, 5, 50.0), 0); /* late */
	assert_int_equal(index_put_host_latest(idx, "cn0", &h, 1, 101.0), 1);
	assert_int_equal(snapshot_hosts(idx, NULL, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.rows[1].name, "cn1"); /* by name: cn0 then cn1 */
	assert_int_equal(c.rows[1].domains, 0);
	assert_int_equal(c.rows[1].libvirt_ok, 0);
	snap_hosts_clear(&c);

	capture_start(fx);
	assert_int_equal(index_put_host_latest(idx, "../etc", &h, 0, 1.0), -1);
	assert_int_equal(snapshot_hosts(idx, "a b", &c), -1);
	free(capture_stop(fx));
	index_close(&idx);

	/* Read-only: readable, never written. */
	{
		enum index_error err;
		struct agg_index *ro = index_open(fx->path, INDEX_READ_ONLY, &err);

		assert_non_null(ro);
		assert_int_equal(snapshot_hosts(ro, NULL, &c), 0);
		assert_int_equal(c.n, 2);
		snap_hosts_clear(&c);
		capture_start(fx);
		assert_int_equal(index_put_host_latest(ro, "cn1", &h, 0, 200.0), -1);
		free(capture_stop(fx));
		assert_int_equal(index_last_error(ro), INDEX_E_READONLY);
		index_close(&ro);
	}
}

static void index_upgrades_a_v1_file_to_latest_tables(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx;
	struct snap_list l;
	struct snap_row c;
	struct sm_domain_stats d;

	make_v1_by_hand(fx->path);
	capture_start(fx);
	idx = open_rw(fx);
	free(capture_stop(fx));
	assert_int_equal(raw_int(index_sqlite(idx), "PRAGMA user_version"), INDEX_SCHEMA_VERSION);
	/* The v1 domain is listed, without latest values until it reports. */
	assert_int_equal(snapshot_list(idx, SNAP_BY_PROJECT, "p1", &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(with_latest(&l), 0);
	snap_list_clear(&l);
	mkdom(&d, 1, 1);
	d.cpu_pct = 5.0;
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 5.0), INDEX_CHANGED);
	assert_int_equal(index_put_latest(idx, &d, 5.0), 1);
	c = get_latest(idx, "10111213-1415-1617-1819-1a1b00000001");
	assert_true(c.v[SNAP_CPU] == 5.0);
	snap_row_clear(&c);
	/* ... and the loss minutes of schema v3. */
	{
		const struct index_loss_minute m = {.host = "cn1", .minute = 0, .received = 1};

		assert_int_equal(index_add_loss_minutes(idx, &m, 1, 5.0), 1);
	}
	index_close(&idx);
}

/* ---- frame loss per minute ------------------------------------------- */

struct minutes_copy {
	size_t n;
	struct index_loss_minute m[8];
};

static int copy_minute(void *arg, const struct index_loss_minute *m)
{
	struct minutes_copy *c = arg;

	if (c->n < 8)
		c->m[c->n++] = *m;
	return 0;
}

static void index_adds_loss_minutes_in_one_transaction_and_prunes(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct index_stats before, after;
	struct minutes_copy c = {0};
	const struct index_loss_minute batch[] = {
	    {.host = "cn1", .minute = 6000, .received = 50, .lost = 10},
	    {.host = "cn2", .minute = 6000, .received = 60, .lost = 0},
	    {.host = "cn1", .minute = 6060, .received = 58, .lost = 2},
	};
	const struct index_loss_minute more = {
	    .host = "cn1", .minute = 6000, .received = 5, .lost = 318};
	char *log;

	index_get_stats(idx, &before);
	assert_int_equal(index_add_loss_minutes(idx, batch, 3, 6070.0), 3);
	index_get_stats(idx, &after);
	assert_int_equal(after.commits - before.commits, 1); /* a batch is one commit */
	/* Counts add up: a minute's frames may be saved in several batches. */
	assert_int_equal(index_add_loss_minutes(idx, &more, 1, 6071.0), 1);
	assert_int_equal(index_list_loss_minutes(idx, "cn1", 0, copy_minute, &c), 2);
	assert_int_equal(c.m[0].minute, 6000);
	assert_int_equal(c.m[0].received, 55);
	assert_int_equal(c.m[0].lost, 328);
	assert_int_equal(c.m[1].minute, 6060);
	assert_int_equal(c.m[1].received, 58);
	assert_int_equal(c.m[1].lost, 2);
	/* "since" leaves out the older minute; another host is apart. */
	c.n = 0;
	assert_int_equal(index_list_loss_minutes(idx, "cn1", 6001, copy_minute, &c), 1);
	assert_int_equal(c.m[0].minute, 6060);
	c.n = 0;
	assert_int_equal(index_list_loss_minutes(idx, "cn2", 0, copy_minute, &c), 1);
	assert_int_equal(c.m[0].received, 60);
	/* A host gets its row in hosts (the foreign key). */
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM hosts"), 2);
	/* Pruning deletes what is older than the bound, nothing else. */
	assert_int_equal(index_prune_loss_minutes(idx, 6060.0), 2);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM host_loss_minutes"), 1);
	assert_int_equal(index_prune_loss_minutes(idx, 6060.0), 0);

	/* A bad count is refused and logged, the good ones of its batch written. */
	{
		const struct index_loss_minute bad[] = {
		    {.host = "<b>x</b>", .minute = 6120, .received = 1, .lost = 1},
		    {.host = "cn1", .minute = 6121, .received = 1, .lost = 1},
		    {.host = "cn1", .minute = 6120, .received = 7, .lost = 1},
		};

		capture_start(fx);
		assert_int_equal(index_add_loss_minutes(idx, bad, 3, 6130.0), 1);
		log = capture_stop(fx);
		assert_non_null(strstr(log, "loss minute with a bad host name or minute refused"));
		free(log);
		assert_int_equal(
		    raw_int(index_sqlite(idx),
			    "SELECT received FROM host_loss_minutes WHERE minute = 6120"),
		    7);
		capture_start(fx);
		assert_int_equal(index_list_loss_minutes(idx, "a<b", 0, copy_minute, &c), -1);
		free(capture_stop(fx));
	}
	index_close(&idx);
}

/* The dashboard reads minutes through a read-only handle; it cannot write them. */
static void index_read_only_lists_loss_minutes_but_never_adds(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct agg_index *ro;
	struct minutes_copy c = {0};
	const struct index_loss_minute one = {
	    .host = "cn1", .minute = 120, .received = 3, .lost = 1};

	assert_int_equal(index_add_loss_minutes(idx, &one, 1, 130.0), 1);
	ro = index_open(fx->path, INDEX_READ_ONLY, NULL);
	assert_non_null(ro);
	assert_int_equal(index_list_loss_minutes(ro, "cn1", 60, copy_minute, &c), 1);
	assert_int_equal(c.m[0].lost, 1);
	capture_start(fx);
	assert_int_equal(index_add_loss_minutes(ro, &one, 1, 130.0), -1);
	assert_int_equal(index_last_error(ro), INDEX_E_READONLY);
	assert_int_equal(index_prune_loss_minutes(ro, 1e9), -1);
	free(capture_stop(fx));
	index_close(&ro);
	index_close(&idx);
}

/* A leap of seq beyond LOSS_MAX_GAP is not loss in the index either. */
static void index_does_not_believe_a_seq_leap(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct index_frame_note v;

	note(idx, "cn1", SM_KIND_STATS, 1, 1, &v);
	note(idx, "cn1", SM_KIND_STATS, 1, 3 + (UINT64_C(1) << 32), &v);
	assert_int_equal(v.lost, 0);
	note(idx, "cn1", SM_KIND_STATS, 1, 6 + (UINT64_C(1) << 32), &v);
	assert_int_equal(v.lost, 2);
	assert_int_equal(host_totals(idx, "cn1").lost, 2);
	index_close(&idx);
}

/* ---- corruption ------------------------------------------------------ */

static void index_names_a_file_that_is_not_a_database(void **state)
{
	struct fixture *fx = *state;
	enum index_error err = INDEX_OK;
	char garbage[8192], back[8192], *log;
	FILE *f;

	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (char)(i * 7 + 3);
	f = fopen(fx->path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(garbage, 1, sizeof(garbage), f), sizeof(garbage));
	fclose(f);

	capture_start(fx);
	assert_null(index_open(fx->path, INDEX_READ_WRITE, &err));
	assert_int_equal(err, INDEX_E_CORRUPT);
	err = INDEX_OK;
	assert_null(index_open(fx->path, INDEX_READ_ONLY, &err));
	assert_int_equal(err, INDEX_E_CORRUPT);
	log = capture_stop(fx);
	assert_int_equal(count_substr(log, fx->path), 2);
	assert_non_null(strstr(log, "not a database"));
	free(log);
	/* Left exactly as it was, for the daemon to move aside. */
	f = fopen(fx->path, "r");
	assert_non_null(f);
	assert_int_equal(fread(back, 1, sizeof(back), f), sizeof(back));
	fclose(f);
	assert_memory_equal(back, garbage, sizeof(garbage));
}

static void index_reports_a_damaged_database(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d;
	enum index_error err = INDEX_OK;
	char junk[4096], *log;
	int fd, n = 0;

	assert_int_equal(index_begin(idx), 0);
	for (uint32_t i = 0; i < 2000; i++) {
		mkdom(&d, i, (int)(i % 10));
		assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1.0), INDEX_NEW);
	}
	assert_int_equal(index_commit(idx), 0);
	index_close(&idx); /* checkpoints: everything is in the main file now */

	/* Scribble over every page after the first (which holds the schema). */
	memset(junk, 0xa5, sizeof(junk));
	fd = open(fx->path, O_WRONLY);
	assert_true(fd >= 0);
	for (off_t off = 4096; off < 4096 * 40; off += 4096)
		assert_int_equal(pwrite(fd, junk, sizeof(junk), off), (ssize_t)sizeof(junk));
	close(fd);

	capture_start(fx);
	assert_null(index_open(fx->path, INDEX_READ_WRITE, &err));
	assert_int_equal(err, INDEX_E_CORRUPT);
	/* The dashboard does not check at open; its queries fail cleanly. */
	idx = index_open(fx->path, INDEX_READ_ONLY, &err);
	if (idx) {
		assert_int_equal(index_list_domains(idx, NULL, 0, count_domain, &n), -1);
		assert_int_equal(index_last_error(idx), INDEX_E_CORRUPT);
		assert_int_equal(index_check(idx), -1);
		index_close(&idx);
	} else {
		assert_int_equal(err, INDEX_E_CORRUPT);
	}
	log = capture_stop(fx);
	assert_non_null(strstr(log, fx->path));
	free(log);
}

/* ---- failures of sqlite ---------------------------------------------- */

static void index_survives_a_busy_lock(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	sqlite3 *other = raw_open(fx->path, SQLITE_OPEN_READWRITE);
	struct sm_domain_stats d;
	char *log;

	sqlite3_busy_timeout(other, 0);
	index_set_busy_timeout(idx, 50);
	raw_exec(other, "BEGIN IMMEDIATE");
	mkdom(&d, 1, -1);
	capture_start(fx);
	assert_int_equal(index_begin(idx), -1);
	assert_int_equal(index_last_error(idx), INDEX_E_BUSY);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1.0), -1);
	assert_int_equal(index_last_error(idx), INDEX_E_BUSY);
	log = capture_stop(fx);
	assert_non_null(strstr(log, fx->path));
	assert_non_null(strstr(log, "busy"));
	free(log);

	raw_exec(other, "ROLLBACK");
	capture_start(fx);
	assert_int_equal(index_begin(idx), 0);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1.0), INDEX_NEW);
	assert_int_equal(index_commit(idx), 0);
	log = capture_stop(fx);
	assert_non_null(strstr(log, "works again"));
	free(log);
	sqlite3_close(other);
	index_close(&idx);
}

static void index_survives_a_full_disk(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *idx = open_rw(fx);
	struct sm_domain_stats d;
	char sql[96], *log;
	int64_t pages;
	int failed = 0, aborted = 0;

	assert_int_equal(index_begin(idx), 0);
	for (uint32_t i = 0; i < 50; i++) {
		mkdom(&d, i, 1);
		assert_int_equal(index_upsert_domain(idx, "cn1", &d, 1.0), INDEX_NEW);
	}
	assert_int_equal(index_commit(idx), 0);

	/* sqlite's page limit stands in for a full disk: the same SQLITE_FULL. */
	pages = raw_int(index_sqlite(idx), "PRAGMA page_count");
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", (long long)pages + 2);
	raw_exec(index_sqlite(idx), sql);

	capture_start(fx);
	for (int frame = 0; frame < 3; frame++) {
		assert_int_equal(index_begin(idx), 0);
		for (uint32_t i = 0; i < 2000; i++) {
			mkdom(&d, 1000 + (uint32_t)frame * 2000 + i, 2);
			if (index_upsert_domain(idx, "cn1", &d, 2.0) < 0) {
				failed++;
				aborted += index_last_error(idx) == INDEX_E_ABORTED;
			}
		}
		assert_int_equal(index_commit(idx), -1);
	}
	log = capture_stop(fx);
	assert_true(failed > 0);
	assert_int_equal(aborted, failed - 3); /* the first failure of each frame is FULL */
	assert_int_equal(count_substr(log, "disk is full"), 1); /* logged once, not per frame */
	assert_non_null(strstr(log, fx->path));
	free(log);
	/* The last commit is intact. */
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM domains"), 50);

	/* Space comes back: writing resumes, and says so once. */
	raw_exec(index_sqlite(idx), "PRAGMA max_page_count = 1073741823");
	capture_start(fx);
	assert_int_equal(index_begin(idx), 0);
	mkdom(&d, 999999, 2);
	assert_int_equal(index_upsert_domain(idx, "cn1", &d, 3.0), INDEX_NEW);
	assert_int_equal(index_commit(idx), 0);
	log = capture_stop(fx);
	assert_int_equal(count_substr(log, "works again"), 1);
	free(log);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM domains"), 51);
	index_close(&idx);
}

static void index_second_handle_checkpoints_beside_a_busy_writer(void **state)
{
	struct fixture *fx = *state;
	struct agg_index *w = open_rw(fx), *ck, *r;
	struct sm_domain_stats d;
	int wal = -1, done = -1;
	char *log;

	index_set_auto_checkpoint(w, false);
	for (uint32_t f = 0; f < 5; f++) {
		assert_int_equal(index_begin(w), 0);
		for (uint32_t i = 0; i < 500; i++) {
			mkdom(&d, f * 500 + i, 1);
			assert_int_equal(index_upsert_domain(w, "cn1", &d, 1.0), INDEX_NEW);
		}
		assert_int_equal(index_commit(w), 0);
	}
	/* The writer holds the write lock; an up-to-date file opens without it. */
	assert_int_equal(index_begin(w), 0);
	ck = open_rw(fx);
	assert_int_equal(index_checkpoint(ck, &wal, &done), 0);
	assert_true(wal > 0);
	assert_int_equal(done, wal);
	assert_int_equal(index_commit(w), 0);
	assert_int_equal(path_int(fx->path, "SELECT count(*) FROM domains"), 2500);

	/* A reader cannot checkpoint. */
	r = index_open(fx->path, INDEX_READ_ONLY, NULL);
	assert_non_null(r);
	capture_start(fx);
	assert_int_equal(index_checkpoint(r, NULL, NULL), -1);
	log = capture_stop(fx);
	free(log);
	assert_int_equal(index_last_error(r), INDEX_E_READONLY);
	index_close(&r);
	index_close(&ck);
	index_close(&w);
}

/* Child: commits one frame of 100 domains, then writes a frame of 20,000
 * with a tiny cache (so uncommitted pages spill into the WAL) and dies. */
static void killed_child(const char *path, int ready_fd)
{
	struct agg_index *idx = index_open(path, INDEX_READ_WRITE, NULL);
	struct sm_domain_stats d;

	if (idx == NULL)
		_exit(2);
	if (index_begin(idx) < 0)
		_exit(3);
	for (uint32_t i = 0; i < 100; i++) {
		mkdom(&d, i, 1);
		if (index_upsert_domain(idx, "cn1", &d, 1.0) < 0)
			_exit(4);
	}
	if (index_commit(idx) < 0)
		_exit(5);
	sqlite3_exec(index_sqlite(idx), "PRAGMA cache_size = 10", NULL, NULL, NULL);
	if (index_begin(idx) < 0)
		_exit(6);
	for (uint32_t i = 100; i < 20100; i++) {
		mkdom(&d, i, 2);
		if (index_upsert_domain(idx, "cn1", &d, 2.0) < 0)
			_exit(7);
	}
	if (ready_fd >= 0) {
		/* Tell the parent, then wait for its SIGKILL. */
		if (write(ready_fd, "x", 1) != 1)
			_exit(8);
		for (;;)
			pause();
	}
	_exit(9); /* no commit, no close */
}

static void check_recovered(struct fixture *fx)
{
	struct agg_index *idx;
	int n = 0;

	idx = open_rw(fx); /* runs quick_check */
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM pragma_integrity_check"
						    " WHERE integrity_check = 'ok'"),
			 1);
	assert_int_equal(index_list_domains(idx, NULL, 0, count_domain, &n), 100);
	assert_int_equal(raw_int(index_sqlite(idx), "SELECT count(*) FROM tenants"), 1);
	assert_int_equal(raw_int(index_sqlite(idx), "PRAGMA foreign_key_check"), -999);
	index_close(&idx);
}

static void index_consistent_after_exit_mid_transaction(void **state)
{
	struct fixture *fx = *state;
	char wal[160];
	struct stat sb;
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		killed_child(fx->path, -1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 9);
	/* The uncommitted frame really reached the WAL before the exit. */
	snprintf(wal, sizeof(wal), "%s-wal", fx->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 100 * 4096);
	check_recovered(fx);
}

static void index_consistent_after_sigkill_mid_transaction(void **state)
{
	struct fixture *fx = *state;
	int status = 0, fds[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		killed_child(fx->path, fds[1]);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	check_recovered(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(index_creates_versioned_wal_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_upsert_writes_only_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_touches_unchanged_domains_together, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(index_tracks_tenants_and_lists_by_project, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(index_records_moves_between_hosts, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_counts_loss_duplicates_and_restarts, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(index_stops_domains_and_lists_purges_after_grace, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(index_stops_stale_domains, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_forget_removes_every_trace, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_registers_metric_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_stores_hostile_names_byte_exact, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_refuses_bad_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_accepts_any_uuid_spelling, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_frame_transaction_is_all_or_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(index_read_only_never_writes_nor_creates, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(index_read_only_refuses_an_uninitialised_file, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(index_refuses_a_newer_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_refuses_a_foreign_database, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_migrates_an_empty_v0_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_migrates_v1_to_a_later_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_failed_migration_rolls_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_latest_holds_the_last_report_with_device_sums,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(index_lists_latest_by_project_and_forgets_it, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(index_host_latest_holds_the_last_node_report, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(index_upgrades_a_v1_file_to_latest_tables, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(index_adds_loss_minutes_in_one_transaction_and_prunes,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(index_read_only_lists_loss_minutes_but_never_adds,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(index_does_not_believe_a_seq_leap, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_names_a_file_that_is_not_a_database, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(index_reports_a_damaged_database, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_survives_a_busy_lock, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_survives_a_full_disk, setup, teardown),
	    cmocka_unit_test_setup_teardown(index_second_handle_checkpoints_beside_a_busy_writer,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(index_consistent_after_exit_mid_transaction, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(index_consistent_after_sigkill_mid_transaction, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
