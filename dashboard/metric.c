/*
 * metric — see metric.h. A table of the names the aggregator writes; the
 * per-device names are matched as <kind>.<dev>.<what> where <dev> is
 * everything between the first and the last dot, so a device called
 * "sda.1" still lands on its own chart.
 */
#include "metric.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* One known metric (or the <what> of a per-device one). */
struct known {
	const char *name;
	const char *chart; /* chart key suffix */
	const char *title; /* chart title ("%s" = device for per-device ones) */
	const char *label;
	enum unit unit;
	int major, minor, order;
};

static const struct known domain_metrics[] = {
    {"cpu_pct", "cpu", "vCPU utilisation", "used", UNIT_PCT, 0, 0, 0},
    {"steal_pct", "cpu", "vCPU utilisation", "steal", UNIT_PCT, 0, 0, 1},
    {"load1", "load", "vCPU load average", "1 min", UNIT_LOAD, 1, 0, 0},
    {"load5", "load", "vCPU load average", "5 min", UNIT_LOAD, 1, 0, 1},
    {"load15", "load", "vCPU load average", "15 min", UNIT_LOAD, 1, 0, 2},
    {"mem_pct", "mem", "Memory utilisation", "used", UNIT_PCT, 2, 0, 0},
    {"mem_used_kib", "memkib", "Memory used", "used", UNIT_KIB, 3, 0, 0},
};

static const struct known host_metrics[] = {
    {"cpu_pct", "cpu", "Node CPU utilisation", "used", UNIT_PCT, 0, 0, 0},
    {"load1", "load", "Node load average", "1 min", UNIT_LOAD, 1, 0, 0},
    {"load5", "load", "Node load average", "5 min", UNIT_LOAD, 1, 0, 1},
    {"load15", "load", "Node load average", "15 min", UNIT_LOAD, 1, 0, 2},
    {"mem_pct", "mem", "Node memory utilisation", "used", UNIT_PCT, 2, 0, 0},
    {"mem_used_kib", "memkib", "Node memory used", "used", UNIT_KIB, 3, 0, 0},
    {"libvirt_latency_ms", "libvirt", "libvirt latency (slowest call per tick)", "latency", UNIT_MS,
     4, 0, 0},
    {"domains", "domains", "Active domains", "domains", UNIT_COUNT, 5, 0, 0},
};

static const struct known disk_metrics[] = {
    {"rd_req_ps", "req", "Disk %s: requests", "read", UNIT_REQ_PS, 10, 0, 0},
    {"wr_req_ps", "req", "Disk %s: requests", "write", UNIT_REQ_PS, 10, 0, 1},
    {"rd_bytes_ps", "bytes", "Disk %s: throughput", "read", UNIT_BYTES_PS, 10, 1, 0},
    {"wr_bytes_ps", "bytes", "Disk %s: throughput", "write", UNIT_BYTES_PS, 10, 1, 1},
    {"errors", "err", "Disk %s: errors (cumulative)", "errors", UNIT_COUNT, 10, 2, 0},
};

static const struct known nic_metrics[] = {
    {"rx_bytes_ps", "bytes", "Network %s: throughput", "rx", UNIT_BYTES_PS, 20, 0, 0},
    {"tx_bytes_ps", "bytes", "Network %s: throughput", "tx", UNIT_BYTES_PS, 20, 0, 1},
    {"rx_packets_ps", "pkts", "Network %s: packets", "rx", UNIT_PKT_PS, 20, 1, 0},
    {"tx_packets_ps", "pkts", "Network %s: packets", "tx", UNIT_PKT_PS, 20, 1, 1},
    {"rx_errors", "err", "Network %s: errors and drops (cumulative)", "rx errors", UNIT_COUNT, 20,
     2, 0},
    {"rx_drops", "err", "Network %s: errors and drops (cumulative)", "rx drops", UNIT_COUNT, 20, 2,
     1},
    {"tx_errors", "err", "Network %s: errors and drops (cumulative)", "tx errors", UNIT_COUNT, 20,
     2, 2},
    {"tx_drops", "err", "Network %s: errors and drops (cumulative)", "tx drops", UNIT_COUNT, 20, 2,
     3},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *unit_name(enum unit u)
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

void unit_format(enum unit u, double v, bool with_unit, char *buf, size_t len)
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

static void fill(struct metric_class *out, const struct known *k, const char *dev,
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

/* Matches "<prefix>.<dev>.<what>" against a per-device table. */
static bool classify_device(const char *name, const char *prefix, const struct known *table,
			    size_t n, struct metric_class *out)
{
	size_t plen = strlen(prefix);
	const char *last = strrchr(name, '.');
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
	for (size_t i = 0; i < n; i++) {
		if (strcmp(last + 1, table[i].name) == 0) {
			fill(out, &table[i], dev, prefix);
			return true;
		}
	}
	return false;
}

void metric_classify(const char *name, bool host, struct metric_class *out)
{
	const struct known *table = host ? host_metrics : domain_metrics;
	size_t n = host ? NELEM(host_metrics) : NELEM(domain_metrics);

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		if (strcmp(name, table[i].name) == 0) {
			fill(out, &table[i], NULL, NULL);
			return;
		}
	}
	if (!host && (classify_device(name, "disk", disk_metrics, NELEM(disk_metrics), out) ||
		      classify_device(name, "nic", nic_metrics, NELEM(nic_metrics), out)))
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
