/*
 * catalogue — see catalogue.h. Rates, percentages and loads consolidate by
 * average; a cumulative counter by "last" (an average of a counter's
 * samples is a value it never had); the host's slowest libvirt call by
 * "max" (a spike is the point); the domain count by "last".
 */
#include "catalogue.h"

#include <string.h>

const struct metric_def metric_domain[METRIC_DOMAIN_N] = {
    {"cpu_pct", WHISPER_AGG_AVERAGE, UNIT_PCT, "vCPU utilisation", "used", "cpu", 0, 0, 0},
    {"steal_pct", WHISPER_AGG_AVERAGE, UNIT_PCT, "vCPU utilisation", "steal", "cpu", 0, 0, 1},
    {"load1", WHISPER_AGG_AVERAGE, UNIT_LOAD, "vCPU load average", "1 min", "load", 1, 0, 0},
    {"load5", WHISPER_AGG_AVERAGE, UNIT_LOAD, "vCPU load average", "5 min", "load", 1, 0, 1},
    {"load15", WHISPER_AGG_AVERAGE, UNIT_LOAD, "vCPU load average", "15 min", "load", 1, 0, 2},
    {"mem_pct", WHISPER_AGG_AVERAGE, UNIT_PCT, "Memory utilisation", "used", "mem", 2, 0, 0},
    {"mem_used_kib", WHISPER_AGG_AVERAGE, UNIT_KIB, "Memory used", "used", "memkib", 3, 0, 0},
};

const struct metric_def metric_disk[METRIC_DISK_N] = {
    {"rd_req_ps", WHISPER_AGG_AVERAGE, UNIT_REQ_PS, "Disk %s: requests", "read", "req", 10, 0, 0},
    {"rd_bytes_ps", WHISPER_AGG_AVERAGE, UNIT_BYTES_PS, "Disk %s: throughput", "read", "bytes", 10,
     1, 0},
    {"wr_req_ps", WHISPER_AGG_AVERAGE, UNIT_REQ_PS, "Disk %s: requests", "write", "req", 10, 0, 1},
    {"wr_bytes_ps", WHISPER_AGG_AVERAGE, UNIT_BYTES_PS, "Disk %s: throughput", "write", "bytes", 10,
     1, 1},
    {"errors", WHISPER_AGG_LAST, UNIT_COUNT, "Disk %s: errors (cumulative)", "errors", "err", 10, 2,
     0},
};

const struct metric_def metric_nic[METRIC_NIC_N] = {
    {"rx_bytes_ps", WHISPER_AGG_AVERAGE, UNIT_BYTES_PS, "Network %s: throughput", "rx", "bytes", 20,
     0, 0},
    {"rx_packets_ps", WHISPER_AGG_AVERAGE, UNIT_PKT_PS, "Network %s: packets", "rx", "pkts", 20, 1,
     0},
    {"tx_bytes_ps", WHISPER_AGG_AVERAGE, UNIT_BYTES_PS, "Network %s: throughput", "tx", "bytes", 20,
     0, 1},
    {"tx_packets_ps", WHISPER_AGG_AVERAGE, UNIT_PKT_PS, "Network %s: packets", "tx", "pkts", 20, 1,
     1},
    {"rx_errors", WHISPER_AGG_LAST, UNIT_COUNT, "Network %s: errors and drops (cumulative)",
     "rx errors", "err", 20, 2, 0},
    {"rx_drops", WHISPER_AGG_LAST, UNIT_COUNT, "Network %s: errors and drops (cumulative)",
     "rx drops", "err", 20, 2, 1},
    {"tx_errors", WHISPER_AGG_LAST, UNIT_COUNT, "Network %s: errors and drops (cumulative)",
     "tx errors", "err", 20, 2, 2},
    {"tx_drops", WHISPER_AGG_LAST, UNIT_COUNT, "Network %s: errors and drops (cumulative)",
     "tx drops", "err", 20, 2, 3},
};

const struct metric_def metric_host[METRIC_HOST_N] = {
    {"cpu_pct", WHISPER_AGG_AVERAGE, UNIT_PCT, "Node CPU utilisation", "used", "cpu", 0, 0, 0},
    {"load1", WHISPER_AGG_AVERAGE, UNIT_LOAD, "Node load average", "1 min", "load", 1, 0, 0},
    {"load5", WHISPER_AGG_AVERAGE, UNIT_LOAD, "Node load average", "5 min", "load", 1, 0, 1},
    {"load15", WHISPER_AGG_AVERAGE, UNIT_LOAD, "Node load average", "15 min", "load", 1, 0, 2},
    {"mem_pct", WHISPER_AGG_AVERAGE, UNIT_PCT, "Node memory utilisation", "used", "mem", 2, 0, 0},
    {"mem_used_kib", WHISPER_AGG_AVERAGE, UNIT_KIB, "Node memory used", "used", "memkib", 3, 0, 0},
    {"libvirt_latency_ms", WHISPER_AGG_MAX, UNIT_MS, "libvirt latency (slowest call per tick)",
     "latency", "libvirt", 4, 0, 0},
    {"domains", WHISPER_AGG_LAST, UNIT_COUNT, "Active domains", "domains", "domains", 5, 0, 0},
};

const struct metric_def *catalogue_find(enum metric_record record, const char *name)
{
	static const struct {
		const struct metric_def *defs;
		size_t n;
	} tables[] = {
	    [METRIC_OF_DOMAIN] = {metric_domain, METRIC_DOMAIN_N},
	    [METRIC_OF_DISK] = {metric_disk, METRIC_DISK_N},
	    [METRIC_OF_NIC] = {metric_nic, METRIC_NIC_N},
	    [METRIC_OF_HOST] = {metric_host, METRIC_HOST_N},
	};

	if (name == NULL || (unsigned)record >= sizeof(tables) / sizeof(tables[0]))
		return NULL;
	for (size_t i = 0; i < tables[record].n; i++)
		if (strcmp(name, tables[record].defs[i].name) == 0)
			return &tables[record].defs[i];
	return NULL;
}
