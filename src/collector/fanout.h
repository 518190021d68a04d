/*
 * fanout — the collector's fan-out: one XPUB bound on every fan-out
 * endpoint, which also knows what its subscribers asked for.
 *
 * A plain PUB discards in silence what nobody is subscribed to, and what a
 * full queue cannot take. Here ZMQ_XPUB_VERBOSER hands over every subscribe
 * and unsubscribe (a departing subscriber's too), so a relayed frame that
 * no subscription matches is reported as unheard and counted, and the
 * collector's start-up grace can see its subscribers come back.
 *
 * Nothing is dropped for a subscriber that is merely slow for a moment: the
 * socket is ZMQ_XPUB_NODROP, and when a matching subscriber's queue is full
 * messages wait here, in order, until it has room. Lifecycle events may use
 * the whole of this hold, stats only three quarters, so at a full hold
 * stats are refused first. A subscriber that stays full for FANOUT_WAIT_MS
 * is taken as stalled: the oldest waiting message is sent the lossy way,
 * which makes libzmq set the stalled subscriber aside until it reads
 * again, so the NODROP check waits only for the others from then on (the
 * stalled one loses what does not reach it). The wait is not shortened
 * after a stall: the lossy send passes over whichever subscriber is full at
 * that moment, so it must only happen to one that had a whole second to
 * make room. A consumer that is slow rather than stalled comes back each
 * time it reads, and can then hold the others back by FANOUT_WAIT_MS again.
 */
#ifndef FANOUT_H
#define FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

struct sm_sock_opts;
struct fanout; /* opaque */

/* How long a message may wait for a full subscriber. */
#define FANOUT_WAIT_MS 1000
/* Messages that may wait (count and bytes) before one is refused. */
#define FANOUT_HOLD_MAX 16384
#define FANOUT_HOLD_BYTES (16u << 20)
/* Distinct subscription prefixes tracked; beyond this every frame counts as
 * heard (the table cannot tell), and that is logged once. */
#define FANOUT_PREFIXES_MAX 1024
/* Longest prefix tracked: longer ones are tracked by this many bytes, which
 * can only make a frame count as heard that was not. */
#define FANOUT_PREFIX_LEN_MAX 256

enum fanout_result {
	FANOUT_SENT,	/* queued for every matching subscriber (lossy: those with room) */
	FANOUT_UNHEARD, /* no subscription matches its topic: not sent, nobody lost it here */
	FANOUT_HELD,	/* waiting for a full subscriber; sent later */
	FANOUT_DROPPED, /* refused: the hold is full, or ZeroMQ failed */
};

/* Binds one XPUB on every endpoint. NULL (logged) on failure. */
struct fanout *fanout_new(void *zctx, const char *const *endpoints, size_t n,
			  const struct sm_sock_opts *opts);
/* Closes the socket, removes the ipc:// files it made, frees what waits. */
void fanout_destroy(struct fanout **f);

/* The XPUB's poll item (subscriptions arrive on it). */
zmq_pollitem_t fanout_pollitem(const struct fanout *f);
/* `timeout_ms`, shortened while messages wait for room. */
int fanout_timeout_ms(const struct fanout *f, int timeout_ms);
/* Reads subscriptions and sends what waits, when there is room or its
 * time is up. Call on every loop turn, with the monotonic time in ns. */
void fanout_service(struct fanout *f, int64_t now_ns);

/* Sends a two-frame message. On FANOUT_SENT and FANOUT_HELD the frames'
 * content is taken (they are left empty); the caller closes both either
 * way. `control`: a lifecycle event, which may use the whole hold. */
enum fanout_result fanout_send(struct fanout *f, zmq_msg_t *topic, zmq_msg_t *body, bool control,
			       int64_t now_ns);

/* Subscriptions now whose prefix can match a stats or event topic (a
 * monitor's "hb/" subscription for heartbeats does not count). */
size_t fanout_data_subscriptions(const struct fanout *f);
/* Subscriptions for frames (as above) made since creation: a subscriber's
 * every connection and reconnection counts one. */
uint64_t fanout_data_joins(const struct fanout *f);
/* Messages waiting now. */
size_t fanout_waiting(const struct fanout *f);
/* Since creation: messages that had to wait for room, and those sent the
 * lossy way to end a stall. */
uint64_t fanout_delayed(const struct fanout *f);
uint64_t fanout_forced(const struct fanout *f);

#endif
