/*
 * sm_brief — the receiving side of brief records (docs/PROTOCOL.md "Brief
 * records"). A version 2 monitor sends each domain in full (names, Nova
 * identity, absolute counters, rates) now and then, and in between in brief:
 * no names, counters as their growth since that full record, no rates. This
 * keeps, per publisher, the last full record of each domain and the last
 * record expanded from it, and turns every brief record of a stats frame
 * back into the full record it stands for: the same struct a version 1
 * frame decodes to, so nothing after it needs to know the difference.
 *
 * A brief record whose full record this receiver has not seen (it joined
 * late, or lost that frame) cannot be expanded and is left out of the
 * frame; the publisher's next full record of the domain (within its
 * full_interval) brings it back. Memory is bounded: per publisher, the
 * domains of its latest frame, at most max_domains of them; at most
 * max_hosts publishers, the least recently heard one forgotten to make room.
 */
#ifndef SM_BRIEF_H
#define SM_BRIEF_H

#include <stddef.h>
#include <stdint.h>

#include "sm_wire.h"

struct sm_brief; /* opaque */

/* What one frame's expansion did. */
struct sm_brief_result {
	size_t expanded;  /* brief records turned into full ones */
	size_t no_base;   /* left out: no full record of theirs known (late join, loss) */
	size_t mismatch;  /* left out: they disagree with their full record (devices,
			     counters past 2^64, a duplicate UUID): a broken or hostile sender */
	size_t no_room;   /* past max_domains in the frame: full ones kept but not
			     remembered, brief ones left out */
};

/* A receiver remembering at most max_hosts publishers and max_domains
 * domains of each (both >= 1). NULL on bad arguments or no memory. */
struct sm_brief *sm_brief_new(size_t max_hosts, size_t max_domains);
/* Frees everything; nulls *b. NULL-safe. */
void sm_brief_free(struct sm_brief **b);

/*
 * Expands the brief records of the decoded stats message *m in place (any
 * other kind is left alone) and records its full ones, so that afterwards
 * every record of m is full (SM_DOM_BRIEF clear) and holds absolute
 * counters, names, identity and rates. Records that cannot be expanded are
 * removed from m (counted in *res). A new epoch, or a gap of more than 128
 * frames in seq, forgets the publisher's records first: after so long a
 * record's full-record number (one byte) could have come round again.
 * Returns 0, or -1 when memory ran out (m then holds only its full
 * records, and the publisher is forgotten).
 */
int sm_brief_expand(struct sm_brief *b, struct sm_message *m, struct sm_brief_result *res);

/* Publishers remembered now (for tests and self-monitoring). */
size_t sm_brief_hosts(const struct sm_brief *b);

#endif
