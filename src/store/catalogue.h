/*
 * catalogue — every metric the data directory holds (one line each in
 * catalogue_list.h), as tables to look them up in: its
 * name (a device metric's is the suffix of "disk.<dev>.<suffix>" or
 * "nic.<dev>.<suffix>"), the record it belongs to, its unit, how coarser
 * Whisper archives consolidate it, and the words and chart the dashboard
 * shows it with. The aggregator names and creates its files from these
 * tables; the dashboard reads them back through them
 * (docs/AGGREGATOR.md "Metrics" is the contract). Plain constant data.
 */
#ifndef STORE_CATALOGUE_H
#define STORE_CATALOGUE_H

#include <stddef.h>

#include "catalogue_list.h"
#include "whisper.h"

/* What a value measures. */
enum metric_unit {
	UNIT_NONE,     /* a plain number */
	UNIT_PCT,      /* percent, 0..100 */
	UNIT_LOAD,     /* load average (vCPUs or processes busy or waiting) */
	UNIT_BYTES_PS, /* bytes per second */
	UNIT_REQ_PS,   /* requests per second */
	UNIT_PKT_PS,   /* packets per second */
	UNIT_KIB,      /* KiB (memory) */
	UNIT_MS,       /* milliseconds */
	UNIT_COUNT,    /* a cumulative counter or a count */
};

/* Which record of a stats frame a metric comes from. */
enum metric_record {
	METRIC_OF_DOMAIN, /* the domain itself */
	METRIC_OF_DISK,	  /* one of its disks: "disk.<dev>.<name>" */
	METRIC_OF_NIC,	  /* one of its interfaces: "nic.<dev>.<name>" */
	METRIC_OF_HOST,	  /* the compute node */
};

/* One metric. Metrics with the same chart key (within a device for disk
 * and nic) share a chart; charts are ordered by major, device, minor, and
 * series within a chart by order. */
struct metric_def {
	const char *name;
	enum whisper_aggregation aggregation;
	enum metric_unit unit;
	const char *title; /* chart title ("%s" = the device, for disk and nic) */
	const char *label; /* legend label within its chart */
	const char *chart; /* chart key */
	int major, minor, order;
};

#define METRIC_COUNT_ONE(...) +1
enum {
	METRIC_DOMAIN_N = 0 METRIC_DOMAIN_LIST(METRIC_COUNT_ONE), /* the domain's own */
	METRIC_DISK_N = 0 METRIC_DISK_LIST(METRIC_COUNT_ONE),	  /* disk.<dev>.* */
	METRIC_NIC_N = 0 METRIC_NIC_LIST(METRIC_COUNT_ONE),	  /* nic.<dev>.* */
	METRIC_HOST_N = 0 METRIC_HOST_LIST(METRIC_COUNT_ONE),	  /* the compute node itself */
	METRIC_DEVICE_MAX_N = METRIC_DISK_N > METRIC_NIC_N ? METRIC_DISK_N : METRIC_NIC_N,
};

/* The four tables, generated from catalogue_list.h in its order (the
 * order the aggregator's values come in, metric_map.h). */
extern const struct metric_def metric_domain[METRIC_DOMAIN_N];
extern const struct metric_def metric_disk[METRIC_DISK_N];
extern const struct metric_def metric_nic[METRIC_NIC_N];
extern const struct metric_def metric_host[METRIC_HOST_N];

#define METRIC_DISK_PREFIX "disk"
#define METRIC_NIC_PREFIX  "nic"

/* The metric of `record` called `name` (the suffix for disk and nic), or
 * NULL when the catalogue has none. */
const struct metric_def *catalogue_find(enum metric_record record, const char *name);

#endif
