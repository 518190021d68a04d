/*
 * Tests of a carbon destination on real loopback sockets: a destination
 * down at start buffers, retries after its backoff and delivers everything
 * once a listener is there; a lost connection is noticed and the next one
 * counted as a reconnect; specs are checked.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "dest.h"
#include "sm_log.h"

#define SEC 1000000000LL

/* A listener on 127.0.0.1:port (0 = any); its port in *port. */
static int listen_on(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
	socklen_t len = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Services d (at now_ns) until it is connected and has nothing buffered. */
static void run_until_sent(struct dest *d, int64_t now_ns)
{
	for (int i = 0; i < 200 && (!dest_connected(d) || dest_buffered_bytes(d) > 0); i++) {
		zmq_pollitem_t it = dest_pollitem(d);
		struct pollfd p = {.fd = it.fd, .events = 0};

		if (it.events & ZMQ_POLLOUT)
			p.events |= POLLOUT;
		if (it.events & ZMQ_POLLIN)
			p.events |= POLLIN;
		if (p.fd >= 0)
			poll(&p, 1, 50);
		dest_service(d,
			     (short)((p.revents & POLLOUT ? ZMQ_POLLOUT : 0) |
				     (p.revents & POLLIN ? ZMQ_POLLIN : 0) |
				     (p.revents & (POLLERR | POLLHUP) ? ZMQ_POLLERR : 0)),
			     now_ns);
	}
	assert_true(dest_connected(d));
	assert_int_equal(dest_buffered_bytes(d), 0);
}

/* Services d (at now_ns) until a connect in progress has ended. */
static void settle(struct dest *d, int64_t now_ns)
{
	dest_service(d, 0, now_ns);
	for (int i = 0; i < 100 && dest_pollitem(d).fd >= 0 && !dest_connected(d); i++) {
		struct pollfd p = {.fd = dest_pollitem(d).fd, .events = POLLOUT};

		poll(&p, 1, 50);
		dest_service(d, p.revents ? ZMQ_POLLOUT : 0, now_ns);
	}
}

/* Reads exactly len bytes from fd. */
static void read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
}

static void down_at_start_buffers_then_delivers_after_backoff(void **state)
{
	const char *lines = "stackmon.hosts.h.cpu_pct 1.5 1700000000\n"
			    "stackmon.hosts.h.load1 0.25 1700000000\n";
	char spec[64], err[256], got[256];
	int port = 0, lfd = listen_on(&port), cfd;
	struct dest *d;

	(void)state;
	close(lfd); /* nothing listens there now */
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	d = dest_new(spec, 1 << 20, err, sizeof(err));
	assert_non_null(d);
	assert_string_equal(dest_name(d), spec);
	assert_int_equal(dest_append(d, lines, strlen(lines), 0), 0);
	settle(d, 100 * SEC);
	assert_false(dest_connected(d));
	assert_int_equal(dest_counters(d)->failures, 1);
	assert_int_equal(dest_buffered_lines(d), 2);
	/* The next try is 1 s later, not before. */
	assert_int_equal(dest_timeout_ms(d, 100 * SEC, -1), 1000);
	lfd = listen_on(&port);
	dest_service(d, 0, 100 * SEC + SEC / 2);
	assert_false(dest_connected(d));
	run_until_sent(d, 101 * SEC);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	read_all(cfd, got, strlen(lines));
	assert_memory_equal(got, lines, strlen(lines));
	assert_int_equal(dest_counters(d)->sent, 2);
	assert_int_equal(dest_counters(d)->reconnects, 0);

	/* The peer goes away: noticed, then a new connection is a reconnect. */
	close(cfd);
	for (int i = 0; i < 100 && dest_connected(d); i++) {
		zmq_pollitem_t it = dest_pollitem(d);
		struct pollfd p = {.fd = it.fd, .events = POLLIN};

		poll(&p, 1, 20);
		dest_service(d, p.revents ? ZMQ_POLLIN : 0, 102 * SEC);
	}
	assert_false(dest_connected(d));
	assert_int_equal(dest_counters(d)->failures, 2);
	assert_int_equal(dest_append(d, lines, strlen(lines), 0), 0);
	run_until_sent(d, 104 * SEC);
	cfd = accept(lfd, NULL, NULL);
	read_all(cfd, got, strlen(lines));
	assert_memory_equal(got, lines, strlen(lines));
	assert_int_equal(dest_counters(d)->reconnects, 1);
	assert_int_equal(dest_counters(d)->sent, 4);
	close(cfd);
	close(lfd);
	dest_destroy(&d);
	assert_null(d);
}

static void small_buffer_writes_through_while_connected(void **state)
{
	char spec[64], err[256], text[100 * 64 + 1], got[sizeof(text)];
	int port = 0, lfd = listen_on(&port), cfd;
	struct dest *d;

	(void)state;
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	d = dest_new(spec, 1024, err, sizeof(err));
	assert_non_null(d);
	run_until_sent(d, 0);
	for (int i = 0; i < 100; i++)
		snprintf(text + i * 64, 65, "stackmon.hosts.h.m%03d %030d 1700000000\n", i, i);
	/* Six times the buffer in one frame: the socket takes it, nothing drops. */
	assert_int_equal(dest_append(d, text, 6400, 0), 0);
	run_until_sent(d, 0);
	cfd = accept(lfd, NULL, NULL);
	read_all(cfd, got, 6400);
	assert_memory_equal(got, text, 6400);
	assert_int_equal(dest_counters(d)->sent, 100);
	assert_int_equal(dest_counters(d)->dropped, 0);
	close(cfd);
	close(lfd);
	dest_destroy(&d);
}

static void specs_are_checked(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(dest_spec_check("127.0.0.1:2003", err, sizeof(err)), 0);
	assert_int_equal(dest_spec_check("relay.example.com:2003", err, sizeof(err)), 0);
	assert_int_equal(dest_spec_check("[::1]:2003", err, sizeof(err)), 0);
	assert_int_equal(dest_spec_check("::1:2003", err, sizeof(err)), -1);
	assert_int_equal(dest_spec_check("relay", err, sizeof(err)), -1);
	assert_int_equal(dest_spec_check("relay:0", err, sizeof(err)), -1);
	assert_int_equal(dest_spec_check("relay:65536", err, sizeof(err)), -1);
	assert_int_equal(dest_spec_check("relay:20x", err, sizeof(err)), -1);
	assert_int_equal(dest_spec_check(":2003", err, sizeof(err)), -1);
	assert_int_equal(dest_spec_check("", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "HOST:PORT"));
	assert_null(dest_new("relay", 1024, err, sizeof(err)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(down_at_start_buffers_then_delivers_after_backoff),
	    cmocka_unit_test(small_buffer_writes_through_while_connected),
	    cmocka_unit_test(specs_are_checked),
	};

	sm_log_open("test_dest", SM_LOG_ERR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
