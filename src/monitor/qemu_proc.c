/*
 * qemu_proc — a local QEMU domain's CPU figures from /proc and its cgroup
 * (see qemu_proc.h). Every file is opened, read once and closed per read,
 * as host_tracker does: nothing stays open, and a process or cgroup that
 * went away shows as a failed open, never as a stale figure.
 */
#include "qemu_proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sm_uuid.h"

/* One thread of the process, as last seen in its task folder. */
struct qemu_thread {
	pid_t tid;
	int vcpu;  /* vCPU index, or -1: not a vCPU thread (its name is read once) */
	bool seen; /* found in the current listing */
};

struct qemu_proc {
	char *proc_root;	     /* e.g. "/proc" */
	pid_t pid;		     /* QEMU's process */
	enum qemu_proc_clock clock;  /* where cpu_file's figure comes from */
	char *cpu_file;		     /* the file giving the domain's CPU time */
	long ticks_per_s;	     /* QEMU_PROC_PROC_STAT: clock ticks per second */
	struct qemu_thread *threads; /* the process's threads, vCPU or not */
	size_t nthreads, cap;
};

/* Reads a whole small file into buf[size] (NUL-terminated). Bytes read or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	ssize_t n = 0, got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((size_t)got < size - 1 && (n = read(fd, buf + got, size - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	if (got == 0 && n < 0)
		return -1;
	buf[got] = '\0';
	return got;
}

int qemu_proc_cmdline_uuid(const char *cmdline, size_t len, uint8_t uuid[16])
{
	const char *p = cmdline, *end = cmdline + len;

	while (p < end) {
		const char *next = memchr(p, '\0', (size_t)(end - p));

		if (!next)
			return -1;
		if (strcmp(p, "-uuid") == 0) {
			const char *arg = next + 1;
			const char *arg_end =
			    arg < end ? memchr(arg, '\0', (size_t)(end - arg)) : NULL;

			if (!arg_end || arg_end - arg != 36)
				return -1;
			return sm_uuid_parse(arg, uuid);
		}
		p = next + 1;
	}
	return -1;
}

int qemu_proc_vcpu_index(const char *comm)
{
	char *end;
	unsigned long n;

	if (strncmp(comm, "CPU ", 4) != 0 || !isdigit((unsigned char)comm[4]))
		return -1;
	errno = 0;
	n = strtoul(comm + 4, &end, 10);
	if (errno || *end != '/' || n > INT_MAX)
		return -1;
	return (int)n;
}

int qemu_proc_parse_schedstat(const char *text, uint64_t *delay_ns)
{
	uint64_t run;

	return sscanf(text, "%" SCNu64 " %" SCNu64, &run, delay_ns) == 2 ? 0 : -1;
}

int qemu_proc_parse_cpu_stat(const char *text, uint64_t *ns)
{
	const char *p = text;
	uint64_t usec;

	while (p && *p) {
		if (strncmp(p, "usage_usec ", 11) == 0) {
			if (sscanf(p + 11, "%" SCNu64, &usec) != 1 || usec > UINT64_MAX / 1000)
				return -1;
			*ns = usec * 1000;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* Whether the comma-separated list [s, e) has the word `want`. */
static bool list_has(const char *s, const char *e, const char *want)
{
	size_t wl = strlen(want);

	while (s < e) {
		const char *comma = memchr(s, ',', (size_t)(e - s));
		const char *word_end = comma ? comma : e;

		if ((size_t)(word_end - s) == wl && strncmp(s, want, wl) == 0)
			return true;
		s = word_end + 1;
	}
	return false;
}

int qemu_proc_cgroup_path(const char *text, int want_cpuacct, char *out, size_t size)
{
	const char *line = text;

	while (line && *line) {
		const char *nl = strchr(line, '\n'), *eol = nl ? nl : line + strlen(line);
		const char *c1 = memchr(line, ':', (size_t)(eol - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;

		if (c2) {
			bool match = want_cpuacct
					 ? list_has(c1 + 1, c2, "cpuacct")
					 : (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1);
			const char *path = c2 + 1;
			size_t plen = (size_t)(eol - path);

			if (match) {
				if (plen >= 9 && strncmp(eol - 9, "/emulator", 9) == 0)
					plen -= 9;
				if (plen == 0 || (plen == 1 && path[0] == '/') || plen >= size ||
				    path[0] != '/')
					return -1;
				memcpy(out, path, plen);
				out[plen] = '\0';
				return 0;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return -1;
}

/* The mount point of the cgroup v2 hierarchy (want_cpuacct false) or of the
 * v1 hierarchy with cpuacct, from proc_root/self/mountinfo; only mounts of
 * the hierarchy's root count. 0, or -1. */
static int cgroup_mount(const char *proc_root, bool want_cpuacct, char *out, size_t size)
{
	char path[PATH_MAX], line[4096];
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/self/mountinfo", proc_root);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (rc < 0 && fgets(line, sizeof(line), f)) {
		char root[PATH_MAX], mnt[PATH_MAX], fstype[64], opts[1024];
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%63s %*s %1023s", fstype, opts) != 2 ||
		    strcmp(root, "/") != 0)
			continue;
		if (want_cpuacct ? strcmp(fstype, "cgroup") == 0 &&
				       list_has(opts, opts + strlen(opts), "cpuacct")
				 : strcmp(fstype, "cgroup2") == 0) {
			if (strlen(mnt) < size && !strchr(mnt, '\\')) { /* no escaped names */
				strcpy(out, mnt);
				rc = 0;
			}
		}
	}
	fclose(f);
	return rc;
}

/* Chooses where the domain's CPU time is read: its own cgroup, v2 first
 * (where libvirt reads cpu.time too), else v1 cpuacct, else the process's
 * own stat file. */
static int choose_clock(struct qemu_proc *q)
{
	char path[PATH_MAX], text[4096], group[PATH_MAX / 2], mnt[PATH_MAX / 4];

	snprintf(path, sizeof(path), "%s/%d/cgroup", q->proc_root, (int)q->pid);
	if (read_small(path, text, sizeof(text)) < 0)
		return -1;
	if (qemu_proc_cgroup_path(text, 0, group, sizeof(group)) == 0 &&
	    cgroup_mount(q->proc_root, false, mnt, sizeof(mnt)) == 0) {
		snprintf(path, sizeof(path), "%s%s/cpu.stat", mnt, group);
		q->clock = QEMU_PROC_CGROUP2;
	} else if (qemu_proc_cgroup_path(text, 1, group, sizeof(group)) == 0 &&
		   cgroup_mount(q->proc_root, true, mnt, sizeof(mnt)) == 0) {
		snprintf(path, sizeof(path), "%s%s/cpuacct.usage", mnt, group);
		q->clock = QEMU_PROC_CPUACCT;
	} else {
		snprintf(path, sizeof(path), "%s/%d/stat", q->proc_root, (int)q->pid);
		q->clock = QEMU_PROC_PROC_STAT;
		q->ticks_per_s = sysconf(_SC_CLK_TCK);
		if (q->ticks_per_s <= 0)
			return -1;
	}
	q->cpu_file = strdup(path);
	return q->cpu_file ? 0 : -1;
}

/* utime + stime of a /proc/PID/stat text, in ticks. The name in parentheses
 * may hold anything, so fields are counted from its closing parenthesis. */
static int parse_proc_stat_ticks(const char *text, uint64_t *ticks)
{
	const char *p = strrchr(text, ')');
	uint64_t ut, st;

	/* After ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime(14) stime(15). */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %" SCNu64 " %" SCNu64,
			 &ut, &st) != 2)
		return -1;
	*ticks = ut + st;
	return 0;
}

static int read_cpu_time(const struct qemu_proc *q, uint64_t *ns)
{
	char text[4096];
	uint64_t v;

	if (read_small(q->cpu_file, text, sizeof(text)) < 0)
		return -1;
	switch (q->clock) {
	case QEMU_PROC_CGROUP2:
		return qemu_proc_parse_cpu_stat(text, ns);
	case QEMU_PROC_CPUACCT:
		if (sscanf(text, "%" SCNu64, &v) != 1)
			return -1;
		*ns = v;
		return 0;
	case QEMU_PROC_PROC_STAT:
		if (parse_proc_stat_ticks(text, &v) < 0)
			return -1;
		*ns = v * (1000000000ull / (uint64_t)q->ticks_per_s);
		return 0;
	}
	return -1;
}

static struct qemu_thread *thread_of(struct qemu_proc *q, pid_t tid)
{
	for (size_t i = 0; i < q->nthreads; i++)
		if (q->threads[i].tid == tid)
			return &q->threads[i];
	return NULL;
}

/* Lists the process's threads again: new ones are named once (vCPU or
 * not), gone ones forgotten. A vCPU hot-plugged or unplugged shows here on
 * the next read. 0, or -1 when the process is gone or out of memory. */
static int refresh_threads(struct qemu_proc *q)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	size_t kept = 0;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%d/task", q->proc_root, (int)q->pid);
	d = opendir(path);
	if (!d)
		return -1;
	for (size_t i = 0; i < q->nthreads; i++)
		q->threads[i].seen = false;
	while (rc == 0 && (de = readdir(d))) {
		char *end, comm[64];
		long tid = strtol(de->d_name, &end, 10);
		struct qemu_thread *t;

		if (*end || tid <= 0)
			continue;
		t = thread_of(q, (pid_t)tid);
		if (!t) {
			if (q->nthreads == q->cap) {
				size_t cap = q->cap ? q->cap * 2 : 16;
				struct qemu_thread *grown =
				    realloc(q->threads, cap * sizeof(*grown));

				if (!grown) {
					rc = -1;
					break;
				}
				q->threads = grown;
				q->cap = cap;
			}
			snprintf(path, sizeof(path), "%s/%d/task/%ld/comm", q->proc_root,
				 (int)q->pid, tid);
			if (read_small(path, comm, sizeof(comm)) < 0)
				continue; /* the thread ended meanwhile */
			t = &q->threads[q->nthreads++];
			t->tid = (pid_t)tid;
			t->vcpu = qemu_proc_vcpu_index(comm);
		}
		t->seen = true;
	}
	closedir(d);
	for (size_t i = 0; i < q->nthreads; i++)
		if (q->threads[i].seen)
			q->threads[kept++] = q->threads[i];
	q->nthreads = kept;
	return rc;
}

int qemu_proc_read(struct qemu_proc *q, struct qemu_proc_cpu *out)
{
	char path[PATH_MAX], text[256];
	uint64_t delay;

	if (refresh_threads(q) < 0 || read_cpu_time(q, &out->cpu_time_ns) < 0)
		return -1;
	out->delay_ns = 0;
	out->vcpus = 0;
	for (size_t i = 0; i < q->nthreads; i++) {
		if (q->threads[i].vcpu < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%d/task/%d/schedstat", q->proc_root, (int)q->pid,
			 (int)q->threads[i].tid);
		if (read_small(path, text, sizeof(text)) < 0 ||
		    qemu_proc_parse_schedstat(text, &delay) < 0)
			return -1;
		out->delay_ns += delay;
		out->vcpus++;
	}
	return out->vcpus ? 0 : -1;
}

struct qemu_proc *qemu_proc_open(const char *proc_root, pid_t pid)
{
	struct qemu_proc *q = calloc(1, sizeof(*q));
	struct qemu_proc_cpu probe;

	if (!q)
		return NULL;
	q->pid = pid;
	q->proc_root = strdup(proc_root);
	if (!q->proc_root || choose_clock(q) < 0 || qemu_proc_read(q, &probe) < 0)
		qemu_proc_destroy(&q);
	return q;
}

pid_t qemu_proc_pid(const struct qemu_proc *q)
{
	return q->pid;
}

enum qemu_proc_clock qemu_proc_source(const struct qemu_proc *q)
{
	return q->clock;
}

void qemu_proc_destroy(struct qemu_proc **qp)
{
	struct qemu_proc *q = qp ? *qp : NULL;

	if (!q)
		return;
	free(q->threads);
	free(q->cpu_file);
	free(q->proc_root);
	free(q);
	*qp = NULL;
}

int qemu_proc_scan(const char *proc_root, const uint8_t (*uuids)[16], size_t n, pid_t *pids)
{
	/* libvirt puts -uuid within QEMU's first few kilobytes of arguments;
	 * a longer command line is read in part, which is enough. */
	enum { CMDLINE_MAX = 16384 };
	char path[PATH_MAX], *cmdline;
	struct dirent *de;
	int found = 0;
	DIR *d;

	for (size_t i = 0; i < n; i++)
		pids[i] = 0;
	d = opendir(proc_root);
	if (!d)
		return -1;
	cmdline = malloc(CMDLINE_MAX);
	if (!cmdline) {
		closedir(d);
		errno = ENOMEM;
		return -1;
	}
	while ((size_t)found < n && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		uint8_t uuid[16];
		ssize_t len;

		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "%s/%ld/cmdline", proc_root, pid);
		len = read_small(path, cmdline, CMDLINE_MAX);
		if (len <= 0 || qemu_proc_cmdline_uuid(cmdline, (size_t)len, uuid) < 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (!pids[i] && memcmp(uuids[i], uuid, 16) == 0) {
				pids[i] = (pid_t)pid;
				found++;
				break;
			}
		}
	}
	free(cmdline);
	closedir(d);
	return found;
}
