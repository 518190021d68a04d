/*
 * index — see index.h. This file: opening (schema check, migrations), the
 * connection's settings, transactions, and every statement the index runs
 * (stmt_sql), prepared once (lazily) and reset after each use; every value
 * is a bound parameter. Writes are in index_write.c, reads in index_read.c
 * and snapshot.c. Failures are logged through one rate-limited complaint
 * per index (a full disk logs once, then "recovered" once) and poison the
 * open transaction, which index_commit then rolls back.
 */
#include "index.h"

#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index_impl.h"
#include "index_schema.h"

#define DOMAIN_COLS                                                                                \
	"uuid, name, display_name, project_id, user_id, user_name, flavor, host, state,"           \
	" first_seen, last_seen, stopped_at, purge_after"
#define DOMAIN_ORDER " ORDER BY coalesce(display_name, name), uuid"
#define METRIC_COLS  "uuid, host, name, path, created_at"
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
    [ST_LIST_LOSS_MINUTES] = "SELECT minute, received, lost FROM host_loss_minutes"
			     " WHERE host = ?1 AND minute >= ?2 ORDER BY minute",
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
void ix_fail_sqlite(struct agg_index *self, int rc, const char *what)
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
void ix_fail_call(struct agg_index *self, enum index_error err, const char *fmt, ...)
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
sqlite3_stmt *ix_stmt_get(struct agg_index *self, enum stmt_id id)
{
	int rc;

	if (self->stmt[id])
		return self->stmt[id];
	rc = sqlite3_prepare_v3(self->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				&self->stmt[id], NULL);
	if (rc != SQLITE_OK) {
		ix_fail_sqlite(self, rc, "preparing a statement");
		self->stmt[id] = NULL;
	}
	return self->stmt[id];
}

/* Ends a use of a statement so it can run again and holds no read lock. */
void ix_stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Binding helpers: each keeps the first error in *rc and does nothing after
 * it, so a run of binds needs one check. Text is bound without a copy
 * (SQLITE_STATIC): it outlives the statement's step. */
void ix_bind_text(sqlite3_stmt *st, int i, const char *s, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* A fixed-size field of a wire struct: bounded even if not NUL-terminated. */
void ix_bind_field(sqlite3_stmt *st, int i, const char *s, size_t size, int *rc)
{
	if (*rc != SQLITE_OK)
		return;
	if (s == NULL)
		*rc = sqlite3_bind_null(st, i);
	else
		*rc = sqlite3_bind_text(st, i, s, (int)strnlen(s, size - 1), SQLITE_STATIC);
}

void ix_bind_int64(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = sqlite3_bind_int64(st, i, v);
}

void ix_bind_double(sqlite3_stmt *st, int i, double v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = sqlite3_bind_double(st, i, v);
}

/* A measurement: NaN (unknown) is stored as NULL. */
void ix_bind_value(sqlite3_stmt *st, int i, double v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

/* Runs a bound statement that returns no rows; returns the rows it changed
 * or -1 (logged). The statement is reset either way. */
int ix_stmt_exec(struct agg_index *self, sqlite3_stmt *st, int bind_rc, const char *what)
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
		ix_fail_sqlite(self, rc, what);
	}
	ix_stmt_done(st);
	return changed;
}

/* Column helpers. A required text column never yields NULL to a callback. */
const char *ix_col_text(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	return (const char *)sqlite3_column_text(st, i);
}

const char *ix_col_req(sqlite3_stmt *st, int i)
{
	const char *s = ix_col_text(st, i);

	return s ? s : "";
}

double ix_col_time(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NAN;
	return sqlite3_column_double(st, i);
}

/* True if column i holds exactly the field `s` (NULL = SQL NULL). */
bool ix_col_equals(sqlite3_stmt *st, int i, const char *s, size_t size)
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

/* A path the dashboard may join to the data directory: relative, no
 * empty, "." or ".." component, bounded. */
bool ix_relpath_valid(const char *p)
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
		ix_fail_sqlite(self, rc, what);
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
		ix_fail_sqlite(self, rc, "reading the file's header");
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
			ix_fail_call(self, INDEX_E_SCHEMA,
				     "migration leaves dangling foreign keys");
		else if (rc != SQLITE_DONE)
			ix_fail_sqlite(self, rc, "checking foreign keys");
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
		ix_fail_sqlite(self, rc, "turning on WAL mode");
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
		ix_fail_sqlite(self, rc, "checking the file");
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
		ix_fail_call(self, INDEX_E_READONLY, "opened read-only: no checkpoint");
		return -1;
	}
	rc = sqlite3_wal_checkpoint_v2(self->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (rc != SQLITE_OK) {
		ix_fail_sqlite(self, rc, "checkpointing");
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
	sqlite3_stmt *st = ix_stmt_get(self, id);

	if (st == NULL)
		return -1;
	return ix_stmt_exec(self, st, SQLITE_OK, what) < 0 ? -1 : 0;
}

int index_begin(struct agg_index *self)
{
	if (self == NULL)
		return -1;
	if (self->mode == INDEX_READ_ONLY) {
		ix_fail_call(self, INDEX_E_READONLY, "opened read-only: no transaction");
		return -1;
	}
	if (self->in_txn) {
		ix_fail_call(self, INDEX_E_INTERNAL, "index_begin inside a transaction");
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
void ix_txn_abandon(struct agg_index *self)
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
		ix_fail_call(self, INDEX_E_INTERNAL, "index_commit without index_begin");
		return -1;
	}
	if (self->txn_failed) {
		/* last_error still names the call that failed. */
		ix_txn_abandon(self);
		return -1;
	}
	if (run_control(self, ST_COMMIT, "committing") < 0) {
		ix_txn_abandon(self);
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
		ix_txn_abandon(self);
}
