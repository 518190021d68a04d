/*
 * expo — the Prometheus text exposition format, version 0.0.4: a growing
 * text buffer, the HELP and TYPE lines of a family, samples, and label
 * values escaped as the format wants (backslash, double quote and newline;
 * every other byte, UTF-8 included, is written as it is). Knows nothing of
 * StackMon's metrics: render.c says which families there are.
 * Invariant: a value that is not finite (NaN: "unknown" on the wire) is
 * never written; its sample line is left out whole.
 */
#ifndef EXPO_H
#define EXPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Plain data: a text being built. Zero-initialise; release with
 * expo_buf_free (or take data and free() it yourself). */
struct expo_buf {
	char *data;  /* NUL-terminated text, NULL before the first write */
	size_t len;  /* bytes of text, without the NUL */
	size_t cap;  /* bytes allocated */
	bool failed; /* an allocation failed: the text is incomplete */
};

/* Frees the text and zeroes the buffer. NULL-safe. */
void expo_buf_free(struct expo_buf *b);
/* Makes room for n more bytes at once (a scrape reserves the size of the
 * last one, sparing the copies of growing by doubling). false when out of
 * memory (failed set). */
bool expo_reserve(struct expo_buf *b, size_t n);
/* Appends n bytes / a string / printf-style text. On allocation failure
 * sets b->failed and writes nothing more. */
void expo_put(struct expo_buf *b, const char *s, size_t n);
void expo_puts(struct expo_buf *b, const char *s);
void expo_printf(struct expo_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `name="value"` with value escaped; a leading comma unless
 * `first`. Nothing at all for a NULL or empty value (Prometheus reads an
 * empty label as an absent one). Returns true when something was written. */
bool expo_label(struct expo_buf *b, bool first, const char *name, const char *value);
/* Appends the escaped label value only (no quotes). */
void expo_escape(struct expo_buf *b, const char *value);
/* The "# HELP name help" and "# TYPE name type" lines of a family; type is
 * "counter", "gauge" or "untyped". */
void expo_family(struct expo_buf *b, const char *name, const char *type, const char *help);
/* One sample line: `name{labels} value`, labels being text already made
 * with expo_label (NULL or "" for none). A value that is not finite writes
 * nothing and returns false. */
bool expo_sample(struct expo_buf *b, const char *name, const char *labels, double value);
/* The same with an exact unsigned integer (counters beyond 2^53 stay exact
 * in the text; Prometheus reads them as the nearest float). */
void expo_sample_u64(struct expo_buf *b, const char *name, const char *labels, uint64_t value);

#endif
