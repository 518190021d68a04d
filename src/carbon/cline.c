/*
 * cline — see cline.h. A frame's lines are written straight into one
 * buffer (each domain's path stem once, then its metrics), so a frame is
 * formatted once whatever the number of destinations: each gets a copy of
 * the same bytes.
 */
#include "cline.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "metric_map.h"
#include "sm_uuid.h"

/* stem: "domains/<2hex>/<uuid>" or "disk.<dev>" levels, at most this */
#define STEM_MAX (LAYOUT_PATH_MAX + LAYOUT_DEVICE_MAX + 16)

void cline_buf_reset(struct cline_buf *b)
{
	b->len = 0;
	b->lines = 0;
	b->failed = false;
}

void cline_buf_free(struct cline_buf *b)
{
	free(b->data);
	*b = (struct cline_buf){0};
}

static bool reserve(struct cline_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *grown;

	if (b->failed)
		return false;
	if (b->len + more <= b->cap)
		return true;
	while (cap < b->len + more)
		cap *= 2;
	grown = realloc(b->data, cap);
	if (!grown) {
		b->failed = true;
		return false;
	}
	b->data = grown;
	b->cap = cap;
	return true;
}

static bool component_byte_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

void cline_host_component(const char *host, char out[LAYOUT_HOST_MAX + 1])
{
	size_t n = 0;

	for (; host && host[n] && n < LAYOUT_HOST_MAX; n++)
		out[n] = component_byte_ok((unsigned char)host[n]) ? host[n] : '_';
	if (n == 0)
		out[n++] = '_';
	out[n] = '\0';
}

bool cline_prefix_ok(const char *prefix)
{
	size_t n = prefix ? strlen(prefix) : 0;

	if (n == 0)
		return true;
	if (n > CLINE_PREFIX_MAX || prefix[0] == '.' || prefix[n - 1] == '.' ||
	    strstr(prefix, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (prefix[i] != '.' && !component_byte_ok((unsigned char)prefix[i]))
			return false;
	return true;
}

int cline_format_value(double v, char buf[CLINE_VALUE_MAX])
{
	int n = -1;

	if (!isfinite(v))
		return -1;
	/* Whole numbers (counters, counts, KiB) the quick way. */
	if (v == floor(v) && fabs(v) < 9007199254740992.0) /* 2^53: exact */
		return snprintf(buf, CLINE_VALUE_MAX, "%" PRId64, (int64_t)v);
	for (int digits = 15; digits <= 17; digits++) {
		n = snprintf(buf, CLINE_VALUE_MAX, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return n;
}

/* Appends s (len bytes) without the terminating NUL. */
static void add(struct cline_buf *b, const char *s, size_t len)
{
	if (!reserve(b, len))
		return;
	memcpy(b->data + b->len, s, len);
	b->len += len;
}

bool cline_put(struct cline_buf *b, const char *prefix, const char *stem, const char *metric,
	       double v, int64_t ts)
{
	char value[CLINE_VALUE_MAX], tail[CLINE_VALUE_MAX + 32];
	int n = cline_format_value(v, value);

	if (n < 0)
		return false;
	n = snprintf(tail, sizeof(tail), " %s %" PRId64 "\n", value, ts);
	if (prefix && prefix[0]) {
		add(b, prefix, strlen(prefix));
		add(b, ".", 1);
	}
	add(b, stem, strlen(stem));
	add(b, ".", 1);
	add(b, metric, strlen(metric));
	add(b, tail, (size_t)n);
	b->lines++;
	return true;
}

/* One record's values under one stem; counts what was sent and unknown. */
static size_t put_set(struct cline_buf *b, const char *prefix, const char *stem,
		      const struct metric_def *defs, const double *v, size_t n, int64_t ts,
		      size_t *unknown)
{
	size_t sent = 0;

	for (size_t i = 0; i < n; i++) {
		if (cline_put(b, prefix, stem, defs[i].name, v[i], ts))
			sent++;
		else
			(*unknown)++;
	}
	return sent;
}

/* "<stem>.disk.<dev>" or "<stem>.nic.<dev>" */
static void device_stem(const char *stem, const char *kind, const char *raw, char *out, size_t len)
{
	char dev[LAYOUT_DEVICE_MAX + 1];

	layout_device_name(raw, SM_DEV_MAX + 1, dev);
	snprintf(out, len, "%s.%s.%s", stem, kind, dev);
}

size_t cline_frame(struct cline_buf *b, const char *prefix, const struct sm_message *m,
		   size_t *unknown)
{
	const struct sm_aggregate_domain_stats *a = &m->u.stats;
	int64_t ts = (int64_t)floor(m->hdr.time);
	char host[LAYOUT_HOST_MAX + 1], stem[STEM_MAX], dstem[STEM_MAX + SM_DEV_MAX + 8];
	double v[METRIC_DOMAIN_N + METRIC_HOST_N + METRIC_DEVICE_MAX_N];
	size_t sent = 0, skipped = 0;

	if (m->hdr.kind != SM_KIND_STATS)
		return 0;
	cline_host_component(m->hdr.host, host);
	snprintf(stem, sizeof(stem), LAYOUT_HOSTS_DIR ".%s", host);
	metric_host_values(&a->host, a->ndomains, v);
	sent += put_set(b, prefix, stem, metric_host, v, METRIC_HOST_N, ts, &skipped);
	for (size_t i = 0; a->domains && i < a->ndomains; i++) {
		const struct sm_domain_stats *d = &a->domains[i];
		char uuid[37];

		if (d->flags & SM_DOM_STALE) {
			skipped +=
			    METRIC_DOMAIN_N + d->ndisks * METRIC_DISK_N + d->nnics * METRIC_NIC_N;
			continue;
		}
		sm_uuid_format(d->uuid, uuid);
		snprintf(stem, sizeof(stem), LAYOUT_DOMAINS_DIR ".%.2s.%s", uuid, uuid);
		metric_domain_values(d, v);
		sent += put_set(b, prefix, stem, metric_domain, v, METRIC_DOMAIN_N, ts, &skipped);
		for (size_t k = 0; d->disks && k < d->ndisks; k++) {
			device_stem(stem, METRIC_DISK_PREFIX, d->disks[k].name, dstem,
				    sizeof(dstem));
			metric_disk_values(&d->disks[k], v);
			sent +=
			    put_set(b, prefix, dstem, metric_disk, v, METRIC_DISK_N, ts, &skipped);
		}
		for (size_t k = 0; d->nics && k < d->nnics; k++) {
			device_stem(stem, METRIC_NIC_PREFIX, d->nics[k].name, dstem, sizeof(dstem));
			metric_nic_values(&d->nics[k], v);
			sent +=
			    put_set(b, prefix, dstem, metric_nic, v, METRIC_NIC_N, ts, &skipped);
		}
	}
	if (unknown)
		*unknown = skipped;
	return sent;
}
