/*
 * fuzz_collector_relay.c — libFuzzer target for the collector's receive
 * path as the daemon runs it: a real relay (relay.h) with its SUB bound on
 * a fan-in and its PUB on a fan-out, fed by a real ZeroMQ publisher, so the
 * input crosses sm_sock_recv2, the envelope check, the loss table and the
 * re-publish, not only the decoder. ZeroMQ's inproc transport keeps a run
 * in one process and deterministic.
 *
 * Input layout (shared with fuzz_wire_decode, so one corpus seeds both):
 * byte 0, low 7 bits: where the rest splits into topic and body; bit 7: send
 * the body as two frames (a three-part message, which must be refused).
 * Checked beyond "no crash, no leak": the relay reads exactly the one
 * message sent; it re-publishes exactly what envelope_check accepts; and
 * what comes out of the fan-out is byte for byte what went in.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "envelope.h"
#include "relay.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FAN_IN "inproc://fuzz-collector-in"
#define FUZZ_FAN_OUT "inproc://fuzz-collector-out"
#define FUZZ_MAX_FRAME 65536

struct harness {
	void *zctx;
	struct relay *relay;
	void *feed; /* XPUB connected to the fan-in: sees the relay's subscription */
	void *tap;  /* SUB connected to the fan-out */
	int64_t now_ns;
};

static void die(const char *what)
{
	fprintf(stderr, "fuzz_collector_relay: %s: %s\n", what, zmq_strerror(zmq_errno()));
	abort();
}

static struct harness *harness_get(void)
{
	static struct harness h;
	static struct sm_sock_opts opts;
	static const char *const in[] = {FUZZ_FAN_IN};
	static const char *const out[] = {FUZZ_FAN_OUT};
	struct relay_config cfg = {
		.fan_in = in,
		.nfan_in = 1,
		.fan_out = out,
		.nfan_out = 1,
		.max_frame = FUZZ_MAX_FRAME,
		.max_senders = 64, /* small, so eviction runs too */
		.sender_expiry_s = 1,
		.opts = &opts,
	};
	zmq_msg_t sub;
	int zero = 0;

	if (h.relay)
		return &h;
	sm_log_open("fuzz_collector_relay", SM_LOG_ERR, false); /* refusals are expected */
	sm_sock_opts_default(&opts);
	h.zctx = zmq_ctx_new();
	if (!h.zctx)
		die("zmq_ctx_new");
	h.relay = relay_new(h.zctx, &cfg);
	if (!h.relay)
		abort();
	h.feed = zmq_socket(h.zctx, ZMQ_XPUB);
	h.tap = zmq_socket(h.zctx, ZMQ_SUB);
	if (!h.feed || !h.tap)
		die("zmq_socket");
	zmq_setsockopt(h.feed, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(h.tap, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(h.feed, FUZZ_FAN_IN) < 0 || zmq_setsockopt(h.tap, ZMQ_SUBSCRIBE, "", 0) < 0 ||
	    zmq_connect(h.tap, FUZZ_FAN_OUT) < 0)
		die("connect");
	/* Until the relay's subscription has reached the feed, a PUB would
	 * drop what is sent: wait for it (XPUB hands it over as a message).
	 * The relay's SUB attaches the inproc pipe, and so sends its
	 * subscription, only when it next processes commands: let it pump. */
	for (;;) {
		relay_pump(h.relay, 1, 0);
		zmq_msg_init(&sub);
		if (zmq_msg_recv(&sub, h.feed, ZMQ_DONTWAIT) >= 0)
			break;
		zmq_msg_close(&sub);
	}
	zmq_msg_close(&sub);
	/* The tap's subscription must reach the relay's PUB the same way;
	 * inproc delivers it when the XPUB next processes commands, and the
	 * relay reads it in relay_service (it sends nothing nobody subscribed
	 * to). Publish a marker until the tap sees one. */
	for (;;) {
		zmq_msg_t m;
		static const char marker[] = "fuzz/ready";

		relay_service(h.relay, 0); /* reads the tap's subscription */
		relay_publish_own(h.relay, marker, sizeof(marker) - 1, "", 0, false);
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, h.tap, ZMQ_DONTWAIT) >= 0) {
			int more = zmq_msg_more(&m);

			zmq_msg_close(&m);
			while (more) { /* the empty body */
				zmq_msg_init(&m);
				if (zmq_msg_recv(&m, h.tap, 0) < 0)
					die("tap");
				more = zmq_msg_more(&m);
				zmq_msg_close(&m);
			}
			break;
		}
		zmq_msg_close(&m);
	}
	h.now_ns = 1000000000LL;
	return &h;
}

static void send_part(void *sock, const uint8_t *p, size_t n, bool more)
{
	if (zmq_send(sock, p, n, more ? ZMQ_SNDMORE : 0) < 0)
		die("send");
}

/* Receives the next message from the tap, if any; true when one came and
 * it is exactly topic + body. */
static int tap_matches(void *tap, const uint8_t *topic, size_t tlen, const uint8_t *body,
		       size_t blen)
{
	struct sm_frames f;
	int same;

	if (sm_sock_recv2(tap, &f, ZMQ_DONTWAIT) < 0)
		return -1;
	same = f.parts == 2 && zmq_msg_size(&f.topic) == tlen && zmq_msg_size(&f.body) == blen &&
	       (tlen == 0 || memcmp(zmq_msg_data(&f.topic), topic, tlen) == 0) &&
	       (blen == 0 || memcmp(zmq_msg_data(&f.body), body, blen) == 0);
	sm_frames_close(&f);
	return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness *h = harness_get();
	struct sm_collector_stats before, after;
	struct sm_header hdr;
	struct sm_wire_error err;
	enum sm_drop_reason reason;
	const uint8_t *topic, *body;
	size_t split, tlen, blen, read;
	bool three;
	int accepted;

	if (size < 1)
		return 0;
	three = (data[0] & 0x80) != 0;
	split = data[0] & 0x7f;
	data++;
	size--;
	split = split < size ? split : size;
	topic = data;
	tlen = split;
	body = data + split;
	blen = size - split;

	accepted = envelope_check(three ? 3 : 2, topic, tlen, body, blen, FUZZ_MAX_FRAME, true, &hdr,
				  &reason, &err) == 0;

	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	relay_stats(h->relay, &before, h->now_ns);
	send_part(h->feed, topic, tlen, true);
	if (three) {
		send_part(h->feed, body, blen / 2, true);
		send_part(h->feed, body + blen / 2, blen - blen / 2, false);
	} else {
		send_part(h->feed, body, blen, false);
	}
	h->now_ns += 100000000LL; /* 0.1 s a message: senders expire now and then */
	read = relay_pump(h->relay, 8, h->now_ns);
	relay_service(h->relay, h->now_ns);
	relay_stats(h->relay, &after, h->now_ns);
	if (read != 1)
		abort(); /* one message sent, one read (relayed or dropped) */
	if ((after.frames_out - before.frames_out == 1) != (accepted != 0))
		abort(); /* relayed exactly what the envelope check accepts */
	if (accepted) {
		if (tap_matches(h->tap, topic, tlen, body, blen) != 1)
			abort(); /* relayed unchanged */
	} else if (tap_matches(h->tap, topic, tlen, body, blen) != -1) {
		abort(); /* nothing refused reaches the fan-out */
	}
	relay_complaints_tick(h->relay);
	return 0;
}
