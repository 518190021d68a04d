/*
 * index_schema — the index's migrations (docs/INDEX.md explains every
 * table). A released migration is never edited: a change of schema is a
 * new entry at the end of the list, so any older file upgrades step by
 * step. Times are REAL seconds since the Unix epoch (frame time); uuids are
 * canonical lowercase text; 64-bit wire counters (epoch, seq) are stored as
 * the signed 64-bit integer with the same bits.
 */
#include "index_schema.h"

#include "index.h"

static const char schema_v1[] =
    /* One row per monitor host ever seen. */
    "CREATE TABLE hosts ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " first_seen REAL NOT NULL,"
    " last_seen REAL NOT NULL);"

    /* Frame accounting per (host, kind): sequence numbers are per kind. */
    "CREATE TABLE host_streams ("
    " host TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,"
    " kind TEXT NOT NULL,"
    " epoch INTEGER NOT NULL,"
    " last_seq INTEGER NOT NULL,"
    " received INTEGER NOT NULL,"
    " lost INTEGER NOT NULL,"
    " duplicates INTEGER NOT NULL,"
    " restarts INTEGER NOT NULL,"
    " first_seen REAL NOT NULL,"
    " last_seen REAL NOT NULL,"
    " PRIMARY KEY (host, kind)) WITHOUT ROWID;"

    /* Per-host totals over all kinds. */
    "CREATE VIEW host_loss AS SELECT host, sum(received) AS received, sum(lost) AS lost,"
    " sum(duplicates) AS duplicates, sum(restarts) AS restarts"
    " FROM host_streams GROUP BY host;"

    "CREATE TABLE tenants ("
    " project_id TEXT PRIMARY KEY NOT NULL,"
    " project_name TEXT NOT NULL,"
    " first_seen REAL NOT NULL,"
    " last_seen REAL NOT NULL);"

    "CREATE TABLE domains ("
    " uuid TEXT PRIMARY KEY NOT NULL CHECK (length(uuid) = 36 AND uuid = lower(uuid)),"
    " name TEXT NOT NULL,"
    " display_name TEXT,"
    " project_id TEXT REFERENCES tenants(project_id),"
    " user_id TEXT,"
    " user_name TEXT,"
    " flavor TEXT,"
    " host TEXT NOT NULL REFERENCES hosts(name),"
    " state INTEGER NOT NULL,"
    " first_seen REAL NOT NULL,"
    " last_seen REAL NOT NULL,"
    " stopped_at REAL,"
    " purge_after REAL,"
    " CHECK ((stopped_at IS NULL) = (purge_after IS NULL)));"
    "CREATE INDEX domains_by_project ON domains(project_id);"
    "CREATE INDEX domains_by_host ON domains(host);"
    "CREATE INDEX domains_by_purge ON domains(purge_after) WHERE purge_after IS NOT NULL;"

    "CREATE TABLE domain_moves ("
    " id INTEGER PRIMARY KEY,"
    " uuid TEXT NOT NULL REFERENCES domains(uuid) ON DELETE CASCADE,"
    " from_host TEXT NOT NULL REFERENCES hosts(name),"
    " to_host TEXT NOT NULL REFERENCES hosts(name),"
    " at REAL NOT NULL);"
    "CREATE INDEX domain_moves_by_uuid ON domain_moves(uuid, at);"

    /* One Whisper file: of a domain (uuid) or of a host itself (host). */
    "CREATE TABLE metrics ("
    " id INTEGER PRIMARY KEY,"
    " uuid TEXT REFERENCES domains(uuid) ON DELETE CASCADE,"
    " host TEXT REFERENCES hosts(name) ON DELETE CASCADE,"
    " name TEXT NOT NULL,"
    " path TEXT NOT NULL UNIQUE,"
    " created_at REAL NOT NULL,"
    " CHECK ((uuid IS NULL) <> (host IS NULL)));"
    "CREATE UNIQUE INDEX metrics_by_domain ON metrics(uuid, name) WHERE uuid IS NOT NULL;"
    "CREATE UNIQUE INDEX metrics_by_host ON metrics(host, name) WHERE host IS NOT NULL;";

/* The dashboard's snapshot page: the latest values of every domain and
 * host, one row each, replaced by every report inside the frame's
 * transaction. Sums over a domain's devices; NULL = unknown. WITHOUT ROWID:
 * the rows are rewritten every second, one b-tree is half the pages. */
static const char schema_v2[] =
    "CREATE TABLE latest ("
    " uuid TEXT PRIMARY KEY NOT NULL REFERENCES domains(uuid) ON DELETE CASCADE,"
    " time REAL NOT NULL,"
    " stale INTEGER NOT NULL,"
    " cpu_pct REAL, steal_pct REAL,"
    " load1 REAL, load5 REAL, load15 REAL,"
    " mem_pct REAL, mem_basis INTEGER NOT NULL,"
    " disk_rd_req_ps REAL, disk_wr_req_ps REAL,"
    " disk_rd_bytes_ps REAL, disk_wr_bytes_ps REAL,"
    " net_rx_bytes_ps REAL, net_tx_bytes_ps REAL,"
    " net_rx_packets_ps REAL, net_tx_packets_ps REAL) WITHOUT ROWID;"

    "CREATE TABLE host_latest ("
    " host TEXT PRIMARY KEY NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,"
    " time REAL NOT NULL,"
    " ncpus INTEGER NOT NULL,"
    " cpu_pct REAL, load1 REAL, load5 REAL, load15 REAL, mem_pct REAL,"
    " mem_used_kib INTEGER NOT NULL, mem_total_kib INTEGER NOT NULL,"
    " domains INTEGER NOT NULL,"
    " libvirt_ok INTEGER NOT NULL) WITHOUT ROWID;";

/* Frame loss per host per minute of receive time (all kinds together),
 * for the dashboard's "last hour" of a node: the aggregator adds its counts
 * in batches (index_add_loss_minutes) and deletes rows older than a day.
 * A minute with no frame has no row. */
static const char schema_v3[] =
    "CREATE TABLE host_loss_minutes ("
    " host TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,"
    " minute INTEGER NOT NULL,"
    " received INTEGER NOT NULL,"
    " lost INTEGER NOT NULL,"
    " PRIMARY KEY (host, minute)) WITHOUT ROWID;"
    "CREATE INDEX host_loss_minutes_by_minute ON host_loss_minutes(minute);";

const struct index_migration index_migrations[] = {
    {1, "hosts, frame loss, tenants, domains, moves, metrics", schema_v1},
    {2, "latest values of domains and hosts (dashboard snapshot)", schema_v2},
    {3, "frame loss per host per minute", schema_v3},
};
const size_t index_migrations_count = sizeof(index_migrations) / sizeof(index_migrations[0]);

_Static_assert(sizeof(index_migrations) / sizeof(index_migrations[0]) == INDEX_SCHEMA_VERSION,
	       "INDEX_SCHEMA_VERSION must be the last migration's version");
