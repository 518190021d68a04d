/*
 * test_mpread.c — the bounded msgpack reader on its own: what it accepts,
 * and every way hostile bytes are refused (truncated, counts over their
 * limit or over the bytes left, wrong types, deep nesting) without reading
 * past the buffer. Inputs are literal bytes, so each test shows exactly
 * what is wrong.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sm_mpread.h"

static struct sm_wire_error err;

static struct sm_mpread rd(const void *bytes, size_t len)
{
	struct sm_mpread r;

	sm_mpread_init(&r, bytes, len, &err);
	return r;
}

static void mpread_reads_every_scalar_encoding(void **state)
{
	static const uint8_t b[] = {
		0x05,                                     /* fixint */
		0xcd, 0x12, 0x34,                         /* uint16 */
		0xd0, 0x07,                               /* int8, non-negative */
		0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* uint64 max */
		0xca, 0x3f, 0xc0, 0x00, 0x00,             /* float32 1.5 */
		0xcb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18, /* float64 pi */
		0xff,                                     /* negative fixint -1 */
		0xc0,                                     /* nil */
		0xc3,                                     /* true */
		0xa3, 'a', 'b', 'c',                      /* fixstr */
		0xc4, 0x02, 0xaa, 0xbb,                   /* bin8 */
	};
	struct sm_mpread r = rd(b, sizeof(b));
	uint64_t u;
	uint32_t u32;
	double d;
	bool t;
	char s[4];
	uint8_t bin[2];

	(void)state;
	assert_int_equal(sm_mpread_uint(&r, &u, 10, "a"), 0);
	assert_true(u == 5);
	assert_int_equal(sm_mpread_u32(&r, &u32, UINT32_MAX, "b"), 0);
	assert_int_equal(u32, 0x1234);
	assert_int_equal(sm_mpread_uint(&r, &u, 7, "c"), 0);
	assert_int_equal(sm_mpread_uint(&r, &u, UINT64_MAX, "d"), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(sm_mpread_num(&r, &d, false, 0, 2, "e"), 0);
	assert_true(d == 1.5);
	assert_int_equal(sm_mpread_num(&r, &d, false, 3, 4, "f"), 0);
	assert_true(d > 3.14159 && d < 3.1416);
	assert_int_equal(sm_mpread_num(&r, &d, false, -1, 0, "g"), 0);
	assert_true(d == -1);
	assert_int_equal(sm_mpread_num(&r, &d, true, 0, 1, "h"), 0);
	assert_true(isnan(d));
	assert_int_equal(sm_mpread_bool(&r, &t, "i"), 0);
	assert_true(t);
	assert_int_equal(sm_mpread_str(&r, s, 3, "j"), 0);
	assert_string_equal(s, "abc");
	assert_int_equal(sm_mpread_bin(&r, bin, 2, "k"), 0);
	assert_int_equal(bin[1], 0xbb);
	assert_int_equal(sm_mpread_left(&r), 0);
	assert_int_equal(sm_mpread_peek(&r), -1);
	assert_int_equal(err.code, SM_WIRE_OK);
}

/* Every prefix of a valid object is refused, never read past: as truncated,
 * or as a count the bytes left cannot hold. */
static void mpread_refuses_every_truncation(void **state)
{
	static const uint8_t b[] = {0x92, 0xcf, 1, 2, 3, 4, 5, 6, 7, 8, 0xa3, 'x', 'y', 'z'};

	(void)state;
	for (size_t len = 0; len < sizeof(b); len++) {
		struct sm_mpread r = rd(b, len);

		assert_int_equal(sm_mpread_skip(&r, 1, "v"), -1);
		assert_true(err.code == SM_WIRE_E_TRUNCATED || (len < 3 && err.code == SM_WIRE_E_COUNT));
		assert_true(r.p <= r.end);
	}
}

static void mpread_refuses_counts_over_limit_or_bytes_left(void **state)
{
	/* array32 announcing four billion elements in five bytes */
	static const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t three[] = {0x93, 1, 2, 3};
	static const uint8_t map2[] = {0x82, 0xa1, 'a', 1};
	static const uint8_t longstr[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'};
	struct sm_mpread r;
	size_t n;

	(void)state;
	r = rd(huge, sizeof(huge));
	assert_int_equal(sm_mpread_array(&r, &n, SIZE_MAX, 1, "a"), -1);
	assert_int_equal(err.code, SM_WIRE_E_COUNT);
	assert_int_equal(n, 0);
	r = rd(three, sizeof(three));
	assert_int_equal(sm_mpread_array(&r, &n, 2, 1, "a"), -1);
	assert_int_equal(err.code, SM_WIRE_E_COUNT);
	r = rd(three, sizeof(three));
	assert_int_equal(sm_mpread_array(&r, &n, 3, 2, "a"), -1); /* 3 x 2 bytes > 3 left */
	assert_int_equal(err.code, SM_WIRE_E_COUNT);
	r = rd(map2, sizeof(map2)); /* 2 pairs need 4 bytes, 3 left */
	assert_int_equal(sm_mpread_map(&r, &n, 16, 1, "m"), -1);
	assert_int_equal(err.code, SM_WIRE_E_COUNT);
	r = rd(longstr, sizeof(longstr));
	assert_int_equal(sm_mpread_skip(&r, 1, "s"), -1);
	assert_int_equal(err.code, SM_WIRE_E_TRUNCATED);
}

static void mpread_refuses_wrong_types_and_values(void **state)
{
	static const uint8_t str[] = {0xa1, 'x'};
	static const uint8_t neg[] = {0xd0, 0xff};
	static const uint8_t big[] = {0xcc, 200};
	static const uint8_t nan32[] = {0xca, 0x7f, 0xc0, 0x00, 0x00};
	static const uint8_t nil[] = {0xc0};
	static const uint8_t bad_utf8[] = {0xa2, 0xc3, 0x28};
	static const uint8_t bin3[] = {0xc4, 0x03, 1, 2, 3};
	static const uint8_t reserved[] = {0xc1};
	struct sm_mpread r;
	uint64_t u;
	double d;
	bool t;
	char s[8];
	uint8_t bin[2];
	size_t n;

	(void)state;
	r = rd(str, sizeof(str));
	assert_int_equal(sm_mpread_uint(&r, &u, 1, "u"), -1);
	assert_int_equal(err.code, SM_WIRE_E_TYPE);
	r = rd(str, sizeof(str));
	assert_int_equal(sm_mpread_array(&r, &n, 1, 1, "a"), -1);
	assert_int_equal(err.code, SM_WIRE_E_TYPE);
	r = rd(str, sizeof(str));
	assert_int_equal(sm_mpread_bool(&r, &t, "b"), -1);
	assert_int_equal(err.code, SM_WIRE_E_TYPE);
	r = rd(neg, sizeof(neg));
	assert_int_equal(sm_mpread_uint(&r, &u, UINT64_MAX, "u"), -1);
	assert_int_equal(err.code, SM_WIRE_E_RANGE);
	r = rd(big, sizeof(big));
	assert_int_equal(sm_mpread_uint(&r, &u, 100, "u"), -1);
	assert_int_equal(err.code, SM_WIRE_E_RANGE);
	r = rd(nan32, sizeof(nan32));
	assert_int_equal(sm_mpread_num(&r, &d, true, 0, 1, "f"), -1);
	assert_int_equal(err.code, SM_WIRE_E_NOT_FINITE);
	r = rd(nil, sizeof(nil));
	assert_int_equal(sm_mpread_num(&r, &d, false, 0, 1, "f"), -1);
	assert_int_equal(err.code, SM_WIRE_E_TYPE);
	r = rd(bad_utf8, sizeof(bad_utf8));
	assert_int_equal(sm_mpread_str(&r, s, 7, "s"), -1);
	assert_int_equal(err.code, SM_WIRE_E_UTF8);
	r = rd(str, sizeof(str));
	assert_int_equal(sm_mpread_str(&r, s, 0, "s"), -1);
	assert_int_equal(err.code, SM_WIRE_E_STRING);
	r = rd(bin3, sizeof(bin3));
	assert_int_equal(sm_mpread_bin(&r, bin, 2, "b"), -1);
	assert_int_equal(err.code, SM_WIRE_E_RANGE);
	r = rd(reserved, sizeof(reserved));
	assert_int_equal(sm_mpread_skip(&r, 1, "v"), -1);
	assert_int_equal(err.code, SM_WIRE_E_GARBAGE);
}

static void mpread_refuses_deep_nesting(void **state)
{
	uint8_t b[64];
	struct sm_mpread r;

	(void)state;
	memset(b, 0x91, sizeof(b)); /* [[[[...]]]] */
	b[sizeof(b) - 1] = 0x01;
	r = rd(b, sizeof(b));
	assert_int_equal(sm_mpread_skip(&r, 1, "deep"), -1);
	assert_int_equal(err.code, SM_WIRE_E_DEPTH);
	/* The same at a depth the reader allows. */
	r = rd(b + sizeof(b) - 5, 5);
	assert_int_equal(sm_mpread_skip(&r, 1, "ok"), 0);
	assert_int_equal(sm_mpread_left(&r), 0);
}

static void where_prefix(const struct sm_mpread *r, char *buf, size_t len)
{
	(void)r;
	snprintf(buf, len, "here.");
}

/* The first error is kept; the where hook names the place. */
static void mpread_keeps_first_error_with_its_place(void **state)
{
	static const uint8_t b[] = {0xa1, 'x'};
	struct sm_mpread r = rd(b, sizeof(b));
	uint64_t u;

	(void)state;
	r.where = where_prefix;
	assert_int_equal(sm_mpread_uint(&r, &u, 1, "count"), -1);
	assert_int_equal(sm_mpread_fail(&r, SM_WIRE_E_RANGE, "later", "ignored"), -1);
	assert_int_equal(err.code, SM_WIRE_E_TYPE);
	assert_string_equal(err.msg, "here.count: expected an unsigned integer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mpread_reads_every_scalar_encoding),
		cmocka_unit_test(mpread_refuses_every_truncation),
		cmocka_unit_test(mpread_refuses_counts_over_limit_or_bytes_left),
		cmocka_unit_test(mpread_refuses_wrong_types_and_values),
		cmocka_unit_test(mpread_refuses_deep_nesting),
		cmocka_unit_test(mpread_keeps_first_error_with_its_place),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
