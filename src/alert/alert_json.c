/*
 * alert_json — see alert_json.h.
 */
#include "alert_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sm_json.h"

void jbuf_free(struct jbuf *b)
{
	free(b->p);
	*b = (struct jbuf){0};
}

void jbuf_reset(struct jbuf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->p)
		b->p[0] = '\0';
}

static void put(struct jbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void jbuf_put(struct jbuf *b, const char *s, size_t n)
{
	put(b, s, n);
}

void jbuf_raw(struct jbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

void jbuf_str(struct jbuf *b, const char *s)
{
	put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(b, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(b, esc, 6);
		} else {
			put(b, (const char *)&c, 1);
		}
	}
	put(b, "\"", 1);
}

void jbuf_num(struct jbuf *b, double v)
{
	char buf[SM_JSON_NUMBER_MAX];

	sm_json_number(buf, sizeof(buf), v);
	jbuf_raw(b, buf);
}

void jbuf_time(struct jbuf *b, double t)
{
	time_t s = (time_t)floor(t);
	struct tm tm;
	char buf[64];
	int ms = (int)((t - floor(t)) * 1000);

	gmtime_r(&s, &tm);
	snprintf(buf, sizeof(buf), "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms > 999 ? 999 : ms);
	jbuf_raw(b, buf);
}

void alert_labels(const struct alert_info *a,
		  void (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
	const struct rule *r = a->rule;
	const struct {
		const char *name, *value;
	} own[] = {
	    {"alertname", r->name},
	    {"severity", r->severity},
	    {"host", a->host},
	    {"uuid", a->uuid},
	    {"domain", a->domain},
	    {"name", a->display_name},
	    {"project_id", a->project_id},
	    {"project", a->project_name},
	    {"device", a->device},
	};

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (own[i].value && own[i].value[0]) /* an empty label is no label */
			fn(ctx, own[i].name, own[i].value);
	for (size_t i = 0; i < r->nlabels; i++)
		fn(ctx, r->labels[i].key, r->labels[i].value);
}

struct kv_ctx {
	struct jbuf *b;
	bool first;
};

static void put_kv(void *ctx, const char *name, const char *value)
{
	struct kv_ctx *k = ctx;

	if (!k->first)
		jbuf_raw(k->b, ",");
	k->first = false;
	jbuf_str(k->b, name);
	jbuf_raw(k->b, ":");
	jbuf_str(k->b, value);
}

static bool annotated(const struct rule *r, const char *key)
{
	for (size_t i = 0; i < r->nannotations; i++)
		if (strcmp(r->annotations[i].key, key) == 0)
			return true;
	return false;
}

void alert_json(struct jbuf *b, const struct alert_info *a, double now, double valid_s, bool hook)
{
	const struct rule *r = a->rule;
	struct kv_ctx k = {.b = b, .first = true};
	bool firing = a->state == ALERT_FIRING;
	char num[SM_JSON_NUMBER_MAX];

	jbuf_raw(b, "{");
	if (hook) {
		jbuf_raw(b, "\"status\":");
		jbuf_str(b, firing ? "firing" : "resolved");
		jbuf_raw(b, ",\"rule\":");
		jbuf_str(b, r->name);
		jbuf_raw(b, ",\"value\":");
		jbuf_num(b, a->value);
		if (!firing) {
			jbuf_raw(b, ",\"reason\":");
			jbuf_str(b, a->reason ? a->reason : "cleared");
		}
		jbuf_raw(b, ",");
	}
	jbuf_raw(b, "\"labels\":{");
	alert_labels(a, put_kv, &k);
	jbuf_raw(b, "},\"annotations\":{");
	k.first = true;
	for (size_t i = 0; i < r->nannotations; i++)
		put_kv(&k, r->annotations[i].key, r->annotations[i].value);
	if (!annotated(r, "expr"))
		put_kv(&k, "expr", r->expr);
	if (!annotated(r, "value") && !isnan(a->value)) {
		sm_json_number(num, sizeof(num), a->value);
		put_kv(&k, "value", num);
	}
	jbuf_raw(b, "},\"startsAt\":");
	jbuf_time(b, a->since);
	if (!firing) {
		jbuf_raw(b, ",\"endsAt\":");
		jbuf_time(b, a->ends_at > 0 ? a->ends_at : now);
	} else if (valid_s > 0) {
		jbuf_raw(b, ",\"endsAt\":");
		jbuf_time(b, now + valid_s);
	}
	jbuf_raw(b, "}");
}
