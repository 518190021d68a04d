/*
 * Tests of sm_upstream with real ZeroMQ sockets over ipc:// in a temp dir.
 * Each fake collector is a SUB bound on its fan-in (counting what arrives)
 * and a PUB bound on its fan-out, on which the test sends heartbeats encoded
 * with sm_wire_encode, or stops sending them to simulate a dead collector.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "sm_clock.h"
#include "sm_config.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_upstream.h"
#include "sm_wire.h"

#define FAILOVER_S                                                                                 \
	1.5 /* x15 the heartbeat period: a loaded machine must not fail over by accident */
#define HB_EVERY_NS (SM_NS_PER_SEC / 10)
#define DEADLINE_S  15.0 /* generous: a loaded CI machine must not fail these */

enum hb_mode { HB_OFF, HB_VALID, HB_GARBAGE };

struct fake {
	char name[16];	   /* collector name in its heartbeats */
	char fanin[128];   /* ipc endpoint of its fan-in */
	char hb[128];	   /* ipc endpoint of its fan-out */
	void *fanin_sub;   /* bound SUB, subscribed to everything */
	void *hb_pub;	   /* bound PUB carrying heartbeats */
	enum hb_mode mode; /* what it sends each heartbeat period */
	uint64_t seq;	   /* heartbeat sequence number */
	uint64_t received; /* frames that reached its fan-in */
};

struct world {
	char dir[64];
	void *zctx;
	struct fake fake[2];
	int64_t next_hb_ns;
	struct sm_upstream *up; /* under test; teardown frees it if a test failed */
	int saved_stderr;	/* stderr while a test captures it, or -1 */
};

/* The fake collector's fan-in: a SUB subscribed to everything, bound on
 * f->fanin (again, for a restart). */
static void fake_fanin_open(struct world *w, struct fake *f)
{
	int zero = 0;

	f->fanin_sub = zmq_socket(w->zctx, ZMQ_SUB);
	assert_non_null(f->fanin_sub);
	zmq_setsockopt(f->fanin_sub, ZMQ_LINGER, &zero, sizeof(zero));
	assert_int_equal(zmq_setsockopt(f->fanin_sub, ZMQ_SUBSCRIBE, "", 0), 0);
	assert_int_equal(zmq_bind(f->fanin_sub, f->fanin), 0);
}

static void fake_open(struct world *w, struct fake *f, int i)
{
	int zero = 0;

	snprintf(f->name, sizeof(f->name), "c%d", i + 1);
	snprintf(f->fanin, sizeof(f->fanin), "ipc://%s/fanin%d", w->dir, i + 1);
	snprintf(f->hb, sizeof(f->hb), "ipc://%s/fanout%d", w->dir, i + 1);
	fake_fanin_open(w, f);
	f->hb_pub = zmq_socket(w->zctx, ZMQ_PUB);
	assert_non_null(f->hb_pub);
	zmq_setsockopt(f->hb_pub, ZMQ_LINGER, &zero, sizeof(zero));
	assert_int_equal(zmq_bind(f->hb_pub, f->hb), 0);
	f->mode = HB_VALID;
}

static int world_setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	snprintf(w->dir, sizeof(w->dir), "/tmp/sm-upstream-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	w->zctx = zmq_ctx_new();
	w->saved_stderr = -1;
	assert_non_null(w->zctx);
	/* A failed assertion must not leave zmq_ctx_term waiting forever. */
	zmq_ctx_set(w->zctx, ZMQ_BLOCKY, 0);
	for (int i = 0; i < 2; i++)
		fake_open(w, &w->fake[i], i);
	sm_log_set_level(SM_LOG_WARNING);
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;
	char path[256];

	sm_upstream_destroy(&w->up);
	if (w->saved_stderr >= 0) {
		fflush(stderr);
		dup2(w->saved_stderr, STDERR_FILENO);
		close(w->saved_stderr);
		snprintf(path, sizeof(path), "%s/stderr", w->dir);
		unlink(path);
	}
	for (int i = 0; i < 2; i++) {
		zmq_close(w->fake[i].fanin_sub);
		zmq_close(w->fake[i].hb_pub);
		snprintf(path, sizeof(path), "%s/fanin%d", w->dir, i + 1);
		unlink(path);
		snprintf(path, sizeof(path), "%s/fanout%d", w->dir, i + 1);
		unlink(path);
	}
	zmq_ctx_term(w->zctx);
	rmdir(w->dir);
	free(w);
	return 0;
}

static void fake_heartbeat(struct fake *f)
{
	struct sm_message m = {0};
	msgpack_sbuffer sb;
	char topic[SM_TOPIC_MAX + 1];
	size_t tlen;

	if (f->mode == HB_OFF)
		return;
	tlen = sm_wire_topic(SM_KIND_HEARTBEAT, f->name, topic, sizeof(topic));
	assert_true(tlen > 0);
	if (f->mode == HB_GARBAGE) {
		/* Right topic, body that is not a heartbeat. */
		zmq_send(f->hb_pub, topic, tlen, ZMQ_SNDMORE);
		zmq_send(f->hb_pub, "\xc1garbage", 8, 0);
		return;
	}
	m.hdr.version = SM_WIRE_VERSION;
	m.hdr.kind = SM_KIND_HEARTBEAT;
	snprintf(m.hdr.host, sizeof(m.hdr.host), "%s", f->name);
	m.hdr.time = sm_clock_wall();
	m.hdr.seq = ++f->seq;
	m.hdr.epoch = 42;
	m.u.hb.interval = 0.1;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sm_wire_encode(&m, &sb), 0);
	zmq_send(f->hb_pub, topic, tlen, ZMQ_SNDMORE);
	zmq_send(f->hb_pub, sb.data, sb.size, 0);
	msgpack_sbuffer_destroy(&sb);
}

static void fake_count(struct fake *f)
{
	char buf[64];

	while (zmq_recv(f->fanin_sub, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0) {
		int more = 0;
		size_t len = sizeof(more);

		zmq_getsockopt(f->fanin_sub, ZMQ_RCVMORE, &more, &len);
		if (!more)
			f->received++;
	}
}

/* Predicates that end a pump. */
typedef int (*until_fn)(struct world *w, struct sm_upstream *up, intptr_t arg);

static int until_index(struct world *w, struct sm_upstream *up, intptr_t arg)
{
	(void)w;
	return sm_upstream_current_index(up) == (size_t)arg;
}

static int until_received(struct world *w, struct sm_upstream *up, intptr_t arg)
{
	(void)up;
	return w->fake[arg].received >= 5;
}

static int until_never(struct world *w, struct sm_upstream *up, intptr_t arg)
{
	(void)w;
	(void)up;
	(void)arg;
	return 0;
}

/* Runs the loop a publisher runs (heartbeats in, service, send a frame)
 * until `until` holds or `max_s` passes; returns seconds spent, or -1 on
 * timeout. */
static double pump(struct world *w, struct sm_upstream *up, bool send, until_fn until, intptr_t arg,
		   double max_s)
{
	int64_t start = sm_clock_mono_ns();
	int64_t end = start + (int64_t)(max_s * SM_NS_PER_SEC);

	for (;;) {
		int64_t now = sm_clock_mono_ns();
		zmq_pollitem_t items[4];
		size_t n;

		if (until(w, up, arg))
			return (double)(now - start) / SM_NS_PER_SEC;
		if (now > end)
			return -1;
		if (now >= w->next_hb_ns) {
			fake_heartbeat(&w->fake[0]);
			fake_heartbeat(&w->fake[1]);
			w->next_hb_ns = now + HB_EVERY_NS;
		}
		n = sm_upstream_pollitems(up, items, 4);
		zmq_poll(items, (int)n, 10);
		sm_upstream_service(up, sm_clock_mono_ns());
		if (send)
			sm_upstream_send(up, "stats/h/", 8, "body", 4);
		fake_count(&w->fake[0]);
		fake_count(&w->fake[1]);
	}
}

/* Lets in-flight frames land, then zeroes the counters. */
static void settle(struct world *w, struct sm_upstream *up)
{
	pump(w, up, false, until_never, 0, 0.3);
	w->fake[0].received = w->fake[1].received = 0;
}

static struct sm_upstream *two_target_upstream(struct world *w, double failover_s)
{
	char t0[300], t1[300];
	const char *targets[2] = {t0, t1};

	snprintf(t0, sizeof(t0), "%s=%s", w->fake[0].fanin, w->fake[0].hb);
	snprintf(t1, sizeof(t1), "%s=%s", w->fake[1].fanin, w->fake[1].hb);
	return sm_upstream_new(w->zctx, targets, 2, NULL, failover_s);
}

static void upstream_fails_over_when_heartbeats_stop_and_returns_when_back(void **state)
{
	struct world *w = *state;
	struct sm_upstream *up = w->up = two_target_upstream(w, FAILOVER_S);
	double t;

	assert_non_null(up);
	assert_string_equal(sm_upstream_current(up), w->fake[0].fanin);

	/* Both alive: frames go to the most preferred, none to the other. */
	assert_true(pump(w, up, true, until_received, 0, DEADLINE_S) >= 0);
	assert_int_equal(w->fake[1].received, 0);
	assert_int_equal(sm_upstream_current_index(up), 0);

	/* #1 goes silent: after failover_s (not before) we move to #2. */
	w->fake[0].mode = HB_OFF;
	t = pump(w, up, true, until_index, 1, DEADLINE_S);
	assert_true(t >= FAILOVER_S / 2);
	assert_string_equal(sm_upstream_current(up), w->fake[1].fanin);
	settle(w, up);
	assert_true(pump(w, up, true, until_received, 1, DEADLINE_S) >= 0);
	assert_int_equal(w->fake[0].received, 0);

	/* #1 speaks again: back to it, and #2 gets nothing more. */
	w->fake[0].mode = HB_VALID;
	assert_true(pump(w, up, true, until_index, 0, DEADLINE_S) >= 0);
	settle(w, up);
	assert_true(pump(w, up, true, until_received, 0, DEADLINE_S) >= 0);
	assert_int_equal(w->fake[1].received, 0);
	assert_int_equal(sm_upstream_switches(up), 2);
	sm_upstream_destroy(&w->up);
	assert_null(w->up);
}

static void upstream_stays_put_when_no_target_is_alive(void **state)
{
	struct world *w = *state;
	struct sm_upstream *up = w->up = two_target_upstream(w, 0.3);

	assert_non_null(up);
	w->fake[0].mode = HB_OFF;
	assert_true(pump(w, up, false, until_index, 1, DEADLINE_S) >= 0);
	/* Now #2 dies too: with nobody alive, flapping back to #1 would help
	 * nothing, so we stay on #2. */
	w->fake[1].mode = HB_OFF;
	pump(w, up, false, until_never, 0, 1.5);
	assert_int_equal(sm_upstream_current_index(up), 1);
	assert_int_equal(sm_upstream_switches(up), 1);
	sm_upstream_destroy(&w->up);
}

static void upstream_ignores_invalid_heartbeats(void **state)
{
	struct world *w = *state;
	struct sm_upstream *up = w->up = two_target_upstream(w, 0.3);

	assert_non_null(up);
	/* #1 keeps sending hb/ frames, but they do not decode: it is dead. */
	w->fake[0].mode = HB_GARBAGE;
	assert_true(pump(w, up, false, until_index, 1, DEADLINE_S) >= 0);
	sm_upstream_destroy(&w->up);
}

static void upstream_target_without_heartbeat_is_always_alive(void **state)
{
	struct world *w = *state;
	char t0[300];
	const char *targets[2] = {t0, w->fake[1].fanin};
	struct sm_upstream *up;

	/* #1 is watched and silent; #2 has no heartbeat endpoint. */
	snprintf(t0, sizeof(t0), "%s=%s", w->fake[0].fanin, w->fake[0].hb);
	w->fake[0].mode = HB_OFF;
	w->fake[1].mode = HB_OFF;
	up = w->up = sm_upstream_new(w->zctx, targets, 2, NULL, 0.3);
	assert_non_null(up);
	assert_true(pump(w, up, false, until_index, 1, DEADLINE_S) >= 0);
	settle(w, up);
	assert_true(pump(w, up, true, until_received, 1, DEADLINE_S) >= 0);
	assert_int_equal(sm_upstream_current_index(up), 1);
	assert_int_equal(w->fake[0].received, 0);
	sm_upstream_destroy(&w->up);

	/* A single unwatched target is never left, though nothing is heard. */
	up = w->up = sm_upstream_new(w->zctx, &targets[1], 1, NULL, 0.2);
	assert_non_null(up);
	pump(w, up, false, until_never, 0, 0.8);
	assert_int_equal(sm_upstream_current_index(up), 0);
	assert_int_equal(sm_upstream_switches(up), 0);
	sm_upstream_destroy(&w->up);
}

static void upstream_rejects_malformed_targets(void **state)
{
	struct world *w = *state;
	char longest[400];
	const char *bad[] = {
	    "",					      /* empty */
	    "=ipc:///tmp/x",			      /* no fan-in */
	    "ipc:///tmp/a=",			      /* '=' but no heartbeat */
	    "ipc:///tmp/a=ipc:///tmp/b=ipc:///tmp/c", /* two '=' */
	    longest,				      /* over SM_ENDPOINT_MAX */
	    "bogus://nowhere",			      /* zmq refuses the transport */
	    "ipc:///tmp/a=bogus://nowhere",	      /* bad heartbeat endpoint */
	};
	const char *good[] = {w->fake[0].fanin};

	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	memcpy(longest, "ipc://", 6);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *pair[2] = {w->fake[0].fanin, bad[i]};

		assert_null(sm_upstream_new(w->zctx, &bad[i], 1, NULL, 1.0));
		/* Also as a fall-back target: checked at start, not at fail-over. */
		assert_null(sm_upstream_new(w->zctx, pair, 2, NULL, 1.0));
	}
	assert_null(sm_upstream_new(w->zctx, good, 0, NULL, 1.0));
	assert_null(sm_upstream_new(w->zctx, good, 1, NULL, 0.0));
	assert_null(sm_upstream_new(w->zctx, good, 1, NULL, NAN));
	assert_null(sm_upstream_new(w->zctx, good, 1, NULL, -1.0));
}

/* Receives what reached fake f's fan-in: appends each body's number to
 * got[] (up to max) and returns how many there are now. */
static size_t fake_collect(struct fake *f, int *got, size_t n, size_t max)
{
	struct sm_frames fr;

	while (sm_sock_recv2(f->fanin_sub, &fr, ZMQ_DONTWAIT) == 0) {
		char body[16] = "";
		size_t len = zmq_msg_size(&fr.body);

		if (n < max && len < sizeof(body)) {
			memcpy(body, zmq_msg_data(&fr.body), len);
			got[n++] = atoi(body);
		}
		sm_frames_close(&fr);
	}
	return n;
}

/* What a publisher sends before the collector's subscription has arrived
 * (the first frames after start; ZeroMQ itself would discard them) is
 * held and delivered once it has, all of it and in order. */
static void upstream_holds_messages_until_the_collector_subscribed(void **state)
{
	struct world *w = *state;
	const char *targets[1] = {w->fake[0].fanin};
	enum { N = 50 };
	int got[N + 1];
	size_t n = 0;
	int64_t end;
	struct sm_upstream *up = w->up = sm_upstream_new(w->zctx, targets, 1, NULL, 5.0);

	assert_non_null(up);
	for (int i = 0; i < N; i++) {
		char body[16];
		int len = snprintf(body, sizeof(body), "%d", i);

		assert_int_equal(sm_upstream_send(up, "stats/h/", 8, body, (size_t)len), 0);
	}
	/* A message the relay hands over as zmq_msg_t joins the same queue. */
	{
		zmq_msg_t t, b;

		zmq_msg_init_size(&t, 8);
		memcpy(zmq_msg_data(&t), "event/h/", 8);
		zmq_msg_init_size(&b, 2);
		memcpy(zmq_msg_data(&b), "50", 2);
		assert_int_equal(sm_upstream_send_msg(up, &t, &b), 0);
		zmq_msg_close(&t);
		zmq_msg_close(&b);
	}
	assert_int_equal(sm_upstream_held(up), N + 1);
	end = sm_clock_mono_ns() + (int64_t)(DEADLINE_S * SM_NS_PER_SEC);
	while (n < N + 1 && sm_clock_mono_ns() < end) {
		zmq_pollitem_t items[4];
		size_t k = sm_upstream_pollitems(up, items, 4);

		zmq_poll(items, (int)k, 10);
		sm_upstream_service(up, sm_clock_mono_ns());
		n = fake_collect(&w->fake[0], got, n, N + 1);
	}
	assert_int_equal(n, N + 1);
	for (int i = 0; i <= N; i++)
		assert_int_equal(got[i], i);
	assert_int_equal(sm_upstream_held(up), 0);
	sm_upstream_destroy(&w->up);
}

/* Right after a fail-over switch the new collector has not subscribed yet:
 * what is sent then is held for it, not lost, and none goes to the old one. */
static void upstream_switch_loses_nothing_sent_right_after(void **state)
{
	struct world *w = *state;
	struct sm_upstream *up = w->up = two_target_upstream(w, 0.5);
	enum { N = 20 };
	int got[N + 1];
	size_t n = 0;
	int64_t end;

	assert_non_null(up);
	settle(w, up);
	w->fake[0].mode = HB_OFF;
	assert_true(pump(w, up, false, until_index, 1, DEADLINE_S) >= 0);
	for (int i = 0; i < N; i++) {
		char body[16];
		int len = snprintf(body, sizeof(body), "%d", i);

		assert_int_equal(sm_upstream_send(up, "stats/h/", 8, body, (size_t)len), 0);
	}
	end = sm_clock_mono_ns() + (int64_t)(DEADLINE_S * SM_NS_PER_SEC);
	while (n < N && sm_clock_mono_ns() < end) {
		zmq_pollitem_t items[4];
		size_t k = sm_upstream_pollitems(up, items, 4);

		zmq_poll(items, (int)k, 10);
		sm_upstream_service(up, sm_clock_mono_ns());
		n = fake_collect(&w->fake[1], got, n, N + 1);
	}
	assert_int_equal(n, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(got[i], i);
	assert_int_equal(fake_collect(&w->fake[0], got, 0, N + 1), 0);
	sm_upstream_destroy(&w->up);
}

/* Services the upstream for `seconds` without sending, collecting what
 * the first fake collector receives. */
static size_t serve_and_collect(struct world *w, struct sm_upstream *up, double seconds, int *got,
				size_t n, size_t max)
{
	int64_t end = sm_clock_mono_ns() + (int64_t)(seconds * SM_NS_PER_SEC);

	while (sm_clock_mono_ns() < end) {
		zmq_pollitem_t items[4];
		size_t k = sm_upstream_pollitems(up, items, 4);

		zmq_poll(items, (int)k, 10);
		sm_upstream_service(up, sm_clock_mono_ns());
		n = fake_collect(&w->fake[0], got, n, max);
	}
	return n;
}

/* A stopping collector says so (SM_STOP_NOTICE): from then on nothing is
 * sent into its closing connection, where it would be lost; it is held and
 * goes, in order, to the collector that subscribes next (the restarted one). */
static void upstream_holds_once_the_collector_says_it_stops(void **state)
{
	struct world *w = *state;
	const char *targets[1] = {w->fake[0].fanin};
	enum { N = 20 };
	int got[N + 1];
	size_t n = 0;
	struct sm_upstream *up = w->up = sm_upstream_new(w->zctx, targets, 1, NULL, 5.0);

	assert_non_null(up);
	/* Flowing: a first message reaches the collector. */
	assert_int_equal(sm_upstream_send(up, "stats/h/", 8, "0", 1), 0);
	n = serve_and_collect(w, up, 0.5, got, n, N + 1);
	assert_int_equal(n, 1);

	assert_int_equal(sm_sock_subscribe(w->fake[0].fanin_sub, SM_STOP_NOTICE), 0);
	n = serve_and_collect(w, up, 0.5, got, n, N + 1);
	for (int i = 1; i < N; i++) {
		char body[16];
		int len = snprintf(body, sizeof(body), "%d", i);

		assert_int_equal(sm_upstream_send(up, "stats/h/", 8, body, (size_t)len), 0);
	}
	assert_int_equal(sm_upstream_held(up), N - 1);
	n = serve_and_collect(w, up, 0.3, got, n, N + 1);
	assert_int_equal(n, 1); /* the stopping collector got none of them */

	/* The collector restarts on the same endpoint and subscribes. */
	zmq_close(w->fake[0].fanin_sub);
	unlink(w->fake[0].fanin + strlen("ipc://"));
	fake_fanin_open(w, &w->fake[0]);
	for (int64_t end = sm_clock_mono_ns() + (int64_t)(DEADLINE_S * SM_NS_PER_SEC);
	     n < N && sm_clock_mono_ns() < end;)
		n = serve_and_collect(w, up, 0.05, got, n, N + 1);
	assert_int_equal(n, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(got[i], i);
	assert_int_equal(sm_upstream_held(up), 0);
	sm_upstream_destroy(&w->up);
}

/* A collector that never subscribes: the hold stops at its bound (the
 * high-water mark) and says why a message was refused. */
static void upstream_hold_is_bounded_when_nobody_subscribes(void **state)
{
	struct world *w = *state;
	char nowhere[160];
	const char *targets[1] = {nowhere};
	struct sm_sock_opts opts;
	struct sm_upstream *up;

	snprintf(nowhere, sizeof(nowhere), "ipc://%s/nobody", w->dir);
	sm_sock_opts_default(&opts);
	opts.sndhwm = 8;
	opts.linger_ms = 0;
	up = w->up = sm_upstream_new(w->zctx, targets, 1, &opts, 5.0);
	assert_non_null(up);
	for (int i = 0; i < 8; i++)
		assert_int_equal(sm_upstream_send(up, "stats/h/", 8, "x", 1), 0);
	sm_upstream_service(up, sm_clock_mono_ns());
	errno = 0;
	assert_int_equal(sm_upstream_send(up, "stats/h/", 8, "x", 1), -1);
	assert_int_equal(errno, ENOTCONN);
	sm_upstream_destroy(&w->up); /* frees what is held (LSan checks) */
}

/* stderr (where sm_log writes) goes to a file while a test reads the log;
 * teardown puts it back should the test fail. */
struct log_capture {
	char path[128];
};

static void log_capture_start(struct world *w, struct log_capture *c)
{
	int fd;

	snprintf(c->path, sizeof(c->path), "%s/stderr", w->dir);
	fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	w->saved_stderr = dup(STDERR_FILENO);
	assert_true(w->saved_stderr >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

/* Lines of the captured log containing `what`; the last one in line. */
static int log_count(const struct log_capture *c, const char *what, char *line, size_t size)
{
	char buf[1024];
	int n = 0;
	FILE *f;

	fflush(stderr);
	f = fopen(c->path, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f)) {
		if (strstr(buf, what)) {
			n++;
			if (line)
				snprintf(line, size, "%s", buf);
		}
	}
	fclose(f);
	return n;
}

/* No collector at all for longer than failover_s: one warning with what is
 * held and dropped so far, however long it lasts. Then a watched collector
 * whose heartbeats stop: one warning, and one notice when they resume. */
static void upstream_logs_once_when_no_collector_answers_and_once_when_back(void **state)
{
	struct world *w = *state;
	char nowhere[160], t1[300], line[1024];
	const char *targets[1] = {nowhere};
	struct sm_sock_opts opts;
	struct log_capture c;
	struct sm_upstream *up;

	snprintf(nowhere, sizeof(nowhere), "ipc://%s/nobody", w->dir);
	sm_sock_opts_default(&opts);
	opts.sndhwm = 20; /* the hold fills: drops are counted too */
	opts.linger_ms = 0;
	log_capture_start(w, &c);
	sm_log_set_level(SM_LOG_NOTICE); /* "answers again" is a notice */
	up = w->up = sm_upstream_new(w->zctx, targets, 1, &opts, 0.4);
	assert_non_null(up);

	pump(w, up, true, until_never, 0, 0.2);
	assert_int_equal(log_count(&c, "no collector answered", NULL, 0), 0);
	pump(w, up, true, until_never, 0, 1.5); /* several failover_s */
	assert_int_equal(log_count(&c, "no collector answered", line, sizeof(line)), 1);
	assert_non_null(strstr(line, "20 message(s) held so far"));
	assert_non_null(strstr(line, "dropped"));
	assert_true(sm_upstream_dropped(up) > 0);
	assert_int_equal(log_count(&c, "answers again", NULL, 0), 0);

	pump(w, up, true, until_never, 0, 1.0);
	assert_int_equal(log_count(&c, "no collector answered", NULL, 0), 1);
	sm_upstream_destroy(&w->up);

	/* A watched collector: subscribed all along, but its heartbeats stop. */
	snprintf(t1, sizeof(t1), "%s=%s", w->fake[0].fanin, w->fake[0].hb);
	targets[0] = t1;
	up = w->up = sm_upstream_new(w->zctx, targets, 1, NULL, 0.4);
	assert_non_null(up);
	assert_true(pump(w, up, true, until_received, 0, DEADLINE_S) >= 0);
	w->fake[0].mode = HB_OFF;
	pump(w, up, true, until_never, 0, 1.5);
	assert_int_equal(log_count(&c, "no collector answered", NULL, 0), 2);
	w->fake[0].mode = HB_VALID;
	pump(w, up, true, until_never, 0, 1.0);
	assert_int_equal(log_count(&c, "answers again", line, sizeof(line)), 1);
	assert_non_null(strstr(line, "held meanwhile"));
	assert_non_null(strstr(line, "0 dropped"));
	assert_int_equal(log_count(&c, "no collector answered", NULL, 0), 2);
	sm_upstream_destroy(&w->up);
	sm_log_set_level(SM_LOG_WARNING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		upstream_fails_over_when_heartbeats_stop_and_returns_when_back, world_setup,
		world_teardown),
	    cmocka_unit_test_setup_teardown(upstream_stays_put_when_no_target_is_alive, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(upstream_ignores_invalid_heartbeats, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(upstream_target_without_heartbeat_is_always_alive,
					    world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(upstream_rejects_malformed_targets, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(upstream_holds_messages_until_the_collector_subscribed,
					    world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(upstream_holds_once_the_collector_says_it_stops,
					    world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(upstream_hold_is_bounded_when_nobody_subscribes,
					    world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(upstream_switch_loses_nothing_sent_right_after,
					    world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(
		upstream_logs_once_when_no_collector_answers_and_once_when_back, world_setup,
		world_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
