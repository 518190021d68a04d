/*
 * Tests of the aggregator's data path (writer): decoded frames in, real
 * Whisper files and a real sqlite index out, in a temp dir. Covers the
 * documented paths and names, values read back, unknown values as gaps,
 * hostile names, write-behind and the bounded cache, the domain lifecycle
 * (stopped, stale, purged), late and stale reports, a corrupt file moved
 * aside, and a disk that refuses writes (EFBIG through RLIMIT_FSIZE);
 * what a frame may not make: a known domain's project changed without a
 * "started" event, new hosts, domains and files past the limits (0 = none,
 * and limits too big to add up), a refill per minute, a restart that keeps
 * all of it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "datadir.h"
#include "index.h"
#include "index_schema.h"
#include "layout.h"
#include "sm_clock.h"
#include "writer.h"
#include "sm_uuid.h"

#define RETENTION "1s:10m,1m:1h"

struct fixture {
	char dir[64];
	char data[96];
	char capture[128];
	int saved_stderr;
	struct datadir *dd;
	struct agg_index *idx;
	struct writer *w;
	struct whisper_retention arch[4];
	size_t narch;
	struct writer_config cfg;
	double t0; /* a whole second, 60 s in the past */
	/* the frame being built */
	unsigned first;	     /* uuid number of its domain 0 */
	const char *project; /* project id of its domains ("p1" if NULL) */
	struct sm_domain_stats doms[4];
	struct sm_disk_stats disks[4][2];
	struct sm_nic_stats nics[4];
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void writer_start(struct fixture *fx)
{
	char path[256];

	if (!fx->dd) {
		char err[256];

		fx->dd = datadir_open(fx->data, err, sizeof(err));
		assert_non_null(fx->dd);
	}
	if (!fx->idx) {
		snprintf(path, sizeof(path), "%s/" LAYOUT_INDEX_FILE, fx->data);
		fx->idx = index_open(path, INDEX_READ_WRITE, NULL);
		assert_non_null(fx->idx);
	}
	fx->cfg.dir = fx->dd;
	fx->cfg.index = fx->idx;
	fx->w = writer_new(&fx->cfg);
	assert_non_null(fx->w);
}

static void writer_stop(struct fixture *fx)
{
	writer_destroy(&fx->w);
	index_close(&fx->idx);
	datadir_close(&fx->dd);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sm-test-writer-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->data, sizeof(fx->data), "%s/data", fx->dir);
	snprintf(fx->capture, sizeof(fx->capture), "%s/stderr.txt", fx->dir);
	fx->saved_stderr = -1;
	if (whisper_retention_parse(RETENTION, fx->arch, 4, &fx->narch, NULL) != 0)
		return -1;
	fx->cfg = (struct writer_config){.archives = fx->arch,
					 .narchives = fx->narch,
					 .xff = 0.5,
					 .preallocate = true,
					 .grace_s = 100,
					 .stale_s = 300,
					 .max_open_files = 1000,
					 .flush_interval = 0};
	fx->t0 = floor(sm_clock_wall()) - 60;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx->saved_stderr >= 0) {
		dup2(fx->saved_stderr, STDERR_FILENO);
		close(fx->saved_stderr);
	}
	writer_stop(fx);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void capture_start(struct fixture *fx)
{
	int fd = open(fx->capture, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	fflush(stderr);
	fx->saved_stderr = dup(STDERR_FILENO);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

/* Restores stderr; returns what was logged (caller frees), echoed. */
static char *capture_stop(struct fixture *fx)
{
	char *buf = calloc(1, 1 << 16);
	FILE *f;

	fflush(stderr);
	dup2(fx->saved_stderr, STDERR_FILENO);
	close(fx->saved_stderr);
	fx->saved_stderr = -1;
	f = fopen(fx->capture, "r");
	if (f && buf)
		buf[fread(buf, 1, (1 << 16) - 1, f)] = '\0';
	if (f)
		fclose(f);
	fputs(buf ? buf : "", stderr);
	return buf;
}

static int count_substr(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* ---- frames ------------------------------------------------------------ */

static void uuid_of(unsigned i, uint8_t uuid[16])
{
	memset(uuid, 0, 16);
	uuid[0] = 0xa9;
	uuid[1] = 0xe7;
	uuid[6] = 0x40;
	uuid[8] = 0x80;
	uuid[15] = (uint8_t)i;
}

static void uuid_text(unsigned i, char out[37])
{
	uint8_t u[16];

	uuid_of(i, u);
	sm_uuid_format(u, out);
}

/* Domain i of a frame: cpu = 10 * (i + 1) + k, steal unknown, disks "vda"
 * (or `disk0` when given) and "vdb", one nic "tap0". */
static void fill_domain(struct fixture *fx, unsigned i, double k, const char *disk0)
{
	struct sm_domain_stats *d = &fx->doms[i];

	memset(d, 0, sizeof(*d));
	uuid_of(fx->first + i, d->uuid);
	snprintf(d->name, sizeof(d->name), "instance-%u", i);
	d->state = 1;
	d->has_identity = true;
	snprintf(d->identity.display_name, sizeof(d->identity.display_name), "vm-%u", i);
	snprintf(d->identity.project_id, sizeof(d->identity.project_id), "%s",
		 fx->project ? fx->project : "p1");
	snprintf(d->identity.project_name, sizeof(d->identity.project_name), "one");
	d->vcpus = 1;
	d->cpu_pct = 10.0 * (i + 1) + k;
	d->steal_pct = NAN;
	d->load[0] = 1, d->load[1] = 2, d->load[2] = 3;
	d->mem_basis = SM_MEM_HOST_RSS;
	d->mem_total_kib = 2048;
	d->mem_used_kib = 512;
	d->mem_pct = 25;
	for (int j = 0; j < 2; j++) {
		struct sm_disk_stats *s = &fx->disks[i][j];

		memset(s, 0, sizeof(*s));
		snprintf(s->name, sizeof(s->name), "%s",
			 j == 0 && disk0 ? disk0
			 : j		 ? "vdb"
					 : "vda");
		s->errors = 3;
		s->rd_req_ps = 1, s->rd_bytes_ps = 2, s->wr_req_ps = 3, s->wr_bytes_ps = 4;
	}
	memset(&fx->nics[i], 0, sizeof(fx->nics[i]));
	snprintf(fx->nics[i].name, sizeof(fx->nics[i].name), "tap0");
	fx->nics[i].rx_bytes_ps = 5, fx->nics[i].rx_packets_ps = 6;
	fx->nics[i].tx_bytes_ps = 7, fx->nics[i].tx_packets_ps = 8;
	d->ndisks = 2;
	d->disks = fx->disks[i];
	d->nnics = 1;
	d->nics = &fx->nics[i];
}

/* A stats frame of domains 0..n-1 from `host` at t0 + dt, seq dt + 1,
 * received at `now`. */
static void frame_at(struct fixture *fx, const char *host, unsigned n, double dt, const char *disk0,
		     double now)
{
	struct sm_message m;

	memset(&m, 0, sizeof(m));
	m.hdr = (struct sm_header){.version = SM_WIRE_VERSION,
				   .kind = SM_KIND_STATS,
				   .time = fx->t0 + dt + 0.25,
				   .seq = (uint64_t)dt + 1,
				   .epoch = 9};
	snprintf(m.hdr.host, sizeof(m.hdr.host), "%s", host);
	m.u.stats.interval = 1;
	m.u.stats.host = (struct sm_host_stats){.ncpus = 4,
						.cpu_pct = 50,
						.load = {1, 1, 1},
						.mem_total_kib = 100,
						.mem_used_kib = 40,
						.mem_pct = 40,
						.libvirt_ok = true,
						.libvirt_latency_ms = 3 + dt};
	for (unsigned i = 0; i < n; i++)
		fill_domain(fx, i, dt, disk0);
	m.u.stats.ndomains = n;
	m.u.stats.domains = fx->doms;
	writer_frame(fx->w, &m, now);
}

/* The same, received now. */
static void frame(struct fixture *fx, const char *host, unsigned n, double dt, const char *disk0)
{
	frame_at(fx, host, n, dt, disk0, sm_clock_wall());
}

static void event(struct fixture *fx, enum sm_event_type type, unsigned i, double dt, uint64_t seq)
{
	struct sm_message m;

	memset(&m, 0, sizeof(m));
	m.hdr = (struct sm_header){.version = SM_WIRE_VERSION,
				   .kind = SM_KIND_EVENT,
				   .time = fx->t0 + dt + 0.5,
				   .seq = seq,
				   .epoch = 9};
	snprintf(m.hdr.host, sizeof(m.hdr.host), "cn1");
	m.u.event.type = type;
	uuid_of(i, m.u.event.uuid);
	snprintf(m.u.event.reason, sizeof(m.u.event.reason),
		 type == SM_EVENT_STOPPED ? "destroyed" : "booted");
	writer_frame(fx->w, &m, sm_clock_wall());
}

static void stop_event(struct fixture *fx, unsigned i, double dt, uint64_t seq)
{
	event(fx, SM_EVENT_STOPPED, i, dt, seq);
}

/* ---- reading back ------------------------------------------------------ */

static bool exists(struct fixture *fx, const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", fx->data, rel);
	return stat(path, &st) == 0;
}

static void domain_file(struct fixture *fx, unsigned i, const char *metric, char *out, size_t len)
{
	char u[37];

	uuid_text(i, u);
	snprintf(out, len, "domains/%.2s/%s/%s.wsp", u, u, metric);
}

/* The value at t0 + dt of a file (NAN if none), read with a fresh handle. */
static double value_at(struct fixture *fx, const char *rel, double dt, int *method)
{
	char path[512];
	struct whisper_series *s = NULL;
	struct whisper *w;
	int64_t ts = (int64_t)(fx->t0 + dt);
	double v = NAN;

	snprintf(path, sizeof(path), "%s/%s", fx->data, rel);
	w = whisper_open(path, WHISPER_OPEN_RDONLY, NULL);
	if (!w)
		return NAN;
	if (method)
		*method = whisper_info(w)->aggregation;
	assert_int_equal(whisper_fetch_step(w, ts - 1, ts, (int64_t)sm_clock_wall(), 1, &s), 0);
	for (size_t i = 0; s && i < s->count; i++)
		if (s->from + (int64_t)i * s->step == ts)
			v = s->values[i];
	whisper_series_destroy(&s);
	whisper_close(&w);
	return v;
}

static int count_entries(struct fixture *fx, const char *rel)
{
	char path[512];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", fx->data, rel);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int64_t sql_int(struct fixture *fx, const char *sql)
{
	sqlite3 *db = index_sqlite(fx->idx);
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static struct writer_counters counters(struct fixture *fx)
{
	struct writer_counters c;

	writer_counters(fx->w, &c);
	return c;
}

/* ---- tests ------------------------------------------------------------- */

static void writer_writes_every_metric_at_the_documented_paths(void **state)
{
	struct fixture *fx = *state;
	char rel[256];
	int method = 0;

	writer_start(fx);
	frame(fx, "cn1", 2, 0, NULL);
	frame(fx, "cn1", 2, 1, NULL);

	/* Domain 1's own metrics, devices and the host's, with their methods. */
	domain_file(fx, 1, "cpu_pct", rel, sizeof(rel));
	assert_true(value_at(fx, rel, 0, &method) == 20.0);
	assert_int_equal(method, WHISPER_AGG_AVERAGE);
	assert_true(value_at(fx, rel, 1, NULL) == 21.0);
	domain_file(fx, 1, "mem_used_kib", rel, sizeof(rel));
	assert_true(value_at(fx, rel, 1, NULL) == 512.0);
	domain_file(fx, 1, "disk.vdb.wr_bytes_ps", rel, sizeof(rel));
	assert_true(value_at(fx, rel, 1, NULL) == 4.0);
	domain_file(fx, 1, "disk.vda.errors", rel, sizeof(rel));
	assert_true(value_at(fx, rel, 1, &method) == 3.0);
	assert_int_equal(method, WHISPER_AGG_LAST);
	domain_file(fx, 1, "nic.tap0.tx_packets_ps", rel, sizeof(rel));
	assert_true(value_at(fx, rel, 1, NULL) == 8.0);
	domain_file(fx, 1, "nic.tap0.rx_drops", rel, sizeof(rel));
	assert_true(value_at(fx, rel, 1, &method) == 0.0);
	assert_int_equal(method, WHISPER_AGG_LAST);
	assert_true(value_at(fx, "hosts/cn1/libvirt_latency_ms.wsp", 1, &method) == 4.0);
	assert_int_equal(method, WHISPER_AGG_MAX);
	assert_true(value_at(fx, "hosts/cn1/domains.wsp", 1, &method) == 2.0);
	assert_int_equal(method, WHISPER_AGG_LAST);
	/* Unknown all along (steal): no file, a gap. */
	domain_file(fx, 1, "steal_pct", rel, sizeof(rel));
	assert_false(exists(fx, rel));

	/* 6 own + 2 x 5 disk + 8 nic = 24 per domain, 8 for the host; all in the index. */
	assert_int_equal(count_entries(fx, "hosts/cn1"), 8);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM metrics"), 2 * 24 + 8);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM metrics WHERE host = 'cn1'"), 8);
	assert_int_equal(
	    sql_int(fx, "SELECT count(*) FROM metrics WHERE path ="
			" 'domains/a9/a9e70000-0000-4000-8000-000000000001/disk.vda.errors.wsp'"
			" AND name = 'disk.vda.errors'"),
	    1);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM latest"), 2);
	assert_int_equal(sql_int(fx, "SELECT domains FROM host_latest WHERE host = 'cn1'"), 2);
	assert_int_equal(counters(fx).points, 2 * (2 * 24 + 8));
	assert_int_equal(counters(fx).unknown, 2 * 2); /* steal, twice per domain */
}

static void writer_keeps_hostile_names_inside_the_data_dir(void **state)
{
	struct fixture *fx = *state;
	char rel[256], big[SM_DEV_MAX + 1];

	writer_start(fx);
	frame(fx, "cn1", 1, 0, "../../etc");
	domain_file(fx, 0, "disk.______etc.rd_req_ps", rel, sizeof(rel));
	assert_true(value_at(fx, rel, 0, NULL) == 1.0);
	assert_false(exists(fx, "etc"));
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM metrics WHERE path LIKE '%..%'"), 0);

	/* A 63-byte name of dots: one component of underscores. */
	memset(big, '.', SM_DEV_MAX);
	big[SM_DEV_MAX] = '\0';
	frame(fx, "cn1", 1, 1, big);
	{
		char q[256];

		snprintf(q, sizeof(q),
			 "SELECT count(*) FROM metrics WHERE name = 'disk.%.63s.errors'",
			 "_______________________________________________________________");
		assert_int_equal(sql_int(fx, q), 1);
	}

	/* Host "..": valid on the wire, never a directory. Its domain's files
	 * are written (they are keyed by uuid); the host's are not. */
	frame(fx, "..", 1, 2, NULL);
	assert_false(exists(fx, "cpu_pct.wsp"));
	assert_false(exists(fx, "hosts/cpu_pct.wsp"));
	assert_int_equal(count_entries(fx, "hosts"), 1); /* cn1 only */
	assert_true(counters(fx).dropped_error >= 8);
	frame(fx, ".hidden", 1, 3, NULL);
	assert_int_equal(count_entries(fx, "hosts"), 1);
}

static void writer_write_behind_waits_then_writes_everything(void **state)
{
	struct fixture *fx = *state;
	char rel[256];

	/* So long that no entity's phase falls due within the test: only
	 * writer_flush and shutdown write. */
	fx->cfg.flush_interval = 1e6;
	writer_start(fx);
	frame(fx, "cn1", 2, 0, NULL);
	frame(fx, "cn1", 2, 1, NULL);
	frame(fx, "cn1", 2, 2, NULL);
	domain_file(fx, 0, "cpu_pct", rel, sizeof(rel));
	assert_int_equal(counters(fx).points, 0);
	assert_true(isnan(value_at(fx, rel, 1, NULL)));
	/* The index has the domains and their latest values at once. */
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM latest WHERE cpu_pct IS NOT NULL"), 2);

	writer_flush(fx->w, sm_clock_wall());
	assert_int_equal(counters(fx).points, 3 * (2 * 24 + 8));
	for (int dt = 0; dt < 3; dt++)
		assert_true(value_at(fx, rel, dt, NULL) == 10.0 + dt);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM metrics"), 2 * 24 + 8);

	/* Waiting points are written at shutdown too. */
	frame(fx, "cn1", 2, 3, NULL);
	writer_stop(fx);
	assert_true(value_at(fx, rel, 3, NULL) == 13.0);
}

static void writer_beyond_the_cache_writes_through_short_lived_handles(void **state)
{
	struct fixture *fx = *state;
	char rel[256];

	fx->cfg.max_open_files = 5;
	fx->cfg.flush_interval = 2;
	writer_start(fx);
	for (int dt = 0; dt < 6; dt++)
		frame(fx, "cn1", 3, dt, NULL);
	writer_flush(fx->w, sm_clock_wall());
	assert_true(counters(fx).files_open <= 5);
	assert_true(counters(fx).transient_opens > 0);
	assert_int_equal(counters(fx).points, 6 * (3 * 24 + 8));
	assert_int_equal(counters(fx).dropped_error + counters(fx).dropped_space, 0);
	for (int i = 0; i < 3; i++) {
		domain_file(fx, (unsigned)i, "nic.tap0.rx_bytes_ps", rel, sizeof(rel));
		for (int dt = 0; dt < 6; dt++)
			assert_true(value_at(fx, rel, dt, NULL) == 5.0);
		domain_file(fx, (unsigned)i, "cpu_pct", rel, sizeof(rel));
		assert_true(value_at(fx, rel, 5, NULL) == 10.0 * (i + 1) + 5);
	}
}

static void writer_purges_a_stopped_domain_after_its_grace(void **state)
{
	struct fixture *fx = *state;
	char u0[37], u1[37], dir0[128], dir1[128], q[512];

	fx->cfg.grace_s = 100;
	writer_start(fx);
	frame(fx, "cn1", 2, 0, NULL);
	uuid_text(0, u0);
	uuid_text(1, u1);
	snprintf(dir0, sizeof(dir0), "domains/a9/%s", u0);
	snprintf(dir1, sizeof(dir1), "domains/a9/%s", u1);
	stop_event(fx, 1, 1, 1);
	assert_int_equal(counters(fx).domains_stopped, 1);
	snprintf(q, sizeof(q),
		 "SELECT count(*) FROM domains WHERE uuid = '%s'"
		 " AND stopped_at IS NOT NULL",
		 u1);
	assert_int_equal(sql_int(fx, q), 1);
	/* Within the grace: files kept, nothing purged. */
	assert_int_equal(writer_housekeeping(fx->w, fx->t0 + 50), 0);
	assert_true(exists(fx, dir1));
	/* After it: files, directory and index rows gone; the other domain stays. */
	assert_int_equal(writer_housekeeping(fx->w, fx->t0 + 102), 1);
	assert_false(exists(fx, dir1));
	assert_true(exists(fx, dir0));
	snprintf(q, sizeof(q),
		 "SELECT (SELECT count(*) FROM domains WHERE uuid = '%s') +"
		 " (SELECT count(*) FROM metrics WHERE uuid = '%s') +"
		 " (SELECT count(*) FROM latest WHERE uuid = '%s')",
		 u1, u1, u1);
	assert_int_equal(sql_int(fx, q), 0);
	assert_int_equal(counters(fx).domains_purged, 1);
	assert_int_equal(counters(fx).domains, 1);
	/* Nothing more to do about it. */
	assert_int_equal(writer_housekeeping(fx->w, fx->t0 + 200), 0);

	/* Grace 0: the last domain goes at once, and its two-hex directory with it. */
	writer_set_policy(fx->w, 0, 300, 1000, 0);
	stop_event(fx, 0, 2, 2);
	assert_false(exists(fx, dir0));
	assert_false(exists(fx, "domains/a9"));
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM domains"), 0);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM tenants"), 0);
}

static void writer_stops_and_purges_a_silent_domain(void **state)
{
	struct fixture *fx = *state;

	fx->cfg.grace_s = 5;
	fx->cfg.stale_s = 20;
	writer_start(fx);
	frame(fx, "cn1", 1, 0, NULL);
	/* Silent for more than stale_after: marked stopped, purged after grace. */
	assert_int_equal(writer_housekeeping(fx->w, fx->t0 + 30), 0);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM domains WHERE stopped_at IS NOT NULL"),
			 1);
	assert_int_equal(writer_housekeeping(fx->w, fx->t0 + 36), 1);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM domains"), 0);
	assert_int_equal(count_entries(fx, "domains"), 0);
}

static void writer_skips_late_stale_and_future_reports(void **state)
{
	struct fixture *fx = *state;
	struct sm_message m;
	char rel[256];
	uint64_t ignored;

	writer_start(fx);
	frame(fx, "cn1", 1, 10, NULL);
	frame(fx, "cn1", 1, 5, NULL); /* late: the index ignores it, no point */
	domain_file(fx, 0, "cpu_pct", rel, sizeof(rel));
	assert_true(value_at(fx, rel, 10, NULL) == 20.0);
	assert_true(isnan(value_at(fx, rel, 5, NULL)));
	ignored = counters(fx).ignored;
	assert_int_equal(ignored, 25); /* every metric of the report: 7 + 2 x 5 + 8 */

	/* Stale: the values are the last known ones, not a measurement. */
	fx->doms[0].flags = SM_DOM_STALE;
	memset(&m, 0, sizeof(m));
	m.hdr = (struct sm_header){
	    .version = 1, .kind = SM_KIND_STATS, .time = fx->t0 + 11.25, .seq = 12, .epoch = 9};
	snprintf(m.hdr.host, sizeof(m.hdr.host), "cn1");
	m.u.stats.ndomains = 1;
	m.u.stats.domains = fx->doms;
	m.u.stats.host.libvirt_latency_ms = NAN;
	m.u.stats.host.cpu_pct = m.u.stats.host.mem_pct = NAN;
	m.u.stats.host.load[0] = m.u.stats.host.load[1] = m.u.stats.host.load[2] = NAN;
	writer_frame(fx->w, &m, sm_clock_wall());
	assert_true(isnan(value_at(fx, rel, 11, NULL)));
	assert_int_equal(sql_int(fx, "SELECT stale FROM latest"), 1);

	/* An hour ahead of our clock: written at the time it was received,
	 * logged once, counted; the true report after it is not "late". */
	m.hdr.time = fx->t0 + 40 + 3600;
	m.hdr.seq = 13;
	fx->doms[0].flags = 0;
	capture_start(fx);
	writer_frame(fx->w, &m, fx->t0 + 40);
	m.hdr.time = fx->t0 + 41 + 3600;
	m.hdr.seq = 14;
	writer_frame(fx->w, &m, fx->t0 + 41);
	{
		char *log = capture_stop(fx);

		assert_int_equal(count_substr(log, "ahead of this host's clock"), 1);
		free(log);
	}
	assert_int_equal(counters(fx).frames_future, 2);
	assert_true(value_at(fx, rel, 40, NULL) == 15.0); /* doms[0] as the late frame left it */
	assert_true(isnan(value_at(fx, rel, 40 + 3600, NULL)));
	ignored = counters(fx).ignored;
	frame(fx, "cn1", 1, 42, NULL);
	assert_int_equal(counters(fx).ignored, ignored);
	assert_true(value_at(fx, rel, 42, NULL) == 52.0);
}

/* Writes `len` bytes of garbage at `off` of a data file. */
static void spoil(struct fixture *fx, const char *rel, off_t off, off_t truncate_to)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fx->data, rel);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	if (truncate_to >= 0)
		assert_int_equal(ftruncate(fd, truncate_to), 0);
	else
		assert_int_equal(pwrite(fd, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, off), 8);
	close(fd);
}

static void writer_moves_a_corrupt_file_aside_and_replaces_it(void **state)
{
	struct fixture *fx = *state;
	char cpu[256], mem[256];
	char *log;

	writer_start(fx);
	frame(fx, "cn1", 1, 0, NULL);
	writer_stop(fx);
	domain_file(fx, 0, "cpu_pct", cpu, sizeof(cpu));
	domain_file(fx, 0, "mem_pct", mem, sizeof(mem));
	spoil(fx, cpu, 0, 1000); /* wrong size */
	spoil(fx, mem, 0, -1);	 /* garbage header */

	writer_start(fx);
	capture_start(fx);
	frame(fx, "cn1", 1, 1, NULL);
	frame(fx, "cn1", 1, 2, NULL);
	log = capture_stop(fx);
	/* Each logged once with its path and the reason, moved into quarantine/. */
	assert_int_equal(count_substr(log, "moved aside"), 2);
	assert_non_null(strstr(log, cpu));
	assert_non_null(strstr(log, mem));
	free(log);
	assert_int_equal(count_entries(fx, "quarantine"), 2);
	assert_int_equal(counters(fx).files_quarantined, 2);
	/* Fresh files took their place and hold the new points. */
	assert_true(value_at(fx, cpu, 1, NULL) == 11.0);
	assert_true(value_at(fx, mem, 2, NULL) == 25.0);
	assert_true(isnan(value_at(fx, cpu, 0, NULL))); /* the old history is aside */
}

static void writer_full_disk_logs_once_counts_and_resumes(void **state)
{
	struct fixture *fx = *state;
	struct rlimit saved, small;
	char rel[256];
	char *log;

	/* A file size limit below the preallocated size: creates fail with
	 * EFBIG, as on a full disk. SIGXFSZ would end the process. */
	signal(SIGXFSZ, SIG_IGN);
	writer_start(fx);
	frame(fx, "cn1", 1, 0, NULL); /* files of domain 0 and the host exist */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = 4096;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	capture_start(fx);
	frame(fx, "cn1", 2, 1, NULL); /* domain 1 is new: its files cannot be made */
	frame(fx, "cn1", 2, 2, NULL);
	frame(fx, "cn1", 2, 3, NULL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	frame(fx, "cn1", 2, 4, NULL);
	frame(fx, "cn1", 2, 5, NULL);
	log = capture_stop(fx);
	assert_int_equal(count_substr(log, "cannot create"), 1);
	{
		char again[256];

		snprintf(again, sizeof(again), "data %s: writing works again", fx->data);
		assert_int_equal(count_substr(log, again), 1);
	}
	free(log);
	/* Counted; the existing files kept being written meanwhile. */
	assert_true(counters(fx).dropped_space >= 3);
	domain_file(fx, 0, "cpu_pct", rel, sizeof(rel));
	assert_true(value_at(fx, rel, 2, NULL) == 12.0);
	domain_file(fx, 1, "cpu_pct", rel, sizeof(rel));
	assert_true(isnan(value_at(fx, rel, 2, NULL)));
	assert_true(value_at(fx, rel, 4, NULL) == 24.0);
	signal(SIGXFSZ, SIG_DFL);
}

/* ---- what a frame may not make ----------------------------------------- */

static int64_t domains_of(struct fixture *fx, const char *host)
{
	char q[128];

	snprintf(q, sizeof(q), "SELECT count(*) FROM domains WHERE host = '%s'", host);
	return sql_int(fx, q);
}

static void writer_refuses_a_project_change_without_a_started_event(void **state)
{
	struct fixture *fx = *state;
	char rel[256], *log;

	writer_start(fx);
	frame(fx, "cn1", 1, 0, NULL); /* domain 0 in p1 */
	fx->project = "p2";
	capture_start(fx);
	frame(fx, "cn1", 1, 1, NULL);
	frame(fx, "cn1", 1, 2, NULL);
	log = capture_stop(fx);
	/* One line naming host, uuid and both projects; both reports counted. */
	assert_int_equal(count_substr(log,
				      "host cn1 reported domain a9e70000-0000-4000-8000-"
				      "000000000000 in project 'p2' but it is in project 'p1'"),
			 1);
	free(log);
	assert_int_equal(counters(fx).project_refused, 2);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM domains WHERE project_id = 'p1'"), 1);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM tenants WHERE project_id = 'p2'"), 0);
	domain_file(fx, 0, "cpu_pct", rel, sizeof(rel));
	assert_true(isnan(value_at(fx, rel, 1, NULL))); /* nothing of the forged report */
	/* The true report goes on being written. */
	fx->project = NULL;
	frame(fx, "cn1", 1, 3, NULL);
	assert_true(value_at(fx, rel, 3, NULL) == 13.0);

	/* A restart does not launder it: the project comes from the index. */
	writer_stop(fx);
	writer_start(fx);
	fx->project = "p2";
	frame(fx, "cn1", 1, 4, NULL);
	assert_int_equal(counters(fx).project_refused, 1);
	/* ... another host's "started" does not allow it either ... */
	event(fx, SM_EVENT_STARTED, 0, 5, 100);
	frame(fx, "cn2", 1, 5, NULL);
	assert_int_equal(counters(fx).project_refused, 2);
	/* ... its own host's does, for the next report. */
	event(fx, SM_EVENT_STARTED, 0, 6, 101);
	frame(fx, "cn1", 1, 7, NULL);
	assert_int_equal(counters(fx).project_refused, 2);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM domains WHERE project_id = 'p2'"), 1);
	/* and only for that one: back to p1 needs another event. */
	fx->project = NULL;
	frame(fx, "cn1", 1, 8, NULL);
	assert_int_equal(counters(fx).project_refused, 3);
}

static void writer_lets_a_domain_without_project_gain_one_from_its_host(void **state)
{
	struct fixture *fx = *state;

	writer_start(fx);
	fx->project = ""; /* Nova metadata not there yet */
	frame(fx, "cn1", 1, 0, NULL);
	/* Another host cannot claim it for a tenant ... */
	fx->project = "p2";
	frame(fx, "cn2", 1, 1, NULL);
	assert_int_equal(counters(fx).project_refused, 1);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM tenants WHERE project_id = 'p2'"), 0);
	/* ... its own host gives it its first project ... */
	fx->project = "p1";
	frame(fx, "cn1", 1, 2, NULL);
	assert_int_equal(counters(fx).project_refused, 1);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM domains WHERE project_id = 'p1'"), 1);
	/* ... and from then on it is a change like any other. */
	fx->project = "p2";
	frame(fx, "cn1", 1, 3, NULL);
	fx->project = "";
	frame(fx, "cn1", 1, 4, NULL);
	assert_int_equal(counters(fx).project_refused, 3);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM domains WHERE project_id = 'p1'"), 1);
}

static void writer_allows_a_project_change_when_configured(void **state)
{
	struct fixture *fx = *state;

	fx->cfg.allow_project_change = true;
	writer_start(fx);
	frame(fx, "cn1", 1, 0, NULL);
	fx->project = "p2";
	frame(fx, "cn1", 1, 1, NULL);
	assert_int_equal(counters(fx).project_refused, 0);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM domains WHERE project_id = 'p2'"), 1);
}

static void writer_limits_domains_per_host_and_names_it_once(void **state)
{
	struct fixture *fx = *state;
	char rel[256], *log;

	fx->cfg.limits.max_domains_per_host = 2;
	writer_start(fx);
	capture_start(fx);
	for (int k = 0; k < 5; k++)
		frame(fx, "cn1", 4, k, NULL);
	log = capture_stop(fx);
	assert_int_equal(count_substr(log, "host cn1:"), 1);
	assert_non_null(strstr(log, "max_domains_per_host = 2"));
	free(log);
	/* Two admitted and written every frame; two refused every frame,
	 * leaving no row, no file and no memory. */
	assert_int_equal(domains_of(fx, "cn1"), 2);
	assert_int_equal(counters(fx).domains_refused, 10);
	assert_int_equal(counters(fx).domains, 2);
	assert_int_equal(counters(fx).dropped_limit, 10 * 25);
	assert_int_equal(count_entries(fx, "domains/a9"), 2);
	domain_file(fx, 1, "cpu_pct", rel, sizeof(rel));
	assert_true(value_at(fx, rel, 4, NULL) == 24.0);
	/* Another host has its own allowance. */
	fx->first = 10;
	frame(fx, "cn2", 2, 5, NULL);
	assert_int_equal(domains_of(fx, "cn2"), 2);
	/* Nor can moves pile domains onto a full host: cn2 claiming cn1's
	 * domain 0 is refused (each was admitted elsewhere, so the sum of all
	 * hosts' limits would not hold). */
	fx->first = 0;
	frame(fx, "cn2", 1, 6, NULL);
	assert_int_equal(domains_of(fx, "cn2"), 2);
	assert_int_equal(domains_of(fx, "cn1"), 2);
	assert_int_equal(counters(fx).domains_refused, 11);
	/* A purge gives room back. */
	fx->first = 0;
	writer_set_policy(fx->w, 0, 300, 1000, 0);
	stop_event(fx, 0, 6, 50);
	fx->first = 1;
	frame(fx, "cn1", 2, 7, NULL); /* domains 1 and 2: 2 fits now */
	assert_int_equal(domains_of(fx, "cn1"), 2);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM domains WHERE uuid LIKE '%02'"), 1);
}

static void writer_limits_new_domains_per_minute(void **state)
{
	struct fixture *fx = *state;
	double now = fx->t0 + 60;

	fx->cfg.limits.max_new_domains_per_min = 2;
	writer_start(fx);
	frame_at(fx, "cn1", 4, 0, NULL, now);
	assert_int_equal(domains_of(fx, "cn1"), 2);
	frame_at(fx, "cn1", 4, 1, NULL, now + 1); /* 1/30 of a domain later: none */
	assert_int_equal(domains_of(fx, "cn1"), 2);
	frame_at(fx, "cn1", 4, 2, NULL, now + 31); /* half a minute: one more */
	assert_int_equal(domains_of(fx, "cn1"), 3);
	frame_at(fx, "cn1", 4, 3, NULL, now + 3600); /* an hour: the bucket holds 2, 1 left */
	assert_int_equal(domains_of(fx, "cn1"), 4);
	assert_int_equal(counters(fx).domains_refused, 2 + 2 + 1);
	/* A clock going back mints nothing: the one left, then none. */
	fx->first = 4;
	frame_at(fx, "cn1", 2, 4, NULL, now - 3600);
	frame_at(fx, "cn1", 2, 5, NULL, now + 3600);
	assert_int_equal(domains_of(fx, "cn1"), 5);
	assert_int_equal(counters(fx).domains_refused, 5 + 1 + 1);
}

static void writer_limits_hosts(void **state)
{
	struct fixture *fx = *state;
	char *log;

	fx->cfg.limits.max_hosts = 1;
	writer_start(fx);
	frame(fx, "cn1", 1, 0, NULL);
	fx->first = 10;
	capture_start(fx);
	frame(fx, "cn2", 1, 1, NULL);
	frame(fx, "cn2", 1, 2, NULL);
	log = capture_stop(fx);
	assert_int_equal(count_substr(log, "host cn2 is new and 1 hosts are known (max_hosts = 1)"),
			 1);
	free(log);
	assert_int_equal(counters(fx).hosts_refused, 2);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM hosts"), 1);
	assert_false(exists(fx, "hosts/cn2"));
	/* The known host is unaffected; a restart remembers who is known. */
	fx->first = 0;
	frame(fx, "cn1", 1, 3, NULL);
	writer_stop(fx);
	writer_start(fx);
	fx->first = 10;
	frame(fx, "cn2", 1, 4, NULL);
	assert_int_equal(counters(fx).hosts_refused, 1);
}

static void writer_budget_of_files_and_bytes(void **state)
{
	struct fixture *fx = *state;
	uint64_t size = whisper_file_size(fx->arch, fx->narch);
	uint64_t files;
	char *log;

	/* Room for the host's 8 files and a part of one domain's 24. */
	fx->cfg.limits.max_data_files = 8 + 10;
	writer_start(fx);
	capture_start(fx);
	frame(fx, "cn1", 1, 0, NULL);
	frame(fx, "cn1", 1, 1, NULL);
	log = capture_stop(fx);
	assert_int_equal(count_substr(log, "host cn1:"), 1);
	assert_non_null(strstr(log, "budget"));
	free(log);
	files = counters(fx).data_files;
	assert_int_equal(files, 18);
	assert_int_equal(counters(fx).files_created, 18);
	assert_true(counters(fx).files_refused >= 14);
	assert_int_equal(counters(fx).data_bytes, 18 * size);
	/* A new domain is refused before it costs a row. */
	fx->first = 1;
	frame(fx, "cn1", 1, 2, NULL);
	assert_int_equal(counters(fx).domains_refused, 1);
	assert_int_equal(sql_int(fx, "SELECT count(*) FROM domains"), 1);
	/* The budget is seeded from the disk at start. */
	writer_stop(fx);
	fx->cfg.limits.max_data_files = 0;
	fx->cfg.limits.max_data_bytes = 20 * size;
	writer_start(fx);
	assert_int_equal(counters(fx).data_files, 18);
	assert_int_equal(counters(fx).data_bytes, 18 * size);
	fx->first = 0;
	frame(fx, "cn1", 1, 3, NULL);
	assert_int_equal(counters(fx).data_files, 20);
	assert_int_equal(counters(fx).files_created, 2);
}

static void writer_limits_of_zero_and_huge_change_nothing(void **state)
{
	struct fixture *fx = *state;

	/* 0 everywhere: no limit. */
	writer_start(fx);
	frame(fx, "cn1", 4, 0, NULL);
	assert_int_equal(domains_of(fx, "cn1"), 4);
	writer_stop(fx);
	/* The largest values: no overflow turns them into a refusal. */
	fx->cfg.limits =
	    (struct writer_limits){UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};
	fx->cfg.future_tolerance_s = 1e300;
	writer_start(fx);
	fx->first = 10;
	frame(fx, "cn2", 4, 1, NULL);
	assert_int_equal(domains_of(fx, "cn2"), 4);
	assert_int_equal(counters(fx).domains_refused + counters(fx).files_refused, 0);
	/* Limits below what exists keep what exists (set while running). */
	writer_set_limits(fx->w, &(struct writer_limits){.max_domains_per_host = 1, .max_hosts = 1},
			  5, false);
	fx->first = 0;
	frame(fx, "cn1", 4, 2, NULL);
	assert_int_equal(counters(fx).domains_refused, 0);
	assert_int_equal(counters(fx).hosts_refused, 0);
	fx->first = 20;
	frame(fx, "cn1", 1, 3, NULL);
	assert_int_equal(counters(fx).domains_refused, 1);
	/* A tolerance of 1e300 s clamps nothing. */
	assert_int_equal(counters(fx).frames_future, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(writer_writes_every_metric_at_the_documented_paths,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(writer_keeps_hostile_names_inside_the_data_dir, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(writer_write_behind_waits_then_writes_everything, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		writer_beyond_the_cache_writes_through_short_lived_handles, setup, teardown),
	    cmocka_unit_test_setup_teardown(writer_purges_a_stopped_domain_after_its_grace, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(writer_stops_and_purges_a_silent_domain, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(writer_skips_late_stale_and_future_reports, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(writer_moves_a_corrupt_file_aside_and_replaces_it,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(writer_full_disk_logs_once_counts_and_resumes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(writer_refuses_a_project_change_without_a_started_event,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(writer_lets_a_domain_without_project_gain_one_from_its_host,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(writer_allows_a_project_change_when_configured, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(writer_limits_domains_per_host_and_names_it_once, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(writer_limits_new_domains_per_minute, setup, teardown),
	    cmocka_unit_test_setup_teardown(writer_limits_hosts, setup, teardown),
	    cmocka_unit_test_setup_teardown(writer_budget_of_files_and_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(writer_limits_of_zero_and_huge_change_nothing, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
