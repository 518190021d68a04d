/*
 * stackmon-aggregator — subscribes to collectors' fan-out and keeps every
 * metric of every domain and host in Whisper files, with an sqlite index of
 * hosts, tenants, domains and files (DESIGN.md; paper §3.2 "Data
 * Aggregation"; docs/AGGREGATOR.md). Reads top to bottom: options and
 * config → checks (-n) → data directory, file limit, index, socket → loop
 * (drain frames, housekeeping, summary) → orderly shutdown. The parts:
 * writer (data path), layout and metric_map (names), fcache (open files),
 * datadir (the directory), index and whisper (storage).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "datadir.h"
#include "index.h"
#include "layout.h"
#include "sm_cli.h"
#include "sm_clock.h"
#include "sm_config.h"
#include "sm_brief.h"
#include "sm_daemon.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_sockwatch.h"
#include "sm_wire.h"
#include "whisper.h"
#include "writer.h"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

#define DRAIN_BUDGET	 4096 /* messages per loop turn before timers are looked at */
#define DRAIN_MAX_MS	 500  /* ... or this long */
#define HOUSEKEEPING_MS	 1000 /* stale sweep and purges */
#define CHECKPOINT_MS	 1000 /* index WAL checkpoints, in a thread of their own */
#define FD_RESERVE	 256  /* descriptors beyond the file cache: index, sockets, logs */
#define DEFAULT_DATA_DIR "/var/lib/stackmon"

static const struct sm_config_key aggregator_keys[] = {
    {"subscribe", SM_CFG_LIST, 0, 0, "tcp://127.0.0.1:5556",
     "collector fan-out endpoint to subscribe to (repeatable: one SUB socket connects to all)"},
    SM_SOCK_HOST_PREFIX_KEY,
    {"data_dir", SM_CFG_STRING, 0, 0, DEFAULT_DATA_DIR,
     "directory of the Whisper files and the index (index.sqlite, domains/, hosts/,"
     " quarantine/)"},
    {"retention", SM_CFG_STRING, 0, 0, "1s:3h,1m:7d,10m:1y",
     "archives of new files, PRECISION:DURATION finest first (existing files keep theirs)"},
    {"xff", SM_CFG_DOUBLE, 0, 1, "0.5",
     "xFilesFactor of new files: share of known points a coarse point needs"},
    {"preallocate", SM_CFG_BOOL, 0, 0, "yes",
     "reserve each new file's blocks at create (a full disk then fails creates, never writes)"},
    {"grace", SM_CFG_DOUBLE, 0, 315360000, "86400",
     "seconds a stopped domain's files are kept before they are deleted; 0 = at once"},
    {"stale_after", SM_CFG_DOUBLE, 3, 31536000, "300",
     "seconds without a report after which a domain counts as stopped (its host died or"
     " the event was lost)"},
    {"max_open_files", SM_CFG_INT, 16, 4000000, "4096",
     "Whisper files kept open (least recently written closed first); RLIMIT_NOFILE is raised"
     " to fit"},
    {"flush_interval", SM_CFG_DOUBLE, 0, 300, "10",
     "seconds a point may wait in memory to be written with the other points of its file"
     " (one update_many per file per interval; 0: every point at once)"},
    {"max_frame", SM_CFG_INT, 1024, 1073741824, "8388608",
     "largest frame body accepted, bytes; bigger ones are dropped and counted"},
    {"summary_interval", SM_CFG_DOUBLE, 1, 86400, "60",
     "seconds between two summary lines (info level: -v)"},
    {"future_tolerance", SM_CFG_DOUBLE, 0, 3600, "5",
     "seconds a frame may be timed ahead of its receive time; later ones are written at the"
     " receive time (counted: frames_future)"},
    {"allow_project_change", SM_CFG_BOOL, 0, 0, "no",
     "believe a known domain reported in another project without a \"started\" event from"
     " its host (no: such reports are refused and counted)"},
    {"max_hosts", SM_CFG_INT, 0, 1e9, "10000",
     "hosts known in all; frames of further new hosts are refused (0 = no limit)"},
    {"max_domains_per_host", SM_CFG_INT, 0, 1e9, "1024",
     "domains known on one host; its further new domains are refused (0 = no limit)"},
    {"max_new_domains_per_min", SM_CFG_INT, 0, 1e9, "120",
     "new domains one host may start per minute (a bucket of this size refilled over a"
     " minute; 0 = no limit)"},
    {"max_data_files", SM_CFG_INT, 0, 1e12, "4000000",
     "Whisper files in the data directory; past it no file is created (0 = no limit)"},
    {"max_data_bytes", SM_CFG_INT, 0, 1e18, "0",
     "bytes of Whisper files in the data directory (new files counted at full size); past it"
     " no file is created (0 = no limit)"},
};

#define NAGG_KEYS (sizeof(aggregator_keys) / sizeof(aggregator_keys[0]))

/* Descriptors for the file cache plus a reserve. Raises the soft limit,
 * and the hard one when allowed (root); returns how many files the cache
 * may then keep open (possibly fewer than asked, logged). */
static size_t fd_limit_fit(size_t max_open)
{
	long want = (long)max_open + FD_RESERVE;
	long limit = sm_daemon_raise_fd_limit(want);

	if (limit >= 0 && limit < want) {
		size_t fit = limit > 2 * FD_RESERVE ? (size_t)(limit - FD_RESERVE) : 16;

		sm_log_warnx("RLIMIT_NOFILE is %llu: keeping at most %zu files open instead of %zu",
			     (unsigned long long)limit, fit, max_open);
		return fit;
	}
	return max_open;
}

/* ---- index ------------------------------------------------------------- */

/* Opens the index; one that sqlite finds damaged is moved aside into
 * quarantine/ (with its -wal and -shm) and a new one started: the files
 * are the history, the index is rebuilt as they are written again. */
static struct agg_index *index_start(struct datadir *dir)
{
	static const char *const parts[] = {LAYOUT_INDEX_FILE, LAYOUT_INDEX_FILE "-wal",
					    LAYOUT_INDEX_FILE "-shm"};
	char path[4096 + sizeof(LAYOUT_INDEX_FILE)];
	enum index_error err = INDEX_OK;
	struct agg_index *idx;

	if (datadir_abs(dir, LAYOUT_INDEX_FILE, path, sizeof(path)) < 0)
		return NULL;
	idx = index_open(path, INDEX_READ_WRITE, &err);
	if (idx || err != INDEX_E_CORRUPT)
		return idx;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (access(path, F_OK) == 0 || i > 0)
			datadir_quarantine(dir, parts[i], "damaged sqlite index", NULL, 0);
	return index_open(path, INDEX_READ_WRITE, &err);
}

/* WAL checkpoints off the frame path: sqlite would otherwise run them inside
 * the commit that crosses 1,000 pages, stalling that frame (docs/INDEX.md). */
struct checkpointer {
	pthread_t thread;
	struct agg_index *idx; /* the thread's own READ_WRITE handle */
	atomic_bool stop;
	bool running;
};

static void *checkpoint_main(void *arg)
{
	struct checkpointer *c = arg;
	int64_t next = sm_clock_mono_ns();

	while (!atomic_load(&c->stop)) {
		struct timespec ts = {0, 50 * 1000 * 1000};

		if (sm_clock_mono_ns() >= next) {
			index_checkpoint(c->idx, NULL, NULL);
			next = sm_clock_mono_ns() + (int64_t)CHECKPOINT_MS * 1000000;
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void checkpointer_start(struct checkpointer *c, struct datadir *dir, struct agg_index *idx)
{
	char path[4096 + sizeof(LAYOUT_INDEX_FILE)];

	*c = (struct checkpointer){0};
	if (datadir_abs(dir, LAYOUT_INDEX_FILE, path, sizeof(path)) < 0)
		return;
	c->idx = index_open(path, INDEX_READ_WRITE, NULL);
	if (!c->idx)
		return; /* sqlite's own checkpoints stay on */
	atomic_init(&c->stop, false);
	if (pthread_create(&c->thread, NULL, checkpoint_main, c) != 0) {
		index_close(&c->idx);
		return;
	}
	c->running = true;
	index_set_auto_checkpoint(idx, false);
}

static void checkpointer_stop(struct checkpointer *c)
{
	if (c->running) {
		atomic_store(&c->stop, true);
		pthread_join(c->thread, NULL);
		index_checkpoint(c->idx, NULL, NULL);
	}
	index_close(&c->idx);
	c->running = false;
}

/* ---- frames ------------------------------------------------------------ */

struct daemon {
	struct writer *writer;
	size_t max_frame;
	struct sm_sockwatch *watch;	   /* the subscription's (main's): heartbeats' limits */
	uint64_t bad;			   /* frames refused by the decoder */
	struct sm_complaint bad_complaint; /* ... logged with rate limiting */
	struct sm_brief *brief;		   /* each monitor's full records, for its brief ones */
	uint64_t brief_waiting;		   /* brief records whose full record was not seen yet */
	uint64_t brief_refused;		   /* brief records contradicting it, or past the limits */
	struct sm_complaint brief_complaint; /* ... the latter logged with rate limiting */
	uint64_t brief_waiting_said, brief_refused_said; /* ... at the last summary */
};

/* Who sent a frame, for the log: the topic's host, else its printable start. */
static void sender_of(const struct sm_frames *f, char *buf, size_t len)
{
	const char *t = zmq_msg_data((zmq_msg_t *)&f->topic);
	size_t n = zmq_msg_size((zmq_msg_t *)&f->topic), k = 0;
	char host[SM_HOST_MAX + 1];
	enum sm_msg_kind kind;

	if (sm_wire_topic_parse(t, n, &kind, host, NULL) == 0) {
		snprintf(buf, len, "%s", host);
		return;
	}
	for (size_t i = 0; i < n && k + 1 < len && i < 40; i++)
		buf[k++] = (t[i] >= 0x20 && t[i] < 0x7f) ? t[i] : '?';
	buf[k] = '\0';
	if (k == 0)
		snprintf(buf, len, "(empty topic)");
}

static void handle(struct daemon *d, struct sm_frames *f)
{
	struct sm_wire_error err = {0};
	struct sm_message m;
	char sender[SM_HOST_MAX + 1];

	if (f->parts != 2) {
		d->bad++;
		sender_of(f, sender, sizeof(sender));
		sm_complain(&d->bad_complaint, SM_LOG_WARNING,
			    "dropped a message of %d frames from %s (expected topic and body)",
			    f->parts, sender);
		return;
	}
	if (sm_wire_decode_frames(zmq_msg_data(&f->topic), zmq_msg_size(&f->topic),
				  zmq_msg_data(&f->body), zmq_msg_size(&f->body), d->max_frame, &m,
				  &err) < 0) {
		d->bad++;
		sender_of(f, sender, sizeof(sender));
		sm_complain(&d->bad_complaint, SM_LOG_WARNING,
			    "dropped a bad frame from %s: %s (%s)", sender,
			    sm_wire_code_name(err.code), err.msg);
		return;
	}
	if (m.hdr.kind == SM_KIND_HEARTBEAT) { /* only for the collector's max_frame */
		sm_sockwatch_note_heartbeat(d->watch, &m, d->max_frame);
		sm_message_clear(&m);
		return;
	}
	if (m.hdr.kind == SM_KIND_STATS) {
		struct sm_brief_result br;

		if (sm_brief_expand(d->brief, &m, &br) < 0)
			sm_complain(&d->brief_complaint, SM_LOG_ERR,
				    "out of memory expanding a frame of %s: its brief records are"
				    " left out until their next full records",
				    m.hdr.host);
		/* A late start or a lost frame: normal, and over by the monitor's
		 * next full record of each domain (its full_interval). */
		d->brief_waiting += br.no_base;
		d->brief_refused += br.mismatch + br.no_room;
		if (br.mismatch + br.no_room > 0)
			sm_complain(&d->brief_complaint, SM_LOG_WARNING,
				    "left out %zu brief records of %s that contradict its full"
				    " records and %zu past max_domains_per_host",
				    br.mismatch, m.hdr.host, br.no_room);
	}
	writer_frame(d->writer, &m, sm_clock_wall());
	sm_message_clear(&m);
}

/* One line per summary interval: what happened since the last one. */
static void summary(struct daemon *d, struct writer_counters *last, uint64_t *last_bad,
		    double seconds)
{
	struct writer_counters c;

	writer_counters(d->writer, &c);
	sm_log_info(
	    "last %.0f s: frames %llu stats, %llu events, %llu bad, %llu lost in %llu gaps"
	    " (%llu seq leaps not counted);"
	    " points %llu written (%llu coarse owed), %llu unknown,"
	    " %llu dropped (space %llu, old %llu, error %llu, ignored %llu);"
	    " files %llu open (%llu closed for room),"
	    " %llu created, %llu quarantined; domains %llu, %llu stopped, %llu purged;"
	    " index failures %llu; links refused %llu; frames_future %llu; refused: project %llu,"
	    " hosts %llu, domains %llu, files %llu (points %llu); data %llu files, %llu bytes;"
	    " brief records %llu waiting for their full record, %llu refused",
	    seconds, (unsigned long long)(c.frames_stats - last->frames_stats),
	    (unsigned long long)(c.frames_event - last->frames_event),
	    (unsigned long long)(d->bad - *last_bad), (unsigned long long)(c.lost - last->lost),
	    (unsigned long long)(c.gaps - last->gaps),
	    (unsigned long long)(c.seq_leaps - last->seq_leaps),
	    (unsigned long long)(c.points - last->points),
	    (unsigned long long)(c.coarse_owed - last->coarse_owed),
	    (unsigned long long)(c.unknown - last->unknown),
	    (unsigned long long)((c.dropped_space + c.dropped_old + c.dropped_error + c.ignored) -
				 (last->dropped_space + last->dropped_old + last->dropped_error +
				  last->ignored)),
	    (unsigned long long)(c.dropped_space - last->dropped_space),
	    (unsigned long long)(c.dropped_old - last->dropped_old),
	    (unsigned long long)(c.dropped_error - last->dropped_error),
	    (unsigned long long)(c.ignored - last->ignored), (unsigned long long)c.files_open,
	    (unsigned long long)(c.evictions - last->evictions),
	    (unsigned long long)(c.files_created - last->files_created),
	    (unsigned long long)(c.files_quarantined - last->files_quarantined),
	    (unsigned long long)c.domains,
	    (unsigned long long)(c.domains_stopped - last->domains_stopped),
	    (unsigned long long)(c.domains_purged - last->domains_purged),
	    (unsigned long long)(c.index_failures - last->index_failures),
	    (unsigned long long)(c.symlinks_refused - last->symlinks_refused),
	    (unsigned long long)(c.frames_future - last->frames_future),
	    (unsigned long long)(c.project_refused - last->project_refused),
	    (unsigned long long)(c.hosts_refused - last->hosts_refused),
	    (unsigned long long)(c.domains_refused - last->domains_refused),
	    (unsigned long long)(c.files_refused - last->files_refused),
	    (unsigned long long)(c.dropped_limit - last->dropped_limit),
	    (unsigned long long)c.data_files, (unsigned long long)c.data_bytes,
	    (unsigned long long)(d->brief_waiting - d->brief_waiting_said),
	    (unsigned long long)(d->brief_refused - d->brief_refused_said));
	d->brief_waiting_said = d->brief_waiting;
	d->brief_refused_said = d->brief_refused;
	*last = c;
	*last_bad = d->bad;
}

/* The policy a running daemon can change (SIGHUP). */
struct policy {
	double grace, stale, summary_s, flush;
	size_t max_open;
	int verbosity;
	double future_tolerance;
	bool allow_project_change;
	struct writer_limits limits;
};

static void policy_of(const struct sm_config *cfg, const struct sm_cli *cli, struct policy *p)
{
	p->grace = sm_config_double(cfg, "grace");
	p->stale = sm_config_double(cfg, "stale_after");
	p->summary_s = sm_config_double(cfg, "summary_interval");
	p->flush = sm_config_double(cfg, "flush_interval");
	p->max_open = (size_t)sm_config_int(cfg, "max_open_files");
	p->verbosity = cli->verbosity;
	p->future_tolerance = sm_config_double(cfg, "future_tolerance");
	p->allow_project_change = sm_config_bool(cfg, "allow_project_change");
	p->limits = (struct writer_limits){
	    .max_hosts = (uint64_t)sm_config_int(cfg, "max_hosts"),
	    .max_domains_per_host = (uint64_t)sm_config_int(cfg, "max_domains_per_host"),
	    .max_new_domains_per_min = (uint64_t)sm_config_int(cfg, "max_new_domains_per_min"),
	    .max_data_files = (uint64_t)sm_config_int(cfg, "max_data_files"),
	    .max_data_bytes = (uint64_t)sm_config_int(cfg, "max_data_bytes"),
	};
}

/* SIGHUP: reopens the log and re-reads the configuration (file, then the
 * same command line); applies what is safe to change while running. */
static void reload(struct daemon *d, struct policy *p, const struct sm_cli *cli0, int argc,
		   char **argv)
{
	struct sm_cli cli = *cli0;
	struct sm_config *cfg = sm_config_new_joined(aggregator_keys, NAGG_KEYS,
						     sm_sock_config_keys, sm_sock_config_nkeys);
	struct policy np;

	sm_log_open("stackmon-aggregator", SM_LOG_NOTICE + cli0->verbosity, cli0->use_syslog);
	if (!cfg || sm_cli_parse(&cli, cfg, NULL, 0, argc, argv) != SM_CLI_RUN) {
		sm_log_warnx("SIGHUP: configuration not reloaded (see above); keeping the old one");
		sm_config_destroy(&cfg);
		return;
	}
	policy_of(cfg, &cli, &np);
	np.max_open = fd_limit_fit(np.max_open);
	writer_set_policy(d->writer, np.grace, np.stale, np.max_open, np.flush);
	writer_set_limits(d->writer, &np.limits, np.future_tolerance, np.allow_project_change);
	sm_log_set_level((enum sm_log_level)(SM_LOG_NOTICE + cli.verbosity));
	sm_log_notice("SIGHUP: log reopened; grace %.0f s, stale_after %.0f s, max_open_files %zu,"
		      " flush_interval %.0f s, summary every %.0f s, limits and frame checks"
		      " applied (subscribe, data_dir, retention, xff, preallocate and socket"
		      " options need a restart)",
		      np.grace, np.stale, np.max_open, np.flush, np.summary_s);
	*p = np;
	sm_config_destroy(&cfg);
}

/* What this consumer subscribes to, per host_prefix (plus every collector's hb/). */
static const char *const kinds[] = {"stats", "event"};

int main(int argc, char **argv)
{
	struct sm_cli cli = {.program = "stackmon-aggregator",
			     .summary = "Write every StackMon metric into Whisper files and an"
					" sqlite index (subscribes to collectors' fan-out).",
			     .default_config = "/etc/stackmon/aggregator.conf"};
	struct whisper_retention archives[WHISPER_MAX_ARCHIVES];
	struct sm_config *cfg = sm_config_new_joined(aggregator_keys, NAGG_KEYS,
						     sm_sock_config_keys, sm_sock_config_nkeys);
	struct daemon d = {0};
	struct checkpointer ckpt = {0};
	struct writer_counters last = {0};
	struct whisper_err werr = {0};
	struct sm_sock_opts opts;
	struct sm_ticker house_tick, summary_tick;
	struct policy pol;
	struct datadir *dir = NULL;
	struct agg_index *idx = NULL;
	void *zctx = NULL, *sub = NULL;
	struct sm_sockwatch *watch = NULL;
	const char *data_dir, *retention;
	char err[512];
	size_t narchives = 0, nsub;
	uint64_t last_bad = 0;
	int status = EXIT_RUNTIME;

	if (!cfg)
		return EXIT_RUNTIME;
	status = sm_cli_start(&cli, cfg, NULL, 0, argc, argv);
	if (status != SM_CLI_CONTINUE)
		goto out;
	status = EXIT_RUNTIME;

	/* ---- configuration ---- */
	data_dir = sm_config_string(cfg, "data_dir");
	retention = sm_config_string(cfg, "retention");
	nsub = sm_config_list_count(cfg, "subscribe");
	policy_of(cfg, &cli, &pol);
	d.max_frame = (size_t)sm_config_int(cfg, "max_frame");
	if (!data_dir || !data_dir[0])
		data_dir = DEFAULT_DATA_DIR;
	if (whisper_retention_parse(retention ? retention : "", archives, WHISPER_MAX_ARCHIVES,
				    &narchives, &werr) != 0) {
		fprintf(stderr, "stackmon-aggregator: retention '%s': %s\n",
			retention ? retention : "", werr.msg);
		status = EXIT_USAGE;
		goto out;
	}
	if (nsub == 0) {
		fprintf(stderr, "stackmon-aggregator: need at least one subscribe endpoint\n");
		status = EXIT_USAGE;
		goto out;
	}
	if (pol.stale <= 0 || pol.grace < 0) {
		fprintf(stderr, "stackmon-aggregator: grace and stale_after must be positive\n");
		status = EXIT_USAGE;
		goto out;
	}
	if (sm_sock_limits_check(sm_config_int(cfg, "max_msg_size"), (long long)d.max_frame, err,
				 sizeof(err)) < 0 ||
	    sm_sock_host_prefix_check(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "stackmon-aggregator: %s\n", err);
		status = EXIT_USAGE;
		goto out;
	}
	/* A missing, malformed or group-readable key file stops us here,
	 * named on stderr, and -n finds it too: never a fall-back to plain
	 * text. */
	if (sm_sock_opts_from_config(&opts, cfg) < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	status = sm_cli_ready(&cli);
	if (status != SM_CLI_CONTINUE)
		goto out;
	status = EXIT_RUNTIME;

	/* ---- resources ---- */
	dir = datadir_open(data_dir, err, sizeof(err));
	if (!dir) {
		sm_log_err("%s", err);
		if (cli.use_syslog)
			fprintf(stderr, "stackmon-aggregator: %s\n", err);
		goto out;
	}
	pol.max_open = fd_limit_fit(pol.max_open);
	idx = index_start(dir);
	if (!idx) {
		sm_log_err("data directory %s: cannot open the index %s (see above)",
			   datadir_path(dir), LAYOUT_INDEX_FILE);
		goto out;
	}
	checkpointer_start(&ckpt, dir, idx);
	{
		struct writer_config wc = {
		    .dir = dir,
		    .index = idx,
		    .archives = archives,
		    .narchives = narchives,
		    .xff = sm_config_double(cfg, "xff"),
		    .preallocate = sm_config_bool(cfg, "preallocate"),
		    .grace_s = pol.grace,
		    .stale_s = pol.stale,
		    .max_open_files = pol.max_open,
		    .flush_interval = pol.flush,
		    .future_tolerance_s = pol.future_tolerance,
		    .allow_project_change = pol.allow_project_change,
		    .limits = pol.limits,
		};

		d.writer = writer_new(&wc);
	}
	if (!d.writer)
		goto out;
	{
		long long hosts = sm_config_int(cfg, "max_hosts");
		long long per_host = sm_config_int(cfg, "max_domains_per_host");

		d.brief = sm_brief_new(hosts > 0 ? (size_t)hosts : SM_WIRE_MAX_PUBLISHERS,
				       per_host > 0 ? (size_t)per_host : SM_WIRE_MAX_DOMAINS);
		if (!d.brief) {
			sm_log_err("out of memory");
			goto out;
		}
	}
	zctx = zmq_ctx_new();
	if (!zctx || !(watch = sm_sockwatch_subscribe(zctx, cfg, &opts, kinds, 2, &sub)))
		goto out;
	d.watch = watch;
	sm_log_notice("aggregator: data %s, retention %s, xff %.2f, grace %.0f s, stale after"
		      " %.0f s, up to %zu files open; subscribed to %s%s",
		      datadir_path(dir), retention, sm_config_double(cfg, "xff"), pol.grace,
		      pol.stale, pol.max_open, sm_config_list_item(cfg, "subscribe", 0),
		      nsub > 1 ? " (+more)" : "");
	sm_daemon_notify("READY=1");

	/* ---- loop ---- */
	status = 0;
	sm_ticker_start(&house_tick, (int64_t)HOUSEKEEPING_MS * 1000000);
	sm_ticker_start(&summary_tick, (int64_t)(pol.summary_s * (double)SM_NS_PER_SEC));
	sm_ticker_advance(&summary_tick); /* the first summary after one interval */
	while (!sm_daemon_quit_requested()) {
		zmq_pollitem_t items[2] = {{.socket = sub, .events = ZMQ_POLLIN},
					   sm_sockwatch_pollitem(watch)};
		int timeout = sm_ticker_timeout_ms(&house_tick);
		int64_t start;

		if (sm_ticker_timeout_ms(&summary_tick) < timeout)
			timeout = sm_ticker_timeout_ms(&summary_tick);
		timeout = sm_sockwatch_timeout_ms(watch, sm_clock_mono_ns(), timeout);
		if (zmq_poll(items, 2, timeout) < 0 && errno != EINTR) {
			sm_log_err("zmq_poll: %s", zmq_strerror(errno));
			status = EXIT_RUNTIME;
			break;
		}
		sm_sockwatch_service(watch, sm_clock_mono_ns());
		/* Drain what ZeroMQ has queued, but look at the timers now and then:
		 * a backlog must not starve purges and summaries. */
		start = sm_clock_mono_ns();
		for (int n = 0; n < DRAIN_BUDGET && !sm_daemon_quit_requested(); n++) {
			struct sm_frames f;

			if (sm_sock_recv2(sub, &f, ZMQ_DONTWAIT) < 0)
				break;
			handle(&d, &f);
			sm_frames_close(&f);
			if (sm_clock_mono_ns() - start > (int64_t)DRAIN_MAX_MS * 1000000)
				break;
		}
		if (sm_ticker_due(&house_tick)) {
			writer_housekeeping(d.writer, sm_clock_wall());
			sm_ticker_advance(&house_tick);
		}
		if (sm_ticker_due(&summary_tick)) {
			summary(&d, &last, &last_bad, pol.summary_s);
			sm_ticker_advance(&summary_tick);
		}
		if (sm_daemon_take_reload()) {
			double old = pol.summary_s;

			reload(&d, &pol, &cli, argc, argv);
			if (pol.summary_s != old) {
				sm_ticker_start(&summary_tick,
						(int64_t)(pol.summary_s * (double)SM_NS_PER_SEC));
				sm_ticker_advance(&summary_tick);
			}
		}
	}
	sm_daemon_notify("STOPPING=1");
	sm_log_notice("aggregator stopping: closing files");
	summary(&d, &last, &last_bad, 0);
	sm_log_notice("since start: %llu frames lost in %llu gaps (by monitor: the index's"
		      " host_streams and host_loss_minutes)",
		      (unsigned long long)last.lost, (unsigned long long)last.gaps);

out:
	sm_brief_free(&d.brief);
	sm_sockwatch_destroy(&watch); /* before its socket */
	sm_sock_close(&sub);
	if (zctx)
		zmq_ctx_term(zctx);
	writer_destroy(&d.writer); /* pays deferred propagation */
	checkpointer_stop(&ckpt);
	index_close(&idx);
	datadir_close(&dir);
	sm_config_destroy(&cfg);
	sm_log_close();
	return status;
}
