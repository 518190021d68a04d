/*
 * Tests of sm_sockwatch with real ZeroMQ over ipc:// in a temp dir: a SUB
 * whose peer ZeroMQ drops for an oversized message is connected again by the
 * watch (libzmq 4.3.4 would leave it silent), a peer that restarts is left
 * to libzmq's own reconnect, and both are counted and logged. Every wait is
 * bounded by a generous timeout.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sm_clock.h"
#include "sm_config.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_sockwatch.h"
#include "sm_wire.h"

#define WAIT_MS 10000 /* upper bound on any wait */

struct fixture {
	void *zctx;
	char dir[64];
	char ep[128]; /* ipc endpoint the PUB binds and the SUB connects */
	void *pub, *sub;
	struct sm_sockwatch *watch;
	struct sm_sock_opts opts; /* the SUB's: small max_msg_size */
	char log_path[128];
	FILE *log; /* the library's log, captured */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sm-test-sockwatch-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->ep, sizeof(fx->ep), "ipc://%s/pub", fx->dir);
	snprintf(fx->log_path, sizeof(fx->log_path), "%s/log", fx->dir);
	fx->zctx = zmq_ctx_new();
	sm_sock_opts_default(&fx->opts);
	fx->opts.max_msg_size = 1024;
	fx->opts.reconnect_ivl_ms = 50;
	fx->opts.reconnect_ivl_max_ms = 200;
	*state = fx;
	return fx->zctx ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char path[160];

	sm_sockwatch_destroy(&fx->watch);
	sm_sockwatch_destroy(&fx->watch); /* twice is harmless */
	sm_sock_close(&fx->sub);
	sm_sock_close(&fx->pub);
	zmq_ctx_term(fx->zctx);
	snprintf(path, sizeof(path), "%s/pub", fx->dir);
	unlink(path);
	unlink(fx->log_path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* The log goes to a file the test reads: stderr redirected around the run. */
static int saved_stderr = -1;

static void log_capture(struct fixture *fx)
{
	fflush(stderr);
	saved_stderr = dup(2);
	assert_true(freopen(fx->log_path, "w", stderr) != NULL);
	sm_log_open("smtest", SM_LOG_INFO, false);
}

static char *log_release(struct fixture *fx)
{
	FILE *f;
	char *text = calloc(1, 65536);

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	f = fopen(fx->log_path, "r");
	assert_non_null(f);
	assert_non_null(text);
	(void)fread(text, 1, 65535, f);
	fclose(f);
	return text;
}

/* True once the captured log holds `text` (capture still on). */
static bool log_has(struct fixture *fx, const char *text)
{
	char buf[65536];
	size_t n;
	FILE *f;

	fflush(stderr);
	f = fopen(fx->log_path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

static void start(struct fixture *fx)
{
	fx->pub = sm_sock_new(fx->zctx, ZMQ_PUB, NULL);
	assert_non_null(fx->pub);
	assert_int_equal(sm_sock_bind(fx->pub, fx->ep), 0);
	fx->sub = sm_sock_new(fx->zctx, ZMQ_SUB, &fx->opts);
	assert_non_null(fx->sub);
	assert_int_equal(sm_sock_subscribe(fx->sub, ""), 0);
	fx->watch = sm_sockwatch_new(fx->zctx, fx->sub, &fx->opts);
	assert_non_null(fx->watch);
	assert_int_equal(sm_sockwatch_connect(fx->watch, fx->ep), 0);
}

/* Sends small messages and services the watch until one arrives; returns
 * the milliseconds it took, or -1 after WAIT_MS. */
static long small_arrives(struct fixture *fx)
{
	int64_t start = sm_clock_mono_ns();

	while (sm_clock_mono_ns() - start < (int64_t)WAIT_MS * 1000000) {
		zmq_pollitem_t items[2] = {{.socket = fx->sub, .events = ZMQ_POLLIN},
					   sm_sockwatch_pollitem(fx->watch)};
		struct sm_frames f;

		if (fx->pub)
			assert_int_equal(sm_sock_send2(fx->pub, "small", 5, "ok", 2, 0), 0);
		zmq_poll(items, 2, sm_sockwatch_timeout_ms(fx->watch, sm_clock_mono_ns(), 20));
		sm_sockwatch_service(fx->watch, sm_clock_mono_ns());
		while (sm_sock_recv2(fx->sub, &f, ZMQ_DONTWAIT) == 0) {
			bool small = zmq_msg_size(&f.topic) == 5;

			sm_frames_close(&f);
			if (small)
				return (long)((sm_clock_mono_ns() - start) / 1000000);
		}
	}
	return -1;
}

/* Reads and discards for `ms`, so no message sent earlier is still queued. */
static void drain(struct fixture *fx, int ms)
{
	int64_t end = sm_clock_mono_ns() + (int64_t)ms * 1000000;
	struct sm_frames f;

	while (sm_clock_mono_ns() < end) {
		sm_sockwatch_service(fx->watch, sm_clock_mono_ns());
		while (sm_sock_recv2(fx->sub, &f, ZMQ_DONTWAIT) == 0)
			sm_frames_close(&f);
		usleep(10 * 1000);
	}
}

static void sockwatch_connects_again_after_oversized_message_drop(void **state)
{
	struct fixture *fx = *state;
	static char big[4096];
	char *log;
	long ms;

	start(fx);
	assert_true(small_arrives(fx) >= 0);
	assert_int_equal(sm_sockwatch_disconnects(fx->watch), 0);
	drain(fx, 200);

	log_capture(fx);
	memset(big, 'x', sizeof(big));
	assert_int_equal(sm_sock_send2(fx->pub, "big", 3, big, sizeof(big), 0), 0);
	ms = small_arrives(fx);
	drain(fx, 200); /* the handshake event may come after the first message */
	log = log_release(fx);
	assert_true(ms >= 0);
	assert_int_equal(sm_sockwatch_disconnects(fx->watch), 1);
	assert_int_equal(sm_sockwatch_reconnects(fx->watch), 1);
	/* One line for the loss, naming the endpoint and the limit; one when back. */
	assert_non_null(strstr(log, "subscription to ipc://"));
	assert_non_null(strstr(log, "max_msg_size = 1024 bytes"));
	assert_non_null(strstr(log, "ZeroMQ does not reconnect"));
	assert_non_null(strstr(log, "is working again"));
	print_message("back %ld ms after the oversized message\n", ms);
	free(log);

	/* A second drop soon after waits longer (back-off), and still recovers. */
	drain(fx, 200);
	assert_int_equal(sm_sock_send2(fx->pub, "big", 3, big, sizeof(big), 0), 0);
	assert_true(small_arrives(fx) >= 0);
	assert_int_equal(sm_sockwatch_disconnects(fx->watch), 2);
	assert_int_equal(sm_sockwatch_reconnects(fx->watch), 2);
}

/* The control: without the watch's service, libzmq leaves the SUB silent. */
static void sockwatch_unserviced_sub_stays_silent_after_oversized_message(void **state)
{
	struct fixture *fx = *state;
	static char big[4096];
	struct sm_frames f;
	bool got = false;

	start(fx);
	assert_true(small_arrives(fx) >= 0);
	drain(fx, 200);
	memset(big, 'x', sizeof(big));
	assert_int_equal(sm_sock_send2(fx->pub, "big", 3, big, sizeof(big), 0), 0);
	for (int i = 0; i < 20 && !got; i++) { /* 2 s; the watch needs ~0.3 s */
		assert_int_equal(sm_sock_send2(fx->pub, "small", 5, "ok", 2, 0), 0);
		usleep(100 * 1000);
		while (sm_sock_recv2(fx->sub, &f, ZMQ_DONTWAIT) == 0) {
			got = got || zmq_msg_size(&f.topic) == 5;
			sm_frames_close(&f);
		}
	}
	/* libzmq 4.3.4 ends the session for good: the reason sm_sockwatch exists. */
	assert_false(got);
	/* Serviced at last, the watch does its part and the flow resumes. */
	assert_true(small_arrives(fx) >= 0);
}

static void sockwatch_leaves_a_restarted_peer_to_zeromq(void **state)
{
	struct fixture *fx = *state;
	char *log;

	start(fx);
	assert_true(small_arrives(fx) >= 0);
	log_capture(fx);
	sm_sock_close(&fx->pub);
	for (int i = 0; i < 10; i++) { /* let the watch see the loss */
		sm_sockwatch_service(fx->watch, sm_clock_mono_ns());
		usleep(50 * 1000);
	}
	fx->pub = sm_sock_new(fx->zctx, ZMQ_PUB, NULL);
	assert_non_null(fx->pub);
	assert_int_equal(sm_sock_bind(fx->pub, fx->ep), 0);
	assert_true(small_arrives(fx) >= 0);
	/* The handshake event may come after the first message, and later
	 * still on a loaded machine: wait for it, up to 5 s. */
	for (int i = 0; i < 50 && !log_has(fx, "is working again"); i++)
		drain(fx, 100);
	log = log_release(fx);
	assert_int_equal(sm_sockwatch_disconnects(fx->watch), 1);
	assert_int_equal(sm_sockwatch_reconnects(fx->watch), 0);
	assert_non_null(strstr(log, "connection closed"));
	assert_null(strstr(log, "max_msg_size"));
	assert_non_null(strstr(log, "is working again"));
	free(log);
}

/* A heartbeat says the collector's max_frame: a larger one than ours is
 * warned about once per collector and value, before any frame is lost. */
static void sockwatch_warns_once_when_a_collector_relays_more(void **state)
{
	struct fixture *fx = *state;
	struct sm_message hb = {0}, stats = {0};
	char *log;

	fx->sub = sm_sock_new(fx->zctx, ZMQ_SUB, &fx->opts);
	fx->watch = sm_sockwatch_new(fx->zctx, fx->sub, &fx->opts);
	assert_non_null(fx->watch);
	hb.hdr.kind = SM_KIND_HEARTBEAT;
	snprintf(hb.hdr.host, sizeof(hb.hdr.host), "c1");
	hb.u.hb.interval = 1;
	stats.hdr.kind = SM_KIND_STATS;

	log_capture(fx);
	hb.u.hb.max_frame = 16777216;
	sm_sockwatch_note_heartbeat(fx->watch, &hb, 8388608);
	sm_sockwatch_note_heartbeat(fx->watch, &hb, 8388608); /* same: silent */
	hb.u.hb.max_frame = 0;				      /* an older collector */
	sm_sockwatch_note_heartbeat(fx->watch, &hb, 8388608);
	sm_sockwatch_note_heartbeat(fx->watch, &stats, 8388608);
	sm_sockwatch_note_heartbeat(NULL, &hb, 8388608);
	snprintf(hb.hdr.host, sizeof(hb.hdr.host), "c2");
	hb.u.hb.max_frame = 8388608; /* equal: fine */
	sm_sockwatch_note_heartbeat(fx->watch, &hb, 8388608);
	snprintf(hb.hdr.host, sizeof(hb.hdr.host), "c1");
	hb.u.hb.max_frame = 4096; /* c1 brought in line */
	sm_sockwatch_note_heartbeat(fx->watch, &hb, 8388608);
	log = log_release(fx);
	assert_non_null(strstr(log, "collector c1 relays bodies up to max_frame = 16777216 bytes, "
				    "more than this side's max_frame = 8388608"));
	assert_non_null(strstr(log, "max_msg_size costs the subscription"));
	assert_null(strstr(strstr(log, "16777216 bytes") + 1, "16777216 bytes")); /* once */
	assert_null(strstr(log, "collector c2"));
	assert_non_null(strstr(log, "collector c1 now relays bodies up to max_frame = 4096"));
	free(log);
}

static void sockwatch_refuses_malformed_endpoint(void **state)
{
	struct fixture *fx = *state;

	fx->sub = sm_sock_new(fx->zctx, ZMQ_SUB, &fx->opts);
	fx->watch = sm_sockwatch_new(fx->zctx, fx->sub, &fx->opts);
	assert_non_null(fx->watch);
	assert_int_equal(sm_sockwatch_connect(fx->watch, "nonsense://x"), -1);
	assert_int_equal(sm_sockwatch_connect(fx->watch, "ipc:///tmp/x@"), -1);
	/* Nothing watched: no timeout of its own, service is harmless. */
	assert_int_equal(sm_sockwatch_timeout_ms(fx->watch, sm_clock_mono_ns(), -1), -1);
	assert_int_equal(sm_sockwatch_timeout_ms(fx->watch, sm_clock_mono_ns(), 70), 70);
	sm_sockwatch_service(fx->watch, sm_clock_mono_ns());
	sm_sockwatch_service(NULL, 0);
	assert_int_equal(sm_sockwatch_disconnects(NULL), 0);
}

/* A consumer's subscription from its configuration: the fan-out's frames
 * of its kinds and host prefixes and every heartbeat arrive through the
 * `subscribe` endpoint; others do not; a bad endpoint leaves nothing open. */
static void sockwatch_subscribe_follows_the_configuration(void **state)
{
	static const struct sm_config_key keys[] = {
	    {"subscribe", SM_CFG_LIST, 0, 0, NULL, "fan-outs"}, SM_SOCK_HOST_PREFIX_KEY};
	static const char *const kinds[] = {"stats"};
	static const char *const topics[] = {"stats/cn-a1/", "event/cn-a1/", "stats/cn-b1/",
					     "hb/master/"};
	struct fixture *fx = *state;
	struct sm_config *cfg = sm_config_new(keys, 2);
	bool seen[4] = {false};
	char err[200];
	void *sub = NULL;

	assert_non_null(cfg);
	assert_int_equal(sm_config_set(cfg, "subscribe", fx->ep, "--subscribe", err, sizeof(err)), 0);
	assert_int_equal(sm_config_set(cfg, "host_prefix", "cn-a", "--host-prefix", err,
				       sizeof(err)),
			 0);
	fx->pub = sm_sock_new(fx->zctx, ZMQ_PUB, NULL);
	assert_int_equal(sm_sock_bind(fx->pub, fx->ep), 0);
	fx->watch = sm_sockwatch_subscribe(fx->zctx, cfg, &fx->opts, kinds, 1, &fx->sub);
	assert_non_null(fx->watch);
	assert_non_null(fx->sub);
	for (int i = 0; i < WAIT_MS / 50 && !(seen[0] && seen[3]); i++) {
		zmq_pollitem_t item = {fx->sub, 0, ZMQ_POLLIN, 0};
		struct sm_frames f;

		for (size_t t = 0; t < 4; t++)
			assert_int_equal(sm_sock_send2(fx->pub, topics[t], strlen(topics[t]), "b", 1, 0),
					 0);
		while (zmq_poll(&item, 1, 50) > 0 && sm_sock_recv2(fx->sub, &f, ZMQ_DONTWAIT) == 0) {
			for (size_t t = 0; t < 4; t++)
				if (zmq_msg_size(&f.topic) == strlen(topics[t]) &&
				    memcmp(zmq_msg_data(&f.topic), topics[t], strlen(topics[t])) == 0)
					seen[t] = true;
			sm_frames_close(&f);
		}
	}
	assert_true(seen[0] && seen[3]);  /* its kind and prefix, and heartbeats */
	assert_false(seen[1] || seen[2]); /* not another kind, not another host */
	sm_config_destroy(&cfg);

	cfg = sm_config_new(keys, 2);
	assert_non_null(cfg);
	assert_int_equal(sm_config_set(cfg, "subscribe", "nonsense://x", "--subscribe", err,
				       sizeof(err)),
			 0);
	log_capture(fx);
	assert_null(sm_sockwatch_subscribe(fx->zctx, cfg, &fx->opts, kinds, 1, &sub));
	free(log_release(fx));
	assert_null(sub);
	sm_config_destroy(&cfg);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(sockwatch_connects_again_after_oversized_message_drop),
	    T(sockwatch_unserviced_sub_stays_silent_after_oversized_message),
	    T(sockwatch_leaves_a_restarted_peer_to_zeromq),
	    T(sockwatch_warns_once_when_a_collector_relays_more),
	    T(sockwatch_refuses_malformed_endpoint),
	    T(sockwatch_subscribe_follows_the_configuration),
	};

	sm_log_open("smtest", SM_LOG_INFO, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
