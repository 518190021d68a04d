/*
 * test_relay.c — the collector's data path with real ZeroMQ sockets
 * (inproc://): a publisher, a consumer on the fan-out and a fake upstream
 * collector (SUB on its fan-in, PUB sending heartbeats on its fan-out).
 * Checks that valid frames come out byte for byte on both sides, that bad
 * ones are dropped and counted while valid ones flow, and where the
 * collector's own heartbeats and counters go. A second rig runs the relay
 * with CurveZMQ over ipc:// (real handshakes, a real allow list) for the
 * identity checks: delegation, origin frames and who may send them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <zmq.h>

#include "relay.h"
#include "selfmon.h"
#include "sm_clock.h"
#include "sm_config.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_wire.h"
#include "sm_zap.h"

#define MAX_FRAME   4096
#define DEADLINE_NS (20 * SM_NS_PER_SEC)

struct rig {
	void *zctx;
	struct relay *relay;
	void *pub;	/* a monitor, connected to the fan-in */
	void *consumer; /* SUB on the fan-out */
	void *up_in;	/* fake upstream collector's fan-in (bound SUB) */
	void *up_out;	/* fake upstream collector's fan-out (bound PUB, heartbeats) */
	uint64_t seq;
};

static void *sock(struct rig *g, int type)
{
	void *s = zmq_socket(g->zctx, type);
	int zero = 0;

	assert_non_null(s);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	if (type == ZMQ_SUB)
		zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
	return s;
}

static int rig_setup(void **state)
{
	struct rig *g = calloc(1, sizeof(*g));
	const char *in[] = {"inproc://fanin"}, *out[] = {"inproc://fanout"};
	const char *up[] = {"inproc://up-in=inproc://up-out"};
	struct sm_sock_opts opts;
	struct relay_config rc = {.fan_in = in,
				  .nfan_in = 1,
				  .fan_out = out,
				  .nfan_out = 1,
				  .upstream = up,
				  .nupstream = 1,
				  .failover_s = 600,
				  .max_frame = MAX_FRAME,
				  .max_senders = 100,
				  .sender_expiry_s = 600,
				  .opts = &opts};

	assert_non_null(g);
	sm_log_set_level(SM_LOG_ERR);
	sm_sock_opts_default(&opts);
	opts.linger_ms = 0;
	g->zctx = zmq_ctx_new();
	g->up_in = sock(g, ZMQ_SUB);
	g->up_out = sock(g, ZMQ_PUB);
	assert_int_equal(zmq_bind(g->up_in, "inproc://up-in"), 0);
	assert_int_equal(zmq_bind(g->up_out, "inproc://up-out"), 0);
	g->relay = relay_new(g->zctx, &rc);
	assert_non_null(g->relay);
	g->pub = sock(g, ZMQ_PUB);
	g->consumer = sock(g, ZMQ_SUB);
	assert_int_equal(zmq_connect(g->pub, "inproc://fanin"), 0);
	assert_int_equal(zmq_connect(g->consumer, "inproc://fanout"), 0);
	*state = g;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *g = *state;

	relay_destroy(&g->relay);
	zmq_close(g->pub);
	zmq_close(g->consumer);
	zmq_close(g->up_in);
	zmq_close(g->up_out);
	zmq_ctx_term(g->zctx);
	free(g);
	return 0;
}

static void encode_event(struct rig *g, const char *host, msgpack_sbuffer *sb, char *topic,
			 size_t *tlen)
{
	struct sm_message m;

	memset(&m, 0, sizeof(m));
	m.hdr.version = SM_WIRE_VERSION;
	m.hdr.kind = SM_KIND_EVENT;
	snprintf(m.hdr.host, sizeof(m.hdr.host), "%s", host);
	m.hdr.time = sm_clock_wall();
	m.hdr.seq = ++g->seq;
	m.hdr.epoch = 5;
	m.u.event.type = SM_EVENT_STARTED;
	snprintf(m.u.event.name, sizeof(m.u.event.name), "instance-%llu",
		 (unsigned long long)g->seq);
	msgpack_sbuffer_init(sb);
	assert_int_equal(sm_wire_encode(&m, sb), 0);
	*tlen = sm_wire_topic(SM_KIND_EVENT, host, topic, SM_TOPIC_MAX + 1);
}

/* One received message, whole. */
struct got {
	int parts;
	char topic[SM_TOPIC_MAX + 1];
	size_t topic_len;
	char body[MAX_FRAME * 2];
	size_t body_len;
};

static bool try_recv(void *s, struct got *m)
{
	struct sm_frames f;

	if (sm_sock_recv2(s, &f, ZMQ_DONTWAIT) < 0)
		return false;
	m->parts = f.parts;
	m->topic_len = zmq_msg_size(&f.topic);
	m->body_len = zmq_msg_size(&f.body);
	assert_true(m->topic_len < sizeof(m->topic) && m->body_len <= sizeof(m->body));
	memcpy(m->topic, zmq_msg_data(&f.topic), m->topic_len);
	m->topic[m->topic_len] = '\0';
	memcpy(m->body, zmq_msg_data(&f.body), m->body_len);
	sm_frames_close(&f);
	return true;
}

/* Turns the relay's crank until `s` yields a message; false at the deadline. */
static bool wait_recv(struct rig *g, void *s, struct got *m)
{
	int64_t end = sm_clock_mono_ns() + DEADLINE_NS;

	while (sm_clock_mono_ns() < end) {
		zmq_pollitem_t items[4];
		size_t n = relay_pollitems(g->relay, items, 4);

		zmq_poll(items, (int)n, 5);
		relay_pump(g->relay, 100, sm_clock_mono_ns());
		relay_service(g->relay, sm_clock_mono_ns());
		if (try_recv(s, m))
			return true;
	}
	return false;
}

/* Sends valid events until one arrives at the consumer and one upstream:
 * PUB/SUB drops what is sent before the subscription has travelled, so this
 * is the handshake. (The relay's upstream holds what it is given before its
 * collector subscribed, so the upstream side loses none of them.) */
static void warm_up(struct rig *g)
{
	bool at_consumer = false, at_upstream = false;
	struct got m;

	for (int i = 0; i < 2000 && !(at_consumer && at_upstream); i++) {
		msgpack_sbuffer sb;
		char topic[SM_TOPIC_MAX + 1];
		size_t tlen;

		encode_event(g, "warm", &sb, topic, &tlen);
		sm_sock_send2(g->pub, topic, tlen, sb.data, sb.size, 0);
		msgpack_sbuffer_destroy(&sb);
		relay_pump(g->relay, 100, sm_clock_mono_ns());
		relay_service(g->relay, sm_clock_mono_ns());
		at_consumer = at_consumer || try_recv(g->consumer, &m);
		at_upstream = at_upstream || try_recv(g->up_in, &m);
		zmq_poll(NULL, 0, 5);
	}
	assert_true(at_consumer && at_upstream);
	/* Drain what is in flight on both sides. */
	for (int i = 0; i < 20; i++) {
		zmq_poll(NULL, 0, 5);
		relay_pump(g->relay, 1000, sm_clock_mono_ns());
		relay_service(g->relay, sm_clock_mono_ns());
		while (try_recv(g->consumer, &m) || try_recv(g->up_in, &m))
			;
	}
}

static void relay_republishes_valid_frames_byte_for_byte_on_both_sides(void **state)
{
	struct rig *g = *state;
	struct sm_collector_stats st = {0};
	msgpack_sbuffer sb;
	char topic[SM_TOPIC_MAX + 1];
	size_t tlen;
	struct got m;

	warm_up(g);
	relay_stats(g->relay, &st, sm_clock_mono_ns());
	uint64_t in0 = st.frames_in, up0 = st.frames_up;

	encode_event(g, "cn-01", &sb, topic, &tlen);
	assert_int_equal(sm_sock_send2(g->pub, topic, tlen, sb.data, sb.size, 0), 0);
	assert_true(wait_recv(g, g->consumer, &m));
	assert_int_equal(m.parts, 2);
	assert_memory_equal(m.topic, topic, tlen);
	assert_int_equal(m.body_len, sb.size);
	assert_memory_equal(m.body, sb.data, sb.size);
	assert_true(wait_recv(g, g->up_in, &m));
	assert_memory_equal(m.topic, topic, tlen);
	assert_int_equal(m.body_len, sb.size);
	assert_memory_equal(m.body, sb.data, sb.size);

	relay_stats(g->relay, &st, sm_clock_mono_ns());
	assert_int_equal(st.frames_in, in0 + 1);
	assert_int_equal(st.frames_up, up0 + 1);
	assert_string_equal(st.upstream, "inproc://up-in");
	msgpack_sbuffer_destroy(&sb);
}

/* What arrived on the fan-in but was not relayed yet when the collector is
 * told to stop is relayed by the drain, not discarded with the sockets. */
static void relay_drain_relays_what_waits_on_the_fan_in(void **state)
{
	struct rig *g = *state;
	struct got m;
	int got = 0;

	warm_up(g);
	for (int i = 0; i < 20; i++) {
		msgpack_sbuffer sb;
		char topic[SM_TOPIC_MAX + 1];
		size_t tlen;

		encode_event(g, "cn-stop", &sb, topic, &tlen);
		assert_int_equal(sm_sock_send2(g->pub, topic, tlen, sb.data, sb.size, 0), 0);
		msgpack_sbuffer_destroy(&sb);
	}
	/* Nothing pumped them: the drain alone must bring all 20 out. */
	assert_int_equal(relay_drain(g->relay, 2000), 20);
	while (try_recv(g->consumer, &m))
		got += strncmp(m.topic, "event/cn-stop/", 14) == 0;
	assert_int_equal(got, 20);
	/* Nothing left: a second drain reads nothing and returns quickly. */
	assert_int_equal(relay_drain(g->relay, 2000), 0);
}

static void relay_drops_and_counts_bad_frames_while_valid_ones_flow(void **state)
{
	struct rig *g = *state;
	struct sm_collector_stats st = {0};
	msgpack_sbuffer sb;
	char topic[SM_TOPIC_MAX + 1], big[MAX_FRAME + 100];
	size_t tlen;
	struct got m;
	int valid = 0;

	warm_up(g);
	memset(big, 0x90, sizeof(big));
	/* One frame, three frames, garbage, oversized, topic mismatch. */
	zmq_send(g->pub, "event/cn-01/", 12, 0);
	zmq_send(g->pub, "event/cn-01/", 12, ZMQ_SNDMORE);
	zmq_send(g->pub, "x", 1, ZMQ_SNDMORE);
	zmq_send(g->pub, "y", 1, 0);
	sm_sock_send2(g->pub, "event/cn-01/", 12, "\xc1\xc1", 2, 0);
	sm_sock_send2(g->pub, "event/cn-01/", 12, big, sizeof(big), 0);
	encode_event(g, "cn-01", &sb, topic, &tlen);
	sm_sock_send2(g->pub, "event/cn-99/", 12, sb.data, sb.size, 0);
	/* And the valid one, after all of them. */
	sm_sock_send2(g->pub, topic, tlen, sb.data, sb.size, 0);

	while (wait_recv(g, g->consumer, &m)) {
		assert_memory_equal(m.topic, topic, tlen);
		assert_memory_equal(m.body, sb.data, sb.size);
		if (++valid == 1)
			break;
	}
	assert_int_equal(valid, 1);
	relay_stats(g->relay, &st, sm_clock_mono_ns());
	assert_int_equal(st.dropped[SM_DROP_MALFORMED], 4);
	assert_int_equal(st.dropped[SM_DROP_TOO_BIG], 1);
	assert_int_equal(st.dropped[SM_DROP_VERSION], 0);
	/* Nothing else reached the consumer or the upstream. */
	assert_true(wait_recv(g, g->up_in, &m));
	assert_memory_equal(m.body, sb.data, sb.size);
	for (int i = 0; i < 10; i++) {
		relay_pump(g->relay, 100, sm_clock_mono_ns());
		zmq_poll(NULL, 0, 10);
		assert_false(try_recv(g->consumer, &m));
		assert_false(try_recv(g->up_in, &m));
	}
	relay_complaints_tick(g->relay);
	msgpack_sbuffer_destroy(&sb);
}

/* Without CurveZMQ there are no identities: a valid message with an origin
 * frame is malformed, exactly as any three-frame message was before, and
 * what goes upstream stays two frames. */
static void relay_plain_refuses_origin_frames_and_sends_two_upstream(void **state)
{
	struct rig *g = *state;
	struct sm_collector_stats st = {0};
	msgpack_sbuffer sb;
	char topic[SM_TOPIC_MAX + 1];
	size_t tlen;
	struct got m;

	warm_up(g);
	relay_stats(g->relay, &st, sm_clock_mono_ns());
	uint64_t malformed0 = st.dropped[SM_DROP_MALFORMED];

	encode_event(g, "cn-01", &sb, topic, &tlen);
	zmq_send(g->pub, topic, tlen, ZMQ_SNDMORE);
	zmq_send(g->pub, sb.data, sb.size, ZMQ_SNDMORE);
	zmq_send(g->pub, "m1", 2, 0);
	sm_sock_send2(g->pub, topic, tlen, sb.data, sb.size, 0);
	assert_true(wait_recv(g, g->up_in, &m));
	assert_int_equal(m.parts, 2);
	assert_memory_equal(m.body, sb.data, sb.size);
	assert_true(wait_recv(g, g->consumer, &m));
	assert_int_equal(m.parts, 2);
	relay_stats(g->relay, &st, sm_clock_mono_ns());
	assert_int_equal(st.dropped[SM_DROP_MALFORMED], malformed0 + 1);
	assert_int_equal(st.dropped[SM_DROP_ORIGIN_MISMATCH], 0);
	assert_int_equal(st.origin_unknown, 0);
	for (int i = 0; i < 10; i++) {
		relay_pump(g->relay, 100, sm_clock_mono_ns());
		zmq_poll(NULL, 0, 10);
		assert_false(try_recv(g->consumer, &m));
		assert_false(try_recv(g->up_in, &m));
	}
	msgpack_sbuffer_destroy(&sb);
}

static void relay_keeps_heartbeats_local_and_sends_own_counters_upstream(void **state)
{
	struct rig *g = *state;
	struct selfmon *self = selfmon_new("rack-7", 1.0, 10.0);
	struct sm_message msg;
	struct sm_wire_error err;
	struct got m;

	assert_non_null(self);
	assert_null(selfmon_new("bad name", 1, 1));
	warm_up(g);
	assert_int_equal(selfmon_heartbeat(self, g->relay), 0);
	assert_int_equal(selfmon_stats(self, g->relay, sm_clock_mono_ns()), 0);

	/* The consumer sees both, in order, decodable. */
	assert_true(wait_recv(g, g->consumer, &m));
	assert_string_equal(m.topic, "hb/rack-7/");
	assert_true(wait_recv(g, g->consumer, &m));
	assert_string_equal(m.topic, "collector/rack-7/");
	assert_int_equal(
	    sm_wire_decode_frames(m.topic, m.topic_len, m.body, m.body_len, 0, &msg, &err), 0);
	assert_true(msg.u.collector.frames_in >= 1); /* the warm-up frames */
	assert_string_equal(msg.u.collector.upstream, "inproc://up-in");
	assert_true(msg.u.collector.nloss >= 1);
	assert_string_equal(msg.u.collector.loss[0].host, "warm");
	sm_message_clear(&msg);

	/* Upstream gets the counters only: the heartbeat, sent first on the
	 * same ordered pipe, would have arrived before them. */
	assert_true(wait_recv(g, g->up_in, &m));
	assert_string_equal(m.topic, "collector/rack-7/");
	assert_int_equal(selfmon_heartbeats(self), 1);
	assert_int_equal(selfmon_reports(self), 1);
	selfmon_destroy(&self);
	assert_null(self);
}

/* ---- CurveZMQ: identities and origin frames ------------------------------- */

struct crig {
	char dir[64];		/* tmp: keys/, allow/, ipc endpoints */
	void *zctx;
	struct sm_zap *zap;
	struct relay *relay;	/* curve, own key "upper-facing" with role = relay */
	void *up_in;		/* the upstream's fan-in: CURVE server SUB */
	void *rack;		/* client with key "rack": role = relay, hosts cn* */
	void *mon;		/* client with key "mon": hosts cn1, no relay right */
	struct sm_cert server;	/* the relay's (and the fake upstream's) pair */
	uint64_t seq;
};

static void cpath(struct crig *c, char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", c->dir, name);
}

/* Makes keys/NAME.key(_secret) and copies the public file into allow/. */
static void ckey(struct crig *c, const char *name, const char *hosts, bool relay,
		 struct sm_cert *out)
{
	char keys[128], err[4400], cmd[512];
	char list[64], *save = NULL;

	memset(out, 0, sizeof(*out));
	assert_int_equal(sm_cert_generate(out), 0);
	snprintf(list, sizeof(list), "%s", hosts);
	for (char *h = strtok_r(list, ",", &save); h; h = strtok_r(NULL, ",", &save))
		assert_int_equal(sm_cert_add_host(out, h), 0);
	out->relay = relay;
	cpath(c, keys, sizeof(keys), "keys");
	assert_int_equal(sm_cert_save(out, keys, name, false, err, sizeof(err)), 0);
	snprintf(cmd, sizeof(cmd), "cp '%s/%s.key' '%s/allow/'", keys, name, c->dir);
	assert_int_equal(system(cmd), 0);
}

static void *cclient(struct crig *c, const struct sm_cert *own)
{
	struct sm_sock_opts o;
	char ep[128], in[96];
	void *s;

	sm_sock_opts_default(&o);
	o.linger_ms = 0;
	o.curve = true;
	memcpy(o.curve_public, own->public_key, sizeof(o.curve_public));
	memcpy(o.curve_secret, own->secret_key, sizeof(o.curve_secret));
	memcpy(o.curve_server, c->server.public_key, sizeof(o.curve_server));
	s = sm_sock_new(c->zctx, ZMQ_PUB, &o);
	assert_non_null(s);
	cpath(c, in, sizeof(in), "in");
	snprintf(ep, sizeof(ep), "ipc://%s", in);
	assert_int_equal(sm_sock_connect(s, ep), 0);
	return s;
}

static int crig_setup_with(void **state, bool strict)
{
	struct crig *c = calloc(1, sizeof(*c));
	struct sm_cert rack, mon, m1;
	struct sm_sock_opts o;
	char sub[96], in[128], out[128], up[128], upspec[256], allow[96];
	const char *ins[1], *outs[1], *ups[1];
	struct relay_config rc = {.nfan_in = 1, .nfan_out = 1, .nupstream = 1, .failover_s = 600,
				  .max_frame = MAX_FRAME, .max_senders = 100,
				  .sender_expiry_s = 600, .opts = &o,
				  .require_known_origin = strict};

	assert_non_null(c);
	sm_log_set_level(SM_LOG_ERR);
	snprintf(c->dir, sizeof(c->dir), "/tmp/sm-test-relay-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	cpath(c, sub, sizeof(sub), "keys");
	assert_int_equal(mkdir(sub, 0700), 0);
	cpath(c, allow, sizeof(allow), "allow");
	assert_int_equal(mkdir(allow, 0755), 0);
	/* The relay's own key may relay, and is admitted by the fake upstream
	 * (same context, same ZAP handler). */
	ckey(c, "collector", "rack*", true, &c->server);
	ckey(c, "rack", "cn*", true, &rack);
	ckey(c, "mon", "cn1", false, &mon);
	ckey(c, "m1", "cn9", false, &m1); /* known here for cn9 only */
	c->zctx = zmq_ctx_new();
	c->zap = sm_zap_new(c->zctx, allow);
	assert_non_null(c->zap);

	sm_sock_opts_default(&o);
	o.linger_ms = 0;
	o.curve = true;
	memcpy(o.curve_public, c->server.public_key, sizeof(o.curve_public));
	memcpy(o.curve_secret, c->server.secret_key, sizeof(o.curve_secret));
	o.curve_relay = true;
	c->up_in = sm_sock_new(c->zctx, ZMQ_SUB, &o);
	assert_non_null(c->up_in);
	assert_int_equal(sm_sock_subscribe(c->up_in, ""), 0);
	cpath(c, sub, sizeof(sub), "up-in");
	snprintf(up, sizeof(up), "ipc://%s", sub);
	assert_int_equal(sm_sock_bind(c->up_in, up), 0);
	cpath(c, sub, sizeof(sub), "in");
	snprintf(in, sizeof(in), "ipc://%s", sub);
	cpath(c, sub, sizeof(sub), "out");
	snprintf(out, sizeof(out), "ipc://%s", sub);
	snprintf(upspec, sizeof(upspec), "%s@%s/keys/collector.key", up, c->dir);
	ins[0] = in;
	outs[0] = out;
	ups[0] = upspec;
	rc.fan_in = ins;
	rc.fan_out = outs;
	rc.upstream = ups;
	rc.zap = c->zap;
	c->relay = relay_new(c->zctx, &rc);
	assert_non_null(c->relay);
	c->rack = cclient(c, &rack);
	c->mon = cclient(c, &mon);
	sm_cert_clear(&rack);
	sm_cert_clear(&mon);
	sm_cert_clear(&m1);
	*state = c;
	return 0;
}

static int crig_setup(void **state)
{
	return crig_setup_with(state, false);
}

static int crig_setup_strict(void **state)
{
	return crig_setup_with(state, true);
}

static int crig_teardown(void **state)
{
	struct crig *c = *state;
	char cmd[128];

	relay_destroy(&c->relay);
	zmq_close(c->rack);
	zmq_close(c->mon);
	zmq_close(c->up_in);
	sm_zap_destroy(&c->zap);
	zmq_ctx_term(c->zctx);
	sm_cert_clear(&c->server);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
	assert_int_equal(system(cmd), 0);
	free(c);
	return 0;
}

/* One turn of a collector's loop: ZAP, fan-in, upstream. */
static void cturn(struct crig *c)
{
	zmq_pollitem_t items[4] = {{sm_zap_socket(c->zap), 0, ZMQ_POLLIN, 0}};
	size_t n = 1 + relay_pollitems(c->relay, items + 1, 3);

	zmq_poll(items, (int)n, 5);
	sm_zap_serve(c->zap, 16);
	relay_pump(c->relay, 100, sm_clock_mono_ns());
	relay_service(c->relay, sm_clock_mono_ns());
}

/* Sends an event for `host` from client s, with `origin` as a third frame
 * unless NULL, and a fourth when `extra`. */
static void csend(struct crig *c, void *s, const char *host, const char *origin, bool extra)
{
	msgpack_sbuffer sb;
	struct rig g = {.seq = c->seq};
	char topic[SM_TOPIC_MAX + 1];
	size_t tlen;

	encode_event(&g, host, &sb, topic, &tlen);
	c->seq = g.seq;
	zmq_send(s, topic, tlen, ZMQ_SNDMORE);
	zmq_send(s, sb.data, sb.size, origin ? ZMQ_SNDMORE : 0);
	if (origin)
		zmq_send(s, origin, strlen(origin), extra ? ZMQ_SNDMORE : 0);
	if (extra)
		zmq_send(s, "more", 4, 0);
	msgpack_sbuffer_destroy(&sb);
}

/* What reached the upstream: topic and the origin frame ("" if none). */
struct upmsg {
	char topic[SM_TOPIC_MAX + 1];
	char origin[SM_HOST_MAX + 1];
	int parts;
};

static bool up_recv(struct crig *c, struct upmsg *m)
{
	struct sm_frames f;
	size_t tl, ol;

	if (sm_sock_recv2(c->up_in, &f, ZMQ_DONTWAIT) < 0)
		return false;
	tl = zmq_msg_size(&f.topic) < SM_TOPIC_MAX ? zmq_msg_size(&f.topic) : SM_TOPIC_MAX;
	ol = zmq_msg_size(&f.origin) < SM_HOST_MAX ? zmq_msg_size(&f.origin) : SM_HOST_MAX;
	memcpy(m->topic, zmq_msg_data(&f.topic), tl);
	m->topic[tl] = '\0';
	memcpy(m->origin, zmq_msg_data(&f.origin), ol);
	m->origin[ol] = '\0';
	m->parts = f.parts;
	sm_frames_close(&f);
	return true;
}

/* Sends from s until a message for `host` arrives upstream (handshakes and
 * subscriptions take a while); returns it in *m. */
static void c_until_up(struct crig *c, void *s, const char *host, const char *origin,
		       struct upmsg *m)
{
	int64_t end = sm_clock_mono_ns() + DEADLINE_NS;
	char want[SM_TOPIC_MAX + 1];

	snprintf(want, sizeof(want), "event/%s/", host);
	while (sm_clock_mono_ns() < end) {
		csend(c, s, host, origin, false);
		for (int i = 0; i < 10; i++) {
			cturn(c);
			while (up_recv(c, m))
				if (strcmp(m->topic, want) == 0)
					return;
		}
	}
	fail_msg("no %s upstream within the deadline", want);
}

/* Turns the loop for a while, draining the upstream into *last (if any). */
static void c_settle(struct crig *c, struct upmsg *last, int *n)
{
	for (int i = 0; i < 100; i++) {
		cturn(c);
		while (up_recv(c, last))
			(*n)++;
	}
}

static void relay_curve_checks_origin_frames_and_names_the_first_hop(void **state)
{
	struct crig *c = *state;
	struct sm_collector_stats st = {0};
	struct upmsg m;
	int n = 0;

	/* A monitor's two frames go up with its own identity as origin. */
	c_until_up(c, c->mon, "cn1", NULL, &m);
	assert_int_equal(m.parts, 3);
	assert_string_equal(m.origin, "mon");
	/* A relay's origin for a host its key covers, unknown here: passes,
	 * counted, and the first hop's name is kept, not replaced by "rack". */
	c_until_up(c, c->rack, "cn2", "m7", &m);
	assert_int_equal(m.parts, 3);
	assert_string_equal(m.origin, "m7");
	c_settle(c, &m, &n);
	relay_stats(c->relay, &st, sm_clock_mono_ns());
	assert_true(st.origin_unknown >= 1);
	assert_int_equal(st.dropped[SM_DROP_MALFORMED], 0);
	assert_int_equal(st.dropped[SM_DROP_ORIGIN_MISMATCH], 0);

	/* Bad input, one of each, then nothing of it may come out. */
	n = 0;
	csend(c, c->rack, "cn1", "m1", false);	   /* m1 is known here for cn9 only */
	csend(c, c->rack, "cn1", "m 1", false);	   /* not an identity */
	csend(c, c->rack, "cn1", "", false);	   /* empty identity */
	csend(c, c->rack, "cn1", "m7", true);	   /* four frames */
	csend(c, c->mon, "cn1", "mon", false);	   /* no relay right, even naming itself */
	csend(c, c->rack, "rack9x", "m7", false);  /* outside rack's delegation */
	csend(c, c->rack, "cn9", "m1", false);	   /* known, matching: passes */
	c_settle(c, &m, &n);
	assert_int_equal(n, 1);
	assert_string_equal(m.topic, "event/cn9/");
	assert_string_equal(m.origin, "m1");
	relay_stats(c->relay, &st, sm_clock_mono_ns());
	assert_int_equal(st.dropped[SM_DROP_ORIGIN_MISMATCH], 1);
	assert_int_equal(st.dropped[SM_DROP_MALFORMED], 4);
	assert_int_equal(st.dropped[SM_DROP_HOST_MISMATCH], 1);
	relay_complaints_tick(c->relay);
	relay_complaints_tick(c->relay);
}

/* require_known_origin = yes: an origin the allow list does not hold is
 * dropped like a mismatch; a known, matching one still passes, and frames
 * without an origin frame are judged by delegation as before. */
static void relay_curve_strict_drops_unknown_origins(void **state)
{
	struct crig *c = *state;
	struct sm_collector_stats st = {0};
	struct upmsg m;
	int n = 0;

	c_until_up(c, c->mon, "cn1", NULL, &m);
	c_until_up(c, c->rack, "cn9", "m1", &m);
	assert_string_equal(m.origin, "m1");
	c_settle(c, &m, &n);
	relay_stats(c->relay, &st, sm_clock_mono_ns());
	assert_int_equal(st.dropped[SM_DROP_ORIGIN_MISMATCH], 0);

	n = 0;
	csend(c, c->rack, "cn2", "m7", false); /* unknown here: dropped */
	csend(c, c->rack, "cn1", "m1", false); /* known for cn9 only: dropped */
	csend(c, c->rack, "cn3", NULL, false); /* no origin frame: delegation only */
	c_settle(c, &m, &n);
	assert_int_equal(n, 1);
	assert_string_equal(m.topic, "event/cn3/");
	assert_string_equal(m.origin, "rack"); /* named as its first hop here */
	relay_stats(c->relay, &st, sm_clock_mono_ns());
	assert_int_equal(st.dropped[SM_DROP_ORIGIN_MISMATCH], 2);
	assert_int_equal(st.origin_unknown, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		relay_republishes_valid_frames_byte_for_byte_on_both_sides, rig_setup,
		rig_teardown),
	    cmocka_unit_test_setup_teardown(relay_plain_refuses_origin_frames_and_sends_two_upstream,
					    rig_setup, rig_teardown),
	    cmocka_unit_test_setup_teardown(relay_drain_relays_what_waits_on_the_fan_in, rig_setup,
					    rig_teardown),
	    cmocka_unit_test_setup_teardown(relay_drops_and_counts_bad_frames_while_valid_ones_flow,
					    rig_setup, rig_teardown),
	    cmocka_unit_test_setup_teardown(
		relay_keeps_heartbeats_local_and_sends_own_counters_upstream, rig_setup,
		rig_teardown),
	    cmocka_unit_test_setup_teardown(relay_curve_checks_origin_frames_and_names_the_first_hop,
					    crig_setup, crig_teardown),
	    cmocka_unit_test_setup_teardown(relay_curve_strict_drops_unknown_origins,
					    crig_setup_strict, crig_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
