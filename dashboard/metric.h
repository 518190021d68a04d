/*
 * metric — how the dashboard shows the metrics the index lists (cpu_pct,
 * load1, disk.<dev>.rd_bytes_ps, nic.<dev>.rx_drops, …): the store's
 * catalogue gives each one's chart, legend label and unit; this module
 * matches names against it and writes values of each unit for people. A
 * name the catalogue does not know still gets a chart of its own, so every
 * file the index lists is drawn.
 */
#ifndef DASH_METRIC_H
#define DASH_METRIC_H

#include <stdbool.h>
#include <stddef.h>

#include "catalogue.h"

/* Stable unit name for the JSON API ("percent", "bytes_per_second", …). */
const char *unit_name(enum metric_unit u);

/* Writes `v` for people into buf: "12.3 %", "1.21 MiB/s", "0.42", "—" for
 * NaN. With with_unit false, units that a column header can carry (%,
 * req/s, pkt/s, ms) are left out; byte sizes always keep theirs. */
void unit_format(enum metric_unit u, double v, bool with_unit, char *buf, size_t len);

/* Where a metric goes. */
struct metric_class {
	char chart[320]; /* chart key: metrics with the same key share a chart */
	char title[320]; /* chart title (plain text; escape it when writing) */
	char label[272]; /* legend label of this metric within its chart */
	enum metric_unit unit;
	int major;    /* chart order: major, then dev, then minor */
	char dev[64]; /* device name for disk/nic charts, else "" */
	int minor;
	int order; /* series order within the chart */
};

/* Classifies metric `name` of an instance (host false) or of a host. */
void metric_classify(const char *name, bool host, struct metric_class *out);

/* Orders two classified metrics: by chart (major, dev, minor), then series
 * order, then chart key. For qsort-style use. */
int metric_class_cmp(const struct metric_class *a, const struct metric_class *b);

#endif
