/*
 * sm_intake — a subscriber's one way in (the exporter's and the alerter's):
 * a received message (its frame count, topic and body bytes) is decoded,
 * accounted (kind, decode errors by reason, sequence gaps), its brief
 * records made whole, and handed to the receiver's sink. Every byte that
 * comes from the network is decoded here and nowhere else, so a change of
 * the protocol touches this one function (sm_intake_message).
 */
#ifndef SM_INTAKE_H
#define SM_INTAKE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sm_wire.h"

struct sm_sockwatch;
struct sm_intake; /* opaque */

/* Where decoded messages go: the receiver's functions and their context.
 * A stats message arrives with its brief records made whole; `complete`
 * says none was left out (see sm_brief.h). Any of the three may be NULL
 * (not wanted). `lost` hears
 * each valid message's header and the messages its sender's seq says were
 * lost just before it. The message belongs to the intake: a sink copies
 * what it keeps. */
struct sm_intake_sink {
	void *ctx;
	void (*stats)(void *ctx, const struct sm_message *m, int64_t now_ns, bool complete);
	void (*event)(void *ctx, const struct sm_message *m);
	void (*lost)(void *ctx, const struct sm_header *h, uint64_t lost);
};

/* The decode-error index for a message that was not topic + body. */
#define SM_INTAKE_E_PARTS  SM_WIRE_CODE_COUNT
#define SM_INTAKE_NREASONS (SM_WIRE_CODE_COUNT + 1)

/* Counters since creation, plain data. */
struct sm_intake_counters {
	uint64_t frames[SM_KIND_COLLECTOR + 1]; /* valid messages by enum sm_msg_kind */
	uint64_t errors[SM_INTAKE_NREASONS];	/* refused: by enum sm_wire_code, and parts */
	uint64_t lost;				/* messages missing from senders' seq */
	uint64_t brief_expanded;		/* brief records made whole */
	uint64_t brief_waiting;			/* ... left out: full record not seen yet */
	uint64_t brief_refused;			/* ... left out: contradicting it, or too many */
	uint64_t bytes;				/* body bytes of valid messages */
};

/* An intake feeding `sink` (copied; its ctx borrowed), refusing bodies over max_frame;
 * `watch` (borrowed, may be NULL) hears collectors' heartbeats, which say
 * how large a frame they relay. NULL when out of memory. */
struct sm_intake *sm_intake_new(const struct sm_intake_sink *sink, size_t max_frame,
				struct sm_sockwatch *watch);
void sm_intake_destroy(struct sm_intake **in);

/* Decodes and applies one message of `parts` frames received at now_ns
 * (monotonic). A refused message is counted by reason and logged with its
 * sender, rate-limited. Returns 0 when applied, -1 when refused. */
int sm_intake_message(struct sm_intake *in, int parts, const void *topic, size_t topic_len,
		      const void *body, size_t body_len, int64_t now_ns);

/* Name of a decode-error index: sm_wire_code_name's, or "parts". */
const char *sm_intake_reason_name(size_t reason);

/* Reads what ZeroMQ has queued on `sub` (a SUB socket) into the intake,
 * never waiting: at most SM_INTAKE_DRAIN_BUDGET messages or
 * SM_INTAKE_DRAIN_MAX_MS, so the caller's timers are not starved, and
 * none once the daemon is asked to quit. `lock` (NULL: none) is held around
 * each message, not the whole drain, so a reader of what the sink writes
 * (an HTTP scrape) waits one message at most. Returns the messages read. */
#define SM_INTAKE_DRAIN_BUDGET 4096
#define SM_INTAKE_DRAIN_MAX_MS 200
size_t sm_intake_drain(struct sm_intake *in, void *sub, pthread_mutex_t *lock);

const struct sm_intake_counters *sm_intake_counters(const struct sm_intake *in);

#endif
