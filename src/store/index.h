/*
 * index — the aggregator's sqlite3 index of hosts, tenants, domains, their
 * moves between hosts, their Whisper files, and per-host frame loss
 * (docs/INDEX.md is the schema reference). The aggregator is its only
 * writer; the dashboard opens it read-only while it is written (WAL mode).
 * Every call is one of: a write on the aggregator's hot path (one
 * transaction per received frame, statements prepared once), or a read
 * query that hands rows to a callback. Nothing here ends the process. A
 * handle is used by one thread at a time; a second thread opens its own.
 */
#ifndef STORE_INDEX_H
#define STORE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sm_wire.h"

/* Schema version this build writes and reads (PRAGMA user_version). */
#define INDEX_SCHEMA_VERSION 3

/* Default: a domain's last_seen is written at most once per this many
 * seconds of frame time when nothing else about it changed (see
 * index_set_touch_interval). */
#define INDEX_TOUCH_INTERVAL_DEFAULT 10.0

enum index_mode {
	INDEX_READ_WRITE = 0, /* the aggregator: creates the file, migrates the schema */
	INDEX_READ_ONLY = 1, /* the dashboard: SQLITE_OPEN_READONLY, never writes, never migrates */
};

/* Why a call failed. Stable values: a daemon decides on them (e.g. move a
 * corrupt index aside). Every failure is also logged with the path. */
enum index_error {
	INDEX_OK = 0,
	INDEX_E_IO,	  /* cannot open, read or write the file (missing, permissions, I/O) */
	INDEX_E_BUSY,	  /* another connection held the lock past the busy timeout */
	INDEX_E_FULL,	  /* disk full (or sqlite's page limit reached) */
	INDEX_E_READONLY, /* a write on a read-only index, or on a read-only file */
	INDEX_E_CORRUPT,  /* not an sqlite database, or a damaged one */
	INDEX_E_SCHEMA,	  /* schema too new, not migrated yet, or not a StackMon index */
	INDEX_E_INVALID,  /* bad argument: uuid, host name, path, unknown domain for a metric */
	INDEX_E_NOMEM,	  /* out of memory */
	INDEX_E_ABORTED,  /* an earlier call of this transaction failed: it will be rolled back */
	INDEX_E_INTERNAL, /* anything else sqlite reports, or a caller bug (begin twice) */
};

/* Short stable name of an error ("busy", "corrupt", …). */
const char *index_error_name(enum index_error err);

struct agg_index; /* opaque */

/* ---- Lifecycle ------------------------------------------------------- */

/*
 * Opens the index at `path`. READ_WRITE creates the file if needed, turns on
 * WAL (synchronous=NORMAL, foreign keys, busy timeout), applies every
 * migration the file lacks (each in its own transaction) and runs sqlite's
 * quick_check. READ_ONLY opens with SQLITE_OPEN_READONLY, never creates a
 * file and refuses a file whose schema is not exactly INDEX_SCHEMA_VERSION.
 * Both refuse a schema newer than this build and a file that is not a
 * StackMon index. Returns NULL on failure, logs why (naming the path) and
 * stores the reason in *err when err is not NULL.
 */
struct agg_index *index_open(const char *path, enum index_mode mode, enum index_error *err);

/* index_open with another migration list (index_schema.h holds this
 * build's; tests pass their own to prove an upgrade, or a failed one). The
 * schema this open knows is the list's last version. */
struct index_migration;
struct agg_index *index_open_with(const char *path, enum index_mode mode,
				  const struct index_migration *list, size_t n,
				  enum index_error *err);

/* Closes and frees the index and sets *self_p to NULL. An open transaction
 * is rolled back (and logged). Safe on NULL and on *self_p == NULL. */
void index_close(struct agg_index **self_p);

/* The path given to index_open. */
const char *index_path(const struct agg_index *self);
/* The reason of the most recent failed call (INDEX_OK if none yet). */
enum index_error index_last_error(const struct agg_index *self);

/* Runs PRAGMA quick_check: 0 when the file is consistent, -1 (logged,
 * INDEX_E_CORRUPT) when not. Cost grows with the file: call it at start. */
int index_check(struct agg_index *self);

/* Seconds of frame time between two writes of an unchanged domain's
 * last_seen (0 = every frame, max 3600): it is written when the frame time
 * enters a new multiple of the interval, for all such domains in the same
 * frame. Fewer writes spare the disk: an unchanged domain costs one indexed
 * read per frame. Stored last_seen lags the truth by less than this. */
void index_set_touch_interval(struct agg_index *self, double seconds);
/* How long a call waits for a lock held by another connection. */
void index_set_busy_timeout(struct agg_index *self, int ms);

/*
 * Checkpoints: copying committed pages from the WAL into the main file,
 * with its fsyncs. By default sqlite does it inside the commit that makes
 * the WAL pass 1000 pages, which stalls that frame (measured in
 * docs/INDEX.md). The aggregator may turn that off on its frame handle and
 * call index_checkpoint from a housekeeping thread through a second
 * READ_WRITE handle of its own; writes go on meanwhile. Without either, the
 * WAL grows without bound.
 */
void index_set_auto_checkpoint(struct agg_index *self, bool on);
/* A PASSIVE checkpoint (never waits for the writer). `wal_pages` and
 * `done_pages` (optional) receive the WAL's size and how much of it is now
 * in the main file. Returns 0, or -1 (logged). */
int index_checkpoint(struct agg_index *self, int *wal_pages, int *done_pages);

struct sqlite3;
/* The connection underneath (tests: corrupt, lock or limit it on purpose). */
struct sqlite3 *index_sqlite(struct agg_index *self);

/* Counters since open, for the aggregator's own monitoring. */
struct index_stats {
	uint64_t commits;      /* transactions committed */
	uint64_t rollbacks;    /* transactions rolled back (failed commit, failed call, close) */
	uint64_t failures;     /* calls that returned -1 */
	uint64_t rows_written; /* rows inserted, updated or deleted */
};
void index_get_stats(const struct agg_index *self, struct index_stats *out);

/* ---- Transactions ---------------------------------------------------- */

/*
 * One received frame = index_begin, the frame's calls, index_commit. Write
 * calls made outside begin/commit run in a transaction of their own. After
 * a call inside a transaction fails (other than INDEX_E_INVALID), the rest
 * of the transaction's calls return -1 (INDEX_E_ABORTED) and index_commit
 * rolls everything back and returns -1: a frame is indexed whole or not at
 * all. begin takes the write lock at once, so a busy index fails there.
 */
int index_begin(struct agg_index *self);
int index_commit(struct agg_index *self);
/* Abandons the open transaction (no-op without one). */
void index_rollback(struct agg_index *self);

/* ---- Writes (aggregator) --------------------------------------------- */

/* What index_note_frame learnt from a frame's sequence number. */
struct index_frame_note {
	uint64_t lost;	/* frames missing between the previous one and this (same epoch) */
	bool duplicate; /* seq not after the last one: a duplicate or reordered frame */
	bool restart;	/* a new epoch: the publisher restarted, counting starts again */
	bool first;	/* the first frame ever seen from this host and kind */
};

/*
 * Accounts one frame from `host` (its header's host, epoch, seq, time):
 * creates the host on first sight, moves its last_seen forward, and keeps
 * per (host, kind) the last epoch and seq, frames received, lost (same
 * epoch: seq - last - 1 when seq > last + 1), duplicates (seq <= last, not
 * counted as loss) and restarts (new epoch: no loss counted). `note`, if not
 * NULL, receives the verdict. Returns 0, or -1 (bad host or kind: INVALID).
 */
int index_note_frame(struct agg_index *self, const char *host, enum sm_msg_kind kind,
		     uint64_t epoch, uint64_t seq, double time, struct index_frame_note *note);

/* What index_upsert_domain did. */
enum index_upsert {
	INDEX_UNCHANGED = 0, /* nothing written: same facts, last_seen recent enough */
	INDEX_TOUCHED,	     /* only last_seen moved forward */
	INDEX_CHANGED,	     /* name, identity or state changed, or a stopped domain came back */
	INDEX_NEW,	     /* first sight of this uuid */
	INDEX_MOVED,	     /* seen on another host than before: a move was recorded */
	INDEX_IGNORED,	     /* a late report, or the paused incoming copy of a migration */
};

/*
 * Records that `host` reported domain `d` in a frame of `time`. Names and
 * identity are stored exactly as given (bound as parameters, never part of
 * SQL text); an empty project id means no project. Only rows whose content
 * changed are written; an unchanged domain's last_seen is written once per
 * touch interval. A domain on another host is a move, except a paused copy
 * while the current host reported it within the last 30 s (the incoming
 * side of a live migration) and reports older than the stored ones. Returns
 * an enum index_upsert (>= 0), or -1.
 */
int index_upsert_domain(struct agg_index *self, const char *host, const struct sm_domain_stats *d,
			double time);

/*
 * Marks domain `uuid` stopped at `time` (a "stopped" event from `host`):
 * stopped_at = time, purge_after = time + grace_s. Ignored (returns 0) when
 * the domain is unknown, already stopped, now on another host than `host`
 * (the source's "stopped" after a migration; host NULL = any) or seen after
 * `time`. A later report of the domain clears the mark. Returns 1 if
 * marked, 0 if not, -1 on error.
 */
int index_domain_stopped(struct agg_index *self, const char *uuid, const char *host, double time,
			 double grace_s);

/* Marks stopped every active domain not seen since now - stale_s (its host
 * died, or the "stopped" event was lost): stopped_at = its last_seen,
 * purge_after = now + grace_s. Returns how many, or -1. */
int index_stop_stale(struct agg_index *self, double now, double stale_s, double grace_s);

/* Callback for a domain due for purging; return non-zero to stop. */
typedef int (*index_purge_fn)(void *arg, const char *uuid, double stopped_at);

/* Hands to `fn` at most `max` domains whose purge_after <= now, oldest
 * first. The rows are read first, so `fn` may call index_forget_domain.
 * Returns how many were handed over, or -1. */
int index_next_purges(struct agg_index *self, double now, size_t max, index_purge_fn fn, void *arg);

/* Removes every trace of domain `uuid` once its files are gone: its metric
 * rows, its moves, its row, and its tenant if no other domain uses it.
 * Returns 1 if it was known, 0 if not, -1 on error. */
int index_forget_domain(struct agg_index *self, const char *uuid);

/*
 * Registers the Whisper file of one metric: of domain `uuid` (host NULL) or
 * of `host` itself (uuid NULL). `relpath` is relative to the data directory
 * (no leading '/', no ".." component, at most 4095 bytes). Registering again
 * is a no-op, or updates the path. Returns 1 if a row was written, 0 if it
 * was already so, -1 (INVALID for an unknown domain or a bad path).
 */
int index_register_metric(struct agg_index *self, const char *uuid, const char *host,
			  const char *metric, const char *relpath, double time);

/* ---- Latest values (schema v2: the dashboard's snapshot) -------------- */

/*
 * Replaces the `latest` row of domain `d` (its uuid) with the report of
 * `time`: cpu, steal, loads, memory, the stale flag, and the sums of its
 * devices' rates (disk requests and bytes, network bytes and packets).
 * Unknown values (NaN, or a sum with any unknown term) are stored as NULL; a
 * domain without disks (nics) has sums of 0. A report older than the stored
 * row changes nothing. Call it after index_upsert_domain in the same
 * transaction (the domain's row must exist: INVALID otherwise), and not for
 * a report the upsert IGNORED. Returns 1 if the row was written, 0 if the
 * stored one is newer, -1 on error.
 */
int index_put_latest(struct agg_index *self, const struct sm_domain_stats *d, double time);

/* Replaces the `host_latest` row of `host` with its node stats `h` and the
 * number of domains of the frame. Same rules as index_put_latest (creates
 * the host row if needed). Returns 1, 0 or -1. */
int index_put_host_latest(struct agg_index *self, const char *host, const struct sm_host_stats *h,
			  uint32_t ndomains, double time);

/* ---- Frame loss per minute (schema v3: the dashboard's node page) ------ */

/* One host's frames in one minute of receive time. */
struct index_loss_minute {
	const char *host;  /* in writes; NULL in rows read back (the host asked for) */
	int64_t minute;	   /* its start, seconds since the epoch, a multiple of 60 */
	uint64_t received; /* frames received (all kinds) */
	uint64_t lost;	   /* frames found missing from gaps in seq */
};

/*
 * Adds n counts to the rows of their (host, minute), creating rows (and
 * hosts) as needed: one statement per count, all in the caller's
 * transaction (or one of their own), so a batch of hosts costs one commit.
 * A count whose host name is invalid or minute is not a multiple of 60 is
 * refused (INVALID) and the others are still written. Returns how many were
 * written, or -1 on a database failure.
 */
int index_add_loss_minutes(struct agg_index *self, const struct index_loss_minute *counts, size_t n,
			   double time);

/* Deletes the loss minutes before `before` (seconds since the epoch).
 * Returns how many rows went, or -1. */
int index_prune_loss_minutes(struct agg_index *self, double before);

typedef int (*index_loss_minute_fn)(void *arg, const struct index_loss_minute *m);
/* The loss minutes of `host` from `since` on (seconds since the epoch),
 * oldest first. */
int index_list_loss_minutes(struct agg_index *self, const char *host, double since,
			    index_loss_minute_fn fn, void *arg);

/* ---- Reads (dashboard) ----------------------------------------------- */
/* Row structs point into sqlite's buffers: valid during the callback only.
 * Callbacks return non-zero to stop. List calls return the number of rows
 * handed over, or -1. */

struct index_project {
	const char *project_id;
	const char *project_name;
	double first_seen, last_seen; /* seconds since the epoch */
	unsigned active_domains;      /* not stopped */
	unsigned domains;	      /* including stopped ones awaiting purge */
};
typedef int (*index_project_fn)(void *arg, const struct index_project *p);
/* Every tenant, by name. */
int index_list_projects(struct agg_index *self, index_project_fn fn, void *arg);

struct index_domain {
	const char *uuid;	  /* canonical lowercase text */
	const char *name;	  /* libvirt name */
	const char *display_name; /* NULL without Nova identity */
	const char *project_id;	  /* NULL: not an OpenStack instance */
	const char *user_id;	  /* NULL without Nova identity */
	const char *user_name;	  /* NULL without Nova identity */
	const char *flavor;	  /* NULL without Nova identity */
	const char *host;	  /* current host */
	uint32_t state;		  /* virDomainState as last reported */
	double first_seen, last_seen;
	double stopped_at;  /* NAN while active */
	double purge_after; /* NAN while active */
};
typedef int (*index_domain_fn)(void *arg, const struct index_domain *d);

/* Flags of index_list_domains. */
#define INDEX_LIST_STOPPED 1u /* include stopped domains awaiting purge */

/* Domains of project `project_id`; "" = domains without a project; NULL =
 * all. Ordered by display name (else libvirt name), then uuid. */
int index_list_domains(struct agg_index *self, const char *project_id, unsigned flags,
		       index_domain_fn fn, void *arg);
/* One domain by uuid (any case, with or without dashes). Returns 1 if
 * found (fn called once), 0 if not, -1 on error. */
int index_get_domain(struct agg_index *self, const char *uuid, index_domain_fn fn, void *arg);

struct index_metric {
	const char *uuid; /* NULL for a host metric */
	const char *host; /* NULL for a domain metric */
	const char *name; /* metric name */
	const char *path; /* relative to the data directory */
	double created_at;
};
typedef int (*index_metric_fn)(void *arg, const struct index_metric *m);
/* Metrics of domain `uuid`, or of host `host` (the other one NULL), by name. */
int index_list_metrics(struct agg_index *self, const char *uuid, const char *host,
		       index_metric_fn fn, void *arg);

struct index_host {
	const char *name;
	double first_seen, last_seen;
	uint64_t received;   /* frames, all kinds */
	uint64_t lost;	     /* frames lost according to sequence numbers */
	uint64_t duplicates; /* frames not after the last one */
	uint64_t restarts;   /* new publisher epochs seen */
	unsigned active_domains;
};
typedef int (*index_host_fn)(void *arg, const struct index_host *h);
/* Every host, by name. */
int index_list_hosts(struct agg_index *self, index_host_fn fn, void *arg);

struct index_move {
	const char *uuid;
	const char *from_host;
	const char *to_host;
	double at; /* frame time of the first report from to_host */
};
typedef int (*index_move_fn)(void *arg, const struct index_move *m);
/* Moves of domain `uuid`, oldest first. */
int index_list_moves(struct agg_index *self, const char *uuid, index_move_fn fn, void *arg);

#endif
