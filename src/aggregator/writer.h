/*
 * writer — the aggregator's data path: a decoded frame in; its points in
 * Whisper files (one per metric, laid out by layout.h, named by
 * metric_map.h) and its facts in the index out, one index transaction per
 * frame. Owns the in-memory table of known domains and hosts, whose metric
 * slots hold the open handles of the bounded file cache (fcache.h); and
 * the domain lifecycle: stopped at once, purged after the grace period.
 * Failures of the disk (full, read-only) or of a file (corrupt: moved
 * aside, replaced) are logged once, counted, and never stop the daemon.
 */
#ifndef AGG_WRITER_H
#define AGG_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datadir.h"
#include "index.h"
#include "sm_wire.h"
#include "whisper.h"

/*
 * What frames may make, so that a sender cannot fill the disk, the index
 * or memory (0 = no limit). Past a limit new hosts, domains or files are
 * not made: counted, and the host responsible named in one line (then
 * rate-limited per host); what exists keeps being written.
 */
struct writer_limits {
	uint64_t max_hosts;		  /* hosts known in all */
	uint64_t max_domains_per_host;	  /* domains known on one host */
	uint64_t max_new_domains_per_min; /* new domains one host may start per minute */
	uint64_t max_data_files;	  /* Whisper files in the data directory */
	uint64_t max_data_bytes;	  /* their bytes (new files counted at their full size) */
};

struct writer_config {
	struct datadir *dir;			  /* borrowed: where files go */
	struct agg_index *index;		  /* borrowed: the index (READ_WRITE) */
	const struct whisper_retention *archives; /* retention of new files */
	size_t narchives;
	double xff;	       /* xFilesFactor of new files, 0..1 */
	bool preallocate;      /* reserve each new file's blocks at create */
	double grace_s;	       /* a stopped domain's files are kept this long; 0 = purge at once */
	double stale_s;	       /* a domain silent this long is marked stopped */
	size_t max_open_files; /* bound of the handle cache */
	double flush_interval; /* seconds points of closed files may wait when the cache is
				  full (0: open each file for each point instead) */
	double future_tolerance_s; /* a frame timed further ahead of the receive time is
				      clamped to it */
	bool allow_project_change; /* a known domain may change project without a "started"
				      event from its host */
	struct writer_limits limits;
};

/* Counters since writer_new, for the daemon's summary line and tests. */
struct writer_counters {
	uint64_t frames_stats;	/* stats frames written */
	uint64_t frames_event;	/* event frames handled */
	uint64_t frames_future; /* timed beyond future_tolerance: clamped to receive time */
	uint64_t lost;		/* frames missing according to sequence numbers (frame_loss.h) */
	uint64_t gaps;		/* ... in this many gaps */
	uint64_t seq_leaps;	/* seq leaps beyond LOSS_MAX_GAP: not counted as loss */
	uint64_t duplicates;	/* frames not after the last one of their sender */
	uint64_t points;	/* points written */
	uint64_t unknown;	/* values unknown (NaN, or a stale domain): gaps, not drops */
	uint64_t ignored;	/* points of reports the index ignored (late, migration copy) */
	uint64_t dropped_space; /* points lost to a full or read-only disk */
	uint64_t dropped_old;	/* points outside every archive's retention */
	uint64_t dropped_error; /* points lost to other errors (I/O, bad file) */
	uint64_t coarse_owed;	/* points written whose coarse archives' update failed
				 * (full disk): owed and retried, not lost */
	uint64_t files_created;
	uint64_t files_quarantined;
	uint64_t files_open;	  /* now */
	uint64_t evictions;	  /* handles closed to respect max_open_files */
	uint64_t transient_opens; /* files opened for one flush: more files than max_open_files */
	uint64_t domains;	  /* domains in memory now */
	uint64_t domains_stopped;
	uint64_t domains_purged;
	uint64_t index_failures;   /* frames whose index transaction failed */
	uint64_t symlinks_refused; /* paths refused for a symbolic link (beneath.h) */
	uint64_t project_refused;  /* reports moving a known domain to another project */
	uint64_t hosts_refused;	   /* frames of a new host past max_hosts */
	uint64_t domains_refused;  /* reports of a new domain past a limit */
	uint64_t files_refused;	   /* creates refused by the data directory's budget */
	uint64_t dropped_limit;	   /* points of the reports, frames and files refused above */
	uint64_t data_files;	   /* now: Whisper files under domains/ and hosts/ */
	uint64_t data_bytes;	   /* now: their bytes */
};

/* Loads the known hosts and domains (with their projects) from the index
 * and counts the data directory's files (datadir_usage): the limits apply
 * from the first frame on. Returns NULL (logged) on allocation failure. */
struct writer *writer_new(const struct writer_config *cfg);
/* Writes every waiting point, closes every file (paying deferred
 * propagation), frees, nulls *self_p; NULL-safe. The index and directory
 * are the caller's. */
void writer_destroy(struct writer **self_p);

/*
 * Writes one decoded frame: a stats frame's host and domain metrics at the
 * frame's time (whole seconds), its index transaction (loss accounting,
 * domains, latest values, new files); an event frame's loss accounting and
 * "stopped" mark. `now` is the aggregator's wall clock (the receive time).
 * Nothing in a frame is believed that cannot be checked: a time more than
 * future_tolerance ahead of `now` is replaced by `now`; a known domain
 * reported in another project is not written (unless a "started" event
 * from that host came first, or allow_project_change); new hosts, domains
 * and files respect the limits. Never fails the daemon: every problem is
 * counted and logged (rate-limited).
 */
void writer_frame(struct writer *self, const struct sm_message *m, double now);

/* Writes points still waiting for domains that stopped sending, marks
 * stale domains stopped and purges those past their grace (their files,
 * directory and index rows). Call every second or so. Returns the number
 * of domains purged. */
int writer_housekeeping(struct writer *self, double now);

/* Writes every point still waiting in memory (its files opened as needed,
 * in one index transaction). `now` is the wall clock. */
void writer_flush(struct writer *self, double now);

/* Applies new policy values (SIGHUP): grace and stale for later stops, the
 * cache bound (closing files if it shrank) and the flush interval. */
void writer_set_policy(struct writer *self, double grace_s, double stale_s, size_t max_open_files,
		       double flush_interval);

/* Applies new limits and frame checks (SIGHUP); what exists is kept even
 * if it is now over a limit. */
void writer_set_limits(struct writer *self, const struct writer_limits *limits,
		       double future_tolerance_s, bool allow_project_change);

void writer_counters(const struct writer *self, struct writer_counters *out);

#endif
