/*
 * Tests of sm_sock with real ZeroMQ sockets: inproc:// for message shape
 * (two frames, one, three), ipc:// in a temp dir where the transport
 * matters (high-water mark, ZMQ_MAXMSGSIZE). Every wait is bounded by a
 * generous timeout; nothing depends on the machine's speed.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sm_cert.h"
#include "sm_config.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_wire.h"

#define WAIT_MS 10000 /* upper bound on any single wait */

/* Per-test fixture: a context, a temp dir for ipc endpoints, sockets to close. */
struct fixture {
	void *zctx;
	char dir[64];
	void *socks[4];
	int saved_err;	    /* fd 2 while capturing, else -1 */
	char err_path[128]; /* capture file */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sm-test-sock-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->err_path, sizeof(fx->err_path), "%s/stderr", fx->dir);
	fx->zctx = zmq_ctx_new();
	fx->saved_err = -1;
	sm_log_open("smtest", SM_LOG_INFO, false);
	*state = fx;
	return fx->zctx ? 0 : -1;
}

static char *capture_stop(struct fixture *fx);

static int teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	DIR *dir;
	int rc;

	free(capture_stop(fx));
	for (size_t i = 0; i < sizeof(fx->socks) / sizeof(fx->socks[0]); i++)
		sm_sock_close(&fx->socks[i]);
	zmq_ctx_term(fx->zctx);
	/* libzmq leaves the ipc files of bound sockets behind: remove every
	 * entry (the dir is flat), then the dir. */
	dir = opendir(fx->dir);
	while (dir && (de = readdir(dir)) != NULL) {
		char path[384];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", fx->dir, de->d_name);
		unlink(path);
	}
	if (dir)
		closedir(dir);
	rc = rmdir(fx->dir);
	free(fx);
	return rc;
}

static void capture_start(struct fixture *fx)
{
	FILE *f = fopen(fx->err_path, "w");

	assert_non_null(f);
	fflush(stderr);
	fx->saved_err = dup(STDERR_FILENO);
	dup2(fileno(f), STDERR_FILENO);
	fclose(f);
}

static char *capture_stop(struct fixture *fx)
{
	char *buf;
	FILE *f;
	size_t n = 0;

	if (fx->saved_err < 0)
		return NULL;
	dup2(fx->saved_err, STDERR_FILENO);
	close(fx->saved_err);
	fx->saved_err = -1;
	buf = calloc(1, 4096);
	f = fopen(fx->err_path, "r");
	if (f && buf)
		n = fread(buf, 1, 4095, f);
	if (buf)
		buf[n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

/* A socket with default options, closed by teardown. */
static void *new_sock(struct fixture *fx, int slot, int type, const struct sm_sock_opts *opts)
{
	struct sm_sock_opts defaults;

	if (!opts) {
		sm_sock_opts_default(&defaults);
		opts = &defaults;
	}
	fx->socks[slot] = sm_sock_new(fx->zctx, type, opts);
	assert_non_null(fx->socks[slot]);
	return fx->socks[slot];
}

/* Receives one message, waiting at most ms; returns sm_sock_recv2's result. */
static int recv_within(void *sock, struct sm_frames *f, int ms)
{
	zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};

	if (zmq_poll(&item, 1, ms) <= 0) {
		errno = EAGAIN;
		return -1;
	}
	return sm_sock_recv2(sock, f, ZMQ_DONTWAIT);
}

static void assert_frame(zmq_msg_t *m, const char *text)
{
	assert_int_equal(zmq_msg_size(m), strlen(text));
	assert_memory_equal(zmq_msg_data(m), text, strlen(text));
}

static void sock_pub_sub_round_trip_of_two_frames(void **state)
{
	struct fixture *fx = *state;
	void *pub = new_sock(fx, 0, ZMQ_PUB, NULL);
	void *sub = new_sock(fx, 1, ZMQ_SUB, NULL);
	struct sm_frames f;
	int got = -1;

	assert_int_equal(sm_sock_bind(pub, "inproc://pubsub"), 0);
	assert_int_equal(sm_sock_connect(sub, "inproc://pubsub"), 0);
	assert_int_equal(sm_sock_subscribe(sub, "stats/"), 0);
	/* A subscription takes a moment to reach the publisher: resend until
	 * one arrives (bounded). */
	for (int i = 0; i < WAIT_MS / 50 && got < 0; i++) {
		assert_int_equal(sm_sock_send2(pub, "other/h/", 8, "no", 2, 0), 0);
		assert_int_equal(sm_sock_send2(pub, "stats/h/", 8, "body", 4, 0), 0);
		got = recv_within(sub, &f, 50);
	}
	assert_int_equal(got, 0);
	assert_int_equal(f.parts, 2);
	assert_frame(&f.topic, "stats/h/");
	assert_frame(&f.body, "body");
	sm_frames_close(&f);
	sm_frames_close(&f); /* idempotent */
}

/* host_prefix: the subscription names the hosts, so the publisher sends
 * only theirs; a prefix that cannot start a host name is refused before
 * anything is subscribed. */
static void sock_subscribe_hosts_takes_only_the_prefixed_hosts(void **state)
{
	static const struct sm_config_key keys[] = {SM_SOCK_HOST_PREFIX_KEY};
	static const char *const kinds[] = {"stats", "event"};
	struct fixture *fx = *state;
	struct sm_config *cfg = sm_config_new(keys, 1);
	void *pub = new_sock(fx, 0, ZMQ_PUB, NULL);
	void *sub = new_sock(fx, 1, ZMQ_SUB, NULL);
	const char *topics[] = {"stats/cn-b1/", "event/cn-a7/", "hb/cn-a1/", "stats/cn-a1/",
				"stats/xcn-a1/"};
	bool seen[5] = {false};
	struct sm_frames f;
	char err[200];

	assert_non_null(cfg);
	assert_int_equal(sm_sock_host_prefix_check(cfg, err, sizeof(err)), 0);
	assert_int_equal(sm_config_set(cfg, "host_prefix", "cn-a", "--host-prefix", err, sizeof(err)), 0);
	assert_int_equal(sm_config_set(cfg, "host_prefix", "cn-c", "--host-prefix", err, sizeof(err)), 0);
	assert_int_equal(sm_sock_host_prefix_check(cfg, err, sizeof(err)), 0);
	assert_int_equal(sm_config_list_count(cfg, "host_prefix"), 2);
	assert_int_equal(sm_sock_bind(pub, "inproc://hosts"), 0);
	assert_int_equal(sm_sock_connect(sub, "inproc://hosts"), 0);
	assert_int_equal(sm_sock_subscribe_hosts(sub, cfg, kinds, 2), 0);
	for (int i = 0; i < WAIT_MS / 50 && !(seen[1] && seen[3]); i++) {
		for (size_t t = 0; t < 5; t++)
			assert_int_equal(sm_sock_send2(pub, topics[t], strlen(topics[t]), "b", 1, 0),
					 0);
		while (recv_within(sub, &f, 50) == 0) {
			for (size_t t = 0; t < 5; t++)
				if (zmq_msg_size(&f.topic) == strlen(topics[t]) &&
				    memcmp(zmq_msg_data(&f.topic), topics[t], strlen(topics[t])) == 0)
					seen[t] = true;
			sm_frames_close(&f);
		}
	}
	assert_true(seen[1] && seen[3]);	      /* cn-a's stats and events */
	assert_false(seen[0] || seen[2] || seen[4]); /* not cn-b's, not hb/, not xcn-a */
	sm_config_destroy(&cfg);

	/* bad prefixes: -n's check names the item, and nothing is subscribed */
	for (size_t b = 0; b < 2; b++) {
		cfg = sm_config_new(keys, 1);
		assert_non_null(cfg);
		assert_int_equal(sm_config_set(cfg, "host_prefix", b ? "cn/a" : "cn*a", "--host-prefix", err,
					       sizeof(err)),
				 0);
		assert_int_equal(sm_sock_host_prefix_check(cfg, err, sizeof(err)), -1);
		assert_non_null(strstr(err, b ? "'cn/a'" : "'cn*a'"));
		capture_start(fx);
		assert_int_equal(sm_sock_subscribe_hosts(fx->socks[1], cfg, kinds, 2), -1);
		free(capture_stop(fx));
		sm_config_destroy(&cfg);
	}
}

static void sock_recv_counts_one_and_three_frame_messages(void **state)
{
	struct fixture *fx = *state;
	void *push = new_sock(fx, 0, ZMQ_PUSH, NULL);
	void *pull = new_sock(fx, 1, ZMQ_PULL, NULL);
	struct sm_frames f;

	assert_int_equal(sm_sock_bind(pull, "inproc://parts"), 0);
	assert_int_equal(sm_sock_connect(push, "inproc://parts"), 0);

	assert_int_equal(zmq_send(push, "only", 4, 0), 4);
	assert_int_equal(zmq_send(push, "a", 1, ZMQ_SNDMORE), 1);
	assert_int_equal(zmq_send(push, "bb", 2, ZMQ_SNDMORE), 2);
	assert_int_equal(zmq_send(push, "ccc", 3, 0), 3);
	assert_int_equal(zmq_send(push, "w", 1, ZMQ_SNDMORE), 1);
	assert_int_equal(zmq_send(push, "x", 1, ZMQ_SNDMORE), 1);
	assert_int_equal(zmq_send(push, "y", 1, ZMQ_SNDMORE), 1);
	assert_int_equal(zmq_send(push, "z", 1, 0), 1);
	assert_int_equal(sm_sock_send2(push, "t", 1, "", 0, 0), 0);

	assert_int_equal(recv_within(pull, &f, WAIT_MS), 0);
	assert_int_equal(f.parts, 1);
	assert_frame(&f.topic, "only");
	assert_int_equal(zmq_msg_size(&f.body), 0);
	sm_frames_close(&f);

	assert_int_equal(recv_within(pull, &f, WAIT_MS), 0);
	assert_int_equal(f.parts, 3);
	assert_frame(&f.topic, "a");
	assert_frame(&f.body, "bb");
	assert_frame(&f.origin, "ccc"); /* the third frame is kept */
	sm_frames_close(&f);

	/* Four frames: three kept, the fourth counted and drained. */
	assert_int_equal(recv_within(pull, &f, WAIT_MS), 0);
	assert_int_equal(f.parts, 4);
	assert_frame(&f.origin, "y");
	sm_frames_close(&f);

	/* The extra frame was drained: the next message starts clean. */
	assert_int_equal(recv_within(pull, &f, WAIT_MS), 0);
	assert_int_equal(f.parts, 2);
	assert_frame(&f.topic, "t");
	assert_int_equal(zmq_msg_size(&f.body), 0);
	assert_int_equal(zmq_msg_size(&f.origin), 0);
	sm_frames_close(&f);
}

static void sock_recv_without_message_returns_eagain(void **state)
{
	struct fixture *fx = *state;
	void *pull = new_sock(fx, 0, ZMQ_PULL, NULL);
	struct sm_frames f;

	assert_int_equal(sm_sock_bind(pull, "inproc://empty"), 0);
	errno = 0;
	assert_int_equal(sm_sock_recv2(pull, &f, ZMQ_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(f.parts, 0);
	sm_frames_close(&f); /* harmless after a failed receive */
}

static volatile sig_atomic_t alarm_seen;

static void on_alarm(int sig)
{
	(void)sig;
	alarm_seen = 1;
}

static void sock_blocking_recv_returns_eintr_on_signal(void **state)
{
	struct fixture *fx = *state;
	void *pull = new_sock(fx, 0, ZMQ_PULL, NULL);
	struct sigaction sa = {.sa_handler = on_alarm}, old;
	struct itimerval it = {{0, 0}, {0, 100000}};
	int timeout = WAIT_MS; /* a lost signal ends the wait with EAGAIN, not a hang */
	struct sm_frames f;

	assert_int_equal(sm_sock_bind(pull, "inproc://eintr"), 0);
	zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &it, NULL);
	errno = 0;
	assert_int_equal(sm_sock_recv2(pull, &f, 0), -1);
	assert_int_equal(errno, EINTR);
	assert_true(alarm_seen);
	sigaction(SIGALRM, &old, NULL);
}

static void sock_bad_endpoints_fail_and_log_reason(void **state)
{
	struct fixture *fx = *state;
	void *s = new_sock(fx, 0, ZMQ_PUB, NULL);
	char nodir[160], *log;

	snprintf(nodir, sizeof(nodir), "ipc://%s/no/such/dir/sock", fx->dir);
	capture_start(fx);
	errno = 0;
	assert_int_equal(sm_sock_bind(s, "bogus://x"), -1);
	assert_int_equal(errno, EPROTONOSUPPORT);
	assert_int_equal(sm_sock_connect(s, "tcp://no-port"), -1);
	assert_int_equal(sm_sock_bind(s, nodir), -1);
	assert_int_equal(sm_sock_disconnect(s, "tcp://127.0.0.1:1"), -1);
	log = capture_stop(fx);
	assert_non_null(log);
	assert_non_null(
	    strstr(log, "smtest: error: cannot bind bogus://x: Protocol not supported\n"));
	assert_non_null(strstr(log, "cannot connect to tcp://no-port: "));
	assert_non_null(strstr(log, nodir));
	assert_non_null(strstr(log, "cannot disconnect from tcp://127.0.0.1:1"));
	free(log);
}

static void sock_send_without_peer_returns_eagain(void **state)
{
	struct fixture *fx = *state;
	char ep[160];
	void *push = new_sock(fx, 0, ZMQ_PUSH, NULL);

	snprintf(ep, sizeof(ep), "ipc://%s/nobody", fx->dir);
	assert_int_equal(sm_sock_bind(push, ep), 0);
	errno = 0;
	assert_int_equal(sm_sock_send2(push, "t", 1, "b", 1, ZMQ_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

static void sock_send_returns_eagain_at_high_water_mark(void **state)
{
	struct fixture *fx = *state;
	struct sm_sock_opts opts;
	char ep[160];
	void *dealer;
	int sent = 0, rc = 0;

	sm_sock_opts_default(&opts);
	opts.sndhwm = 1;
	opts.rcvhwm = 1;
	dealer = new_sock(fx, 0, ZMQ_DEALER, &opts);
	/* Connected to an endpoint nobody listens on: messages queue locally
	 * until the mark, then a non-blocking send must refuse. */
	snprintf(ep, sizeof(ep), "ipc://%s/absent", fx->dir);
	assert_int_equal(sm_sock_connect(dealer, ep), 0);
	while (sent < 1000 && (rc = sm_sock_send2(dealer, "t", 1, "body", 4, ZMQ_DONTWAIT)) == 0)
		sent++;
	assert_int_equal(rc, -1);
	assert_int_equal(errno, EAGAIN);
	assert_true(sent >= 1 && sent <= 10);
}

static void sock_max_msg_size_drops_oversized_message_over_ipc(void **state)
{
	struct fixture *fx = *state;
	struct sm_sock_opts small;
	static char big[4096];
	struct sm_frames f;
	char ep[160];
	void *pull, *push;
	bool got_small = false, got_big = false;

	sm_sock_opts_default(&small);
	small.max_msg_size = 1024;
	pull = new_sock(fx, 0, ZMQ_PULL, &small);
	push = new_sock(fx, 1, ZMQ_PUSH, NULL);
	snprintf(ep, sizeof(ep), "ipc://%s/max", fx->dir);
	assert_int_equal(sm_sock_bind(pull, ep), 0);
	assert_int_equal(sm_sock_connect(push, ep), 0);

	memset(big, 'x', sizeof(big));
	assert_int_equal(sm_sock_send2(push, "big", 3, big, sizeof(big), 0), 0);
	/* The receiver drops the connection that carried the big frame; the
	 * sender reconnects, and small messages flow again. */
	for (int i = 0; i < WAIT_MS / 100 && !got_small; i++) {
		assert_int_equal(sm_sock_send2(push, "small", 5, "ok", 2, 0), 0);
		while (recv_within(pull, &f, 100) == 0) {
			if (zmq_msg_size(&f.topic) == 3)
				got_big = true;
			else
				got_small = true;
			sm_frames_close(&f);
		}
	}
	assert_true(got_small);
	assert_false(got_big);
}

static void sock_max_msg_size_default_lets_big_frame_through(void **state)
{
	/* The control for the test above: same frame, default limit. */
	struct fixture *fx = *state;
	static char big[4096];
	struct sm_frames f;
	char ep[160];
	void *pull = new_sock(fx, 0, ZMQ_PULL, NULL);
	void *push = new_sock(fx, 1, ZMQ_PUSH, NULL);

	snprintf(ep, sizeof(ep), "ipc://%s/max-default", fx->dir);
	assert_int_equal(sm_sock_bind(pull, ep), 0);
	assert_int_equal(sm_sock_connect(push, ep), 0);
	assert_int_equal(sm_sock_send2(push, "big", 3, big, sizeof(big), 0), 0);
	assert_int_equal(recv_within(pull, &f, WAIT_MS), 0);
	assert_int_equal(zmq_msg_size(&f.body), sizeof(big));
	sm_frames_close(&f);
}

static int get_int(void *sock, int option)
{
	int v = -12345;
	size_t len = sizeof(v);

	assert_int_equal(zmq_getsockopt(sock, option, &v, &len), 0);
	return v;
}

static void sock_new_applies_every_option(void **state)
{
	struct fixture *fx = *state;
	struct sm_sock_opts opts;
	int64_t maxmsg = 0;
	size_t len = sizeof(maxmsg);
	void *s;

	sm_sock_opts_default(&opts);
	opts.sndhwm = 11;
	opts.rcvhwm = 12;
	opts.linger_ms = 13;
	opts.reconnect_ivl_ms = 14;
	opts.reconnect_ivl_max_ms = 15000;
	opts.tcp_keepalive = true;
	opts.tcp_keepalive_idle_s = 17;
	opts.max_msg_size = 1818;
	s = new_sock(fx, 0, ZMQ_SUB, &opts);
	assert_int_equal(get_int(s, ZMQ_SNDHWM), 11);
	assert_int_equal(get_int(s, ZMQ_RCVHWM), 12);
	assert_int_equal(get_int(s, ZMQ_LINGER), 13);
	assert_int_equal(get_int(s, ZMQ_RECONNECT_IVL), 14);
	assert_int_equal(get_int(s, ZMQ_RECONNECT_IVL_MAX), 15000);
	assert_int_equal(get_int(s, ZMQ_TCP_KEEPALIVE), 1);
	assert_int_equal(get_int(s, ZMQ_TCP_KEEPALIVE_IDLE), 17);
	assert_int_equal(zmq_getsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, &len), 0);
	assert_int_equal(maxmsg, 1818);

	opts.tcp_keepalive = false;
	s = new_sock(fx, 1, ZMQ_SUB, &opts);
	assert_int_equal(get_int(s, ZMQ_TCP_KEEPALIVE), 0);
}

/* Writes a key pair NAME.key / NAME.key_secret in the fixture's dir and
 * returns opts with curve on and that pair loaded (server key: `server`'s
 * public file, or none when NULL). */
static void curve_opts(struct fixture *fx, const char *name, const char *server,
		       struct sm_sock_opts *opts)
{
	struct sm_config *cfg = sm_config_new(sm_sock_config_keys, sm_sock_config_nkeys);
	struct sm_cert c = {0};
	char err[4400], path[256];

	snprintf(path, sizeof(path), "%s/%s.key_secret", fx->dir, name);
	if (access(path, F_OK) != 0) {
		assert_int_equal(sm_cert_generate(&c), 0);
		assert_int_equal(sm_cert_save(&c, fx->dir, name, false, err, sizeof(err)), 0);
		sm_cert_clear(&c);
	}
	assert_int_equal(sm_config_set(cfg, "curve", "yes", "test", err, sizeof(err)), 0);
	assert_int_equal(sm_config_set(cfg, "curve_secret_key", path, "test", err, sizeof(err)), 0);
	if (server) {
		snprintf(path, sizeof(path), "%s/%s.key", fx->dir, server);
		assert_int_equal(
		    sm_config_set(cfg, "curve_server_key", path, "test", err, sizeof(err)), 0);
	}
	assert_int_equal(sm_sock_opts_from_config(opts, cfg), 0);
	sm_config_destroy(&cfg);
}

/* True when `sub` receives what `pub` keeps sending within ms. */
static bool gets_through(void *pub, void *sub, int ms)
{
	for (int waited = 0; waited < ms; waited += 50) {
		struct sm_frames f;

		sm_sock_send2(pub, "t", 1, "b", 1, ZMQ_DONTWAIT);
		if (recv_within(sub, &f, 50) == 0) {
			sm_frames_close(&f);
			return true;
		}
	}
	return false;
}

static void sock_curve_client_with_server_key_talks_to_curve_server(void **state)
{
	struct fixture *fx = *state;
	struct sm_sock_opts srv, cli, stranger;
	char ep[128];
	void *pub, *sub;

	snprintf(ep, sizeof(ep), "ipc://%s/curve", fx->dir);
	curve_opts(fx, "server", NULL, &srv);
	curve_opts(fx, "client", "server", &cli);
	curve_opts(fx, "other", "other", &stranger); /* trusts the wrong server key */
	pub = new_sock(fx, 0, ZMQ_PUB, &srv);
	assert_int_equal(sm_sock_bind(pub, ep), 0);

	sub = new_sock(fx, 1, ZMQ_SUB, &cli);
	assert_int_equal(sm_sock_subscribe(sub, ""), 0);
	assert_int_equal(sm_sock_connect(sub, ep), 0);
	assert_true(gets_through(pub, sub, WAIT_MS));
	sm_sock_close(&fx->socks[1]);

	/* A client that expects another server key, and a plain client: the
	 * handshake fails, nothing is delivered. */
	sub = new_sock(fx, 2, ZMQ_SUB, &stranger);
	assert_int_equal(sm_sock_subscribe(sub, ""), 0);
	assert_int_equal(sm_sock_connect(sub, ep), 0);
	assert_false(gets_through(pub, sub, 1000));
	sub = new_sock(fx, 3, ZMQ_SUB, NULL);
	assert_int_equal(sm_sock_subscribe(sub, ""), 0);
	assert_int_equal(sm_sock_connect(sub, ep), 0);
	assert_false(gets_through(pub, sub, 1000));
}

static void sock_connect_takes_the_server_key_file_after_at(void **state)
{
	struct fixture *fx = *state;
	struct sm_sock_opts srv, cli;
	char ep[128], spec[384];
	void *pub, *sub;
	char *log;

	snprintf(ep, sizeof(ep), "ipc://%s/curve-at", fx->dir);
	curve_opts(fx, "server", NULL, &srv);
	curve_opts(fx, "client", NULL, &cli); /* no default server key */
	pub = new_sock(fx, 0, ZMQ_PUB, &srv);
	assert_int_equal(sm_sock_bind(pub, ep), 0);
	sub = new_sock(fx, 1, ZMQ_SUB, &cli);
	assert_int_equal(sm_sock_subscribe(sub, ""), 0);
	/* Without any server key the connection could never work: refused. */
	capture_start(fx);
	assert_int_equal(sm_sock_connect(sub, ep), -1);
	log = capture_stop(fx);
	assert_non_null(strstr(log, "no CURVE server key"));
	free(log);
	snprintf(spec, sizeof(spec), "%s@%s/server.key", ep, fx->dir);
	assert_int_equal(sm_sock_connect(sub, spec), 0);
	assert_true(gets_through(pub, sub, WAIT_MS));
	assert_int_equal(sm_sock_disconnect(sub, spec), 0);
	/* A key file that is not there is named. */
	snprintf(spec, sizeof(spec), "%s@%s/nobody.key", ep, fx->dir);
	capture_start(fx);
	assert_int_equal(sm_sock_connect(sub, spec), -1);
	log = capture_stop(fx);
	assert_non_null(strstr(log, "nobody.key"));
	free(log);
}

static void sock_endpoint_split_keeps_abstract_ipc_names(void **state)
{
	char ep[64];
	const char *key;

	(void)state;
	assert_int_equal(sm_endpoint_split("tcp://h:5555@/k/c.key", ep, sizeof(ep), &key), 0);
	assert_string_equal(ep, "tcp://h:5555");
	assert_string_equal(key, "/k/c.key");
	assert_int_equal(sm_endpoint_split("ipc://@abstract", ep, sizeof(ep), &key), 0);
	assert_string_equal(ep, "ipc://@abstract");
	assert_null(key);
	assert_int_equal(sm_endpoint_split("ipc://@abs@k.key", ep, sizeof(ep), &key), 0);
	assert_string_equal(ep, "ipc://@abs");
	assert_string_equal(key, "k.key");
	assert_int_equal(sm_endpoint_split("tcp://h:1=tcp://h:2@k", ep, sizeof(ep), &key), 0);
	assert_string_equal(ep, "tcp://h:1=tcp://h:2");
	assert_int_equal(sm_endpoint_split("tcp://h:1@", ep, sizeof(ep), &key), -1);
}

static void sock_opts_refuse_open_missing_or_malformed_secret_key(void **state)
{
	struct fixture *fx = *state;
	struct sm_config *cfg = sm_config_new(sm_sock_config_keys, sm_sock_config_nkeys);
	struct sm_sock_opts opts;
	struct sm_cert c = {0};
	char err[4400], path[256], *log;

	assert_int_equal(sm_cert_generate(&c), 0);
	assert_int_equal(sm_cert_save(&c, fx->dir, "loose", false, err, sizeof(err)), 0);
	sm_cert_clear(&c);
	snprintf(path, sizeof(path), "%s/loose.key_secret", fx->dir);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(sm_config_set(cfg, "curve", "yes", "test", err, sizeof(err)), 0);
	/* curve without a key pair */
	capture_start(fx);
	assert_int_equal(sm_sock_opts_from_config(&opts, cfg), -1);
	log = capture_stop(fx);
	assert_non_null(strstr(log, "curve_secret_key"));
	free(log);
	/* group- and world-readable */
	assert_int_equal(sm_config_set(cfg, "curve_secret_key", path, "test", err, sizeof(err)), 0);
	capture_start(fx);
	assert_int_equal(sm_sock_opts_from_config(&opts, cfg), -1);
	log = capture_stop(fx);
	assert_non_null(strstr(log, path));
	assert_non_null(strstr(log, "mode 0644"));
	free(log);
	/* and then no socket at all, never a plain one */
	capture_start(fx);
	assert_null(sm_sock_new(fx->zctx, ZMQ_PUB, &opts));
	free(capture_stop(fx));
	/* the public half where the pair is wanted */
	snprintf(path, sizeof(path), "%s/loose.key", fx->dir);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(sm_config_set(cfg, "curve_secret_key", path, "test", err, sizeof(err)), 0);
	capture_start(fx);
	assert_int_equal(sm_sock_opts_from_config(&opts, cfg), -1);
	log = capture_stop(fx);
	assert_non_null(strstr(log, "loose.key: no curve secret-key"));
	free(log);
	/* curve = no ignores the key settings entirely */
	assert_int_equal(sm_config_set(cfg, "curve", "no", "test", err, sizeof(err)), 0);
	assert_int_equal(sm_sock_opts_from_config(&opts, cfg), 0);
	sm_config_destroy(&cfg);
}

static void sock_new_rejects_bad_option_value(void **state)
{
	struct fixture *fx = *state;
	struct sm_sock_opts opts;
	char *log;

	sm_sock_opts_default(&opts);
	opts.linger_ms = -5; /* zmq accepts -1 (forever) but nothing below */
	capture_start(fx);
	assert_null(sm_sock_new(fx->zctx, ZMQ_PUB, &opts));
	log = capture_stop(fx);
	assert_non_null(strstr(log, "zmq_setsockopt(ZMQ_LINGER, -5)"));
	free(log);
	capture_start(fx);
	assert_null(sm_sock_new(fx->zctx, 9999, NULL)); /* no such socket type */
	free(capture_stop(fx));
}

static void sock_config_keys_defaults_match_opts_default(void **state)
{
	struct sm_config *cfg = sm_config_new(sm_sock_config_keys, sm_sock_config_nkeys);
	struct sm_sock_opts a, b;
	char err[256];

	(void)state;
	assert_non_null(cfg);
	sm_sock_opts_default(&a);
	sm_sock_opts_from_config(&b, cfg);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(a.max_msg_size, SM_WIRE_FRAME_MAX_DEFAULT + SM_SOCK_FRAME_OVERHEAD);
	assert_int_equal(a.max_msg_size, SM_SOCK_MAX_MSG_DEFAULT);
	assert_int_equal(a.sndhwm, 10000);
	assert_int_equal(a.linger_ms, 200);

	assert_int_equal(sm_config_set(cfg, "hwm", "5", "--hwm", err, sizeof(err)), 0);
	assert_int_equal(
	    sm_config_set(cfg, "tcp_keepalive", "no", "--tcp-keepalive", err, sizeof(err)), 0);
	assert_int_equal(
	    sm_config_set(cfg, "max_msg_size", "-1", "--max-msg-size", err, sizeof(err)), 0);
	sm_sock_opts_from_config(&b, cfg);
	assert_int_equal(b.sndhwm, 5);
	assert_int_equal(b.rcvhwm, 5);
	assert_false(b.tcp_keepalive);
	assert_int_equal(b.max_msg_size, -1);
	assert_int_equal(sm_config_set(cfg, "hwm", "0", "--hwm", err, sizeof(err)), -1);
	assert_string_equal(err, "--hwm: 0 is out of range [1, 10000000]");
	assert_int_equal(
	    sm_config_set(cfg, "max_msg_size", "1073745921", "--max-msg-size", err, sizeof(err)),
	    -1);
	/* The largest max_frame (1 GiB) has a max_msg_size that fits it. */
	assert_int_equal(
	    sm_config_set(cfg, "max_msg_size", "1073745920", "--max-msg-size", err, sizeof(err)),
	    0);
	sm_config_destroy(&cfg);
}

/* Every max_msg_size the check lets through admits a max_frame body with
 * its overhead; everything else is refused naming both keys and values. */
static void sock_limits_check_refuses_max_msg_size_below_max_frame(void **state)
{
	const long long frame = SM_WIRE_FRAME_MAX_DEFAULT;
	const long long need = frame + SM_SOCK_FRAME_OVERHEAD;
	char err[512];

	(void)state;
	/* consistent: the defaults, no limit, more than needed */
	assert_int_equal(sm_sock_limits_check(SM_SOCK_MAX_MSG_DEFAULT, frame, err, sizeof(err)), 0);
	assert_int_equal(sm_sock_limits_check(-1, frame, err, sizeof(err)), 0);
	assert_int_equal(sm_sock_limits_check(need, frame, err, sizeof(err)), 0);
	assert_int_equal(sm_sock_limits_check(LLONG_MAX, 1, err, sizeof(err)), 0);

	/* equal to max_frame: no room for the frame's overhead (CURVE) */
	assert_int_equal(sm_sock_limits_check(frame, frame, err, sizeof(err)), -1);
	assert_string_equal(err,
			    "max_msg_size = 8388608 is smaller than max_frame = 8388608 + 4096 "
			    "bytes of frame overhead: ZeroMQ would drop, and not reconnect, a "
			    "peer sending a frame that max_frame allows; set max_msg_size to at "
			    "least 8392704, or -1 for no limit (and give every daemon along one "
			    "path the same max_frame)");
	assert_int_equal(sm_sock_limits_check(need - 1, frame, err, sizeof(err)), -1);
	/* the finding: a collector's 16 MiB frames into an 8 MiB limit */
	assert_int_equal(sm_sock_limits_check(SM_SOCK_MAX_MSG_DEFAULT, 16777216, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "max_msg_size = 8392704"));
	assert_non_null(strstr(err, "max_frame = 16777216"));
	/* 0 would drop every peer at its first frame */
	assert_int_equal(sm_sock_limits_check(0, frame, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "max_msg_size = 0 is smaller than max_frame = 8388608"));
	/* negative other than -1 */
	assert_int_equal(sm_sock_limits_check(-2, frame, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "max_msg_size = -2: give -1 (no limit)"));
	assert_int_equal(sm_sock_limits_check(LLONG_MIN, frame, err, sizeof(err)), -1);
	/* no body limit at all is a caller's mistake, refused all the same */
	assert_int_equal(sm_sock_limits_check(-1, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "max_frame = 0: must be at least 1 byte");
	assert_int_equal(sm_sock_limits_check(-1, -5, err, sizeof(err)), -1);
	/* max_frame + overhead would overflow: refused, not wrapped */
	assert_int_equal(sm_sock_limits_check(-1, LLONG_MAX, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too large"));
	assert_int_equal(sm_sock_limits_check(LLONG_MAX, LLONG_MAX - SM_SOCK_FRAME_OVERHEAD + 1,
					      err, sizeof(err)),
			 -1);
	assert_int_equal(
	    sm_sock_limits_check(LLONG_MAX, LLONG_MAX - SM_SOCK_FRAME_OVERHEAD, err, sizeof(err)),
	    0);
	/* a short buffer gets a truncated, terminated message */
	assert_int_equal(sm_sock_limits_check(1, frame, err, 8), -1);
	assert_int_equal(strlen(err), 7);
}

/* The socket file of an ipc:// bind is removed by its binder, but only
 * while it is still the file that bind made. */
static void sock_ipc_file_removed_only_while_still_ours(void **state)
{
	struct fixture *fx = *state;
	struct sm_ipc_file mine, theirs, other;
	char ep[200], path[160];

	snprintf(path, sizeof(path), "%s/in.ipc", fx->dir);
	snprintf(ep, sizeof(ep), "ipc://%s", path);
	assert_int_equal(sm_sock_bind(new_sock(fx, 0, ZMQ_SUB, NULL), ep), 0);
	sm_ipc_file_note(&mine, ep);
	assert_true(mine.noted);
	sm_sock_close(&fx->socks[0]);
	assert_int_equal(access(path, F_OK), 0); /* libzmq leaves it */
	sm_ipc_file_remove(&mine);
	assert_int_equal(access(path, F_OK), -1);
	assert_false(mine.noted);
	sm_ipc_file_remove(&mine); /* twice is harmless */

	/* A successor bound the same path before we cleaned up: its file stays.
	 * Many times: a filesystem that reuses a freed inode number at once
	 * (a fresh Debian root did) must not make its file look like ours. */
	for (int i = 0; i < 50; i++) {
		assert_int_equal(sm_sock_bind(new_sock(fx, 0, ZMQ_SUB, NULL), ep), 0);
		sm_ipc_file_note(&mine, ep);
		sm_sock_close(&fx->socks[0]);
		assert_int_equal(sm_sock_bind(new_sock(fx, 1, ZMQ_SUB, NULL), ep), 0);
		sm_ipc_file_note(&theirs, ep);
		assert_true(theirs.noted);
		sm_ipc_file_remove(&mine);
		assert_int_equal(access(path, F_OK), 0);
		sm_sock_close(&fx->socks[1]);
		sm_ipc_file_remove(&theirs);
		assert_int_equal(access(path, F_OK), -1);
	}

	/* Nothing is noted for other transports, wildcards or regular files. */
	sm_ipc_file_note(&other, "tcp://127.0.0.1:5555");
	assert_false(other.noted);
	sm_ipc_file_note(&other, "ipc://*");
	assert_false(other.noted);
	sm_ipc_file_note(&other, NULL);
	assert_false(other.noted);
	snprintf(ep, sizeof(ep), "ipc://%s", fx->err_path);
	fclose(fopen(fx->err_path, "w"));
	sm_ipc_file_note(&other, ep);
	assert_false(other.noted);
	sm_ipc_file_remove(&other);
	assert_int_equal(access(fx->err_path, F_OK), 0);
	sm_ipc_file_remove(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(sock_pub_sub_round_trip_of_two_frames),
	    T(sock_subscribe_hosts_takes_only_the_prefixed_hosts),
	    T(sock_recv_counts_one_and_three_frame_messages),
	    T(sock_recv_without_message_returns_eagain),
	    T(sock_blocking_recv_returns_eintr_on_signal),
	    T(sock_bad_endpoints_fail_and_log_reason),
	    T(sock_send_without_peer_returns_eagain),
	    T(sock_send_returns_eagain_at_high_water_mark),
	    T(sock_max_msg_size_drops_oversized_message_over_ipc),
	    T(sock_max_msg_size_default_lets_big_frame_through),
	    T(sock_new_applies_every_option),
	    T(sock_curve_client_with_server_key_talks_to_curve_server),
	    T(sock_connect_takes_the_server_key_file_after_at),
	    T(sock_endpoint_split_keeps_abstract_ipc_names),
	    T(sock_opts_refuse_open_missing_or_malformed_secret_key),
	    T(sock_new_rejects_bad_option_value),
	    T(sock_config_keys_defaults_match_opts_default),
	    T(sock_limits_check_refuses_max_msg_size_below_max_frame),
	    T(sock_ipc_file_removed_only_while_still_ours),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
