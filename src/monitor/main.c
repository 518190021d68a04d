/*
 * stackmon-monitor — the compute-node daemon (DESIGN.md, paper §3.2). It
 * reads top to bottom: options and config, logging, then the resources
 * (ZeroMQ, the publisher and its sampler, which runs libvirt's event
 * loop), then the fixed-rate loop, then an orderly shutdown. Exit codes: 0 ok, 1 runtime failure, 2 usage or
 * configuration error.
 *
 * The paper's monitor drives a *set* of DomainStatPublishers. Here the set
 * has one member, the libvirt publisher: the host (dom0) tracker belongs to
 * the same AggregateDomainStats frame rather than publishing its own, so
 * there is no second implementation to justify a function-pointer interface
 * (STYLE.md, practice 2). A second publisher would be added beside it here.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "nova_meta.h"
#include "publisher.h"
#include "sm_cli.h"
#include "sm_clock.h"
#include "sm_config.h"
#include "sm_daemon.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_upstream.h"
#include "sm_wire.h"

#define PROGRAM "stackmon-monitor"
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define ONCE_WARMUP_S 1.0 /* --once: seconds between the two samples */
#define ONCE_WAIT_S 15.0  /* --once: longest wait for one libvirt pass */

/* The monitor's own keys; the transport keys of sm_sock are appended. */
static const struct sm_config_key monitor_keys[] = {
	{"uri", SM_CFG_STRING, 0, 0, NULL,
	 "libvirt connection URI (unset: libvirt's default connection)"},
	{"publish", SM_CFG_LIST, 0, 0, NULL,
	 "collector fan-in endpoints, most preferred first; FANIN or FANIN=HEARTBEAT_ENDPOINT, "
	 "each optionally ending @KEYFILE (that collector's public key, with curve)"},
	{"interval", SM_CFG_DOUBLE, 0.05, 3600, "1", "seconds between two reports"},
	{"host", SM_CFG_STRING, 0, 0, NULL,
	 "name this node reports as, [A-Za-z0-9._-] (unset: the hostname)"},
	{"failover", SM_CFG_DOUBLE, 0.1, 86400, "5",
	 "seconds without a collector's heartbeat before moving to the next one"},
	{"log_level", SM_CFG_STRING, 0, 0, "info", "err, warning, notice, info or debug"},
	{"max_frame", SM_CFG_INT, 4096, 1073741824, "8388608",
	 "largest stats frame sent, in bytes (bigger ones are dropped and logged)"},
	{"memory_interval", SM_CFG_DOUBLE, 0, 3600, "5",
	 "seconds between reads of each guest's memory statistics (its balloon driver's "
	 "view; 0 = every interval); the last figures are reported in between"},
	{"libvirt_calls", SM_CFG_INT, 1, 8, "4",
	 "libvirt calls in flight at once where domains are sampled one by one (drivers "
	 "without bulk statistics: Xen's libxl, the test driver); libvirtd serves 5 at once per "
	 "client by default"},
	{"libvirt_pipeline", SM_CFG_BOOL, 0, 0, "yes",
	 "where domains are sampled one by one through a local libvirt daemon, send their "
	 "statistics calls over its read-only socket with libvirt_calls in flight, instead of "
	 "one round trip at a time through libvirt's client library (which costs more CPU per "
	 "call than libvirtd does)"},
	{"cpu_from_kernel", SM_CFG_BOOL, 0, 0, "yes",
	 "read a local QEMU domain's CPU time and vCPU waits from its cgroup and /proc, as "
	 "libvirt does, instead of asking libvirt (which makes QEMU answer two monitor "
	 "commands per domain per interval)"},
	{"full_interval", SM_CFG_DOUBLE, 0, 3600, "30",
	 "seconds between two full records of a domain (names, Nova identity, absolute "
	 "counters); brief records in between, and all full when the collector's heartbeats say "
	 "a subscriber joined (0 = every record full)"},
};
#define MONITOR_NKEYS (sizeof(monitor_keys) / sizeof(monitor_keys[0]))

/* Everything main needs from the configuration, checked. */
struct settings {
	const char *uri;              /* NULL = libvirt's default */
	char host[SM_HOST_MAX + 1];
	double interval;
	double failover;
	double memory_interval;
	double full_interval;
	unsigned libvirt_calls;
	bool cpu_from_kernel;
	bool libvirt_pipeline;
	size_t max_frame;
	enum sm_log_level log_level;
	size_t npublish;
	const char **publish;         /* points into the config */
};

/* The monitor's keys followed by the socket options every daemon shares. */
static struct sm_config *monitor_config_new(void)
{
	return sm_config_new_joined(monitor_keys, MONITOR_NKEYS, sm_sock_config_keys,
				    sm_sock_config_nkeys);
}

/* The hostname made fit for the wire: other characters become '-'. */
static void default_host(char host[SM_HOST_MAX + 1])
{
	char name[HOST_NAME_MAX + 1] = "";
	size_t n = 0;

	if (gethostname(name, sizeof(name)) < 0)
		name[0] = '\0';
	name[HOST_NAME_MAX] = '\0';
	for (const char *c = name; *c && n < SM_HOST_MAX; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';

		host[n++] = ok ? *c : '-';
	}
	host[n] = '\0';
	if (n == 0)
		snprintf(host, SM_HOST_MAX + 1, "localhost");
}

/* Checks and collects the settings; prints what is wrong and returns -1. */
static int settings_read(const struct sm_config *cfg, int verbosity, bool once,
			 struct settings *s)
{
	const char *host = sm_config_string(cfg, "host");
	const char *uri = sm_config_string(cfg, "uri");
	int level = sm_log_level_parse(sm_config_string(cfg, "log_level"));

	memset(s, 0, sizeof(*s));
	s->uri = uri && *uri ? uri : NULL;
	s->interval = sm_config_double(cfg, "interval");
	s->failover = sm_config_double(cfg, "failover");
	s->max_frame = (size_t)sm_config_int(cfg, "max_frame");
	s->memory_interval = sm_config_double(cfg, "memory_interval");
	s->full_interval = sm_config_double(cfg, "full_interval");
	s->libvirt_calls = (unsigned)sm_config_int(cfg, "libvirt_calls");
	s->cpu_from_kernel = sm_config_bool(cfg, "cpu_from_kernel");
	s->libvirt_pipeline = sm_config_bool(cfg, "libvirt_pipeline");
	if (level < 0) {
		fprintf(stderr, "%s: log_level: expected err, warning, notice, info or debug\n",
			PROGRAM);
		return -1;
	}
	level += verbosity;
	s->log_level = level < SM_LOG_ERR ? SM_LOG_ERR : level > SM_LOG_DEBUG ? SM_LOG_DEBUG : level;
	if (host) {
		if (!sm_wire_host_valid(host)) {
			fprintf(stderr, "%s: host: '%s' is not 1-%d characters of [A-Za-z0-9._-]\n",
				PROGRAM, host, SM_HOST_MAX);
			return -1;
		}
		snprintf(s->host, sizeof(s->host), "%s", host);
	} else {
		default_host(s->host);
	}
	s->npublish = sm_config_list_count(cfg, "publish");
	if (s->npublish == 0 && !once) {
		fprintf(stderr, "%s: publish: no collector endpoint given\n", PROGRAM);
		return -1;
	}
	s->publish = calloc(s->npublish + 1, sizeof(*s->publish));
	if (!s->publish)
		return -1;
	for (size_t i = 0; i < s->npublish; i++) {
		s->publish[i] = sm_config_list_item(cfg, "publish", i);
		if (!strstr(s->publish[i], "://")) {
			fprintf(stderr, "%s: publish: '%s' is not a ZeroMQ endpoint\n", PROGRAM,
				s->publish[i]);
			return -1;
		}
	}
	return 0;
}

static void settings_clear(struct settings *s)
{
	free(s->publish);
	s->publish = NULL;
}

/* SIGHUP: re-reads file and options; applies what is safe to change in a
 * running daemon (log level; identities and device lists are re-read), and
 * says which other changes need a restart. */
static void reload(int argc, char **argv, const struct settings *cur, struct publisher *p)
{
	struct sm_config *cfg = monitor_config_new();
	struct sm_cli cli = {.program = PROGRAM, .default_config = "/etc/stackmon/monitor.conf"};
	bool once = false;
	struct sm_cli_flag flags[] = {{"once", "", &once}};
	struct settings s = {0};

	if (!cfg || sm_cli_parse(&cli, cfg, flags, 1, argc, argv) != SM_CLI_RUN ||
	    settings_read(cfg, cli.verbosity, false, &s) < 0) {
		sm_log_warnx("reload: configuration not usable; keeping the running one");
		goto out;
	}
	sm_log_set_level(s.log_level);
	if (strcmp(s.host, cur->host) != 0 || s.interval != cur->interval ||
	    (s.uri == NULL) != (cur->uri == NULL) || (s.uri && strcmp(s.uri, cur->uri) != 0) ||
	    s.npublish != cur->npublish || s.memory_interval != cur->memory_interval ||
	    s.full_interval != cur->full_interval || s.libvirt_calls != cur->libvirt_calls ||
	    s.cpu_from_kernel != cur->cpu_from_kernel || s.libvirt_pipeline != cur->libvirt_pipeline)
		sm_log_notice("reload: uri, publish, interval, memory_interval, full_interval, "
			      "libvirt_calls, libvirt_pipeline, cpu_from_kernel and host take effect "
			      "on restart");
	sm_log_info("reloaded: log level set; identities and devices will be re-read");
out:
	publisher_refresh(p);
	settings_clear(&s);
	sm_config_destroy(&cfg);
}

/* --once: polls the publisher until its pass ends or `wait_s` elapse. */
static void once_wait_pass(struct publisher *p, double wait_s)
{
	int64_t end = sm_clock_mono_ns() + (int64_t)(wait_s * 1e9);

	while (!publisher_pass_done(p) && sm_clock_mono_ns() < end && !sm_daemon_quit_requested())
		usleep(10000);
}

/* Warm-up sample, a second one ONCE_WARMUP_S later, then the frame as JSON. */
static int run_once(struct publisher *p)
{
	int64_t first = sm_clock_mono_ns();
	const void *body;
	size_t len;
	struct sm_message m;
	struct sm_wire_error err;
	int rc = EXIT_RUNTIME;

	publisher_tick(p, first);
	once_wait_pass(p, ONCE_WAIT_S);
	publisher_service(p, sm_clock_mono_ns());
	while (sm_clock_mono_ns() - first < (int64_t)(ONCE_WARMUP_S * 1e9) &&
	       !sm_daemon_quit_requested())
		usleep(10000);
	publisher_tick(p, sm_clock_mono_ns());
	once_wait_pass(p, ONCE_WAIT_S);
	/* Past any deadline: the frame is built now with what is known. */
	publisher_service(p, INT64_MAX);

	publisher_last_frame(p, &body, &len);
	if (sm_wire_decode(body, len, 0, &m, &err) < 0) {
		sm_log_err("--once: the frame does not decode (%s): %s",
			   sm_wire_code_name(err.code), err.msg);
		return EXIT_RUNTIME;
	}
	sm_wire_print_json(&m, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	if (m.u.stats.host.libvirt_ok)
		rc = 0;
	else
		sm_log_err("--once: libvirt did not answer");
	sm_message_clear(&m);
	return rc;
}

/* The daemon's loop: a drift-free tick drives the publisher; zmq_poll
 * waits on the publisher's fd, the collectors' heartbeats and the next
 * deadline. */
static int run_loop(struct publisher *p, struct sm_upstream *up, const struct settings *s,
		    int argc, char **argv)
{
	struct sm_ticker ticker;
	struct sm_complaint overrun = SM_COMPLAINT_INIT;
	zmq_pollitem_t items[1 + 32];
	bool ready = false;	/* READY=1 sent: the first frame is made */
	bool delivered = false; /* a collector has taken the first frame */

	sm_ticker_start(&ticker, (int64_t)(s->interval * 1e9));
	while (!sm_daemon_quit_requested()) {
		int64_t now = sm_clock_mono_ns();
		int timeout = sm_ticker_timeout_ms(&ticker);
		int ptimeout = publisher_timeout_ms(p, now);
		size_t n = 1;

		if (ptimeout >= 0 && ptimeout < timeout)
			timeout = ptimeout;
		timeout = sm_upstream_timeout_ms(up, timeout);
		items[0] = (zmq_pollitem_t){.socket = NULL, .fd = publisher_fd(p), .events = ZMQ_POLLIN};
		n += sm_upstream_pollitems(up, items + 1, sizeof(items) / sizeof(items[0]) - 1);
		if (zmq_poll(items, (int)n, timeout) < 0 && errno != EINTR) {
			sm_log_err("zmq_poll: %s", zmq_strerror(errno));
			return EXIT_RUNTIME;
		}
		now = sm_clock_mono_ns();
		sm_upstream_service(up, now);
		if (sm_ticker_due(&ticker)) {
			uint64_t skipped = sm_ticker_advance(&ticker);

			if (skipped)
				sm_complain(&overrun, SM_LOG_WARNING,
					    "tick late: %llu interval(s) skipped",
					    (unsigned long long)skipped);
			else
				sm_complaint_release(&overrun, "ticks on time again");
			publisher_tick(p, now);
		}
		/* READY means sampling: the first frame is made (flagged if
		 * libvirt has not answered yet). A collector that is not up yet
		 * must not fail the unit's start, so READY never waits for one;
		 * sm_upstream holds frames until it subscribes, and the log
		 * says whether a collector has taken them. */
		if (publisher_service(p, now) > 0 && !ready) {
			ready = true;
			sm_daemon_notify("READY=1");
			if (sm_upstream_held(up) > 0)
				sm_log_info("first frame queued: no collector has subscribed at %s "
					    "yet (held until one does)",
					    sm_upstream_current(up));
		}
		if (ready && !delivered && sm_upstream_held(up) == 0) {
			delivered = true;
			sm_log_info("first frame sent to %s", sm_upstream_current(up));
		}
		if (sm_daemon_take_reload())
			reload(argc, argv, s, p);
	}
	sm_daemon_notify("STOPPING=1");
	return 0;
}

int main(int argc, char **argv)
{
	struct sm_config *cfg = NULL;
	struct sm_cli cli = {
		.program = PROGRAM,
		.summary = "publish this compute node's domain statistics to a collector",
		.default_config = "/etc/stackmon/monitor.conf",
	};
	bool once = false;
	struct sm_cli_flag flags[] = {
		{"once", "take one sample after a 1 s warm-up, print it as JSON, exit", &once},
	};
	struct settings s = {0};
	struct sm_sock_opts sock_opts;
	void *zctx = NULL;
	struct sm_upstream *up = NULL;
	struct publisher *pub = NULL;
	struct publisher_config pcfg;
	bool xml_ready = false, running = false;
	int rc = EXIT_USAGE;

	/* Options and configuration. */
	cfg = monitor_config_new();
	if (!cfg) {
		fprintf(stderr, "%s: out of memory\n", PROGRAM);
		rc = EXIT_RUNTIME;
		goto out;
	}
	rc = sm_cli_start(&cli, cfg, flags, 1, argc, argv);
	if (rc != SM_CLI_CONTINUE)
		goto out;
	rc = EXIT_USAGE;
	if (settings_read(cfg, cli.verbosity, once, &s) < 0)
		goto out;
	/* A missing, malformed or group-readable key file stops us here,
	 * named on stderr, and -n finds it too: never a fall-back to plain
	 * text. (--once publishes nothing and needs no keys.) */
	if (!once && sm_sock_opts_from_config(&sock_opts, cfg) < 0)
		goto out;
	/* The level the config file asks for (-n prints nothing through it). */
	sm_log_open(PROGRAM, s.log_level, cli.use_syslog);
	rc = sm_cli_ready(&cli);
	if (rc != SM_CLI_CONTINUE)
		goto out;
	rc = EXIT_RUNTIME;

	/* Resources. (The sampler registers libvirt's event loop and runs it
	 * between passes.) */
	nova_meta_init();
	xml_ready = true;
	if (!once) {
		zctx = zmq_ctx_new();
		if (!zctx) {
			sm_log_err("zmq_ctx_new: %s", zmq_strerror(errno));
			goto out;
		}
		up = sm_upstream_new(zctx, s.publish, s.npublish, &sock_opts, s.failover);
		if (!up)
			goto out;
	}
	pcfg = (struct publisher_config){
		.uri = s.uri,
		.host = s.host,
		.interval = s.interval,
		.max_frame = s.max_frame,
		.memory_interval = s.memory_interval,
		.libvirt_calls = s.libvirt_calls,
		.libvirt_cpu = !s.cpu_from_kernel,
		.no_pipeline = !s.libvirt_pipeline,
		/* --once prints one frame, which must stand on its own */
		.full_interval = once ? 0 : s.full_interval,
	};
	pub = publisher_new(&pcfg, up);
	if (!pub || publisher_start(pub) < 0)
		goto out;
	if (!once)
		sm_log_info("monitoring libvirt %s as %s every %g s", s.uri ? s.uri : "(default)",
			    s.host, s.interval);

	/* The loop. */
	running = !once;
	rc = once ? run_once(pub) : run_loop(pub, up, &s, argc, argv);

	/* Orderly shutdown: the sampler and libvirt first, then ZeroMQ. */
out:
	publisher_destroy(&pub);
	sm_upstream_destroy(&up);
	if (zctx)
		zmq_ctx_term(zctx);
	if (xml_ready)
		nova_meta_cleanup();
	settings_clear(&s);
	sm_config_destroy(&cfg);
	if (running)
		sm_log_info("stopped");
	return rc;
}
