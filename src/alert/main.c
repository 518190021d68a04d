/*
 * stackmon-alert — subscribes to collectors' fan-outs, evaluates the rules
 * of /etc/stackmon/alert.rules on the latest figures of every domain and
 * node once a second, and tells each transition to Prometheus
 * Alertmanager, a command hook and its own "alert/" fan-out
 * (docs/ALERTS.md). Reads top to bottom: options and config → checks (-n
 * checks the rules file too, naming file:line) → state restored → socket,
 * ZAP handler (with curve and publish), notifiers → loop (drain frames,
 * answer ZAP, evaluate, notify, save) → orderly
 * shutdown. The parts: rules (the file), eval (values and states),
 * statefile (restart memory), am, hook, apub (the three receivers),
 * firing file (the dashboard's view, src/store/firing). One thread.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "alert_json.h"
#include "am.h"
#include "apub.h"
#include "eval.h"
#include "firing.h"
#include "hook.h"
#include "rules.h"
#include "sm_cli.h"
#include "sm_clock.h"
#include "sm_config.h"
#include "sm_daemon.h"
#include "sm_intake.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_sockwatch.h"
#include "sm_zap.h"
#include "statefile.h"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

#define DEFAULT_RULES "/etc/stackmon/alert.rules"

#define HOOK_POLL_MS 50	  /* loop wake-up while hooks run */
#define DUE_GAP_S    0.1  /* passes for pending alerts whose duration is up: at most 10 a second */

static const struct sm_config_key alert_keys[] = {
    {"subscribe", SM_CFG_LIST, 0, 0, "tcp://127.0.0.1:5556",
     "collector fan-out endpoint to subscribe to, optionally ENDPOINT@KEYFILE with curve"
     " (repeatable: one SUB socket connects to all)"},
    SM_SOCK_HOST_PREFIX_KEY,
    {"rules", SM_CFG_STRING, 0, 0, DEFAULT_RULES,
     "the rules file (docs/ALERTS.md; re-read on SIGHUP, checked by -n)"},
    {"data_dir", SM_CFG_STRING, 0, 0, "/var/lib/stackmon/alert",
     "directory of the state file (restored after a restart) and the firing file the"
     " dashboard reads"},
    {"eval_interval", SM_CFG_DOUBLE, 0.1, 60, "1", "seconds between two evaluation passes"},
    {"state_interval", SM_CFG_DOUBLE, 1, 3600, "10",
     "seconds between two writes of the state file when nothing changed (a transition"
     " writes it at once)"},
    {"forget_after", SM_CFG_DOUBLE, 0, 31536000, "86400",
     "seconds without a frame before a node and its domains are forgotten (their alerts"
     " resolve); 0 = never"},
    {"max_hosts", SM_CFG_INT, 0, 1e9, "10000",
     "nodes held in all; frames of further new nodes are left out and counted (0 = no"
     " limit)"},
    {"max_domains_per_host", SM_CFG_INT, 0, 1e9, "1024",
     "domains held for one node; its further new domains are left out and counted (0 = no"
     " limit)"},
    {"alertmanager", SM_CFG_LIST, 0, 0, NULL,
     "Alertmanager base URL, e.g. http://127.0.0.1:9093 (repeatable: every one gets every"
     " alert)"},
    {"alertmanager_resend", SM_CFG_DOUBLE, 1, 3600, "60",
     "seconds between two sends of a firing alert (endsAt is four of them ahead)"},
    {"alertmanager_timeout", SM_CFG_DOUBLE, 0.1, 60, "2",
     "seconds an Alertmanager request may take"},
    {"hook", SM_CFG_STRING, 0, 0, NULL,
     "command run for every transition: an absolute path and arguments separated by"
     " spaces, no shell; the alert as JSON on stdin"},
    {"hook_timeout", SM_CFG_DOUBLE, 0.1, 3600, "10", "seconds before a hook run is killed"},
    {"hook_max", SM_CFG_INT, 1, 64, "4", "hook runs at once; more transitions wait"},
    {"publish", SM_CFG_STRING, 0, 0, NULL,
     "endpoint to bind the alert/ fan-out on (e.g. ipc:///run/stackmon/alert.sock);"
     " unset = none"},
    {"publish_allow_dir", SM_CFG_STRING, 0, 0, NULL,
     "with curve: directory of the public key files (NAME.key) allowed to subscribe to"
     " the alert/ fan-out; required with curve and publish"},
    {"max_frame", SM_CFG_INT, 1024, 1073741824, "8388608",
     "largest frame body accepted, bytes; bigger ones are dropped and counted"},
};

#define NALERT_KEYS (sizeof(alert_keys) / sizeof(alert_keys[0]))

/* What the loop and the callbacks share. */
struct alerter {
	struct eval *eval;
	struct am *am;	    /* NULL without alertmanager */
	struct hook *hook;  /* NULL without hook */
	struct apub *pub;   /* NULL without publish */
	struct sm_zap *zap; /* the publish socket's allow list; NULL without curve or publish */
	char state_path[4096];
	char firing_path[4096];
	bool dirty; /* a transition since the last save */
	double now; /* wall clock of the current loop turn */
	struct sm_complaint save_fail;
};

/* Every transition: logged, then to each receiver. */
static void on_transition(void *ctx, const struct alert_info *a)
{
	struct alerter *x = ctx;
	bool firing = a->state == ALERT_FIRING;

	x->dirty = true;
	sm_log_notice("alert %s %s on %s%s%s%s%s (value %g%s%s)", a->rule->name,
		      firing ? "firing" : "resolved", a->host, a->uuid[0] ? " domain " : "",
		      a->uuid, a->device[0] ? " device " : "", a->device, a->value,
		      firing ? "" : ", ", firing ? "" : (a->reason ? a->reason : "cleared"));
	if (x->am)
		am_note(x->am, a, x->now);
	if (x->hook)
		hook_note(x->hook, a, x->now);
	if (x->pub)
		apub_send(x->pub, a, x->now);
}

/* ---- the intake's sink ---- */

static void sink_stats(void *ctx, const struct sm_message *m, int64_t now_ns, bool complete)
{
	struct alerter *x = ctx;

	(void)now_ns;
	eval_apply_stats(x->eval, m, sm_clock_wall(), complete, on_transition, x);
}

static void sink_event(void *ctx, const struct sm_message *m)
{
	struct alerter *x = ctx;

	eval_apply_event(x->eval, m, on_transition, x);
}

static void sink_lost(void *ctx, const struct sm_header *h, uint64_t lost)
{
	struct alerter *x = ctx;

	if (h->kind == SM_KIND_STATS)
		eval_note_frame(x->eval, h->host, lost);
}

/* ---- files ---- */

static void put_firing(void *ctx, const struct alert_info *a)
{
	FILE *f = ctx;
	struct firing_row r = {.since = a->since, .value = a->value};
	const struct rule *rule = a->rule;

	if (a->state != ALERT_FIRING)
		return;
	snprintf(r.rule, sizeof(r.rule), "%s", rule->name);
	snprintf(r.severity, sizeof(r.severity), "%s", rule->severity);
	snprintf(r.host, sizeof(r.host), "%s", a->host);
	snprintf(r.uuid, sizeof(r.uuid), "%s", a->uuid);
	snprintf(r.project_id, sizeof(r.project_id), "%s", a->project_id);
	snprintf(r.domain, sizeof(r.domain), "%s", a->domain);
	snprintf(r.name, sizeof(r.name), "%s", a->display_name);
	snprintf(r.device, sizeof(r.device), "%s", a->device);
	snprintf(r.expr, sizeof(r.expr), "%s", rule->expr);
	for (size_t i = 0; i < rule->nannotations; i++)
		if (strcmp(rule->annotations[i].key, "summary") == 0)
			snprintf(r.summary, sizeof(r.summary), "%s", rule->annotations[i].value);
	firing_put_row(f, &r);
}

/* Writes the state file and the firing file, each atomically. */
static void save(struct alerter *x)
{
	char err[512];
	struct afile f;
	int rc = statefile_save(x->eval, x->state_path, err, sizeof(err));

	if (rc == 0 && (rc = afile_open(&f, x->firing_path, err, sizeof(err))) == 0) {
		eval_foreach(x->eval, put_firing, f.f);
		rc = afile_commit(&f, err, sizeof(err));
	}
	if (rc < 0) {
		sm_complain(&x->save_fail, SM_LOG_ERR, "cannot save the alert state: %s", err);
		return;
	}
	x->dirty = false;
	sm_complaint_release(&x->save_fail, "alert state saved again");
}

/* ---- configuration ---- */

/* Checks what goes together and the rules file. EXIT_USAGE (explained) or 0;
 * *rules is the parsed file. */
static int check_config(const struct sm_config *cfg, struct rule_set **rules)
{
	const char *path = sm_config_string(cfg, "rules");
	char err[1024];

	if (sm_config_list_count(cfg, "subscribe") == 0) {
		fprintf(stderr, "stackmon-alert: need at least one subscribe endpoint\n");
		return EXIT_USAGE;
	}
	if (!path || !sm_config_string(cfg, "data_dir")) {
		fprintf(stderr, "stackmon-alert: rules and data_dir may not be empty\n");
		return EXIT_USAGE;
	}
	if (sm_sock_limits_check(sm_config_int(cfg, "max_msg_size"),
				 sm_config_int(cfg, "max_frame"), err, sizeof(err)) < 0 ||
	    sm_sock_host_prefix_check(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "stackmon-alert: %s\n", err);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sm_config_list_count(cfg, "alertmanager"); i++) {
		const char *u = sm_config_list_item(cfg, "alertmanager", i);

		if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
			fprintf(stderr,
				"stackmon-alert: alertmanager %s: not an http:// or"
				" https:// URL\n",
				u);
			return EXIT_USAGE;
		}
	}
	/* A CURVE server without an allow list would admit nobody (or, without
	 * a ZAP handler, anybody): the alerts carry every tenant's names. */
	if (sm_config_bool(cfg, "curve") && sm_config_string(cfg, "publish") &&
	    !sm_config_string(cfg, "publish_allow_dir")) {
		fprintf(stderr, "stackmon-alert: curve = yes with publish needs publish_allow_dir"
				" (the public keys allowed to subscribe)\n");
		return EXIT_USAGE;
	}
	if (sm_config_string(cfg, "hook")) {
		struct hook *h = hook_new(sm_config_string(cfg, "hook"), 1, 1, err, sizeof(err));

		if (!h) {
			fprintf(stderr, "stackmon-alert: %s\n", err);
			return EXIT_USAGE;
		}
		hook_destroy(&h);
	}
	/* As with the configuration file, the default one may be missing (no
	 * rules: nothing fires); one named elsewhere must exist. */
	if (strcmp(path, DEFAULT_RULES) == 0 && access(path, F_OK) != 0 && errno == ENOENT) {
		fprintf(stderr, "stackmon-alert: %s does not exist: no rules, nothing will fire\n",
			path);
		*rules = rules_parse(path, "", err, sizeof(err));
	} else {
		*rules = rules_load(path, err, sizeof(err));
	}
	if (!*rules) {
		fprintf(stderr, "stackmon-alert: %s\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

/* SIGHUP: reopens the log, re-reads the publish allow list (a failure keeps
 * the old one) and the rules file; a bad one is refused (logged with its
 * file:line) and the old rules stay. */
static void reload(struct alerter *x, const struct sm_cli *cli, const char *path)
{
	char err[1024];
	struct rule_set *rules;

	sm_log_open("stackmon-alert", SM_LOG_NOTICE + cli->verbosity, cli->use_syslog);
	if (x->zap)
		sm_zap_reload(x->zap);
	rules = rules_load(path, err, sizeof(err));
	if (!rules) {
		sm_log_err("SIGHUP: rules not reloaded, keeping the old ones: %s", err);
		return;
	}
	x->now = sm_clock_wall();
	if (eval_set_rules(x->eval, &rules, on_transition, x) < 0) {
		sm_log_err("SIGHUP: out of memory; keeping the old rules");
		rules_free(&rules);
		return;
	}
	sm_log_notice("SIGHUP: %zu rules loaded from %s", eval_rules(x->eval)->n, path);
}

static int open_receivers(struct alerter *x, const struct sm_config *cfg, void *zctx,
			  const struct sm_sock_opts *opts)
{
	size_t nam = sm_config_list_count(cfg, "alertmanager");
	char err[512];

	if (nam) {
		const char **urls = sm_config_list_array(cfg, "alertmanager", &nam);

		x->am = urls ? am_new(urls, nam, sm_config_double(cfg, "alertmanager_resend"),
				      sm_config_double(cfg, "alertmanager_timeout"))
			     : NULL;
		free(urls);
		if (!x->am) {
			sm_log_err("cannot set up the Alertmanager client");
			return -1;
		}
	}
	if (sm_config_string(cfg, "hook")) {
		x->hook =
		    hook_new(sm_config_string(cfg, "hook"), sm_config_double(cfg, "hook_timeout"),
			     (size_t)sm_config_int(cfg, "hook_max"), err, sizeof(err));
		if (!x->hook) {
			sm_log_err("%s", err);
			return -1;
		}
	}
	if (sm_config_string(cfg, "publish")) {
		x->pub = apub_new(zctx, sm_config_string(cfg, "publish"), opts);
		if (!x->pub)
			return -1;
	}
	return 0;
}

/* The data directory, made when missing (mode 0750). */
static int data_dir_ready(struct alerter *x, const char *dir)
{
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		sm_log_err("data_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(x->state_path, sizeof(x->state_path), "%s/%s", dir, STATE_FILE) >=
		sizeof(x->state_path) ||
	    (size_t)snprintf(x->firing_path, sizeof(x->firing_path), "%s/%s", dir, FIRING_FILE) >=
		sizeof(x->firing_path)) {
		sm_log_err("data_dir %s: path too long", dir);
		return -1;
	}
	return 0;
}

/* What the alerter subscribes to, per host_prefix (plus every collector's hb/). */
static const char *const kinds[] = {"stats", "event"};

int main(int argc, char **argv)
{
	struct sm_cli cli = {.program = "stackmon-alert",
			     .summary = "Evaluate alert rules on StackMon's figures and notify"
					" Alertmanager, a hook and subscribers.",
			     .default_config = "/etc/stackmon/alert.conf"};
	struct sm_config *cfg = sm_config_new_joined(alert_keys, NALERT_KEYS, sm_sock_config_keys,
						     sm_sock_config_nkeys);
	struct alerter x = {0};
	struct rule_set *rules = NULL;
	struct sm_sock_opts opts;
	struct sm_ticker tick, save_tick;
	struct sm_sockwatch *watch = NULL;
	struct sm_intake *intake = NULL;
	struct statefile_result restored;
	void *zctx = NULL, *sub = NULL;
	char err[1024];
	double forget_after, last_pass = 0;
	int status;

	if (!cfg)
		return EXIT_RUNTIME;
	status = sm_cli_start(&cli, cfg, NULL, 0, argc, argv);
	if (status != SM_CLI_CONTINUE)
		goto out;

	/* ---- configuration ---- */
	status = check_config(cfg, &rules);
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
	forget_after = sm_config_double(cfg, "forget_after");

	/* ---- state ---- */
	if (data_dir_ready(&x, sm_config_string(cfg, "data_dir")) < 0)
		goto out;
	x.eval = eval_new(&rules);
	if (!x.eval)
		goto out;
	eval_set_limits(x.eval, (size_t)sm_config_int(cfg, "max_hosts"),
			(size_t)sm_config_int(cfg, "max_domains_per_host"));
	x.now = sm_clock_wall();
	if (statefile_load(x.eval, x.state_path, x.now, &restored, err, sizeof(err)) < 0) {
		sm_log_err("%s (move it away to start afresh)", err);
		goto out;
	}

	/* ---- resources ---- */
	zctx = zmq_ctx_new();
	if (!zctx || !(watch = sm_sockwatch_subscribe(zctx, cfg, &opts, kinds, 2, &sub)))
		goto out;
	{
		struct sm_intake_sink sink = {
		    .ctx = &x, .stats = sink_stats, .event = sink_event, .lost = sink_lost};

		intake = sm_intake_new(&sink, (size_t)sm_config_int(cfg, "max_frame"), watch);
	}
	/* The ZAP handler before the publish socket binds: a CURVE server
	 * bound without one would admit any client. */
	if (!intake || (opts.curve && sm_config_string(cfg, "publish") &&
			!(x.zap = sm_zap_new(zctx, sm_config_string(cfg, "publish_allow_dir")))))
		goto out;
	if (open_receivers(&x, cfg, zctx, &opts) < 0)
		goto out;
	save(&x);
	sm_log_notice("alert: %zu rules from %s; %zu pairs and %zu nodes restored (%zu skipped);"
		      " subscribed to %s%s; alertmanager %s, hook %s, publish %s%s",
		      eval_rules(x.eval)->n, sm_config_string(cfg, "rules"), restored.pairs,
		      restored.hosts, restored.skipped, sm_config_list_item(cfg, "subscribe", 0),
		      sm_config_list_count(cfg, "subscribe") > 1 ? " (+more)" : "",
		      x.am ? sm_config_list_item(cfg, "alertmanager", 0) : "none",
		      x.hook ? sm_config_string(cfg, "hook") : "none",
		      x.pub ? sm_config_string(cfg, "publish") : "none",
		      x.zap ? " (curve, publish_allow_dir keys only)" : "");
	sm_daemon_notify("READY=1");

	/* ---- loop ---- */
	status = 0;
	sm_ticker_start(&tick, (int64_t)(sm_config_double(cfg, "eval_interval") * 1e9));
	sm_ticker_start(&save_tick, (int64_t)(sm_config_double(cfg, "state_interval") * 1e9));
	while (!sm_daemon_quit_requested()) {
		zmq_pollitem_t items[3] = {
		    {.socket = sub, .events = ZMQ_POLLIN},
		    sm_sockwatch_pollitem(watch),
		    {.socket = x.zap ? sm_zap_socket(x.zap) : NULL, .events = ZMQ_POLLIN}};
		int timeout = sm_ticker_timeout_ms(&tick);
		double due = eval_next_due(x.eval);
		bool due_pass;

		if (due > 0) {
			double ms = (fmax(due, last_pass + DUE_GAP_S) - sm_clock_wall()) * 1000 + 1;

			timeout = ms < 0 ? 0 : ms < timeout ? (int)ms : timeout;
		}
		if (x.hook && hook_busy(x.hook) && timeout > HOOK_POLL_MS)
			timeout = HOOK_POLL_MS;
		timeout = sm_sockwatch_timeout_ms(watch, sm_clock_mono_ns(), timeout);
		if (zmq_poll(items, x.zap ? 3 : 2, timeout) < 0 && errno != EINTR) {
			sm_log_err("zmq_poll: %s", zmq_strerror(errno));
			status = EXIT_RUNTIME;
			break;
		}
		x.now = sm_clock_wall();
		if (x.zap)
			sm_zap_serve(x.zap, 64);
		sm_sockwatch_service(watch, sm_clock_mono_ns());
		sm_intake_drain(intake, sub, NULL);
		due = eval_next_due(x.eval);
		due_pass = due > 0 && sm_clock_wall() >= fmax(due, last_pass + DUE_GAP_S);
		if (sm_ticker_due(&tick) || due_pass) {
			x.now = sm_clock_wall();
			eval_tick(x.eval, x.now, forget_after, on_transition, &x);
			last_pass = x.now;
			if (sm_ticker_due(&tick))
				sm_ticker_advance(&tick);
			if (x.am)
				am_flush(x.am, x.eval, x.now);
			if (sm_ticker_due(&save_tick)) {
				x.dirty = true;
				sm_ticker_advance(&save_tick);
			}
			if (x.dirty)
				save(&x);
		}
		if (x.hook)
			hook_poll(x.hook);
		if (sm_daemon_take_reload())
			reload(&x, &cli, sm_config_string(cfg, "rules"));
	}
	sm_daemon_notify("STOPPING=1");
	if (x.eval) {
		struct eval_stats st;

		save(&x);
		eval_get_stats(x.eval, &st);
		sm_log_notice("alert stopping: %zu firing, %llu fired and %llu resolved since start;"
			      " %llu frames of new nodes and %llu new domains left out by max_hosts"
			      " and max_domains_per_host",
			      st.firing, (unsigned long long)st.fired, (unsigned long long)st.resolved,
			      (unsigned long long)st.hosts_refused,
			      (unsigned long long)st.domains_refused);
	}
	if (x.am) /* the last transitions still reach Alertmanager */
		am_flush(x.am, x.eval, sm_clock_wall());

out:
	hook_destroy(&x.hook);
	am_destroy(&x.am);
	apub_destroy(&x.pub);
	sm_zap_destroy(&x.zap);
	sm_sockwatch_destroy(&watch);
	sm_sock_close(&sub);
	if (zctx)
		zmq_ctx_term(zctx);
	sm_intake_destroy(&intake);
	eval_destroy(&x.eval);
	rules_free(&rules);
	sm_config_destroy(&cfg);
	sm_log_close();
	return status;
}
