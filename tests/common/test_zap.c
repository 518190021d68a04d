/*
 * Tests of sm_zap, the CURVE allow list, over real ZeroMQ: a CURVE server
 * SUB bound on loopback TCP (as a collector's fan-in) admits only clients
 * whose key file is in the allow directory, names each by its file
 * (User-Id), ties identities to host patterns, reloads the directory
 * without dropping a connected peer, and survives a directory with junk in
 * it or no directory at all. Keys and directories live in a private tmp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sm_cert.h"
#include "sm_clock.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_zap.h"

/* How long a test waits for an expected handshake and message: generous,
 * as the machines here are shared and a CURVE handshake costs CPU. */
#define WAIT_NS (20 * 1000000000LL)
/* How long it goes on listening once everything expected has happened, to
 * see that nothing unexpected follows. */
#define SETTLE_NS (500 * 1000000LL)
#define CLIENTS_MAX 4

struct fixture {
	char dir[64];	     /* tmp root */
	char allow[96];	     /* allow-list directory */
	char keys[96];	     /* where every pair is made */
	void *zctx;
	struct sm_zap *zap;
	void *server;	     /* CURVE server SUB */
	char endpoint[64];   /* its tcp://127.0.0.1:PORT */
	struct sm_cert server_cert;
	void *clients[CLIENTS_MAX]; /* closed at teardown (ctx_term waits for open sockets) */
	size_t nclients;
};

static void path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < len);
}

/* Makes keys/NAME.key(_secret) with the given host patterns. */
static void make_pair(struct fixture *fx, const char *name, const char *const *hosts,
		      struct sm_cert *out)
{
	char err[4400];

	memset(out, 0, sizeof(*out));
	assert_int_equal(sm_cert_generate(out), 0);
	for (size_t i = 0; hosts && hosts[i]; i++)
		assert_int_equal(sm_cert_add_host(out, hosts[i]), 0);
	assert_int_equal(sm_cert_save(out, fx->keys, name, false, err, sizeof(err)), 0);
}

/* Copies keys/NAME.key into the allow directory. */
static void allow(struct fixture *fx, const char *name)
{
	char src[256], dst[256], cmd[600];

	snprintf(src, sizeof(src), "%s/%s.key", fx->keys, name);
	snprintf(dst, sizeof(dst), "%s/%s.key", fx->allow, name);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, dst);
	assert_int_equal(system(cmd), 0);
}

static void disallow(struct fixture *fx, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s.key", fx->allow, name);
	assert_int_equal(unlink(path), 0);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	path_join(path, sizeof(path), dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sm-test-zap-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->allow, sizeof(fx->allow), "%s/allow", fx->dir);
	snprintf(fx->keys, sizeof(fx->keys), "%s/keys", fx->dir);
	if (mkdir(fx->allow, 0755) < 0 || mkdir(fx->keys, 0700) < 0)
		return -1;
	sm_log_open("smtest", SM_LOG_ERR, false);
	fx->zctx = zmq_ctx_new();
	*state = fx;
	return fx->zctx ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	for (size_t i = 0; i < fx->nclients; i++)
		sm_sock_close(&fx->clients[i]);
	sm_sock_close(&fx->server);
	sm_zap_destroy(&fx->zap);
	zmq_ctx_term(fx->zctx);
	sm_cert_clear(&fx->server_cert);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static void opts_with(struct sm_sock_opts *o, const struct sm_cert *own, const char *server_key)
{
	sm_sock_opts_default(o);
	o->curve = true;
	o->linger_ms = 0;
	memcpy(o->curve_public, own->public_key, sizeof(o->curve_public));
	memcpy(o->curve_secret, own->secret_key, sizeof(o->curve_secret));
	snprintf(o->curve_server, sizeof(o->curve_server), "%s", server_key ? server_key : "");
}

/* Starts the ZAP handler on the allow directory and a CURVE server SUB. */
static void start_server(struct fixture *fx)
{
	struct sm_sock_opts o;
	size_t len = sizeof(fx->endpoint);

	make_pair(fx, "collector", NULL, &fx->server_cert);
	fx->zap = sm_zap_new(fx->zctx, fx->allow);
	assert_non_null(fx->zap);
	opts_with(&o, &fx->server_cert, NULL);
	fx->server = sm_sock_new(fx->zctx, ZMQ_SUB, &o);
	assert_non_null(fx->server);
	assert_int_equal(sm_sock_subscribe(fx->server, ""), 0);
	assert_int_equal(sm_sock_bind(fx->server, "tcp://127.0.0.1:*"), 0);
	assert_int_equal(zmq_getsockopt(fx->server, ZMQ_LAST_ENDPOINT, fx->endpoint, &len), 0);
}

static void *start_client(struct fixture *fx, const struct sm_cert *own)
{
	struct sm_sock_opts o;
	void *pub;

	opts_with(&o, own, fx->server_cert.public_key);
	pub = sm_sock_new(fx->zctx, ZMQ_PUB, &o);
	assert_non_null(pub);
	assert_int_equal(sm_sock_connect(pub, fx->endpoint), 0);
	assert_true(fx->nclients < CLIENTS_MAX);
	fx->clients[fx->nclients++] = pub;
	return pub;
}

/* Closes a client made by start_client before teardown would. */
static void stop_client(struct fixture *fx, void *pub)
{
	for (size_t i = 0; i < fx->nclients; i++) {
		if (fx->clients[i] == pub)
			sm_sock_close(&fx->clients[i]);
	}
}

/*
 * Each client publishes a message whose topic is its name, the ZAP handler
 * is served, and the server's messages are recorded by User-Id — until
 * every client of `expect_from` has been heard and the handler has refused
 * at least `refusals` handshakes in all (or WAIT_NS passed), then SETTLE_NS
 * more. Returns a bit per client index heard (User-Id and topic agreeing).
 */
static unsigned exchange(struct fixture *fx, void *const *clients, const char *const *names,
			 size_t n, unsigned expect_from, uint64_t refusals)
{
	int64_t end = sm_clock_mono_ns() + WAIT_NS;
	bool settling = false;
	unsigned seen = 0;

	while (sm_clock_mono_ns() < end) {
		zmq_pollitem_t items[2] = {{sm_zap_socket(fx->zap), 0, ZMQ_POLLIN, 0},
					   {fx->server, 0, ZMQ_POLLIN, 0}};
		struct sm_frames f;

		if (!settling && (seen & expect_from) == expect_from &&
		    sm_zap_refused(fx->zap) >= refusals) {
			settling = true;
			end = sm_clock_mono_ns() + SETTLE_NS;
		}
		for (size_t i = 0; i < n; i++)
			sm_sock_send2(clients[i], names[i], strlen(names[i]), "x", 1, ZMQ_DONTWAIT);
		zmq_poll(items, 2, 20);
		sm_zap_serve(fx->zap, 16);
		while (sm_sock_recv2(fx->server, &f, ZMQ_DONTWAIT) == 0) {
			const char *id = zmq_msg_gets(&f.topic, "User-Id");

			for (size_t i = 0; i < n; i++) {
				if (id && strcmp(id, names[i]) == 0 &&
				    zmq_msg_size(&f.topic) == strlen(names[i]) &&
				    memcmp(zmq_msg_data(&f.topic), names[i], strlen(names[i])) == 0)
					seen |= 1u << i;
			}
			/* A message under no identity, or under another
			 * client's, would be a hole in the allow list. */
			assert_non_null(id);
			sm_frames_close(&f);
		}
	}
	return seen;
}

/* Receives (and discards) what reaches the server for SETTLE_NS. */
static void drain_server(struct fixture *fx)
{
	int64_t end = sm_clock_mono_ns() + SETTLE_NS;

	while (sm_clock_mono_ns() < end) {
		zmq_pollitem_t items[2] = {{sm_zap_socket(fx->zap), 0, ZMQ_POLLIN, 0},
					   {fx->server, 0, ZMQ_POLLIN, 0}};
		struct sm_frames f;

		zmq_poll(items, 2, 20);
		sm_zap_serve(fx->zap, 16);
		while (sm_sock_recv2(fx->server, &f, ZMQ_DONTWAIT) == 0)
			sm_frames_close(&f);
	}
}

static void test_admits_only_allowed_keys(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = {"alpha", "beta"};
	struct sm_cert alpha, beta;
	void *clients[2];

	make_pair(fx, "alpha", NULL, &alpha);
	make_pair(fx, "beta", NULL, &beta);
	allow(fx, "alpha");
	start_server(fx);
	assert_int_equal(sm_zap_keys(fx->zap), 1);
	clients[0] = start_client(fx, &alpha);
	clients[1] = start_client(fx, &beta);
	/* Until alpha is heard and beta's handshake refused, and a while
	 * after: beta must never be heard, not just late. */
	assert_int_equal(exchange(fx, clients, names, 2, 1u, 1), 1u);
	assert_true(sm_zap_refused(fx->zap) >= 1);
	sm_cert_clear(&alpha);
	sm_cert_clear(&beta);
}

static void test_identity_speaks_for_its_hosts_only(void **state)
{
	struct fixture *fx = *state;
	static const char *const hosts[] = {"cn1", "rack2-*", NULL};
	struct sm_cert node;

	make_pair(fx, "node1", hosts, &node);
	allow(fx, "node1");
	start_server(fx);
	assert_true(sm_zap_speaks_for(fx->zap, "node1", "cn1"));
	assert_true(sm_zap_speaks_for(fx->zap, "node1", "rack2-07"));
	assert_false(sm_zap_speaks_for(fx->zap, "node1", "cn2"));
	assert_false(sm_zap_speaks_for(fx->zap, "node1", "cn1x"));
	assert_false(sm_zap_speaks_for(fx->zap, "node1", ""));
	/* No identity (a plain connection) and one not in the list. */
	assert_false(sm_zap_speaks_for(fx->zap, NULL, "cn1"));
	assert_false(sm_zap_speaks_for(fx->zap, "node2", "cn1"));
	assert_false(sm_zap_speaks_for(fx->zap, "", "cn1"));
	sm_cert_clear(&node);
}

static void test_relay_role_and_origin_identities(void **state)
{
	struct fixture *fx = *state;
	static const char *const rack_hosts[] = {"cn*", "rack1", NULL};
	static const char *const m1_hosts[] = {"cn9", NULL};
	struct sm_cert rack, m1, plain;
	char err[4400];

	memset(&rack, 0, sizeof(rack));
	assert_int_equal(sm_cert_generate(&rack), 0);
	for (size_t i = 0; rack_hosts[i]; i++)
		assert_int_equal(sm_cert_add_host(&rack, rack_hosts[i]), 0);
	rack.relay = true;
	assert_int_equal(sm_cert_save(&rack, fx->keys, "rack1", false, err, sizeof(err)), 0);
	make_pair(fx, "m1", m1_hosts, &m1);
	make_pair(fx, "plain", rack_hosts, &plain);
	allow(fx, "rack1");
	allow(fx, "m1");
	allow(fx, "plain");
	start_server(fx);
	/* Only the key marked role = relay may pass origins on. */
	assert_true(sm_zap_may_relay(fx->zap, "rack1"));
	assert_false(sm_zap_may_relay(fx->zap, "plain"));
	assert_false(sm_zap_may_relay(fx->zap, "m1"));
	assert_false(sm_zap_may_relay(fx->zap, "nobody"));
	assert_false(sm_zap_may_relay(fx->zap, NULL));
	/* An origin the list knows is held to its own host patterns. */
	assert_int_equal(sm_zap_origin_check(fx->zap, "m1", "cn9"), SM_ZAP_ORIGIN_MATCH);
	assert_int_equal(sm_zap_origin_check(fx->zap, "m1", "cn1"), SM_ZAP_ORIGIN_MISMATCH);
	assert_int_equal(sm_zap_origin_check(fx->zap, "m7", "cn1"), SM_ZAP_ORIGIN_UNKNOWN);
	assert_int_equal(sm_zap_origin_check(fx->zap, "", "cn1"), SM_ZAP_ORIGIN_UNKNOWN);
	/* Revoked by a reload: the right goes with the key. */
	disallow(fx, "rack1");
	assert_int_equal(sm_zap_reload(fx->zap), 0);
	assert_false(sm_zap_may_relay(fx->zap, "rack1"));
	sm_cert_clear(&rack);
	sm_cert_clear(&m1);
	sm_cert_clear(&plain);
}

static void test_reload_adds_and_removes_without_dropping_others(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = {"alpha", "beta"};
	static const char *const hosts[] = {"cn1", NULL};
	struct sm_cert alpha, beta;
	void *clients[2];

	make_pair(fx, "alpha", hosts, &alpha);
	make_pair(fx, "beta", NULL, &beta);
	allow(fx, "alpha");
	start_server(fx);
	clients[0] = start_client(fx, &alpha);
	assert_int_equal(exchange(fx, clients, names, 1, 1u, 0), 1u);

	/* Added: beta is admitted from its first handshake after the reload. */
	allow(fx, "beta");
	assert_int_equal(sm_zap_reload(fx->zap), 0);
	assert_int_equal(sm_zap_keys(fx->zap), 2);
	clients[1] = start_client(fx, &beta);
	assert_int_equal(exchange(fx, clients, names, 2, 3u, 0), 3u);

	/* Removed: alpha's connection stays (ZAP runs only at handshakes),
	 * but its identity no longer speaks for any host; beta goes on. */
	disallow(fx, "alpha");
	assert_int_equal(sm_zap_reload(fx->zap), 0);
	assert_int_equal(sm_zap_keys(fx->zap), 1);
	assert_false(sm_zap_speaks_for(fx->zap, "alpha", "cn1"));
	assert_int_equal(exchange(fx, clients, names, 2, 3u, 0), 3u);

	/* A new connection with alpha's key is refused; beta goes on. */
	{
		void *again[2];
		uint64_t before = sm_zap_refused(fx->zap);

		stop_client(fx, clients[0]);
		/* The closed client's last messages may still be on their way
		 * (admitted, on the old connection): take them first, so only
		 * the new connection is judged below. */
		drain_server(fx);
		again[0] = start_client(fx, &alpha);
		again[1] = clients[1];
		assert_int_equal(exchange(fx, again, names, 2, 2u, before + 1), 2u);
		assert_true(sm_zap_refused(fx->zap) > before);
	}
	sm_cert_clear(&alpha);
	sm_cert_clear(&beta);
}

static void test_junk_in_the_directory_is_skipped(void **state)
{
	struct fixture *fx = *state;
	struct sm_cert good;

	make_pair(fx, "good", NULL, &good);
	allow(fx, "good");
	write_file(fx->allow, "README", "not a key\n");
	write_file(fx->allow, "garbage.key", "\x01\x02 this is not a certificate\n");
	write_file(fx->allow, "empty.key", "");
	write_file(fx->allow, "bad name!.key", "metadata\ncurve\n");
	write_file(fx->allow, ".key", "");
	start_server(fx);
	assert_int_equal(sm_zap_keys(fx->zap), 1);
	assert_true(sm_zap_speaks_for(fx->zap, "good", "anything") == false); /* no host lines */
	sm_cert_clear(&good);
}

static void test_missing_directory(void **state)
{
	struct fixture *fx = *state;
	char gone[128];
	struct sm_cert k;

	snprintf(gone, sizeof(gone), "%s/no-such-dir", fx->dir);
	assert_null(sm_zap_new(fx->zctx, gone));

	/* A directory that disappears after start: the reload fails and the
	 * loaded list stays in force. */
	make_pair(fx, "kept", NULL, &k);
	allow(fx, "kept");
	start_server(fx);
	disallow(fx, "kept");
	assert_int_equal(rmdir(fx->allow), 0);
	assert_int_equal(sm_zap_reload(fx->zap), -1);
	assert_int_equal(sm_zap_keys(fx->zap), 1);
	sm_cert_clear(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_admits_only_allowed_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_role_and_origin_identities, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_identity_speaks_for_its_hosts_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reload_adds_and_removes_without_dropping_others,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_junk_in_the_directory_is_skipped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
