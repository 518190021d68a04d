/*
 * series — see series.h. The file is opened read-only without a cache
 * (WHISPER_OPEN_NOCACHE: the aggregator writes it meanwhile) and fetched
 * once; the path comes from the index, is checked again here, and is never
 * built from request text.
 */
#define _GNU_SOURCE /* asprintf */
#include "series.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct window_info windows[WIN_COUNT] = {
    [WIN_15M] = {"15m", "15 min", 15 * 60, 5 * 60},
    [WIN_3H] = {"3h", "3 hours", 3 * 3600, 30 * 60},
    [WIN_1D] = {"1d", "1 day", 86400, 4 * 3600},
    [WIN_7D] = {"7d", "7 days", 7 * 86400, 86400},
};

int window_parse(const char *name)
{
	for (int i = 0; name && i < WIN_COUNT; i++)
		if (strcmp(name, windows[i].name) == 0)
			return i;
	return -1;
}

bool series_relpath_ok(const char *relpath)
{
	size_t len;

	if (relpath == NULL || (len = strlen(relpath)) == 0 || len > 4095 || relpath[0] == '/')
		return false;
	for (const char *p = relpath; *p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/')
			p++;
		if (slash && *p == '\0')
			return false; /* trailing slash: an empty last component */
	}
	return true;
}

int series_fetch(const char *data_dir, const char *relpath, int64_t from, int64_t until,
		 int64_t now, struct whisper_series **out, char *why, size_t whylen)
{
	struct whisper_err err = {0};
	struct whisper *w = NULL;
	char *path = NULL;
	int rc, ret = -1;

	*out = NULL;
	if (!series_relpath_ok(relpath)) {
		snprintf(why, whylen, "bad path in the index");
		goto out;
	}
	if (asprintf(&path, "%s/%s", data_dir, relpath) < 0) {
		path = NULL;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	w = whisper_open(path, WHISPER_OPEN_RDONLY | WHISPER_OPEN_NOCACHE, &err);
	if (w == NULL) {
		if (err.code == -ENOENT)
			snprintf(why, whylen, "no file yet");
		else if (whisper_err_is_corrupt(err.code))
			snprintf(why, whylen, "file incomplete or damaged");
		else
			snprintf(why, whylen, "cannot read the file: %s",
				 whisper_strerror(err.code));
		goto out;
	}
	rc = whisper_fetch(w, from, until, now, out);
	if (rc < 0) {
		snprintf(why, whylen, "cannot read the file: %s", whisper_strerror(rc));
		goto out;
	}
	ret = 0;
out:
	whisper_close(&w);
	free(path);
	return ret;
}

void buckets_clear(struct buckets *b)
{
	if (b == NULL)
		return;
	free(b->min);
	memset(b, 0, sizeof(*b));
}

int buckets_fill(struct buckets *b, const struct whisper_series *s, int64_t from, int64_t until,
		 size_t n)
{
	size_t *count;
	double span = (double)(until - from);

	memset(b, 0, sizeof(*b));
	if (n == 0 || until <= from)
		return -1;
	/* One allocation for the three arrays; the counts are temporary. */
	b->min = malloc(n * 3 * sizeof(double));
	count = calloc(n, sizeof(*count));
	if (b->min == NULL || count == NULL) {
		free(b->min);
		free(count);
		b->min = NULL;
		return -1;
	}
	b->max = b->min + n;
	b->mean = b->max + n;
	b->n = n;
	b->from = from;
	b->until = until;
	for (size_t i = 0; i < n; i++) {
		b->min[i] = INFINITY;
		b->max[i] = -INFINITY;
		b->mean[i] = 0;
	}
	for (size_t i = 0; s && i < s->count; i++) {
		double v = s->values[i];
		int64_t t = s->from + (int64_t)i * s->step;
		size_t k;

		if (!isfinite(v) || t < from || t >= until)
			continue;
		k = (size_t)((double)(t - from) * (double)n / span);
		if (k >= n)
			k = n - 1;
		if (v < b->min[k])
			b->min[k] = v;
		if (v > b->max[k])
			b->max[k] = v;
		b->mean[k] += v;
		count[k]++;
		b->points++;
	}
	for (size_t i = 0; i < n; i++) {
		if (count[i] == 0) {
			b->min[i] = b->max[i] = b->mean[i] = NAN;
		} else {
			b->mean[i] /= (double)count[i];
		}
	}
	free(count);
	return 0;
}
