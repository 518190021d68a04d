/*
 * index — see index.h. One sqlite connection, its statements prepared once
 * (lazily) and reset after each use; every value is a bound parameter. The
 * hot path (index_upsert_domain) reads the domain's row by primary key and
 * writes only what changed, so a steady frame of unchanged domains costs
 * reads only. Failures are logged through one rate-limited complaint per
 * index (a full disk logs once, then "recovered" once) and poison the open
 * transaction, which index_commit then rolls back.
 */
#include "index.h"

#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index_schema.h"
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
	ST_LIST_LATEST_ALL,
	ST_LIST_LATEST_PROJECT,
	ST_LIST_LATEST_NOPROJECT,
	ST_GET_LATEST,
	ST_GET_HOST_LATEST,
	ST_LIST_HOST_LATEST,
	ST_LIST_LOSS_MINUTES,
	ST_COUNT
};

#define DOMAIN_COLS                                                                                \
	"uuid, name, display_name, project_id, user_id, user_name, flavor, host, state,"           \
	" first_seen, last_seen, stopped_at, purge_after"
#define DOMAIN_ORDER " ORDER BY coalesce(display_name, name), uuid"
#define METRIC_COLS  "uuid, host, name, path, created_at"
/* A domain joined with its latest row (index_list_latest): the domain's
 * columns first, in DOMAIN_COLS order, then the latest row's. */
#define LATEST_SELECT                                                                              \
	"SELECT d.uuid, d.name, d.display_name, d.project_id, d.user_id, d.user_name, d.flavor,"   \
	" d.host, d.state, d.first_seen, d.last_seen, d.stopped_at, d.purge_after,"                \
	" l.time, l.stale, l.cpu_pct, l.steal_pct, l.load1, l.load5, l.load15, l.mem_pct,"         \
	" l.mem_basis, l.disk_rd_req_ps, l.disk_wr_req_ps, l.disk_rd_bytes_ps,"                    \
	" l.disk_wr_bytes_ps, l.net_rx_bytes_ps, l.net_tx_bytes_ps, l.net_rx_packets_ps,"          \
	" l.net_tx_packets_ps FROM domains d LEFT JOIN latest l ON l.uuid = d.uuid"
#define LATEST_ORDER " ORDER BY coalesce(d.display_name, d.name), d.uuid"
#define HOST_LATEST_COLS                                                                           \
	"host, time, ncpus, cpu_pct, load1, load5, load15, mem_pct, mem_used_kib, mem_total_kib,"  \
	" domains, libvirt_ok"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_HOST_ENSURE] = "INSERT INTO hosts(name, first_seen, last_seen) VALUES (?1, ?2, ?2)"
		       " ON CONFLICT(name) DO NOTHING",
    [ST_HOST_SEEN] = "INSERT INTO hosts(name, first_seen, last_seen) VALUES (?1, ?2, ?2)"
		     " ON CONFLICT(name) DO UPDATE SET last_seen = excluded.last_seen"
		     " WHERE excluded.last_seen > hosts.last_seen",
    [ST_STREAM_GET] = "SELECT epoch, last_seq FROM host_streams WHERE host = ?1 AND kind = ?2",
    [ST_STREAM_PUT] =
	"INSERT INTO host_streams(host, kind, epoch, last_seq, received, lost, duplicates,"
	" restarts, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, 1, 0, 0, 0, ?5, ?5)"
	" ON CONFLICT(host, kind) DO UPDATE SET epoch = excluded.epoch,"
	" last_seq = excluded.last_seq, received = received + 1, lost = lost + ?6,"
	" duplicates = duplicates + ?7, restarts = restarts + ?8,"
	" last_seen = max(last_seen, excluded.last_seen)",
    [ST_DOM_GET] = "SELECT host, name, display_name, project_id, user_id, user_name, flavor,"
		   " state, last_seen, stopped_at FROM domains WHERE uuid = ?1",
    [ST_DOM_INSERT] = "INSERT INTO domains(uuid, name, display_name, project_id, user_id,"
		      " user_name, flavor, host, state, first_seen, last_seen)"
		      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
    [ST_DOM_UPDATE] = "UPDATE domains SET name = ?2, display_name = ?3, project_id = ?4,"
		      " user_id = ?5, user_name = ?6, flavor = ?7, host = ?8, state = ?9,"
		      " last_seen = max(last_seen, ?10), stopped_at = NULL, purge_after = NULL"
		      " WHERE uuid = ?1",
    [ST_DOM_TOUCH] = "UPDATE domains SET last_seen = ?2 WHERE uuid = ?1 AND last_seen < ?2",
    [ST_MOVE_INSERT] = "INSERT INTO domain_moves(uuid, from_host, to_host, at)"
		       " VALUES (?1, ?2, ?3, ?4)",
    [ST_TENANT_PUT] =
	"INSERT INTO tenants(project_id, project_name, first_seen, last_seen)"
	" VALUES (?1, ?2, ?3, ?3) ON CONFLICT(project_id) DO UPDATE SET"
	" project_name = CASE WHEN excluded.last_seen >= last_seen"
	" THEN excluded.project_name ELSE project_name END,"
	" last_seen = max(last_seen, excluded.last_seen)"
	" WHERE project_name IS NOT excluded.project_name OR last_seen < excluded.last_seen",
    [ST_DOM_STOP] = "UPDATE domains SET stopped_at = ?2, purge_after = ?3 WHERE uuid = ?1"
		    " AND stopped_at IS NULL AND (?4 IS NULL OR host = ?4) AND last_seen <= ?2",
    [ST_DOM_STALE] = "UPDATE domains SET stopped_at = last_seen, purge_after = ?2"
		     " WHERE stopped_at IS NULL AND last_seen < ?1",
    [ST_METRICS_FORGET] = "DELETE FROM metrics WHERE uuid = ?1",
    [ST_MOVES_FORGET] = "DELETE FROM domain_moves WHERE uuid = ?1",
    [ST_DOM_FORGET] = "DELETE FROM domains WHERE uuid = ?1 RETURNING project_id",
    [ST_TENANT_FORGET] = "DELETE FROM tenants WHERE project_id = ?1"
			 " AND NOT EXISTS (SELECT 1 FROM domains WHERE project_id = ?1)",
    [ST_METRIC_PUT_DOM] = "INSERT INTO metrics(uuid, host, name, path, created_at)"
			  " VALUES (?1, NULL, ?2, ?3, ?4)"
			  " ON CONFLICT(uuid, name) WHERE uuid IS NOT NULL"
			  " DO UPDATE SET path = excluded.path WHERE path IS NOT excluded.path",
    [ST_METRIC_PUT_HOST] = "INSERT INTO metrics(uuid, host, name, path, created_at)"
			   " VALUES (NULL, ?1, ?2, ?3, ?4)"
			   " ON CONFLICT(host, name) WHERE host IS NOT NULL"
			   " DO UPDATE SET path = excluded.path WHERE path IS NOT excluded.path",
    [ST_LATEST_PUT] =
	"INSERT INTO latest(uuid, time, stale, cpu_pct, steal_pct, load1, load5, load15, mem_pct,"
	" mem_basis, disk_rd_req_ps, disk_wr_req_ps, disk_rd_bytes_ps, disk_wr_bytes_ps,"
	" net_rx_bytes_ps, net_tx_bytes_ps, net_rx_packets_ps, net_tx_packets_ps)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
	" ON CONFLICT(uuid) DO UPDATE SET time = excluded.time, stale = excluded.stale,"
	" cpu_pct = excluded.cpu_pct, steal_pct = excluded.steal_pct, load1 = excluded.load1,"
	" load5 = excluded.load5, load15 = excluded.load15, mem_pct = excluded.mem_pct,"
	" mem_basis = excluded.mem_basis, disk_rd_req_ps = excluded.disk_rd_req_ps,"
	" disk_wr_req_ps = excluded.disk_wr_req_ps, disk_rd_bytes_ps = excluded.disk_rd_bytes_ps,"
	" disk_wr_bytes_ps = excluded.disk_wr_bytes_ps, net_rx_bytes_ps = excluded.net_rx_bytes_ps,"
	" net_tx_bytes_ps = excluded.net_tx_bytes_ps,"
	" net_rx_packets_ps = excluded.net_rx_packets_ps,"
	" net_tx_packets_ps = excluded.net_tx_packets_ps WHERE excluded.time >= latest.time",
    [ST_HOST_LATEST_PUT] =
	"INSERT INTO host_latest(" HOST_LATEST_COLS ")"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
	" ON CONFLICT(host) DO UPDATE SET time = excluded.time, ncpus = excluded.ncpus,"
	" cpu_pct = excluded.cpu_pct, load1 = excluded.load1, load5 = excluded.load5,"
	" load15 = excluded.load15, mem_pct = excluded.mem_pct,"
	" mem_used_kib = excluded.mem_used_kib, mem_total_kib = excluded.mem_total_kib,"
	" domains = excluded.domains, libvirt_ok = excluded.libvirt_ok"
	" WHERE excluded.time >= host_latest.time",
    [ST_LATEST_FORGET] = "DELETE FROM latest WHERE uuid = ?1",
    [ST_LOSS_MINUTE_ADD] = "INSERT INTO host_loss_minutes(host, minute, received, lost)"
			   " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(host, minute) DO UPDATE SET"
			   " received = received + excluded.received,"
			   " lost = lost + excluded.lost",
    [ST_LOSS_MINUTE_PRUNE] = "DELETE FROM host_loss_minutes WHERE minute < ?1",
    [ST_PURGE_LIST] = "SELECT uuid, stopped_at FROM domains WHERE purge_after <= ?1"
		      " ORDER BY purge_after, uuid LIMIT ?2",
    [ST_LIST_PROJECTS] = "SELECT t.project_id, t.project_name, t.first_seen, t.last_seen,"
			 " (SELECT count(*) FROM domains d WHERE d.project_id = t.project_id"
			 " AND d.stopped_at IS NULL),"
			 " (SELECT count(*) FROM domains d WHERE d.project_id = t.project_id)"
			 " FROM tenants t ORDER BY t.project_name, t.project_id",
    [ST_LIST_DOMAINS_ALL] = "SELECT " DOMAIN_COLS " FROM domains"
			    " WHERE (?1 OR stopped_at IS NULL)" DOMAIN_ORDER,
    [ST_LIST_DOMAINS_PROJECT] = "SELECT " DOMAIN_COLS " FROM domains WHERE project_id = ?2"
				" AND (?1 OR stopped_at IS NULL)" DOMAIN_ORDER,
    [ST_LIST_DOMAINS_NOPROJECT] = "SELECT " DOMAIN_COLS " FROM domains WHERE project_id IS NULL"
				  " AND (?1 OR stopped_at IS NULL)" DOMAIN_ORDER,
    [ST_GET_DOMAIN] = "SELECT " DOMAIN_COLS " FROM domains WHERE uuid = ?1",
    [ST_LIST_METRICS_DOM] = "SELECT " METRIC_COLS " FROM metrics WHERE uuid = ?1 ORDER BY name",
    [ST_LIST_METRICS_HOST] = "SELECT " METRIC_COLS " FROM metrics WHERE host = ?1 ORDER BY name",
    [ST_LIST_HOSTS] =
	"SELECT h.name, h.first_seen, h.last_seen, coalesce(sum(s.received), 0),"
	" coalesce(sum(s.lost), 0), coalesce(sum(s.duplicates), 0),"
	" coalesce(sum(s.restarts), 0),"
	" (SELECT count(*) FROM domains d WHERE d.host = h.name AND d.stopped_at IS NULL)"
	" FROM hosts h LEFT JOIN host_streams s ON s.host = h.name"
	" GROUP BY h.name ORDER BY h.name",
    [ST_LIST_MOVES] = "SELECT uuid, from_host, to_host, at FROM domain_moves WHERE uuid = ?1"
		      " ORDER BY at, id",
    [ST_LIST_LATEST_ALL] = LATEST_SELECT " WHERE (?1 OR d.stopped_at IS NULL)" LATEST_ORDER,
    [ST_LIST_LATEST_PROJECT] = LATEST_SELECT " WHERE d.project_id = ?2"
					     " AND (?1 OR d.stopped_at IS NULL)" LATEST_ORDER,
    [ST_LIST_LATEST_NOPROJECT] = LATEST_SELECT " WHERE d.project_id IS NULL"
					       " AND (?1 OR d.stopped_at IS NULL)" LATEST_ORDER,
    [ST_GET_LATEST] = LATEST_SELECT " WHERE d.uuid = ?1",
    [ST_GET_HOST_LATEST] = "SELECT " HOST_LATEST_COLS " FROM host_latest WHERE host = ?1",
    [ST_LIST_HOST_LATEST] = "SELECT " HOST_LATEST_COLS " FROM host_latest ORDER BY host",
    [ST_LIST_LOSS_MINUTES] = "SELECT minute, received, lost FROM host_loss_minutes"
			     " WHERE host = ?1 AND minute >= ?2 ORDER BY minute",
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

static const char *const error_names[] = {
    [INDEX_OK] = "ok",
    [INDEX_E_IO] = "io",
    [INDEX_E_BUSY] = "busy",
    [INDEX_E_FULL] = "full",
    [INDEX_E_READONLY] = "readonly",
    [INDEX_E_CORRUPT] = "corrupt",
    [INDEX_E_SCHEMA] = "schema",
    [INDEX_E_INVALID] = "invalid",
    [INDEX_E_NOMEM] = "nomem",
    [INDEX_E_ABORTED] = "aborted",
    [INDEX_E_INTERNAL] = "internal",
};

const char *index_error_name(enum index_error err)
{
	if ((unsigned)err >= sizeof(error_names) / sizeof(error_names[0]))
		return "unknown";
	return error_names[err];
}

/* Maps an sqlite result code onto what a caller can act on. */
static enum index_error classify(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return INDEX_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return INDEX_E_BUSY;
	case SQLITE_FULL:
		return INDEX_E_FULL;
	case SQLITE_READONLY:
		return INDEX_E_READONLY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return INDEX_E_CORRUPT;
	case SQLITE_NOMEM:
		return INDEX_E_NOMEM;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_NOLFS:
		return INDEX_E_IO;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_TOOBIG:
		return INDEX_E_INVALID;
	default:
		return INDEX_E_INTERNAL;
	}
}

/* Records a failed sqlite call and logs it with the path. An INVALID one
 * (a constraint: one statement undone) leaves the transaction usable;
 * anything else poisons it. */
static void fail_sqlite(struct agg_index *self, int rc, const char *what)
{
	self->last_error = classify(rc);
	if (self->last_error == INDEX_OK)
		self->last_error = INDEX_E_INTERNAL;
	self->stats.failures++;
	if (self->in_txn && self->last_error != INDEX_E_INVALID)
		self->txn_failed = true;
	sm_complain(&self->db_complaint, SM_LOG_ERR, "index %s: %s failed: %s (%s)", self->path,
		    what, sqlite3_errmsg(self->db), index_error_name(self->last_error));
}

/* Records a refused call (bad argument, wrong mode, caller bug). */
static void SM_PRINTF(3, 4)
    fail_call(struct agg_index *self, enum index_error err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	self->last_error = err;
	self->stats.failures++;
	sm_complain(&self->arg_complaint, SM_LOG_WARNING, "index %s: %s (%s)", self->path, msg,
		    index_error_name(err));
}

/* The prepared statement `id`, prepared on first use; NULL (logged) if
 * sqlite refuses it (a damaged schema, no memory). */
static sqlite3_stmt *stmt_get(struct agg_index *self, enum stmt_id id)
{
	int rc;

	if (self->stmt[id])
		return self->stmt[id];
	rc = sqlite3_prepare_v3(self->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				&self->stmt[id], NULL);
	if (rc != SQLITE_OK) {
		fail_sqlite(self, rc, "preparing a statement");
		self->stmt[id] = NULL;
	}
	return self->stmt[id];
}

/* Ends a use of a statement so it can run again and holds no read lock. */
static void stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Binding helpers: each keeps the first error in *rc and does nothing after
 * it, so a run of binds needs one check. Text is bound without a copy
 * (SQLITE_STATIC): it outlives the statement's step. */
static void bind_text(sqlite3_stmt *st, int i, const char *s, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* A fixed-size field of a wire struct: bounded even if not NUL-terminated. */
static void bind_field(sqlite3_stmt *st, int i, const char *s, size_t size, int *rc)
{
	if (*rc != SQLITE_OK)
		return;
	if (s == NULL)
		*rc = sqlite3_bind_null(st, i);
	else
		*rc = sqlite3_bind_text(st, i, s, (int)strnlen(s, size - 1), SQLITE_STATIC);
}

static void bind_int64(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = sqlite3_bind_int64(st, i, v);
}

static void bind_double(sqlite3_stmt *st, int i, double v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = sqlite3_bind_double(st, i, v);
}

/* A measurement: NaN (unknown) is stored as NULL. */
static void bind_value(sqlite3_stmt *st, int i, double v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

/* Runs a bound statement that returns no rows; returns the rows it changed
 * or -1 (logged). The statement is reset either way. */
static int stmt_exec(struct agg_index *self, sqlite3_stmt *st, int bind_rc, const char *what)
{
	/* Not sqlite3_changes: an upsert that does nothing, or a COMMIT, leaves
	 * it at the previous statement's count. */
	int64_t before = sqlite3_total_changes64(self->db);
	int rc = bind_rc;
	int changed = -1;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		changed = (int)(sqlite3_total_changes64(self->db) - before);
		self->stats.rows_written += (uint64_t)changed;
	} else {
		fail_sqlite(self, rc, what);
	}
	stmt_done(st);
	return changed;
}

/* Column helpers. A required text column never yields NULL to a callback. */
static const char *col_text(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	return (const char *)sqlite3_column_text(st, i);
}

static const char *col_req(sqlite3_stmt *st, int i)
{
	const char *s = col_text(st, i);

	return s ? s : "";
}

static double col_time(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NAN;
	return sqlite3_column_double(st, i);
}

/* True if column i holds exactly the field `s` (NULL = SQL NULL). */
static bool col_equals(sqlite3_stmt *st, int i, const char *s, size_t size)
{
	size_t len;

	if (s == NULL)
		return sqlite3_column_type(st, i) == SQLITE_NULL;
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return false;
	len = strnlen(s, size - 1);
	return (size_t)sqlite3_column_bytes(st, i) == len &&
	       memcmp(sqlite3_column_text(st, i), s, len) == 0;
}

/* Canonical lowercase text of a uuid given in any case, with or without
 * dashes; -1 if it is not one. */
static int uuid_canon(const char *in, char out[37])
{
	uint8_t bin[16];

	if (in == NULL || sm_uuid_parse(in, bin) < 0)
		return -1;
	sm_uuid_format(bin, out);
	return 0;
}

/* A path the dashboard may join to the data directory: relative, no
 * empty, "." or ".." component, bounded. */
static bool relpath_valid(const char *p)
{
	size_t n = strnlen(p, RELPATH_MAX + 1);
	const char *c = p;

	if (n == 0 || n > RELPATH_MAX)
		return false;
	while (*c) {
		size_t len = strcspn(c, "/");

		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += len;
		if (*c == '/')
			c++;
		else
			break;
		if (*c == '\0')
			return false; /* trailing slash */
	}
	return true;
}

/* ---- Lifecycle ------------------------------------------------------- */

/* Runs SQL text with no parameters (pragmas, migrations); -1 logged. */
static int exec_sql(struct agg_index *self, const char *sql, const char *what)
{
	int rc = sqlite3_exec(self->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		fail_sqlite(self, rc, what);
		return -1;
	}
	return 0;
}

/* Reads one integer from a query (a pragma); -1 logged. */
static int query_int(struct agg_index *self, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(self->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		fail_sqlite(self, rc, "reading the file's header");
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Applies, each in its own transaction, every migration newer than the
 * file. Foreign keys are off meanwhile (a future migration may rebuild a
 * table) and checked before each commit. */
static int migrate(struct agg_index *self, const struct index_migration *list, size_t n)
{
	const struct index_migration *m = NULL;
	int64_t version = 0;
	sqlite3_stmt *st = NULL;
	char pragma[96];
	int rc;

	/* Up to date (the common case): no write lock, so a second handle opens
	 * beside a busy writer. */
	if (query_int(self, "PRAGMA user_version", &version) < 0)
		return -1;
	if (version >= list[n - 1].version)
		return exec_sql(self, "PRAGMA foreign_keys = ON", "turning foreign keys on");
	if (exec_sql(self, "PRAGMA foreign_keys = OFF", "turning foreign keys off") < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		m = &list[i];
		if (m->version <= version)
			continue;
		if (exec_sql(self, "BEGIN IMMEDIATE", "starting a migration") < 0)
			goto fail;
		/* Read inside the transaction: another writer may have migrated. */
		if (query_int(self, "PRAGMA user_version", &version) < 0)
			goto fail_rollback;
		if (version >= m->version) {
			if (exec_sql(self, "COMMIT", "ending a migration") < 0)
				goto fail_rollback;
			continue;
		}
		if (exec_sql(self, m->sql, "a migration step") < 0)
			goto fail_rollback;
		snprintf(pragma, sizeof(pragma),
			 "PRAGMA application_id = %d; PRAGMA user_version = %d",
			 INDEX_APPLICATION_ID, m->version);
		if (exec_sql(self, pragma, "setting the schema version") < 0)
			goto fail_rollback;
		rc = sqlite3_prepare_v2(self->db, "PRAGMA foreign_key_check", -1, &st, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			fail_call(self, INDEX_E_SCHEMA, "migration leaves dangling foreign keys");
		else if (rc != SQLITE_DONE)
			fail_sqlite(self, rc, "checking foreign keys");
		sqlite3_finalize(st);
		st = NULL;
		if (rc != SQLITE_DONE)
			goto fail_rollback;
		if (exec_sql(self, "COMMIT", "committing a migration") < 0)
			goto fail_rollback;
		sm_log_notice("index %s: schema upgraded to v%d (%s)", self->path, m->version,
			      m->what);
	}
	return exec_sql(self, "PRAGMA foreign_keys = ON", "turning foreign keys on");

fail_rollback:
	if (!sqlite3_get_autocommit(self->db))
		sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
fail:
	sm_log_err("index %s: migration to schema v%d (%s) failed and was rolled back; the file"
		   " is still at v%lld",
		   self->path, m ? m->version : 0, m ? m->what : "?", (long long)version);
	if (self->last_error == INDEX_OK)
		self->last_error = INDEX_E_INTERNAL;
	return -1;
}

/* Refuses a file that is not a StackMon index, or whose schema this build
 * cannot use in `mode`. */
static int check_schema(struct agg_index *self, int known)
{
	int64_t app_id = 0, version = 0, tables = 0;

	if (query_int(self, "PRAGMA application_id", &app_id) < 0 ||
	    query_int(self, "PRAGMA user_version", &version) < 0 ||
	    query_int(self, "SELECT count(*) FROM sqlite_schema", &tables) < 0)
		return -1;
	if (app_id != INDEX_APPLICATION_ID && !(app_id == 0 && version == 0 && tables == 0)) {
		sm_log_err("index %s: not a StackMon index (application_id 0x%08llx, user_version"
			   " %lld, %lld schema entries): refusing to use it",
			   self->path, (unsigned long long)(uint32_t)app_id, (long long)version,
			   (long long)tables);
		self->last_error = INDEX_E_SCHEMA;
		return -1;
	}
	if (version > known) {
		sm_log_err("index %s: schema v%lld is newer than this build's v%d: run a newer"
			   " StackMon, or move the file aside",
			   self->path, (long long)version, known);
		self->last_error = INDEX_E_SCHEMA;
		return -1;
	}
	if (self->mode == INDEX_READ_ONLY && version != known) {
		sm_log_err("index %s: schema v%lld, this build reads v%d: the aggregator creates or"
			   " upgrades it when it starts",
			   self->path, (long long)version, known);
		self->last_error = INDEX_E_SCHEMA;
		return -1;
	}
	return 0;
}

/* Connection settings of the writer: WAL so that readers never block it
 * nor it them; synchronous=NORMAL (a commit is durable at the next
 * checkpoint, and never torn); a cache that holds the hot tables. */
static int setup_writer(struct agg_index *self)
{
	sqlite3_stmt *st = NULL;
	const char *jm = NULL;
	bool wal = false;
	int persist = 1;
	int rc;

	rc = sqlite3_prepare_v2(self->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		jm = (const char *)sqlite3_column_text(st, 0);
		wal = jm && strcmp(jm, "wal") == 0;
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		fail_sqlite(self, rc, "turning on WAL mode");
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return -1;
	if (!wal) {
		sm_log_err(
		    "index %s: sqlite refused WAL mode (is the file on a network filesystem?)",
		    self->path);
		self->last_error = INDEX_E_IO;
		return -1;
	}
	/* Keep -wal and -shm after close: a dashboard running as another user
	 * then opens the index read-only without write access to the directory. */
	sqlite3_file_control(self->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	/* 32 MiB of cache holds the hot tables of 10,000 domains; the WAL is
	 * truncated back to 64 MiB after a checkpoint that emptied it. */
	return exec_sql(self,
			"PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768;"
			" PRAGMA journal_size_limit = 67108864;",
			"setting up the connection");
}

struct agg_index *index_open_with(const char *path, enum index_mode mode,
				  const struct index_migration *list, size_t n,
				  enum index_error *err)
{
	struct agg_index *self = NULL;
	enum index_error e = INDEX_E_INTERNAL;
	int flags, rc, known;

	if (path == NULL || path[0] == '\0' || list == NULL || n == 0) {
		sm_log_err("index: no path or no schema given");
		e = INDEX_E_INVALID;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if (list[i].version != (int)i + 1) {
			sm_log_err("index %s: migration list out of order at v%d", path,
				   list[i].version);
			e = INDEX_E_INVALID;
			goto fail;
		}
	}
	known = list[n - 1].version;
	self = calloc(1, sizeof(*self));
	if (self == NULL || (self->path = strdup(path)) == NULL) {
		sm_log_err("index %s: out of memory", path);
		e = INDEX_E_NOMEM;
		goto fail;
	}
	self->mode = mode;
	self->touch_interval = INDEX_TOUCH_INTERVAL_DEFAULT;
	flags = mode == INDEX_READ_ONLY ? SQLITE_OPEN_READONLY
					: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &self->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		e = classify(rc);
		sm_log_err("index %s: cannot open%s: %s", path,
			   mode == INDEX_READ_ONLY ? " read-only" : "",
			   self->db ? sqlite3_errmsg(self->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(self->db, 1);
	sqlite3_busy_timeout(self->db, mode == INDEX_READ_ONLY ? BUSY_TIMEOUT_READER_MS
							       : BUSY_TIMEOUT_WRITER_MS);
	if (check_schema(self, known) < 0)
		goto fail_self;
	if (mode == INDEX_READ_ONLY) {
		if (exec_sql(self, "PRAGMA query_only = 1", "making the connection query-only") < 0)
			goto fail_self;
	} else {
		if (setup_writer(self) < 0 || migrate(self, list, n) < 0 || index_check(self) < 0)
			goto fail_self;
	}
	self->last_error = INDEX_OK;
	self->stats.failures = 0;
	if (err)
		*err = INDEX_OK;
	return self;

fail_self:
	e = self->last_error != INDEX_OK ? self->last_error : INDEX_E_INTERNAL;
fail:
	if (err)
		*err = e;
	index_close(&self);
	return NULL;
}

struct agg_index *index_open(const char *path, enum index_mode mode, enum index_error *err)
{
	return index_open_with(path, mode, index_migrations, index_migrations_count, err);
}

void index_close(struct agg_index **self_p)
{
	struct agg_index *self;
	int rc;

	if (self_p == NULL || *self_p == NULL)
		return;
	self = *self_p;
	if (self->in_txn) {
		sm_log_warnx("index %s: closed inside a transaction: rolled back", self->path);
		index_rollback(self);
	}
	for (size_t i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(self->stmt[i]);
	if (self->db) {
		if (self->mode == INDEX_READ_WRITE)
			sqlite3_exec(self->db, "PRAGMA optimize", NULL, NULL, NULL);
		rc = sqlite3_close(self->db);
		if (rc != SQLITE_OK)
			sm_log_err("index %s: close failed: %s", self->path, sqlite3_errstr(rc));
	}
	free(self->path);
	free(self);
	*self_p = NULL;
}

const char *index_path(const struct agg_index *self)
{
	return self ? self->path : NULL;
}

enum index_error index_last_error(const struct agg_index *self)
{
	return self ? self->last_error : INDEX_E_INVALID;
}

struct sqlite3 *index_sqlite(struct agg_index *self)
{
	return self ? self->db : NULL;
}

int index_check(struct agg_index *self)
{
	sqlite3_stmt *st = NULL;
	const char *line;
	int rc;

	if (self == NULL)
		return -1;
	rc = sqlite3_prepare_v2(self->db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		line = (const char *)sqlite3_column_text(st, 0);
		if (line && strcmp(line, "ok") == 0) {
			rc = SQLITE_OK;
		} else {
			sm_log_err("index %s: damaged: %s", self->path, line ? line : "?");
			self->last_error = INDEX_E_CORRUPT;
			self->stats.failures++;
		}
	} else {
		fail_sqlite(self, rc, "checking the file");
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : -1;
}

void index_set_touch_interval(struct agg_index *self, double seconds)
{
	if (self == NULL)
		return;
	if (!(seconds >= 0)) /* also NaN */
		seconds = INDEX_TOUCH_INTERVAL_DEFAULT;
	self->touch_interval = seconds > TOUCH_INTERVAL_MAX ? TOUCH_INTERVAL_MAX : seconds;
}

void index_set_busy_timeout(struct agg_index *self, int ms)
{
	if (self)
		sqlite3_busy_timeout(self->db, ms < 0 ? 0 : ms);
}

void index_set_auto_checkpoint(struct agg_index *self, bool on)
{
	if (self && self->mode == INDEX_READ_WRITE)
		sqlite3_wal_autocheckpoint(self->db, on ? AUTO_CHECKPOINT_PAGES : 0);
}

int index_checkpoint(struct agg_index *self, int *wal_pages, int *done_pages)
{
	int log = 0, done = 0, rc;

	if (self == NULL)
		return -1;
	if (self->mode == INDEX_READ_ONLY) {
		fail_call(self, INDEX_E_READONLY, "opened read-only: no checkpoint");
		return -1;
	}
	rc = sqlite3_wal_checkpoint_v2(self->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (rc != SQLITE_OK) {
		fail_sqlite(self, rc, "checkpointing");
		return -1;
	}
	if (wal_pages)
		*wal_pages = log;
	if (done_pages)
		*done_pages = done;
	return 0;
}

void index_get_stats(const struct agg_index *self, struct index_stats *out)
{
	if (out)
		*out = self ? self->stats : (struct index_stats){0};
}

/* ---- Transactions ---------------------------------------------------- */

/* Steps a statement without parameters (BEGIN, COMMIT, ROLLBACK). */
static int run_control(struct agg_index *self, enum stmt_id id, const char *what)
{
	sqlite3_stmt *st = stmt_get(self, id);

	if (st == NULL)
		return -1;
	return stmt_exec(self, st, SQLITE_OK, what) < 0 ? -1 : 0;
}

int index_begin(struct agg_index *self)
{
	if (self == NULL)
		return -1;
	if (self->mode == INDEX_READ_ONLY) {
		fail_call(self, INDEX_E_READONLY, "opened read-only: no transaction");
		return -1;
	}
	if (self->in_txn) {
		fail_call(self, INDEX_E_INTERNAL, "index_begin inside a transaction");
		return -1;
	}
	if (run_control(self, ST_BEGIN, "beginning a transaction") < 0)
		return -1;
	self->in_txn = true;
	self->txn_failed = false;
	self->txn_host[0] = '\0';
	return 0;
}

/* Ends the transaction by rolling it back, if sqlite has not already. */
static void txn_abandon(struct agg_index *self)
{
	if (!sqlite3_get_autocommit(self->db))
		sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
	self->in_txn = false;
	self->txn_failed = false;
	self->stats.rollbacks++;
}

int index_commit(struct agg_index *self)
{
	if (self == NULL)
		return -1;
	if (!self->in_txn) {
		fail_call(self, INDEX_E_INTERNAL, "index_commit without index_begin");
		return -1;
	}
	if (self->txn_failed) {
		/* last_error still names the call that failed. */
		txn_abandon(self);
		return -1;
	}
	if (run_control(self, ST_COMMIT, "committing") < 0) {
		txn_abandon(self);
		return -1;
	}
	self->in_txn = false;
	self->stats.commits++;
	sm_complaint_release(&self->db_complaint, "index %s: writing works again", self->path);
	return 0;
}

void index_rollback(struct agg_index *self)
{
	if (self && self->in_txn)
		txn_abandon(self);
}

/* Every write call starts here: refuses a read-only index and a poisoned
 * transaction, and begins a transaction of the call's own when the caller
 * has none (*own). */
static int write_enter(struct agg_index *self, bool *own)
{
	*own = false;
	if (self->mode == INDEX_READ_ONLY) {
		fail_call(self, INDEX_E_READONLY, "opened read-only: write refused");
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
		txn_abandon(self);
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
	st = stmt_get(self, ST_HOST_ENSURE);
	if (st == NULL)
		return -1;
	bind_text(st, 1, host, &rc);
	bind_double(st, 2, time, &rc);
	if (stmt_exec(self, st, rc, "adding a host") < 0)
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
		fail_call(self, INDEX_E_INVALID,
			  "frame with a bad host name, kind or time refused");
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	st = stmt_get(self, ST_HOST_SEEN);
	if (st == NULL)
		goto out;
	bind_text(st, 1, host, &rc);
	bind_double(st, 2, time, &rc);
	if (stmt_exec(self, st, rc, "noting a host") < 0)
		goto out;
	snprintf(self->txn_host, sizeof(self->txn_host), "%s", host);

	st = stmt_get(self, ST_STREAM_GET);
	if (st == NULL)
		goto out;
	bind_text(st, 1, host, &rc);
	bind_text(st, 2, kname, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		known = true;
		last_epoch = (uint64_t)sqlite3_column_int64(st, 0);
		last_seq = (uint64_t)sqlite3_column_int64(st, 1);
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		fail_sqlite(self, rc, "reading frame accounting");
	stmt_done(st);
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

	st = stmt_get(self, ST_STREAM_PUT);
	if (st == NULL)
		goto out;
	rc = SQLITE_OK;
	bind_text(st, 1, host, &rc);
	bind_text(st, 2, kname, &rc);
	bind_int64(st, 3, (int64_t)epoch, &rc);
	bind_int64(st, 4, (int64_t)new_seq, &rc);
	bind_double(st, 5, time, &rc);
	bind_int64(st, 6, v.lost > INT64_MAX ? INT64_MAX : (int64_t)v.lost, &rc);
	bind_int64(st, 7, v.duplicate, &rc);
	bind_int64(st, 8, v.restart, &rc);
	if (stmt_exec(self, st, rc, "updating frame accounting") < 0)
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
	bind_field(st, 2, d->name, sizeof(d->name), rc);
	bind_field(st, 3, c->display_name, sizeof(d->identity.display_name), rc);
	bind_field(st, 4, c->project_id, sizeof(d->identity.project_id), rc);
	bind_field(st, 5, c->user_id, sizeof(d->identity.user_id), rc);
	bind_field(st, 6, c->user_name, sizeof(d->identity.user_name), rc);
	bind_field(st, 7, c->flavor, sizeof(d->identity.flavor), rc);
	bind_text(st, 8, host, rc);
	bind_int64(st, 9, d->state, rc);
	bind_double(st, 10, time, rc);
}

/* Creates or refreshes the tenant of a domain being written. */
static int tenant_put(struct agg_index *self, const struct sm_domain_stats *d,
		      const struct identity_cols *c, double time)
{
	sqlite3_stmt *st = stmt_get(self, ST_TENANT_PUT);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	bind_field(st, 1, c->project_id, sizeof(d->identity.project_id), &rc);
	bind_field(st, 2, c->project_name, sizeof(d->identity.project_name), &rc);
	bind_double(st, 3, time, &rc);
	return stmt_exec(self, st, rc, "updating a tenant") < 0 ? -1 : 0;
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
	sqlite3_stmt *st = stmt_get(self, ST_DOM_GET);
	int rc = SQLITE_OK;

	*row = (struct domain_row){0};
	if (st == NULL)
		return -1;
	bind_text(st, 1, uuid, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row->found = true;
		snprintf(row->host, sizeof(row->host), "%s", col_req(st, 0));
		row->state = (uint32_t)sqlite3_column_int64(st, 7);
		row->last_seen = sqlite3_column_double(st, 8);
		row->stopped_at = col_time(st, 9);
		row->same_facts =
		    col_equals(st, 1, d->name, sizeof(d->name)) &&
		    col_equals(st, 2, c->display_name, sizeof(d->identity.display_name)) &&
		    col_equals(st, 3, c->project_id, sizeof(d->identity.project_id)) &&
		    col_equals(st, 4, c->user_id, sizeof(d->identity.user_id)) &&
		    col_equals(st, 5, c->user_name, sizeof(d->identity.user_name)) &&
		    col_equals(st, 6, c->flavor, sizeof(d->identity.flavor)) &&
		    row->state == d->state;
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		fail_sqlite(self, rc, "reading a domain");
	stmt_done(st);
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
		fail_call(self, INDEX_E_INVALID,
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
		st = stmt_get(self, ST_DOM_INSERT);
		break;
	case INDEX_TOUCHED:
		st = stmt_get(self, ST_DOM_TOUCH);
		break;
	default:
		st = stmt_get(self, ST_DOM_UPDATE);
		break;
	}
	if (st == NULL)
		goto out;
	bind_text(st, 1, uuid, &rc);
	if (verdict == INDEX_TOUCHED)
		bind_double(st, 2, time, &rc);
	else
		bind_domain(st, host, d, &c, time, &rc);
	if (stmt_exec(self, st, rc, "writing a domain") < 0)
		goto out;
	if (verdict == INDEX_MOVED) {
		st = stmt_get(self, ST_MOVE_INSERT);
		if (st == NULL)
			goto out;
		bind_text(st, 1, uuid, &rc);
		bind_text(st, 2, row.host, &rc);
		bind_text(st, 3, host, &rc);
		bind_double(st, 4, time, &rc);
		if (stmt_exec(self, st, rc, "recording a move") < 0)
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
	if (uuid_canon(uuid, id) < 0 || (host && !sm_wire_host_valid(host)) || !isfinite(time) ||
	    !(grace_s >= 0) || !isfinite(grace_s)) {
		fail_call(self, INDEX_E_INVALID,
			  "stop with a bad uuid, host, time or grace refused");
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	st = stmt_get(self, ST_DOM_STOP);
	if (st == NULL)
		goto out;
	bind_text(st, 1, id, &rc);
	bind_double(st, 2, time, &rc);
	bind_double(st, 3, time + grace_s, &rc);
	bind_text(st, 4, host, &rc);
	changed = stmt_exec(self, st, rc, "marking a domain stopped");
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
		fail_call(self, INDEX_E_INVALID, "stale sweep with a bad time refused");
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	st = stmt_get(self, ST_DOM_STALE);
	if (st == NULL)
		goto out;
	bind_double(st, 1, now - stale_s, &rc);
	bind_double(st, 2, now + grace_s, &rc);
	result = stmt_exec(self, st, rc, "marking stale domains stopped");
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
		fail_call(self, INDEX_E_INVALID, "purge listing without a callback or a time");
		return -1;
	}
	if (max == 0)
		return 0;
	if (max > INT32_MAX)
		max = INT32_MAX;
	st = stmt_get(self, ST_PURGE_LIST);
	if (st == NULL)
		return -1;
	bind_double(st, 1, now, &rc);
	bind_int64(st, 2, (int64_t)max, &rc);
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
		snprintf(items[n].uuid, sizeof(items[n].uuid), "%s", col_req(st, 0));
		items[n].stopped_at = col_time(st, 1);
		n++;
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE)
		fail_sqlite(self, rc, "listing domains to purge");
	stmt_done(st);
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
	sqlite3_stmt *st = stmt_get(self, id);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	bind_text(st, 1, key, &rc);
	return stmt_exec(self, st, rc, what);
}

int index_forget_domain(struct agg_index *self, const char *uuid)
{
	char id[37], project[SM_ID_MAX + 1] = "";
	sqlite3_stmt *st;
	bool own = false, found = false;
	int rc = SQLITE_OK, result = -1;

	if (self == NULL)
		return -1;
	if (uuid_canon(uuid, id) < 0) {
		fail_call(self, INDEX_E_INVALID, "forget with a bad uuid refused");
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	if (delete_by(self, ST_METRICS_FORGET, id, "forgetting metrics") < 0 ||
	    delete_by(self, ST_MOVES_FORGET, id, "forgetting moves") < 0 ||
	    delete_by(self, ST_LATEST_FORGET, id, "forgetting latest values") < 0)
		goto out;
	st = stmt_get(self, ST_DOM_FORGET);
	if (st == NULL)
		goto out;
	bind_text(st, 1, id, &rc);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		found = true;
		snprintf(project, sizeof(project), "%s", col_req(st, 0));
		rc = SQLITE_OK;
	}
	if (rc == SQLITE_DONE)
		self->stats.rows_written += found;
	else
		fail_sqlite(self, rc, "forgetting a domain");
	stmt_done(st);
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
	if ((uuid == NULL) == (host == NULL) || (uuid && uuid_canon(uuid, id) < 0) ||
	    (host && !sm_wire_host_valid(host)) || mlen == 0 || mlen > METRIC_NAME_MAX ||
	    relpath == NULL || !relpath_valid(relpath) || !isfinite(time)) {
		fail_call(self, INDEX_E_INVALID,
			  "metric refused: needs one of uuid/host, a name of 1-%d bytes and a"
			  " relative path without '..'",
			  METRIC_NAME_MAX);
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	if (host && host_ensure(self, host, time) < 0)
		goto out;
	st = stmt_get(self, uuid ? ST_METRIC_PUT_DOM : ST_METRIC_PUT_HOST);
	if (st == NULL)
		goto out;
	bind_text(st, 1, uuid ? id : host, &rc);
	bind_text(st, 2, metric, &rc);
	bind_text(st, 3, relpath, &rc);
	bind_double(st, 4, time, &rc);
	changed = stmt_exec(self, st, rc, "registering a metric");
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
		fail_call(self, INDEX_E_INVALID,
			  "latest values without a domain or a time refused");
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	st = stmt_get(self, ST_LATEST_PUT);
	if (st == NULL)
		goto out;
	sm_uuid_format(d->uuid, uuid);
	device_sums_of(d, &sum);
	bind_text(st, 1, uuid, &rc);
	bind_double(st, 2, time, &rc);
	bind_int64(st, 3, (d->flags & SM_DOM_STALE) != 0, &rc);
	bind_value(st, 4, d->cpu_pct, &rc);
	bind_value(st, 5, d->steal_pct, &rc);
	bind_value(st, 6, d->load[0], &rc);
	bind_value(st, 7, d->load[1], &rc);
	bind_value(st, 8, d->load[2], &rc);
	bind_value(st, 9, d->mem_pct, &rc);
	bind_int64(st, 10, d->mem_basis, &rc);
	bind_value(st, 11, sum.disk_rd_req, &rc);
	bind_value(st, 12, sum.disk_wr_req, &rc);
	bind_value(st, 13, sum.disk_rd_bytes, &rc);
	bind_value(st, 14, sum.disk_wr_bytes, &rc);
	bind_value(st, 15, sum.net_rx_bytes, &rc);
	bind_value(st, 16, sum.net_tx_bytes, &rc);
	bind_value(st, 17, sum.net_rx_packets, &rc);
	bind_value(st, 18, sum.net_tx_packets, &rc);
	changed = stmt_exec(self, st, rc, "writing latest values");
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
		fail_call(self, INDEX_E_INVALID,
			  "host latest values with a bad host name or time refused");
		return -1;
	}
	if (write_enter(self, &own) < 0)
		return -1;
	if (host_ensure(self, host, time) < 0)
		goto out;
	st = stmt_get(self, ST_HOST_LATEST_PUT);
	if (st == NULL)
		goto out;
	bind_text(st, 1, host, &rc);
	bind_double(st, 2, time, &rc);
	bind_int64(st, 3, h->ncpus, &rc);
	bind_value(st, 4, h->cpu_pct, &rc);
	bind_value(st, 5, h->load[0], &rc);
	bind_value(st, 6, h->load[1], &rc);
	bind_value(st, 7, h->load[2], &rc);
	bind_value(st, 8, h->mem_pct, &rc);
	bind_int64(st, 9, h->mem_used_kib > INT64_MAX ? INT64_MAX : (int64_t)h->mem_used_kib, &rc);
	bind_int64(st, 10, h->mem_total_kib > INT64_MAX ? INT64_MAX : (int64_t)h->mem_total_kib,
		   &rc);
	bind_int64(st, 11, ndomains, &rc);
	bind_int64(st, 12, h->libvirt_ok, &rc);
	changed = stmt_exec(self, st, rc, "writing host latest values");
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
			fail_call(self, INDEX_E_INVALID,
				  "loss minute with a bad host name or minute refused");
			continue;
		}
		if (host_ensure(self, c->host, time) < 0)
			goto out;
		st = stmt_get(self, ST_LOSS_MINUTE_ADD);
		if (st == NULL)
			goto out;
		bind_text(st, 1, c->host, &rc);
		bind_int64(st, 2, c->minute, &rc);
		bind_int64(st, 3, clamp_count(c->received), &rc);
		bind_int64(st, 4, clamp_count(c->lost), &rc);
		if (stmt_exec(self, st, rc, "adding frame loss of a minute") < 0)
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
	st = stmt_get(self, ST_LOSS_MINUTE_PRUNE);
	if (st == NULL)
		goto out;
	bind_int64(st, 1, (int64_t)floor(before), &rc);
	result = stmt_exec(self, st, rc, "pruning old loss minutes");
out:
	return write_leave(self, own, result);
}

/* ---- Reads ----------------------------------------------------------- */

/* What a read adapter needs: the caller's callback and its argument. */
struct read_ctx {
	union {
		index_project_fn project;
		index_domain_fn domain;
		index_metric_fn metric;
		index_host_fn host;
		index_move_fn move;
		index_latest_fn latest;
		index_host_latest_fn host_latest;
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
		fail_sqlite(self, rc, what);
		n = -1;
	}
	stmt_done(st);
	return n;
}

static int project_row(const struct read_ctx *ctx, sqlite3_stmt *st)
{
	struct index_project p = {
	    .project_id = col_req(st, 0),
	    .project_name = col_req(st, 1),
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
	st = stmt_get(self, ST_LIST_PROJECTS);
	if (st == NULL)
		return -1;
	return query_rows(self, st, SQLITE_OK, "listing projects", project_row, &ctx);
}

/* Columns 0-12 of the domain and latest queries: the domain's identity
 * and lifetime, in that order (the two queries keep it so). */
static struct index_domain domain_of_row(sqlite3_stmt *st)
{
	return (struct index_domain){
	    .uuid = col_req(st, 0),
	    .name = col_req(st, 1),
	    .display_name = col_text(st, 2),
	    .project_id = col_text(st, 3),
	    .user_id = col_text(st, 4),
	    .user_name = col_text(st, 5),
	    .flavor = col_text(st, 6),
	    .host = col_req(st, 7),
	    .state = (uint32_t)sqlite3_column_int64(st, 8),
	    .first_seen = sqlite3_column_double(st, 9),
	    .last_seen = sqlite3_column_double(st, 10),
	    .stopped_at = col_time(st, 11),
	    .purge_after = col_time(st, 12),
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
	st = stmt_get(self, id);
	if (st == NULL)
		return -1;
	bind_int64(st, 1, (flags & INDEX_LIST_STOPPED) != 0, &rc);
	if (id == ids[2])
		bind_text(st, 2, project_id, &rc);
	return query_rows(self, st, rc, what, row, ctx);
}

/* A query for one domain by uuid (in any accepted spelling). */
static int get_by_uuid(struct agg_index *self, enum stmt_id id, const char *uuid,
		       const char *what, row_fn row, const struct read_ctx *ctx)
{
	char canon[37];
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	if (uuid_canon(uuid, canon) < 0) {
		fail_call(self, INDEX_E_INVALID, "%s: bad uuid refused", what);
		return -1;
	}
	st = stmt_get(self, id);
	if (st == NULL)
		return -1;
	bind_text(st, 1, canon, &rc);
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
	    .uuid = col_text(st, 0),
	    .host = col_text(st, 1),
	    .name = col_req(st, 2),
	    .path = col_req(st, 3),
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
	if ((uuid == NULL) == (host == NULL) || (uuid && uuid_canon(uuid, id) < 0)) {
		fail_call(self, INDEX_E_INVALID, "metric listing needs one valid uuid or host");
		return -1;
	}
	st = stmt_get(self, uuid ? ST_LIST_METRICS_DOM : ST_LIST_METRICS_HOST);
	if (st == NULL)
		return -1;
	bind_text(st, 1, uuid ? id : host, &rc);
	return query_rows(self, st, rc, "listing metrics", metric_row, &ctx);
}

static int host_row(const struct read_ctx *ctx, sqlite3_stmt *st)
{
	struct index_host h = {
	    .name = col_req(st, 0),
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
	st = stmt_get(self, ST_LIST_HOSTS);
	if (st == NULL)
		return -1;
	return query_rows(self, st, SQLITE_OK, "listing hosts", host_row, &ctx);
}

static int move_row(const struct read_ctx *ctx, sqlite3_stmt *st)
{
	struct index_move m = {
	    .uuid = col_req(st, 0),
	    .from_host = col_req(st, 1),
	    .to_host = col_req(st, 2),
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

/* A nullable REAL column: NAN for NULL. */
static double col_value(sqlite3_stmt *st, int i)
{
	return col_time(st, i);
}

static int latest_row(const struct read_ctx *ctx, sqlite3_stmt *st)
{
	struct index_domain d = domain_of_row(st);
	struct index_latest l = {
	    .time = col_time(st, 13),
	    .stale = sqlite3_column_int64(st, 14) != 0,
	    .cpu_pct = col_value(st, 15),
	    .steal_pct = col_value(st, 16),
	    .load = {col_value(st, 17), col_value(st, 18), col_value(st, 19)},
	    .mem_pct = col_value(st, 20),
	    .mem_basis = (uint32_t)sqlite3_column_int64(st, 21),
	    .disk_rd_req_ps = col_value(st, 22),
	    .disk_wr_req_ps = col_value(st, 23),
	    .disk_rd_bytes_ps = col_value(st, 24),
	    .disk_wr_bytes_ps = col_value(st, 25),
	    .net_rx_bytes_ps = col_value(st, 26),
	    .net_tx_bytes_ps = col_value(st, 27),
	    .net_rx_packets_ps = col_value(st, 28),
	    .net_tx_packets_ps = col_value(st, 29),
	};

	/* No latest row: the LEFT JOIN gives NULL time. */
	return ctx->fn.latest(ctx->arg, &d, sqlite3_column_type(st, 13) == SQLITE_NULL ? NULL : &l);
}

int index_list_latest(struct agg_index *self, const char *project_id, unsigned flags,
		      index_latest_fn fn, void *arg)
{
	static const enum stmt_id ids[3] = {ST_LIST_LATEST_ALL, ST_LIST_LATEST_NOPROJECT,
					    ST_LIST_LATEST_PROJECT};
	struct read_ctx ctx = {.fn.latest = fn, .arg = arg};

	if (self == NULL || fn == NULL)
		return -1;
	return list_by_project(self, ids, project_id, flags, "listing latest values", latest_row,
			       &ctx);
}

int index_get_latest(struct agg_index *self, const char *uuid, index_latest_fn fn, void *arg)
{
	struct read_ctx ctx = {.fn.latest = fn, .arg = arg};

	if (self == NULL || fn == NULL)
		return -1;
	return get_by_uuid(self, ST_GET_LATEST, uuid, "reading latest values", latest_row, &ctx);
}

static int host_latest_row(const struct read_ctx *ctx, sqlite3_stmt *st)
{
	struct index_host_latest h = {
	    .host = col_req(st, 0),
	    .time = sqlite3_column_double(st, 1),
	    .ncpus = (uint32_t)sqlite3_column_int64(st, 2),
	    .cpu_pct = col_value(st, 3),
	    .load = {col_value(st, 4), col_value(st, 5), col_value(st, 6)},
	    .mem_pct = col_value(st, 7),
	    .mem_used_kib = (uint64_t)sqlite3_column_int64(st, 8),
	    .mem_total_kib = (uint64_t)sqlite3_column_int64(st, 9),
	    .domains = (uint32_t)sqlite3_column_int64(st, 10),
	    .libvirt_ok = sqlite3_column_int64(st, 11) != 0,
	};

	return ctx->fn.host_latest(ctx->arg, &h);
}

int index_get_host_latest(struct agg_index *self, const char *host, index_host_latest_fn fn,
			  void *arg)
{
	struct read_ctx ctx = {.fn.host_latest = fn, .arg = arg};
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	if (self == NULL || fn == NULL)
		return -1;
	if (host == NULL || !sm_wire_host_valid(host)) {
		fail_call(self, INDEX_E_INVALID, "host lookup with a bad host name refused");
		return -1;
	}
	st = stmt_get(self, ST_GET_HOST_LATEST);
	if (st == NULL)
		return -1;
	bind_text(st, 1, host, &rc);
	return query_rows(self, st, rc, "reading host latest values", host_latest_row, &ctx);
}

int index_list_host_latest(struct agg_index *self, index_host_latest_fn fn, void *arg)
{
	struct read_ctx ctx = {.fn.host_latest = fn, .arg = arg};
	sqlite3_stmt *st;

	if (self == NULL || fn == NULL)
		return -1;
	st = stmt_get(self, ST_LIST_HOST_LATEST);
	if (st == NULL)
		return -1;
	return query_rows(self, st, SQLITE_OK, "listing host latest values", host_latest_row, &ctx);
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
		fail_call(self, INDEX_E_INVALID, "loss minutes of a bad host name refused");
		return -1;
	}
	st = stmt_get(self, ST_LIST_LOSS_MINUTES);
	if (st == NULL)
		return -1;
	bind_text(st, 1, host, &rc);
	bind_int64(st, 2, (int64_t)ceil(since), &rc);
	return query_rows(self, st, rc, "listing loss minutes", loss_minute_row, &ctx);
}
