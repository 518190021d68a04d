/*
 * host_tracker — tracker of the node itself (see host_tracker.h). Each file
 * is opened once and read again from its start (pread) on every update:
 * /proc regenerates the text on each read from offset 0, and an open and a
 * close per file per tick were a third of the main thread's system calls.
 * A file that fails to read is closed and opened again on the next update.
 */
#include "host_tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct host_tracker {
	char *proc_root;              /* e.g. "/proc" */
	int fd[3];                    /* stat, loadavg, meminfo: open, or -1 */
	bool have_prev;               /* prev holds a sample */
	long ncpus;                   /* online CPUs, as last asked */
	unsigned ncpus_age;           /* updates since they were asked */
	struct host_cpu_sample prev;  /* last /proc/stat sample */
};

int host_parse_stat(const char *text, struct host_cpu_sample *s)
{
	uint64_t v[10] = {0};
	int n;

	/* user nice system idle iowait irq softirq steal guest guest_nice;
	 * guest time is already included in user, so it is not added again.
	 * The aggregate line is "cpu" and a blank; "cpu0" is the first CPU. */
	if (strncmp(text, "cpu ", 4) != 0)
		return -1;
	n = sscanf(text, "cpu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
			 " %" SCNu64 " %" SCNu64,
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	if (n < 4)
		return -1;
	s->total = 0;
	for (int i = 0; i < 8; i++)
		s->total += v[i];
	s->busy = s->total - v[3] - v[4];
	return 0;
}

/* Value of "Key:   123 kB" in meminfo text; 0 or -1. */
static int meminfo_field(const char *text, const char *key, uint64_t *kib)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':')
			return sscanf(p + klen + 1, "%" SCNu64, kib) == 1 ? 0 : -1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

int host_parse_meminfo(const char *text, uint64_t *total_kib, uint64_t *avail_kib)
{
	if (meminfo_field(text, "MemTotal", total_kib) < 0 ||
	    meminfo_field(text, "MemAvailable", avail_kib) < 0)
		return -1;
	return 0;
}

int host_parse_loadavg(const char *text, double load[3])
{
	if (sscanf(text, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
		return -1;
	for (int i = 0; i < 3; i++)
		if (!isfinite(load[i]) || load[i] < 0)
			return -1;
	return 0;
}

double host_cpu_pct(const struct host_cpu_sample *prev, const struct host_cpu_sample *cur)
{
	uint64_t dt, db;

	if (cur->total <= prev->total || cur->busy < prev->busy)
		return NAN;
	dt = cur->total - prev->total;
	db = cur->busy - prev->busy;
	return db >= dt ? 100.0 : (double)db / (double)dt * 100.0;
}

struct host_tracker *host_tracker_new(const char *proc_root)
{
	struct host_tracker *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->fd[0] = h->fd[1] = h->fd[2] = -1;
	h->proc_root = strdup(proc_root ? proc_root : "/proc");
	if (!h->proc_root) {
		free(h);
		return NULL;
	}
	return h;
}

void host_tracker_destroy(struct host_tracker **h)
{
	if (!h || !*h)
		return;
	for (int i = 0; i < 3; i++)
		if ((*h)->fd[i] >= 0)
			close((*h)->fd[i]);
	free((*h)->proc_root);
	free(*h);
	*h = NULL;
}

enum proc_file { PROC_STAT, PROC_LOADAVG, PROC_MEMINFO };

/* Reads the start of proc_root/<file> into buf (NUL-terminated); 0 or -1.
 * The figures wanted are all near the top of these files. */
static int read_proc(struct host_tracker *h, enum proc_file which, char *buf, size_t size)
{
	static const char *const names[] = {"stat", "loadavg", "meminfo"};
	char path[PATH_MAX];
	ssize_t n;

	if (h->fd[which] < 0) {
		if (snprintf(path, sizeof(path), "%s/%s", h->proc_root, names[which]) >=
		    (int)sizeof(path))
			return -1;
		h->fd[which] = open(path, O_RDONLY | O_CLOEXEC);
		if (h->fd[which] < 0)
			return -1;
	}
	do {
		n = pread(h->fd[which], buf, size - 1, 0);
	} while (n < 0 && errno == EINTR);
	if (n <= 0) {
		close(h->fd[which]);
		h->fd[which] = -1;
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

int host_tracker_update(struct host_tracker *h, struct sm_host_stats *out)
{
	char buf[4096];
	struct host_cpu_sample cur;
	uint64_t total, avail;
	int rc = 0;

	/* glibc reads /sys/devices/system/cpu/online for this: a fifth of the
	 * main thread's CPU at 10 domains when asked every tick. CPUs going on
	 * or off line show within a minute at a 1 s interval. */
	if (h->ncpus_age++ % 60 == 0)
		h->ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	out->ncpus = h->ncpus > 0 ? (uint32_t)h->ncpus : 0;

	out->cpu_pct = NAN;
	if (read_proc(h, PROC_STAT, buf, sizeof(buf)) == 0 && host_parse_stat(buf, &cur) == 0) {
		if (h->have_prev)
			out->cpu_pct = host_cpu_pct(&h->prev, &cur);
		h->prev = cur;
		h->have_prev = true;
	} else {
		rc = -1;
	}

	out->load[0] = out->load[1] = out->load[2] = NAN;
	if (read_proc(h, PROC_LOADAVG, buf, sizeof(buf)) < 0 || host_parse_loadavg(buf, out->load) < 0) {
		out->load[0] = out->load[1] = out->load[2] = NAN;
		rc = -1;
	}

	out->mem_total_kib = out->mem_used_kib = 0;
	out->mem_pct = NAN;
	if (read_proc(h, PROC_MEMINFO, buf, sizeof(buf)) == 0 &&
	    host_parse_meminfo(buf, &total, &avail) == 0 && total > 0) {
		out->mem_total_kib = total;
		out->mem_used_kib = avail >= total ? 0 : total - avail;
		out->mem_pct = (double)out->mem_used_kib / (double)total * 100.0;
	} else {
		rc = -1;
	}
	return rc;
}
