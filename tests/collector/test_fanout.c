/*
 * test_fanout.c — the collector's fan-out with real ZeroMQ sockets
 * (inproc://): subscriptions counted as subscribers come and go, frames
 * nobody subscribed to reported as unheard, lifecycle events that wait for a
 * full subscriber instead of being dropped (while stats are dropped), in
 * order, and a stalled subscriber that cannot hold events back for longer
 * than FANOUT_WAIT_MS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "fanout.h"
#include "sm_clock.h"
#include "sm_config.h"
#include "sm_log.h"
#include "sm_sock.h"

#define NS_PER_MS INT64_C(1000000)
#define HWM 4 /* per pipe, each way: a few messages fill a subscriber */

struct rig {
	void *zctx;
	struct fanout *f;
	void *subs[4]; /* closed by the teardown, so a failed test does not hang it */
};

static int rig_setup(void **state)
{
	struct rig *g = calloc(1, sizeof(*g));
	const char *out[] = {"inproc://fanout"};
	struct sm_sock_opts opts;

	assert_non_null(g);
	sm_log_set_level(SM_LOG_ERR);
	sm_sock_opts_default(&opts);
	opts.linger_ms = 0;
	opts.sndhwm = opts.rcvhwm = HWM;
	g->zctx = zmq_ctx_new();
	g->f = fanout_new(g->zctx, out, 1, &opts);
	assert_non_null(g->f);
	*state = g;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *g = *state;

	fanout_destroy(&g->f);
	assert_null(g->f);
	for (size_t i = 0; i < 4; i++)
		if (g->subs[i])
			zmq_close(g->subs[i]);
	zmq_ctx_term(g->zctx);
	free(g);
	return 0;
}

static void *subscriber(struct rig *g, const char *prefix, int rcvhwm)
{
	void *s = zmq_socket(g->zctx, ZMQ_SUB);
	int zero = 0;

	assert_non_null(s);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm));
	/* Its subscriptions travel on its send side: room for many. */
	zmq_setsockopt(s, ZMQ_SNDHWM, &(int){10000}, sizeof(int));
	zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
	assert_int_equal(zmq_connect(s, "inproc://fanout"), 0);
	for (size_t i = 0; i < 4; i++)
		if (!g->subs[i]) {
			g->subs[i] = s;
			return s;
		}
	fail_msg("more than 4 subscribers in one test");
	return NULL;
}

static void close_sub(struct rig *g, void *s)
{
	for (size_t i = 0; i < 4; i++)
		if (g->subs[i] == s)
			g->subs[i] = NULL;
	zmq_close(s);
}

/* Services the fan-out until want data subscriptions are seen (inproc hands
 * a subscription over when the XPUB next processes commands). */
static void await_subscriptions(struct rig *g, size_t want)
{
	int64_t end = sm_clock_mono_ns() + 5 * SM_NS_PER_SEC;

	while (fanout_data_subscriptions(g->f) != want && sm_clock_mono_ns() < end) {
		zmq_pollitem_t it = fanout_pollitem(g->f);

		zmq_poll(&it, 1, 10);
		fanout_service(g->f, sm_clock_mono_ns());
	}
	assert_int_equal(fanout_data_subscriptions(g->f), want);
}

static enum fanout_result send_text(struct rig *g, const char *topic, const char *body,
				    bool control)
{
	zmq_msg_t t, b;
	enum fanout_result r;

	zmq_msg_init_size(&t, strlen(topic));
	memcpy(zmq_msg_data(&t), topic, strlen(topic));
	zmq_msg_init_size(&b, strlen(body));
	memcpy(zmq_msg_data(&b), body, strlen(body));
	r = fanout_send(g->f, &t, &b, control, sm_clock_mono_ns());
	zmq_msg_close(&t);
	zmq_msg_close(&b);
	return r;
}

/* Reads one message's body into buf ("" when none within timeout_ms). */
static void recv_body(void *s, char *buf, size_t len, int timeout_ms)
{
	zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
	int n;

	buf[0] = '\0';
	if (zmq_poll(&it, 1, timeout_ms) <= 0)
		return;
	assert_true(zmq_recv(s, buf, len - 1, 0) >= 0); /* topic */
	n = zmq_recv(s, buf, len - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
}

static void test_subscriptions_are_counted(void **state)
{
	struct rig *g = *state;
	void *all, *stats, *hb;

	assert_int_equal(fanout_data_subscriptions(g->f), 0);
	all = subscriber(g, "", 100);
	await_subscriptions(g, 1);
	stats = subscriber(g, "stats/cn1/", 100);
	await_subscriptions(g, 2);
	/* A monitor watching heartbeats takes no frames. */
	hb = subscriber(g, "hb/", 100);
	for (int i = 0; i < 20; i++) {
		usleep(2000);
		fanout_service(g->f, sm_clock_mono_ns());
	}
	assert_int_equal(fanout_data_subscriptions(g->f), 2);
	/* A subscriber that leaves takes its subscription with it. */
	close_sub(g, stats);
	await_subscriptions(g, 1);
	close_sub(g, all);
	await_subscriptions(g, 0);
	close_sub(g, hb);
}

static void test_unheard_frames_are_reported(void **state)
{
	struct rig *g = *state;
	void *s;
	char buf[64];

	/* Nobody at all. */
	assert_int_equal(send_text(g, "stats/cn1/", "a", false), FANOUT_UNHEARD);
	/* Somebody, but for another host's frames: still unheard. */
	s = subscriber(g, "stats/cn2/", 100);
	await_subscriptions(g, 1);
	assert_int_equal(send_text(g, "stats/cn1/", "b", false), FANOUT_UNHEARD);
	assert_int_equal(send_text(g, "event/cn1/", "c", true), FANOUT_UNHEARD);
	assert_int_equal(send_text(g, "stats/cn2/", "d", false), FANOUT_SENT);
	recv_body(s, buf, sizeof(buf), 2000);
	assert_string_equal(buf, "d");
	close_sub(g, s);
}

static void test_a_full_subscriber_loses_nothing_in_order(void **state)
{
	struct rig *g = *state;
	void *s = subscriber(g, "", 1);
	char buf[64], want[64];
	int got = 0;

	await_subscriptions(g, 1);
	/* Far more than the queues hold, stats and events mixed: what finds
	 * no room waits in the fan-out instead of being dropped. */
	for (int i = 0; i < 60; i++) {
		bool event = i % 3 == 0;
		enum fanout_result r;

		snprintf(want, sizeof(want), "%s-%d", event ? "event" : "stats", i);
		r = send_text(g, event ? "event/cn1/" : "stats/cn1/", want, event);
		assert_true(r == FANOUT_HELD || r == FANOUT_SENT);
	}
	assert_true(fanout_waiting(g->f) > 0);
	/* The subscriber reads: everything arrives, in order. */
	for (int64_t end = sm_clock_mono_ns() + 900 * NS_PER_MS; got < 60 && sm_clock_mono_ns() < end;) {
		fanout_service(g->f, sm_clock_mono_ns());
		recv_body(s, buf, sizeof(buf), 5);
		if (!buf[0])
			continue;
		snprintf(want, sizeof(want), "%s-%d", got % 3 == 0 ? "event" : "stats", got);
		assert_string_equal(buf, want);
		got++;
	}
	assert_int_equal(got, 60);
	assert_int_equal(fanout_waiting(g->f), 0);
	assert_true(fanout_delayed(g->f) > 0);
	assert_int_equal(fanout_forced(g->f), 0);
}

static void test_a_full_hold_refuses_stats_before_events(void **state)
{
	struct rig *g = *state;
	int stats_taken = 0;

	subscriber(g, "", 1); /* never reads */
	await_subscriptions(g, 1);
	while (send_text(g, "stats/cn1/", "s", false) != FANOUT_DROPPED)
		assert_true(++stats_taken <= FANOUT_HOLD_MAX);
	/* Stats may fill three quarters of the hold; events have the rest. */
	assert_true(fanout_waiting(g->f) >= FANOUT_HOLD_MAX / 4 * 3 - 1);
	assert_int_equal(send_text(g, "event/cn1/", "e", true), FANOUT_HELD);
	assert_int_equal(send_text(g, "stats/cn1/", "s", false), FANOUT_DROPPED);
}

static void test_a_stalled_subscriber_holds_messages_back_one_wait_only(void **state)
{
	struct rig *g = *state;
	int64_t t0;

	subscriber(g, "", 1); /* never reads */
	await_subscriptions(g, 1);
	for (int i = 0; i < 50; i++)
		send_text(g, "stats/cn1/", "stats", false);
	assert_int_equal(send_text(g, "event/cn1/", "e0", true), FANOUT_HELD);
	t0 = sm_clock_mono_ns();
	/* Nobody reads: after the wait, the stall ends (one lossy send). */
	while (fanout_waiting(g->f) > 0 && sm_clock_mono_ns() - t0 < 5 * SM_NS_PER_SEC) {
		usleep(10000);
		fanout_service(g->f, sm_clock_mono_ns());
	}
	assert_int_equal(fanout_waiting(g->f), 0);
	assert_true(sm_clock_mono_ns() - t0 >= (FANOUT_WAIT_MS - 20) * NS_PER_MS);
	assert_true(fanout_forced(g->f) >= 1);
	/* The stalled subscriber is passed over now: nothing waits for it. */
	assert_int_equal(send_text(g, "event/cn1/", "e1", true), FANOUT_SENT);
	assert_int_equal(send_text(g, "stats/cn1/", "s1", false), FANOUT_SENT);
	assert_int_equal(fanout_waiting(g->f), 0);
}

/* A subscriber is a network peer: a prefix longer than the table keeps is
 * tracked by its first bytes, and a flood of distinct prefixes overflows
 * the table into "everything is heard" (frames then go out as a PUB would
 * send them) rather than growing without bound or failing. */
static void test_hostile_subscriptions_are_bounded(void **state)
{
	struct rig *g = *state;
	char longp[300 + 1], topic[400], junk[16];
	void *s;
	int64_t end;
	enum fanout_result r = FANOUT_UNHEARD;

	memset(longp, 'a', sizeof(longp) - 1);
	memcpy(longp, "stats/", 6);
	longp[sizeof(longp) - 1] = '\0';
	s = subscriber(g, longp, 100);
	await_subscriptions(g, 1);
	snprintf(topic, sizeof(topic), "%s/", longp);
	assert_int_equal(send_text(g, topic, "x", false), FANOUT_SENT);
	assert_int_equal(send_text(g, "stats/b/", "x", false), FANOUT_UNHEARD);
	/* More distinct prefixes than the table holds, on the same peer. */
	for (int i = 0; i < FANOUT_PREFIXES_MAX + 100; i++) {
		snprintf(junk, sizeof(junk), "x%05d", i);
		assert_int_equal(zmq_setsockopt(s, ZMQ_SUBSCRIBE, junk, strlen(junk)), 0);
	}
	for (end = sm_clock_mono_ns() + 5 * SM_NS_PER_SEC;
	     r == FANOUT_UNHEARD && sm_clock_mono_ns() < end;) {
		zmq_pollitem_t it = fanout_pollitem(g->f);

		zmq_poll(&it, 1, 10);
		fanout_service(g->f, sm_clock_mono_ns());
		r = send_text(g, "stats/b/", "x", false);
	}
	assert_int_equal(r, FANOUT_SENT);
	/* The long subscription still counts as one for frames. */
	assert_int_equal(fanout_data_subscriptions(g->f), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_subscriptions_are_counted, rig_setup,
					    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_unheard_frames_are_reported, rig_setup,
					    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_a_full_subscriber_loses_nothing_in_order,
					    rig_setup, rig_teardown),
	    cmocka_unit_test_setup_teardown(test_a_full_hold_refuses_stats_before_events,
					    rig_setup, rig_teardown),
	    cmocka_unit_test_setup_teardown(test_a_stalled_subscriber_holds_messages_back_one_wait_only,
					    rig_setup, rig_teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_subscriptions_are_bounded, rig_setup,
					    rig_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
