/*
 * metric — see metric.h. Names are looked up in the store's catalogue; the
 * per-device names are matched as <kind>.<dev>.<what> where <dev> is
 * everything between the first and the last dot, so a device called
 * "sda.1" still lands on its own chart.
 */
#include "metric.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *unit_name(enum metric_unit u)
{
	switch (u) {
	case UNIT_PCT:
		return "percent";
	case UNIT_LOAD:
		return "load";
	case UNIT_BYTES_PS:
		return "bytes_per_second";
	case UNIT_REQ_PS:
		return "requests_per_second";
	case UNIT_PKT_PS:
		return "packets_per_second";
	case UNIT_KIB:
		return "kibibytes";
	case UNIT_MS:
		return "milliseconds";
	case UNIT_COUNT:
		return "count";
	case UNIT_NONE:
		break;
	}
	return "none";
}

/* A number with about three significant digits, no unit. */
static void plain(double v, char *buf, size_t len)
{
	double a = fabs(v);

	if (a == 0)
		snprintf(buf, len, "0");
	else if (a < 10)
		snprintf(buf, len, "%.2f", v);
	else if (a < 100)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.0f", v);
}

/* Bytes with a binary prefix: "512 B", "1.21 MiB". */
static void bytes(double v, const char *suffix, char *buf, size_t len)
{
	static const char *const prefix[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	char num[32];
	size_t i = 0;

	while (fabs(v) >= 1024 && i + 1 < NELEM(prefix)) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(num, sizeof(num), "%.0f", v);
	else
		plain(v, num, sizeof(num));
	snprintf(buf, len, "%s %s%s", num, prefix[i], suffix);
}

void unit_format(enum metric_unit u, double v, bool with_unit, char *buf, size_t len)
{
	char num[32];

	if (!isfinite(v)) {
		snprintf(buf, len, "\u2014");
		return;
	}
	switch (u) {
	case UNIT_BYTES_PS:
		bytes(v, "/s", buf, len);
		return;
	case UNIT_KIB:
		bytes(v * 1024, "", buf, len);
		return;
	case UNIT_PCT:
		snprintf(num, sizeof(num), "%.1f", v);
		break;
	case UNIT_COUNT:
		snprintf(num, sizeof(num), "%.0f", v);
		break;
	default:
		plain(v, num, sizeof(num));
	}
	if (!with_unit) {
		snprintf(buf, len, "%s", num);
		return;
	}
	switch (u) {
	case UNIT_PCT:
		snprintf(buf, len, "%s %%", num);
		break;
	case UNIT_REQ_PS:
		snprintf(buf, len, "%s req/s", num);
		break;
	case UNIT_PKT_PS:
		snprintf(buf, len, "%s pkt/s", num);
		break;
	case UNIT_MS:
		snprintf(buf, len, "%s ms", num);
		break;
	default:
		snprintf(buf, len, "%s", num);
	}
}

static void fill(struct metric_class *out, const struct metric_def *k, const char *dev,
		 const char *chart_prefix)
{
	out->unit = k->unit;
	out->major = k->major;
	out->minor = k->minor;
	out->order = k->order;
	snprintf(out->label, sizeof(out->label), "%s", k->label);
	if (dev) {
		snprintf(out->dev, sizeof(out->dev), "%s", dev);
		snprintf(out->chart, sizeof(out->chart), "%s.%s.%s", chart_prefix, dev, k->chart);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(out->title, sizeof(out->title), k->title, dev);
#pragma GCC diagnostic pop
	} else {
		out->dev[0] = '\0';
		snprintf(out->chart, sizeof(out->chart), "%s", k->chart);
		snprintf(out->title, sizeof(out->title), "%s", k->title);
	}
}

/* Matches "<prefix>.<dev>.<what>" against the catalogue's `record`. */
static bool classify_device(const char *name, const char *prefix, enum metric_record record,
			    struct metric_class *out)
{
	size_t plen = strlen(prefix);
	const char *last = strrchr(name, '.');
	const struct metric_def *def;
	char dev[64];
	size_t dlen;

	if (strncmp(name, prefix, plen) != 0 || name[plen] != '.' || last == NULL ||
	    last <= name + plen + 1)
		return false;
	dlen = (size_t)(last - (name + plen + 1));
	if (dlen >= sizeof(dev))
		return false;
	memcpy(dev, name + plen + 1, dlen);
	dev[dlen] = '\0';
	def = catalogue_find(record, last + 1);
	if (def == NULL)
		return false;
	fill(out, def, dev, prefix);
	return true;
}

void metric_classify(const char *name, bool host, struct metric_class *out)
{
	const struct metric_def *def =
	    catalogue_find(host ? METRIC_OF_HOST : METRIC_OF_DOMAIN, name);

	memset(out, 0, sizeof(*out));
	if (def) {
		fill(out, def, NULL, NULL);
		return;
	}
	if (!host && (classify_device(name, METRIC_DISK_PREFIX, METRIC_OF_DISK, out) ||
		      classify_device(name, METRIC_NIC_PREFIX, METRIC_OF_NIC, out)))
		return;
	/* Unknown: a chart of its own, after all known ones. */
	out->unit = UNIT_NONE;
	out->major = 100;
	snprintf(out->chart, sizeof(out->chart), "other:%s", name);
	snprintf(out->title, sizeof(out->title), "%s", name);
	snprintf(out->label, sizeof(out->label), "%s", name);
}

int metric_class_cmp(const struct metric_class *a, const struct metric_class *b)
{
	int c;

	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if ((c = strcmp(a->dev, b->dev)) != 0)
		return c;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if ((c = strcmp(a->chart, b->chart)) != 0)
		return c;
	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	return 0;
}
