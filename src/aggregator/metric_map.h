/*
 * metric_map — which Whisper files a decoded stats frame feeds, under which
 * names, with which consolidation method, and the value of each. The one
 * table of metric names (docs/AGGREGATOR.md "Metrics" is the contract the
 * dashboard reads): a domain's own metrics, one set per disk and per
 * interface ("disk.<dev>.<suffix>", "nic.<dev>.<suffix>"), and the host's.
 * A value of NaN means unknown this interval: it is not written (a gap).
 */
#ifndef AGG_METRIC_MAP_H
#define AGG_METRIC_MAP_H

#include <stddef.h>

#include "sm_wire.h"
#include "whisper.h"

/* One metric: its name (or name suffix, for devices) and how coarser
 * archives consolidate it. */
struct metric_def {
	const char *name;
	enum whisper_aggregation aggregation;
};

enum {
	METRIC_DOMAIN_N = 7, /* cpu_pct … mem_used_kib */
	METRIC_DISK_N = 5,   /* disk.<dev>.* */
	METRIC_NIC_N = 8,    /* nic.<dev>.* */
	METRIC_HOST_N = 8,   /* the compute node itself */
	METRIC_DEVICE_MAX_N = 8,
};

extern const struct metric_def metric_domain[METRIC_DOMAIN_N];
extern const struct metric_def metric_disk[METRIC_DISK_N];
extern const struct metric_def metric_nic[METRIC_NIC_N];
extern const struct metric_def metric_host[METRIC_HOST_N];

#define METRIC_DISK_PREFIX "disk"
#define METRIC_NIC_PREFIX  "nic"

/* Values of a domain's own metrics, in metric_domain order. mem_used_kib is
 * unknown when the memory basis is "none". */
void metric_domain_values(const struct sm_domain_stats *d, double v[METRIC_DOMAIN_N]);
/* Values of one disk's metrics, in metric_disk order. */
void metric_disk_values(const struct sm_disk_stats *disk, double v[METRIC_DISK_N]);
/* Values of one interface's metrics, in metric_nic order. */
void metric_nic_values(const struct sm_nic_stats *nic, double v[METRIC_NIC_N]);
/* Values of the host's metrics, in metric_host order; `ndomains` is the
 * number of domains in the frame. */
void metric_host_values(const struct sm_host_stats *h, size_t ndomains, double v[METRIC_HOST_N]);

#endif
