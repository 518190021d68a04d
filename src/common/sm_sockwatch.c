/*
 * sm_sockwatch — see sm_sockwatch.h. How libzmq 4.3.4 tells the two kinds
 * of loss apart on its monitor: after a connection error it emits
 * DISCONNECTED and, at once, CONNECT_RETRIED (it retries by itself); after a
 * protocol error (a message over ZMQ_MAXMSGSIZE, a failed handshake) it
 * emits DISCONNECTED alone and the session is gone. So a DISCONNECTED with
 * no retry within GIVE_UP_GRACE means libzmq gave up, and the watch does
 * zmq_disconnect + zmq_connect itself (a bare zmq_connect is not enough:
 * the dead endpoint is still registered).
 */
#include "sm_sockwatch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_clock.h"
#include "sm_config.h" /* sm_sock.h needs struct sm_config_key complete */
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_wire.h" /* SM_ENDPOINT_MAX */

/* libzmq queues CONNECT_RETRIED right behind DISCONNECTED; this is ample. */
#define GIVE_UP_GRACE_NS (200 * 1000000LL)
/* A connection that lived this long resets the back-off. */
#define STABLE_NS (30 * SM_NS_PER_SEC)
/* Monitor events read per service call. */
#define EVENTS_MAX 256
/* Collectors whose announced max_frame is remembered (warn once each). */
#define PEERS_MAX 64

#define WATCHED_EVENTS                                                                             \
	(ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_DELAYED | ZMQ_EVENT_CONNECT_RETRIED |             \
	 ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |                                  \
	 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |              \
	 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_MONITOR_STOPPED)

enum ep_state {
	EP_CONNECTING, /* connect given, no handshake yet */
	EP_UP,	       /* handshake done: frames flow */
	EP_LOST,       /* DISCONNECTED seen; does libzmq retry? (GIVE_UP_GRACE) */
	EP_RETRYING,   /* libzmq reconnects by itself */
	EP_ABANDONED,  /* libzmq gave up: the watch connects again at due_ns */
};

/* One endpoint the socket connects to. */
struct endpoint {
	char spec[2 * SM_ENDPOINT_MAX + 2]; /* as given: ENDPOINT[@KEYFILE] */
	char ep[SM_ENDPOINT_MAX + 1];	    /* ENDPOINT alone: how monitor events name it */
	enum ep_state state;
	int64_t up_ns;		       /* when the last handshake succeeded, 0 never */
	int64_t lost_ns;	       /* when the last DISCONNECTED arrived */
	int64_t due_ns;		       /* EP_ABANDONED: when to connect again */
	int64_t backoff_ns;	       /* delay before the next connect of our own */
	bool handshaken;	       /* the connection being lost had finished its handshake */
	uint16_t failure;	       /* HANDSHAKE_FAILED_* event since the last success, 0 none */
	uint32_t failure_value;	       /* that event's value (errno, protocol code, ZAP status) */
	struct sm_complaint complaint; /* this endpoint's losses, rate-limited */
};

/* What a collector's heartbeat last said about its limit. */
struct peer_limit {
	char name[SM_HOST_MAX + 1]; /* the collector's name, "" for a free slot */
	uint64_t max_frame;	    /* the largest body it relays */
};

struct sm_sockwatch {
	void *sock;	      /* the watched socket (borrowed) */
	void *mon;	      /* PAIR connected to the socket's monitor */
	struct endpoint *eps; /* neps endpoints, in connect order */
	size_t neps;
	long long max_msg_size; /* the socket's ZMQ_MAXMSGSIZE, for the log */
	int64_t backoff_min_ns, backoff_max_ns;
	bool stopped; /* MONITOR_STOPPED: the socket is closing */
	struct peer_limit peers[PEERS_MAX]; /* heartbeats' max_frame, by collector */
	size_t next_peer;		    /* slot reused when all are taken */
	uint64_t disconnects, reconnects;
};

struct sm_sockwatch *sm_sockwatch_new(void *zctx, void *sock, const struct sm_sock_opts *opts)
{
	struct sm_sockwatch *w = calloc(1, sizeof(*w));
	char addr[64];
	int linger = 0;

	if (!w) {
		sm_log_err("sockwatch: out of memory");
		return NULL;
	}
	w->sock = sock;
	w->max_msg_size = opts ? opts->max_msg_size : -1;
	w->backoff_min_ns = (int64_t)(opts ? opts->reconnect_ivl_ms : 100) * 1000000;
	w->backoff_max_ns = (int64_t)(opts ? opts->reconnect_ivl_max_ms : 5000) * 1000000;
	if (w->backoff_max_ns < w->backoff_min_ns)
		w->backoff_max_ns = w->backoff_min_ns;
	/* The watch's address makes the name unique within the context. */
	snprintf(addr, sizeof(addr), "inproc://sm-sockwatch-%p", (void *)w);
	if (zmq_socket_monitor(sock, addr, WATCHED_EVENTS) < 0) {
		sm_log_err("zmq_socket_monitor: %s", zmq_strerror(errno));
		goto fail;
	}
	w->mon = zmq_socket(zctx, ZMQ_PAIR);
	if (!w->mon || zmq_setsockopt(w->mon, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
	    zmq_connect(w->mon, addr) < 0) {
		sm_log_err("sockwatch: monitor socket %s: %s", addr, zmq_strerror(errno));
		goto fail;
	}
	return w;
fail:
	sm_sockwatch_destroy(&w);
	return NULL;
}

void sm_sockwatch_destroy(struct sm_sockwatch **wp)
{
	struct sm_sockwatch *w = wp ? *wp : NULL;

	if (!w)
		return;
	if (w->sock && !w->stopped)
		(void)zmq_socket_monitor(w->sock, NULL, 0);
	if (w->mon)
		zmq_close(w->mon);
	free(w->eps);
	free(w);
	*wp = NULL;
}

int sm_sockwatch_connect(struct sm_sockwatch *w, const char *spec)
{
	struct endpoint *grown, *e;
	const char *keyfile;

	if (strlen(spec) >= sizeof(w->eps->spec)) {
		sm_log_err("cannot connect to %s: endpoint too long", spec);
		return -1;
	}
	grown = realloc(w->eps, (w->neps + 1) * sizeof(*grown));
	if (!grown) {
		sm_log_err("sockwatch: out of memory");
		return -1;
	}
	w->eps = grown;
	e = &w->eps[w->neps];
	memset(e, 0, sizeof(*e));
	memcpy(e->spec, spec, strlen(spec) + 1);
	if (sm_endpoint_split(spec, e->ep, sizeof(e->ep), &keyfile) < 0 ||
	    sm_sock_connect(w->sock, spec) < 0) {
		if (!e->ep[0])
			sm_log_err("cannot connect to %s: malformed endpoint", spec);
		return -1;
	}
	e->state = EP_CONNECTING;
	e->backoff_ns = w->backoff_min_ns;
	w->neps++;
	return 0;
}

zmq_pollitem_t sm_sockwatch_pollitem(const struct sm_sockwatch *w)
{
	return (zmq_pollitem_t){.socket = w->mon, .events = ZMQ_POLLIN};
}

/* The next monotonic time at which e needs the watch, or 0. */
static int64_t ep_due(const struct endpoint *e)
{
	if (e->state == EP_LOST)
		return e->lost_ns + GIVE_UP_GRACE_NS;
	if (e->state == EP_ABANDONED)
		return e->due_ns;
	return 0;
}

int sm_sockwatch_timeout_ms(const struct sm_sockwatch *w, int64_t now_ns, int timeout_ms)
{
	for (size_t i = 0; w && i < w->neps; i++) {
		int64_t due = ep_due(&w->eps[i]);
		int64_t ms;

		if (!due)
			continue;
		ms = due <= now_ns ? 0 : (due - now_ns) / 1000000 + 1;
		if (timeout_ms < 0 || ms < timeout_ms)
			timeout_ms = (int)ms;
	}
	return timeout_ms;
}

static struct endpoint *ep_find(struct sm_sockwatch *w, const char *addr, size_t len)
{
	for (size_t i = 0; i < w->neps; i++) {
		if (strlen(w->eps[i].ep) == len && memcmp(w->eps[i].ep, addr, len) == 0)
			return &w->eps[i];
	}
	return NULL;
}

/* Why e's connection ended, as far as the events tell. */
static void loss_reason(const struct sm_sockwatch *w, const struct endpoint *e, bool retried,
			char *buf, size_t len)
{
	switch (e->failure) {
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		snprintf(buf, len, "the server refused this process's key (ZAP status %u)",
			 (unsigned)e->failure_value);
		return;
	case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
		snprintf(buf, len, "handshake protocol error (ZMQ_PROTOCOL_ERROR 0x%x)",
			 (unsigned)e->failure_value);
		return;
	case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
		snprintf(buf, len, "handshake failed: %s", zmq_strerror((int)e->failure_value));
		return;
	default:
		break;
	}
	if (retried)
		snprintf(buf, len, "connection closed (peer stopped or network failed)");
	else if (e->handshaken && w->max_msg_size >= 0)
		snprintf(buf, len,
			 "ZeroMQ dropped the peer, most likely for a message larger than "
			 "max_msg_size = %lld bytes (the publisher's max_frame is larger than "
			 "this side's)",
			 w->max_msg_size);
	else
		snprintf(buf, len, "ZeroMQ dropped the peer for a protocol error");
}

/* DISCONNECTED followed by libzmq's own retry: log once, nothing to do. */
static void ep_retrying(struct sm_sockwatch *w, struct endpoint *e)
{
	char why[256];

	loss_reason(w, e, true, why, sizeof(why));
	sm_complain(&e->complaint, SM_LOG_WARNING, "subscription to %s lost: %s; reconnecting",
		    e->ep, why);
	e->state = EP_RETRYING;
	e->failure = 0;
}

/* DISCONNECTED and no retry: libzmq gave up; connect again after the back-off. */
static void ep_abandoned(struct sm_sockwatch *w, struct endpoint *e, int64_t now_ns)
{
	char why[256];

	if (e->up_ns && e->lost_ns - e->up_ns >= STABLE_NS)
		e->backoff_ns = w->backoff_min_ns;
	loss_reason(w, e, false, why, sizeof(why));
	sm_complain(&e->complaint, SM_LOG_WARNING,
		    "subscription to %s lost: %s; ZeroMQ does not reconnect, connecting again in "
		    "%lld ms",
		    e->ep, why, (long long)(e->backoff_ns / 1000000));
	e->state = EP_ABANDONED;
	e->due_ns = now_ns + e->backoff_ns;
	e->backoff_ns =
	    e->backoff_ns * 2 < w->backoff_max_ns ? e->backoff_ns * 2 : w->backoff_max_ns;
	e->failure = 0;
}

static void ep_reconnect(struct sm_sockwatch *w, struct endpoint *e, int64_t now_ns)
{
	/* The dead endpoint is still registered: a bare connect would not
	 * replace it. The disconnect only fails if libzmq already forgot it. */
	(void)zmq_disconnect(w->sock, e->ep);
	if (sm_sock_connect(w->sock, e->spec) < 0) {
		e->due_ns = now_ns + e->backoff_ns; /* logged; try again later */
		return;
	}
	w->reconnects++;
	e->state = EP_CONNECTING;
	e->handshaken = false;
	sm_log_debug("connecting to %s again", e->ep);
}

static void on_event(struct sm_sockwatch *w, uint16_t event, uint32_t value, struct endpoint *e,
		     int64_t now_ns)
{
	switch (event) {
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		e->state = EP_UP;
		e->up_ns = now_ns;
		e->handshaken = true;
		e->failure = 0;
		sm_complaint_release(&e->complaint, "subscription to %s is working again", e->ep);
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
	case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		e->failure = event;
		e->failure_value = value;
		break;
	case ZMQ_EVENT_DISCONNECTED:
		w->disconnects++;
		e->state = EP_LOST;
		e->lost_ns = now_ns;
		break;
	case ZMQ_EVENT_CONNECT_RETRIED:
	case ZMQ_EVENT_CONNECT_DELAYED:
	case ZMQ_EVENT_CONNECTED:
		if (e->state == EP_LOST)
			ep_retrying(w, e);
		break;
	default:
		break;
	}
}

/* Reads one event; false when none waits. Malformed ones are skipped. */
static bool read_event(struct sm_sockwatch *w, int64_t now_ns)
{
	zmq_msg_t head, addr;
	bool got = false;

	zmq_msg_init(&head);
	zmq_msg_init(&addr);
	if (zmq_msg_recv(&head, w->mon, ZMQ_DONTWAIT) < 0)
		goto out;
	got = true;
	if (!zmq_msg_more(&head) || zmq_msg_recv(&addr, w->mon, 0) < 0)
		goto out;
	if (zmq_msg_size(&head) == 6) {
		const unsigned char *d = zmq_msg_data(&head);
		uint16_t event;
		uint32_t value;
		struct endpoint *e;

		memcpy(&event, d, sizeof(event));
		memcpy(&value, d + 2, sizeof(value));
		if (event == ZMQ_EVENT_MONITOR_STOPPED) {
			w->stopped = true;
			goto out;
		}
		e = ep_find(w, zmq_msg_data(&addr), zmq_msg_size(&addr));
		if (e)
			on_event(w, event, value, e, now_ns);
	}
	/* Drain any further parts so the next read starts on an event. */
	while (zmq_msg_more(&addr) && zmq_msg_recv(&addr, w->mon, 0) >= 0)
		;
out:
	zmq_msg_close(&head);
	zmq_msg_close(&addr);
	return got;
}

void sm_sockwatch_service(struct sm_sockwatch *w, int64_t now_ns)
{
	if (!w)
		return;
	for (int k = 0; k < EVENTS_MAX && !w->stopped && read_event(w, now_ns); k++)
		;
	if (w->stopped)
		return;
	for (size_t i = 0; i < w->neps; i++) {
		struct endpoint *e = &w->eps[i];

		if (e->state == EP_LOST && now_ns - e->lost_ns >= GIVE_UP_GRACE_NS)
			ep_abandoned(w, e, now_ns);
		if (e->state == EP_ABANDONED && now_ns >= e->due_ns)
			ep_reconnect(w, e, now_ns);
	}
}

void sm_sockwatch_note_heartbeat(struct sm_sockwatch *w, const struct sm_message *m,
				 size_t own_max_frame)
{
	struct peer_limit *p = NULL;
	uint64_t said;

	if (!w || m->hdr.kind != SM_KIND_HEARTBEAT || m->u.hb.max_frame == 0)
		return;
	said = m->u.hb.max_frame;
	for (size_t i = 0; i < PEERS_MAX && !p; i++) {
		if (strcmp(w->peers[i].name, m->hdr.host) == 0)
			p = &w->peers[i];
	}
	if (p && p->max_frame == said)
		return;
	if (!p) {
		for (size_t i = 0; i < PEERS_MAX && !p; i++) {
			if (!w->peers[i].name[0])
				p = &w->peers[i];
		}
		if (!p) /* all taken: forget one; at worst it warns again */
			p = &w->peers[w->next_peer++ % PEERS_MAX];
		snprintf(p->name, sizeof(p->name), "%s", m->hdr.host);
	} else if (said <= own_max_frame && p->max_frame > own_max_frame) {
		sm_log_notice("collector %s now relays bodies up to max_frame = %llu bytes, which "
			      "fits this side's max_frame = %zu",
			      p->name, (unsigned long long)said, own_max_frame);
	}
	p->max_frame = said;
	if (said <= own_max_frame)
		return;
	sm_log_warnx("collector %s relays bodies up to max_frame = %llu bytes, more than this "
		     "side's max_frame = %zu: its larger frames will be lost here%s (give every "
		     "daemon along one path the same max_frame)",
		     p->name, (unsigned long long)said, own_max_frame,
		     w->max_msg_size >= 0 &&
			     (said > (uint64_t)w->max_msg_size ||
			      (uint64_t)w->max_msg_size - said < SM_SOCK_FRAME_OVERHEAD)
			 ? ", and one over max_msg_size costs the subscription for a moment"
			 : "");
}

uint64_t sm_sockwatch_disconnects(const struct sm_sockwatch *w)
{
	return w ? w->disconnects : 0;
}

uint64_t sm_sockwatch_reconnects(const struct sm_sockwatch *w)
{
	return w ? w->reconnects : 0;
}

struct sm_sockwatch *sm_sockwatch_subscribe(void *zctx, const struct sm_config *cfg,
					    const struct sm_sock_opts *opts,
					    const char *const *kinds, size_t nkinds, void **sub)
{
	struct sm_sockwatch *w = NULL;

	*sub = sm_sock_new(zctx, ZMQ_SUB, opts);
	if (!*sub || sm_sock_subscribe_hosts(*sub, cfg, kinds, nkinds) < 0 ||
	    sm_sock_subscribe(*sub, "hb/") < 0)
		goto fail;
	/* Connects through the watch: a subscription ZeroMQ drops is made again. */
	w = sm_sockwatch_new(zctx, *sub, opts);
	if (!w)
		goto fail;
	for (size_t i = 0; i < sm_config_list_count(cfg, "subscribe"); i++)
		if (sm_sockwatch_connect(w, sm_config_list_item(cfg, "subscribe", i)) < 0)
			goto fail;
	return w;
fail:
	sm_sockwatch_destroy(&w);
	sm_sock_close(sub);
	return NULL;
}
