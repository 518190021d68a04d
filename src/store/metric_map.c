/*
 * metric_map — see metric_map.h. Each function is the value column of its
 * record's list in catalogue_list.h, in the list's order, so a value can
 * neither be missing nor land under another metric's name.
 */
#include "metric_map.h"

#include <math.h>

/* One value, in catalogue order: the list's last column. */
#define METRIC_VALUE(name, agg, unit, title, label, chart, major, minor, order, value) \
	v[i++] = (value);

void metric_domain_values(const struct sm_domain_stats *d, double v[METRIC_DOMAIN_N])
{
	size_t i = 0;

	METRIC_DOMAIN_LIST(METRIC_VALUE)
}

void metric_disk_values(const struct sm_disk_stats *disk, double v[METRIC_DISK_N])
{
	size_t i = 0;

	METRIC_DISK_LIST(METRIC_VALUE)
}

void metric_nic_values(const struct sm_nic_stats *nic, double v[METRIC_NIC_N])
{
	size_t i = 0;

	METRIC_NIC_LIST(METRIC_VALUE)
}

void metric_host_values(const struct sm_host_stats *h, size_t ndomains, double v[METRIC_HOST_N])
{
	size_t i = 0;

	METRIC_HOST_LIST(METRIC_VALUE)
}
