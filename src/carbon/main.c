/*
 * stackmon-carbon — subscribes to collectors' fan-outs and sends every
 * point of every stats frame to one or more carbon endpoints in carbon's
 * plaintext protocol, under the names of the aggregator's Whisper files
 * (docs/CARBON.md). Reads top to bottom: options and config → checks (-n)
 * → destinations, intake, socket → loop → orderly shutdown. The parts:
 * sm_intake (the one place frames are decoded, shared with the exporter),
 * cline (frames → lines), dest (one destination's socket) and linebuf
 * (its bounded buffer).
 *
 * One thread. The ZeroMQ socket and every destination's TCP socket are
 * polled together; no call blocks (sockets are non-blocking, a full
 * buffer drops points instead of waiting), so a slow or dead carbon never
 * holds the intake back. A frame is formatted once and its bytes copied to
 * each destination (replication: every destination gets every point).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cline.h"
#include "dest.h"
#include "sm_cli.h"
#include "sm_clock.h"
#include "sm_config.h"
#include "sm_daemon.h"
#include "sm_intake.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_sockwatch.h"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

#define DEST_MAX	  64   /* carbon destinations */
#define SHUTDOWN_FLUSH_MS 2000 /* at exit, buffered points get this long to go out */

static const struct sm_config_key carbon_keys[] = {
    {"subscribe", SM_CFG_LIST, 0, 0, "tcp://127.0.0.1:5556",
     "collector fan-out endpoint to subscribe to, optionally ENDPOINT@KEYFILE with curve"
     " (repeatable: one SUB socket connects to all)"},
    SM_SOCK_HOST_PREFIX_KEY,
    {"carbon", SM_CFG_LIST, 0, 0, "127.0.0.1:2003",
     "carbon plaintext receiver, HOST:PORT or [ADDR]:PORT (repeatable: every point goes to"
     " every destination)"},
    {"prefix", SM_CFG_STRING, 0, 0, "stackmon",
     "first levels of every metric path, dot-separated; empty for none"},
    {"buffer_bytes", SM_CFG_INT, 1024, 1099511627776.0, "67108864",
     "bytes of lines held per destination while it is down or slow; when full, the newest"
     " points are dropped and counted"},
    {"health_interval", SM_CFG_INT, 0, 3600, "10",
     "seconds between two sends of stackmon-carbon's own counters as points (0 = never)"},
    {"max_frame", SM_CFG_INT, 1024, 1073741824, "8388608",
     "largest frame body accepted, bytes; bigger ones are dropped and counted"},
};

#define NCARBON_KEYS (sizeof(carbon_keys) / sizeof(carbon_keys[0]))

struct carbon {
	const char *prefix; /* NULL or "" = none */
	struct dest *dests[DEST_MAX];
	size_t ndests;
	struct sm_intake *intake;
	struct cline_buf lines;		/* one frame's lines, reused */
	char self[LAYOUT_HOST_MAX + 1]; /* our host name as a path component */
	uint64_t points;		/* lines made from frames */
	uint64_t unknown;		/* values left out as unknown (NaN, stale domains) */
	uint64_t nomem;			/* frames whose lines could not all be made */
	struct sm_complaint oom;
};

/* Every destination gets the same bytes; a connected one writes at once. */
static void send_lines(struct carbon *x, int64_t now_ns)
{
	if (x->lines.len == 0)
		return;
	for (size_t i = 0; i < x->ndests; i++) {
		dest_append(x->dests[i], x->lines.data, x->lines.len, now_ns);
		if (dest_connected(x->dests[i]))
			dest_service(x->dests[i], 0, now_ns);
	}
}

/* The intake's sink: a stats frame becomes lines. */
static void on_stats(void *arg, const struct sm_message *m, int64_t now_ns, bool complete)
{
	struct carbon *x = arg;
	size_t unknown = 0;

	(void)complete; /* what was left out has no values to send */
	cline_buf_reset(&x->lines);
	x->points += cline_frame(&x->lines, x->prefix, m, &unknown);
	x->unknown += unknown;
	if (x->lines.failed) {
		x->nomem++;
		sm_complain(&x->oom, SM_LOG_ERR,
			    "out of memory formatting a frame of %s: its"
			    " points are partly lost",
			    m->hdr.host);
		x->lines.len = 0; /* may end in the middle of a line */
	}
	send_lines(x, now_ns);
}

/* Our own counters as points under <prefix>.stackmon-carbon.<host>. */
static void send_health(struct carbon *x, int64_t now_ns)
{
	const struct sm_intake_counters *c = sm_intake_counters(x->intake);
	int64_t ts = (int64_t)sm_clock_wall();
	char stem[LAYOUT_HOST_MAX + 64], dstem[sizeof(stem) + LAYOUT_HOST_MAX + 16];
	char name[64], dname[LAYOUT_HOST_MAX + 1];

	cline_buf_reset(&x->lines);
	snprintf(stem, sizeof(stem), "stackmon-carbon.%s", x->self);
	cline_put(&x->lines, x->prefix, stem, "frames", (double)c->frames[SM_KIND_STATS], ts);
	cline_put(&x->lines, x->prefix, stem, "events", (double)c->frames[SM_KIND_EVENT], ts);
	cline_put(&x->lines, x->prefix, stem, "frames_lost", (double)c->lost, ts);
	cline_put(&x->lines, x->prefix, stem, "points", (double)x->points, ts);
	cline_put(&x->lines, x->prefix, stem, "points_unknown", (double)x->unknown, ts);
	cline_put(&x->lines, x->prefix, stem, "brief_waiting", (double)c->brief_waiting, ts);
	cline_put(&x->lines, x->prefix, stem, "brief_refused", (double)c->brief_refused, ts);
	for (size_t r = 0; r < SM_INTAKE_NREASONS; r++) {
		if (r == SM_WIRE_OK)
			continue;
		snprintf(name, sizeof(name), "decode_errors.%s", sm_intake_reason_name(r));
		cline_put(&x->lines, x->prefix, stem, name, (double)c->errors[r], ts);
	}
	for (size_t i = 0; i < x->ndests; i++) {
		const struct dest_counters *dc = dest_counters(x->dests[i]);

		cline_host_component(dest_name(x->dests[i]), dname);
		snprintf(dstem, sizeof(dstem), "%s.dest.%s", stem, dname);
		cline_put(&x->lines, x->prefix, dstem, "sent", (double)dc->sent, ts);
		cline_put(&x->lines, x->prefix, dstem, "dropped", (double)dc->dropped, ts);
		cline_put(&x->lines, x->prefix, dstem, "buffered",
			  (double)dest_buffered_lines(x->dests[i]), ts);
		cline_put(&x->lines, x->prefix, dstem, "reconnects", (double)dc->reconnects, ts);
		cline_put(&x->lines, x->prefix, dstem, "failures", (double)dc->failures, ts);
		cline_put(&x->lines, x->prefix, dstem, "connected",
			  (double)dest_connected(x->dests[i]), ts);
	}
	if (!x->lines.failed)
		send_lines(x, now_ns);
}

/* One line for the log: every counter. */
static void log_summary(const struct carbon *x, const char *when)
{
	const struct sm_intake_counters *c = sm_intake_counters(x->intake);
	uint64_t errors = 0;

	for (size_t r = 0; r < SM_INTAKE_NREASONS; r++)
		errors += c->errors[r];
	sm_log_notice("carbon %s: %" PRIu64 " frames, %" PRIu64 " refused, %" PRIu64
		      " lost in transit; %" PRIu64 " points made, %" PRIu64 " unknown left out",
		      when, c->frames[SM_KIND_STATS], errors, c->lost, x->points, x->unknown);
	for (size_t r = 0; r < SM_INTAKE_NREASONS; r++)
		if (c->errors[r])
			sm_log_notice("carbon %s: refused %" PRIu64 " messages: %s", when,
				      c->errors[r], sm_intake_reason_name(r));
	for (size_t i = 0; i < x->ndests; i++) {
		const struct dest_counters *dc = dest_counters(x->dests[i]);

		sm_log_notice("carbon %s: destination %s: %" PRIu64 " points sent, %" PRIu64
			      " dropped, %zu still buffered, %" PRIu64 " reconnects, %" PRIu64
			      " failures",
			      when, dest_name(x->dests[i]), dc->sent, dc->dropped,
			      dest_buffered_lines(x->dests[i]), dc->reconnects, dc->failures);
	}
}

/* Checks the settings that go together. EXIT_USAGE (explained) or 0. */
static int check_config(const struct sm_config *cfg)
{
	size_t ndest = sm_config_list_count(cfg, "carbon");
	const char *prefix = sm_config_string(cfg, "prefix");
	char err[512];

	if (sm_config_list_count(cfg, "subscribe") == 0) {
		fprintf(stderr, "stackmon-carbon: need at least one subscribe endpoint\n");
		return EXIT_USAGE;
	}
	if (ndest == 0 || ndest > DEST_MAX) {
		fprintf(stderr, "stackmon-carbon: need 1 to %d carbon destinations, not %zu\n",
			DEST_MAX, ndest);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < ndest; i++)
		if (dest_spec_check(sm_config_list_item(cfg, "carbon", i), err, sizeof(err)) < 0) {
			fprintf(stderr, "stackmon-carbon: %s\n", err);
			return EXIT_USAGE;
		}
	if (!cline_prefix_ok(prefix)) {
		fprintf(stderr,
			"stackmon-carbon: prefix \"%s\": expected dot-separated levels of"
			" [A-Za-z0-9_-] (at most %d bytes), or empty\n",
			prefix, CLINE_PREFIX_MAX);
		return EXIT_USAGE;
	}
	if (sm_sock_limits_check(sm_config_int(cfg, "max_msg_size"),
				 sm_config_int(cfg, "max_frame"), err, sizeof(err)) < 0 ||
	    sm_sock_host_prefix_check(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "stackmon-carbon: %s\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

/* SIGHUP: reopens the log and applies the log level of the command line. */
static void reload(const struct sm_cli *cli)
{
	sm_log_open("stackmon-carbon", SM_LOG_NOTICE + cli->verbosity, cli->use_syslog);
	sm_log_notice("SIGHUP: log reopened (settings need a restart)");
}

/* Polls the SUB socket, the watch and every destination with a socket;
 * services what is ready and what is due. -1 when zmq_poll fails. */
static int poll_once(struct carbon *x, void *sub, struct sm_sockwatch *watch, int timeout)
{
	zmq_pollitem_t items[2 + DEST_MAX];
	size_t which[DEST_MAX], n = 0;
	int64_t now = sm_clock_mono_ns();

	if (sub) {
		items[n++] = (zmq_pollitem_t){.socket = sub, .events = ZMQ_POLLIN};
		items[n++] = sm_sockwatch_pollitem(watch);
		timeout = sm_sockwatch_timeout_ms(watch, now, timeout);
	}
	for (size_t i = 0; i < x->ndests; i++) {
		zmq_pollitem_t it = dest_pollitem(x->dests[i]);

		timeout = dest_timeout_ms(x->dests[i], now, timeout);
		if (it.fd >= 0) {
			which[n - (sub ? 2 : 0)] = i;
			items[n++] = it;
		}
	}
	if (zmq_poll(items, (int)n, timeout) < 0 && errno != EINTR) {
		sm_log_err("zmq_poll: %s", zmq_strerror(errno));
		return -1;
	}
	now = sm_clock_mono_ns();
	{
		short revents[DEST_MAX] = {0};

		for (size_t k = sub ? 2 : 0; k < n; k++)
			revents[which[k - (sub ? 2 : 0)]] = items[k].revents;
		for (size_t i = 0; i < x->ndests; i++)
			dest_service(x->dests[i], revents[i], now);
	}
	if (sub) {
		sm_sockwatch_service(watch, now);
		sm_intake_drain(x->intake, sub, NULL);
	}
	return 0;
}

/* At exit: what is buffered gets a short while to go out. */
static void flush_at_exit(struct carbon *x)
{
	int64_t end = sm_clock_mono_ns() + (int64_t)SHUTDOWN_FLUSH_MS * 1000000;

	for (;;) {
		size_t waiting = 0;
		int64_t now = sm_clock_mono_ns();

		for (size_t i = 0; i < x->ndests; i++)
			if (dest_connected(x->dests[i]))
				waiting += dest_buffered_bytes(x->dests[i]);
		if (waiting == 0 || now >= end)
			return;
		if (poll_once(x, NULL, NULL, (int)((end - now) / 1000000) + 1) < 0)
			return;
	}
}

/* What this consumer subscribes to, per host_prefix (plus every collector's hb/). */
static const char *const kinds[] = {"stats"};

int main(int argc, char **argv)
{
	struct sm_cli cli = {.program = "stackmon-carbon",
			     .summary =
				 "Send StackMon's domain and node figures to carbon (Graphite)"
				 " in its plaintext protocol (subscribes to collectors'"
				 " fan-out).",
			     .default_config = "/etc/stackmon/carbon.conf"};
	struct sm_config *cfg = sm_config_new_joined(carbon_keys, NCARBON_KEYS, sm_sock_config_keys,
						     sm_sock_config_nkeys);
	struct carbon x = {.oom = SM_COMPLAINT_INIT};
	struct sm_sock_opts opts;
	struct sm_ticker health_tick;
	struct sm_sockwatch *watch = NULL;
	void *zctx = NULL, *sub = NULL;
	char err[512], hostname[256] = "";
	long long health_s;
	size_t nsub;
	int status;

	if (!cfg)
		return EXIT_RUNTIME;
	status = sm_cli_start(&cli, cfg, NULL, 0, argc, argv);
	if (status != SM_CLI_CONTINUE)
		goto out;

	/* ---- configuration ---- */
	status = check_config(cfg);
	if (status != 0)
		goto out;
	if (sm_sock_opts_from_config(&opts, cfg) < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	status = sm_cli_ready(&cli);
	if (status != SM_CLI_CONTINUE)
		goto out;
	status = EXIT_RUNTIME;
	nsub = sm_config_list_count(cfg, "subscribe");
	x.prefix = sm_config_string(cfg, "prefix");
	health_s = sm_config_int(cfg, "health_interval");
	if (gethostname(hostname, sizeof(hostname) - 1) < 0)
		snprintf(hostname, sizeof(hostname), "localhost");
	cline_host_component(hostname, x.self);

	/* ---- resources ---- */
	for (size_t i = 0; i < sm_config_list_count(cfg, "carbon"); i++) {
		x.dests[i] = dest_new(sm_config_list_item(cfg, "carbon", i),
				      (size_t)sm_config_int(cfg, "buffer_bytes"), err, sizeof(err));
		if (!x.dests[i]) {
			sm_log_err("%s", err);
			goto out;
		}
		x.ndests++;
	}
	zctx = zmq_ctx_new();
	if (!zctx || !(watch = sm_sockwatch_subscribe(zctx, cfg, &opts, kinds, 1, &sub)))
		goto out;
	{
		struct sm_intake_sink sink = {.ctx = &x, .stats = on_stats};

		x.intake = sm_intake_new(&sink, (size_t)sm_config_int(cfg, "max_frame"), watch);
	}
	if (!x.intake)
		goto out;
	sm_log_notice("carbon: sending to %s%s (prefix \"%s\", buffer %lld bytes each);"
		      " subscribed to %s%s",
		      dest_name(x.dests[0]), x.ndests > 1 ? " (+more, each gets every point)" : "",
		      x.prefix ? x.prefix : "", sm_config_int(cfg, "buffer_bytes"),
		      sm_config_list_item(cfg, "subscribe", 0), nsub > 1 ? " (+more)" : "");
	sm_daemon_notify("READY=1");

	/* ---- loop ---- */
	status = 0;
	sm_ticker_start(&health_tick, (health_s > 0 ? health_s : 3600) * 1000000000LL);
	while (!sm_daemon_quit_requested()) {
		if (poll_once(&x, sub, watch, sm_ticker_timeout_ms(&health_tick)) < 0) {
			status = EXIT_RUNTIME;
			break;
		}
		if (sm_ticker_due(&health_tick)) {
			if (health_s > 0)
				send_health(&x, sm_clock_mono_ns());
			sm_ticker_advance(&health_tick);
		}
		if (sm_daemon_take_reload())
			reload(&cli);
	}
	sm_daemon_notify("STOPPING=1");
	flush_at_exit(&x);
	log_summary(&x, "stopping");

out:
	sm_sockwatch_destroy(&watch); /* before its socket */
	sm_sock_close(&sub);
	if (zctx)
		zmq_ctx_term(zctx);
	sm_intake_destroy(&x.intake);
	for (size_t i = 0; i < x.ndests; i++)
		dest_destroy(&x.dests[i]);
	cline_buf_free(&x.lines);
	sm_config_destroy(&cfg);
	sm_log_close();
	return status;
}
