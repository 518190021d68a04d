/*
 * dom_table — the tracked domains (one DomainStatTracker each, sorted by
 * UUID) and the queue of "started"/"stopped" events, behind the monitor's
 * one shared lock. It is the only state the sampler thread and the main
 * thread share, which is why it is its own object: the sampler writes it,
 * the publisher reads it to build frames.
 *
 * Threads and what they own:
 *  - sampler thread: the table's structure (it alone adds and removes
 *    entries, so it may find and walk them without the lock) and each
 *    entry's sampler-only fields below;
 *  - under the lock (dom_table_lock, or taken inside the functions that say
 *    so): trackers' stats, refreshed_gen, the event queue; any other thread
 *    reads entries only while holding it;
 *  - the thread that takes events (main): the taken batch, until
 *    dom_table_events_sent.
 * No libvirt call is made here, so the lock is never held across one.
 */
#ifndef DOM_TABLE_H
#define DOM_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dom_brief.h"
#include "dom_devices.h"
#include "dom_tracker.h"
#include "qemu_proc.h"
#include "sm_wire.h"

struct dom_sample;
struct sm_identity;

/* One tracked domain: plain data, owned by the table. */
struct dom_entry {
	uint8_t uuid[16];            /* identity; first member: the bsearch key */
	struct dom_tracker *tracker; /* its DomainStatTracker (stats change under the lock) */
	uint64_t refreshed_gen;      /* generation of its last sample (under the lock) */
	bool need_identity;          /* sampler: read Nova metadata before the next sample */
	bool need_devices;           /* sampler: read disk/interface targets (per-domain path) */
	struct dom_devices devices;  /* sampler: targets for the per-domain path */
	bool mem_read;               /* sampler: guest memory statistics read at least once */
	uint64_t mem_gen;            /* sampler: pass that counts as their last read */
	struct dom_mem_sample mem;   /* sampler: the figures of that read */
	bool kernel_looked;          /* sampler: its QEMU process was looked for */
	struct qemu_proc *kernel;    /* sampler: CPU figures from the kernel, or NULL: ask libvirt */
	struct dom_brief *brief;     /* publisher: its full record last sent (made on first use) */
};

struct dom_table; /* opaque */

/* An empty table, or NULL when out of memory. */
struct dom_table *dom_table_new(void);

/* Frees every entry, its tracker and the queued events; nulls *t. NULL-safe.
 * No other thread may use the table any more. */
void dom_table_destroy(struct dom_table **t);

/* ---- Sampler thread ---- */

/* Tracks a new domain: takes *tracker (nulled on success), inserts the entry
 * with both sampler "needs" set and queues its "started" event (name and
 * identity from the tracker, `reason` sanitised), all under the lock.
 * Returns the entry, or NULL when out of memory (*tracker is left to the
 * caller). The UUID must not be tracked already. */
struct dom_entry *dom_table_add(struct dom_table *t, const uint8_t uuid[16],
				struct dom_tracker **tracker, const char *reason);

/* Stops tracking `uuid`: queues its "stopped" event under the lock, then
 * frees the entry. Returns false when it was not tracked. */
bool dom_table_remove(struct dom_table *t, const uint8_t uuid[16], const char *reason);

/* Sets a tracked domain's identity (NULL: none), under the lock. */
void dom_table_set_identity(struct dom_table *t, struct dom_entry *e, const struct sm_identity *id);

/* Folds a sample into e's tracker under the lock (renaming it first when
 * `name` differs) and, if the tracker took it, marks e fresh in `gen`. */
void dom_table_apply(struct dom_table *t, struct dom_entry *e, const char *name,
		     const struct dom_sample *s, uint64_t gen);

/* ---- Reading: the sampler at any time, any other thread under the lock ---- */

/* The entry of `uuid`, or NULL. */
struct dom_entry *dom_table_find(const struct dom_table *t, const uint8_t uuid[16]);

/* The frame of generation `gen` has been packed: a sample of that or an
 * earlier generation applied from now on missed its frame
 * (dom_tracker_rates_missed). Caller holds the lock (main). */
void dom_table_framed(struct dom_table *t, uint64_t gen);

/* Entries in UUID order: count, and the i-th (i < count). */
size_t dom_table_count(const struct dom_table *t);
struct dom_entry *dom_table_at(const struct dom_table *t, size_t i);

/* ---- Any thread ---- */

void dom_table_lock(struct dom_table *t);
void dom_table_unlock(struct dom_table *t);

/* Domains tracked, without the lock (for counters; may lag a change). */
size_t dom_table_size(const struct dom_table *t);

/* Caller holds the lock. Moves every queued event out, oldest first, into
 * *evs (valid until dom_table_events_sent, owned by the taking thread) and
 * returns how many. Events the queue could not hold (more than
 * SM_WIRE_MAX_DOMAINS unsent) were dropped; this logs how many, once. */
size_t dom_table_take_events(struct dom_table *t, const struct sm_domain_event **evs);

/* The same, taking and releasing the lock itself (events between frames). */
size_t dom_table_take_events_now(struct dom_table *t, const struct sm_domain_event **evs);

/* The taken batch is sent: a burst's large buffer is freed rather than kept
 * (the first pass over a full node, a mass migration). Taking thread, no
 * lock needed. */
void dom_table_events_sent(struct dom_table *t);

#endif
