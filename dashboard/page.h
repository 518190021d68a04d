/*
 * page — the dashboard's pages and API endpoints, and what they share: the
 * HTML frame (header, project tabs, footer, the inline stylesheet), link
 * building, and the instance table with its server-side sort. Each page
 * function validates what its query names, checks access, writes the body
 * into d->body and returns the HTTP status; on anything but 200 it sets
 * d->message instead and main.c writes the error page.
 */
#ifndef DASH_PAGE_H
#define DASH_PAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "dash.h"
#include "metric.h"
#include "query.h"
#include "series.h"
#include "snapshot.h"

/* One route: PATH_INFO, its query keys, its handler. */
struct page_route {
	const char *path;
	const struct query_key *keys;
	size_t nkeys;
	int (*handler)(struct dash *d);
	bool json;	  /* errors answered as JSON */
	bool needs_index; /* opens the index first */
};

/* Every route, ended by a NULL path. */
extern const struct page_route page_routes[];

/* ---- pages (HTML) ---- */
int page_home(struct dash *d);	    /* "/": tenant snapshot, or the administrators' overview */
int page_instance(struct dash *d);  /* "/instance": identity, latest values, graphs */
int page_host(struct dash *d);	    /* "/host": a node, its graphs and instances (admins) */
int page_instances(struct dash *d); /* "/instances": every active instance (admins) */

/* Looks up instance `param` (a validated uuid parameter, NULL if absent)
 * and checks the requester may read it. Returns 200 with its canonical
 * uuid and *row filled, or an error status (row cleared, the refusal
 * logged): 404 alike for unknown and not-yours. */
int instance_lookup(struct dash *d, const char *param, char uuid[37], struct snap_row *row);
/* Checks the requester is an administrator (403, logged) and host `name`
 * exists (404). Returns 200 with *hosts holding its one row, or an error
 * status. */
int host_lookup(struct dash *d, const char *name, struct snap_hosts *hosts);

/* ---- JSON API ---- */
int api_index(struct dash *d);
int api_projects(struct dash *d);
int api_snapshot(struct dash *d);
int api_instance(struct dash *d);
int api_series(struct dash *d);
int api_hosts(struct dash *d);
int api_host(struct dash *d);

/* ---- the HTML frame (page_common.c) ---- */

/* Writes the document head and the top bar. `active_project` (with its
 * name, if known) marks a tab; refresh > 0 adds a meta refresh of that many
 * seconds. */
void page_begin(struct dash *d, const char *title, const char *active_project,
		const char *active_name, int refresh);
void page_end(struct dash *d);
/* A whole error page for `status` with d->message. */
void page_error(struct dash *d, int status);
/* A whole JSON error body for `status` with d->message. */
void api_error(struct dash *d, int status);

/* Writes an href value: SCRIPT_NAME + path + "?k=v&amp;…" for the pairs
 * whose value is not NULL; keys and values are percent-encoded. */
void page_href(struct dash *d, const char *path, size_t npairs, const char *const *keys,
	       const char *const *values);

/* "4 s", "12 min", "3 h", "2 d"; "—" for NaN. */
void page_age(double seconds, char *buf, size_t len);
/* Local date and time "2026-11-29 02:31:07 CET"; "—" for NaN. */
void page_time(double t, char *buf, size_t len);
/* libvirt state name ("running", "paused", …). */
const char *page_state_name(unsigned state);

/* The stylesheet inlined in every page, and its CSP hash source
 * ("'sha256-…'"), generated from dashboard/style.css at build time. */
extern const char dash_style_css[];
const char *dash_style_csp(void);

/* ---- metric files and their charts (charts.c) ---- */

/* A metric file the index lists for an instance or a host. */
struct metric_file {
	char *name;
	char *path; /* relative to the data directory */
	struct metric_class cls;
};

struct metric_files {
	struct metric_file *v; /* sorted by chart, then series order */
	size_t n;
};

/* Loads the metric files of instance `uuid` or host `host` (the other one
 * NULL), classified and sorted. Returns 0 or -1. */
int metric_files_load(struct dash *d, const char *uuid, const char *host, struct metric_files *out);
void metric_files_clear(struct metric_files *m);
/* The file of metric `name`, or NULL. */
const struct metric_file *metric_files_find(const struct metric_files *m, const char *name);

/* Writes every chart of `m` over window `w` ending now, in a grid. */
void charts_write(struct dash *d, const struct metric_files *m, enum window w);

/* Writes the window links (15 min, 3 hours, …) of page `path` with its
 * parameter (key, value), `w` marked. */
void window_links(struct dash *d, const char *path, const char *key, const char *value,
		  enum window w);

/* ---- the instance table (table.c) ---- */

enum sort_key {
	SORT_NAME,
	SORT_PROJECT,
	SORT_HOST,
	SORT_CPU,
	SORT_MEM,
	SORT_RD_REQ,
	SORT_WR_REQ,
	SORT_RD_BYTES,
	SORT_WR_BYTES,
	SORT_RX,
	SORT_TX,
	SORT_LOAD1,
	SORT_LOAD5,
	SORT_LOAD15,
	SORT_AGE,
	SORT_COUNT
};

/* The sort key called `name` ("cpu", "rx", …), or -1. */
int sort_parse(const char *name);
const char *sort_name(enum sort_key key);

/* Sorts rows by key (unknown values last whichever the order), then by
 * name and uuid so the order is total. */
void table_sort(struct snap_row *rows, size_t n, enum sort_key key, bool desc, double now);

/* True if the row's latest point is missing, flagged stale, or older than
 * d->stale_after. */
bool row_stale(const struct dash *d, const struct snap_row *r);

struct table_opts {
	bool show_project; /* a Project column (host pages) */
	bool show_host;	   /* a Host column */
	enum sort_key sort;
	bool desc;
	const char *path;  /* route of the sort links */
	const char *param; /* the page's own parameter kept in sort links ("project", "name") */
	const char *param_value;
	const char *refresh; /* kept in sort links when set */
	bool partial;	     /* the rows are the first of a longer list: no totals */
};

/* Parses the route's sort= and order= values into o->sort and o->desc;
 * returns 0, or -1 (d->message set) for an unknown key or order. */
int table_opts_parse(struct dash *d, const char *sort, const char *order, struct table_opts *o);

/* Writes the table (with totals) of rows, already sorted. */
void table_write(struct dash *d, const struct snap_row *rows, size_t n, const struct table_opts *o);

/* Writes one row as a JSON object (API). */
void json_row(struct dash *d, const struct snap_row *r);
/* Writes a number in the project's one JSON format (sm_json_number), or
 * null for NaN. */
void json_num(FILE *out, double v);
/* Writes a time in seconds since the epoch with milliseconds, or null. */
void json_time(FILE *out, double t);

/* Reason phrase of an HTTP status the dashboard answers with ("Not Found"). */
const char *page_status_text(int status);

#endif
