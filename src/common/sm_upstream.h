/*
 * sm_upstream — how a publisher (a monitor, or an intermediate collector)
 * sends to exactly one collector out of an ordered list, and fails over.
 * It watches the heartbeats of the collector in use (a SUB socket on that
 * collector's fan-out); when none arrive for failover_s it moves to the next
 * target, and it returns to a more preferred target as soon as that one's
 * heartbeats are seen again. When no collector has answered (subscribed,
 * and heartbeats if watched) for failover_s, that is logged once, with the
 * messages held and dropped so far, and once more when one answers again.
 * One PUB socket is connected to one fan-in at a time, so no frame ever
 * reaches two collectors.
 */
#ifndef SM_UPSTREAM_H
#define SM_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

struct sm_sock_opts;
struct sm_upstream; /* opaque */

/* The subscription a stopping collector adds on its fan-in: "stop sending
 * to me". A publisher that sees it holds what it would send, as before the
 * collector's first subscription, until a collector subscribes again (the
 * restarted one, or another after a fail-over). What was already on its way
 * is read by the stopping collector, which reads on for a moment after
 * saying so; without the notice, a frame written as the collector closed
 * its connection was lost with it. Publishers that ignore it (a plain PUB)
 * lose nothing more than before. */
#define SM_STOP_NOTICE "stopping/"

/*
 * targets: "FANIN" or "FANIN=HEARTBEAT" strings, most preferred first,
 * each optionally followed by "@KEYFILE" (that collector's public key file,
 * for CurveZMQ; without it, opts->curve_server is used).
 * FANIN is the collector's fan-in endpoint; HEARTBEAT its fan-out endpoint,
 * where its heartbeats can be heard. A target without HEARTBEAT is always
 * taken as alive (no fail-over away from it). Returns NULL and logs on a
 * malformed target or socket failure.
 */
struct sm_upstream *sm_upstream_new(void *zctx, const char *const *targets, size_t ntargets,
				    const struct sm_sock_opts *opts, double failover_s);
void sm_upstream_destroy(struct sm_upstream **up);

/* Sends one two-frame message to the target in use, never blocking. Until
 * that collector has subscribed (just after start or a switch, when ZeroMQ
 * would silently discard it), and while its queue is full, the message is
 * held, in order, and sent once it can be: at most the high-water mark's
 * count of messages and 16 MiB, and lifecycle events (topic "event/") a
 * reserve of SM_WIRE_MAX_DOMAINS more and 8 MiB, so that stats are refused
 * before events. Returns 0, or -1 with errno ENOTCONN (the hold is full)
 * or ENOMEM; the caller counts the drop. */
int sm_upstream_send(struct sm_upstream *up, const void *topic, size_t topic_len,
		     const void *body, size_t body_len);

/* As sm_upstream_send, for a relay that holds ZeroMQ messages already: on
 * success their content goes to ZeroMQ without a copy and both are left
 * empty. The caller closes both either way. Returns 0, or -1 (EAGAIN as
 * above). */
int sm_upstream_send_msg(struct sm_upstream *up, zmq_msg_t *topic, zmq_msg_t *body);

/* As sm_upstream_send_msg, with `origin` (unless NULL) as a third frame:
 * the identity an intermediate collector's ZAP handler authenticated for
 * the frame's first hop (docs/PROTOCOL.md, "Origin identity"). Left empty
 * on success too; the caller closes it either way. */
int sm_upstream_send_origin(struct sm_upstream *up, zmq_msg_t *topic, zmq_msg_t *body,
			    zmq_msg_t *origin);

/* `timeout_ms` shortened while held messages wait for room at a collector
 * that is there (call sm_upstream_service when it expires). */
int sm_upstream_timeout_ms(const struct sm_upstream *up, int timeout_ms);

/* Poll items for the heartbeat sockets (so the caller's zmq_poll wakes on
 * them); returns how many were written, at most max. */
size_t sm_upstream_pollitems(struct sm_upstream *up, zmq_pollitem_t *items, size_t max);
/* Drains heartbeats and switches target when due. Call on every loop turn
 * (after zmq_poll), with the monotonic time in ns. */
void sm_upstream_service(struct sm_upstream *up, int64_t now_ns);

/* The largest body this side sends (its max_frame): a target whose
 * heartbeats announce a smaller max_frame is warned about once, since it
 * would drop this side's larger frames. 0 (the default) checks nothing. */
void sm_upstream_set_max_frame(struct sm_upstream *up, size_t max_frame);

/* The fan-in endpoint in use ("" if none). */
const char *sm_upstream_current(const struct sm_upstream *up);
/* Index of the target in use (0 = most preferred). */
size_t sm_upstream_current_index(const struct sm_upstream *up);
/* Number of target switches since creation. */
uint64_t sm_upstream_switches(const struct sm_upstream *up);
/* A count that grows whenever consumers behind the upstream may lack what
 * was sent before: a switch of target, or a new "resync" in the heartbeats
 * of the target in use (a subscriber for frames joined that collector or
 * one above it). A publisher of brief records then sends in full again. */
uint64_t sm_upstream_resyncs(const struct sm_upstream *up);
/* Messages held until the collector in use subscribes: 0 once it has taken
 * them all (they are then ZeroMQ's to deliver), or when none were held. */
size_t sm_upstream_held(const struct sm_upstream *up);
/* Messages refused since creation (hold full, or the collector's queue
 * full): what the callers counted as drops. */
uint64_t sm_upstream_dropped(const struct sm_upstream *up);

#endif
