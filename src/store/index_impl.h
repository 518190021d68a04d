/*
 * index_impl — what the index's own files share (index.c: open,
 * transactions and statements; index_write.c: the aggregator's writes;
 * index_read.c: the readers; snapshot.c: the dashboard's latest values).
 * Never included outside src/store: everyone else holds an opaque
 * struct agg_index and calls index.h.
 */
#ifndef STORE_INDEX_IMPL_H
#define STORE_INDEX_IMPL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "sm_log.h"
#include "sm_loss.h"

#define BUSY_TIMEOUT_WRITER_MS 2000 /* the writer must not stall its socket long */
#define BUSY_TIMEOUT_READER_MS 5000 /* a dashboard request can wait */
#define MOVE_HOLD_S	       30.0 /* a paused copy elsewhere waits this long (see upsert) */
#define STATE_PAUSED	       3    /* virDomainState VIR_DOMAIN_PAUSED */
#define RELPATH_MAX	       4095
#define METRIC_NAME_MAX	       255
#define TOUCH_INTERVAL_MAX     3600.0
#define AUTO_CHECKPOINT_PAGES  1000 /* sqlite's own default */

/* Prepared statements, by role. Reads come last: a read-only index may
 * prepare only those. */
enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_HOST_ENSURE,
	ST_HOST_SEEN,
	ST_STREAM_GET,
	ST_STREAM_PUT,
	ST_DOM_GET,
	ST_DOM_INSERT,
	ST_DOM_UPDATE,
	ST_DOM_TOUCH,
	ST_MOVE_INSERT,
	ST_TENANT_PUT,
	ST_DOM_STOP,
	ST_DOM_STALE,
	ST_METRICS_FORGET,
	ST_MOVES_FORGET,
	ST_DOM_FORGET,
	ST_TENANT_FORGET,
	ST_METRIC_PUT_DOM,
	ST_METRIC_PUT_HOST,
	ST_LATEST_PUT,
	ST_HOST_LATEST_PUT,
	ST_LATEST_FORGET,
	ST_LOSS_MINUTE_ADD,
	ST_LOSS_MINUTE_PRUNE,
	ST_FIRST_READ,
	ST_PURGE_LIST = ST_FIRST_READ,
	ST_LIST_PROJECTS,
	ST_LIST_DOMAINS_ALL,
	ST_LIST_DOMAINS_PROJECT,
	ST_LIST_DOMAINS_NOPROJECT,
	ST_GET_DOMAIN,
	ST_LIST_METRICS_DOM,
	ST_LIST_METRICS_HOST,
	ST_LIST_HOSTS,
	ST_LIST_MOVES,
	ST_LIST_LOSS_MINUTES,
	ST_COUNT
};

struct agg_index {
	sqlite3 *db;			   /* the connection; NULL only while opening */
	char *path;			   /* as given to index_open, for every message */
	enum index_mode mode;		   /* READ_ONLY: write calls are refused before sqlite */
	sqlite3_stmt *stmt[ST_COUNT];	   /* prepared on first use, finalized at close */
	bool in_txn;			   /* between index_begin and commit/rollback */
	bool txn_failed;		   /* a call failed: commit will roll back */
	char txn_host[SM_HOST_MAX + 1];	   /* host row known to exist in this transaction */
	double touch_interval;		   /* seconds between writes of an unchanged last_seen */
	enum index_error last_error;	   /* of the latest failed call */
	struct index_stats stats;	   /* counters for index_get_stats */
	struct sm_complaint db_complaint;  /* sqlite failures: logged once, then rate-limited */
	struct sm_complaint arg_complaint; /* refused arguments, idem */
};

/* ---- Failures (logged through the index's rate-limited complaints) ---- */

/* A failed sqlite call: INVALID leaves the transaction usable, anything
 * else poisons it. */
void ix_fail_sqlite(struct agg_index *self, int rc, const char *what);
/* A refused call (bad argument, wrong mode, caller bug). */
void ix_fail_call(struct agg_index *self, enum index_error err, const char *fmt, ...)
    SM_PRINTF(3, 4);

/* ---- Statements ------------------------------------------------------ */

/* Statement `id`, prepared on first use; NULL (logged) if refused. */
sqlite3_stmt *ix_stmt_get(struct agg_index *self, enum stmt_id id);
/* Ends a use of a statement: reset, bindings cleared, no read lock held. */
void ix_stmt_done(sqlite3_stmt *st);
/* Binds keep the first error in *rc and do nothing after it. NaN binds
 * as NULL in ix_bind_value; a wire field is bounded by its size. */
void ix_bind_text(sqlite3_stmt *st, int i, const char *s, int *rc);
void ix_bind_field(sqlite3_stmt *st, int i, const char *s, size_t size, int *rc);
void ix_bind_int64(sqlite3_stmt *st, int i, int64_t v, int *rc);
void ix_bind_double(sqlite3_stmt *st, int i, double v, int *rc);
void ix_bind_value(sqlite3_stmt *st, int i, double v, int *rc);
/* Runs a bound statement that returns no rows: rows changed, or -1. */
int ix_stmt_exec(struct agg_index *self, sqlite3_stmt *st, int bind_rc, const char *what);
/* Columns: NULL text is NULL (ix_col_req: ""), NULL REAL is NAN. */
const char *ix_col_text(sqlite3_stmt *st, int i);
const char *ix_col_req(sqlite3_stmt *st, int i);
double ix_col_time(sqlite3_stmt *st, int i);
bool ix_col_equals(sqlite3_stmt *st, int i, const char *s, size_t size);

/* ---- Arguments and transactions -------------------------------------- */

/* Canonical lowercase uuid of `in`, or -1 if it is not one. */
/* A relative path without empty, "." or ".." components, bounded. */
bool ix_relpath_valid(const char *p);
/* Ends the open transaction by rolling it back. */
void ix_txn_abandon(struct agg_index *self);

#endif
