/*
 * alerts — see alerts.h. The file is read whole on every request (a CGI
 * lives for one); rows that are not the page's never reach the output.
 */
#include "alerts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esc.h"
#include "firing.h"
#include "page.h"
#include "sm_json.h"
#include "sm_log.h"

struct alerts_ctx {
	struct dash *d;
	const char *project_id, *uuid;
	size_t shown;
};

static void row(void *arg, const struct firing_row *r)
{
	struct alerts_ctx *c = arg;
	FILE *o = c->d->body;
	char since[64], value[SM_JSON_NUMBER_MAX];

	if (c->uuid ? strcmp(r->uuid, c->uuid) != 0
		    : (!r->project_id[0] || strcmp(r->project_id, c->project_id) != 0))
		return;
	if (c->shown++ == 0)
		fputs("<table class=\"alerts\"><thead><tr><th>alert</th><th>severity</th>"
		      "<th>instance</th><th>device</th><th>rule</th><th>value</th>"
		      "<th>firing since</th></tr></thead><tbody>\n",
		      o);
	page_time(r->since, since, sizeof(since));
	sm_json_number(value, sizeof(value), r->value);
	fputs("<tr class=\"alert\"><td><b>", o);
	esc_html(o, r->rule);
	fputs("</b>", o);
	if (r->summary[0]) {
		fputs("<br/><span class=\"sub\">", o);
		esc_html(o, r->summary);
		fputs("</span>", o);
	}
	fputs("</td><td>", o);
	esc_html(o, r->severity);
	fputs("</td><td>", o);
	if (c->uuid) {
		esc_html(o, r->name[0] ? r->name : r->domain);
	} else {
		static const char *const k[] = {"uuid"};
		const char *v[] = {r->uuid};

		fputs("<a href=\"", o);
		page_href(c->d, "/instance", 1, k, v);
		fputs("\">", o);
		esc_html(o, r->name[0] ? r->name : r->domain);
		fputs("</a>", o);
	}
	fputs("</td><td>", o);
	esc_html(o, r->device[0] ? r->device : "\u2014");
	fputs("</td><td><code>", o);
	esc_html(o, r->expr);
	fprintf(o, "</code></td><td>%s</td><td>%s</td></tr>\n", isnan(r->value) ? "\u2014" : value,
		since);
}

void alerts_write(struct dash *d, const char *project_id, const char *uuid)
{
	struct alerts_ctx c = {.d = d, .project_id = project_id, .uuid = uuid};
	char path[4096];
	long n;

	if (!d->alert_dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", d->alert_dir, FIRING_FILE);
	fputs("<h2>Firing alerts</h2>\n", d->body);
	n = firing_read(path, row, &c);
	if (n < 0 && errno != ENOENT) {
		sm_log_err("alert_dir: %s: %s", path, strerror(errno));
		fputs("<p class=\"empty\">The alerts cannot be read (see the server's error "
		      "log).</p>\n",
		      d->body);
		return;
	}
	if (c.shown)
		fputs("</tbody></table>\n", d->body);
	else
		fputs("<p class=\"empty\">No alert firing.</p>\n", d->body);
}
