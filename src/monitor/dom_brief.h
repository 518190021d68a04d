/*
 * dom_brief — what of one domain a frame says in full and what in brief
 * (docs/PROTOCOL.md "Brief records"). A domain's record is full when it is
 * first listed, when its name, Nova identity or device list changed, when a
 * counter went backwards or a rate is unknown (a restart, a reset), and
 * every full_interval (staggered by UUID, so that the refreshes of a host's
 * domains spread over the interval instead of all landing in one frame).
 * In between it is brief: no names, counters as growth since that full
 * record, rates left to the receiver. A late subscriber learns every
 * domain's names and counters within full_interval.
 */
#ifndef DOM_BRIEF_H
#define DOM_BRIEF_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "sm_wire.h"

struct dom_brief; /* opaque, one per tracked domain */

/* NULL when out of memory. */
struct dom_brief *dom_brief_new(void);
/* Frees it; nulls *b. NULL-safe. */
void dom_brief_destroy(struct dom_brief **b);

/*
 * Packs `st`, the domain's stats from the sample taken at sample_ns
 * (CLOCK_MONOTONIC), as its next record: full when one is due (above) or
 * `force_full` (a new subscriber somewhere needs every domain's), brief
 * otherwise. now_ns is the frame's tick; full_every_ns 0 makes every
 * record full. Out of memory, the record is full and the next one too.
 */
void dom_brief_pack(struct dom_brief *b, msgpack_packer *pk, const struct sm_domain_stats *st,
		    int64_t sample_ns, int64_t now_ns, int64_t full_every_ns, bool force_full);

/* Full records packed by this domain's dom_brief so far (for tests). */
uint64_t dom_brief_full_count(const struct dom_brief *b);

#endif
