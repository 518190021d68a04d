/*
 * frame_loss — the aggregator's account of frames lost between the monitors
 * and itself (docs/PROTOCOL.md "Counting loss"). Gaps in each (host, kind)
 * sequence are found by the shared loss table (sm_loss.h) and logged with
 * the missing seqs, at most one line per host per minute (the rest summed
 * up in one line when the minute is over), so that a flood of gaps cannot
 * flood the log. Frames received and lost are also counted per host per
 * minute of receive time, for the index's host_loss_minutes; the writer
 * saves them in batches inside its own transactions, never one write per
 * frame. Bounded: at most max_hosts hosts (the aggregator's limit).
 */
#ifndef AGG_FRAME_LOSS_H
#define AGG_FRAME_LOSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "sm_wire.h"

/* Seconds between two saves of the per-minute counts (the dashboard's
 * figures lag by at most this), and how long the index keeps them. */
#define FRAME_LOSS_SAVE_S 10.0
#define FRAME_LOSS_KEEP_S 86400.0

/* Totals since frame_loss_new. */
struct frame_loss_counters {
	uint64_t received;   /* frames accounted */
	uint64_t lost;	     /* frames missing from gaps in seq */
	uint64_t gaps;	     /* gaps (one per frame that revealed loss) */
	uint64_t leaps;	     /* seq leapt by more than LOSS_MAX_GAP: not counted as loss */
	uint64_t duplicates; /* frames not after the last one of their stream */
	uint64_t restarts;   /* new epochs (a monitor restarted) */
	uint64_t quiet_gaps; /* gaps not logged on a line of their own (rate limit) */
	uint64_t unbucketed; /* frames of hosts beyond the bound: not counted per minute */
};

struct frame_loss; /* opaque */

/* A tracker for at most max_hosts hosts (0: SM_WIRE_MAX_PUBLISHERS, also the
 * upper bound). NULL when out of memory. */
struct frame_loss *frame_loss_new(size_t max_hosts);
/* Logs the gaps the rate limit still holds back, frees, nulls *self_p;
 * NULL-safe. Counts not saved are dropped: call frame_loss_save first. */
void frame_loss_destroy(struct frame_loss **self_p);

/* Accounts one valid frame (its header) received at wall time `now`;
 * logs a gap or a leap it reveals (rate-limited). Returns the frames it
 * shows were lost. */
uint64_t frame_loss_note(struct frame_loss *self, const struct sm_header *h, double now);

/* True when counts wait and FRAME_LOSS_SAVE_S passed since the last save,
 * or a host's minute closed. */
bool frame_loss_save_due(const struct frame_loss *self, double now);

/* Adds the waiting per-minute counts to the index (index_add_loss_minutes,
 * in the caller's transaction if one is open), deletes minutes older than
 * FRAME_LOSS_KEEP_S (once a minute), and logs the gaps the rate limit held
 * back once their minute is over. The counts are handed over whether or
 * not the transaction later commits. Returns 0, or -1 (logged by the index). */
int frame_loss_save(struct frame_loss *self, struct agg_index *idx, double now);

void frame_loss_counters(const struct frame_loss *self, struct frame_loss_counters *out);

#endif
