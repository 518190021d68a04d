/*
 * relay — see relay.h. The hot path is relay_one: receive (the SUB hands us
 * its own zmq_msg_t buffers), peek at the envelope, then send those same
 * buffers on, so a frame's bytes are never copied by the collector. Every
 * send is non-blocking: a full queue costs a counted drop, never a stall.
 * With CurveZMQ each frame is checked against the identity of the
 * connection it came on and, when a relaying collector below named one,
 * against its origin identity too; an intermediate whose own key has the
 * relay role passes the first hop's identity on as a third frame.
 */
#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "fanout.h"
#include "sm_clock.h"
#include "sm_config.h" /* sm_sock.h wants struct sm_config_key complete */
#include "sm_log.h"
#include "sm_loss.h"
#include "sm_sock.h"
#include "sm_upstream.h"
#include "sm_zap.h"

/* How long a stop reads its fan-in at least, after telling the publishers
 * it stops (SM_STOP_NOTICE). */
#define STOP_READ_MIN_MS 250

/* One bound fan-in endpoint. */
struct fanin {
	const char *endpoint;	   /* borrowed from the config */
	void *sock;		   /* SUB bound on endpoint, subscribed to everything */
	struct sm_ipc_file file; /* removed at shutdown when endpoint is ipc:// */
};

struct relay {
	struct fanin *in; /* nin fan-in sockets */
	size_t nin;
	size_t next_in;		 /* where the next pump starts, for fairness */
	struct fanout *out;	 /* XPUB bound on every fan-out endpoint */
	/* Start-up grace: the fan-in is not read until grace_end_ns (0 once
	 * over), or until grace_subs data subscriptions are on the fan-out,
	 * so that subscribers reconnecting to a restarted collector are back
	 * before the frames monitors held for it are relayed. */
	int64_t grace_start_ns, grace_end_ns;
	size_t grace_subs;
	struct sm_upstream *up;	 /* NULL for a master collector */
	struct loss_table *loss; /* per-sender sequence accounting */
	size_t max_frame;	 /* body size limit */
	bool envelope_only;	 /* bodies checked up to their header only */
	struct sm_zap *zap;	 /* allow list for the identity check; NULL when plain */
	bool send_origin;	 /* curve on and own key has role = relay: origin frame upstream */
	bool require_known_origin; /* an unknown origin identity is dropped, not counted */
	/* counters, cumulative (see struct sm_collector_stats) */
	uint64_t frames_in, bytes_in, frames_out, bytes_out, frames_up;
	uint64_t origin_unknown; /* relayed frames whose origin identity we do not know */
	uint64_t dropped[SM_DROP_COUNT];
	uint64_t lost;
	/* rate-limited logging, one complaint per drop reason */
	struct sm_complaint complaint[SM_DROP_COUNT];
	struct sm_complaint bad_origin; /* third frames refused: their own line, with the key */
	uint64_t bad_origin_n, bad_origin_at_tick;
	uint64_t dropped_at_tick[SM_DROP_COUNT]; /* dropped[] at the last complaints tick */
};

static const char *const drop_what[SM_DROP_COUNT] = {
    [SM_DROP_MALFORMED] = "malformed",	      [SM_DROP_VERSION] = "incompatible version",
    [SM_DROP_TOO_BIG] = "oversized",	      [SM_DROP_HWM_OUT] = "fan-out refused",
    [SM_DROP_HWM_UP] = "upstream queue full", [SM_DROP_HOST_MISMATCH] = "other host's",
    [SM_DROP_REFUSED] = "unauthorised",       [SM_DROP_ORIGIN_MISMATCH] = "other origin's",
    [SM_DROP_NO_SUBSCRIBER] = "unheard (no subscriber)",
};

struct relay *relay_new(void *zctx, const struct relay_config *cfg)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (!r)
		goto fail_nomem;
	if (cfg->nfan_in == 0 || cfg->nfan_out == 0) {
		sm_log_err("relay: need at least one fan-in and one fan-out endpoint");
		goto fail;
	}
	r->max_frame = cfg->max_frame ? cfg->max_frame : SM_WIRE_FRAME_MAX_DEFAULT;
	r->envelope_only = cfg->envelope_only;
	r->zap = cfg->zap;
	r->require_known_origin = cfg->require_known_origin;
	r->send_origin = cfg->zap && cfg->opts && cfg->opts->curve_relay && cfg->nupstream > 0;
	r->loss = loss_table_new(cfg->max_senders, cfg->sender_expiry_s);
	r->in = calloc(cfg->nfan_in, sizeof(*r->in));
	if (!r->loss || !r->in)
		goto fail_nomem;
	r->nin = cfg->nfan_in;
	for (size_t i = 0; i < cfg->nfan_in; i++) {
		struct fanin *in = &r->in[i];

		in->endpoint = cfg->fan_in[i];
		in->sock = sm_sock_new(zctx, ZMQ_SUB, cfg->opts);
		if (!in->sock || sm_sock_subscribe(in->sock, "") < 0 ||
		    sm_sock_bind(in->sock, in->endpoint) < 0)
			goto fail;
		sm_ipc_file_note(&in->file, in->endpoint);
	}
	/* Stats go out the lossy way: at a full queue a slow subscriber loses
	 * them, and only that one. Lifecycle events wait for room (fanout.h). */
	r->out = fanout_new(zctx, cfg->fan_out, cfg->nfan_out, cfg->opts);
	if (!r->out)
		goto fail;
	if (cfg->startup_grace_s > 0) {
		r->grace_start_ns = sm_clock_mono_ns();
		r->grace_end_ns = r->grace_start_ns + (int64_t)(cfg->startup_grace_s * 1e9);
		r->grace_subs = cfg->grace_subscriptions;
		sm_log_info("fan-in held for up to %.1f s (startup_grace), so that subscribers "
			    "reconnect before held frames are relayed",
			    cfg->startup_grace_s);
	}
	if (cfg->nupstream > 0) {
		r->up = sm_upstream_new(zctx, cfg->upstream, cfg->nupstream, cfg->opts,
					cfg->failover_s);
		if (!r->up)
			goto fail;
		sm_upstream_set_max_frame(r->up, r->max_frame);
	}
	return r;

fail_nomem:
	sm_log_err("relay: out of memory");
fail:
	relay_destroy(&r);
	return NULL;
}

void relay_destroy(struct relay **rp)
{
	struct relay *r = rp ? *rp : NULL;

	if (!r)
		return;
	for (size_t i = 0; r->in && i < r->nin; i++) {
		sm_sock_close(&r->in[i].sock);
		sm_ipc_file_remove(&r->in[i].file);
	}
	free(r->in);
	fanout_destroy(&r->out);
	sm_upstream_destroy(&r->up);
	loss_table_destroy(&r->loss);
	free(r);
	*rp = NULL;
}

/* Whether the start-up grace still holds the fan-in; ends it (logged)
 * when its time is up or enough subscribers are back. */
static bool in_grace(struct relay *r, int64_t now_ns)
{
	size_t subs;

	if (!r->grace_end_ns)
		return false;
	subs = fanout_data_subscriptions(r->out);
	if (now_ns < r->grace_end_ns && (r->grace_subs == 0 || subs < r->grace_subs))
		return true;
	sm_log_notice("fan-in open after %.1f s with %zu subscription(s) for frames on the fan-out",
		    (double)(now_ns - r->grace_start_ns) / 1e9, subs);
	r->grace_end_ns = 0;
	return false;
}

size_t relay_pollitems(struct relay *r, zmq_pollitem_t *items, size_t max)
{
	size_t n = 0;

	/* During the grace the fan-in is not polled: what arrives waits in
	 * ZeroMQ's queues (bounded by the high-water mark). */
	for (size_t i = 0; !r->grace_end_ns && i < r->nin && n < max; i++)
		items[n++] = (zmq_pollitem_t){.socket = r->in[i].sock, .events = ZMQ_POLLIN};
	if (n < max)
		items[n++] = fanout_pollitem(r->out);
	if (r->up)
		n += sm_upstream_pollitems(r->up, items + n, max - n);
	return n;
}

/* Logs a refused inbound message, rate-limited per reason, with where it
 * came from, its topic (masked) and size, and why. */
static void complain_refused(struct relay *r, enum sm_drop_reason reason, const char *endpoint,
			     struct sm_frames *f, const struct sm_wire_error *err)
{
	char topic[72];

	envelope_topic_printable(zmq_msg_data(&f->topic), zmq_msg_size(&f->topic), topic,
				 sizeof(topic));
	sm_complain(&r->complaint[reason], SM_LOG_WARNING,
		    "dropped %s message from fan-in %s, topic '%s' (%zu bytes): %s: %s",
		    drop_what[reason], endpoint, topic, zmq_msg_size(&f->body),
		    sm_wire_code_name(err->code), err->msg);
}

/* Logs a message ZeroMQ would not queue (errno holds why), rate-limited. */
static void complain_unsent(struct relay *r, enum sm_drop_reason reason, const char *where,
			    struct sm_frames *f)
{
	char topic[72];
	int saved = errno;

	envelope_topic_printable(zmq_msg_data(&f->topic), zmq_msg_size(&f->topic), topic,
				 sizeof(topic));
	sm_complain(&r->complaint[reason], SM_LOG_WARNING,
		    "dropped message %s (%s), topic '%s': %s", where, drop_what[reason], topic,
		    zmq_strerror(saved));
}

/* Sends the message upstream; with `origin` (not NULL) as a third frame. */
static void forward_up(struct relay *r, struct sm_frames *f, const char *origin)
{
	zmq_msg_t topic, body, id;
	int rc = -1;

	/* zmq_msg_copy shares the buffer (reference-counted), it does not
	 * duplicate the bytes; the originals then go to the fan-out. */
	zmq_msg_init(&topic);
	zmq_msg_init(&body);
	zmq_msg_copy(&topic, &f->topic);
	zmq_msg_copy(&body, &f->body);
	if (!origin) {
		zmq_msg_init(&id);
		rc = sm_upstream_send_msg(r->up, &topic, &body);
	} else if (zmq_msg_init_size(&id, strlen(origin)) == 0) {
		memcpy(zmq_msg_data(&id), origin, strlen(origin));
		rc = sm_upstream_send_origin(r->up, &topic, &body, &id);
	} else {
		zmq_msg_init(&id);
	}
	zmq_msg_close(&topic);
	zmq_msg_close(&body);
	zmq_msg_close(&id);
	if (rc == 0) {
		r->frames_up++;
	} else {
		char where[SM_ENDPOINT_MAX + 16];

		snprintf(where, sizeof(where), "to upstream %s", sm_upstream_current(r->up));
		r->dropped[SM_DROP_HWM_UP]++;
		complain_unsent(r, SM_DROP_HWM_UP, where, f);
	}
}

/* Relays or drops one message from `in`; returns 0, or -1 when none waited. */
static int relay_one(struct relay *r, struct fanin *in, int64_t now_ns)
{
	struct sm_frames f;
	struct sm_header h;
	struct sm_wire_error err;
	enum sm_drop_reason reason;
	char origin[SM_HOST_MAX + 1] = ""; /* from a third frame, "" when none */
	const char *id = NULL;		   /* the connection's User-Id, with CURVE */
	int parts;
	size_t size;

	if (sm_sock_recv2(in->sock, &f, ZMQ_DONTWAIT) < 0)
		return -1;
	parts = f.parts;
	if (r->zap)
		id = zmq_msg_gets(&f.topic, "User-Id");
	/* A third frame is an origin identity, and only a relaying
	 * collector's key may send one. Without CURVE there are no
	 * identities: envelope_check refuses anything but two frames. */
	if (r->zap && parts > 2) {
		if (envelope_origin(parts, zmq_msg_data(&f.origin), zmq_msg_size(&f.origin),
				    sm_zap_may_relay(r->zap, id), origin, &reason, &err) < 0) {
			char topic[72];

			r->dropped[reason]++;
			r->bad_origin_n++;
			envelope_topic_printable(zmq_msg_data(&f.topic), zmq_msg_size(&f.topic),
						 topic, sizeof(topic));
			sm_complain(&r->bad_origin, SM_LOG_WARNING,
				    "dropped malformed message from fan-in %s, key '%s', topic "
				    "'%s': %s",
				    in->endpoint, id ? id : "(none)", topic, err.msg);
			goto out;
		}
		parts = 2;
	}
	if (envelope_check(parts, zmq_msg_data(&f.topic), zmq_msg_size(&f.topic),
			   zmq_msg_data(&f.body), zmq_msg_size(&f.body), r->max_frame,
			   !r->envelope_only, &h, &reason, &err) < 0) {
		r->dropped[reason]++;
		complain_refused(r, reason, in->endpoint, &f, &err);
		goto out;
	}
	/* With CURVE, the connection's identity (set by the ZAP handler) must
	 * be allowed to speak for the frame's host: a monitor's key cannot
	 * forge another node's frames. */
	if (r->zap) {
		if (!sm_zap_speaks_for(r->zap, id, h.host)) {
			char topic[72];

			r->dropped[SM_DROP_HOST_MISMATCH]++;
			envelope_topic_printable(zmq_msg_data(&f.topic), zmq_msg_size(&f.topic),
						 topic, sizeof(topic));
			sm_complain(&r->complaint[SM_DROP_HOST_MISMATCH], SM_LOG_WARNING,
				    "dropped message from fan-in %s, topic '%s': key '%s' may not "
				    "speak for host '%s'",
				    in->endpoint, topic, id ? id : "(none)", h.host);
			goto out;
		}
		/* Relayed: the first hop's identity, when this collector knows it,
		 * must speak for the host as well. A relay can only claim
		 * identities within its own delegation (checked above). */
		if (origin[0]) {
			enum sm_zap_origin o = sm_zap_origin_check(r->zap, origin, h.host);

			if (o == SM_ZAP_ORIGIN_MISMATCH ||
			    (o == SM_ZAP_ORIGIN_UNKNOWN && r->require_known_origin)) {
				char topic[72];

				r->dropped[SM_DROP_ORIGIN_MISMATCH]++;
				envelope_topic_printable(zmq_msg_data(&f.topic),
							 zmq_msg_size(&f.topic), topic,
							 sizeof(topic));
				sm_complain(
				    &r->complaint[SM_DROP_ORIGIN_MISMATCH], SM_LOG_WARNING,
				    "dropped message from fan-in %s, topic '%s': relayed by "
				    "key '%s' from origin '%s', which %s host '%s'",
				    in->endpoint, topic, id ? id : "(none)", origin,
				    o == SM_ZAP_ORIGIN_MISMATCH
					? "may not speak for"
					: "is not in the allow list (require_known_origin) for",
				    h.host);
				goto out;
			}
			if (o == SM_ZAP_ORIGIN_UNKNOWN)
				r->origin_unknown++;
		}
	}
	size = zmq_msg_size(&f.topic) + zmq_msg_size(&f.body);
	r->frames_in++;
	r->bytes_in += size;
	r->lost += loss_table_note(r->loss, &h, now_ns);
	/* Upstream, a relaying collector names the first hop: the origin it
	 * was given, or else the key this connection proved. */
	if (r->up)
		forward_up(r, &f, !r->send_origin ? NULL : origin[0] ? origin : id);
	switch (fanout_send(r->out, &f.topic, &f.body, h.kind == SM_KIND_EVENT, now_ns)) {
	case FANOUT_SENT:
	case FANOUT_HELD:
		r->frames_out++;
		r->bytes_out += size;
		break;
	case FANOUT_UNHEARD:
		r->dropped[SM_DROP_NO_SUBSCRIBER]++;
		sm_complain(&r->complaint[SM_DROP_NO_SUBSCRIBER], SM_LOG_WARNING,
			    "relaying with nobody subscribed on the fan-out: frames such as "
			    "%s from %s are discarded (counted as no_subscriber)",
			    sm_wire_kind_name(h.kind), h.host);
		break;
	case FANOUT_DROPPED:
		r->dropped[SM_DROP_HWM_OUT]++;
		complain_unsent(r, SM_DROP_HWM_OUT, "on the fan-out", &f);
		break;
	}
out:
	sm_frames_close(&f);
	return 0;
}

size_t relay_pump(struct relay *r, size_t budget, int64_t now_ns)
{
	size_t per = budget / r->nin ? budget / r->nin : 1;
	size_t total = 0;

	if (in_grace(r, now_ns))
		return 0;

	/* Round-robin over the fan-in sockets, starting at a different one
	 * each call, so a flooded endpoint cannot starve the others. */
	for (size_t k = 0; k < r->nin; k++) {
		struct fanin *in = &r->in[(r->next_in + k) % r->nin];
		size_t n = 0;

		while (n < per && relay_one(r, in, now_ns) == 0)
			n++;
		total += n;
	}
	r->next_in = (r->next_in + 1) % r->nin;
	return total;
}

size_t relay_drain(struct relay *r, int max_ms)
{
	int64_t now = sm_clock_mono_ns(), start = now;
	int64_t end = now + (int64_t)max_ms * 1000000, quiet_since = now;
	zmq_pollitem_t items[64];
	size_t total = 0, n;

	/* Stopping during the grace: relaying late beats discarding. */
	r->grace_end_ns = 0;
	/* Tell the publishers to hold from now on; what they sent before they
	 * heard it is read here, so they are given STOP_READ_MIN_MS to hear
	 * it (a loaded node's monitor may take a while to run). */
	for (size_t k = 0; k < r->nin; k++)
		if (sm_sock_subscribe(r->in[k].sock, SM_STOP_NOTICE) < 0)
			sm_log_warnx("fan-in %s: could not tell publishers that this collector "
				     "stops: %s", r->in[k].endpoint, zmq_strerror(zmq_errno()));
	n = relay_pollitems(r, items, r->nin < 64 ? r->nin : 64);
	while (now < end) {
		size_t got = relay_pump(r, 2048, now);

		fanout_service(r->out, now);
		total += got;
		if (got)
			quiet_since = now;
		else if (now - quiet_since >= 50 * 1000000LL &&
			 now - start >= (int64_t)STOP_READ_MIN_MS * 1000000)
			break;
		zmq_poll(items, (int)n, 10);
		now = sm_clock_mono_ns();
	}
	fanout_service(r->out, now);
	return total;
}

void relay_service(struct relay *r, int64_t now_ns)
{
	fanout_service(r->out, now_ns);
	if (r->up)
		sm_upstream_service(r->up, now_ns);
}

int relay_timeout_ms(const struct relay *r, int64_t now_ns, int timeout_ms)
{
	if (r->grace_end_ns) {
		int64_t left = (r->grace_end_ns - now_ns + 999999) / 1000000;

		if (left < 0)
			left = 0;
		/* Subscriptions can end the grace early: look again soon. */
		if (left > 50)
			left = 50;
		if (timeout_ms < 0 || left < timeout_ms)
			timeout_ms = (int)left;
	}
	timeout_ms = fanout_timeout_ms(r->out, timeout_ms);
	return r->up ? sm_upstream_timeout_ms(r->up, timeout_ms) : timeout_ms;
}

int relay_publish_own(struct relay *r, const void *topic, size_t topic_len, const void *body,
		      size_t body_len, bool up)
{
	int rc = 0;

	if (up && r->up) {
		if (sm_upstream_send(r->up, topic, topic_len, body, body_len) == 0) {
			r->frames_up++;
		} else {
			r->dropped[SM_DROP_HWM_UP]++;
			rc = -1;
		}
	}
	zmq_msg_t t, b;
	enum fanout_result res = FANOUT_DROPPED;

	if (zmq_msg_init_size(&t, topic_len) == 0) {
		if (zmq_msg_init_size(&b, body_len) == 0) {
			memcpy(zmq_msg_data(&t), topic, topic_len);
			if (body_len)
				memcpy(zmq_msg_data(&b), body, body_len);
			/* The collector's own frames: nobody listening is no loss. */
			res = fanout_send(r->out, &t, &b, false, sm_clock_mono_ns());
			zmq_msg_close(&b);
		}
		zmq_msg_close(&t);
	}
	if (res == FANOUT_SENT) {
		r->frames_out++;
		r->bytes_out += topic_len + body_len;
	} else if (res == FANOUT_DROPPED) {
		r->dropped[SM_DROP_HWM_OUT]++;
		rc = -1;
	}
	return rc;
}

void relay_stats(struct relay *r, struct sm_collector_stats *st, int64_t now_ns)
{
	loss_table_expire(r->loss, now_ns);
	st->frames_in = r->frames_in;
	st->bytes_in = r->bytes_in;
	st->frames_out = r->frames_out;
	st->bytes_out = r->bytes_out;
	st->frames_up = r->frames_up;
	memcpy(st->dropped, r->dropped, sizeof(st->dropped));
	st->dropped[SM_DROP_REFUSED] = sm_zap_refused(r->zap); /* the ZAP handler counts them */
	st->lost = r->lost;
	st->origin_unknown = r->origin_unknown;
	st->publishers = (uint32_t)loss_table_senders(r->loss);
	snprintf(st->upstream, sizeof(st->upstream), "%s", r->up ? sm_upstream_current(r->up) : "");
}

size_t relay_loss_rows(const struct relay *r, struct sm_publisher_loss *rows, size_t max)
{
	return loss_table_rows(r->loss, rows, max);
}

size_t relay_senders(const struct relay *r)
{
	return loss_table_senders(r->loss);
}

size_t relay_max_frame(const struct relay *r)
{
	return r->max_frame;
}

uint64_t relay_resync(const struct relay *r)
{
	/* Both grow, so the sum changes whenever either does. */
	return fanout_data_joins(r->out) + sm_upstream_resyncs(r->up);
}

void relay_complaints_tick(struct relay *r)
{
	for (int i = 0; i < SM_DROP_COUNT; i++) {
		if (r->dropped[i] == r->dropped_at_tick[i])
			sm_complaint_release(&r->complaint[i], "no more %s messages dropped",
					     drop_what[i]);
		r->dropped_at_tick[i] = r->dropped[i];
	}
	if (r->bad_origin_n == r->bad_origin_at_tick)
		sm_complaint_release(&r->bad_origin, "no more malformed origin frames dropped");
	r->bad_origin_at_tick = r->bad_origin_n;
}
