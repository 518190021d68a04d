/*
 * stackmon-collector — the stable point every monitor sends to and every
 * consumer listens on (DESIGN.md; paper §3.2). Reads top to bottom: options
 * and config → checks (-n) → limits and sockets → relay loop (fan-in to
 * fan-out and upstream, heartbeats, self-stats) → orderly shutdown.
 * The parts: envelope (checks), loss (sequence accounting), relay (data
 * path), selfmon (heartbeats and counters); fail-over is sm_upstream.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "relay.h"
#include "selfmon.h"
#include "sm_cli.h"
#include "sm_clock.h"
#include "sm_config.h"
#include "sm_daemon.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_wire.h"
#include "sm_zap.h"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Messages relayed per loop turn before timers are looked at again. */
#define PUMP_BUDGET 2048
/* Upper bound on a poll, so upstream fail-over is decided promptly. */
#define SERVICE_MS 100
/* The most a stop spends relaying what is still on the fan-in (usually
 * 300 ms: publishers hold once told that it stops). */
#define DRAIN_MS 1000

static const struct sm_config_key collector_keys[] = {
    {"fan_in", SM_CFG_LIST, 0, 0, "tcp://*:5555",
     "endpoint to bind a SUB on for monitors and lower collectors (repeatable)"},
    {"fan_out", SM_CFG_LIST, 0, 0, "tcp://*:5556",
     "endpoint to bind the PUB on for consumers and heartbeat watchers (repeatable)"},
    {"upstream", SM_CFG_LIST, 0, 0, NULL,
     "higher collector as FANIN=FANOUT[@KEYFILE], most preferred first (repeatable); "
     "makes this an intermediate collector; KEYFILE: its public key, with curve"},
    {"name", SM_CFG_STRING, 0, 0, NULL,
     "collector name in its topics, [A-Za-z0-9._-]; unset: the host name"},
    {"heartbeat_interval", SM_CFG_DOUBLE, 0.05, 60, "1", "seconds between heartbeats"},
    {"stats_interval", SM_CFG_DOUBLE, 0.1, 3600, "10", "seconds between self-monitoring reports"},
    {"failover", SM_CFG_DOUBLE, 0.1, 3600, "3",
     "seconds without upstream heartbeats before switching to the next upstream"},
    {"max_frame", SM_CFG_INT, 1024, 1073741824, "8388608",
     "largest body relayed, bytes; bigger frames are dropped and counted"},
    {"check_body", SM_CFG_BOOL, 0, 0, "yes",
     "check every frame's whole msgpack structure (no: its header only, a cost that does"
     " not grow with the frame; for a master whose fan-in only collectors reach)"},
    {"max_publishers", SM_CFG_INT, 1, 65536, "65536",
     "senders tracked for loss accounting; beyond, the least recently heard is forgotten"},
    {"publisher_expiry", SM_CFG_DOUBLE, 1, 604800, "300",
     "seconds of silence after which a sender leaves the loss table"},
    {"io_threads", SM_CFG_INT, 1, 64, "1", "ZeroMQ I/O threads"},
    {"curve_allow_dir", SM_CFG_STRING, 0, 0, NULL,
     "with curve: directory of the public key files (NAME.key) allowed to connect; "
     "re-read on SIGHUP"},
    {"require_known_origin", SM_CFG_BOOL, 0, 0, "no",
     "with curve: drop relayed frames whose origin identity is not in curve_allow_dir "
     "(no: pass them, counted as origin_unknown)"},
    {"startup_grace", SM_CFG_DOUBLE, 0, 60, "2",
     "seconds the fan-in is held at start, so that subscribers reconnect before frames "
     "monitors held for this collector are relayed (0 = relay at once)"},
    {"grace_subscribers", SM_CFG_INT, 0, 65536, "0",
     "end the start-up grace early once this many subscriptions for frames are on the "
     "fan-out (0 = always wait startup_grace)"},
};

#define NCOLLECTOR_KEYS (sizeof(collector_keys) / sizeof(collector_keys[0]))

int main(int argc, char **argv)
{
	struct sm_cli cli = {.program = "stackmon-collector",
			     .summary = "Relay StackMon frames from monitors to consumers "
					"(fan-in/fan-out), with heartbeats and fail-over.",
			     .default_config = "/etc/stackmon/collector.conf"};
	struct sm_config *cfg = sm_config_new_joined(collector_keys, NCOLLECTOR_KEYS,
						     sm_sock_config_keys, sm_sock_config_nkeys);
	struct relay_config rc = {0};
	struct sm_sock_opts opts;
	const char **fan_in = NULL, **fan_out = NULL, **upstream = NULL;
	char hostname[SM_HOST_MAX + 2] = "";
	const char *name;
	double hb_interval, stats_interval;
	struct sm_ticker hb_tick, stats_tick;
	zmq_pollitem_t *items = NULL;
	size_t nitems;
	void *zctx = NULL;
	struct relay *relay = NULL;
	struct selfmon *self = NULL;
	struct sm_zap *zap = NULL;
	const char *allow_dir;
	long fds;
	char err[512];
	int status = EXIT_RUNTIME;

	if (!cfg)
		return EXIT_RUNTIME;
	status = sm_cli_start(&cli, cfg, NULL, 0, argc, argv);
	if (status != SM_CLI_CONTINUE)
		goto out;
	status = EXIT_RUNTIME;

	/* ---- configuration ---- */
	fan_in = sm_config_list_array(cfg, "fan_in", &rc.nfan_in);
	fan_out = sm_config_list_array(cfg, "fan_out", &rc.nfan_out);
	upstream = sm_config_list_array(cfg, "upstream", &rc.nupstream);
	if (!fan_in || !fan_out || !upstream)
		goto out;
	rc.fan_in = fan_in;
	rc.fan_out = fan_out;
	rc.upstream = upstream;
	rc.failover_s = sm_config_double(cfg, "failover");
	rc.max_frame = (size_t)sm_config_int(cfg, "max_frame");
	rc.envelope_only = !sm_config_bool(cfg, "check_body");
	rc.max_senders = (size_t)sm_config_int(cfg, "max_publishers");
	rc.sender_expiry_s = sm_config_double(cfg, "publisher_expiry");
	rc.require_known_origin = sm_config_bool(cfg, "require_known_origin");
	rc.startup_grace_s = sm_config_double(cfg, "startup_grace");
	rc.grace_subscriptions = (size_t)sm_config_int(cfg, "grace_subscribers");
	if (sm_sock_opts_from_config(&opts, cfg) < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	rc.opts = &opts;
	/* The fan-in receives frames up to max_frame: ZeroMQ must let them in,
	 * or it drops the sender instead of the relay counting too_big. */
	if (sm_sock_limits_check(opts.max_msg_size, (long long)rc.max_frame, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "stackmon-collector: %s\n", err);
		status = EXIT_USAGE;
		goto out;
	}
	allow_dir = sm_config_string(cfg, "curve_allow_dir");
	if (opts.curve && !allow_dir) {
		fprintf(stderr, "stackmon-collector: curve = yes needs curve_allow_dir (the public "
				"keys allowed to connect)\n");
		status = EXIT_USAGE;
		goto out;
	}
	hb_interval = sm_config_double(cfg, "heartbeat_interval");
	stats_interval = sm_config_double(cfg, "stats_interval");
	name = sm_config_string(cfg, "name");
	if (!name || !*name) {
		if (gethostname(hostname, sizeof(hostname) - 1) < 0)
			hostname[0] = '\0';
		name = hostname;
	}
	if (!sm_wire_host_valid(name)) {
		fprintf(stderr,
			"stackmon-collector: name '%s' is not usable on the wire "
			"(1-%d bytes of [A-Za-z0-9._-]); set --name\n",
			name, SM_HOST_MAX);
		status = EXIT_USAGE;
		goto out;
	}
	if (rc.nfan_in == 0 || rc.nfan_out == 0) {
		fprintf(stderr, "stackmon-collector: need at least one fan_in and one fan_out\n");
		status = EXIT_USAGE;
		goto out;
	}
	status = sm_cli_ready(&cli);
	if (status != SM_CLI_CONTINUE)
		goto out;
	status = EXIT_RUNTIME;

	/* ---- resources ---- */
	/* Each publisher connection costs one file descriptor, so the soft
	 * limit (often 1024) caps how many monitors we can serve: raise it
	 * to the hard limit. */
	fds = sm_daemon_raise_fd_limit(0);
	zctx = zmq_ctx_new();
	if (!zctx || zmq_ctx_set(zctx, ZMQ_IO_THREADS, (int)sm_config_int(cfg, "io_threads")) < 0) {
		sm_log_err("zmq context: %s", zmq_strerror(errno));
		goto out;
	}
	/* The ZAP handler first: a CURVE server bound without one would admit
	 * any client. */
	if (opts.curve && !(zap = sm_zap_new(zctx, allow_dir)))
		goto out;
	rc.zap = zap;
	relay = relay_new(zctx, &rc);
	self = selfmon_new(name, hb_interval, stats_interval);
	/* fan-ins, the fan-out, the upstream's XPUB and heartbeat SUBs, the
	 * ZAP handler */
	nitems = rc.nfan_in + rc.nupstream + 3;
	items = calloc(nitems, sizeof(*items));
	if (!relay || !self || !items)
		goto out;
	sm_log_notice("collector %s: fan-in %s%s, fan-out %s%s, %s%s; relays bodies up to "
		      "max_frame = %zu bytes (consumers need at least as much); file descriptor "
		      "limit %ld (one per connected publisher)",
		      name, fan_in[0], rc.nfan_in > 1 ? " (+more)" : "", fan_out[0],
		      rc.nfan_out > 1 ? " (+more)" : "",
		      rc.nupstream ? "intermediate, upstream " : "master",
		      rc.nupstream ? upstream[0] : "", rc.max_frame, fds);
	sm_daemon_notify("READY=1");

	/* ---- loop ---- */
	status = 0;
	sm_ticker_start(&hb_tick, (int64_t)(hb_interval * (double)SM_NS_PER_SEC));
	sm_ticker_start(&stats_tick, (int64_t)(stats_interval * (double)SM_NS_PER_SEC));
	while (!sm_daemon_quit_requested()) {
		size_t n = relay_pollitems(relay, items, nitems - 1);
		int timeout = SERVICE_MS;
		int64_t now;

		if (sm_ticker_timeout_ms(&hb_tick) < timeout)
			timeout = sm_ticker_timeout_ms(&hb_tick);
		if (sm_ticker_timeout_ms(&stats_tick) < timeout)
			timeout = sm_ticker_timeout_ms(&stats_tick);
		timeout = relay_timeout_ms(relay, sm_clock_mono_ns(), timeout);
		if (zap)
			items[n++] = (zmq_pollitem_t){.socket = sm_zap_socket(zap),
						      .events = ZMQ_POLLIN};
		if (zmq_poll(items, (int)n, timeout) < 0 && errno != EINTR) {
			sm_log_err("zmq_poll: %s", zmq_strerror(errno));
			status = EXIT_RUNTIME;
			break;
		}
		now = sm_clock_mono_ns();
		if (zap)
			sm_zap_serve(zap, 64);
		relay_pump(relay, PUMP_BUDGET, now);
		relay_service(relay, now);
		if (sm_ticker_due(&hb_tick)) {
			selfmon_heartbeat(self, relay);
			if (sm_ticker_advance(&hb_tick) > 0)
				sm_log_info(
				    "heartbeat late: the loop was busy longer than an interval");
		}
		if (sm_ticker_due(&stats_tick)) {
			selfmon_stats(self, relay, now);
			relay_complaints_tick(relay);
			sm_ticker_advance(&stats_tick);
		}
		if (sm_daemon_take_reload()) {
			if (zap)
				sm_zap_reload(zap);
			else
				sm_log_notice("SIGHUP: nothing to reopen; restart to apply a new "
					      "configuration");
		}
	}
	sm_daemon_notify("STOPPING=1");
	sm_log_notice("collector %s stopping", name);
	{
		/* Frames that arrived in the last moments would go with the
		 * sockets: relay them first. */
		size_t late = relay_drain(relay, DRAIN_MS);

		if (late)
			sm_log_info("relayed %zu message(s) that arrived while stopping", late);
	}

out:
	relay_destroy(&relay);
	sm_zap_destroy(&zap);
	selfmon_destroy(&self);
	if (zctx)
		zmq_ctx_term(zctx);
	free(items);
	free(fan_in);
	free(fan_out);
	free(upstream);
	sm_config_destroy(&cfg);
	sm_log_close();
	return status;
}
