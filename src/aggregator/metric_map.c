/*
 * metric_map — see metric_map.h. Each function fills its values in the
 * order of the matching catalogue table (catalogue.c).
 */
#include "metric_map.h"

#include <math.h>

void metric_domain_values(const struct sm_domain_stats *d, double v[METRIC_DOMAIN_N])
{
	v[0] = d->cpu_pct;
	v[1] = d->steal_pct;
	v[2] = d->load[0];
	v[3] = d->load[1];
	v[4] = d->load[2];
	v[5] = d->mem_pct;
	/* With basis "none" the monitor knows nothing: its 0 is not a measurement. */
	v[6] = d->mem_basis == SM_MEM_NONE ? NAN : (double)d->mem_used_kib;
}

void metric_disk_values(const struct sm_disk_stats *disk, double v[METRIC_DISK_N])
{
	v[0] = disk->rd_req_ps;
	v[1] = disk->rd_bytes_ps;
	v[2] = disk->wr_req_ps;
	v[3] = disk->wr_bytes_ps;
	v[4] = (double)disk->errors;
}

void metric_nic_values(const struct sm_nic_stats *nic, double v[METRIC_NIC_N])
{
	v[0] = nic->rx_bytes_ps;
	v[1] = nic->rx_packets_ps;
	v[2] = nic->tx_bytes_ps;
	v[3] = nic->tx_packets_ps;
	v[4] = (double)nic->rx_errors;
	v[5] = (double)nic->rx_drops;
	v[6] = (double)nic->tx_errors;
	v[7] = (double)nic->tx_drops;
}

void metric_host_values(const struct sm_host_stats *h, size_t ndomains, double v[METRIC_HOST_N])
{
	v[0] = h->cpu_pct;
	v[1] = h->load[0];
	v[2] = h->load[1];
	v[3] = h->load[2];
	v[4] = h->mem_pct;
	v[5] = h->mem_total_kib ? (double)h->mem_used_kib : NAN;
	v[6] = h->libvirt_latency_ms;
	v[7] = (double)ndomains;
}
