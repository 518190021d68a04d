/*
 * sm_upstream — sends to one collector out of an ordered list and fails
 * over on lost heartbeats (contract in sm_upstream.h). Invariant: the one
 * outbound socket is connected to exactly one fan-in at any time, so a frame
 * can never reach two collectors; the heartbeat SUB sockets stay connected to
 * every target so a more preferred collector is noticed when it comes back.
 */
#include "sm_upstream.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sm_clock.h"
#include "sm_config.h" /* sm_sock.h needs struct sm_config_key complete */
#include "sm_log.h"
#include "sm_msgq.h"
#include "sm_sock.h"
#include "sm_wire.h"

/* Heartbeat frames are tiny; anything bigger is not a heartbeat. */
#define HB_MAX_FRAME 4096
/* Messages drained per heartbeat socket per service call, so a misdirected
 * busy endpoint cannot starve the caller's loop. */
#define HB_DRAIN_MAX 256
/* What may wait for a collector that has not subscribed yet: a few seconds
 * of a large node's frames, never more memory than this. */
#define HOLD_MAX_BYTES (16u << 20)
/* Lifecycle events may go beyond the hold's bounds by this much, so that
 * when it fills, stats are refused before events: a start-up burst is one
 * event per domain at most. */
#define HOLD_EVENT_RESERVE SM_WIRE_MAX_DOMAINS
#define HOLD_EVENT_RESERVE_BYTES (8u << 20)

/* One collector we may send to. */
struct target {
	char fanin[SM_ENDPOINT_MAX + 1];     /* its fan-in: where our frames go */
	char heartbeat[SM_ENDPOINT_MAX + 1]; /* its fan-out, "" when not watched */
	char server_key[SM_CURVE_KEY_Z85 + 1]; /* its CURVE public key (Z85), "" for the default */
	void *sub;			     /* SUB on heartbeat, subscribed "hb/"; NULL if none */
	int64_t last_hb_ns;		     /* monotonic time of the last valid heartbeat */
	uint64_t said_max_frame;	     /* max_frame its heartbeats announce, 0 unknown */
	uint64_t said_resync;		     /* resync its heartbeats announce, 0 unknown */
	struct sm_complaint bad_hb;	     /* rate-limits complaints about invalid heartbeats */
};

struct sm_upstream {
	void *out;		/* XPUB (NODROP) connected to targets[current].fanin only */
	struct target *targets; /* ntargets entries, most preferred first */
	size_t ntargets;
	size_t current;	     /* index of the target in use */
	int64_t failover_ns; /* silence after which a target counts as dead */
	uint64_t switches;   /* target changes since creation */
	uint64_t resyncs;    /* switches, and changes of the resync said by the target in use */
	size_t max_frame;    /* largest body sent from here, 0 = not checked */
	char default_key[SM_CURVE_KEY_Z85 + 1]; /* CURVE server key for targets without their own, "" none */
	/* ZeroMQ discards what an XPUB sends before its peer's subscription
	 * arrives (just after start, a switch, a collector restart). So the
	 * subscriptions are counted, and while there is none, messages are
	 * held here (at most max_held and HOLD_MAX_BYTES, events a reserve
	 * beyond) and sent in order once the collector has subscribed. A
	 * message its full queue refused (EAGAIN) is held the same way. */
	int subscribers;     /* peers subscribed now (XPUB_VERBOSER notices) */
	bool awaiting;	     /* switched (or new) and the new peer has not subscribed yet */
	struct sm_msgq *hold; /* what waits, in the order given */
	size_t max_held;
	/* Whether any collector answers, for the two log lines of an outage
	 * (one when none has for failover_ns, one when one does again). A
	 * collector answers while the target in use has subscribed and, if it
	 * is watched, its heartbeats arrive. */
	int64_t last_answer_ns;	 /* monotonic time it last answered */
	bool silent;		 /* the "no collector answered" line was logged */
	uint64_t held_total;	 /* messages ever put in the hold */
	uint64_t dropped_total;	 /* messages ever refused (hold full, queue full) */
	uint64_t held_mark, dropped_mark; /* the totals when it last answered */
};

/* Splits "FANIN[=HEARTBEAT][@KEYFILE]" into t, reading the key file; -1 on a
 * malformed string or key file (logged). */
static int target_parse(const char *whole, struct target *t)
{
	char spec[2 * SM_ENDPOINT_MAX + 2];
	const char *keyfile, *eq;
	size_t fanin_len;

	if (sm_endpoint_split(whole, spec, sizeof(spec), &keyfile) < 0)
		return -1;
	if (keyfile && sm_sock_load_server_key(keyfile, t->server_key) < 0)
		return -1;
	eq = strchr(spec, '=');
	fanin_len = eq ? (size_t)(eq - spec) : strlen(spec);

	if (fanin_len == 0 || fanin_len > SM_ENDPOINT_MAX)
		return -1;
	memcpy(t->fanin, spec, fanin_len);
	t->fanin[fanin_len] = '\0';
	t->heartbeat[0] = '\0';
	if (eq) {
		const char *hb = eq + 1;
		size_t hb_len = strlen(hb);

		if (hb_len == 0 || hb_len > SM_ENDPOINT_MAX || strchr(hb, '='))
			return -1;
		memcpy(t->heartbeat, hb, hb_len + 1);
	}
	return 0;
}

/* Connects the outbound socket to t's fan-in with t's server key (or the
 * default one the socket was made with). */
static int target_connect(struct sm_upstream *up, const struct target *t)
{
	return sm_sock_connect_key(up->out, t->fanin,
				   t->server_key[0] ? t->server_key : up->default_key);
}

static bool target_alive(const struct target *t, int64_t now_ns, int64_t failover_ns)
{
	if (!t->sub)
		return true; /* nothing to watch: never fail over away from it */
	return now_ns - t->last_hb_ns <= failover_ns;
}

struct sm_upstream *sm_upstream_new(void *zctx, const char *const *targets, size_t ntargets,
				    const struct sm_sock_opts *opts, double failover_s)
{
	struct sm_upstream *up = NULL;
	struct sm_sock_opts defaults;
	int nodrop = 1, verboser = 1;
	int64_t now_ns = sm_clock_mono_ns();

	if (!opts) {
		sm_sock_opts_default(&defaults);
		opts = &defaults;
	}
	if (ntargets == 0 || !isfinite(failover_s) || failover_s <= 0 || failover_s > 86400) {
		sm_log_err(
		    "upstream: need at least one target and a fail-over time in (0, 86400] s");
		goto fail;
	}
	up = calloc(1, sizeof(*up));
	if (!up)
		goto fail_nomem;
	up->targets = calloc(ntargets, sizeof(*up->targets));
	if (!up->targets)
		goto fail_nomem;
	up->ntargets = ntargets;
	memcpy(up->default_key, opts->curve_server, sizeof(up->default_key));
	up->failover_ns = (int64_t)(failover_s * (double)SM_NS_PER_SEC);

	for (size_t i = 0; i < ntargets; i++) {
		struct target *t = &up->targets[i];

		if (!targets[i] || target_parse(targets[i], t) < 0) {
			sm_log_err(
			    "upstream: malformed target '%s' (want FANIN or FANIN=HEARTBEAT, "
			    "each at most %d bytes, then optionally @KEYFILE)",
			    targets[i] ? targets[i] : "(null)", SM_ENDPOINT_MAX);
			goto fail;
		}
		/* Until a target has had failover_s to speak, it gets the benefit
		 * of the doubt: we start on the most preferred one. */
		t->last_hb_ns = now_ns;
		if (!t->heartbeat[0])
			continue;
		t->sub = sm_sock_new(zctx, ZMQ_SUB, opts);
		if (!t->sub || sm_sock_subscribe(t->sub, "hb/") < 0 ||
		    sm_sock_connect_key(t->sub, t->heartbeat, t->server_key) < 0)
			goto fail;
	}

	/* XPUB with NODROP instead of PUB: it has a single peer here, and NODROP
	 * makes a full queue return EAGAIN, so the caller can count the drop
	 * (a PUB discards silently). */
	up->out = sm_sock_new(zctx, ZMQ_XPUB, opts);
	if (!up->out)
		goto fail;
	if (zmq_setsockopt(up->out, ZMQ_XPUB_NODROP, &nodrop, sizeof(nodrop)) < 0) {
		sm_log_err("upstream: ZMQ_XPUB_NODROP: %s", zmq_strerror(zmq_errno()));
		goto fail;
	}
	/* Every peer's subscribe and unsubscribe, so they can be counted. */
	if (zmq_setsockopt(up->out, ZMQ_XPUB_VERBOSER, &verboser, sizeof(verboser)) < 0) {
		sm_log_err("upstream: ZMQ_XPUB_VERBOSER: %s", zmq_strerror(zmq_errno()));
		goto fail;
	}
	up->max_held = opts->sndhwm > 0 ? (size_t)opts->sndhwm : 1000;
	up->hold = sm_msgq_new();
	if (!up->hold) {
		sm_log_err("upstream: out of memory");
		goto fail;
	}
	up->awaiting = true;
	up->last_answer_ns = now_ns; /* a collector gets failover_s to answer */
	/* Check every fan-in endpoint now (connect then disconnect): a typo
	 * must stop the daemon at start, not surface during a fail-over. */
	for (size_t i = 1; i < ntargets; i++) {
		if (target_connect(up, &up->targets[i]) < 0 ||
		    sm_sock_disconnect(up->out, up->targets[i].fanin) < 0)
			goto fail;
	}
	if (target_connect(up, &up->targets[0]) < 0)
		goto fail;
	sm_log_info("upstream: sending to %s", up->targets[0].fanin);
	return up;

fail_nomem:
	sm_log_err("upstream: out of memory");
fail:
	sm_upstream_destroy(&up);
	return NULL;
}

void sm_upstream_destroy(struct sm_upstream **upp)
{
	struct sm_upstream *up = upp ? *upp : NULL;

	if (!up)
		return;
	if (up->hold && sm_msgq_count(up->hold) > 0)
		sm_log_notice("upstream: %zu message(s) never sent: %s did not take them",
			      sm_msgq_count(up->hold), up->targets[up->current].fanin);
	sm_msgq_destroy(&up->hold);
	sm_sock_close(&up->out);
	for (size_t i = 0; up->targets && i < up->ntargets; i++)
		sm_sock_close(&up->targets[i].sub);
	free(up->targets);
	free(up);
	*upp = NULL;
}

/* Sends topic and body, and origin as a third frame unless NULL; on
 * success all are left empty. */
static int out_send(void *out, zmq_msg_t *topic, zmq_msg_t *body, zmq_msg_t *origin)
{
	/* One peer, NODROP: EAGAIN on the first frame means nothing was queued. */
	if (zmq_msg_send(topic, out, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -1;
	if (zmq_msg_send(body, out, (origin ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
		return -1;
	return origin && zmq_msg_send(origin, out, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

/* Sends what was held, in order, while the collector takes it. */
static void held_flush(struct sm_upstream *up)
{
	struct sm_msgq_item *h;

	while (up->subscribers > 0 && !up->awaiting && (h = sm_msgq_front(up->hold))) {
		if (out_send(up->out, &h->topic, &h->body, h->has_origin ? &h->origin : NULL) < 0)
			return; /* its queue is full: the rest waits */
		sm_msgq_pop(up->hold);
	}
}

static bool is_event(const zmq_msg_t *topic)
{
	static const char prefix[] = "event/";

	return zmq_msg_size(topic) >= sizeof(prefix) - 1 &&
	       memcmp(zmq_msg_data((zmq_msg_t *)topic), prefix, sizeof(prefix) - 1) == 0;
}

/* Takes the messages' content into the hold (all left empty); origin may
 * be NULL. -1 with errno ENOTCONN when the hold is full (for stats; events
 * have a reserve beyond). */
static int held_add(struct sm_upstream *up, zmq_msg_t *topic, zmq_msg_t *body, zmq_msg_t *origin)
{
	size_t size =
	    zmq_msg_size(topic) + zmq_msg_size(body) + (origin ? zmq_msg_size(origin) : 0);
	bool event = is_event(topic);
	size_t max_n = up->max_held + (event ? HOLD_EVENT_RESERVE : 0);
	size_t max_bytes = HOLD_MAX_BYTES + (event ? HOLD_EVENT_RESERVE_BYTES : 0);

	if (sm_msgq_count(up->hold) >= max_n || sm_msgq_bytes(up->hold) + size > max_bytes) {
		errno = ENOTCONN;
		return -1;
	}
	if (sm_msgq_push(up->hold, topic, body, origin, 0) < 0)
		return -1;
	up->held_total++;
	return 0;
}

/* Held messages go first, so order is kept whatever the state. */
static bool must_hold(struct sm_upstream *up)
{
	held_flush(up);
	return up->subscribers <= 0 || up->awaiting || sm_msgq_count(up->hold) > 0;
}

int sm_upstream_send(struct sm_upstream *up, const void *topic, size_t topic_len, const void *body,
		     size_t body_len)
{
	zmq_msg_t t, b;
	int rc;

	if (!must_hold(up)) {
		rc = sm_sock_send2(up->out, topic, topic_len, body, body_len, ZMQ_DONTWAIT);
		/* Its queue is full: hold it, in order, rather than drop it. */
		if (rc == 0 || errno != EAGAIN)
			goto out;
	}
	rc = -1;
	if (zmq_msg_init_size(&t, topic_len) < 0)
		goto out;
	if (zmq_msg_init_size(&b, body_len) < 0) {
		zmq_msg_close(&t);
		goto out;
	}
	memcpy(zmq_msg_data(&t), topic, topic_len);
	if (body_len)
		memcpy(zmq_msg_data(&b), body, body_len);
	rc = held_add(up, &t, &b, NULL);
	zmq_msg_close(&t);
	zmq_msg_close(&b);
out:
	if (rc < 0)
		up->dropped_total++;
	return rc;
}

int sm_upstream_send_msg(struct sm_upstream *up, zmq_msg_t *topic, zmq_msg_t *body)
{
	return sm_upstream_send_origin(up, topic, body, NULL);
}

int sm_upstream_send_origin(struct sm_upstream *up, zmq_msg_t *topic, zmq_msg_t *body,
			    zmq_msg_t *origin)
{
	int rc = must_hold(up) ? held_add(up, topic, body, origin)
			       : out_send(up->out, topic, body, origin);

	/* Its queue is full (nothing was queued): hold it rather than drop it. */
	if (rc < 0 && errno == EAGAIN)
		rc = held_add(up, topic, body, origin);
	if (rc < 0)
		up->dropped_total++;
	return rc;
}

int sm_upstream_timeout_ms(const struct sm_upstream *up, int timeout_ms)
{
	/* The XPUB cannot wake the caller when its peer's queue drains (its
	 * POLLOUT is always set): held messages are retried every few ms
	 * while the collector is there to take them. */
	if (sm_msgq_count(up->hold) > 0 && up->subscribers > 0 && !up->awaiting &&
	    (timeout_ms < 0 || timeout_ms > 5))
		return 5;
	return timeout_ms;
}

size_t sm_upstream_pollitems(struct sm_upstream *up, zmq_pollitem_t *items, size_t max)
{
	size_t n = 0;

	/* The XPUB too: a collector's subscription releases held messages. */
	if (n < max)
		items[n++] = (zmq_pollitem_t){.socket = up->out, .events = ZMQ_POLLIN};
	for (size_t i = 0; i < up->ntargets && n < max; i++) {
		if (!up->targets[i].sub)
			continue;
		items[n] = (zmq_pollitem_t){.socket = up->targets[i].sub, .events = ZMQ_POLLIN};
		n++;
	}
	return n;
}

/* A target's heartbeat announced `said` as its max_frame: warns once per
 * value when it is smaller than what this side may send it. */
static void target_note_max_frame(struct target *t, uint64_t said, size_t own)
{
	if (said == 0 || said == t->said_max_frame)
		return;
	t->said_max_frame = said;
	if (own && said < own)
		sm_log_warnx("upstream %s relays bodies up to max_frame = %llu bytes, less than "
			     "this side's max_frame = %zu: it drops larger frames from here "
			     "(give every daemon along one path the same max_frame)",
			     t->fanin, (unsigned long long)said, own);
}

/* Reads what waits on one heartbeat socket; a valid heartbeat refreshes the
 * target. Anything else is dropped with a rate-limited complaint. */
static void target_drain(struct target *t, int64_t now_ns, size_t own_max_frame,
			 bool *resync_changed)
{
	for (int k = 0; k < HB_DRAIN_MAX; k++) {
		struct sm_frames f;
		struct sm_message m = {0};
		struct sm_wire_error err = {0};

		if (sm_sock_recv2(t->sub, &f, ZMQ_DONTWAIT) < 0)
			break;
		if (f.parts == 2 &&
		    sm_wire_decode_frames(zmq_msg_data(&f.topic), zmq_msg_size(&f.topic),
					  zmq_msg_data(&f.body), zmq_msg_size(&f.body),
					  HB_MAX_FRAME, &m, &err) == 0 &&
		    m.hdr.kind == SM_KIND_HEARTBEAT) {
			t->last_hb_ns = now_ns;
			target_note_max_frame(t, m.u.hb.max_frame, own_max_frame);
			if (m.u.hb.resync != t->said_resync) {
				t->said_resync = m.u.hb.resync;
				*resync_changed = true;
			}
			sm_complaint_release(&t->bad_hb, "upstream: valid heartbeats again from %s",
					     t->heartbeat);
		} else {
			sm_complain(&t->bad_hb, SM_LOG_WARNING,
				    "upstream: invalid heartbeat from %s (%d parts): %s",
				    t->heartbeat, f.parts, err.code ? err.msg : "not a heartbeat");
		}
		sm_message_clear(&m);
		sm_frames_close(&f);
	}
}

static bool is_stop_notice(const unsigned char *d, size_t n)
{
	return n == sizeof(SM_STOP_NOTICE) &&
	       memcmp(d + 1, SM_STOP_NOTICE, sizeof(SM_STOP_NOTICE) - 1) == 0;
}

/* Counts the subscribe (first byte 1) and unsubscribe (0) notices a peer's
 * connection and its end put on the XPUB's inbound side; a stopping
 * collector's notice makes everything wait for the next subscription. */
static void out_drain(struct sm_upstream *up)
{
	for (int k = 0; k < HB_DRAIN_MAX; k++) {
		zmq_msg_t msg;
		int rc;

		zmq_msg_init(&msg);
		rc = zmq_msg_recv(&msg, up->out, ZMQ_DONTWAIT);
		if (rc >= 1) {
			const unsigned char *d = zmq_msg_data(&msg);

			if (is_stop_notice(d, (size_t)rc)) {
				if (d[0] == 1 && !up->awaiting)
					sm_log_info("upstream: collector at %s is stopping: holding "
						    "until a collector subscribes",
						    up->targets[up->current].fanin);
				if (d[0] == 1)
					up->awaiting = true;
			} else if (d[0] == 1) {
				up->subscribers++;
				up->awaiting = false;
			} else if (d[0] == 0 && up->subscribers > 0) {
				up->subscribers--;
			}
		}
		zmq_msg_close(&msg);
		if (rc < 0)
			break;
	}
}

/* Logs once when no collector has answered for failover_ns, and once when
 * one answers again, each with what was held and dropped meanwhile: an
 * outage of the collectors is otherwise silent (frames are held quietly
 * until the hold fills). */
static void answer_check(struct sm_upstream *up, int64_t now_ns)
{
	const struct target *t = &up->targets[up->current];
	bool answers = up->subscribers > 0 && !up->awaiting &&
		       target_alive(t, now_ns, up->failover_ns);

	if (answers) {
		if (up->silent)
			sm_log_notice("upstream: collector at %s answers again after %.1f s "
				      "without one: %llu message(s) held meanwhile "
				      "(%zu still waiting), %llu dropped",
				      t->fanin, (double)(now_ns - up->last_answer_ns) / 1e9,
				      (unsigned long long)(up->held_total - up->held_mark),
				      sm_msgq_count(up->hold),
				      (unsigned long long)(up->dropped_total - up->dropped_mark));
		up->silent = false;
		up->last_answer_ns = now_ns;
		up->held_mark = up->held_total;
		up->dropped_mark = up->dropped_total;
		return;
	}
	if (up->silent || now_ns - up->last_answer_ns < up->failover_ns)
		return;
	up->silent = true;
	sm_log_warnx("upstream: no collector answered for %.1f s (%zu target(s), using %s): "
		     "%llu message(s) held so far (%zu waiting), %llu dropped; holding up to %zu",
		     (double)(now_ns - up->last_answer_ns) / 1e9, up->ntargets, t->fanin,
		     (unsigned long long)(up->held_total - up->held_mark), sm_msgq_count(up->hold),
		     (unsigned long long)(up->dropped_total - up->dropped_mark), up->max_held);
}

void sm_upstream_service(struct sm_upstream *up, int64_t now_ns)
{
	size_t best = up->current;
	struct target *from, *to;

	for (size_t i = 0; i < up->ntargets; i++) {
		bool changed = false;

		if (up->targets[i].sub)
			target_drain(&up->targets[i], now_ns, up->max_frame, &changed);
		if (changed && i == up->current)
			up->resyncs++;
	}
	out_drain(up);
	held_flush(up);

	/* The most preferred live target wins; when none is alive we stay
	 * where we are rather than flap between dead collectors. */
	for (size_t i = 0; i < up->ntargets; i++) {
		if (target_alive(&up->targets[i], now_ns, up->failover_ns)) {
			best = i;
			break;
		}
	}
	if (best == up->current) {
		answer_check(up, now_ns);
		return;
	}

	from = &up->targets[up->current];
	to = &up->targets[best];
	/* Disconnect first: whatever is still queued for the old collector is
	 * discarded with its pipe, never re-routed, so nothing is counted twice. */
	/* Endpoints were checked at creation; should a call still fail, stay
	 * on the old target and retry on the next call. */
	if (sm_sock_disconnect(up->out, from->fanin) < 0 || target_connect(up, to) < 0) {
		(void)target_connect(up, from);
		answer_check(up, now_ns);
		return;
	}
	sm_log_notice("upstream: switched from %s to %s (%s)", from->fanin, to->fanin,
		      best > up->current ? "heartbeats stopped" : "preferred collector is back");
	up->current = best;
	up->switches++;
	up->resyncs++; /* the new collector's subscribers have seen nothing from here */
	/* The old peer's count may lag (its unsubscribe comes later): hold
	 * until the new one has subscribed. */
	up->awaiting = true;
	answer_check(up, now_ns);
}

void sm_upstream_set_max_frame(struct sm_upstream *up, size_t max_frame)
{
	if (up)
		up->max_frame = max_frame;
}

const char *sm_upstream_current(const struct sm_upstream *up)
{
	return up ? up->targets[up->current].fanin : "";
}

size_t sm_upstream_current_index(const struct sm_upstream *up)
{
	return up ? up->current : 0;
}

uint64_t sm_upstream_switches(const struct sm_upstream *up)
{
	return up ? up->switches : 0;
}

uint64_t sm_upstream_resyncs(const struct sm_upstream *up)
{
	return up ? up->resyncs : 0;
}

size_t sm_upstream_held(const struct sm_upstream *up)
{
	return up && up->hold ? sm_msgq_count(up->hold) : 0;
}

uint64_t sm_upstream_dropped(const struct sm_upstream *up)
{
	return up ? up->dropped_total : 0;
}
