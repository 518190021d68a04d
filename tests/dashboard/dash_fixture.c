/*
 * dash_fixture — builds an aggregator data directory for the dashboard's
 * tests and benchmark without running the pipeline: an index written with
 * the index API (hosts, one of them idle, tenants with hostile names,
 * domains, a stopped one, one without metric files yet, latest values) and
 * Whisper files filled over the last hours and days, with deliberate gaps,
 * a half-written file and a registered but missing one. Writes
 * DATA_DIR/fixture.json describing what it made.
 *
 * Usage: dash_fixture DATA_DIR [--bench N] [--now T]
 *   --bench N  instead of the test tenants: N instances in project "bench",
 *              Whisper files for the first one only (7 days of history)
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "index.h"
#include "sm_uuid.h"
#include "sm_wire.h"
#include "whisper.h"

#define RETENTION "1s:3h,1m:7d,10m:1y"

/* One test instance. */
struct inst {
	const char *uuid;
	const char *project_id; /* NULL: no Nova identity */
	const char *project_name;
	const char *display_name;
	const char *host;
	const char *role; /* how the tests refer to it */
	int history;	  /* seconds of history in its files (0: no files, -1: none registered) */
	double age;	  /* seconds since its latest point */
	uint32_t state;
	const char *odd_dev; /* an extra disk named so, to test escaping in charts */
	double counter_base; /* where its cumulative counters start (errors, drops) */
};

#define HOSTILE "<script>alert(1)</script>"

static const struct inst test_insts[] = {
    /* Its disk has counted errors for years: a y axis of large values. */
    {"a1000000-0000-4000-8000-000000000001", "proj-alpha", "alpha", "web-1", "cn1", "alpha_web1",
     7 * 86400, 1, 1, NULL, 898265610},
    {"a1000000-0000-4000-8000-000000000002", "proj-alpha", "alpha", "web-2", "cn2", "alpha_web2",
     3600, 2, 1, NULL, 0},
    {"a1000000-0000-4000-8000-000000000003", "proj-alpha", "alpha", "db-1", "cn1", "alpha_stale",
     7200, 3600, 1, NULL, 0},
    {"a1000000-0000-4000-8000-000000000004", "proj-alpha", "alpha", "batch-paused", "cn2",
     "alpha_paused", 600, 1, 3, NULL, 0},
    {"b2000000-0000-4000-8000-000000000001", "proj-beta", HOSTILE, HOSTILE, "cn1", "beta_hostile",
     7 * 86400, 1, 1, "<b>x\"'&", 0},
    {"b2000000-0000-4000-8000-000000000002", "proj-beta", HOSTILE, "beta-secret-db", "cn3",
     "beta_secret", 3600, 1, 1, NULL, 0},
    {"c3000000-0000-4000-8000-000000000001", NULL, NULL, "plain-libvirt-domain", "cn3",
     "no_project", 600, 1, 1, NULL, 0},
    /* Just started: in the snapshot, but the aggregator has registered no
     * metric file for it yet. */
    {"d5000000-0000-4000-8000-000000000001", "proj-gamma", "gamma", "gamma-new", "cn3", "gamma_new",
     -1, 1, 1, NULL, 0},
};

/* A compute node that reports but runs no instance and has no metric file. */
static const char empty_host[] = "cn4";

/* A stopped instance of alpha (not in the snapshot, page still readable). */
static const char stopped_uuid[] = "a1000000-0000-4000-8000-0000000000ff";

static const char *const host_metrics[] = {
    "cpu_pct", "load1", "load5", "load15", "mem_pct", "mem_used_kib", "libvirt_latency_ms",
    "domains"};
static const char *const dom_metrics[] = {"cpu_pct", "steal_pct", "load1",	 "load5",
					  "load15",  "mem_pct",	  "mem_used_kib"};
static const char *const disk_sfx[] = {"rd_req_ps", "wr_req_ps", "rd_bytes_ps", "wr_bytes_ps",
				       "errors"};
static const char *const nic_sfx[] = {"rx_bytes_ps",   "tx_bytes_ps", "rx_packets_ps",
				      "tx_packets_ps", "rx_errors",   "rx_drops",
				      "tx_errors",     "tx_drops"};

static int64_t now_s;
static struct whisper_retention archives[8];
static size_t narchives;

static int mkdirs(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* A plausible value of `metric` at time t for instance number k, before
 * the wire. */
static double wave_measured(const char *metric, int64_t t, int k)
{
	unsigned h = 5381;
	double x, base = 1 + k % 5, day, slow, fast;

	/* Each metric its own phase, so that charts of one instance differ. */
	for (const char *p = metric; *p; p++)
		h = h * 33 + (unsigned char)*p;
	x = (double)t + (double)(h % 7200);
	day = sin(x / 86400 * 2 * M_PI);
	slow = sin(x / 1800 + k);
	fast = sin(x / 37 + k);

	if (strstr(metric, "steal"))
		return fmax(0, 2 + 1.5 * slow + fast);
	if (strstr(metric, "pct"))
		return fmax(0, fmin(100, 35 + 10 * base + 20 * day + 12 * slow + 6 * fast));
	if (strstr(metric, "load"))
		return fmax(0, 0.8 * base + 0.5 * day + 0.3 * slow);
	if (strstr(metric, "bytes_ps"))
		return fmax(0, 2e6 * base * (1.2 + day + 0.5 * slow + 0.3 * fast));
	if (strstr(metric, "req_ps") || strstr(metric, "packets_ps"))
		return fmax(0, 120 * base * (1.2 + day + 0.4 * slow + 0.2 * fast));
	if (strstr(metric, "kib"))
		return 1048576 * base * (1.5 + 0.3 * day);
	if (strstr(metric, "latency"))
		return 2 + 1.5 * fabs(fast);
	if (strcmp(metric, "domains") == 0)
		return 3;
	return floor((double)(t - (now_s - 8 * 86400)) / 3600); /* counters */
}

/* The value as the aggregator receives it: rates, percentages and loads
 * travel as float32 (docs/PROTOCOL.md), so what it stores, and what the
 * dashboard prints, is a float's value. */
static double wave(const char *metric, int64_t t, int k)
{
	return (float)wave_measured(metric, t, k);
}

static bool is_counter(const char *metric)
{
	size_t n = strlen(metric);

	return (n >= 6 && strcmp(metric + n - 6, "errors") == 0) ||
	       (n >= 5 && strcmp(metric + n - 5, "drops") == 0);
}

/* True inside the deliberate gaps: 15 min an hour and a half ago, and six
 * hours three days ago. */
static bool in_gap(int64_t t)
{
	int64_t ago = now_s - t;

	return (ago > 5400 && ago <= 6300) || (ago > 3 * 86400 && ago <= 3 * 86400 + 6 * 3600);
}

static int write_file(const char *data_dir, const char *relpath, const char *metric, int k,
		      int history, double age, double counter_base)
{
	char path[4096];
	struct whisper_err err = {0};
	struct whisper *w = NULL;
	struct whisper_point *pts = NULL;
	size_t n = 0, cap = (size_t)history / 60 + 10800 + 16;
	int64_t last = now_s - (int64_t)age;
	double base = is_counter(metric) ? counter_base : 0;
	int ret = -1;

	snprintf(path, sizeof(path), "%s/%s", data_dir, relpath);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdirs(path) < 0) {
		perror(path);
		return -1;
	}
	*slash = '/';
	if (whisper_create(path, archives, narchives, WHISPER_AGG_AVERAGE, 0.5,
			   WHISPER_CREATE_SPARSE | WHISPER_CREATE_NOSYNC, &err) < 0 &&
	    err.code != -EEXIST) {
		fprintf(stderr, "dash_fixture: %s\n", err.msg);
		return -1;
	}
	pts = calloc(cap, sizeof(*pts));
	w = whisper_open(path, 0, &err);
	if (pts == NULL || w == NULL)
		goto out;
	/* Minutes beyond the last 3 hours, then seconds within them. */
	for (int64_t t = now_s - history; t < now_s - 3 * 3600 && t <= last; t += 60)
		if (!in_gap(t) && n < cap)
			pts[n++] = (struct whisper_point){t, base + wave(metric, t, k)};
	for (int64_t t = now_s - (history < 3 * 3600 ? history : 3 * 3600); t <= last; t++)
		if (!in_gap(t) && n < cap)
			pts[n++] = (struct whisper_point){t, base + wave(metric, t, k)};
	if (whisper_update_many(w, pts, n, now_s) < 0)
		goto out;
	ret = 0;
out:
	whisper_close(&w);
	free(pts);
	return ret;
}

static void fill_stats(struct sm_domain_stats *d, const struct inst *in, int k,
		       struct sm_disk_stats *disks, struct sm_nic_stats *nics)
{
	int64_t t = now_s - (int64_t)in->age;

	memset(d, 0, sizeof(*d));
	sm_uuid_parse(in->uuid, d->uuid);
	snprintf(d->name, sizeof(d->name), "instance-%08x", 0x100 + k);
	d->state = in->state;
	d->vcpus = 2;
	if (in->project_id) {
		d->has_identity = true;
		d->flags = SM_DOM_NOVA;
		snprintf(d->identity.display_name, sizeof(d->identity.display_name), "%s",
			 in->display_name);
		snprintf(d->identity.project_id, sizeof(d->identity.project_id), "%s",
			 in->project_id);
		snprintf(d->identity.project_name, sizeof(d->identity.project_name), "%s",
			 in->project_name);
		snprintf(d->identity.user_id, sizeof(d->identity.user_id), "u-%d", k);
		snprintf(d->identity.user_name, sizeof(d->identity.user_name), "user %d", k);
		snprintf(d->identity.flavor, sizeof(d->identity.flavor), "m1.small");
	} else {
		snprintf(d->name, sizeof(d->name), "%s", in->display_name);
	}
	d->cpu_pct = wave("cpu_pct", t, k);
	d->steal_pct = wave("steal_pct", t, k);
	d->load[0] = wave("load1", t, k);
	d->load[1] = wave("load5", t, k);
	d->load[2] = wave("load15", t, k);
	d->mem_basis = SM_MEM_GUEST_USABLE;
	d->mem_total_kib = 4194304;
	d->mem_pct = wave("mem_pct", t, k);
	d->mem_used_kib = (uint64_t)(d->mem_total_kib * d->mem_pct / 100);
	d->ndisks = 1;
	d->disks = disks;
	memset(disks, 0, sizeof(*disks));
	snprintf(disks->name, sizeof(disks->name), "vda");
	disks->rd_req_ps = wave("rd_req_ps", t, k);
	disks->wr_req_ps = wave("wr_req_ps", t, k + 1);
	disks->rd_bytes_ps = wave("rd_bytes_ps", t, k);
	disks->wr_bytes_ps = wave("wr_bytes_ps", t, k + 1);
	d->nnics = 1;
	d->nics = nics;
	memset(nics, 0, sizeof(*nics));
	snprintf(nics->name, sizeof(nics->name), "tap%d", k);
	nics->rx_bytes_ps = wave("rx_bytes_ps", t, k);
	nics->tx_bytes_ps = wave("tx_bytes_ps", t, k + 2);
	nics->rx_packets_ps = wave("rx_packets_ps", t, k);
	nics->tx_packets_ps = wave("tx_packets_ps", t, k + 2);
	if (in->age > 30)
		d->flags |= SM_DOM_STALE;
}

/* Registers (and, with history, writes) every metric file of instance k. */
static int instance_files(struct agg_index *idx, const char *data_dir, const struct inst *in, int k,
			  const char *nic)
{
	char names[64][160], rel[4096];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(dom_metrics) / sizeof(dom_metrics[0]); i++)
		snprintf(names[n++], sizeof(names[0]), "%s", dom_metrics[i]);
	for (size_t i = 0; i < 5; i++)
		snprintf(names[n++], sizeof(names[0]), "disk.vda.%s", disk_sfx[i]);
	for (size_t i = 0; i < 8; i++)
		snprintf(names[n++], sizeof(names[0]), "nic.%s.%s", nic, nic_sfx[i]);
	if (in->odd_dev) {
		snprintf(names[n++], sizeof(names[0]), "disk.%s.rd_bytes_ps", in->odd_dev);
		snprintf(names[n++], sizeof(names[0]), "disk.%s.wr_bytes_ps", in->odd_dev);
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "domains/%.2s/%s/%s.wsp", in->uuid, in->uuid, names[i]);
		if (index_register_metric(idx, in->uuid, NULL, names[i], rel, (double)now_s) < 0)
			return -1;
		if (in->history > 0 && write_file(data_dir, rel, names[i], k, in->history, in->age,
						  in->counter_base) < 0)
			return -1;
	}
	return 0;
}

static int host_files(struct agg_index *idx, const char *data_dir, const char *host, int k)
{
	char rel[512];
	struct sm_host_stats h = {0};

	for (size_t i = 0; i < sizeof(host_metrics) / sizeof(host_metrics[0]); i++) {
		snprintf(rel, sizeof(rel), "hosts/%s/%s.wsp", host, host_metrics[i]);
		if (index_register_metric(idx, NULL, host, host_metrics[i], rel, (double)now_s) <
			0 ||
		    write_file(data_dir, rel, host_metrics[i], k, 86400, 1, 0) < 0)
			return -1;
	}
	h.ncpus = 16;
	h.cpu_pct = wave("cpu_pct", now_s, k);
	h.load[0] = wave("load1", now_s, k) * 4;
	h.load[1] = wave("load5", now_s, k) * 4;
	h.load[2] = wave("load15", now_s, k) * 4;
	h.mem_total_kib = 67108864;
	h.mem_pct = wave("mem_pct", now_s, k);
	h.mem_used_kib = (uint64_t)(h.mem_total_kib * h.mem_pct / 100);
	h.libvirt_ok = k != 2; /* cn3: libvirt down */
	h.libvirt_latency_ms = 2.5;
	return index_put_host_latest(idx, host, &h, 3, (double)now_s - 1) < 0 ? -1 : 0;
}

static int add_instance(struct agg_index *idx, const char *data_dir, const struct inst *in, int k,
			bool files)
{
	struct sm_domain_stats d;
	struct sm_disk_stats disk;
	struct sm_nic_stats nic;
	double t = (double)now_s - in->age;

	fill_stats(&d, in, k, &disk, &nic);
	if (index_upsert_domain(idx, in->host, &d, t) < 0 || index_put_latest(idx, &d, t) < 0)
		return -1;
	return files && in->history >= 0 ? instance_files(idx, data_dir, in, k, nic.name) : 0;
}

int main(int argc, char **argv)
{
	const char *data_dir;
	char path[4096];
	struct agg_index *idx = NULL;
	FILE *js = NULL;
	long bench = 0;
	int ret = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: dash_fixture DATA_DIR [--bench N] [--now T]\n");
		return 2;
	}
	data_dir = argv[1];
	now_s = (int64_t)time(NULL);
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--bench") == 0)
			bench = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--now") == 0)
			now_s = strtoll(argv[i + 1], NULL, 10);
	}
	if (whisper_retention_parse(RETENTION, archives, 8, &narchives, NULL) < 0 ||
	    mkdirs(data_dir) < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/index.sqlite", data_dir);
	idx = index_open(path, INDEX_READ_WRITE, NULL);
	if (idx == NULL)
		return 1;
	if (index_begin(idx) < 0)
		goto out;
	for (int h = 0; h < 3; h++) {
		char host[8];

		snprintf(host, sizeof(host), "cn%d", h + 1);
		if (index_note_frame(idx, host, SM_KIND_STATS, 1, 1, (double)now_s, NULL) < 0)
			goto out;
	}
	if (bench > 0) {
		for (long k = 0; k < bench; k++) {
			char uuid[37], name[64];
			struct inst in = {uuid,
					  "proj-bench",
					  "bench",
					  name,
					  "cn1",
					  "bench",
					  k == 0 ? 7 * 86400 : 0,
					  1 + (double)(k % 3),
					  1,
					  NULL,
					  0};

			snprintf(uuid, sizeof(uuid), "d4000000-0000-4000-8000-%012x", (unsigned)k);
			snprintf(name, sizeof(name), "bench-%04ld", k);
			in.host = k % 2 ? "cn2" : "cn1";
			if (k % 97 == 5)
				in.age = 900; /* a few stale ones */
			if (add_instance(idx, data_dir, &in, (int)k, k == 0) < 0)
				goto out;
		}
	} else {
		for (size_t k = 0; k < sizeof(test_insts) / sizeof(test_insts[0]); k++)
			if (add_instance(idx, data_dir, &test_insts[k], (int)k, true) < 0)
				goto out;
		/* A stopped instance of alpha. */
		struct inst stopped = test_insts[0];
		stopped.uuid = stopped_uuid;
		stopped.display_name = "old-stopped";
		stopped.history = 0;
		stopped.age = 30;
		if (add_instance(idx, data_dir, &stopped, 9, true) < 0 ||
		    index_domain_stopped(idx, stopped_uuid, "cn1", (double)now_s - 20, 3600) < 0)
			goto out;

		struct sm_host_stats idle = {.ncpus = 8,
					     .cpu_pct = 0.5,
					     .mem_total_kib = 33554432,
					     .mem_used_kib = 1048576,
					     .mem_pct = 3.125,
					     .libvirt_ok = true};

		if (index_note_frame(idx, empty_host, SM_KIND_STATS, 1, 1, (double)now_s, NULL) < 0)
			goto out;
		if (index_put_host_latest(idx, empty_host, &idle, 0, (double)now_s - 1) < 0)
			goto out;
	}
	for (int h = 0; h < 3; h++) {
		char host[8];

		snprintf(host, sizeof(host), "cn%d", h + 1);
		if (host_files(idx, data_dir, host, h) < 0)
			goto out;
	}
	{
		/* cn1's frame loss: 2 of 120 frames lost in the last hour (one
		 * minute with loss), and a worse minute two hours ago that the
		 * node page's last hour leaves out; cn2 lost nothing. */
		int64_t m = now_s / 60 * 60;
		const struct index_loss_minute loss[] = {
		    {.host = "cn1", .minute = m - 7200, .received = 20, .lost = 40},
		    {.host = "cn1", .minute = m - 120, .received = 58, .lost = 2},
		    {.host = "cn1", .minute = m - 60, .received = 60, .lost = 0},
		    {.host = "cn2", .minute = m - 60, .received = 60, .lost = 0},
		};

		if (index_add_loss_minutes(idx, loss, sizeof(loss) / sizeof(loss[0]),
					   (double)now_s) < 0)
			goto out;
	}
	if (index_commit(idx) < 0)
		goto out;
	if (bench == 0) {
		/* A half-written file (cut in the middle of its data) and a
		 * registered one that was never created: both are gaps. */
		snprintf(path, sizeof(path), "%s/domains/a1/%s/mem_used_kib.wsp", data_dir,
			 test_insts[1].uuid);
		if (truncate(path, 4096) < 0)
			goto out;
		snprintf(path, sizeof(path), "%s/domains/a1/%s/steal_pct.wsp", data_dir,
			 test_insts[1].uuid);
		if (unlink(path) < 0)
			goto out;
	}
	index_checkpoint(idx, NULL, NULL);

	snprintf(path, sizeof(path), "%s/fixture.json", data_dir);
	js = fopen(path, "w");
	if (js == NULL)
		goto out;
	fprintf(js, "{\"now\": %lld, \"stopped\": \"%s\", \"instances\": {", (long long)now_s,
		stopped_uuid);
	for (size_t k = 0; bench == 0 && k < sizeof(test_insts) / sizeof(test_insts[0]); k++)
		fprintf(js, "%s\"%s\": \"%s\"", k ? ", " : "", test_insts[k].role,
			test_insts[k].uuid);
	fputs("}}\n", js);
	ret = 0;
out:
	if (js)
		fclose(js);
	if (ret)
		fprintf(stderr, "dash_fixture: failed (%s)\n",
			index_error_name(index_last_error(idx)));
	index_close(&idx);
	return ret;
}
