/*
 * host_tracker — the tracker of the compute node itself (dom0 / the
 * hypervisor host), so the hypervisor's own load shows beside its guests:
 * CPU use from /proc/stat deltas, memory from /proc/meminfo (MemAvailable),
 * the kernel's own load averages from /proc/loadavg, online CPUs. It reads
 * only /proc (never libvirt), so it is always fresh even when libvirt hangs.
 */
#ifndef HOST_TRACKER_H
#define HOST_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "sm_wire.h"

/* Aggregate CPU time of the node, in clock ticks, from the "cpu" line. */
struct host_cpu_sample {
	uint64_t busy;  /* everything but idle and iowait */
	uint64_t total; /* all states */
};

/* Parses the first ("cpu ") line of /proc/stat text; 0 or -1 if malformed. */
int host_parse_stat(const char *text, struct host_cpu_sample *s);
/* Parses MemTotal and MemAvailable (KiB) from /proc/meminfo text; 0 or -1. */
int host_parse_meminfo(const char *text, uint64_t *total_kib, uint64_t *avail_kib);
/* Parses the three load averages from /proc/loadavg text; 0 or -1. */
int host_parse_loadavg(const char *text, double load[3]);
/* Busy share 0..100 between two samples; NaN if no time passed or the
 * counters went backwards. */
double host_cpu_pct(const struct host_cpu_sample *prev, const struct host_cpu_sample *cur);

struct host_tracker; /* opaque */

/* A tracker reading the files under proc_root ("/proc"; tests use a
 * directory of their own). Returns NULL on allocation failure. Missing files
 * are not an error here: their figures are reported unknown. */
struct host_tracker *host_tracker_new(const char *proc_root);
void host_tracker_destroy(struct host_tracker **h);

/* Fills the node fields of *out (ncpus, cpu_pct, load, mem_*); leaves the
 * libvirt fields alone. cpu_pct is NaN on the first call. Returns 0, or -1
 * when a file could not be read or parsed (those figures are NaN/0). */
int host_tracker_update(struct host_tracker *h, struct sm_host_stats *out);

#endif
