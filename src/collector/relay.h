/*
 * relay — the collector's data path: SUB sockets bound on the fan-in
 * endpoints, the fan-out (fanout.h) bound on the fan-out endpoints, and, for an
 * intermediate collector, the upstream (sm_upstream). Every message that
 * passes the envelope check is re-published unchanged (the received ZeroMQ
 * messages themselves, no copy) and forwarded upstream; the rest is dropped
 * and counted by reason. With CurveZMQ and a key of role = relay, what goes
 * upstream carries a third frame, the first hop's identity; the fan-out
 * always carries two. The relay also owns the loss table and the counters
 * the self-monitoring frame reports.
 */
#ifndef RELAY_H
#define RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "sm_wire.h"

struct sm_sock_opts;
struct sm_zap;

struct relay_config {
	const char *const *fan_in;	 /* endpoints to bind a SUB on, one socket each */
	size_t nfan_in;			 /* >= 1 */
	const char *const *fan_out;	 /* endpoints to bind the one PUB on */
	size_t nfan_out;		 /* >= 1 */
	const char *const *upstream;	 /* "FANIN=HEARTBEAT" targets, most preferred first */
	size_t nupstream;		 /* 0 for a master collector */
	double failover_s;		 /* heartbeat silence before switching upstream */
	size_t max_frame;		 /* body size limit; bigger frames are dropped */
	bool envelope_only;		 /* check bodies up to their header only, not their
					    whole structure (check_body = no) */
	size_t max_senders;		 /* loss table bound */
	double sender_expiry_s;		 /* silence after which a sender leaves the loss table */
	const struct sm_sock_opts *opts; /* transport options of every socket */
	bool require_known_origin;	 /* with zap: an origin identity not in the allow
					    list is dropped (origin_mismatch), not passed */
	double startup_grace_s;		 /* fan-in held this long at start (0 = not) */
	size_t grace_subscriptions;	 /* ... or until this many subscriptions for
					    frames are on the fan-out (0 = the whole grace) */
	struct sm_zap *zap;		 /* CURVE allow list (borrowed), NULL when plain:
					    then no identity check and no origin frames;
					    opts->curve_relay decides whether origin
					    frames go upstream */
};

struct relay; /* opaque */

/* Binds and connects everything; NULL (logged) when any endpoint fails. */
struct relay *relay_new(void *zctx, const struct relay_config *cfg);
void relay_destroy(struct relay **r);

/* Poll items for every socket the loop must wake on (fan-in sockets first,
 * then the upstream's heartbeat sockets); returns how many, at most max. */
size_t relay_pollitems(struct relay *r, zmq_pollitem_t *items, size_t max);

/* Relays what is waiting on the fan-in sockets, at most `budget` messages
 * (shared fairly between sockets), never blocking. Returns how many were
 * read (relayed or dropped). */
size_t relay_pump(struct relay *r, size_t budget, int64_t now_ns);

/* Housekeeping on every loop turn: fan-out subscriptions and waiting
 * events, upstream heartbeats and fail-over. */
void relay_service(struct relay *r, int64_t now_ns);
/* At shutdown: tells the publishers on the fan-in that this collector stops
 * (SM_STOP_NOTICE: they hold what they would send), then relays what is
 * still on its way (frames sent before they heard it) for at least 250 ms
 * and until it has been quiet for 50 ms, at most max_ms; the fan-out's
 * linger then delivers them. Returns how many messages were read. */
size_t relay_drain(struct relay *r, int max_ms);
/* `timeout_ms` shortened for the relay's own deadlines (the end of the
 * start-up grace, events waiting for room). */
int relay_timeout_ms(const struct relay *r, int64_t now_ns, int timeout_ms);

/* Publishes a message the collector made itself on the fan-out, and also
 * upstream when `up` (and there is an upstream). Returns 0 or -1. */
int relay_publish_own(struct relay *r, const void *topic, size_t topic_len, const void *body,
		      size_t body_len, bool up);

/* Fills the counters of *st (not interval, not loss rows) and forgets the
 * senders silent for longer than the expiry. */
void relay_stats(struct relay *r, struct sm_collector_stats *st, int64_t now_ns);

/* Writes the loss rows (see loss_table_rows); returns how many. */
size_t relay_loss_rows(const struct relay *r, struct sm_publisher_loss *rows, size_t max);
/* Senders in the loss table. */
size_t relay_senders(const struct relay *r);
/* The largest body relayed (bigger ones are dropped as too_big). */
size_t relay_max_frame(const struct relay *r);
/* What heartbeats say as "resync": a count that grows when a subscriber for
 * frames joins this collector's fan-out or, through the heartbeats of the
 * collector above, one higher up (docs/PROTOCOL.md "Brief records"). */
uint64_t relay_resync(const struct relay *r);

/* Ends the interval for rate-limited logging: a drop reason that did not
 * occur since the last call logs "recovered" once. */
void relay_complaints_tick(struct relay *r);

#endif
