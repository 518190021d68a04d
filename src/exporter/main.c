/*
 * stackmon-exporter — subscribes to collectors' fan-outs and serves the
 * latest figures of every domain and compute node in Prometheus' text
 * format over HTTP (docs/EXPORTER.md). Reads top to bottom: options and
 * config → checks (-n) → store, intake, socket, HTTP server → loop (drain
 * frames, expire silent hosts) → orderly shutdown. The parts: intake (the
 * one place frames are decoded), store (latest values), render (the
 * families), expo (the text format), http (libmicrohttpd).
 *
 * Threads: this one owns the ZeroMQ socket and writes the store;
 * libmicrohttpd's thread renders scrapes. One mutex guards the store and
 * the counters. A scrape holds it only while it renders into memory (no
 * I/O under the lock: the text goes out afterwards, at the client's pace),
 * and ZeroMQ queues frames meanwhile, so a scrape delays the intake by
 * its render time and never loses a frame; rendering in the loop instead
 * would make the HTTP thread wait just as long and cost a hand-over.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "expo.h"
#include "http.h"
#include "sm_intake.h"
#include "render.h"
#include "sm_cli.h"
#include "sm_clock.h"
#include "sm_config.h"
#include "sm_daemon.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_sockwatch.h"
#include "store.h"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

#define HOUSEKEEPING_MS 500  /* silent hosts expired */
#define HASH_MAX	512  /* bytes of a crypt(3) hash in the password file */

static const struct sm_config_key exporter_keys[] = {
    {"subscribe", SM_CFG_LIST, 0, 0, "tcp://127.0.0.1:5556",
     "collector fan-out endpoint to subscribe to, optionally ENDPOINT@KEYFILE with curve"
     " (repeatable: one SUB socket connects to all)"},
    SM_SOCK_HOST_PREFIX_KEY,
    {"listen", SM_CFG_STRING, 0, 0, "127.0.0.1:7110",
     "HTTP address: HOST:PORT, [ADDR]:PORT, :PORT (every address) or unix:PATH"},
    {"stale_after", SM_CFG_DOUBLE, 0, 31536000, "0",
     "seconds without a frame from a host before its series go; 0 = three of the host's"
     " own intervals"},
    {"max_series", SM_CFG_INT, 0, 1e9, "200000",
     "series held at most; new domains beyond are left out and counted (0 = no limit)"},
    {"max_frame", SM_CFG_INT, 1024, 1073741824, "8388608",
     "largest frame body accepted, bytes; bigger ones are dropped and counted"},
    {"basic_auth_user", SM_CFG_STRING, 0, 0, NULL,
     "HTTP basic authentication: the user (with basic_auth_password_file)"},
    {"basic_auth_password_file", SM_CFG_STRING, 0, 0, NULL,
     "file holding the user's password hash, made with: openssl passwd -6"},
    {"tls_cert", SM_CFG_STRING, 0, 0, NULL, "serve HTTPS with this PEM certificate (chain)"},
    {"tls_key", SM_CFG_STRING, 0, 0, NULL, "the PEM private key of tls_cert"},
    {"max_connections", SM_CFG_INT, 1, 10000, "64", "HTTP connections served at once"},
    {"http_timeout", SM_CFG_INT, 1, 3600, "30", "seconds an idle HTTP connection is kept open"},
};

#define NEXP_KEYS (sizeof(exporter_keys) / sizeof(exporter_keys[0]))

/* What both threads share, under `lock`. */
struct exporter {
	pthread_mutex_t lock;
	struct store *store;
	struct sm_intake *intake;
	double start_time;    /* wall clock */
	uint64_t scrapes;     /* served so far */
	uint64_t disconnects; /* the watch's count, copied in by the loop */
	size_t last_len;      /* bytes of the last scrape: the next one reserves as much */
	size_t max_series;
};

/* The HTTP thread's render function. */
static int render_locked(void *arg, struct expo_buf *out)
{
	struct exporter *x = arg;
	int64_t start = sm_clock_mono_ns();
	struct render_health h;

	pthread_mutex_lock(&x->lock);
	h = (struct render_health){.started_ns = start,
				   .start_time = x->start_time,
				   .scrapes = x->scrapes++,
				   .disconnects = x->disconnects,
				   .max_series = x->max_series};
	expo_reserve(out, x->last_len + x->last_len / 8);
	render_metrics(out, x->store, sm_intake_counters(x->intake), &h, start);
	x->last_len = out->len;
	pthread_mutex_unlock(&x->lock);
	return out->failed ? -1 : 0;
}

/* Reads the crypt(3) hash from the password file into hash. A file others
 * may read or write is refused: the hash can be attacked offline. */
static int read_password_hash(const char *path, char *hash, size_t len)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	size_t n;

	if (!f) {
		fprintf(stderr, "stackmon-exporter: basic_auth_password_file %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0007)) {
		fprintf(stderr,
			"stackmon-exporter: basic_auth_password_file %s: readable or writable by"
			" others (mode %04o); chmod 0640 it\n",
			path, (unsigned)(st.st_mode & 07777));
		fclose(f);
		return -1;
	}
	if (!fgets(hash, (int)len, f))
		hash[0] = '\0';
	fclose(f);
	n = strcspn(hash, "\r\n");
	hash[n] = '\0';
	if (hash[0] != '$' || n < 8) {
		fprintf(stderr,
			"stackmon-exporter: basic_auth_password_file %s: the first line is not a"
			" crypt(3) hash (make it with: openssl passwd -6)\n",
			path);
		return -1;
	}
	return 0;
}

/* Checks the settings that go together. EXIT_USAGE (explained) or 0. */
static int check_config(const struct sm_config *cfg, char *hash, size_t hashlen)
{
	const char *user = sm_config_string(cfg, "basic_auth_user");
	const char *pwfile = sm_config_string(cfg, "basic_auth_password_file");
	char err[512];

	if (sm_config_list_count(cfg, "subscribe") == 0) {
		fprintf(stderr, "stackmon-exporter: need at least one subscribe endpoint\n");
		return EXIT_USAGE;
	}
	if (!sm_config_string(cfg, "listen")) {
		fprintf(stderr, "stackmon-exporter: listen is empty\n");
		return EXIT_USAGE;
	}
	if (!user != !pwfile) {
		fprintf(stderr, "stackmon-exporter: basic_auth_user and basic_auth_password_file"
				" go together: set both or neither\n");
		return EXIT_USAGE;
	}
	if (pwfile && read_password_hash(pwfile, hash, hashlen) < 0)
		return EXIT_USAGE;
	if (!sm_config_string(cfg, "tls_cert") != !sm_config_string(cfg, "tls_key")) {
		fprintf(stderr, "stackmon-exporter: tls_cert and tls_key go together: set both"
				" or neither\n");
		return EXIT_USAGE;
	}
	/* Read here too, so that -n finds an unreadable file. */
	for (size_t i = 0; i < 2; i++) {
		const char *key = i == 0 ? "tls_cert" : "tls_key";
		const char *path = sm_config_string(cfg, key);

		if (path && access(path, R_OK) != 0) {
			fprintf(stderr, "stackmon-exporter: %s %s: %s\n", key, path,
				strerror(errno));
			return EXIT_USAGE;
		}
	}
	if (sm_sock_limits_check(sm_config_int(cfg, "max_msg_size"),
				 sm_config_int(cfg, "max_frame"), err, sizeof(err)) < 0 ||
	    sm_sock_host_prefix_check(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "stackmon-exporter: %s\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

/* SIGHUP: reopens the log and re-reads the configuration (file, then the
 * same command line); applies stale_after, max_series and the log level. */
static void reload(struct exporter *x, double *stale_after, const struct sm_cli *cli0, int argc,
		   char **argv)
{
	struct sm_cli cli = *cli0;
	struct sm_config *cfg = sm_config_new_joined(exporter_keys, NEXP_KEYS, sm_sock_config_keys,
						     sm_sock_config_nkeys);

	sm_log_open("stackmon-exporter", SM_LOG_NOTICE + cli0->verbosity, cli0->use_syslog);
	if (!cfg || sm_cli_parse(&cli, cfg, NULL, 0, argc, argv) != SM_CLI_RUN) {
		sm_log_warnx("SIGHUP: configuration not reloaded (see above); keeping the old one");
		sm_config_destroy(&cfg);
		return;
	}
	*stale_after = sm_config_double(cfg, "stale_after");
	pthread_mutex_lock(&x->lock);
	x->max_series = (size_t)sm_config_int(cfg, "max_series");
	store_set_max_series(x->store, x->max_series);
	pthread_mutex_unlock(&x->lock);
	sm_log_set_level((enum sm_log_level)(SM_LOG_NOTICE + cli.verbosity));
	sm_log_notice("SIGHUP: log reopened; stale_after %.0f s, max_series %zu applied"
		      " (other settings need a restart)",
		      *stale_after, x->max_series);
	sm_config_destroy(&cfg);
}

/* What this consumer subscribes to, per host_prefix (plus every collector's hb/). */
static const char *const kinds[] = {"stats", "event"};

int main(int argc, char **argv)
{
	struct sm_cli cli = {.program = "stackmon-exporter",
			     .summary = "Serve StackMon's latest domain and node figures to"
					" Prometheus (subscribes to collectors' fan-out).",
			     .default_config = "/etc/stackmon/exporter.conf"};
	struct sm_config *cfg = sm_config_new_joined(exporter_keys, NEXP_KEYS, sm_sock_config_keys,
						     sm_sock_config_nkeys);
	struct exporter x = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct store_sizes sizes;
	struct sm_sock_opts opts;
	struct sm_ticker house_tick;
	struct http_server *http = NULL;
	struct sm_sockwatch *watch = NULL;
	void *zctx = NULL, *sub = NULL;
	char hash[HASH_MAX] = "", err[512];
	double stale_after;
	size_t nsub;
	int status;

	if (!cfg)
		return EXIT_RUNTIME;
	status = sm_cli_start(&cli, cfg, NULL, 0, argc, argv);
	if (status != SM_CLI_CONTINUE)
		goto out;

	/* ---- configuration ---- */
	status = check_config(cfg, hash, sizeof(hash));
	if (status != 0)
		goto out;
	/* A missing, malformed or group-readable key file stops us here,
	 * named on stderr, and -n finds it too. */
	if (sm_sock_opts_from_config(&opts, cfg) < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	status = sm_cli_ready(&cli);
	if (status != SM_CLI_CONTINUE)
		goto out;
	status = EXIT_RUNTIME;
	nsub = sm_config_list_count(cfg, "subscribe");
	stale_after = sm_config_double(cfg, "stale_after");
	x.max_series = (size_t)sm_config_int(cfg, "max_series");
	x.start_time = sm_clock_wall();

	/* ---- resources ---- */
	render_sizes(&sizes);
	x.store = store_new(&sizes, x.max_series);
	zctx = zmq_ctx_new();
	if (!x.store || !zctx ||
	    !(watch = sm_sockwatch_subscribe(zctx, cfg, &opts, kinds, 2, &sub)))
		goto out;
	{
		struct sm_intake_sink sink = store_intake_sink(x.store);

		x.intake = sm_intake_new(&sink, (size_t)sm_config_int(cfg, "max_frame"), watch);
	}
	if (!x.intake)
		goto out;
	{
		struct http_config hc = {
		    .listen = sm_config_string(cfg, "listen"),
		    .tls_cert = sm_config_string(cfg, "tls_cert"),
		    .tls_key = sm_config_string(cfg, "tls_key"),
		    .auth_user = sm_config_string(cfg, "basic_auth_user"),
		    .auth_hash = hash,
		    .max_connections = (unsigned)sm_config_int(cfg, "max_connections"),
		    .timeout_s = (unsigned)sm_config_int(cfg, "http_timeout"),
		};

		http = http_start(&hc, render_locked, &x, err, sizeof(err));
		explicit_bzero(hash, sizeof(hash));
		if (!http) {
			sm_log_err("%s", err);
			if (cli.use_syslog)
				fprintf(stderr, "stackmon-exporter: %s\n", err);
			goto out;
		}
		sm_log_notice("exporter: serving http%s://%s/metrics%s; max_series %zu, stale_after"
			      " %s; subscribed to %s%s",
			      hc.tls_cert ? "s" : "", http_address(http),
			      hc.auth_user ? " (basic auth)" : "", x.max_series,
			      stale_after > 0 ? "as set" : "3 intervals",
			      sm_config_list_item(cfg, "subscribe", 0), nsub > 1 ? " (+more)" : "");
	}
	sm_daemon_notify("READY=1");

	/* ---- loop ---- */
	status = 0;
	sm_ticker_start(&house_tick, (int64_t)HOUSEKEEPING_MS * 1000000);
	while (!sm_daemon_quit_requested()) {
		zmq_pollitem_t items[2] = {{.socket = sub, .events = ZMQ_POLLIN},
					   sm_sockwatch_pollitem(watch)};
		int timeout = sm_ticker_timeout_ms(&house_tick);

		timeout = sm_sockwatch_timeout_ms(watch, sm_clock_mono_ns(), timeout);
		if (zmq_poll(items, 2, timeout) < 0 && errno != EINTR) {
			sm_log_err("zmq_poll: %s", zmq_strerror(errno));
			status = EXIT_RUNTIME;
			break;
		}
		sm_sockwatch_service(watch, sm_clock_mono_ns());
		sm_intake_drain(x.intake, sub, &x.lock);
		if (sm_ticker_due(&house_tick)) {
			pthread_mutex_lock(&x.lock);
			store_expire(x.store, sm_clock_mono_ns(), stale_after);
			x.disconnects = sm_sockwatch_disconnects(watch);
			pthread_mutex_unlock(&x.lock);
			sm_ticker_advance(&house_tick);
		}
		if (sm_daemon_take_reload())
			reload(&x, &stale_after, &cli, argc, argv);
	}
	sm_daemon_notify("STOPPING=1");
	sm_log_notice("exporter stopping: %llu scrapes served, %zu hosts and %zu domains held",
		      (unsigned long long)x.scrapes, store_hosts(x.store), store_domains(x.store));

out:
	http_stop(&http);	      /* first: no scrape may read what goes below */
	sm_sockwatch_destroy(&watch); /* before its socket */
	sm_sock_close(&sub);
	if (zctx)
		zmq_ctx_term(zctx);
	sm_intake_destroy(&x.intake);
	store_destroy(&x.store);
	sm_config_destroy(&cfg);
	sm_log_close();
	return status;
}
