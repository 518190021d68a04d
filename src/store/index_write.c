/*
 * index_write — the aggregator's writes to the index (index.h "Writes"):
 * one transaction per received frame. The hot path (index_upsert_domain)
 * reads the domain's row by primary key and writes only what changed, so a
 * steady frame of unchanged domains costs reads only. Every write call
 * refuses a read-only index and joins the caller's transaction, or runs in
 * one of its own.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "index_impl.h"
#include "sm_uuid.h"

/* Every write call starts here: refuses a read-only index and a poisoned
 * transaction, and begins a transaction of the call's own when the caller
 * has none (*own). */
static int write_enter(struct agg_index *self, bool *own)
{
	*own = false;
	if (self->mode == INDEX_READ_ONLY) {
		ix_fail_call(self, INDEX_E_READONLY, "opened read-only: write refused");
		return -1;
	}
	if (self->in_txn) {
		if (self->txn_failed) {
			/* Quietly: the failure that poisoned it was logged. */
			self->last_error = INDEX_E_ABORTED;
			self->stats.failures++;
			return -1;
		}
		return 0;
	}
	if (index_begin(self) < 0)
		return -1;
	*own = true;
	return 0;
}

/* Every write call ends here with its result: commits or rolls back a
 * transaction of its own. */
static int write_leave(struct agg_index *self, bool own, int result)
{
	if (!own)
		return result;
	if (result < 0) {
		ix_txn_abandon(self);
		return result;
	}
	return index_commit(self) < 0 ? -1 : result;
}

/* ---- Writes ---------------------------------------------------------- */

/* Makes sure host `host` has a row (a foreign key of domains and moves).
 * Once per transaction per host: a frame's domains share their host. */
static int host_ensure(struct agg_index *self, const char *host, double time)
{
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	if (strcmp(self->txn_host, host) == 0)
		return 0;
	st = ix_stmt_get(self, ST_HOST_ENSURE);
	if (st == NULL)
		return -1;
	ix_bind_text(st, 1, host, &rc);
	ix_bind_double(st, 2, time, &rc);
	if (ix_stmt_exec(self, st, rc, "adding a host") < 0)
		return -1;
	snprintf(self->txn_host, sizeof(self->txn_host), "%s", host);
	return 0;
}

int index_note_frame(struct agg_index *self, const char *host, enum sm_msg_kind kind,
		     uint64_t epoch, uint64_t seq, double time, struct index_frame_note *note)
{
	struct index_frame_note v = {0};
	const char *kname = sm_wire_kind_name(kind);
	uint64_t last_epoch = 0, last_seq = 0, new_seq = seq;
	sqlite3_stmt *st;
	bool own = false, known = false;
	int rc = SQLITE_OK, result = -1;

	if (self == NULL)
		return -1;
	if (host == NULL || !sm_wire_host_valid(host) || kname == NULL || !isfinite(time)) {
		ix_fail_call(self, INDEX_E_INVALID,
			     "frame with a bad host name, kind or time refused");
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	st = ix_stmt_get(self, ST_HOST_SEEN);
	if (st == NULL)
		goto out;
	ix_bind_text(st, 1, host, &rc);
	ix_bind_double(st, 2, time, &rc);
	if (ix_stmt_exec(self, st, rc, "noting a host") < 0)
		goto out;
	snprintf(self->txn_host, sizeof(self->txn_host), "%s", host);

	st = ix_stmt_get(self, ST_STREAM_GET);
	if (st == NULL)
		goto out;
	ix_bind_text(st, 1, host, &rc);
	ix_bind_text(st, 2, kname, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		known = true;
		last_epoch = (uint64_t)sqlite3_column_int64(st, 0);
		last_seq = (uint64_t)sqlite3_column_int64(st, 1);
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		ix_fail_sqlite(self, rc, "reading frame accounting");
	ix_stmt_done(st);
	if (rc != SQLITE_DONE)
		goto out;

	/* docs/PROTOCOL.md "Counting loss". */
	if (!known) {
		v.first = true;
	} else if (epoch != last_epoch) {
		v.restart = true;
	} else if (seq > last_seq) {
		v.lost = seq - last_seq - 1;
		if (v.lost > LOSS_MAX_GAP)
			v.lost = 0; /* a leap is not believed (sm_loss.h): counting goes on */
	} else {
		v.duplicate = true;
		new_seq = last_seq;
	}

	st = ix_stmt_get(self, ST_STREAM_PUT);
	if (st == NULL)
		goto out;
	rc = SQLITE_OK;
	ix_bind_text(st, 1, host, &rc);
	ix_bind_text(st, 2, kname, &rc);
	ix_bind_int64(st, 3, (int64_t)epoch, &rc);
	ix_bind_int64(st, 4, (int64_t)new_seq, &rc);
	ix_bind_double(st, 5, time, &rc);
	ix_bind_int64(st, 6, v.lost > INT64_MAX ? INT64_MAX : (int64_t)v.lost, &rc);
	ix_bind_int64(st, 7, v.duplicate, &rc);
	ix_bind_int64(st, 8, v.restart, &rc);
	if (ix_stmt_exec(self, st, rc, "updating frame accounting") < 0)
		goto out;
	if (note)
		*note = v;
	result = 0;
out:
	return write_leave(self, own, result);
}

/* Identity fields of a domain as stored: NULL when absent. */
struct identity_cols {
	const char *display_name, *project_id, *project_name, *user_id, *user_name, *flavor;
};

static void identity_cols_of(const struct sm_domain_stats *d, struct identity_cols *c)
{
	*c = (struct identity_cols){0};
	if (!d->has_identity)
		return;
	c->display_name = d->identity.display_name;
	c->project_id = d->identity.project_id[0] ? d->identity.project_id : NULL;
	c->project_name = d->identity.project_name;
	c->user_id = d->identity.user_id;
	c->user_name = d->identity.user_name;
	c->flavor = d->identity.flavor;
}

/* Binds ?2..?10 of ST_DOM_INSERT / ST_DOM_UPDATE (same numbering). */
static void bind_domain(sqlite3_stmt *st, const char *host, const struct sm_domain_stats *d,
			const struct identity_cols *c, double time, int *rc)
{
	ix_bind_field(st, 2, d->name, sizeof(d->name), rc);
	ix_bind_field(st, 3, c->display_name, sizeof(d->identity.display_name), rc);
	ix_bind_field(st, 4, c->project_id, sizeof(d->identity.project_id), rc);
	ix_bind_field(st, 5, c->user_id, sizeof(d->identity.user_id), rc);
	ix_bind_field(st, 6, c->user_name, sizeof(d->identity.user_name), rc);
	ix_bind_field(st, 7, c->flavor, sizeof(d->identity.flavor), rc);
	ix_bind_text(st, 8, host, rc);
	ix_bind_int64(st, 9, d->state, rc);
	ix_bind_double(st, 10, time, rc);
}

/* Creates or refreshes the tenant of a domain being written. */
static int tenant_put(struct agg_index *self, const struct sm_domain_stats *d,
		      const struct identity_cols *c, double time)
{
	sqlite3_stmt *st = ix_stmt_get(self, ST_TENANT_PUT);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	ix_bind_field(st, 1, c->project_id, sizeof(d->identity.project_id), &rc);
	ix_bind_field(st, 2, c->project_name, sizeof(d->identity.project_name), &rc);
	ix_bind_double(st, 3, time, &rc);
	return ix_stmt_exec(self, st, rc, "updating a tenant") < 0 ? -1 : 0;
}

/* The stored row of a domain, as far as the upsert needs it. */
struct domain_row {
	bool found;
	bool same_facts; /* name, identity and state equal to the report */
	char host[SM_HOST_MAX + 1];
	uint32_t state;
	double last_seen;
	double stopped_at; /* NAN while active */
};

static int domain_read(struct agg_index *self, const char *uuid, const struct sm_domain_stats *d,
		       const struct identity_cols *c, struct domain_row *row)
{
	sqlite3_stmt *st = ix_stmt_get(self, ST_DOM_GET);
	int rc = SQLITE_OK;

	*row = (struct domain_row){0};
	if (st == NULL)
		return -1;
	ix_bind_text(st, 1, uuid, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row->found = true;
		snprintf(row->host, sizeof(row->host), "%s", ix_col_req(st, 0));
		row->state = (uint32_t)sqlite3_column_int64(st, 7);
		row->last_seen = sqlite3_column_double(st, 8);
		row->stopped_at = ix_col_time(st, 9);
		row->same_facts =
		    ix_col_equals(st, 1, d->name, sizeof(d->name)) &&
		    ix_col_equals(st, 2, c->display_name, sizeof(d->identity.display_name)) &&
		    ix_col_equals(st, 3, c->project_id, sizeof(d->identity.project_id)) &&
		    ix_col_equals(st, 4, c->user_id, sizeof(d->identity.user_id)) &&
		    ix_col_equals(st, 5, c->user_name, sizeof(d->identity.user_name)) &&
		    ix_col_equals(st, 6, c->flavor, sizeof(d->identity.flavor)) &&
		    row->state == d->state;
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		ix_fail_sqlite(self, rc, "reading a domain");
	ix_stmt_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* True when an unchanged domain's last_seen is due for a write: when `now`
 * enters a later multiple of the interval than `last`. On a grid common to
 * all domains rather than "interval after the last write": the rows due
 * together are written in the same frame, however their creation times were
 * spread, so a page of the table is dirtied once per interval, not once per
 * frame by whichever of its rows falls due. */
static bool touch_due(double interval, double last, double now)
{
	if (!(now > last))
		return false;
	if (interval <= 0)
		return true;
	return floor(now / interval) > floor(last / interval);
}

/* Decides what a report means for the stored row (see index.h). */
static enum index_upsert upsert_verdict(const struct agg_index *self, const char *host,
					const struct sm_domain_stats *d, double time,
					const struct domain_row *row)
{
	bool moved = strcmp(row->host, host) != 0;

	if (!isnan(row->stopped_at)) {
		/* A report from before the stop is late; one after it: the domain is back. */
		if (time <= row->stopped_at)
			return INDEX_IGNORED;
		return moved ? INDEX_MOVED : INDEX_CHANGED;
	}
	if (moved) {
		/* Older than what we hold: a late frame from a former host. */
		if (time <= row->last_seen)
			return INDEX_IGNORED;
		/* Live migration: the destination shows a paused copy while the source
		 * still runs it. The running copy owns the domain; a paused one takes
		 * over only once the current host has gone quiet about it (last_seen
		 * is written once per touch interval, hence the allowance). */
		if (d->state == STATE_PAUSED &&
		    time < row->last_seen + self->touch_interval + MOVE_HOLD_S)
			return INDEX_IGNORED;
		return INDEX_MOVED;
	}
	if (time < row->last_seen)
		return INDEX_IGNORED; /* late frame from the same host: facts may be older */
	if (!row->same_facts)
		return INDEX_CHANGED;
	if (touch_due(self->touch_interval, row->last_seen, time))
		return INDEX_TOUCHED;
	return INDEX_UNCHANGED;
}

int index_upsert_domain(struct agg_index *self, const char *host, const struct sm_domain_stats *d,
			double time)
{
	struct identity_cols c;
	struct domain_row row;
	enum index_upsert verdict;
	char uuid[37];
	sqlite3_stmt *st;
	bool own = false;
	int rc = SQLITE_OK, result = -1;

	if (self == NULL)
		return -1;
	if (host == NULL || d == NULL || !sm_wire_host_valid(host) || !isfinite(time)) {
		ix_fail_call(self, INDEX_E_INVALID,
			     "domain report with a bad host name or time refused");
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	if (host_ensure(self, host, time) < 0)
		goto out;
	sm_uuid_format(d->uuid, uuid);
	identity_cols_of(d, &c);
	if (domain_read(self, uuid, d, &c, &row) < 0)
		goto out;

	verdict = row.found ? upsert_verdict(self, host, d, time, &row) : INDEX_NEW;
	if (verdict == INDEX_UNCHANGED || verdict == INDEX_IGNORED) {
		result = verdict;
		goto out;
	}
	/* The tenant first: the domain row refers to it. */
	if (c.project_id && tenant_put(self, d, &c, time) < 0)
		goto out;
	switch (verdict) {
	case INDEX_NEW:
		st = ix_stmt_get(self, ST_DOM_INSERT);
		break;
	case INDEX_TOUCHED:
		st = ix_stmt_get(self, ST_DOM_TOUCH);
		break;
	default:
		st = ix_stmt_get(self, ST_DOM_UPDATE);
		break;
	}
	if (st == NULL)
		goto out;
	ix_bind_text(st, 1, uuid, &rc);
	if (verdict == INDEX_TOUCHED)
		ix_bind_double(st, 2, time, &rc);
	else
		bind_domain(st, host, d, &c, time, &rc);
	if (ix_stmt_exec(self, st, rc, "writing a domain") < 0)
		goto out;
	if (verdict == INDEX_MOVED) {
		st = ix_stmt_get(self, ST_MOVE_INSERT);
		if (st == NULL)
			goto out;
		ix_bind_text(st, 1, uuid, &rc);
		ix_bind_text(st, 2, row.host, &rc);
		ix_bind_text(st, 3, host, &rc);
		ix_bind_double(st, 4, time, &rc);
		if (ix_stmt_exec(self, st, rc, "recording a move") < 0)
			goto out;
	}
	result = verdict;
out:
	return write_leave(self, own, result);
}

int index_domain_stopped(struct agg_index *self, const char *uuid, const char *host, double time,
			 double grace_s)
{
	char id[37];
	sqlite3_stmt *st;
	bool own = false;
	int rc = SQLITE_OK, result = -1, changed;

	if (self == NULL)
		return -1;
	if (sm_uuid_canonical(uuid, id) < 0 || (host && !sm_wire_host_valid(host)) || !isfinite(time) ||
	    !(grace_s >= 0) || !isfinite(grace_s)) {
		ix_fail_call(self, INDEX_E_INVALID,
			     "stop with a bad uuid, host, time or grace refused");
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	st = ix_stmt_get(self, ST_DOM_STOP);
	if (st == NULL)
		goto out;
	ix_bind_text(st, 1, id, &rc);
	ix_bind_double(st, 2, time, &rc);
	ix_bind_double(st, 3, time + grace_s, &rc);
	ix_bind_text(st, 4, host, &rc);
	changed = ix_stmt_exec(self, st, rc, "marking a domain stopped");
	if (changed >= 0)
		result = changed > 0;
out:
	return write_leave(self, own, result);
}

int index_stop_stale(struct agg_index *self, double now, double stale_s, double grace_s)
{
	sqlite3_stmt *st;
	bool own = false;
	int rc = SQLITE_OK, result = -1;

	if (self == NULL)
		return -1;
	if (!isfinite(now) || !(stale_s >= 0) || !isfinite(stale_s) || !(grace_s >= 0) ||
	    !isfinite(grace_s)) {
		ix_fail_call(self, INDEX_E_INVALID, "stale sweep with a bad time refused");
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	st = ix_stmt_get(self, ST_DOM_STALE);
	if (st == NULL)
		goto out;
	ix_bind_double(st, 1, now - stale_s, &rc);
	ix_bind_double(st, 2, now + grace_s, &rc);
	result = ix_stmt_exec(self, st, rc, "marking stale domains stopped");
out:
	return write_leave(self, own, result);
}

/* One domain due for purging, copied out of sqlite before the callbacks. */
struct purge_item {
	char uuid[37];
	double stopped_at;
};

int index_next_purges(struct agg_index *self, double now, size_t max, index_purge_fn fn, void *arg)
{
	struct purge_item *items = NULL, *grown;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	int rc = SQLITE_OK, result = -1;

	if (self == NULL)
		return -1;
	if (fn == NULL || !isfinite(now)) {
		ix_fail_call(self, INDEX_E_INVALID, "purge listing without a callback or a time");
		return -1;
	}
	if (max == 0)
		return 0;
	if (max > INT32_MAX)
		max = INT32_MAX;
	st = ix_stmt_get(self, ST_PURGE_LIST);
	if (st == NULL)
		return -1;
	ix_bind_double(st, 1, now, &rc);
	ix_bind_int64(st, 2, (int64_t)max, &rc);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(items, cap * sizeof(*items));
			if (grown == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			items = grown;
		}
		snprintf(items[n].uuid, sizeof(items[n].uuid), "%s", ix_col_req(st, 0));
		items[n].stopped_at = ix_col_time(st, 1);
		n++;
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE)
		ix_fail_sqlite(self, rc, "listing domains to purge");
	ix_stmt_done(st);
	if (rc != SQLITE_DONE)
		goto out;
	/* The statement is reset: the callbacks may now write. */
	result = 0;
	for (size_t i = 0; i < n; i++) {
		result++;
		if (fn(arg, items[i].uuid, items[i].stopped_at))
			break;
	}
out:
	free(items);
	return result;
}

/* Runs a delete keyed by one text parameter; rows deleted or -1. */
static int delete_by(struct agg_index *self, enum stmt_id id, const char *key, const char *what)
{
	sqlite3_stmt *st = ix_stmt_get(self, id);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	ix_bind_text(st, 1, key, &rc);
	return ix_stmt_exec(self, st, rc, what);
}

int index_forget_domain(struct agg_index *self, const char *uuid)
{
	char id[37], project[SM_ID_MAX + 1] = "";
	sqlite3_stmt *st;
	bool own = false, found = false;
	int rc = SQLITE_OK, result = -1;

	if (self == NULL)
		return -1;
	if (sm_uuid_canonical(uuid, id) < 0) {
		ix_fail_call(self, INDEX_E_INVALID, "forget with a bad uuid refused");
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	if (delete_by(self, ST_METRICS_FORGET, id, "forgetting metrics") < 0 ||
	    delete_by(self, ST_MOVES_FORGET, id, "forgetting moves") < 0 ||
	    delete_by(self, ST_LATEST_FORGET, id, "forgetting latest values") < 0)
		goto out;
	st = ix_stmt_get(self, ST_DOM_FORGET);
	if (st == NULL)
		goto out;
	ix_bind_text(st, 1, id, &rc);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		found = true;
		snprintf(project, sizeof(project), "%s", ix_col_req(st, 0));
		rc = SQLITE_OK;
	}
	if (rc == SQLITE_DONE)
		self->stats.rows_written += found;
	else
		ix_fail_sqlite(self, rc, "forgetting a domain");
	ix_stmt_done(st);
	if (rc != SQLITE_DONE)
		goto out;
	if (project[0] && delete_by(self, ST_TENANT_FORGET, project, "forgetting a tenant") < 0)
		goto out;
	result = found;
out:
	return write_leave(self, own, result);
}

int index_register_metric(struct agg_index *self, const char *uuid, const char *host,
			  const char *metric, const char *relpath, double time)
{
	char id[37];
	sqlite3_stmt *st;
	bool own = false;
	int rc = SQLITE_OK, result = -1, changed;
	size_t mlen = metric ? strnlen(metric, METRIC_NAME_MAX + 1) : 0;

	if (self == NULL)
		return -1;
	if ((uuid == NULL) == (host == NULL) || (uuid && sm_uuid_canonical(uuid, id) < 0) ||
	    (host && !sm_wire_host_valid(host)) || mlen == 0 || mlen > METRIC_NAME_MAX ||
	    relpath == NULL || !ix_relpath_valid(relpath) || !isfinite(time)) {
		ix_fail_call(self, INDEX_E_INVALID,
			     "metric refused: needs one of uuid/host, a name of 1-%d bytes and a"
			     " relative path without '..'",
			     METRIC_NAME_MAX);
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	if (host && host_ensure(self, host, time) < 0)
		goto out;
	st = ix_stmt_get(self, uuid ? ST_METRIC_PUT_DOM : ST_METRIC_PUT_HOST);
	if (st == NULL)
		goto out;
	ix_bind_text(st, 1, uuid ? id : host, &rc);
	ix_bind_text(st, 2, metric, &rc);
	ix_bind_text(st, 3, relpath, &rc);
	ix_bind_double(st, 4, time, &rc);
	changed = ix_stmt_exec(self, st, rc, "registering a metric");
	if (changed >= 0)
		result = changed > 0;
out:
	return write_leave(self, own, result);
}

/* ---- Latest values --------------------------------------------------- */

/* Sums of a domain's device rates for its latest row: NaN when any term is
 * unknown (a partial sum would pass for a low value), 0 without devices. */
struct device_sums {
	double disk_rd_req, disk_wr_req, disk_rd_bytes, disk_wr_bytes;
	double net_rx_bytes, net_tx_bytes, net_rx_packets, net_tx_packets;
};

static void device_sums_of(const struct sm_domain_stats *d, struct device_sums *s)
{
	*s = (struct device_sums){0};
	for (size_t i = 0; d->disks && i < d->ndisks; i++) {
		s->disk_rd_req += d->disks[i].rd_req_ps;
		s->disk_wr_req += d->disks[i].wr_req_ps;
		s->disk_rd_bytes += d->disks[i].rd_bytes_ps;
		s->disk_wr_bytes += d->disks[i].wr_bytes_ps;
	}
	for (size_t i = 0; d->nics && i < d->nnics; i++) {
		s->net_rx_bytes += d->nics[i].rx_bytes_ps;
		s->net_tx_bytes += d->nics[i].tx_bytes_ps;
		s->net_rx_packets += d->nics[i].rx_packets_ps;
		s->net_tx_packets += d->nics[i].tx_packets_ps;
	}
}

int index_put_latest(struct agg_index *self, const struct sm_domain_stats *d, double time)
{
	struct device_sums sum;
	char uuid[37];
	sqlite3_stmt *st;
	bool own = false;
	int rc = SQLITE_OK, result = -1, changed;

	if (self == NULL)
		return -1;
	if (d == NULL || !isfinite(time)) {
		ix_fail_call(self, INDEX_E_INVALID,
			     "latest values without a domain or a time refused");
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	st = ix_stmt_get(self, ST_LATEST_PUT);
	if (st == NULL)
		goto out;
	sm_uuid_format(d->uuid, uuid);
	device_sums_of(d, &sum);
	ix_bind_text(st, 1, uuid, &rc);
	ix_bind_double(st, 2, time, &rc);
	ix_bind_int64(st, 3, (d->flags & SM_DOM_STALE) != 0, &rc);
	ix_bind_value(st, 4, d->cpu_pct, &rc);
	ix_bind_value(st, 5, d->steal_pct, &rc);
	ix_bind_value(st, 6, d->load[0], &rc);
	ix_bind_value(st, 7, d->load[1], &rc);
	ix_bind_value(st, 8, d->load[2], &rc);
	ix_bind_value(st, 9, d->mem_pct, &rc);
	ix_bind_int64(st, 10, d->mem_basis, &rc);
	ix_bind_value(st, 11, sum.disk_rd_req, &rc);
	ix_bind_value(st, 12, sum.disk_wr_req, &rc);
	ix_bind_value(st, 13, sum.disk_rd_bytes, &rc);
	ix_bind_value(st, 14, sum.disk_wr_bytes, &rc);
	ix_bind_value(st, 15, sum.net_rx_bytes, &rc);
	ix_bind_value(st, 16, sum.net_tx_bytes, &rc);
	ix_bind_value(st, 17, sum.net_rx_packets, &rc);
	ix_bind_value(st, 18, sum.net_tx_packets, &rc);
	changed = ix_stmt_exec(self, st, rc, "writing latest values");
	if (changed >= 0)
		result = changed > 0;
out:
	return write_leave(self, own, result);
}

int index_put_host_latest(struct agg_index *self, const char *host, const struct sm_host_stats *h,
			  uint32_t ndomains, double time)
{
	sqlite3_stmt *st;
	bool own = false;
	int rc = SQLITE_OK, result = -1, changed;

	if (self == NULL)
		return -1;
	if (host == NULL || h == NULL || !sm_wire_host_valid(host) || !isfinite(time)) {
		ix_fail_call(self, INDEX_E_INVALID,
			     "host latest values with a bad host name or time refused");
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	if (host_ensure(self, host, time) < 0)
		goto out;
	st = ix_stmt_get(self, ST_HOST_LATEST_PUT);
	if (st == NULL)
		goto out;
	ix_bind_text(st, 1, host, &rc);
	ix_bind_double(st, 2, time, &rc);
	ix_bind_int64(st, 3, h->ncpus, &rc);
	ix_bind_value(st, 4, h->cpu_pct, &rc);
	ix_bind_value(st, 5, h->load[0], &rc);
	ix_bind_value(st, 6, h->load[1], &rc);
	ix_bind_value(st, 7, h->load[2], &rc);
	ix_bind_value(st, 8, h->mem_pct, &rc);
	ix_bind_int64(st, 9, h->mem_used_kib > INT64_MAX ? INT64_MAX : (int64_t)h->mem_used_kib,
		      &rc);
	ix_bind_int64(st, 10, h->mem_total_kib > INT64_MAX ? INT64_MAX : (int64_t)h->mem_total_kib,
		      &rc);
	ix_bind_int64(st, 11, ndomains, &rc);
	ix_bind_int64(st, 12, h->libvirt_ok, &rc);
	changed = ix_stmt_exec(self, st, rc, "writing host latest values");
	if (changed >= 0)
		result = changed > 0;
out:
	return write_leave(self, own, result);
}

/* ---- Frame loss per minute ------------------------------------------- */

static int64_t clamp_count(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

int index_add_loss_minutes(struct agg_index *self, const struct index_loss_minute *counts, size_t n,
			   double time)
{
	bool own = false;
	int written = 0, result = -1;

	if (self == NULL || (counts == NULL && n > 0) || !isfinite(time))
		return -1;
	if (n == 0)
		return 0;
	if (write_enter(self, &own) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct index_loss_minute *c = &counts[i];
		sqlite3_stmt *st;
		int rc = SQLITE_OK;

		if (c->host == NULL || !sm_wire_host_valid(c->host) || c->minute % 60 != 0) {
			ix_fail_call(self, INDEX_E_INVALID,
				     "loss minute with a bad host name or minute refused");
			continue;
		}
		if (host_ensure(self, c->host, time) < 0)
			goto out;
		st = ix_stmt_get(self, ST_LOSS_MINUTE_ADD);
		if (st == NULL)
			goto out;
		ix_bind_text(st, 1, c->host, &rc);
		ix_bind_int64(st, 2, c->minute, &rc);
		ix_bind_int64(st, 3, clamp_count(c->received), &rc);
		ix_bind_int64(st, 4, clamp_count(c->lost), &rc);
		if (ix_stmt_exec(self, st, rc, "adding frame loss of a minute") < 0)
			goto out;
		written++;
	}
	result = written;
out:
	return write_leave(self, own, result);
}

int index_prune_loss_minutes(struct agg_index *self, double before)
{
	sqlite3_stmt *st;
	bool own = false;
	int rc = SQLITE_OK, result = -1;

	if (self == NULL || !isfinite(before))
		return -1;
	if (write_enter(self, &own) < 0)
		return -1;
	st = ix_stmt_get(self, ST_LOSS_MINUTE_PRUNE);
	if (st == NULL)
		goto out;
	ix_bind_int64(st, 1, (int64_t)floor(before), &rc);
	result = ix_stmt_exec(self, st, rc, "pruning old loss minutes");
out:
	return write_leave(self, own, result);
}
