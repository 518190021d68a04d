/*
 * expo — the Prometheus text exposition format 0.0.4 (see expo.h). Numbers
 * go through sm_json_number: integers print as integers and floats in the
 * fewest digits that read back as the same value, which Prometheus' parser
 * (Go's ParseFloat) reads exactly.
 */
#include "expo.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_json.h"

void expo_buf_free(struct expo_buf *b)
{
	if (!b)
		return;
	free(b->data);
	*b = (struct expo_buf){0};
}

/* Makes room for n more bytes and the NUL; false (and failed) when it cannot. */
bool expo_reserve(struct expo_buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (b->failed)
		return false;
	if (n > SIZE_MAX / 2 - b->len) {
		b->failed = true;
		return false;
	}
	want = b->len + n + 1;
	if (want <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < want)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void expo_put(struct expo_buf *b, const char *s, size_t n)
{
	if (!expo_reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void expo_puts(struct expo_buf *b, const char *s)
{
	expo_put(b, s, strlen(s));
}

void expo_printf(struct expo_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !expo_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void expo_escape(struct expo_buf *b, const char *value)
{
	const char *run = value;

	/* Copies runs of plain bytes at once; only three bytes need escapes. */
	for (const char *p = value;; p++) {
		const char *esc = NULL;

		switch (*p) {
		case '\\':
			esc = "\\\\";
			break;
		case '"':
			esc = "\\\"";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\0':
			expo_put(b, run, (size_t)(p - run));
			return;
		default:
			continue;
		}
		expo_put(b, run, (size_t)(p - run));
		expo_puts(b, esc);
		run = p + 1;
	}
}

bool expo_label(struct expo_buf *b, bool first, const char *name, const char *value)
{
	if (!value || !value[0])
		return false;
	if (!first)
		expo_put(b, ",", 1);
	expo_puts(b, name);
	expo_put(b, "=\"", 2);
	expo_escape(b, value);
	expo_put(b, "\"", 1);
	return true;
}

void expo_family(struct expo_buf *b, const char *name, const char *type, const char *help)
{
	/* HELP text would need "\\" and "\n" escaped; ours are constants
	 * written without either. */
	expo_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_start(struct expo_buf *b, const char *name, const char *labels)
{
	expo_puts(b, name);
	if (labels && labels[0]) {
		expo_put(b, "{", 1);
		expo_puts(b, labels);
		expo_put(b, "}", 1);
	}
	expo_put(b, " ", 1);
}

bool expo_sample(struct expo_buf *b, const char *name, const char *labels, double value)
{
	char num[SM_JSON_NUMBER_MAX];
	size_t n;

	if (!isfinite(value))
		return false;
	n = sm_json_number(num, sizeof(num), value);
	sample_start(b, name, labels);
	expo_put(b, num, n < sizeof(num) ? n : sizeof(num) - 1);
	expo_put(b, "\n", 1);
	return true;
}

void expo_sample_u64(struct expo_buf *b, const char *name, const char *labels, uint64_t value)
{
	sample_start(b, name, labels);
	expo_printf(b, "%llu\n", (unsigned long long)value);
}
