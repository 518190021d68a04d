/*
 * alert_json — an alert as JSON: the object Alertmanager's v2 API takes
 * (labels, annotations, startsAt, endsAt), which the command hook gets
 * too with its status, rule and value. One place decides the labels every
 * receiver sees (docs/ALERTS.md "Labels"), so Alertmanager's routing, the
 * hook's scripts and the dashboard agree.
 */
#ifndef ALERT_JSON_H
#define ALERT_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "eval.h"

/* A growable text buffer; `failed` once memory ran out (text then partial). */
struct jbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

void jbuf_free(struct jbuf *b);
void jbuf_reset(struct jbuf *b);
void jbuf_raw(struct jbuf *b, const char *s);
/* The n bytes at s, as they are. */
void jbuf_put(struct jbuf *b, const char *s, size_t n);
/* s as a JSON string, quoted and escaped (control characters as \uXXXX). */
void jbuf_str(struct jbuf *b, const char *s);
/* v as a JSON number (sm_json_number: null for NaN). */
void jbuf_num(struct jbuf *b, double v);
/* t (wall clock) as an RFC 3339 UTC time string, quoted, with milliseconds. */
void jbuf_time(struct jbuf *b, double t);

/* Appends a's object. For a firing alert endsAt is now + valid_s (how long
 * Alertmanager may keep it without hearing again; 0 = left out); for a
 * resolved one its end. With `hook`, adds "status", "rule", "value" and
 * "reason" (the hook's object; Alertmanager gets exactly its API's fields). */
void alert_json(struct jbuf *b, const struct alert_info *a, double now, double valid_s, bool hook);

/* Calls fn(ctx, name, value) for every label of a, in the order above. */
void alert_labels(const struct alert_info *a,
		  void (*fn)(void *ctx, const char *name, const char *value), void *ctx);

#endif
