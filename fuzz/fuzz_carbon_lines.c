/*
 * fuzz_carbon_lines.c — libFuzzer target for stackmon-carbon's receive
 * path after the socket: a message handed to sm_intake_message as the
 * daemon hands it (frame count, topic, body), each stats frame made into
 * carbon plaintext lines (cline_frame) and queued in a small destination
 * buffer (linebuf), which is written out in odd-sized pieces.
 *
 * Input layout (shared with the other targets, so one corpus seeds all):
 * byte 0 is where the rest splits into topic and body.
 * Checked beyond "no crash, no leak": every line is "<path> <value> <ts>"
 * with a path of non-empty levels of [A-Za-z0-9_-], a value that reads
 * back as a finite number and an integer timestamp; the buffer hands out
 * exactly the bytes queued, in order, whole lines only.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cline.h"
#include "linebuf.h"
#include "sm_intake.h"
#include "sm_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_FRAME 65536
#define FUZZ_BUFFER    8192 /* small, so lines are dropped often */

static struct cline_buf lines;
static struct linebuf *buf;
static struct sm_intake *intake;

static void harness_end(void)
{
	sm_intake_destroy(&intake);
	linebuf_destroy(&buf);
	cline_buf_free(&lines);
}

static bool path_byte_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

static void check_line(const char *p, size_t len)
{
	const char *sp1 = memchr(p, ' ', len), *sp2;
	char value[CLINE_VALUE_MAX + 1], *end;
	size_t vlen;
	double v;

	if (!sp1 || sp1 == p || p[0] == '.' || sp1[-1] == '.')
		abort();
	for (const char *q = p; q < sp1; q++)
		if (!path_byte_ok(*q) || (*q == '.' && q[1] == '.'))
			abort();
	sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - p));
	if (!sp2 || (vlen = (size_t)(sp2 - sp1 - 1)) == 0 || vlen > CLINE_VALUE_MAX)
		abort();
	memcpy(value, sp1 + 1, vlen);
	value[vlen] = '\0';
	v = strtod(value, &end);
	if (*end || !isfinite(v))
		abort();
	for (const char *q = sp2 + 1; q < p + len; q++)
		if ((*q < '0' || *q > '9') && !(*q == '-' && q == sp2 + 1))
			abort();
	if (sp2 + 1 == p + len)
		abort();
}

static void on_stats(void *arg, const struct sm_message *m, int64_t now_ns, bool complete)
{
	size_t n, taken, before = linebuf_bytes(buf);

	(void)arg;
	(void)now_ns;
	(void)complete;
	cline_buf_reset(&lines);
	n = cline_frame(&lines, "stackmon", m, NULL);
	if (lines.failed)
		return;
	if (n != lines.lines)
		abort();
	for (const char *p = lines.data; p < lines.data + lines.len;) {
		const char *nl = memchr(p, '\n', (size_t)(lines.data + lines.len - p));

		if (!nl)
			abort();
		check_line(p, (size_t)(nl - p));
		p = nl + 1;
	}
	linebuf_append(buf, lines.data, lines.len, &taken);
	if (linebuf_bytes(buf) != before + taken || (taken && lines.data[taken - 1] != '\n'))
		abort();
	/* Write out in pieces of 7 bytes: the lines come back whole and in order. */
	while (linebuf_bytes(buf) > FUZZ_BUFFER / 2) {
		struct iovec iov[2];
		size_t lines_before = linebuf_lines(buf), done;

		if (linebuf_pending(buf, iov) == 0)
			abort();
		done = linebuf_written(buf, iov[0].iov_len < 7 ? iov[0].iov_len : 7);
		if (done > lines_before)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int64_t now_ns;
	size_t split;

	if (!intake) {
		struct sm_intake_sink sink = {.stats = on_stats};

		sm_log_open("fuzz_carbon_lines", SM_LOG_ERR, false);
		buf = linebuf_new(FUZZ_BUFFER);
		intake = buf ? sm_intake_new(&sink, FUZZ_MAX_FRAME, NULL) : NULL;
		if (!intake)
			abort();
		atexit(harness_end);
	}
	if (size < 1)
		return 0;
	split = data[0] < size ? data[0] : size - 1;
	data++;
	size--;
	split = split < size ? split : size;
	sm_intake_message(intake, 2, data, split, data + split, size - split, now_ns);
	now_ns += 1000000000;
	return 0;
}
