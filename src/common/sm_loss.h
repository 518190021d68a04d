/*
 * sm_loss — loss accounting per sender, for every hop that receives frames
 * (collector, aggregator, stackmon-sub): for each (host, kind) the
 * last (epoch, seq) seen, frames received and frames found missing from the
 * gaps in seq (docs/PROTOCOL.md "Counting loss"). The table is bounded: a
 * sender silent for longer than the expiry leaves it, and when it is full
 * the least recently heard sender makes room for a new one.
 */
#ifndef SM_LOSS_H
#define SM_LOSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sm_wire.h"

/* A gap wider than this is not believed: seq jumped (a bug or a hostile
 * sender), so the sender's count restarts there instead of adding billions. */
#define LOSS_MAX_GAP (UINT64_C(1) << 32)

struct loss_table; /* opaque */

/* A table of at most max_senders hosts (1..SM_WIRE_MAX_PUBLISHERS), forgetting
 * a host after expiry_s of silence. NULL on bad arguments or no memory. */
struct loss_table *loss_table_new(size_t max_senders, double expiry_s);
void loss_table_destroy(struct loss_table **t);

/* What one frame showed about its sender's stream (loss_table_note_frame):
 * enough for a receiver to log a gap by its sequence numbers. */
struct loss_note {
	uint64_t lost;		/* frames missing just before this one (0: none) */
	uint64_t first_missing; /* seq of the first of them (when lost > 0) */
	uint64_t last_missing;	/* ... and of the last, this frame's seq - 1 */
	uint64_t jumped;	/* seq leapt forward by more than LOSS_MAX_GAP: this many
				   frames "missing", not believed, not counted (0: no leap) */
	bool first;		/* the first frame of this (host, kind) the table holds */
	bool restart;		/* a new epoch: the publisher restarted */
	bool duplicate;		/* seq not after the last: a duplicate or a late frame */
	bool untracked;		/* not accounted: a kind beyond the table, or no memory */
};

/* Accounts one valid frame (header already validated) received at now_ns,
 * and tells what it showed in *note (all fields set). */
void loss_table_note_frame(struct loss_table *t, const struct sm_header *h, int64_t now_ns,
			   struct loss_note *note);

/* loss_table_note_frame for callers that want the count only: how many
 * frames this one shows were lost (0 when in order, for a duplicate or
 * reordered frame, a sender's first frame or new epoch, and a leap). */
uint64_t loss_table_note(struct loss_table *t, const struct sm_header *h, int64_t now_ns);

/* Forgets the senders silent for longer than the expiry; returns how many. */
size_t loss_table_expire(struct loss_table *t, int64_t now_ns);

/* Hosts in the table now. */
size_t loss_table_senders(const struct loss_table *t);
/* Hosts forgotten to make room (not by expiry) since creation. */
uint64_t loss_table_evictions(const struct loss_table *t);
/* Frames that were duplicates or arrived out of order, since creation. */
uint64_t loss_table_reordered(const struct loss_table *t);

/* Writes up to max rows, one per (host, kind) heard from, most recently
 * heard host first; returns how many were written. */
size_t loss_table_rows(const struct loss_table *t, struct sm_publisher_loss *rows, size_t max);

/* Fills *row for (host, kind); 0 if known, -1 if not (tests, diagnostics). */
int loss_table_get(const struct loss_table *t, const char *host, enum sm_msg_kind kind,
		   struct sm_publisher_loss *row);

#endif
