/*
 * charts — the graphs of an instance or host page: the metric files the
 * index lists (never a path built from the request), grouped into charts
 * by metric.c, each read over the window with series.c and drawn with
 * chart.c. A file that cannot be read becomes a gap with its reason.
 */
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "esc.h"
#include "page.h"

struct collect {
	struct metric_files *m;
	size_t cap;
	bool host;
	bool failed;
};

static int collect_metric(void *arg, const struct index_metric *im)
{
	struct collect *c = arg;
	struct metric_file *f;

	if (c->m->n == c->cap) {
		size_t ncap = c->cap ? 2 * c->cap : 32;
		struct metric_file *v = realloc(c->m->v, ncap * sizeof(*v));

		if (v == NULL)
			goto oom;
		c->m->v = v;
		c->cap = ncap;
	}
	f = &c->m->v[c->m->n];
	f->name = strdup(im->name);
	f->path = strdup(im->path);
	if (f->name == NULL || f->path == NULL) {
		free(f->name);
		free(f->path);
		goto oom;
	}
	metric_classify(f->name, c->host, &f->cls);
	c->m->n++;
	return 0;
oom:
	c->failed = true;
	return 1;
}

static int cmp_files(const void *a, const void *b)
{
	const struct metric_file *fa = a, *fb = b;
	int c = metric_class_cmp(&fa->cls, &fb->cls);

	return c ? c : strcmp(fa->name, fb->name);
}

int metric_files_load(struct dash *d, const char *uuid, const char *host, struct metric_files *out)
{
	struct collect c = {out, 0, host != NULL, false};

	out->v = NULL;
	out->n = 0;
	if (index_list_metrics(d->idx, uuid, host, collect_metric, &c) < 0 || c.failed) {
		metric_files_clear(out);
		return -1;
	}
	/* No files leaves out->v NULL, which qsort may not be given. */
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_files);
	return 0;
}

void metric_files_clear(struct metric_files *m)
{
	for (size_t i = 0; m && i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].path);
	}
	if (m) {
		free(m->v);
		m->v = NULL;
		m->n = 0;
	}
}

const struct metric_file *metric_files_find(const struct metric_files *m, const char *name)
{
	for (size_t i = 0; name && i < m->n; i++)
		if (strcmp(m->v[i].name, name) == 0)
			return &m->v[i];
	return NULL;
}

void window_links(struct dash *d, const char *path, const char *key, const char *value,
		  enum window w)
{
	const char *k[] = {key, "window"};

	fputs("<span class=\"win\">", d->body);
	for (int i = 0; i < WIN_COUNT; i++) {
		const char *v[] = {value, windows[i].name};

		fprintf(d->body, "<a%s href=\"", i == (int)w ? " class=\"on\"" : "");
		page_href(d, path, 2, k, v);
		fprintf(d->body, "\">%s</a> ", windows[i].label);
	}
	fputs("</span>", d->body);
}

void charts_write(struct dash *d, const struct metric_files *m, enum window w)
{
	int64_t now = (int64_t)d->now;
	int64_t from = now - windows[w].seconds;
	struct chart_series series[16];
	char why[16][96];

	if (m->n == 0) {
		fputs("<p class=\"empty\">The aggregator has no files for this yet.</p>", d->body);
		return;
	}
	fputs("<div class=\"charts\">\n", d->body);
	for (size_t i = 0; i < m->n;) {
		struct chart c = {
		    m->v[i].cls.title, m->v[i].cls.unit, from, now, windows[w].tick, 0, series};
		size_t j;

		for (j = i; j < m->n && strcmp(m->v[j].cls.chart, m->v[i].cls.chart) == 0; j++) {
			struct whisper_series *ws = NULL;
			struct chart_series *s;

			if (c.nseries == sizeof(series) / sizeof(series[0]))
				continue; /* more than fit: not a name the aggregator writes */
			s = &series[c.nseries];
			s->label = m->v[j].cls.label;
			s->why = NULL;
			if (series_fetch(d->data_dir, m->v[j].path, from, now, now, &ws,
					 why[c.nseries], sizeof(why[0])) < 0)
				s->why = why[c.nseries];
			if (buckets_fill(&s->b, ws, from, now, CHART_BUCKETS) < 0) {
				whisper_series_destroy(&ws);
				continue;
			}
			whisper_series_destroy(&ws);
			c.nseries++;
		}
		chart_write(d->body, &c);
		for (size_t k = 0; k < c.nseries; k++)
			buckets_clear(&series[k].b);
		i = j;
	}
	fputs("</div>\n", d->body);
}
