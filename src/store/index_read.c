/*
 * index_read — the index's callback readers (index.h "Reads"): each binds
 * its arguments, steps one prepared statement and hands every row to the
 * caller's callback, whose strings live only during the call. The latest
 * values are read by snapshot.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "index_impl.h"
#include "sm_uuid.h"

/* ---- Reads ----------------------------------------------------------- */

/* What a read adapter needs: the caller's callback and its argument. */
struct read_ctx {
	union {
		index_project_fn project;
		index_domain_fn domain;
		index_metric_fn metric;
		index_host_fn host;
		index_move_fn move;
		index_loss_minute_fn loss_minute;
	} fn;
	void *arg;
};

typedef int (*row_fn)(const struct read_ctx *ctx, sqlite3_stmt *st);

/* Steps a bound query, handing each row to `row`; rows handed, or -1. */
static int query_rows(struct agg_index *self, sqlite3_stmt *st, int bind_rc, const char *what,
		      row_fn row, const struct read_ctx *ctx)
{
	int n = 0, rc = bind_rc;

	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		if (row(ctx, st)) {
			rc = SQLITE_DONE;
			break;
		}
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		ix_fail_sqlite(self, rc, what);
		n = -1;
	}
	ix_stmt_done(st);
	return n;
}

static int project_row(const struct read_ctx *ctx, sqlite3_stmt *st)
{
	struct index_project p = {
	    .project_id = ix_col_req(st, 0),
	    .project_name = ix_col_req(st, 1),
	    .first_seen = sqlite3_column_double(st, 2),
	    .last_seen = sqlite3_column_double(st, 3),
	    .active_domains = (unsigned)sqlite3_column_int64(st, 4),
	    .domains = (unsigned)sqlite3_column_int64(st, 5),
	};

	return ctx->fn.project(ctx->arg, &p);
}

int index_list_projects(struct agg_index *self, index_project_fn fn, void *arg)
{
	struct read_ctx ctx = {.fn.project = fn, .arg = arg};
	sqlite3_stmt *st;

	if (self == NULL || fn == NULL)
		return -1;
	st = ix_stmt_get(self, ST_LIST_PROJECTS);
	if (st == NULL)
		return -1;
	return query_rows(self, st, SQLITE_OK, "listing projects", project_row, &ctx);
}

/* Columns 0-12 of the domain and latest queries: the domain's identity
 * and lifetime, in that order (the two queries keep it so). */
static struct index_domain domain_of_row(sqlite3_stmt *st)
{
	return (struct index_domain){
	    .uuid = ix_col_req(st, 0),
	    .name = ix_col_req(st, 1),
	    .display_name = ix_col_text(st, 2),
	    .project_id = ix_col_text(st, 3),
	    .user_id = ix_col_text(st, 4),
	    .user_name = ix_col_text(st, 5),
	    .flavor = ix_col_text(st, 6),
	    .host = ix_col_req(st, 7),
	    .state = (uint32_t)sqlite3_column_int64(st, 8),
	    .first_seen = sqlite3_column_double(st, 9),
	    .last_seen = sqlite3_column_double(st, 10),
	    .stopped_at = ix_col_time(st, 11),
	    .purge_after = ix_col_time(st, 12),
	};
}

static int domain_row_cb(const struct read_ctx *ctx, sqlite3_stmt *st)
{
	struct index_domain d = domain_of_row(st);

	return ctx->fn.domain(ctx->arg, &d);
}

/* A listing of the domains of all projects (project_id NULL), of none
 * (""), or of one; ids[] are the three statements in that order. */
static int list_by_project(struct agg_index *self, const enum stmt_id ids[3],
			   const char *project_id, unsigned flags, const char *what, row_fn row,
			   const struct read_ctx *ctx)
{
	enum stmt_id id = ids[0];
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	if (project_id)
		id = project_id[0] ? ids[2] : ids[1];
	st = ix_stmt_get(self, id);
	if (st == NULL)
		return -1;
	ix_bind_int64(st, 1, (flags & INDEX_LIST_STOPPED) != 0, &rc);
	if (id == ids[2])
		ix_bind_text(st, 2, project_id, &rc);
	return query_rows(self, st, rc, what, row, ctx);
}

/* A query for one domain by uuid (in any accepted spelling). */
static int get_by_uuid(struct agg_index *self, enum stmt_id id, const char *uuid, const char *what,
		       row_fn row, const struct read_ctx *ctx)
{
	char canon[37];
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	if (sm_uuid_canonical(uuid, canon) < 0) {
		ix_fail_call(self, INDEX_E_INVALID, "%s: bad uuid refused", what);
		return -1;
	}
	st = ix_stmt_get(self, id);
	if (st == NULL)
		return -1;
	ix_bind_text(st, 1, canon, &rc);
	return query_rows(self, st, rc, what, row, ctx);
}

int index_list_domains(struct agg_index *self, const char *project_id, unsigned flags,
		       index_domain_fn fn, void *arg)
{
	static const enum stmt_id ids[3] = {ST_LIST_DOMAINS_ALL, ST_LIST_DOMAINS_NOPROJECT,
					    ST_LIST_DOMAINS_PROJECT};
	struct read_ctx ctx = {.fn.domain = fn, .arg = arg};

	if (self == NULL || fn == NULL)
		return -1;
	return list_by_project(self, ids, project_id, flags, "listing domains", domain_row_cb,
			       &ctx);
}

int index_get_domain(struct agg_index *self, const char *uuid, index_domain_fn fn, void *arg)
{
	struct read_ctx ctx = {.fn.domain = fn, .arg = arg};

	if (self == NULL || fn == NULL)
		return -1;
	return get_by_uuid(self, ST_GET_DOMAIN, uuid, "reading a domain", domain_row_cb, &ctx);
}

static int metric_row(const struct read_ctx *ctx, sqlite3_stmt *st)
{
	struct index_metric m = {
	    .uuid = ix_col_text(st, 0),
	    .host = ix_col_text(st, 1),
	    .name = ix_col_req(st, 2),
	    .path = ix_col_req(st, 3),
	    .created_at = sqlite3_column_double(st, 4),
	};

	return ctx->fn.metric(ctx->arg, &m);
}

int index_list_metrics(struct agg_index *self, const char *uuid, const char *host,
		       index_metric_fn fn, void *arg)
{
	struct read_ctx ctx = {.fn.metric = fn, .arg = arg};
	char id[37];
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	if (self == NULL || fn == NULL)
		return -1;
	if ((uuid == NULL) == (host == NULL) || (uuid && sm_uuid_canonical(uuid, id) < 0)) {
		ix_fail_call(self, INDEX_E_INVALID, "metric listing needs one valid uuid or host");
		return -1;
	}
	st = ix_stmt_get(self, uuid ? ST_LIST_METRICS_DOM : ST_LIST_METRICS_HOST);
	if (st == NULL)
		return -1;
	ix_bind_text(st, 1, uuid ? id : host, &rc);
	return query_rows(self, st, rc, "listing metrics", metric_row, &ctx);
}

static int host_row(const struct read_ctx *ctx, sqlite3_stmt *st)
{
	struct index_host h = {
	    .name = ix_col_req(st, 0),
	    .first_seen = sqlite3_column_double(st, 1),
	    .last_seen = sqlite3_column_double(st, 2),
	    .received = (uint64_t)sqlite3_column_int64(st, 3),
	    .lost = (uint64_t)sqlite3_column_int64(st, 4),
	    .duplicates = (uint64_t)sqlite3_column_int64(st, 5),
	    .restarts = (uint64_t)sqlite3_column_int64(st, 6),
	    .active_domains = (unsigned)sqlite3_column_int64(st, 7),
	};

	return ctx->fn.host(ctx->arg, &h);
}

int index_list_hosts(struct agg_index *self, index_host_fn fn, void *arg)
{
	struct read_ctx ctx = {.fn.host = fn, .arg = arg};
	sqlite3_stmt *st;

	if (self == NULL || fn == NULL)
		return -1;
	st = ix_stmt_get(self, ST_LIST_HOSTS);
	if (st == NULL)
		return -1;
	return query_rows(self, st, SQLITE_OK, "listing hosts", host_row, &ctx);
}

static int move_row(const struct read_ctx *ctx, sqlite3_stmt *st)
{
	struct index_move m = {
	    .uuid = ix_col_req(st, 0),
	    .from_host = ix_col_req(st, 1),
	    .to_host = ix_col_req(st, 2),
	    .at = sqlite3_column_double(st, 3),
	};

	return ctx->fn.move(ctx->arg, &m);
}

int index_list_moves(struct agg_index *self, const char *uuid, index_move_fn fn, void *arg)
{
	struct read_ctx ctx = {.fn.move = fn, .arg = arg};

	if (self == NULL || fn == NULL)
		return -1;
	return get_by_uuid(self, ST_LIST_MOVES, uuid, "listing moves", move_row, &ctx);
}

static int loss_minute_row(const struct read_ctx *ctx, sqlite3_stmt *st)
{
	struct index_loss_minute m = {
	    .minute = sqlite3_column_int64(st, 0),
	    .received = (uint64_t)sqlite3_column_int64(st, 1),
	    .lost = (uint64_t)sqlite3_column_int64(st, 2),
	};

	return ctx->fn.loss_minute(ctx->arg, &m);
}

int index_list_loss_minutes(struct agg_index *self, const char *host, double since,
			    index_loss_minute_fn fn, void *arg)
{
	struct read_ctx ctx = {.fn.loss_minute = fn, .arg = arg};
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	if (self == NULL || fn == NULL || !isfinite(since))
		return -1;
	if (host == NULL || !sm_wire_host_valid(host)) {
		ix_fail_call(self, INDEX_E_INVALID, "loss minutes of a bad host name refused");
		return -1;
	}
	st = ix_stmt_get(self, ST_LIST_LOSS_MINUTES);
	if (st == NULL)
		return -1;
	ix_bind_text(st, 1, host, &rc);
	ix_bind_int64(st, 2, (int64_t)ceil(since), &rc);
	return query_rows(self, st, rc, "listing loss minutes", loss_minute_row, &ctx);
}
