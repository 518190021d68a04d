/*
 * agg_bench — the aggregator's whole data path under load, for
 * bench/aggregator/run.sh. Synthetic stats frames of N domains, each with
 * every metric (2 disks, 2 interfaces: 33 files per domain, plus 8 for the
 * host), with distinct uuids and values that change every second.
 *
 *   agg_bench direct DIR DOMAINS ROUNDS RETENTION [sparse]
 *       encodes each round's frame, then decodes it and hands it to the
 *       writer exactly as the daemon does (index transaction + Whisper
 *       points, default file cache bound lifted); prints key=value lines
 *       for the first frame (files created) and the steady rounds.
 *   agg_bench pub ENDPOINT DOMAINS RATE COUNT [BURST]
 *       binds a PUB socket (an aggregator subscribes to it as to a
 *       collector's fan-out) and sends COUNT frames at RATE Hz, or, with
 *       BURST > 0, BURST frames back to back after a one-second pause.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "datadir.h"
#include "index.h"
#include "layout.h"
#include "sm_clock.h"
#include "sm_daemon.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_wire.h"
#include "whisper.h"
#include "writer.h"

#define DISKS 2
#define NICS  2

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_now(void)
{
	return (double)sm_clock_mono_ns() / 1e9;
}

/* Plausible, changing values: the point is the work, not the numbers. */
static double value_of(size_t i, long round, int k)
{
	return (double)((i * 7919 + (size_t)round * 104729 + (size_t)k * 31) % 1000) / 10.0;
}

/* A stats message of n domains; arrays allocated once, refilled per round. */
static int frame_alloc(struct sm_message *m, size_t n)
{
	struct sm_aggregate_domain_stats *a = &m->u.stats;

	memset(m, 0, sizeof(*m));
	a->domains = calloc(n, sizeof(*a->domains));
	if (!a->domains)
		return -1;
	a->ndomains = n;
	for (size_t i = 0; i < n; i++) {
		struct sm_domain_stats *d = &a->domains[i];

		d->disks = calloc(DISKS, sizeof(*d->disks));
		d->nics = calloc(NICS, sizeof(*d->nics));
		if (!d->disks || !d->nics)
			return -1;
	}
	return 0;
}

static void frame_free(struct sm_message *m)
{
	for (size_t i = 0; m->u.stats.domains && i < m->u.stats.ndomains; i++) {
		free(m->u.stats.domains[i].disks);
		free(m->u.stats.domains[i].nics);
	}
	free(m->u.stats.domains);
}

static void frame_fill(struct sm_message *m, const char *host, long round, double time,
		       uint64_t epoch)
{
	struct sm_aggregate_domain_stats *a = &m->u.stats;

	m->hdr = (struct sm_header){.version = SM_WIRE_VERSION,
				    .kind = SM_KIND_STATS,
				    .time = time,
				    .seq = (uint64_t)round + 1,
				    .epoch = epoch};
	snprintf(m->hdr.host, sizeof(m->hdr.host), "%s", host);
	a->interval = 1.0;
	a->host = (struct sm_host_stats){.ncpus = 64,
					 .cpu_pct = value_of(0, round, 1),
					 .load = {12.1, 11.8, 10.2},
					 .mem_total_kib = 263921000,
					 .mem_used_kib = 190000000,
					 .mem_pct = 72.0,
					 .libvirt_ok = true,
					 .libvirt_latency_ms = 4.2};
	for (size_t i = 0; i < a->ndomains; i++) {
		struct sm_domain_stats *d = &a->domains[i];
		struct sm_identity *id = &d->identity;

		memset(d->uuid, 0, 16);
		d->uuid[0] = (uint8_t)(i * 131);
		d->uuid[6] = 0x40;
		d->uuid[8] = 0x80;
		d->uuid[12] = (uint8_t)(i >> 24);
		d->uuid[13] = (uint8_t)(i >> 16);
		d->uuid[14] = (uint8_t)(i >> 8);
		d->uuid[15] = (uint8_t)i;
		snprintf(d->name, sizeof(d->name), "instance-%08zx", i);
		d->state = 1;
		d->flags = SM_DOM_NOVA;
		d->has_identity = true;
		snprintf(id->display_name, sizeof(id->display_name), "web-%zu", i);
		snprintf(id->project_id, sizeof(id->project_id),
			 "6f3e0d4c8a1b4e8e9d7c5b3a1f2e%04zx", i % 97);
		snprintf(id->project_name, sizeof(id->project_name), "tenant-%zu", i % 97);
		snprintf(id->user_id, sizeof(id->user_id), "u%zu", i % 13);
		snprintf(id->user_name, sizeof(id->user_name), "user-%zu", i % 13);
		snprintf(id->flavor, sizeof(id->flavor), "m1.medium");
		d->vcpus = 2;
		d->cpu_time_ns = (uint64_t)round * 1000000000u;
		d->cpu_pct = value_of(i, round, 0);
		d->steal_pct = value_of(i, round, 1) / 10;
		d->load[0] = value_of(i, round, 2) / 50;
		d->load[1] = value_of(i, round, 3) / 50;
		d->load[2] = value_of(i, round, 4) / 50;
		d->mem_basis = SM_MEM_GUEST_USABLE;
		d->mem_total_kib = 4194304;
		d->mem_used_kib = 1048576 + (uint64_t)value_of(i, round, 5) * 1000;
		d->mem_pct = value_of(i, round, 5);
		d->ndisks = DISKS;
		d->nnics = NICS;
		for (int k = 0; k < DISKS; k++) {
			struct sm_disk_stats *s = &d->disks[k];

			snprintf(s->name, sizeof(s->name), "vd%c", 'a' + k);
			s->rd_req = s->wr_req = s->rd_bytes = s->wr_bytes = (uint64_t)round * 100;
			s->errors = 0;
			s->rd_req_ps = value_of(i, round, 10 + k);
			s->rd_bytes_ps = value_of(i, round, 12 + k) * 4096;
			s->wr_req_ps = value_of(i, round, 14 + k);
			s->wr_bytes_ps = value_of(i, round, 16 + k) * 4096;
		}
		for (int k = 0; k < NICS; k++) {
			struct sm_nic_stats *s = &d->nics[k];

			snprintf(s->name, sizeof(s->name), "tap%08zx-%d", i, k);
			s->rx_bytes = s->tx_bytes = (uint64_t)round * 1000;
			s->rx_packets = s->tx_packets = (uint64_t)round * 10;
			s->rx_errors = s->rx_drops = s->tx_errors = s->tx_drops = 0;
			s->rx_bytes_ps = value_of(i, round, 20 + k) * 1000;
			s->rx_packets_ps = value_of(i, round, 22 + k);
			s->tx_bytes_ps = value_of(i, round, 24 + k) * 1000;
			s->tx_packets_ps = value_of(i, round, 26 + k);
		}
	}
}

static void raise_nofile(size_t n)
{
	struct rlimit rl = {(rlim_t)n, (rlim_t)n};

	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int run_direct(int argc, char **argv)
{
	const char *dirpath = argv[2];
	size_t ndom = strtoul(argv[3], NULL, 10);
	long rounds = strtol(argv[4], NULL, 10);
	bool sparse = argc > 6 && strcmp(argv[6], "sparse") == 0;
	/* argv[7]: flush_interval (default 10, as the daemon) */
	size_t files = ndom * (7 + 5 * DISKS + 8 * NICS) + 8;
	struct whisper_retention arch[WHISPER_MAX_ARCHIVES];
	struct whisper_err werr = {0};
	struct sm_message src, dec;
	struct sm_wire_error derr;
	struct writer_counters c0, c1;
	msgpack_sbuffer buf;
	struct datadir *dir;
	struct agg_index *idx;
	struct writer *w;
	char err[512], path[4200];
	size_t narch = 0, max_open;
	double flush = argc > 7 ? atof(argv[7]) : 10;
	/* The first rounds create the files (spread over a flush interval):
	 * measured apart from the steady state. */
	long warm = (long)ceil(flush) + 2;
	double t0, cpu_first = 0, wall_first = 0, cpu = 0, wall = 0, frame_max = 0;
	long steady = 0;

	if (whisper_retention_parse(argv[5], arch, WHISPER_MAX_ARCHIVES, &narch, &werr) != 0) {
		fprintf(stderr, "agg_bench: %s\n", werr.msg);
		return 2;
	}
	raise_nofile(files + 1024);
	{
		/* As the daemon: the cache fits the descriptors there are. */
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < files + 256 + 16)
			max_open = (size_t)rl.rlim_cur - 256;
		else
			max_open = files + 16;
	}
	dir = datadir_open(dirpath, err, sizeof(err));
	if (!dir) {
		fprintf(stderr, "agg_bench: %s\n", err);
		return 1;
	}
	datadir_abs(dir, LAYOUT_INDEX_FILE, path, sizeof(path));
	idx = index_open(path, INDEX_READ_WRITE, NULL);
	if (!idx)
		return 1;
	{
		struct writer_config wc = {.dir = dir,
					   .index = idx,
					   .archives = arch,
					   .narchives = narch,
					   .xff = 0.5,
					   .preallocate = !sparse,
					   .grace_s = 86400,
					   .stale_s = 300,
					   .max_open_files = max_open,
					   .flush_interval = flush};

		w = writer_new(&wc);
	}
	if (!w || frame_alloc(&src, ndom) < 0)
		return 1;
	msgpack_sbuffer_init(&buf);
	/* Consecutive seconds ending now: as frames arriving at 1 Hz, written
	 * back to back. */
	t0 = floor(sm_clock_wall()) - (double)rounds - 1;
	writer_counters(w, &c0);
	for (long r = 0; r < rounds; r++) {
		double c_start, w_start, dt;

		frame_fill(&src, "bench-host", r, t0 + (double)r + 0.25, 42);
		if (sm_wire_encode(&src, &buf) < 0)
			return 1;
		c_start = cpu_now();
		w_start = wall_now();
		if (sm_wire_decode(buf.data, buf.size, 64u << 20, &dec, &derr) < 0) {
			fprintf(stderr, "agg_bench: decode: %s\n", derr.msg);
			return 1;
		}
		writer_frame(w, &dec, sm_clock_wall());
		sm_message_clear(&dec);
		dt = wall_now() - w_start;
		if (r < warm) {
			cpu_first += cpu_now() - c_start;
			wall_first += dt;
			writer_counters(w, &c0);
			if (r + 1 < warm)
				continue;
			printf("phase=first rounds=%ld domains=%zu files_created=%llu max_open=%zu "
			       "frame_bytes=%zu wall_s=%.3f cpu_s=%.3f\n",
			       warm, ndom, (unsigned long long)c0.files_created, max_open, buf.size,
			       wall_first, cpu_first);
			fflush(stdout);
			continue;
		}
		cpu += cpu_now() - c_start;
		wall += dt;
		if (dt > frame_max)
			frame_max = dt;
		steady++;
	}
	{
		/* Points still waiting in memory are part of the work. */
		double c_start = cpu_now(), w_start = wall_now();

		writer_flush(w, sm_clock_wall());
		cpu += cpu_now() - c_start;
		wall += wall_now() - w_start;
	}
	writer_counters(w, &c1);
	{
		/* Points offered by the steady rounds: in the steady state as many
		 * are written (those of the warm-up still waiting at its end are
		 * about as many as those of the last rounds written by the final
		 * flush, whose CPU is counted). */
		double pts = (double)steady * (double)files;

		printf("phase=steady domains=%zu rounds=%ld points=%.0f wall_s=%.3f cpu_s=%.3f "
		       "points_per_s=%.0f points_per_cpu_s=%.0f cpu_s_per_million=%.3f "
		       "frame_ms_mean=%.1f frame_ms_max=%.1f cpu_per_frame_s=%.3f "
		       "dropped=%llu index_failures=%llu\n",
		       ndom, steady, pts, wall, cpu, pts / wall, pts / cpu, cpu / (pts / 1e6),
		       1000 * wall / (double)steady, 1000 * frame_max, cpu / (double)steady,
		       (unsigned long long)(c1.dropped_space + c1.dropped_error + c1.dropped_old),
		       (unsigned long long)c1.index_failures);
		printf("counters points=%llu unknown=%llu ignored=%llu space=%llu old=%llu "
		       "error=%llu created=%llu open=%llu evictions=%llu transient_opens=%llu\n",
		       (unsigned long long)c1.points, (unsigned long long)c1.unknown,
		       (unsigned long long)c1.ignored, (unsigned long long)c1.dropped_space,
		       (unsigned long long)c1.dropped_old, (unsigned long long)c1.dropped_error,
		       (unsigned long long)c1.files_created, (unsigned long long)c1.files_open,
		       (unsigned long long)c1.evictions, (unsigned long long)c1.transient_opens);
	}
	{
		/* Closing pays the propagation still owed: part of the cost. */
		double c_start = cpu_now(), w_start = wall_now();

		writer_destroy(&w);
		printf("phase=close wall_s=%.3f cpu_s=%.3f\n", wall_now() - w_start,
		       cpu_now() - c_start);
	}
	msgpack_sbuffer_destroy(&buf);
	frame_free(&src);
	index_close(&idx);
	datadir_close(&dir);
	return 0;
}

static int run_pub(int argc, char **argv)
{
	const char *endpoint = argv[2];
	size_t ndom = strtoul(argv[3], NULL, 10);
	double rate = atof(argv[4]);
	long count = strtol(argv[5], NULL, 10);
	long burst = argc > 6 ? strtol(argv[6], NULL, 10) : 0;
	uint64_t epoch = (uint64_t)getpid() << 20 | (uint64_t)time(NULL);
	char topic[SM_TOPIC_MAX + 1];
	struct sm_sock_opts opts;
	struct sm_message m;
	struct sm_ticker tick;
	msgpack_sbuffer buf;
	size_t tlen;
	void *ctx = zmq_ctx_new(), *pub;
	long sent = 0;
	int hwm = 1000000;
	double enc_max = 0;

	sm_sock_opts_default(&opts);
	opts.sndhwm = hwm;
	opts.max_msg_size = -1;
	pub = sm_sock_new(ctx, ZMQ_PUB, &opts);
	if (!pub || sm_sock_bind(pub, endpoint) < 0 || frame_alloc(&m, ndom) < 0)
		return 1;
	msgpack_sbuffer_init(&buf);
	tlen = sm_wire_topic(SM_KIND_STATS, "bench-host", topic, sizeof(topic));
	sleep(1); /* let the subscriber connect: PUB drops what nobody takes */
	sm_daemon_install_signals();
	if (burst > 0) {
		/* All encoded first, then sent back to back: the burst is the send. */
		msgpack_sbuffer *frames = calloc((size_t)burst, sizeof(*frames));
		double t = sm_clock_wall(), start;

		for (long i = 0; i < burst; i++) {
			msgpack_sbuffer_init(&frames[i]);
			frame_fill(&m, "bench-host", i, t - (double)(burst - i), epoch);
			sm_wire_encode(&m, &frames[i]);
		}
		start = wall_now();
		for (long i = 0; i < burst; i++) {
			if (sm_sock_send2(pub, topic, tlen, frames[i].data, frames[i].size, 0) == 0)
				sent++;
			msgpack_sbuffer_destroy(&frames[i]);
		}
		printf("burst sent=%ld frames of %zu domains in %.3f s\n", sent, ndom,
		       wall_now() - start);
		free(frames);
	} else {
		sm_ticker_start(&tick, (int64_t)((double)SM_NS_PER_SEC / rate));
		while (sent < count && !sm_daemon_quit_requested()) {
			struct timespec ts;
			int ms = sm_ticker_timeout_ms(&tick);
			double e0;

			if (ms > 0) {
				ts.tv_sec = ms / 1000;
				ts.tv_nsec = (long)(ms % 1000) * 1000000;
				nanosleep(&ts, NULL);
				continue;
			}
			sm_ticker_advance(&tick);
			e0 = wall_now();
			frame_fill(&m, "bench-host", sent, sm_clock_wall(), epoch);
			sm_wire_encode(&m, &buf);
			if (wall_now() - e0 > enc_max)
				enc_max = wall_now() - e0;
			if (sm_sock_send2(pub, topic, tlen, buf.data, buf.size, 0) == 0)
				sent++;
		}
		printf("sent=%ld frames of %zu domains, %zu bytes each, encode max %.0f ms\n", sent,
		       ndom, buf.size, enc_max * 1000);
	}
	fflush(stdout);
	sleep(1); /* linger: let the last frames leave */
	msgpack_sbuffer_destroy(&buf);
	frame_free(&m);
	sm_sock_close(&pub);
	zmq_ctx_term(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	sm_log_open("agg_bench", SM_LOG_WARNING, false);
	if (argc >= 6 && strcmp(argv[1], "direct") == 0)
		return run_direct(argc, argv);
	if (argc >= 6 && strcmp(argv[1], "pub") == 0)
		return run_pub(argc, argv);
	fprintf(stderr, "usage: agg_bench direct DIR DOMAINS ROUNDS RETENTION [sparse|full] "
			"[FLUSH_INTERVAL]\n"
			"       agg_bench pub ENDPOINT DOMAINS RATE COUNT [BURST]\n");
	return 2;
}
