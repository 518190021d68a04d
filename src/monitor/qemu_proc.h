/*
 * qemu_proc — a local QEMU domain's CPU figures as the kernel publishes them:
 * the domain's CPU time from its cgroup (what libvirt reports as cpu.time)
 * and its vCPU threads' scheduler statistics (libvirt's vcpu.N.delay, our
 * steal), read from /proc and the cgroup file system. libvirt's cpu-total
 * and vcpu stat groups each make QEMU answer a monitor command every
 * interval (about 1.6 ms of QEMU CPU each, MONITOR.md); these files cost a
 * few reads and no round trip. Used only when libvirt runs on this host.
 */
#ifndef QEMU_PROC_H
#define QEMU_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct qemu_proc; /* opaque: one domain's QEMU process */

/* What one read gives. */
struct qemu_proc_cpu {
	uint64_t cpu_time_ns; /* CPU time of the whole domain (every QEMU thread) */
	uint64_t delay_ns;    /* summed over vCPU threads: runnable, waiting for a CPU */
	uint32_t vcpus;	      /* vCPU threads running now */
};

/* Where a domain's CPU time is read from (qemu_proc_source). */
enum qemu_proc_clock {
	QEMU_PROC_CGROUP2,   /* <cgroup2>/<domain>/cpu.stat usage_usec */
	QEMU_PROC_CPUACCT,   /* <cpuacct>/<domain>/cpuacct.usage (cgroup v1) */
	QEMU_PROC_PROC_STAT, /* /proc/PID/stat utime + stime (clock ticks): no cgroup of its own */
};

/*
 * One scan of proc_root ("/proc"): for each of uuids[0..n), the pid of the
 * process whose command line has "-uuid" and that UUID (QEMU's, as libvirt
 * starts it), or 0. Returns how many were found, or -1 (errno set) when
 * proc_root cannot be listed. Processes that vanish mid-scan are skipped.
 */
int qemu_proc_scan(const char *proc_root, const uint8_t (*uuids)[16], size_t n, pid_t *pids);

/*
 * Opens the figures of process `pid` under proc_root: finds its domain's
 * cgroup (the parent of libvirt's "emulator" group) and checks that one read
 * works and finds vCPU threads (named "CPU N/KVM" or "CPU N/TCG", which
 * libvirt's debug-threads=on gives them). NULL when the process is gone, has
 * no such threads (single-threaded TCG) or out of memory: the caller then
 * asks libvirt.
 */
struct qemu_proc *qemu_proc_open(const char *proc_root, pid_t pid);

/* Reads the figures now. 0, or -1 when the process or its cgroup is gone
 * (the caller destroys the handle and asks libvirt). */
int qemu_proc_read(struct qemu_proc *q, struct qemu_proc_cpu *out);

/* The process this handle reads. */
pid_t qemu_proc_pid(const struct qemu_proc *q);

/* Where its CPU time comes from. */
enum qemu_proc_clock qemu_proc_source(const struct qemu_proc *q);

/* Frees the handle and nulls *q. NULL-safe. */
void qemu_proc_destroy(struct qemu_proc **q);

/* ---- Pure parsing (exposed for the unit test) ---------------------------- */

/* The UUID after a "-uuid" argument in a NUL-separated command line of len
 * bytes: 0, or -1 when there is none or it is malformed. */
int qemu_proc_cmdline_uuid(const char *cmdline, size_t len, uint8_t uuid[16]);

/* The vCPU index of a thread named "CPU N/..." (comm text, newline allowed),
 * or -1 for any other thread. */
int qemu_proc_vcpu_index(const char *comm);

/* run_delay, the second field of a schedstat line: 0, or -1. */
int qemu_proc_parse_schedstat(const char *text, uint64_t *delay_ns);

/* usage_usec of a cgroup v2 cpu.stat text, in ns: 0, or -1. */
int qemu_proc_parse_cpu_stat(const char *text, uint64_t *ns);

/*
 * From /proc/PID/cgroup text, the path of the process's cgroup in the v2
 * hierarchy (line "0::PATH"; want_cpuacct false) or in the v1 hierarchy that
 * holds cpuacct (want_cpuacct true), with a trailing "/emulator" (libvirt's
 * group for QEMU's own threads) removed so that it names the whole domain.
 * Writes it to out[size]: 0, or -1 when absent, the root ("/": no group of
 * its own) or too long.
 */
int qemu_proc_cgroup_path(const char *text, int want_cpuacct, char *out, size_t size);

#endif
