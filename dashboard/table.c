/*
 * table — the instance table of the tenant and host pages: one row per
 * active instance with its latest values, sorted on the server by any
 * column (the headers are plain links carrying sort= and order=, so no
 * script is needed), stale rows marked, totals in the footer. Also the
 * JSON form of a row, so the API and the page show the same data.
 */
#define _GNU_SOURCE /* qsort_r */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "esc.h"
#include "metric.h"
#include "page.h"
#include "sm_json.h"

static const char *const sort_names[SORT_COUNT] = {
    [SORT_NAME] = "name",
    [SORT_PROJECT] = "project",
    [SORT_HOST] = "host",
    [SORT_CPU] = "cpu",
    [SORT_MEM] = "mem",
    [SORT_RD_REQ] = "rd_req",
    [SORT_WR_REQ] = "wr_req",
    [SORT_RD_BYTES] = "rd_bytes",
    [SORT_WR_BYTES] = "wr_bytes",
    [SORT_RX] = "rx",
    [SORT_TX] = "tx",
    [SORT_LOAD1] = "load1",
    [SORT_LOAD5] = "load5",
    [SORT_LOAD15] = "load15",
    [SORT_AGE] = "age",
};

/* The snap_value behind each numeric sort key (-1 for the others). */
static const int sort_value[SORT_COUNT] = {
    [SORT_NAME] = -1,
    [SORT_PROJECT] = -1,
    [SORT_HOST] = -1,
    [SORT_CPU] = SNAP_CPU,
    [SORT_MEM] = SNAP_MEM,
    [SORT_RD_REQ] = SNAP_RD_REQ,
    [SORT_WR_REQ] = SNAP_WR_REQ,
    [SORT_RD_BYTES] = SNAP_RD_BYTES,
    [SORT_WR_BYTES] = SNAP_WR_BYTES,
    [SORT_RX] = SNAP_RX_BYTES,
    [SORT_TX] = SNAP_TX_BYTES,
    [SORT_LOAD1] = SNAP_LOAD1,
    [SORT_LOAD5] = SNAP_LOAD5,
    [SORT_LOAD15] = SNAP_LOAD15,
    [SORT_AGE] = -1,
};

int sort_parse(const char *name)
{
	for (int i = 0; name && i < SORT_COUNT; i++)
		if (strcmp(name, sort_names[i]) == 0)
			return i;
	return -1;
}

const char *sort_name(enum sort_key key)
{
	return (unsigned)key < SORT_COUNT ? sort_names[key] : "name";
}

/* Text columns sort A→Z first; numbers biggest first (what an operator
 * looking for the busiest instance wants on the first click). */
static bool default_desc(enum sort_key key)
{
	return sort_value[key] >= 0;
}

static const char *row_name(const struct snap_row *r)
{
	return r->display_name ? r->display_name : r->name ? r->name : "";
}

bool row_stale(const struct dash *d, const struct snap_row *r)
{
	return r->stale || !isfinite(r->time) || d->now - r->time > d->stale_after;
}

struct sort_ctx {
	enum sort_key key;
	bool desc;
	double now;
};

static int cmp_text(const char *a, const char *b)
{
	int c;

	a = a ? a : "";
	b = b ? b : "";
	c = strcasecmp(a, b);
	return c ? c : strcmp(a, b);
}

static int cmp_rows(const void *pa, const void *pb, void *arg)
{
	const struct snap_row *a = pa, *b = pb;
	const struct sort_ctx *ctx = arg;
	int c = 0;

	if (sort_value[ctx->key] >= 0 || ctx->key == SORT_AGE) {
		double va, vb;

		if (ctx->key == SORT_AGE) {
			va = ctx->now - a->time;
			vb = ctx->now - b->time;
		} else {
			va = a->v[sort_value[ctx->key]];
			vb = b->v[sort_value[ctx->key]];
		}
		/* Unknown values go last in either order. */
		if (isnan(va) != isnan(vb))
			return isnan(va) ? 1 : -1;
		if (!isnan(va) && va != vb)
			c = va < vb ? -1 : 1;
	} else if (ctx->key == SORT_PROJECT) {
		const char *na = a->project_name ? a->project_name : a->project_id;
		const char *nb = b->project_name ? b->project_name : b->project_id;

		c = cmp_text(na, nb);
	} else if (ctx->key == SORT_HOST) {
		c = cmp_text(a->host, b->host);
	}
	if (c != 0)
		return ctx->desc ? -c : c;
	c = cmp_text(row_name(a), row_name(b));
	if (ctx->key == SORT_NAME && ctx->desc)
		c = -c;
	return c ? c : strcmp(a->uuid, b->uuid);
}

void table_sort(struct snap_row *rows, size_t n, enum sort_key key, bool desc, double now)
{
	struct sort_ctx ctx = {key, desc, now};

	/* An empty list has rows == NULL, which qsort_r may not be given even
	 * for zero elements (C11 7.22.5; glibc declares it nonnull). */
	if (n > 1)
		qsort_r(rows, n, sizeof(*rows), cmp_rows, &ctx);
}

int table_opts_parse(struct dash *d, const char *sort, const char *order, struct table_opts *o)
{
	int k = sort ? sort_parse(sort) : SORT_NAME;

	if (k < 0) {
		dash_fail(d, 400, "Unknown sort column.");
		return -1;
	}
	o->sort = (enum sort_key)k;
	if (order == NULL)
		o->desc = default_desc(o->sort);
	else if (strcmp(order, "asc") == 0)
		o->desc = false;
	else if (strcmp(order, "desc") == 0)
		o->desc = true;
	else {
		dash_fail(d, 400, "order must be asc or desc.");
		return -1;
	}
	return 0;
}

/* A header cell whose text is a sort link: a second click reverses. */
static void th_sort(struct dash *d, const struct table_opts *o, enum sort_key key,
		    const char *label, const char *cls)
{
	static const char *const keys[] = {"", "sort", "order", "refresh"};
	bool on = o->sort == key;
	bool desc = on ? !o->desc : default_desc(key);
	const char *vals[] = {o->param_value, sort_names[key], desc ? "desc" : "asc", o->refresh};
	const char *k[4];

	memcpy(k, keys, sizeof(k));
	k[0] = o->param ? o->param : "";
	fprintf(d->body, "<th%s%s%s><a%s href=\"", cls ? " class=\"" : "", cls ? cls : "",
		cls ? "\"" : "", on ? " class=\"on\"" : "");
	page_href(d, o->path, 4, k, vals);
	fprintf(d->body, "\">%s%s</a></th>", label, on ? (o->desc ? " \u25be" : " \u25b4") : "");
}

static void td_value(FILE *out, enum metric_unit u, double v, const char *cls, bool hot)
{
	char buf[48];

	unit_format(u, v, false, buf, sizeof(buf));
	fprintf(out, "<td%s%s%s>%s%s%s</td>", cls ? " class=\"" : "", cls ? cls : "",
		cls ? "\"" : "", hot ? "<span class=\"hi\">" : "", buf, hot ? "</span>" : "");
}

void table_write(struct dash *d, const struct snap_row *rows, size_t n, const struct table_opts *o)
{
	static const char *const uk[] = {"uuid"};
	static const char *const hk[] = {"name"};
	FILE *out = d->body;
	double sum[SNAP_NVALUES] = {0};
	size_t cnt[SNAP_NVALUES] = {0};
	int lead = 1 + o->show_project + o->show_host;

	fputs("<div class=\"tw\"><table><thead><tr>", out);
	fprintf(out, "<th class=\"l\" colspan=\"%d\"></th>", lead);
	fputs("<th class=\"g\" colspan=\"2\">utilisation %</th>"
	      "<th class=\"g\" colspan=\"2\">disk requests/s</th>"
	      "<th class=\"g\" colspan=\"2\">disk bytes/s</th>"
	      "<th class=\"g\" colspan=\"2\">network bytes/s</th>"
	      "<th class=\"g\" colspan=\"3\">vCPU load average</th>"
	      "<th class=\"g\"></th></tr>\n<tr>",
	      out);
	th_sort(d, o, SORT_NAME, "Instance", "l");
	if (o->show_project)
		th_sort(d, o, SORT_PROJECT, "Project", "l");
	if (o->show_host)
		th_sort(d, o, SORT_HOST, "Host", "l");
	th_sort(d, o, SORT_CPU, "vCPU", "g");
	th_sort(d, o, SORT_MEM, "memory", NULL);
	th_sort(d, o, SORT_RD_REQ, "read", "g");
	th_sort(d, o, SORT_WR_REQ, "write", NULL);
	th_sort(d, o, SORT_RD_BYTES, "read", "g");
	th_sort(d, o, SORT_WR_BYTES, "write", NULL);
	th_sort(d, o, SORT_RX, "rx", "g");
	th_sort(d, o, SORT_TX, "tx", NULL);
	th_sort(d, o, SORT_LOAD1, "1 min", "g");
	th_sort(d, o, SORT_LOAD5, "5 min", NULL);
	th_sort(d, o, SORT_LOAD15, "15 min", NULL);
	th_sort(d, o, SORT_AGE, "age", "g");
	fputs("</tr></thead>\n<tbody>\n", out);

	for (size_t i = 0; i < n; i++) {
		const struct snap_row *r = &rows[i];
		bool stale = row_stale(d, r);
		const char *uv[] = {r->uuid};
		char age[32];

		fputs(stale ? "<tr class=\"stale\">" : "<tr>", out);
		fputs("<td class=\"l\"><a href=\"", out);
		page_href(d, "/instance", 1, uk, uv);
		fputs("\">", out);
		esc_html(out, row_name(r));
		fputs("</a><span class=\"id\">", out);
		fprintf(out, "%.8s", r->uuid);
		fputs("</span>", out);
		if (r->state != 1)
			fprintf(out, "<span class=\"badge b-state\">%s</span>",
				page_state_name(r->state));
		fputs("</td>", out);
		if (o->show_project) {
			static const char *const pk[] = {"project"};
			const char *pv[] = {r->project_id};

			fputs("<td class=\"l\">", out);
			if (r->project_id) {
				fputs("<a href=\"", out);
				page_href(d, "/", 1, pk, pv);
				fputs("\">", out);
			}
			esc_html(out, r->project_name ? r->project_name
				      : r->project_id ? r->project_id
						      : "(none)");
			fputs(r->project_id ? "</a></td>" : "</td>", out);
		}
		if (o->show_host) {
			fputs("<td class=\"l\">", out);
			if (d->admin && r->host) {
				const char *hv[] = {r->host};

				fputs("<a href=\"", out);
				page_href(d, "/host", 1, hk, hv);
				fputs("\">", out);
				esc_html(out, r->host);
				fputs("</a>", out);
			} else {
				esc_html(out, r->host);
			}
			fputs("</td>", out);
		}
		td_value(out, UNIT_PCT, r->v[SNAP_CPU], "g", r->v[SNAP_CPU] >= 90);
		td_value(out, UNIT_PCT, r->v[SNAP_MEM], NULL, r->v[SNAP_MEM] >= 90);
		td_value(out, UNIT_REQ_PS, r->v[SNAP_RD_REQ], "g", false);
		td_value(out, UNIT_REQ_PS, r->v[SNAP_WR_REQ], NULL, false);
		td_value(out, UNIT_BYTES_PS, r->v[SNAP_RD_BYTES], "g", false);
		td_value(out, UNIT_BYTES_PS, r->v[SNAP_WR_BYTES], NULL, false);
		td_value(out, UNIT_BYTES_PS, r->v[SNAP_RX_BYTES], "g", false);
		td_value(out, UNIT_BYTES_PS, r->v[SNAP_TX_BYTES], NULL, false);
		td_value(out, UNIT_LOAD, r->v[SNAP_LOAD1], "g", false);
		td_value(out, UNIT_LOAD, r->v[SNAP_LOAD5], NULL, false);
		td_value(out, UNIT_LOAD, r->v[SNAP_LOAD15], NULL, false);
		page_age(d->now - r->time, age, sizeof(age));
		fprintf(out, "<td class=\"g\">%s%s</td></tr>\n", age,
			stale ? "<span class=\"badge b-stale\">stale</span>" : "");
		for (int k = 0; k < SNAP_NVALUES; k++) {
			if (isfinite(r->v[k])) {
				sum[k] += r->v[k];
				cnt[k]++;
			}
		}
	}
	fputs("</tbody>", out);
	if (n > 1 && !o->partial) {
		/* Totals: rates add up; utilisation and load are averaged. */
		double avg[SNAP_NVALUES];

		for (int k = 0; k < SNAP_NVALUES; k++)
			avg[k] = cnt[k] ? sum[k] / (double)cnt[k] : NAN;
		fprintf(out,
			"<tfoot><tr><td class=\"l\" colspan=\"%d\" title=\"mean utilisation "
			"and load, total rates\">all %zu</td>",
			lead, n);
		td_value(out, UNIT_PCT, avg[SNAP_CPU], "g", false);
		td_value(out, UNIT_PCT, avg[SNAP_MEM], NULL, false);
		td_value(out, UNIT_REQ_PS, cnt[SNAP_RD_REQ] ? sum[SNAP_RD_REQ] : NAN, "g", false);
		td_value(out, UNIT_REQ_PS, cnt[SNAP_WR_REQ] ? sum[SNAP_WR_REQ] : NAN, NULL, false);
		td_value(out, UNIT_BYTES_PS, cnt[SNAP_RD_BYTES] ? sum[SNAP_RD_BYTES] : NAN, "g",
			 false);
		td_value(out, UNIT_BYTES_PS, cnt[SNAP_WR_BYTES] ? sum[SNAP_WR_BYTES] : NAN, NULL,
			 false);
		td_value(out, UNIT_BYTES_PS, cnt[SNAP_RX_BYTES] ? sum[SNAP_RX_BYTES] : NAN, "g",
			 false);
		td_value(out, UNIT_BYTES_PS, cnt[SNAP_TX_BYTES] ? sum[SNAP_TX_BYTES] : NAN, NULL,
			 false);
		td_value(out, UNIT_LOAD, avg[SNAP_LOAD1], "g", false);
		td_value(out, UNIT_LOAD, avg[SNAP_LOAD5], NULL, false);
		td_value(out, UNIT_LOAD, avg[SNAP_LOAD15], NULL, false);
		fputs("<td class=\"g\"></td></tr></tfoot>", out);
	}
	fputs("</table></div>\n", out);
}

void json_num(FILE *out, double v)
{
	sm_json_put_number(out, v); /* the project's one JSON number format */
}

void json_time(FILE *out, double t)
{
	if (isfinite(t))
		fprintf(out, "%.3f", t);
	else
		fputs("null", out);
}

void json_row(struct dash *d, const struct snap_row *r)
{
	FILE *out = d->body;

	fputs("{\"uuid\":", out);
	esc_json(out, r->uuid);
	fputs(",\"name\":", out);
	esc_json(out, r->name);
	fputs(",\"display_name\":", out);
	esc_json(out, r->display_name);
	fputs(",\"project_id\":", out);
	esc_json(out, r->project_id);
	fputs(",\"project_name\":", out);
	esc_json(out, r->project_name);
	fputs(",\"host\":", out);
	esc_json(out, r->host);
	fputs(",\"flavor\":", out);
	esc_json(out, r->flavor);
	fprintf(out, ",\"state\":%u,\"state_name\":\"%s\",\"time\":", r->state,
		page_state_name(r->state));
	json_time(out, r->time);
	fputs(",\"age\":", out);
	json_num(out, round((d->now - r->time) * 1000) / 1000);
	fprintf(out, ",\"stale\":%s,\"mem_basis\":%d", row_stale(d, r) ? "true" : "false",
		r->mem_basis);
	for (int k = 0; k < SNAP_NVALUES; k++) {
		fprintf(out, ",\"%s\":", snap_value_names[k]);
		json_num(out, r->v[k]);
	}
	fputc('}', out);
}
