/*
 * Tests of a destination's line buffer: full means the newest lines are
 * dropped and counted, a partial write resumes at the right byte, a lost
 * connection resumes at the start of the unfinished line, and the ring
 * wraps and grows without reordering a byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "linebuf.h"

/* The pending bytes as one string (at most len-1 bytes). */
static size_t pending_text(struct linebuf *lb, char *out, size_t len)
{
	struct iovec iov[2];
	int n = linebuf_pending(lb, iov);
	size_t k = 0;

	for (int i = 0; i < n; i++)
		for (size_t j = 0; j < iov[i].iov_len && k + 1 < len; j++)
			out[k++] = ((char *)iov[i].iov_base)[j];
	out[k] = '\0';
	return k;
}

static void full_buffer_drops_the_newest_lines_and_counts_them(void **state)
{
	struct linebuf *lb = linebuf_new(1024);
	char line[100], text[2048];
	size_t len = 0, dropped;

	(void)state;
	/* 20 lines of 64 bytes: 16 fit in 1024. */
	for (int i = 0; i < 20; i++) {
		snprintf(line, sizeof(line), "stackmon.hosts.h.m%02d %031d 1700000000\n", i, i);
		assert_int_equal(strlen(line), 64);
		memcpy(text + len, line, 64);
		len += 64;
	}
	size_t taken;

	dropped = linebuf_append(lb, text, len, &taken);
	assert_int_equal(dropped, 4);
	assert_int_equal(taken, 1024);
	assert_int_equal(linebuf_lines(lb), 16);
	assert_int_equal(linebuf_bytes(lb), 1024);
	/* The oldest are kept: the first line waits first. */
	pending_text(lb, text, sizeof(text));
	assert_memory_equal(text, "stackmon.hosts.h.m00 ", 21);
	assert_memory_equal(text + 15 * 64, "stackmon.hosts.h.m15 ", 21);
	/* Still full: one more line is dropped whole. */
	assert_int_equal(linebuf_append(lb, line, 64, NULL), 1);
	/* Text that does not end a line is refused whole. */
	assert_int_equal(linebuf_append(lb, "a 1 2\nb 2", 9, NULL), 2);
	linebuf_destroy(&lb);
	assert_null(lb);
	assert_null(linebuf_new(0));
}

static void partial_write_resumes_at_the_next_byte(void **state)
{
	struct linebuf *lb = linebuf_new(4096);
	char text[256];

	(void)state;
	assert_int_equal(linebuf_append(lb, "a.b 1 10\nc.d 2 10\n", 18, NULL), 0);
	assert_int_equal(linebuf_written(lb, 5), 0); /* "a.b 1" went out */
	pending_text(lb, text, sizeof(text));
	assert_string_equal(text, " 10\nc.d 2 10\n");
	assert_int_equal(linebuf_lines(lb), 2);
	assert_int_equal(linebuf_written(lb, 6), 1); /* " 10\nc." */
	pending_text(lb, text, sizeof(text));
	assert_string_equal(text, "d 2 10\n");
	assert_int_equal(linebuf_lines(lb), 1);
	assert_int_equal(linebuf_bytes(lb), 9); /* "c.d 2 10\n": its start is still held */
	assert_int_equal(linebuf_written(lb, 7), 1);
	assert_int_equal(linebuf_pending(lb, (struct iovec[2]){0}), 0);
	assert_int_equal(linebuf_bytes(lb), 0);
	linebuf_destroy(&lb);
}

static void lost_connection_resumes_at_the_line_start(void **state)
{
	struct linebuf *lb = linebuf_new(4096);
	char text[256];

	(void)state;
	linebuf_append(lb, "a.b 1 10\nc.d 2 10\ne.f 3 10\n", 27, NULL);
	linebuf_written(lb, 12); /* "a.b 1 10\nc.d" */
	linebuf_rewind(lb);
	pending_text(lb, text, sizeof(text));
	assert_string_equal(text, "c.d 2 10\ne.f 3 10\n");
	assert_int_equal(linebuf_lines(lb), 2);
	linebuf_rewind(lb); /* twice changes nothing */
	pending_text(lb, text, sizeof(text));
	assert_string_equal(text, "c.d 2 10\ne.f 3 10\n");
	linebuf_destroy(&lb);
}

static void ring_wraps_and_grows_in_order(void **state)
{
	/* Bound above the first allocation, so it grows while wrapped. */
	struct linebuf *lb = linebuf_new(300 * 1024);
	char line[64], got[64];
	unsigned next_in = 0, next_out = 0;

	(void)state;
	for (int round = 0; round < 200; round++) {
		/* in: a burst; out: a bit less, in odd-sized writes */
		for (int i = 0; i < 50 + round * 10; i++) {
			int n = snprintf(line, sizeof(line), "m.%08u %u 1\n", next_in, next_in);

			if (linebuf_append(lb, line, (size_t)n, NULL) == 0)
				next_in++;
			else
				break;
		}
		for (int i = 0; i < 40 + round * 9; i++) {
			struct iovec iov[2];
			int n = snprintf(line, sizeof(line), "m.%08u %u 1\n", next_out, next_out);
			size_t k = 0;
			int pieces = linebuf_pending(lb, iov);

			if (pieces == 0)
				break;
			for (int p = 0; p < pieces && k < (size_t)n; p++)
				for (size_t j = 0; j < iov[p].iov_len && k < (size_t)n; j++)
					got[k++] = ((char *)iov[p].iov_base)[j];
			assert_int_equal(k, n);
			assert_memory_equal(got, line, (size_t)n);
			/* in two writes, to cross a line's middle */
			assert_int_equal(linebuf_written(lb, 3), 0);
			assert_int_equal(linebuf_written(lb, (size_t)n - 3), 1);
			next_out++;
		}
	}
	assert_int_equal(linebuf_lines(lb), next_in - next_out);
	linebuf_destroy(&lb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(full_buffer_drops_the_newest_lines_and_counts_them),
	    cmocka_unit_test(partial_write_resumes_at_the_next_byte),
	    cmocka_unit_test(lost_connection_resumes_at_the_line_start),
	    cmocka_unit_test(ring_wraps_and_grows_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
