/*
 * catalogue_list — the one list of every metric the data directory holds,
 * one line each. Everything else is generated from it: the catalogue's
 * tables (catalogue.c: names, units, consolidation, the dashboard's words
 * and charts), their sizes (catalogue.h), and the aggregator's reading of
 * each value from a decoded stats frame (src/store/metric_map.c, shared by the aggregator and stackmon-carbon).
 * Adding a metric is one line here; docs/AGGREGATOR.md "Metrics" shows it
 * to operators.
 *
 * X(name, aggregation, unit, title, label, chart, major, minor, order, value)
 *   name         the file name ("<name>.wsp"; for disks and NICs the suffix
 *                of "disk.<dev>.<name>" / "nic.<dev>.<name>")
 *   aggregation  how coarser archives consolidate: AVERAGE for rates,
 *                percentages and loads; LAST for a cumulative counter (an
 *                average of a counter's samples is a value it never had);
 *                MAX where the spike is the point (WHISPER_AGG_*)
 *   unit         what it measures (UNIT_*)
 *   title, label, chart, major, minor, order
 *                the dashboard's chart title ("%s" = the device), legend
 *                label, chart key, and places (see struct metric_def)
 *   value        the value in a decoded frame, as a double; NaN = unknown
 *                this interval (not written: a gap). An expression of
 *                `d` (struct sm_domain_stats *), `disk`, `nic`, or `h`
 *                (struct sm_host_stats *) and `ndomains` for the host.
 */
#ifndef STORE_CATALOGUE_LIST_H
#define STORE_CATALOGUE_LIST_H

/* clang-format off */
#define METRIC_DOMAIN_LIST(X) \
	X("cpu_pct", AVERAGE, PCT, "vCPU utilisation", "used", "cpu", 0, 0, 0, d->cpu_pct) \
	X("steal_pct", AVERAGE, PCT, "vCPU utilisation", "steal", "cpu", 0, 0, 1, d->steal_pct) \
	X("load1", AVERAGE, LOAD, "vCPU load average", "1 min", "load", 1, 0, 0, d->load[0]) \
	X("load5", AVERAGE, LOAD, "vCPU load average", "5 min", "load", 1, 0, 1, d->load[1]) \
	X("load15", AVERAGE, LOAD, "vCPU load average", "15 min", "load", 1, 0, 2, d->load[2]) \
	X("mem_pct", AVERAGE, PCT, "Memory utilisation", "used", "mem", 2, 0, 0, d->mem_pct) \
	X("mem_used_kib", AVERAGE, KIB, "Memory used", "used", "memkib", 3, 0, 0, d->mem_basis == SM_MEM_NONE ? NAN : (double)d->mem_used_kib)

#define METRIC_DISK_LIST(X) \
	X("rd_req_ps", AVERAGE, REQ_PS, "Disk %s: requests", "read", "req", 10, 0, 0, disk->rd_req_ps) \
	X("rd_bytes_ps", AVERAGE, BYTES_PS, "Disk %s: throughput", "read", "bytes", 10, 1, 0, disk->rd_bytes_ps) \
	X("wr_req_ps", AVERAGE, REQ_PS, "Disk %s: requests", "write", "req", 10, 0, 1, disk->wr_req_ps) \
	X("wr_bytes_ps", AVERAGE, BYTES_PS, "Disk %s: throughput", "write", "bytes", 10, 1, 1, disk->wr_bytes_ps) \
	X("errors", LAST, COUNT, "Disk %s: errors (cumulative)", "errors", "err", 10, 2, 0, (double)disk->errors)

#define METRIC_NIC_LIST(X) \
	X("rx_bytes_ps", AVERAGE, BYTES_PS, "Network %s: throughput", "rx", "bytes", 20, 0, 0, nic->rx_bytes_ps) \
	X("rx_packets_ps", AVERAGE, PKT_PS, "Network %s: packets", "rx", "pkts", 20, 1, 0, nic->rx_packets_ps) \
	X("tx_bytes_ps", AVERAGE, BYTES_PS, "Network %s: throughput", "tx", "bytes", 20, 0, 1, nic->tx_bytes_ps) \
	X("tx_packets_ps", AVERAGE, PKT_PS, "Network %s: packets", "tx", "pkts", 20, 1, 1, nic->tx_packets_ps) \
	X("rx_errors", LAST, COUNT, "Network %s: errors and drops (cumulative)", "rx errors", "err", 20, 2, 0, (double)nic->rx_errors) \
	X("rx_drops", LAST, COUNT, "Network %s: errors and drops (cumulative)", "rx drops", "err", 20, 2, 1, (double)nic->rx_drops) \
	X("tx_errors", LAST, COUNT, "Network %s: errors and drops (cumulative)", "tx errors", "err", 20, 2, 2, (double)nic->tx_errors) \
	X("tx_drops", LAST, COUNT, "Network %s: errors and drops (cumulative)", "tx drops", "err", 20, 2, 3, (double)nic->tx_drops)

#define METRIC_HOST_LIST(X) \
	X("cpu_pct", AVERAGE, PCT, "Node CPU utilisation", "used", "cpu", 0, 0, 0, h->cpu_pct) \
	X("load1", AVERAGE, LOAD, "Node load average", "1 min", "load", 1, 0, 0, h->load[0]) \
	X("load5", AVERAGE, LOAD, "Node load average", "5 min", "load", 1, 0, 1, h->load[1]) \
	X("load15", AVERAGE, LOAD, "Node load average", "15 min", "load", 1, 0, 2, h->load[2]) \
	X("mem_pct", AVERAGE, PCT, "Node memory utilisation", "used", "mem", 2, 0, 0, h->mem_pct) \
	X("mem_used_kib", AVERAGE, KIB, "Node memory used", "used", "memkib", 3, 0, 0, h->mem_total_kib ? (double)h->mem_used_kib : NAN) \
	X("libvirt_latency_ms", MAX, MS, "libvirt latency (slowest call per tick)", "latency", "libvirt", 4, 0, 0, h->libvirt_latency_ms) \
	X("domains", LAST, COUNT, "Active domains", "domains", "domains", 5, 0, 0, (double)ndomains)
/* clang-format on */

#endif
