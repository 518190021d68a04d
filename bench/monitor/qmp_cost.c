/*
 * qmp_cost — what one libvirt statistics request costs a QEMU guest and
 * libvirtd: for each request kind, N back-to-back calls on one domain,
 * and the CPU ticks its QEMU process and libvirtd spent meanwhile, less
 * what they spend idle over the same time. Prints one line per kind.
 * Used by bench/monitor/qmp_cost.sh (docs/MONITOR.md, "What a request
 * costs QEMU").
 *
 * Usage: qmp_cost URI DOMAIN QEMU_PID LIBVIRTD_PID CALLS
 */
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum kind_call { BULK, GET_INFO, BLOCK_STATS, MEMORY_STATS, IDLE };

struct kind {
	const char *name;
	enum kind_call call;
	unsigned groups; /* for BULK */
};

static const struct kind kinds[] = {
    {"idle (sleep 3 ms)", IDLE, 0},
    {"virDomainGetInfo", GET_INFO, 0},
    {"bulk state", BULK, VIR_DOMAIN_STATS_STATE},
    {"bulk cpu-total", BULK, VIR_DOMAIN_STATS_CPU_TOTAL},
    {"bulk vcpu", BULK, VIR_DOMAIN_STATS_VCPU},
    {"bulk interface", BULK, VIR_DOMAIN_STATS_INTERFACE},
    {"bulk block", BULK, VIR_DOMAIN_STATS_BLOCK},
    {"bulk balloon", BULK, VIR_DOMAIN_STATS_BALLOON},
    {"virDomainBlockStats (1 disk)", BLOCK_STATS, 0},
    {"virDomainMemoryStats", MEMORY_STATS, 0},
};

/* utime + stime of a process, in clock ticks. */
static long cpu_ticks(int pid)
{
	char path[64], buf[4096], *s;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	s = strrchr(buf, ')');
	if (!s)
		return -1;
	s += 2;
	for (int i = 0; i < 11 && s; i++) /* to field 14, utime */
		s = strchr(s, ' ') ? strchr(s, ' ') + 1 : NULL;
	if (!s || sscanf(s, "%lu %lu", &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int one_call(virDomainPtr dom, const struct kind *k, const char *disk)
{
	virDomainPtr list[2] = {dom, NULL};
	virDomainStatsRecordPtr *recs = NULL;
	virDomainInfo info;
	virDomainBlockStatsStruct bs;
	virDomainMemoryStatStruct ms[VIR_DOMAIN_MEMORY_STAT_NR];
	struct timespec pause = {0, 3000000};
	int rc = 0;

	switch (k->call) {
	case IDLE:
		nanosleep(&pause, NULL);
		break;
	case GET_INFO:
		rc = virDomainGetInfo(dom, &info);
		break;
	case BULK:
		rc = virDomainListGetStats(list, k->groups, &recs, 0);
		virDomainStatsRecordListFree(recs);
		break;
	case BLOCK_STATS:
		rc = virDomainBlockStats(dom, disk, &bs, sizeof(bs));
		break;
	case MEMORY_STATS:
		rc = virDomainMemoryStats(dom, ms, VIR_DOMAIN_MEMORY_STAT_NR, 0);
		break;
	}
	return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	virConnectPtr conn;
	virDomainPtr dom;
	int qemu_pid, lv_pid, calls;
	double hz = (double)sysconf(_SC_CLK_TCK), idle_q = 0, idle_l = 0;

	if (argc != 6) {
		fprintf(stderr, "usage: qmp_cost URI DOMAIN QEMU_PID LIBVIRTD_PID CALLS\n");
		return 2;
	}
	qemu_pid = atoi(argv[3]);
	lv_pid = atoi(argv[4]);
	calls = atoi(argv[5]);
	conn = virConnectOpenReadOnly(argv[1]);
	dom = conn ? virDomainLookupByName(conn, argv[2]) : NULL;
	if (!dom || calls <= 0 || cpu_ticks(qemu_pid) < 0 || cpu_ticks(lv_pid) < 0) {
		fprintf(stderr, "qmp_cost: no such domain, QEMU or libvirtd process\n");
		return 1;
	}
	printf("%-30s %8s %10s %14s %14s\n", "request", "calls", "seconds", "QEMU ms/call",
	       "libvirtd ms/call");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		long q0 = cpu_ticks(qemu_pid), l0 = cpu_ticks(lv_pid), q, l;
		double t0 = now_s(), secs;
		int failed = 0;

		for (int c = 0; c < calls; c++)
			failed += one_call(dom, &kinds[i], "vda") < 0;
		secs = now_s() - t0;
		q = cpu_ticks(qemu_pid) - q0;
		l = cpu_ticks(lv_pid) - l0;
		if (kinds[i].call == IDLE) {
			/* CPU seconds per second of each, left alone */
			idle_q = (double)q / hz / secs;
			idle_l = (double)l / hz / secs;
			printf("%-30s %8d %10.2f %13.1f%% %13.1f%%  (idle rates)\n", kinds[i].name, calls,
			       secs, idle_q * 100, idle_l * 100);
			continue;
		}
		printf("%-30s %8d %10.2f %14.2f %14.2f%s\n", kinds[i].name, calls, secs,
		       ((double)q / hz - idle_q * secs) / calls * 1e3,
		       ((double)l / hz - idle_l * secs) / calls * 1e3, failed ? "  (some calls failed)" : "");
	}
	virDomainFree(dom);
	virConnectClose(conn);
	return 0;
}
