/*
 * Tests of lv_wire (libvirt's remote protocol, the calls the stats client
 * sends and the replies it reads) and of lv_rpc_target (which URIs the
 * pipelined client serves). Replies are built here byte by byte, as XDR
 * lays them out, including ones that are cut short, overlong or lie about
 * their counts: each must be refused, never read past its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lv_rpc.h"
#include "lv_wire.h"

/* ---- An XDR writer for the test's replies ---- */

struct buf {
	uint8_t b[4096];
	size_t n;
};

static void w32(struct buf *b, uint32_t v)
{
	b->b[b->n++] = (uint8_t)(v >> 24);
	b->b[b->n++] = (uint8_t)(v >> 16);
	b->b[b->n++] = (uint8_t)(v >> 8);
	b->b[b->n++] = (uint8_t)v;
}

static void w64(struct buf *b, uint64_t v)
{
	w32(b, (uint32_t)(v >> 32));
	w32(b, (uint32_t)v);
}

static void wstr(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	w32(b, (uint32_t)n);
	memcpy(b->b + b->n, s, n);
	b->n += n;
	while (b->n % 4)
		b->b[b->n++] = 0;
}

static uint32_t r32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const uint8_t uuid[16] = {0x53, 0xac, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};

/* ---- Calls ---- */

static void test_get_info_call_layout(void **state)
{
	struct lv_wire_domain d = {"vm-1", uuid, 7};
	uint8_t out[256];
	size_t n = lv_wire_get_info(out, sizeof(out), 42, &d);

	/* length, 6 header words, name (4 + 4), uuid 16, id 4 */
	assert_int_equal(n, 4 + 24 + 8 + 16 + 4);
	assert_int_equal(r32(out), n);
	assert_int_equal(r32(out + 4), LV_WIRE_PROGRAM);
	assert_int_equal(r32(out + 8), 1);
	assert_int_equal(r32(out + 12), LV_PROC_DOMAIN_GET_INFO);
	assert_int_equal(r32(out + 16), LV_TYPE_CALL);
	assert_int_equal(r32(out + 20), 42);
	assert_int_equal(r32(out + 24), 0);
	assert_int_equal(r32(out + 28), 4);
	assert_memory_equal(out + 32, "vm-1", 4);
	assert_memory_equal(out + 36, uuid, 16);
	assert_int_equal(r32(out + 52), 7);
}

static void test_device_call_pads_strings(void **state)
{
	struct lv_wire_domain d = {"a", uuid, -1};
	uint8_t out[256];
	size_t n =
	    lv_wire_device_stats(out, sizeof(out), 1, LV_PROC_DOMAIN_INTERFACE_STATS, &d, "vnet12");

	/* name "a" padded to 4, device "vnet12" padded to 8 */
	assert_int_equal(n, 28 + (4 + 4) + 16 + 4 + (4 + 8));
	assert_int_equal(r32(out + 12), LV_PROC_DOMAIN_INTERFACE_STATS);
	assert_int_equal(r32(out + 52), 0xffffffffu); /* id -1: a domain not running */
	assert_int_equal(r32(out + 56), 6);
	assert_memory_equal(out + 60, "vnet12\0\0", 8);
	/* Only the two device calls take a device. */
	assert_int_equal(
	    lv_wire_device_stats(out, sizeof(out), 1, LV_PROC_DOMAIN_GET_INFO, &d, "x"), 0);
}

static void test_calls_that_do_not_fit_are_refused(void **state)
{
	char name[300];
	struct lv_wire_domain d = {name, uuid, 1};
	uint8_t out[128];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(lv_wire_get_info(out, sizeof(out), 1, &d), 0);
	assert_int_equal(lv_wire_memory_stats(out, sizeof(out), 1, &d, 16), 0);
	assert_int_equal(lv_wire_connect_open(out, sizeof(out), 1, name, 1), 0);
	assert_int_equal(lv_wire_auth_list(out, 20, 1), 0); /* not even a header */
	assert_int_equal(lv_wire_auth_list(out, sizeof(out), 1), 28);
}

static void test_connect_open_layout(void **state)
{
	uint8_t out[128];
	size_t n = lv_wire_connect_open(out, sizeof(out), 2, "test:///default", 1);

	assert_int_equal(n, 28 + 4 + 4 + 16 + 4);
	assert_int_equal(r32(out + 28), 1); /* the optional name is present */
	assert_int_equal(r32(out + 32), 15);
	assert_memory_equal(out + 36, "test:///default", 15);
	assert_int_equal(r32(out + 52), 1); /* VIR_CONNECT_RO */
}

/* ---- Replies ---- */

static void test_header_parse(void **state)
{
	struct buf b = {0};
	struct lv_wire_header h;

	w32(&b, 28);
	w32(&b, LV_WIRE_PROGRAM);
	w32(&b, 1);
	w32(&b, LV_PROC_DOMAIN_GET_INFO);
	w32(&b, LV_TYPE_REPLY);
	w32(&b, 99);
	w32(&b, LV_STATUS_ERROR);
	assert_int_equal(lv_wire_header_parse(b.b, b.n, &h), 0);
	assert_int_equal(h.proc, LV_PROC_DOMAIN_GET_INFO);
	assert_int_equal(h.type, LV_TYPE_REPLY);
	assert_int_equal(h.serial, 99);
	assert_int_equal(h.status, LV_STATUS_ERROR);
	/* The length word must say the message's length; and a header is 28. */
	assert_int_equal(lv_wire_header_parse(b.b, 32, &h), -1);
	assert_int_equal(lv_wire_header_parse(b.b, 27, &h), -1);
}

static void test_info_reply(void **state)
{
	struct buf b = {0};
	struct lv_wire_info i;

	w32(&b, 1);			/* state: running */
	w64(&b, 2097152);		/* max memory, KiB */
	w64(&b, 1048576);		/* memory */
	w32(&b, 4);			/* vCPUs */
	w64(&b, 0x123456789abcdef0ULL); /* CPU time, ns */
	assert_int_equal(lv_wire_info_parse(b.b, b.n, &i), 0);
	assert_int_equal(i.state, 1);
	assert_int_equal(i.max_mem_kib, 2097152);
	assert_int_equal(i.memory_kib, 1048576);
	assert_int_equal(i.nr_virt_cpu, 4);
	assert_true(i.cpu_time_ns == 0x123456789abcdef0ULL);
	/* Cut short by a byte, or a word too long: not this structure. */
	assert_int_equal(lv_wire_info_parse(b.b, b.n - 1, &i), -1);
	w32(&b, 0);
	assert_int_equal(lv_wire_info_parse(b.b, b.n, &i), -1);
	assert_int_equal(lv_wire_info_parse(b.b, 0, &i), -1);
}

static void test_block_and_iface_replies(void **state)
{
	struct buf b = {0};
	struct lv_wire_block bs;
	struct lv_wire_iface is;

	for (int k = 1; k <= 5; k++)
		w64(&b, (uint64_t)k * 1000);
	assert_int_equal(lv_wire_block_parse(b.b, b.n, &bs), 0);
	assert_int_equal(bs.rd_req, 1000);
	assert_int_equal(bs.errs, 5000);
	assert_int_equal(lv_wire_iface_parse(b.b, b.n, &is), -1); /* 5 hypers, not 8 */
	w64(&b, (uint64_t)-1);					  /* libvirt's "unknown" is -1 */
	w64(&b, 7);
	w64(&b, 8);
	assert_int_equal(lv_wire_block_parse(b.b, b.n, &bs), -1);
	assert_int_equal(lv_wire_iface_parse(b.b, b.n, &is), 0);
	assert_int_equal(is.rx_bytes, 1000);
	assert_int_equal(is.tx_bytes, 5000);
	assert_int_equal(is.tx_packets, -1);
	assert_int_equal(is.tx_drop, 8);
}

static void test_memory_reply_counts(void **state)
{
	struct buf b = {0};
	struct lv_wire_memory m;

	w32(&b, 2);
	w32(&b, 6); /* VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON */
	w64(&b, 1048576);
	w32(&b, 7); /* RSS */
	w64(&b, 524288);
	assert_int_equal(lv_wire_memory_parse(b.b, b.n, &m), 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.stat[1].tag, 7);
	assert_int_equal(m.stat[1].val, 524288);
	/* A count larger than the stats that follow. */
	b.b[3] = 3;
	assert_int_equal(lv_wire_memory_parse(b.b, b.n, &m), -1);
	/* A count larger than we ask for: not a reply to our call, and it
	 * must not write past the array. */
	memset(&b, 0, sizeof(b));
	w32(&b, LV_WIRE_MAX_MEMORY_STATS + 1);
	for (int k = 0; k <= LV_WIRE_MAX_MEMORY_STATS; k++) {
		w32(&b, 1);
		w64(&b, 1);
	}
	assert_int_equal(lv_wire_memory_parse(b.b, b.n, &m), -1);
	memset(&b, 0, sizeof(b));
	w32(&b, 0xffffffffu);
	assert_int_equal(lv_wire_memory_parse(b.b, b.n, &m), -1);
}

static void test_error_reply(void **state)
{
	struct buf b = {0};
	char msg[32];
	int code = 0;

	w32(&b, 42); /* VIR_ERR_NO_DOMAIN */
	w32(&b, 10);
	w32(&b, 1); /* message present */
	wstr(&b, "Domain not found:\n\x1b[31mno domain");
	w32(&b, 2); /* level; the rest is not read */
	assert_int_equal(lv_wire_error_parse(b.b, b.n, &code, msg, sizeof(msg)), 0);
	assert_int_equal(code, 42);
	/* Cut to fit, control characters replaced. */
	assert_string_equal(msg, "Domain not found:??[31mno domai");
	/* No message. */
	memset(&b, 0, sizeof(b));
	w32(&b, 1);
	w32(&b, 0);
	w32(&b, 0);
	assert_int_equal(lv_wire_error_parse(b.b, b.n, &code, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	/* A message length past the end. */
	memset(&b, 0, sizeof(b));
	w32(&b, 1);
	w32(&b, 0);
	w32(&b, 1);
	w32(&b, 1000);
	wstr(&b, "short");
	assert_int_equal(lv_wire_error_parse(b.b, b.n, &code, msg, sizeof(msg)), -1);
	assert_int_equal(lv_wire_error_parse(b.b, 6, &code, msg, sizeof(msg)), -1);
}

static void test_auth_list_reply(void **state)
{
	struct buf b = {0};
	bool ok = false;

	w32(&b, 0); /* nothing to do */
	assert_int_equal(lv_wire_auth_none_parse(b.b, b.n, &ok), 0);
	assert_true(ok);
	memset(&b, 0, sizeof(b));
	w32(&b, 1);
	w32(&b, 4); /* polkit only */
	assert_int_equal(lv_wire_auth_none_parse(b.b, b.n, &ok), 0);
	assert_false(ok);
	memset(&b, 0, sizeof(b));
	w32(&b, 2);
	w32(&b, 1); /* SASL */
	w32(&b, 0); /* or none */
	assert_int_equal(lv_wire_auth_none_parse(b.b, b.n, &ok), 0);
	assert_true(ok);
	memset(&b, 0, sizeof(b));
	w32(&b, 1000000);
	assert_int_equal(lv_wire_auth_none_parse(b.b, b.n, &ok), -1);
}

/* ---- Which URIs the pipelined client serves ---- */

static char sock_path[108];
static int sock_fd = -1;

static int make_socket(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	snprintf(sock_path, sizeof(sock_path), "/tmp/test_lv_wire.%d.sock", (int)getpid());
	unlink(sock_path);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	sock_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(sock_fd >= 0);
	assert_int_equal(bind(sock_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return 0;
}

static int remove_socket(void **state)
{
	close(sock_fd);
	unlink(sock_path);
	return 0;
}

static void test_target(void **state)
{
	char sock[256], name[256], uri[512];
	const char *why;

	snprintf(uri, sizeof(uri), "test+unix:///tmp/node.xml?socket=%s", sock_path);
	assert_int_equal(lv_rpc_target(uri, sock, sizeof(sock), name, sizeof(name), &why), 0);
	assert_string_equal(sock, sock_path);
	assert_string_equal(name, "test:///tmp/node.xml");
	snprintf(uri, sizeof(uri), "xen+unix:///system?socket=%s", sock_path);
	assert_int_equal(lv_rpc_target(uri, sock, sizeof(sock), name, sizeof(name), &why), 0);
	assert_string_equal(name, "xen:///system");

	static const char *const refused[] = {
	    "test:///default",	       /* in-process */
	    "test+tcp://host/default", /* another transport */
	    "qemu+ssh://node7/system",
	    "xen+unix://node7/system", /* names a host */
	    "qemu+unix:///session",    /* the per-user daemon */
	    "test+unix:///default?mode=direct",
	    "test+unix:///default?socket=/x&mode=legacy",
	    "test+unix:///default?socket=/nonexistent/sock",
	    "+unix:///system",
	    "nonsense",
	    "",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		why = NULL;
		assert_int_equal(
		    lv_rpc_target(refused[i], sock, sizeof(sock), name, sizeof(name), &why), -1);
		assert_non_null(why);
	}
	assert_int_equal(lv_rpc_target(NULL, sock, sizeof(sock), name, sizeof(name), &why), -1);
	/* A name that does not fit. */
	snprintf(uri, sizeof(uri), "test+unix:///%0200d?socket=%s", 0, sock_path);
	assert_int_equal(lv_rpc_target(uri, sock, sizeof(sock), name, 64, &why), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_info_call_layout),
	    cmocka_unit_test(test_device_call_pads_strings),
	    cmocka_unit_test(test_calls_that_do_not_fit_are_refused),
	    cmocka_unit_test(test_connect_open_layout),
	    cmocka_unit_test(test_header_parse),
	    cmocka_unit_test(test_info_reply),
	    cmocka_unit_test(test_block_and_iface_replies),
	    cmocka_unit_test(test_memory_reply_counts),
	    cmocka_unit_test(test_error_reply),
	    cmocka_unit_test(test_auth_list_reply),
	    cmocka_unit_test_setup_teardown(test_target, make_socket, remove_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
