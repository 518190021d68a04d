/*
 * metric_map — which value of a decoded stats frame feeds which metric of
 * the store's catalogue (catalogue.h names them and says how each
 * consolidates): a domain's own metrics, one set per disk and per
 * interface, and the host's, each in its catalogue table's order. A value
 * of NaN means unknown this interval: it is not written (a gap).
 */
#ifndef STORE_METRIC_MAP_H
#define STORE_METRIC_MAP_H

#include <stddef.h>

#include "catalogue.h"
#include "sm_wire.h"

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
