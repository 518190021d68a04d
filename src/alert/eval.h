/*
 * eval — the evaluator and its state table. It holds the latest values of
 * every compute node and domain the intake hands it (the catalogue's
 * metrics, read through the aggregator's metric_map, so a rule's metric is
 * exactly what the Whisper file of that name holds), and, per (rule,
 * instance), the state of that alert: inactive, pending since a time, or
 * firing since a time. eval_tick moves every pair one step and reports
 * each transition to firing or resolved; nothing else changes a state,
 * except an instance that goes (stopped, absent from its node's complete
 * frame, forgotten) or a rule that goes on reload: their firing alerts
 * resolve. Instances: a node (node rules), a domain, or a domain's disk
 * or interface (device rules). Times are wall-clock seconds.
 */
#ifndef ALERT_EVAL_H
#define ALERT_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"
#include "sm_wire.h"

struct eval; /* opaque */

enum alert_state { ALERT_INACTIVE = 0, ALERT_PENDING = 1, ALERT_FIRING = 2 };

/* One alert as notifiers, the state file and the dashboard file see it:
 * plain data, valid during the callback only. */
struct alert_info {
	const struct rule *rule;
	enum alert_state state; /* ALERT_INACTIVE in a callback = just resolved */
	double value;		/* the value that decided (NaN: none, e.g. stale) */
	double since;		/* pending or firing since (firing: startsAt) */
	double ends_at;		/* resolved: when; else 0 */
	const char *host;	/* the compute node */
	bool is_domain;
	char uuid[37];		  /* domain rules: its UUID, else "" */
	const char *domain;	  /* libvirt name, "" for a node */
	const char *display_name; /* Nova display name, "" when not known */
	const char *project_id, *project_name;
	const char *device; /* device rules: the disk or interface, else "" */
	const char *reason; /* resolved: "cleared", "stopped", "gone", "rule removed" */
};

typedef void (*eval_notify_fn)(void *ctx, const struct alert_info *a);

/* Counters and sizes, plain data. */
struct eval_stats {
	size_t hosts, domains, devices;
	size_t pairs; /* (rule, instance) pairs the last tick evaluated */
	size_t pending, firing;
	uint64_t fired, resolved; /* transitions since start */
	uint64_t hosts_refused;	  /* frames of new hosts past max_hosts */
	uint64_t domains_refused; /* records of new domains past max_domains_per_host */
};

/* An empty table for `rules` (taken: *rules is nulled). NULL when out of memory. */
struct eval *eval_new(struct rule_set **rules);
void eval_destroy(struct eval **e);
/* Bounds on what a flood of names can make the table hold (0 = none): new
 * hosts past max_hosts and a host's new domains past max_domains_per_host
 * are left out, counted, and logged once (each host once). */
void eval_set_limits(struct eval *e, size_t max_hosts, size_t max_domains_per_host);

/* Replaces the rules (taken, *rules nulled). Pairs of a rule whose name and
 * "when" are unchanged keep their state; the firing alerts of rules that
 * went resolve through fn. Returns 0, -1 when out of memory (old rules kept). */
int eval_set_rules(struct eval *e, struct rule_set **rules, eval_notify_fn fn, void *ctx);
const struct rule_set *eval_rules(const struct eval *e);

/* Applies a decoded stats message received at `now`: the node's values and
 * each domain's, and, when `complete`, the node's domains it does not list
 * go (their firing alerts resolve through fn). */
void eval_apply_stats(struct eval *e, const struct sm_message *m, double now, bool complete,
		      eval_notify_fn fn, void *ctx);
/* Applies an event: "stopped" on the domain's own node removes it. */
void eval_apply_event(struct eval *e, const struct sm_message *m, eval_notify_fn fn, void *ctx);
/* A valid stats frame of `host` arrived, `lost` frames missing before it. */
void eval_note_frame(struct eval *e, const char *host, uint64_t lost);

/* One evaluation pass at `now`: every (rule, instance) pair steps; each
 * transition to firing or to resolved is reported through fn. Hosts and
 * their domains silent for more than forget_after seconds go first
 * (0 = never). */
void eval_tick(struct eval *e, double now, double forget_after, eval_notify_fn fn, void *ctx);

/* When the last pass's earliest pending duration is up (wall clock), or 0
 * when nothing is pending: a pass then fires it on time rather than at the
 * next regular pass. */
double eval_next_due(const struct eval *e);

/* Calls fn for every pair that is pending or firing. */
void eval_foreach(const struct eval *e, eval_notify_fn fn, void *ctx);
/* Calls fn(ctx, name, last_frame) for every known node. */
void eval_foreach_host(const struct eval *e, void (*fn)(void *ctx, const char *host, double last),
		       void *ctx);

/* Restoring after a restart (statefile): a node known before, and one
 * pair's state. A restored instance counts as not heard from yet: its
 * firing staleness alerts hold until it reports again, and its staleness
 * clock starts at `now`. Returns 0, or -1 (unknown rule, bad key, no memory). */
int eval_restore_host(struct eval *e, const char *host, double now);
int eval_restore_pair(struct eval *e, const struct alert_info *a, double now);

void eval_get_stats(const struct eval *e, struct eval_stats *out);

#endif
