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

/* A frame timed further ahead of the aggregator's clock than this is
 * refused (a monitor with a wrong clock would write into the future). */
#define WRITER_FUTURE_MAX_S 600.0

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
};

/* Counters since writer_new, for the daemon's summary line and tests. */
struct writer_counters {
	uint64_t frames_stats;	 /* stats frames written */
	uint64_t frames_event;	 /* event frames handled */
	uint64_t frames_refused; /* timed too far in the future */
	uint64_t lost;		 /* frames missing according to sequence numbers */
	uint64_t duplicates;	 /* frames not after the last one of their sender */
	uint64_t points;	 /* points written */
	uint64_t unknown;	 /* values unknown (NaN, or a stale domain): gaps, not drops */
	uint64_t ignored;	 /* points of reports the index ignored (late, migration copy) */
	uint64_t dropped_space;	 /* points lost to a full or read-only disk */
	uint64_t dropped_old;	 /* points outside every archive's retention */
	uint64_t dropped_error;	 /* points lost to other errors (I/O, bad file) */
	uint64_t files_created;
	uint64_t files_quarantined;
	uint64_t files_open;	  /* now */
	uint64_t evictions;	  /* handles closed to respect max_open_files */
	uint64_t transient_opens; /* files opened for one flush: more files than max_open_files */
	uint64_t domains;	  /* domains in memory now */
	uint64_t domains_stopped;
	uint64_t domains_purged;
	uint64_t index_failures; /* frames whose index transaction failed */
	uint64_t symlinks_refused; /* paths refused for a symbolic link (beneath.h) */
};

/* Returns NULL (logged) on allocation failure. */
struct writer *writer_new(const struct writer_config *cfg);
/* Writes every waiting point, closes every file (paying deferred
 * propagation), frees, nulls *self_p; NULL-safe. The index and directory
 * are the caller's. */
void writer_destroy(struct writer **self_p);

/*
 * Writes one decoded frame: a stats frame's host and domain metrics at the
 * frame's time (whole seconds), its index transaction (loss accounting,
 * domains, latest values, new files); an event frame's loss accounting and
 * "stopped" mark. `now` is the aggregator's wall clock. Never fails the
 * daemon: every problem is counted and logged (rate-limited).
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

void writer_counters(const struct writer *self, struct writer_counters *out);

#endif
