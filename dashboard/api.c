/*
 * api — the JSON API under /api/v1 (docs/DASHBOARD.md is its reference):
 * the same data and the same access rules as the pages, for scripts.
 * Strings go through esc_json; unknown numbers are null; times are
 * seconds since the epoch.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "esc.h"
#include "host_loss.h"
#include "page.h"

int api_index(struct dash *d)
{
	fputs("{\"api\":1,\"endpoints\":[\"projects\",\"snapshot?project=ID\","
	      "\"instance?uuid=UUID\",\"series?uuid=UUID&metric=NAME&window=3h\","
	      "\"hosts\",\"host?name=HOST\",\"series?host=HOST&metric=NAME&window=3h\"],"
	      "\"windows\":[",
	      d->body);
	for (int i = 0; i < WIN_COUNT; i++)
		fprintf(d->body, "%s\"%s\"", i ? "," : "", windows[i].name);
	fputs("]}\n", d->body);
	return 200;
}

struct proj_ctx {
	struct dash *d;
	bool first;
	const char *only; /* list only this id (NULL: all) */
	bool found;
};

static void json_project(struct dash *d, bool *first, const char *id, const char *name, long active)
{
	fputs(*first ? "{\"id\":" : ",{\"id\":", d->body);
	*first = false;
	esc_json(d->body, id);
	fputs(",\"name\":", d->body);
	esc_json(d->body, name);
	fputs(",\"active_instances\":", d->body);
	if (active >= 0)
		fprintf(d->body, "%ld}", active);
	else
		fputs("0}", d->body);
}

static int proj_cb(void *arg, const struct index_project *p)
{
	struct proj_ctx *c = arg;

	if (c->only && strcmp(c->only, p->project_id) != 0)
		return 0;
	c->found = true;
	json_project(c->d, &c->first, p->project_id, p->project_name, p->active_domains);
	return c->only != NULL;
}

int api_projects(struct dash *d)
{
	struct proj_ctx c = {d, true, NULL, false};

	fputs("{\"user\":", d->body);
	esc_json(d->body, d->user);
	fprintf(d->body, ",\"admin\":%s,\"projects\":[", d->admin ? "true" : "false");
	if (d->admin) {
		if (index_list_projects(d->idx, proj_cb, &c) < 0)
			goto fail;
	} else {
		/* Only what the access list gives, with what the index knows of it. */
		for (size_t i = 0; i < d->nprojects; i++) {
			c.only = d->projects[i];
			c.found = false;
			if (index_list_projects(d->idx, proj_cb, &c) < 0)
				goto fail;
			if (!c.found)
				json_project(d, &c.first, d->projects[i], NULL, 0);
		}
	}
	fputs("]}\n", d->body);
	return 200;
fail:
	return dash_fail(d, 500, "cannot read the index");
}

int api_snapshot(struct dash *d)
{
	const char *project = dash_param(d, "project");
	struct snap_list list = {0};
	struct table_opts o = {0};

	if (project == NULL) {
		if (d->admin || d->nprojects == 0)
			return dash_fail(d, 400, "project is required");
		project = d->projects[0];
	}
	if (!access_project_valid(project) || !dash_may_read(d, project))
		return dash_deny(d, 404, "no such project, or not visible to you",
				 "project not readable");
	if (table_opts_parse(d, dash_param(d, "sort"), dash_param(d, "order"), &o) < 0)
		return 400;
	if (snapshot_list(d->idx, SNAP_BY_PROJECT, project, &list) < 0)
		return dash_fail(d, 500, "cannot read the index");
	table_sort(list.rows, list.n, o.sort, o.desc, d->now);
	fputs("{\"project\":{\"id\":", d->body);
	esc_json(d->body, project);
	fputs(",\"name\":", d->body);
	esc_json(d->body, list.n ? list.rows[0].project_name : NULL);
	fprintf(d->body,
		"},\"time\":%.3f,\"stale_after\":%g,\"sort\":\"%s\",\"order\":\"%s\","
		"\"instances\":[",
		d->now, d->stale_after, sort_name(o.sort), o.desc ? "desc" : "asc");
	for (size_t i = 0; i < list.n; i++) {
		if (i)
			fputc(',', d->body);
		json_row(d, &list.rows[i]);
	}
	fputs("]}\n", d->body);
	snap_list_clear(&list);
	return 200;
}

static void json_metrics(struct dash *d, const struct metric_files *m)
{
	fputs("\"metrics\":[", d->body);
	for (size_t i = 0; i < m->n; i++) {
		fputs(i ? ",{\"name\":" : "{\"name\":", d->body);
		esc_json(d->body, m->v[i].name);
		fprintf(d->body, ",\"unit\":\"%s\",\"chart\":", unit_name(m->v[i].cls.unit));
		esc_json(d->body, m->v[i].cls.title);
		fputs(",\"label\":", d->body);
		esc_json(d->body, m->v[i].cls.label);
		fputc('}', d->body);
	}
	fputc(']', d->body);
}

struct move_ctx {
	FILE *out;
	bool first;
};

static int json_move(void *arg, const struct index_move *m)
{
	struct move_ctx *c = arg;

	fputs(c->first ? "{\"from\":" : ",{\"from\":", c->out);
	c->first = false;
	esc_json(c->out, m->from_host);
	fputs(",\"to\":", c->out);
	esc_json(c->out, m->to_host);
	fprintf(c->out, ",\"at\":%.3f}", m->at);
	return 0;
}

int api_instance(struct dash *d)
{
	struct metric_files files = {0};
	struct move_ctx mc = {d->body, true};
	struct snap_row r;
	char uuid[37];
	int status = instance_lookup(d, dash_param(d, "uuid"), uuid, &r);

	if (status != 200)
		return status;
	if (metric_files_load(d, uuid, NULL, &files) < 0) {
		status = dash_fail(d, 500, "cannot read the index");
		goto out;
	}
	fputs("{\"instance\":", d->body);
	json_row(d, &r);
	fputs(",\"stopped_at\":", d->body);
	json_time(d->body, r.stopped_at);
	fputs(",\"moves\":[", d->body);
	index_list_moves(d->idx, uuid, json_move, &mc);
	fputs("],", d->body);
	json_metrics(d, &files);
	fputs("}\n", d->body);
	status = 200;
out:
	metric_files_clear(&files);
	snap_row_clear(&r);
	return status;
}

int api_series(struct dash *d)
{
	const char *uparam = dash_param(d, "uuid"), *host = dash_param(d, "host");
	const char *metric = dash_param(d, "metric"), *wtext = dash_param(d, "window");
	struct metric_files files = {0};
	struct snap_hosts hosts = {0};
	struct whisper_series *s = NULL;
	const struct metric_file *f;
	struct snap_row r = {0};
	char uuid[37], why[96];
	int w = wtext ? window_parse(wtext) : WIN_3H, status;
	int64_t now = (int64_t)d->now, from;

	if ((uparam == NULL) == (host == NULL))
		return dash_fail(d, 400, "give exactly one of uuid and host");
	if (metric == NULL)
		return dash_fail(d, 400, "metric is required");
	if (w < 0)
		return dash_fail(d, 400, "window must be one of 15m, 3h, 1d, 7d");
	status = uparam ? instance_lookup(d, uparam, uuid, &r) : host_lookup(d, host, &hosts);
	if (status != 200)
		goto out;
	if (metric_files_load(d, uparam ? uuid : NULL, host, &files) < 0) {
		status = dash_fail(d, 500, "cannot read the index");
		goto out;
	}
	f = metric_files_find(&files, metric);
	if (f == NULL) {
		status = dash_fail(d, 404, "no such metric");
		goto out;
	}
	from = now - windows[w].seconds;
	fputs(uparam ? "{\"uuid\":" : "{\"host\":", d->body);
	esc_json(d->body, uparam ? uuid : host);
	fputs(",\"metric\":", d->body);
	esc_json(d->body, metric);
	fprintf(d->body, ",\"unit\":\"%s\",\"window\":\"%s\"", unit_name(f->cls.unit),
		windows[w].name);
	if (series_fetch(d->data_dir, f->path, from, now, now, &s, why, sizeof(why)) < 0) {
		fprintf(d->body,
			",\"from\":%lld,\"until\":%lld,\"step\":null,\"values\":[],"
			"\"unavailable\":",
			(long long)from, (long long)now);
		esc_json(d->body, why);
	} else if (s == NULL) {
		fprintf(d->body, ",\"from\":%lld,\"until\":%lld,\"step\":null,\"values\":[]",
			(long long)from, (long long)now);
	} else {
		fprintf(d->body, ",\"from\":%lld,\"until\":%lld,\"step\":%u,\"values\":[",
			(long long)s->from, (long long)s->until, s->step);
		for (size_t i = 0; i < s->count; i++) {
			if (i)
				fputc(',', d->body);
			json_num(d->body, s->values[i]);
		}
		fputc(']', d->body);
	}
	fputs("}\n", d->body);
	status = 200;
out:
	whisper_series_destroy(&s);
	metric_files_clear(&files);
	snap_hosts_clear(&hosts);
	snap_row_clear(&r);
	return status;
}

static void json_host(struct dash *d, const struct snap_host *h)
{
	FILE *o = d->body;

	fputs("{\"name\":", o);
	esc_json(o, h->name);
	fputs(",\"last_seen\":", o);
	json_time(o, h->last_seen);
	fputs(",\"time\":", o);
	json_time(o, h->time);
	fputs(",\"age\":", o);
	json_num(o, round((d->now - h->time) * 1000) / 1000);
	fprintf(o, ",\"stale\":%s,\"ncpus\":",
		!isfinite(h->time) || d->now - h->time > d->stale_after ? "true" : "false");
	json_num(o, h->ncpus >= 0 ? h->ncpus : NAN);
	fputs(",\"cpu_pct\":", o);
	json_num(o, h->cpu_pct);
	fputs(",\"load1\":", o);
	json_num(o, h->load[0]);
	fputs(",\"load5\":", o);
	json_num(o, h->load[1]);
	fputs(",\"load15\":", o);
	json_num(o, h->load[2]);
	fputs(",\"mem_pct\":", o);
	json_num(o, h->mem_pct);
	fputs(",\"mem_used_kib\":", o);
	json_num(o, h->mem_used_kib);
	fputs(",\"mem_total_kib\":", o);
	json_num(o, h->mem_total_kib);
	fputs(",\"domains\":", o);
	json_num(o, h->domains >= 0 ? h->domains : NAN);
	fprintf(o, ",\"active_instances\":%u,\"libvirt_ok\":%s}", h->active,
		h->libvirt_ok < 0 ? "null"
		: h->libvirt_ok	  ? "true"
				  : "false");
}

int api_hosts(struct dash *d)
{
	struct snap_hosts hosts = {0};

	if (!d->admin)
		return dash_deny(d, 403, "administrators only",
				 "host list for a non-administrator");
	if (snapshot_hosts(d->idx, NULL, &hosts) < 0)
		return dash_fail(d, 500, "cannot read the index");
	fputs("{\"hosts\":[", d->body);
	for (size_t i = 0; i < hosts.n; i++) {
		if (i)
			fputc(',', d->body);
		json_host(d, &hosts.rows[i]);
	}
	fputs("]}\n", d->body);
	snap_hosts_clear(&hosts);
	return 200;
}

int api_host(struct dash *d)
{
	const char *name = dash_param(d, "name");
	struct snap_hosts hosts = {0};
	struct snap_list list = {0};
	struct metric_files files = {0};
	struct host_loss hour;
	int status = host_lookup(d, name, &hosts);

	if (status != 200)
		goto out;
	if (snapshot_list(d->idx, SNAP_BY_HOST, name, &list) < 0 ||
	    host_loss_load(d, name, &hour) < 0 || metric_files_load(d, NULL, name, &files) < 0) {
		status = dash_fail(d, 500, "cannot read the index");
		goto out;
	}
	table_sort(list.rows, list.n, SORT_NAME, false, d->now);
	fputs("{\"host\":", d->body);
	json_host(d, &hosts.rows[0]);
	fputc(',', d->body);
	host_loss_json(d, &hour);
	fputs(",\"instances\":[", d->body);
	for (size_t i = 0; i < list.n; i++) {
		if (i)
			fputc(',', d->body);
		json_row(d, &list.rows[i]);
	}
	fputs("],", d->body);
	json_metrics(d, &files);
	fputs("}\n", d->body);
	status = 200;
out:
	snap_hosts_clear(&hosts);
	snap_list_clear(&list);
	metric_files_clear(&files);
	return status;
}
