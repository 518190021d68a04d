/*
 * sub_loss — stackmon-sub's loss report: every decoded frame goes through
 * the shared loss table (sm_loss.h), each gap in a sender's seq is told
 * as it is found (which seqs, how many), and a summary per sender and kind
 * (received, lost) when the program ends. What is lost is counted on the
 * whole path from the monitor to this subscriber (docs/PROTOCOL.md
 * "Counting loss").
 */
#ifndef SUB_LOSS_H
#define SUB_LOSS_H

#include <stdint.h>
#include <stdio.h>

#include "sm_wire.h"

struct sub_loss; /* opaque */

/* NULL when out of memory. */
struct sub_loss *sub_loss_new(void);
void sub_loss_destroy(struct sub_loss **self_p);

/* Accounts one decoded frame; a gap (or a seq leap too wide to believe) it
 * reveals is written as one line to `gaps` unless it is NULL. Returns the
 * frames it shows were lost. */
uint64_t sub_loss_note(struct sub_loss *self, const struct sm_header *h, FILE *gaps);

/* Writes one line per sender and kind, by host then kind ("received from
 * cn1 (stats): 12 frames, 318 lost (96.4%)"), then a total line. */
void sub_loss_report(const struct sub_loss *self, FILE *out);

#endif
