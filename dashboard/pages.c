/*
 * pages — the HTML pages: "/" (the tenant snapshot of the paper's Figure
 * 5, or for administrators without a project an overview of projects, the
 * busiest instances and hosts), "/instance" (one instance: identity,
 * latest values and a graph of every metric over a chosen window), and for
 * administrators "/host" (a compute node) and "/instances" (every active
 * instance). Every object a request names is checked
 * against the access list, and anything the requester may not read gets
 * the same answer as something that does not exist.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "esc.h"
#include "host_loss.h"
#include "page.h"
#include "sm_uuid.h"
#include "sm_wire.h"

/* Answers for objects that are missing or not the requester's: one text
 * each, whichever it is, so that ids cannot be probed. */
#define NO_PROJECT  "No such project, or not visible to you."
#define NO_INSTANCE "No such instance, or not visible to you."
#define ADMIN_ONLY  "This page is for administrators."

/* Instances the overview lists: enough to show where they are, few enough
 * that the page stays small at thousands; "/instances" has them all. */
#define OVERVIEW_INSTANCES 20

/* Auto-refresh periods a page accepts (seconds). */
static int refresh_parse(struct dash *d, const char *text, int *out)
{
	long v;

	*out = 0;
	if (text == NULL)
		return 0;
	v = strtol(text, NULL, 10);
	if (v != 0 && (v < 5 || v > 3600)) {
		dash_fail(d, 400, "refresh must be 0 or 5 to 3600 seconds.");
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Looking up one project's name in the index. */
struct name_ctx {
	const char *id; /* the project wanted */
	char *name;	/* its name (malloc'd), NULL if unknown */
};

static int find_project(void *arg, const struct index_project *p)
{
	struct name_ctx *c = arg;

	if (strcmp(p->project_id, c->id) != 0)
		return 0;
	c->name = p->project_name ? strdup(p->project_name) : NULL;
	return 1;
}

/* The name of project `id`: from the tab names, else the index; NULL if
 * unknown. The caller frees it. */
static char *project_name(struct dash *d, const char *id)
{
	struct name_ctx c = {id, NULL};

	for (size_t i = 0; i < d->nprojects; i++)
		if (strcmp(d->projects[i], id) == 0 && d->project_names && d->project_names[i])
			return strdup(d->project_names[i]);
	index_list_projects(d->idx, find_project, &c);
	return c.name;
}

/* ---- "/" for administrators without a project: the overview ---- */

static int overview_project(void *arg, const struct index_project *p)
{
	struct dash *d = arg;
	static const char *const k[] = {"project"};
	const char *v[] = {p->project_id};
	char seen[32];

	fputs("<tr><td class=\"l\"><a href=\"", d->body);
	page_href(d, "/", 1, k, v);
	fputs("\">", d->body);
	esc_html(d->body, p->project_name ? p->project_name : p->project_id);
	fputs("</a></td><td class=\"l\"><span class=\"id\">", d->body);
	esc_html(d->body, p->project_id);
	page_age(d->now - p->last_seen, seen, sizeof(seen));
	/* The count is a link too: that is where the project's instances are. */
	fputs("</span></td><td><a href=\"", d->body);
	page_href(d, "/", 1, k, v);
	fprintf(d->body, "\">%u instance%s</a></td><td>%u</td><td>%s</td></tr>\n",
		p->active_domains, p->active_domains == 1 ? "" : "s",
		p->domains - p->active_domains, seen);
	return 0;
}

struct loss_row {
	char name[SM_HOST_MAX + 1];
	uint64_t received, lost;
};

struct loss_ctx {
	struct loss_row *v;
	size_t n, cap;
};

static int collect_loss(void *arg, const struct index_host *h)
{
	struct loss_ctx *c = arg;

	if (c->n == c->cap) {
		size_t ncap = c->cap ? 2 * c->cap : 16;
		struct loss_row *v = realloc(c->v, ncap * sizeof(*v));

		if (v == NULL)
			return 1;
		c->v = v;
		c->cap = ncap;
	}
	snprintf(c->v[c->n].name, sizeof(c->v[c->n].name), "%s", h->name);
	c->v[c->n].received = h->received;
	c->v[c->n].lost = h->lost;
	c->n++;
	return 0;
}

static void write_loss(FILE *out, const struct loss_ctx *loss, const char *host)
{
	for (size_t i = 0; i < loss->n; i++) {
		if (strcmp(loss->v[i].name, host) != 0)
			continue;
		if (loss->v[i].received + loss->v[i].lost == 0)
			break;
		fprintf(out, "%.3g %%",
			100.0 * (double)loss->v[i].lost /
			    (double)(loss->v[i].received + loss->v[i].lost));
		return;
	}
	fputs("\u2014", out);
}

static bool host_stale(const struct dash *d, const struct snap_host *h)
{
	return !isfinite(h->time) || d->now - h->time > d->stale_after;
}

/* The hosts table of the overview (every host) and of a host page (one). */
static void hosts_table(struct dash *d, const struct snap_hosts *hosts, const struct loss_ctx *loss,
			bool links)
{
	static const char *const k[] = {"name"};
	FILE *o = d->body;

	fputs("<div class=\"tw\"><table><thead><tr><th class=\"l\">Host</th><th>CPUs</th>"
	      "<th>CPU %</th><th>load 1</th><th>5</th><th>15</th><th>memory %</th>"
	      "<th>memory used</th><th>domains</th><th>libvirt</th><th>frame loss</th>"
	      "<th>age</th></tr></thead><tbody>\n",
	      o);
	for (size_t i = 0; i < hosts->n; i++) {
		const struct snap_host *h = &hosts->rows[i];
		const char *v[] = {h->name};
		bool stale = host_stale(d, h);
		char b[8][48];

		fputs(stale ? "<tr class=\"stale\"><td class=\"l\">" : "<tr><td class=\"l\">", o);
		if (links) {
			fputs("<a href=\"", o);
			page_href(d, "/host", 1, k, v);
			fputs("\">", o);
		}
		esc_html(o, h->name);
		fputs(links ? "</a></td>" : "</td>", o);
		if (h->ncpus >= 0)
			fprintf(o, "<td>%d</td>", h->ncpus);
		else
			fputs("<td>\u2014</td>", o);
		unit_format(UNIT_PCT, h->cpu_pct, false, b[0], sizeof(b[0]));
		unit_format(UNIT_LOAD, h->load[0], false, b[1], sizeof(b[1]));
		unit_format(UNIT_LOAD, h->load[1], false, b[2], sizeof(b[2]));
		unit_format(UNIT_LOAD, h->load[2], false, b[3], sizeof(b[3]));
		unit_format(UNIT_PCT, h->mem_pct, false, b[4], sizeof(b[4]));
		unit_format(UNIT_KIB, h->mem_used_kib, true, b[5], sizeof(b[5]));
		unit_format(UNIT_KIB, h->mem_total_kib, true, b[6], sizeof(b[6]));
		page_age(d->now - h->time, b[7], sizeof(b[7]));
		fprintf(o,
			"<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s / %s</td>",
			b[0], b[1], b[2], b[3], b[4], b[5], b[6]);
		if (h->domains >= 0)
			fprintf(o, "<td>%d</td>", h->domains);
		else
			fprintf(o, "<td>%u</td>", h->active);
		fprintf(o, "<td>%s</td><td>",
			h->libvirt_ok < 0   ? "\u2014"
			: h->libvirt_ok > 0 ? "<span class=\"badge b-ok\">up</span>"
					    : "<span class=\"badge b-bad\">down</span>");
		write_loss(o, loss, h->name);
		fprintf(o, "</td><td>%s%s</td></tr>\n", b[7],
			stale ? "<span class=\"badge b-stale\">stale</span>" : "");
	}
	fputs("</tbody></table></div>\n", o);
}

/* A link to "/instances" with `text`. */
static void instances_link(struct dash *d, const char *text)
{
	fputs("<a href=\"", d->body);
	page_href(d, "/instances", 0, NULL, NULL);
	fprintf(d->body, "\">%s</a>", text);
}

/* The overview's instance table: the OVERVIEW_INSTANCES busiest (by vCPU)
 * of every project and of none, each name a link to its graphs, and a link
 * to all of them. Returns 0 or -1. */
static int overview_instances(struct dash *d)
{
	struct snap_list list = {0};
	struct table_opts o = {0};
	size_t shown;
	char all[64];

	if (snapshot_list(d->idx, SNAP_ALL, NULL, &list) < 0)
		return -1;
	table_sort(list.rows, list.n, SORT_CPU, true, d->now);
	shown = list.n < OVERVIEW_INSTANCES ? list.n : OVERVIEW_INSTANCES;
	fprintf(d->body, "<h2>Instances (%zu active)</h2><div class=\"bar\">", list.n);
	if (list.n == 0) {
		fputs("</div><p class=\"empty\">No active instances yet.</p>", d->body);
		goto out;
	}
	if (shown < list.n)
		fprintf(d->body, "<span>The %zu busiest by vCPU.</span>", shown);
	snprintf(all, sizeof(all), "All %zu instances \u2192", list.n);
	instances_link(d, all);
	fputs("<span>A name opens the instance's graphs; a column header sorts every "
	      "instance by it.</span></div>\n",
	      d->body);
	o.sort = SORT_CPU;
	o.desc = true;
	o.path = "/instances";
	o.show_project = true;
	o.show_host = true;
	o.partial = shown < list.n;
	table_write(d, list.rows, shown, &o);
out:
	snap_list_clear(&list);
	return 0;
}

static int page_overview(struct dash *d)
{
	struct snap_hosts hosts = {0};
	struct loss_ctx loss = {0};
	int n, ret = 500;

	page_begin(d, "Overview", NULL, NULL, 0);
	fputs("<h1>Overview</h1><p class=\"sub\">Every project, the busiest instances and every "
	      "compute node the aggregator knows.</p><h2>Projects</h2><div class=\"tw\"><table>"
	      "<thead><tr><th class=\"l\">Project</th><th class=\"l\">id</th>"
	      "<th>active instances</th><th>stopped, awaiting purge</th><th>last report</th></tr>"
	      "</thead><tbody>\n",
	      d->body);
	n = index_list_projects(d->idx, overview_project, d);
	if (n < 0)
		goto out;
	if (n == 0)
		fputs("<tr><td class=\"l\" colspan=\"5\">No projects yet.</td></tr>", d->body);
	fputs("</tbody></table></div>\n", d->body);
	if (overview_instances(d) < 0)
		goto out;
	fputs("<h2>Compute nodes</h2>", d->body);
	if (snapshot_hosts(d->idx, NULL, &hosts) < 0 ||
	    index_list_hosts(d->idx, collect_loss, &loss) < 0)
		goto out;
	if (hosts.n == 0)
		fputs("<p class=\"empty\">No host has reported yet.</p>", d->body);
	else
		hosts_table(d, &hosts, &loss, true);
	page_end(d);
	ret = 200;
out:
	snap_hosts_clear(&hosts);
	free(loss.v);
	if (ret != 200)
		dash_fail(d, 500, "Cannot read the index (see the server's error log).");
	return ret;
}

/* ---- "/instances": every active instance, for administrators ---- */

int page_instances(struct dash *d)
{
	struct snap_list list = {0};
	struct table_opts o = {0};

	if (!d->admin)
		return dash_deny(d, 403, ADMIN_ONLY, "all instances for a non-administrator");
	if (table_opts_parse(d, dash_param(d, "sort"), dash_param(d, "order"), &o) < 0)
		return 400;
	if (snapshot_list(d->idx, SNAP_ALL, NULL, &list) < 0)
		return dash_fail(d, 500, "Cannot read the index (see the server's error log).");
	table_sort(list.rows, list.n, o.sort, o.desc, d->now);
	o.path = "/instances";
	o.show_project = true;
	o.show_host = true;

	page_begin(d, "Instances", NULL, NULL, 0);
	fprintf(d->body,
		"<h1>Instances</h1><p class=\"sub\"><b>%zu</b> active instance%s of every "
		"project, and of none.</p><div class=\"bar\"><span>Sort by clicking a column; "
		"instance names open their graphs.</span></div>\n",
		list.n, list.n == 1 ? "" : "s");
	if (list.n == 0)
		fputs("<p class=\"empty\">No active instances yet.</p>", d->body);
	else
		table_write(d, list.rows, list.n, &o);
	page_end(d);
	snap_list_clear(&list);
	return 200;
}

/* ---- "/": a tenant's snapshot ---- */

static void refresh_link(struct dash *d, const char *project, const struct table_opts *o,
			 int refresh)
{
	static const char *const k[] = {"project", "sort", "order", "refresh"};
	const char *v[] = {project, sort_name(o->sort), o->desc ? "desc" : "asc",
			   refresh ? NULL : "10"};

	fputs("<a href=\"", d->body);
	page_href(d, "/", 4, k, v);
	fputs(refresh ? "\">stop auto-refresh</a>" : "\">auto-refresh every 10 s</a>", d->body);
}

int page_home(struct dash *d)
{
	const char *project = dash_param(d, "project");
	struct snap_list list = {0};
	struct table_opts o = {0};
	char *name = NULL, refresh_text[16];
	size_t stale = 0;
	double newest = NAN;
	int refresh;

	if (project == NULL) {
		if (d->admin)
			return page_overview(d);
		if (d->nprojects == 0)
			return dash_deny(d, 403, "You have no projects to see.",
					 "no project in the access list");
		project = d->projects[0];
	}
	if (!access_project_valid(project) || !dash_may_read(d, project))
		return dash_deny(d, 404, NO_PROJECT, "project not readable");
	if (refresh_parse(d, dash_param(d, "refresh"), &refresh) < 0 ||
	    table_opts_parse(d, dash_param(d, "sort"), dash_param(d, "order"), &o) < 0)
		return 400;
	if (snapshot_list(d->idx, SNAP_BY_PROJECT, project, &list) < 0)
		return dash_fail(d, 500, "Cannot read the index (see the server's error log).");
	table_sort(list.rows, list.n, o.sort, o.desc, d->now);
	if (list.n && list.rows[0].project_name)
		name = strdup(list.rows[0].project_name);
	else
		name = project_name(d, project);
	for (size_t i = 0; i < list.n; i++) {
		stale += row_stale(d, &list.rows[i]);
		if (!(list.rows[i].time <= newest))
			newest = list.rows[i].time;
	}
	snprintf(refresh_text, sizeof(refresh_text), "%d", refresh);
	o.path = "/";
	o.param = "project";
	o.param_value = project;
	o.refresh = refresh ? refresh_text : NULL;
	o.show_host = true;

	page_begin(d, name ? name : project, project, name, refresh);
	fputs("<h1>", d->body);
	esc_html(d->body, name ? name : project);
	fputs("</h1><p class=\"sub\">Project <span class=\"id\">", d->body);
	esc_html(d->body, project);
	fprintf(d->body, "</span> \u00b7 <b>%zu</b> active instance%s", list.n,
		list.n == 1 ? "" : "s");
	if (stale)
		fprintf(d->body,
			" \u00b7 <b class=\"hi\">%zu stale</b> (no point for more than "
			"%g s)",
			stale, d->stale_after);
	if (isfinite(newest)) {
		char age[32];

		page_age(d->now - newest, age, sizeof(age));
		fprintf(d->body, " \u00b7 newest point %s old", age);
	}
	fputs("</p><div class=\"bar\">", d->body);
	refresh_link(d, project, &o, refresh);
	fputs("<span>Sort by clicking a column; instance names open their graphs.</span></div>\n",
	      d->body);
	if (list.n == 0)
		fputs("<p class=\"empty\">No active instances in this project.</p>", d->body);
	else
		table_write(d, list.rows, list.n, &o);
	alerts_write(d, project, NULL);
	page_end(d);
	snap_list_clear(&list);
	free(name);
	return 200;
}

/* ---- "/instance" ---- */

struct ident_ctx {
	struct dash *d;
	char *user_name, *user_id;
	double first_seen;
};

static int read_ident(void *arg, const struct index_domain *dom)
{
	struct ident_ctx *c = arg;

	c->user_name = dom->user_name ? strdup(dom->user_name) : NULL;
	c->user_id = dom->user_id ? strdup(dom->user_id) : NULL;
	c->first_seen = dom->first_seen;
	return 0;
}

static int write_move(void *arg, const struct index_move *m)
{
	struct dash *d = arg;
	char when[64];

	page_time(m->at, when, sizeof(when));
	fputs("<dt>moved</dt><dd>", d->body);
	esc_html(d->body, m->from_host);
	fputs(" \u2192 ", d->body);
	esc_html(d->body, m->to_host);
	fprintf(d->body, ", %s</dd>", when);
	return 0;
}

int instance_lookup(struct dash *d, const char *param, char uuid[37], struct snap_row *row)
{
	int found;

	memset(row, 0, sizeof(*row));
	if (param == NULL)
		return dash_fail(d, 400, "uuid is required.");
	if (sm_uuid_canonical(param, uuid) < 0)
		return dash_fail(d, 400, "Bad uuid.");
	found = snapshot_get(d->idx, uuid, row);
	if (found < 0)
		return dash_fail(d, 500, "Cannot read the index (see the server's error log).");
	if (found == 0) {
		return dash_deny(d, 404, NO_INSTANCE, "instance %s unknown", uuid);
	}
	if (!dash_may_read(d, row->project_id)) {
		snap_row_clear(row);
		return dash_deny(d, 404, NO_INSTANCE, "instance %s of another project", uuid);
	}
	return 200;
}

static void tile(FILE *o, const char *label, enum metric_unit u, double v)
{
	char buf[48];

	unit_format(u, v, true, buf, sizeof(buf));
	fprintf(o, "<div class=\"tile\"><span>%s</span><b>%s</b></div>", label, buf);
}

static const char *basis_name(int basis)
{
	switch (basis) {
	case 1:
		return "guest view (usable)";
	case 2:
		return "guest view (unused)";
	case 3:
		return "host view (QEMU RSS)";
	case 4:
		return "host view (balloon)";
	default:
		return "unknown";
	}
}

int page_instance(struct dash *d)
{
	static const char *const pk[] = {"project"}, *const hk[] = {"name"};
	const char *wtext = dash_param(d, "window");
	struct metric_files files = {0};
	struct ident_ctx ident = {d, NULL, NULL, NAN};
	struct snap_row r;
	char uuid[37], buf[4][64];
	const char *name;
	int w = wtext ? window_parse(wtext) : WIN_3H, status;
	bool stale;

	if (w < 0)
		return dash_fail(d, 400, "window must be one of 15m, 3h, 1d, 7d.");
	status = instance_lookup(d, dash_param(d, "uuid"), uuid, &r);
	if (status != 200)
		return status;
	if (index_get_domain(d->idx, uuid, read_ident, &ident) < 0 ||
	    metric_files_load(d, uuid, NULL, &files) < 0) {
		status = dash_fail(d, 500, "Cannot read the index (see the server's error log).");
		goto out;
	}
	name = r.display_name ? r.display_name : r.name;
	stale = row_stale(d, &r);

	page_begin(d, name, r.project_id, r.project_name, 0);
	fputs("<p class=\"sub\">", d->body);
	if (r.project_id) {
		const char *v[] = {r.project_id};

		fputs("<a href=\"", d->body);
		page_href(d, "/", 1, pk, v);
		fputs("\">", d->body);
		esc_html(d->body, r.project_name ? r.project_name : r.project_id);
		fputs("</a> \u203a instance", d->body);
	} else {
		fputs("instance without a project", d->body);
	}
	fputs("</p><h1>", d->body);
	esc_html(d->body, name);
	fprintf(d->body, "<span class=\"badge %s\">%s</span>", r.state == 1 ? "b-ok" : "b-state",
		page_state_name(r.state));
	if (isfinite(r.stopped_at))
		fputs("<span class=\"badge b-bad\">stopped</span>", d->body);
	else if (stale)
		fputs("<span class=\"badge b-stale\">stale</span>", d->body);
	fputs("</h1>\n", d->body);

	fputs("<div class=\"tiles\">", d->body);
	tile(d->body, "vCPU", UNIT_PCT, r.v[SNAP_CPU]);
	tile(d->body, "steal", UNIT_PCT, r.v[SNAP_STEAL]);
	tile(d->body, "memory", UNIT_PCT, r.v[SNAP_MEM]);
	for (int i = 0; i < 3; i++)
		unit_format(UNIT_LOAD, r.v[SNAP_LOAD1 + i], false, buf[i], sizeof(buf[i]));
	fprintf(d->body,
		"<div class=\"tile\"><span>load 1 / 5 / 15 min</span><b>%s / %s / %s</b>"
		"</div>",
		buf[0], buf[1], buf[2]);
	tile(d->body, "disk read", UNIT_BYTES_PS, r.v[SNAP_RD_BYTES]);
	tile(d->body, "disk write", UNIT_BYTES_PS, r.v[SNAP_WR_BYTES]);
	tile(d->body, "net rx", UNIT_BYTES_PS, r.v[SNAP_RX_BYTES]);
	tile(d->body, "net tx", UNIT_BYTES_PS, r.v[SNAP_TX_BYTES]);
	page_age(d->now - r.time, buf[0], sizeof(buf[0]));
	fprintf(d->body, "<div class=\"tile\"><span>latest point</span><b>%s</b></div></div>\n",
		buf[0]);

	fputs("<div class=\"cols\"><dl class=\"kv\"><dt>uuid</dt><dd><span class=\"id\">", d->body);
	esc_html(d->body, r.uuid);
	fputs("</span></dd><dt>libvirt name</dt><dd>", d->body);
	esc_html(d->body, r.name);
	fputs("</dd><dt>project</dt><dd>", d->body);
	esc_html(d->body, r.project_name ? r.project_name : "\u2014");
	fputs(" <span class=\"id\">", d->body);
	esc_html(d->body, r.project_id);
	fputs("</span></dd><dt>user</dt><dd>", d->body);
	esc_html(d->body, ident.user_name ? ident.user_name : "\u2014");
	fputs(" <span class=\"id\">", d->body);
	esc_html(d->body, ident.user_id);
	fputs("</span></dd><dt>flavor</dt><dd>", d->body);
	esc_html(d->body, r.flavor ? r.flavor : "\u2014");
	fputs("</dd></dl><dl class=\"kv\"><dt>host</dt><dd>", d->body);
	if (d->admin && r.host) {
		const char *v[] = {r.host};

		fputs("<a href=\"", d->body);
		page_href(d, "/host", 1, hk, v);
		fputs("\">", d->body);
		esc_html(d->body, r.host);
		fputs("</a>", d->body);
	} else {
		esc_html(d->body, r.host);
	}
	page_time(ident.first_seen, buf[1], sizeof(buf[1]));
	page_time(r.time, buf[2], sizeof(buf[2]));
	fprintf(d->body, "</dd><dt>first seen</dt><dd>%s</dd><dt>latest point</dt><dd>%s</dd>",
		buf[1], buf[2]);
	if (isfinite(r.stopped_at)) {
		page_time(r.stopped_at, buf[3], sizeof(buf[3]));
		fprintf(d->body, "<dt>stopped</dt><dd>%s</dd>", buf[3]);
	}
	fprintf(d->body, "<dt>memory basis</dt><dd>%s</dd>", basis_name(r.mem_basis));
	index_list_moves(d->idx, uuid, write_move, d);
	fputs("</dl></div>\n", d->body);
	alerts_write(d, NULL, uuid);
	fputs("<h2>Graphs</h2><div class=\"bar\">", d->body);
	window_links(d, "/instance", "uuid", uuid, (enum window)w);
	fprintf(d->body,
		"<span>%s points, a line for the mean and a band from min to max; "
		"gaps are missing data.</span></div>\n",
		w <= WIN_3H ? "1-second" : "1-minute");
	charts_write(d, &files, (enum window)w);
	page_end(d);
	status = 200;
out:
	metric_files_clear(&files);
	free(ident.user_name);
	free(ident.user_id);
	snap_row_clear(&r);
	return status;
}

/* ---- "/host" ---- */

int host_lookup(struct dash *d, const char *name, struct snap_hosts *hosts)
{
	hosts->rows = NULL;
	hosts->n = 0;
	if (!d->admin)
		return dash_deny(d, 403, ADMIN_ONLY, "host data for a non-administrator");
	if (name == NULL)
		return dash_fail(d, 400, "name is required.");
	if (!sm_wire_host_valid(name))
		return dash_fail(d, 404, "No such host.");
	if (snapshot_hosts(d->idx, name, hosts) < 0)
		return dash_fail(d, 500, "Cannot read the index (see the server's error log).");
	if (hosts->n == 0)
		return dash_fail(d, 404, "No such host.");
	return 200;
}

int page_host(struct dash *d)
{
	const char *name = dash_param(d, "name");
	const char *wtext = dash_param(d, "window");
	struct snap_hosts hosts = {0};
	struct loss_ctx loss = {0};
	struct host_loss hour;
	struct metric_files files = {0};
	struct snap_list list = {0};
	struct table_opts o = {0};
	int w = wtext ? window_parse(wtext) : WIN_3H, status;

	status = host_lookup(d, name, &hosts);
	if (status != 200)
		goto out;
	if (w < 0 || table_opts_parse(d, dash_param(d, "sort"), dash_param(d, "order"), &o) < 0) {
		status = w < 0 ? dash_fail(d, 400, "window must be one of 15m, 3h, 1d, 7d.") : 400;
		goto out;
	}
	if (index_list_hosts(d->idx, collect_loss, &loss) < 0 ||
	    host_loss_load(d, name, &hour) < 0 || metric_files_load(d, NULL, name, &files) < 0 ||
	    snapshot_list(d->idx, SNAP_BY_HOST, name, &list) < 0) {
		status = dash_fail(d, 500, "Cannot read the index (see the server's error log).");
		goto out;
	}
	table_sort(list.rows, list.n, o.sort, o.desc, d->now);
	o.path = "/host";
	o.param = "name";
	o.param_value = name;
	o.show_project = true;

	page_begin(d, name, NULL, NULL, 0);
	fputs("<p class=\"sub\">compute node</p><h1>", d->body);
	esc_html(d->body, name);
	if (host_stale(d, &hosts.rows[0]))
		fputs("<span class=\"badge b-stale\">stale</span>", d->body);
	fputs("</h1>\n", d->body);
	hosts_table(d, &hosts, &loss, false);
	host_loss_html(d, &hour);
	fprintf(d->body, "<h2>Instances on this node (%zu)</h2>", list.n);
	if (list.n == 0)
		fputs("<p class=\"empty\">No active instance on this node.</p>", d->body);
	else
		table_write(d, list.rows, list.n, &o);
	fputs("<h2>Graphs</h2><div class=\"bar\">", d->body);
	window_links(d, "/host", "name", name, (enum window)w);
	fputs("</div>\n", d->body);
	charts_write(d, &files, (enum window)w);
	page_end(d);
	status = 200;
out:
	snap_hosts_clear(&hosts);
	snap_list_clear(&list);
	metric_files_clear(&files);
	free(loss.v);
	return status;
}
