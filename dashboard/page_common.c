/*
 * page_common — the HTML frame every page shares: head with the inline
 * stylesheet (allowed by its hash in the Content-Security-Policy, so no
 * 'unsafe-inline'), the top bar with the requester's project tabs, the
 * footer, error pages, and small formatters. Every string that did not
 * come from this file goes through esc_*.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "esc.h"
#include "page.h"
#include "sm_log.h"

/* Generated at build time from style.css (style_css.c). */
extern const char dash_style_sha256_hex[];

const char *dash_style_csp(void)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static char out[64];
	unsigned char raw[32];
	size_t o;

	if (out[0])
		return out;
	for (int i = 0; i < 32; i++) {
		unsigned v;

		if (sscanf(dash_style_sha256_hex + 2 * i, "%2x", &v) != 1)
			v = 0;
		raw[i] = (unsigned char)v;
	}
	o = (size_t)snprintf(out, sizeof(out), "'sha256-");
	for (int i = 0; i < 32; i += 3) {
		unsigned v = raw[i] << 16 | (i + 1 < 32 ? raw[i + 1] << 8 : 0) |
			     (i + 2 < 32 ? raw[i + 2] : 0);

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < 32 ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < 32 ? b64[v & 63] : '=';
	}
	out[o++] = '\'';
	out[o] = '\0';
	return out;
}

int dash_fail(struct dash *d, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->message, sizeof(d->message), fmt, ap);
	va_end(ap);
	return status;
}

int dash_deny(struct dash *d, int status, const char *what, const char *reason_fmt, ...)
{
	char reason[256], user[160], path[96], addr[64];
	va_list ap;

	va_start(ap, reason_fmt);
	vsnprintf(reason, sizeof(reason), reason_fmt, ap);
	va_end(ap);
	/* Every part may hold request text: esc_log keeps the line one line. */
	esc_log(user, sizeof(user), d->user ? d->user : "(anonymous)");
	esc_log(path, sizeof(path), d->path);
	esc_log(addr, sizeof(addr), getenv("REMOTE_ADDR"));
	sm_log_warnx("denied %d: user %s from %s, %s: %s", status, user, addr, path, reason);
	return dash_fail(d, status, "%s", what);
}

const char *dash_param(const struct dash *d, const char *name)
{
	for (size_t i = 0; i < d->nkeys && i < DASH_MAX_KEYS; i++)
		if (strcmp(d->keys[i].name, name) == 0)
			return d->q[i];
	return NULL;
}

bool dash_may_read(const struct dash *d, const char *project_id)
{
	if (project_id == NULL)
		return d->admin;
	return access_may_read(d->access, d->user, project_id);
}

void page_href(struct dash *d, const char *path, size_t npairs, const char *const *keys,
	       const char *const *values)
{
	bool first = true;

	esc_html(d->body, d->script);
	esc_html(d->body, path);
	for (size_t i = 0; i < npairs; i++) {
		if (values[i] == NULL)
			continue;
		fputs(first ? "?" : "&amp;", d->body);
		esc_url(d->body, keys[i]);
		fputc('=', d->body);
		esc_url(d->body, values[i]);
		first = false;
	}
}

void page_age(double s, char *buf, size_t len)
{
	if (!isfinite(s))
		snprintf(buf, len, "\u2014");
	else if (s < 0)
		snprintf(buf, len, "0 s");
	else if (s < 120)
		snprintf(buf, len, "%.0f s", s);
	else if (s < 7200)
		snprintf(buf, len, "%.0f min", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%.0f h", s / 3600);
	else
		snprintf(buf, len, "%.0f d", s / 86400);
}

void page_time(double t, char *buf, size_t len)
{
	time_t tt;
	struct tm tm;

	if (!isfinite(t) || len == 0) {
		snprintf(buf, len, "\u2014");
		return;
	}
	tt = (time_t)t;
	localtime_r(&tt, &tm);
	if (strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
		buf[0] = '\0';
}

const char *page_state_name(unsigned state)
{
	static const char *const names[] = {"no state",	     "running",	 "blocked", "paused",
					    "shutting down", "shut off", "crashed", "suspended"};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

/* The tabs of the top bar: administrators get the overview and the list
 * of all instances, everyone the projects the access list gives them by
 * name, shown by their name in the
 * index (or their id while the index has none), and the project being
 * viewed if an administrator came to it from the overview. */
static void write_tab(struct dash *d, const char *id, const char *name, bool on)
{
	static const char *const k[] = {"project"};
	const char *v[] = {id};

	fprintf(d->body, "<a%s title=\"", on ? " class=\"on\"" : "");
	esc_html(d->body, id);
	fputs("\" href=\"", d->body);
	page_href(d, "/", 1, k, v);
	fputs("\">", d->body);
	esc_html(d->body, name ? name : id);
	fputs("</a>", d->body);
}

static void write_tabs(struct dash *d, const char *active, const char *active_name)
{
	bool listed = false;

	fputs("<nav>", d->body);
	if (d->admin) {
		fprintf(d->body, "<a%s href=\"",
			active == NULL && strcmp(d->path, "/") == 0 ? " class=\"on\"" : "");
		page_href(d, "/", 0, NULL, NULL);
		fprintf(d->body, "\">Overview</a><a%s href=\"",
			strcmp(d->path, "/instances") == 0 ? " class=\"on\"" : "");
		page_href(d, "/instances", 0, NULL, NULL);
		fputs("\">Instances</a>", d->body);
	}
	for (size_t i = 0; i < d->nprojects; i++) {
		bool on = active && strcmp(active, d->projects[i]) == 0;

		listed = listed || on;
		write_tab(d, d->projects[i], d->project_names ? d->project_names[i] : NULL, on);
	}
	if (active && !listed)
		write_tab(d, active, active_name, true);
	fputs("</nav>", d->body);
}

void page_begin(struct dash *d, const char *title, const char *active_project,
		const char *active_name, int refresh)
{
	FILE *o = d->body;

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
	      "<meta name=\"referrer\" content=\"no-referrer\"/>",
	      o);
	if (refresh > 0)
		fprintf(o, "<meta http-equiv=\"refresh\" content=\"%d\"/>", refresh);
	fputs("<title>", o);
	esc_html(o, title);
	fputs(" \u00b7 ", o);
	esc_html(o, d->title);
	fprintf(o, "</title><style>%s</style></head>\n<body><header><a class=\"brand\" href=\"",
		dash_style_css);
	page_href(d, "/", 0, NULL, NULL);
	fputs("\">", o);
	esc_html(o, d->title);
	fputs("</a>", o);
	write_tabs(d, active_project, active_name);
	fputs("<span class=\"who\">", o);
	if (d->user) {
		fputs("signed in as ", o);
		esc_html(o, d->user);
		if (d->admin)
			fputs(" (administrator)", o);
	} else {
		fputs("not signed in (public projects only)", o);
	}
	fputs("</span></header>\n<main>", o);
}

void page_end(struct dash *d)
{
	char when[64];

	page_time(d->now, when, sizeof(when));
	fprintf(d->body,
		"</main>\n<footer>StackMon %s \u00b7 page made %s</footer></body></html>\n",
		STACKMON_VERSION, when);
}

const char *page_status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

void page_error(struct dash *d, int status)
{
	FILE *o = d->body;

	fprintf(o,
		"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
		"<title>%d %s</title><style>%s</style></head>\n<body><div class=\"err\">"
		"<h1>%d %s</h1><p>",
		status, page_status_text(status), dash_style_css, status, page_status_text(status));
	esc_html(o, d->message);
	fputs("</p>", o);
	if (d->script && (status == 404 || status == 400 || status == 403)) {
		fputs("<p><a href=\"", o);
		esc_html(o, d->script);
		fputs("/\">Back to the dashboard</a></p>", o);
	}
	fputs("</div></body></html>\n", o);
}

void api_error(struct dash *d, int status)
{
	fprintf(d->body, "{\"error\":{\"status\":%d,\"message\":", status);
	esc_json(d->body, d->message);
	fputs("}}\n", d->body);
}
