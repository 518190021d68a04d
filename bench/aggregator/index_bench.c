/*
 * index_bench — speed of the aggregator index's hot path: one transaction
 * per frame (note_frame + one upsert per domain), as the aggregator does.
 * Prints one line per phase: upserts per second (wall), CPU seconds per
 * million upserts, mean and worst frame time, and bytes written per frame.
 * Run by bench/aggregator/index_bench.sh; never a test (no timing asserts).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "index.h"
#include "sm_log.h"
#include "sm_uuid.h"

static double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bytes this process has handed to write(2)/pwrite(2) so far (wchar). */
static uint64_t written_bytes(void)
{
	char line[128];
	uint64_t v = 0;
	FILE *f = fopen("/proc/self/io", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "wchar: %" SCNu64, &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

static void mkdom(struct sm_domain_stats *d, uint32_t i)
{
	memset(d, 0, sizeof(*d));
	for (int b = 0; b < 12; b++)
		d->uuid[b] = (uint8_t)(0x40 + b);
	d->uuid[12] = (uint8_t)(i >> 24);
	d->uuid[13] = (uint8_t)(i >> 16);
	d->uuid[14] = (uint8_t)(i >> 8);
	d->uuid[15] = (uint8_t)i;
	snprintf(d->name, sizeof(d->name), "instance-%08x", i);
	d->state = 1;
	d->has_identity = true;
	snprintf(d->identity.display_name, sizeof(d->identity.display_name), "web-%u.example", i);
	snprintf(d->identity.project_id, sizeof(d->identity.project_id), "%032x",
		 i % 200); /* 200 tenants, Keystone-like 32-hex ids */
	snprintf(d->identity.project_name, sizeof(d->identity.project_name), "project-%u", i % 200);
	snprintf(d->identity.user_id, sizeof(d->identity.user_id), "%032x", 1000 + i % 500);
	snprintf(d->identity.user_name, sizeof(d->identity.user_name), "user-%u", i % 500);
	snprintf(d->identity.flavor, sizeof(d->identity.flavor), "m1.small");
}

/* The checkpointer the aggregator may run: its own handle, in its own
 * thread, a PASSIVE checkpoint every 500 ms. */
struct checkpointer {
	pthread_t thread;
	const char *path;
	atomic_bool stop;
	unsigned runs;
	int failures;
};

static void *checkpointer_main(void *arg)
{
	struct checkpointer *c = arg;
	struct agg_index *idx = index_open(c->path, INDEX_READ_WRITE, NULL);
	const struct timespec pause = {0, 500 * 1000 * 1000};

	if (idx == NULL) {
		c->failures++;
		return NULL;
	}
	while (!atomic_load(&c->stop)) {
		if (index_checkpoint(idx, NULL, NULL) < 0)
			c->failures++;
		c->runs++;
		nanosleep(&pause, NULL);
	}
	index_close(&idx);
	return NULL;
}

struct phase {
	const char *name;
	double touch;	    /* touch interval; < 0 keeps the default */
	unsigned churn_pct; /* % of domains whose state flips each frame */
};

/*
 * Runs `frames` frames over `ndomains` domains split into frames of
 * `per_frame` domains (one host each), frame time advancing 1 s per round.
 */
static int run_phase(struct agg_index *idx, const struct phase *ph, struct sm_domain_stats *doms,
		     uint32_t ndomains, uint32_t per_frame, unsigned rounds, double *t,
		     uint64_t *seq)
{
	double wall0 = now_s(CLOCK_MONOTONIC), cpu0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	double worst = 0, wall, cpu;
	uint64_t w0 = written_bytes(), upserts = 0, txns = 0, counts[INDEX_IGNORED + 1] = {0};
	char host[32];

	if (ph->touch >= 0)
		index_set_touch_interval(idx, ph->touch);
	for (unsigned r = 0; r < rounds; r++) {
		*t += 1.0;
		for (uint32_t start = 0; start < ndomains; start += per_frame) {
			double f0 = now_s(CLOCK_MONOTONIC), f;
			uint32_t end = start + per_frame < ndomains ? start + per_frame : ndomains;

			snprintf(host, sizeof(host), "cn%05u", start / per_frame);
			if (index_begin(idx) < 0 ||
			    index_note_frame(idx, host, SM_KIND_STATS, 42, ++seq[start / per_frame],
					     *t, NULL) < 0)
				return -1;
			for (uint32_t i = start; i < end; i++) {
				int rc;

				if (ph->churn_pct && (i * 2654435761u + r) % 100 < ph->churn_pct)
					doms[i].state = doms[i].state == 1 ? 3 : 1;
				rc = index_upsert_domain(idx, host, &doms[i], *t);
				if (rc < 0)
					return -1;
				counts[rc]++;
				upserts++;
			}
			if (index_commit(idx) < 0)
				return -1;
			txns++;
			f = now_s(CLOCK_MONOTONIC) - f0;
			if (f > worst)
				worst = f;
		}
	}
	wall = now_s(CLOCK_MONOTONIC) - wall0;
	cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	printf("%-28s %6u dom/txn %9.0f upserts/s %7.2f cpu-s/M  txn mean %7.2f ms max %7.2f ms"
	       "  %8.1f KiB written/txn  (new %" PRIu64 " changed %" PRIu64 " touched %" PRIu64
	       " unchanged %" PRIu64 ")\n",
	       ph->name, per_frame, (double)upserts / wall, cpu / ((double)upserts / 1e6),
	       wall / (double)txns * 1e3, worst * 1e3,
	       (double)(written_bytes() - w0) / (double)txns / 1024.0, counts[INDEX_NEW],
	       counts[INDEX_CHANGED], counts[INDEX_TOUCHED], counts[INDEX_UNCHANGED]);
	fflush(stdout);
	return 0;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--dir DIR] [--domains N] [--per-frame M] [--rounds R] [--metrics K]\n"
		"          [--checkpoint-thread]\n"
		"  N domains in frames of M (one host per frame), R rounds per phase;\n"
		"  K metric files registered per domain at the end; checkpoints in a\n"
		"  thread of their own instead of inside commits.\n",
		argv0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"domains", required_argument, NULL, 'n'},
	    {"per-frame", required_argument, NULL, 'm'},
	    {"rounds", required_argument, NULL, 'r'},
	    {"metrics", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {"checkpoint-thread", no_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	const struct phase phases[] = {
	    {"first frame (all new)", -1, 0},
	    {"steady, touch 10 s", 10, 0},
	    {"steady, touch every frame", 0, 0},
	    {"steady, 1% change state", 10, 1},
	};
	const char *dir = "/tmp";
	uint32_t ndomains = 1000, per_frame = 0;
	unsigned rounds = 20, metrics = 0;
	struct sm_domain_stats *doms = NULL;
	struct agg_index *idx = NULL;
	uint64_t *seq = NULL;
	char path[512];
	double t = 1.7e9, t0;
	struct checkpointer ckpt = {.path = path};
	bool ckpt_thread = false, ckpt_running = false;
	struct stat sb;
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "d:n:m:r:k:hc", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			ndomains = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			per_frame = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rounds = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			metrics = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			ckpt_thread = true;
			break;
		default:
			usage(argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (ndomains == 0 || rounds == 0) {
		usage(argv[0]);
		return 2;
	}
	if (per_frame == 0 || per_frame > ndomains)
		per_frame = ndomains;
	sm_log_open("index_bench", SM_LOG_WARNING, false);
	snprintf(path, sizeof(path), "%s/index-bench-%d.db", dir, (int)getpid());
	doms = calloc(ndomains, sizeof(*doms));
	seq = calloc(ndomains / per_frame + 1, sizeof(*seq));
	if (doms == NULL || seq == NULL)
		goto out;
	for (uint32_t i = 0; i < ndomains; i++)
		mkdom(&doms[i], i);
	idx = index_open(path, INDEX_READ_WRITE, NULL);
	if (idx == NULL)
		goto out;
	if (ckpt_thread) {
		index_set_auto_checkpoint(idx, false);
		if (pthread_create(&ckpt.thread, NULL, checkpointer_main, &ckpt) != 0)
			goto out;
		ckpt_running = true;
	}
	printf("# %u domains, %u per frame-transaction, checkpoints %s\n", ndomains, per_frame,
	       ckpt_thread ? "in a thread of their own" : "inside commits (sqlite's default)");
	for (size_t p = 0; p < sizeof(phases) / sizeof(phases[0]); p++)
		if (run_phase(idx, &phases[p], doms, ndomains, per_frame, p == 0 ? 1 : rounds, &t,
			      seq) < 0)
			goto out;

	if (metrics) {
		char uuid[37], rel[128], name[32];

		t0 = now_s(CLOCK_MONOTONIC);
		for (uint32_t i = 0; i < ndomains; i++) {
			if (index_begin(idx) < 0)
				goto out;
			sm_uuid_format(doms[i].uuid, uuid);
			for (unsigned k = 0; k < metrics; k++) {
				snprintf(name, sizeof(name), "metric_%u", k);
				snprintf(rel, sizeof(rel), "domains/%.2s/%s/%s.wsp", uuid, uuid,
					 name);
				if (index_register_metric(idx, uuid, NULL, name, rel, t) < 0)
					goto out;
			}
			if (index_commit(idx) < 0)
				goto out;
		}
		printf("%-28s %6u files/domain %9.0f registrations/s\n", "register metric files",
		       metrics, (double)ndomains * metrics / (now_s(CLOCK_MONOTONIC) - t0));
	}
	if (ckpt_running) {
		atomic_store(&ckpt.stop, true);
		pthread_join(ckpt.thread, NULL);
		ckpt_running = false;
		printf("%-28s %u runs, %d failures\n", "checkpoint thread", ckpt.runs,
		       ckpt.failures);
	}
	index_close(&idx);
	t0 = now_s(CLOCK_MONOTONIC);
	idx = index_open(path, INDEX_READ_WRITE, NULL); /* includes quick_check */
	if (idx == NULL)
		goto out;
	printf("%-28s %.1f ms (open + migrate check + quick_check)", "reopen",
	       (now_s(CLOCK_MONOTONIC) - t0) * 1e3);
	if (stat(path, &sb) == 0)
		printf(", file %.1f MiB\n", (double)sb.st_size / (1 << 20));
	else
		printf("\n");
	ret = 0;
out:
	if (ckpt_running) {
		atomic_store(&ckpt.stop, true);
		pthread_join(ckpt.thread, NULL);
	}
	if (ret)
		fprintf(stderr, "index_bench: failed (see the log above)\n");
	index_close(&idx);
	unlink(path);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "-wal");
	unlink(path);
	path[strlen(path) - 4] = '\0';
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "-shm");
	unlink(path);
	free(doms);
	free(seq);
	return ret;
}
