/*
 * intake — the exporter's one way in: a received message (its frame count,
 * topic and body bytes) is decoded, accounted (kind, decode errors by
 * reason, sequence gaps) and applied to the store. Every byte that comes
 * from the network is decoded here and nowhere else, so a change of the
 * protocol touches this one function (intake_message).
 */
#ifndef INTAKE_H
#define INTAKE_H

#include <stddef.h>
#include <stdint.h>

#include "sm_wire.h"

struct store;
struct sm_sockwatch;
struct intake; /* opaque */

/* The decode-error index for a message that was not topic + body. */
#define INTAKE_E_PARTS	SM_WIRE_CODE_COUNT
#define INTAKE_NREASONS (SM_WIRE_CODE_COUNT + 1)

/* Counters since creation, plain data. */
struct intake_counters {
	uint64_t frames[SM_KIND_COLLECTOR + 1]; /* valid messages by enum sm_msg_kind */
	uint64_t errors[INTAKE_NREASONS];	/* refused: by enum sm_wire_code, and parts */
	uint64_t lost;				/* messages missing from senders' seq */
	uint64_t brief_expanded;		/* brief records made whole */
	uint64_t brief_waiting;			/* ... left out: full record not seen yet */
	uint64_t brief_refused;			/* ... left out: contradicting it, or too many */
	uint64_t bytes;				/* body bytes of valid messages */
};

/* An intake feeding `store` (borrowed), refusing bodies over max_frame;
 * `watch` (borrowed, may be NULL) hears collectors' heartbeats, which say
 * how large a frame they relay. NULL when out of memory. */
struct intake *intake_new(struct store *store, size_t max_frame, struct sm_sockwatch *watch);
void intake_destroy(struct intake **in);

/* Decodes and applies one message of `parts` frames received at now_ns
 * (monotonic). A refused message is counted by reason and logged with its
 * sender, rate-limited. Returns 0 when applied, -1 when refused. */
int intake_message(struct intake *in, int parts, const void *topic, size_t topic_len,
		   const void *body, size_t body_len, int64_t now_ns);

/* Name of a decode-error index: sm_wire_code_name's, or "parts". */
const char *intake_reason_name(size_t reason);

const struct intake_counters *intake_counters(const struct intake *in);

#endif
