/*
 * Tests of lv_rpc's batches against a peer on a real UNIX socket that
 * speaks libvirt's protocol the way libvirtd may (replies out of order, an
 * event between them, error replies) and the ways it must not (lengths
 * that lie, serials nobody asked, bodies cut short, silence, a closed
 * socket). The client must match what is legal and refuse the rest with a
 * clear error, without reading past a message or waiting forever.
 * (The real libvirtd is exercised by the monitor_pipeline scenario.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lv_rpc.h"
#include "lv_wire.h"

enum scenario {
	REORDER,     /* replies last to first, an event first */
	ERROR_REPLY, /* the second call gets an error reply */
	HUGE_LENGTH, /* a length word of 4 GiB */
	WRONG_SERIAL,
	SHORT_BODY,
	CLOSE,	/* the socket closes mid-batch */
	SILENT, /* no reply at all */
	POLKIT, /* the daemon asks for polkit authentication */
	OPEN_REFUSED,
};

struct peer {
	enum scenario sc;
	int listen_fd;
	char path[108];
	pthread_t thread;
};

struct msg {
	uint8_t b[4096];
	size_t n;
};

static void w32(struct msg *m, uint32_t v)
{
	m->b[m->n++] = (uint8_t)(v >> 24);
	m->b[m->n++] = (uint8_t)(v >> 16);
	m->b[m->n++] = (uint8_t)(v >> 8);
	m->b[m->n++] = (uint8_t)v;
}

static uint32_t r32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void reply_head(struct msg *m, uint32_t proc, uint32_t type, uint32_t serial,
		       uint32_t status)
{
	m->n = 0;
	w32(m, 0);
	w32(m, LV_WIRE_PROGRAM);
	w32(m, 1);
	w32(m, proc);
	w32(m, type);
	w32(m, serial);
	w32(m, status);
}

static void send_msg(int fd, struct msg *m)
{
	uint8_t *p = m->b;

	p[0] = (uint8_t)(m->n >> 24);
	p[1] = (uint8_t)(m->n >> 16);
	p[2] = (uint8_t)(m->n >> 8);
	p[3] = (uint8_t)m->n;
	/* The peer thread: no cmocka assertion here (it would jump across
	 * threads); a short write shows as the client's failure. */
	(void)!write(fd, m->b, m->n);
}

/* Reads one whole call; its serial and procedure; false at end of file. */
static bool read_call(int fd, uint32_t *serial, uint32_t *proc)
{
	uint8_t b[8192];
	size_t have = 0, want = 4;

	while (have < want) {
		ssize_t r = read(fd, b + have, want - have);

		if (r <= 0)
			return false;
		have += (size_t)r;
		if (have == 4)
			want = r32(b);
		if (want < 28 || want > sizeof(b))
			return false;
	}
	*proc = r32(b + 12);
	*serial = r32(b + 20);
	return true;
}

static void info_reply(struct msg *m, uint32_t serial)
{
	reply_head(m, LV_PROC_DOMAIN_GET_INFO, LV_TYPE_REPLY, serial, LV_STATUS_OK);
	w32(m, 1);
	w32(m, 0);
	w32(m, 2048);
	w32(m, 0);
	w32(m, 1024);
	w32(m, 2);
	w32(m, 0);
	w32(m, serial * 1000); /* CPU time tells which call it answers */
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	int fd = accept(p->listen_fd, NULL, NULL);
	uint32_t serial, proc, serials[8];
	struct msg m;
	size_t n = 0;

	if (fd < 0)
		return NULL;
	/* The opening: AUTH_LIST, then CONNECT_OPEN. */
	if (!read_call(fd, &serial, &proc))
		goto out;
	reply_head(&m, proc, LV_TYPE_REPLY, serial, LV_STATUS_OK);
	w32(&m, p->sc == POLKIT ? 1 : 0);
	if (p->sc == POLKIT)
		w32(&m, 4);
	send_msg(fd, &m);
	if (p->sc == POLKIT || !read_call(fd, &serial, &proc))
		goto out;
	if (p->sc == OPEN_REFUSED) {
		reply_head(&m, proc, LV_TYPE_REPLY, serial, LV_STATUS_ERROR);
		w32(&m, 38); /* VIR_ERR_NO_CONNECT */
		w32(&m, 0);
		w32(&m, 1);
		w32(&m, 9);
		memcpy(m.b + m.n, "no driver\0\0\0", 12);
		m.n += 12;
		send_msg(fd, &m);
		goto out;
	}
	reply_head(&m, proc, LV_TYPE_REPLY, serial, LV_STATUS_OK);
	send_msg(fd, &m);

	/* The batch: the test sends 4 calls with a window of 4. */
	while (n < 4 && read_call(fd, &serials[n], &proc))
		n++;
	switch (p->sc) {
	case REORDER:
		reply_head(&m, 316, LV_TYPE_MESSAGE, 0, LV_STATUS_OK); /* an event */
		send_msg(fd, &m);
		for (size_t i = n; i-- > 0;) {
			info_reply(&m, serials[i]);
			send_msg(fd, &m);
		}
		break;
	case ERROR_REPLY:
		for (size_t i = 0; i < n; i++) {
			if (i == 1) {
				reply_head(&m, proc, LV_TYPE_REPLY, serials[i], LV_STATUS_ERROR);
				w32(&m, 42); /* VIR_ERR_NO_DOMAIN */
				w32(&m, 10);
				w32(&m, 0); /* no message */
			} else {
				info_reply(&m, serials[i]);
			}
			send_msg(fd, &m);
		}
		break;
	case HUGE_LENGTH:
		info_reply(&m, serials[0]);
		send_msg(fd, &m);
		memcpy(m.b, "\xff\xff\xff\xff", 4);
		(void)!write(fd, m.b, 28);
		break;
	case WRONG_SERIAL:
		info_reply(&m, serials[0] + 100);
		send_msg(fd, &m);
		break;
	case SHORT_BODY:
		info_reply(&m, serials[0]);
		m.n -= 4;
		send_msg(fd, &m);
		break;
	case CLOSE:
		info_reply(&m, serials[0]);
		send_msg(fd, &m);
		info_reply(&m, serials[1]);
		m.b[3] = (uint8_t)m.n; /* its true length (< 256), but only 10 bytes of it */
		(void)!write(fd, m.b, 10);
		break;
	case SILENT:
		sleep(1);
		break;
	default:
		break;
	}
out:
	close(fd);
	return NULL;
}

static struct peer *start_peer(enum scenario sc)
{
	struct peer *p = calloc(1, sizeof(*p));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	assert_non_null(p);
	p->sc = sc;
	snprintf(p->path, sizeof(p->path), "/tmp/test_lv_rpc.%d.%d.sock", (int)getpid(), (int)sc);
	unlink(p->path);
	memcpy(sa.sun_path, p->path, strlen(p->path) + 1);
	p->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(p->listen_fd, 1), 0);
	assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
	return p;
}

static void stop_peer(struct peer *p)
{
	pthread_join(p->thread, NULL);
	close(p->listen_fd);
	unlink(p->path);
	free(p);
}

static const uint8_t uuid[16] = {1};

/* Opens a client on scenario sc's peer and runs 4 info calls through it:
 * lv_rpc_run's result, the calls and the error text in the arguments. */
static int run_scenario(enum scenario sc, struct lv_rpc_call calls[4], char *err, size_t size)
{
	struct peer *p = start_peer(sc);
	struct lv_rpc *r = lv_rpc_open(p->path, "test:///default", 2000, err, size);
	int rc;

	assert_non_null(r);
	for (int i = 0; i < 4; i++)
		calls[i] = (struct lv_rpc_call){.kind = LV_RPC_INFO, .dom = {"d", uuid, i + 1}};
	rc = lv_rpc_run(r, calls, 4, 4, 300, err, size);
	lv_rpc_destroy(&r);
	assert_null(r);
	stop_peer(p);
	return rc;
}

static void test_replies_out_of_order_are_matched(void **state)
{
	struct lv_rpc_call c[4];
	char err[256] = "";

	assert_int_equal(run_scenario(REORDER, c, err, sizeof(err)), 0);
	/* The opening took serials 1 and 2; the batch 3..6. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(c[i].error, 0);
		assert_int_equal(c[i].out.info.cpu_time_ns, (uint64_t)(i + 3) * 1000);
		assert_int_equal(c[i].out.info.nr_virt_cpu, 2);
		assert_true(c[i].answered_ns > 0);
	}
}

static void test_error_reply_fails_one_call(void **state)
{
	struct lv_rpc_call c[4];
	char err[256] = "";

	assert_int_equal(run_scenario(ERROR_REPLY, c, err, sizeof(err)), 0);
	assert_int_equal(c[0].error, 0);
	assert_int_equal(c[1].error, 42);
	assert_int_equal(c[2].error, 0);
	assert_int_equal(c[3].error, 0);
}

static void expect_failure(enum scenario sc, const char *words)
{
	struct lv_rpc_call c[4];
	char err[256] = "";

	assert_int_equal(run_scenario(sc, c, err, sizeof(err)), -1);
	if (!strstr(err, words))
		fail_msg("scenario %d: \"%s\" lacks \"%s\"", (int)sc, err, words);
}

static void test_broken_peers_are_refused(void **state)
{
	expect_failure(HUGE_LENGTH, "protocol error");
	expect_failure(WRONG_SERIAL, "not waiting");
	expect_failure(SHORT_BODY, "malformed domain info reply");
	expect_failure(CLOSE, "connection closed");
	expect_failure(SILENT, "did not answer in time");
}

static void test_open_needs_no_authentication(void **state)
{
	char err[256] = "";
	struct peer *p = start_peer(POLKIT);
	struct lv_rpc *r = lv_rpc_open(p->path, "test:///default", 2000, err, sizeof(err));

	assert_null(r);
	assert_non_null(strstr(err, "asks for authentication"));
	stop_peer(p);

	p = start_peer(OPEN_REFUSED);
	r = lv_rpc_open(p->path, "test:///default", 2000, err, sizeof(err));
	assert_null(r);
	assert_non_null(strstr(err, "refused: no driver (code 38)"));
	stop_peer(p);

	r = lv_rpc_open("/nonexistent/sock", "test:///default", 2000, err, sizeof(err));
	assert_null(r);
	assert_non_null(strstr(err, "cannot connect to /nonexistent/sock"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replies_out_of_order_are_matched),
	    cmocka_unit_test(test_error_reply_fails_one_call),
	    cmocka_unit_test(test_broken_peers_are_refused),
	    cmocka_unit_test(test_open_needs_no_authentication),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
