/*
 * Tests of the evaluator: a condition held past its duration fires once
 * and resolves at its clear threshold (hysteresis), not before; a broken
 * condition resets pending; scopes select their instances; a domain that
 * goes (stopped, left out of a complete frame) resolves; a silent node
 * fires stale and clears on its next frame; device rules per device, with
 * rate(); a reload keeps unchanged rules' states and resolves removed ones.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "eval.h"
#include "fake_stats.h"

#define MAXSEEN 64

struct seen {
	size_t n;
	struct {
		char rule[64];
		enum alert_state state;
		char uuid[37];
		char device[64];
		char reason[32];
		double value;
	} t[MAXSEEN];
};

static void note(void *ctx, const struct alert_info *a)
{
	struct seen *s = ctx;

	assert_true(s->n < MAXSEEN);
	snprintf(s->t[s->n].rule, sizeof(s->t[0].rule), "%s", a->rule->name);
	s->t[s->n].state = a->state;
	snprintf(s->t[s->n].uuid, sizeof(s->t[0].uuid), "%s", a->uuid);
	snprintf(s->t[s->n].device, sizeof(s->t[0].device), "%s", a->device);
	snprintf(s->t[s->n].reason, sizeof(s->t[0].reason), "%s", a->reason ? a->reason : "");
	s->t[s->n].value = a->value;
	s->n++;
}

static struct eval *new_eval(const char *text)
{
	char err[256];
	struct rule_set *r = rules_parse("t", text, err, sizeof(err));
	struct eval *e;

	if (!r)
		fail_msg("%s", err);
	e = eval_new(&r);
	assert_non_null(e);
	assert_null(r);
	return e;
}

/* A frame of `host` with n domains, domain i at cpu[i] %, at time t. */
static void feed(struct eval *e, const char *host, size_t n, const double *cpu, double t,
		 bool complete, struct seen *s)
{
	struct sm_message m;

	assert_int_equal(fake_stats_fill(&m, host, n, 1, (uint64_t)t), 0);
	m.hdr.time = t;
	for (size_t i = 0; i < n; i++)
		m.u.stats.domains[i].cpu_pct = cpu[i];
	eval_apply_stats(e, &m, t, complete, note, s);
	fake_stats_free(&m);
}

static void eval_fires_after_its_duration_and_clears_with_hysteresis(void **state)
{
	struct eval *e = new_eval("rule hot\n when domain cpu_pct > 90 for 3s clear 80\n");
	struct seen s = {0};
	double v;

	v = 50;
	feed(e, "cn1", 1, &v, 100, true, &s);
	eval_tick(e, 100.5, 0, note, &s);
	v = 95;
	feed(e, "cn1", 1, &v, 101, true, &s);
	eval_tick(e, 101.5, 0, note, &s);
	eval_tick(e, 103.5, 0, note, &s);
	assert_int_equal(s.n, 0); /* pending for 2.5 s */
	eval_tick(e, 104.0, 0, note, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.t[0].rule, "hot");
	assert_int_equal(s.t[0].state, ALERT_FIRING);
	assert_true(s.t[0].value == 95);
	v = 85; /* below the threshold, above the clear one: still firing */
	feed(e, "cn1", 1, &v, 105, true, &s);
	eval_tick(e, 105.5, 0, note, &s);
	eval_tick(e, 106.5, 0, note, &s);
	assert_int_equal(s.n, 1);
	v = 79;
	feed(e, "cn1", 1, &v, 107, true, &s);
	eval_tick(e, 107.5, 0, note, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.t[1].state, ALERT_INACTIVE);
	assert_string_equal(s.t[1].reason, "cleared");
	eval_destroy(&e);
	assert_null(e);
}

static void eval_broken_condition_resets_pending(void **state)
{
	struct eval *e = new_eval("rule hot\n when domain cpu_pct > 90 for 3s\n");
	struct seen s = {0};
	struct eval_stats st;
	double v = 95;

	feed(e, "cn1", 1, &v, 100, true, &s);
	eval_tick(e, 100.5, 0, note, &s);
	eval_get_stats(e, &st);
	assert_int_equal(st.pending, 1);
	v = 10;
	feed(e, "cn1", 1, &v, 102, true, &s);
	eval_tick(e, 102.5, 0, note, &s);
	v = 95;
	feed(e, "cn1", 1, &v, 103, true, &s);
	eval_tick(e, 103.5, 0, note, &s);
	eval_tick(e, 105.5, 0, note, &s);
	assert_int_equal(s.n, 0); /* 2.5 s since it held again */
	eval_tick(e, 106.5, 0, note, &s);
	assert_int_equal(s.n, 1);
	eval_get_stats(e, &st);
	assert_int_equal(st.firing, 1);
	assert_int_equal(st.pairs, 1);
	eval_destroy(&e);
}

static void eval_scope_selects_project_and_instance(void **state)
{
	/* fake_stats: domain i's project id ends in i % 97 as %04x */
	struct eval *e = new_eval("rule p\n when domain cpu_pct > 1\n"
				  " scope project 6f3e0d4c8a1b4e8e9d7c5b3a1f2e0001\n"
				  "rule all\n when domain cpu_pct > 1\n");
	struct seen s = {0};
	double v[3] = {50, 50, 50};
	size_t p = 0, all = 0;

	feed(e, "cn1", 3, v, 100, true, &s);
	eval_tick(e, 100.5, 0, note, &s);
	for (size_t i = 0; i < s.n; i++) {
		p += strcmp(s.t[i].rule, "p") == 0;
		all += strcmp(s.t[i].rule, "all") == 0;
	}
	assert_int_equal(p, 1);
	assert_int_equal(all, 3);
	eval_destroy(&e);
}

static void eval_domain_that_goes_resolves(void **state)
{
	struct eval *e = new_eval("rule hot\n when domain cpu_pct > 90\n");
	struct seen s = {0};
	double v[2] = {95, 95};
	struct sm_message ev;

	feed(e, "cn1", 2, v, 100, true, &s);
	eval_tick(e, 100.5, 0, note, &s);
	assert_int_equal(s.n, 2);
	/* An incomplete frame without domain 1 keeps it; a complete one does not. */
	feed(e, "cn1", 1, v, 101, false, &s);
	assert_int_equal(s.n, 2);
	feed(e, "cn1", 1, v, 102, true, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.t[2].state, ALERT_INACTIVE);
	assert_string_equal(s.t[2].reason, "gone");
	/* "stopped" from another node is not its own: kept; from its own: gone. */
	fake_event_fill(&ev, "cn2", SM_EVENT_STOPPED, 0, 1, 1);
	eval_apply_event(e, &ev, note, &s);
	assert_int_equal(s.n, 3);
	fake_event_fill(&ev, "cn1", SM_EVENT_STOPPED, 0, 1, 2);
	eval_apply_event(e, &ev, note, &s);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.t[3].reason, "stopped");
	eval_destroy(&e);
}

static void eval_silent_node_fires_stale_and_clears(void **state)
{
	struct eval *e = new_eval("rule down\n when node stale for 5s\n");
	struct seen s = {0};
	double v = 1;

	feed(e, "cn1", 1, &v, 100, true, &s);
	eval_tick(e, 104, 0, note, &s);
	assert_int_equal(s.n, 0);
	eval_tick(e, 105.5, 0, note, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.t[0].state, ALERT_FIRING);
	assert_string_equal(s.t[0].uuid, "");
	feed(e, "cn1", 1, &v, 106, true, &s);
	eval_tick(e, 106.5, 0, note, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.t[1].state, ALERT_INACTIVE);
	/* Forgotten after forget_after: nothing fires for it any more. */
	eval_tick(e, 200, 50, note, &s);
	assert_int_equal(s.n, 2);
	eval_destroy(&e);
}

static void eval_device_rules_per_device_with_rate(void **state)
{
	struct eval *e = new_eval("rule errs\n when domain rate(disk.*.errors) > 0\n"
				  "rule one\n when domain disk.vdb.wr_bytes_ps >= 0\n");
	struct seen s = {0};
	struct sm_message m;

	assert_int_equal(fake_stats_fill(&m, "cn1", 1, 1, 1), 0);
	m.hdr.time = 100;
	eval_apply_stats(e, &m, 100, true, note, &s);
	eval_tick(e, 100.5, 0, note, &s);
	assert_int_equal(s.n, 1); /* "one" on vdb; no rate from one sample */
	assert_string_equal(s.t[0].device, "vdb");
	m.hdr.time = 101;
	m.u.stats.domains[0].disks[0].errors += 3; /* vda */
	eval_apply_stats(e, &m, 101, true, note, &s);
	eval_tick(e, 101.5, 0, note, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.t[1].rule, "errs");
	assert_string_equal(s.t[1].device, "vda");
	assert_true(s.t[1].value == 3);
	m.hdr.time = 102; /* no growth: resolves */
	eval_apply_stats(e, &m, 102, true, note, &s);
	eval_tick(e, 102.5, 0, note, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.t[2].state, ALERT_INACTIVE);
	fake_stats_free(&m);
	eval_destroy(&e);
}

static void eval_reload_keeps_unchanged_and_resolves_removed(void **state)
{
	struct eval *e = new_eval("rule a\n when domain cpu_pct > 1\n"
				  "rule b\n when domain cpu_pct > 2\n");
	struct seen s = {0};
	char err[128];
	struct rule_set *r = rules_parse("t2",
					 "rule b\n when domain cpu_pct > 2\n"
					 "rule c\n when domain cpu_pct > 3\n",
					 err, sizeof(err));
	double v = 50;

	feed(e, "cn1", 1, &v, 100, true, &s);
	eval_tick(e, 100.5, 0, note, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(eval_set_rules(e, &r, note, &s), 0);
	assert_null(r);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.t[2].rule, "a");
	assert_string_equal(s.t[2].reason, "rule removed");
	eval_tick(e, 101.5, 0, note, &s);
	assert_int_equal(s.n, 4); /* c fires; b stays firing without a new notification */
	assert_string_equal(s.t[3].rule, "c");
	eval_destroy(&e);
}

static void eval_libvirt_down_frame_loss_and_domain_stale(void **state)
{
	struct eval *e = new_eval("rule lv\n when node libvirt_down for 2s\n"
				  "rule loss\n when node frame_loss > 20 clear 5\n"
				  "rule ds\n when domain stale for 3s\n");
	struct seen s = {0};
	struct sm_message m;

	assert_int_equal(fake_stats_fill(&m, "cn1", 1, 1, 1), 0);
	m.u.stats.host.libvirt_ok = false;
	m.u.stats.domains[0].flags |= SM_DOM_STALE; /* libvirt did not answer for it */
	for (int t = 100; t <= 102; t++) {
		m.hdr.time = t;
		eval_note_frame(e, "cn1", t == 101 ? 1 : 0); /* one of three frames lost */
		eval_apply_stats(e, &m, t, true, note, &s);
		eval_tick(e, t + 0.5, 0, note, &s);
	}
	/* libvirt down since 100: fired at 102.5; loss 1 of 4 = 25 % fired at 101.5;
	 * the domain listed only as stale since it was first seen at 100: not yet. */
	assert_int_equal(s.n, 2);
	assert_string_equal(s.t[0].rule, "loss");
	assert_string_equal(s.t[1].rule, "lv");
	eval_tick(e, 103.5, 0, note, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.t[2].rule, "ds");
	/* libvirt back and the domain fresh: both resolve. */
	m.u.stats.host.libvirt_ok = true;
	m.u.stats.domains[0].flags &= ~(uint32_t)SM_DOM_STALE;
	m.hdr.time = 104;
	eval_note_frame(e, "cn1", 0);
	eval_apply_stats(e, &m, 104, true, note, &s);
	eval_tick(e, 104.5, 0, note, &s);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.t[3].state, ALERT_INACTIVE);
	assert_int_equal(s.t[4].state, ALERT_INACTIVE);
	fake_stats_free(&m);
	eval_destroy(&e);
}

/* A flood of new names is bounded: past max_hosts a new node's frames and
 * past max_domains_per_host a node's new domains are left out and counted;
 * what is held is evaluated as ever. */
static void eval_limits_bound_hosts_and_domains(void **state)
{
	struct eval *e = new_eval("rule hot\n when domain cpu_pct > 90 for 0s\n");
	double cpu[5] = {95, 95, 95, 95, 95};
	struct eval_stats st;
	struct seen s = {0};

	(void)state;
	eval_set_limits(e, 2, 3);
	feed(e, "cn1", 5, cpu, 100, true, &s);
	feed(e, "cn2", 0, cpu, 100, true, &s);
	feed(e, "cn3", 0, cpu, 100, true, &s);
	feed(e, "cn4", 1, cpu, 100, true, &s);
	eval_tick(e, 100.5, 0, note, &s);
	eval_get_stats(e, &st);
	assert_int_equal(st.hosts, 2);
	assert_int_equal(st.domains, 3);
	assert_true(st.domains_refused == 2);
	assert_true(st.hosts_refused == 2);
	assert_int_equal(s.n, 3); /* the three held domains fire, the others never */
	eval_destroy(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(eval_fires_after_its_duration_and_clears_with_hysteresis),
	    cmocka_unit_test(eval_broken_condition_resets_pending),
	    cmocka_unit_test(eval_scope_selects_project_and_instance),
	    cmocka_unit_test(eval_domain_that_goes_resolves),
	    cmocka_unit_test(eval_silent_node_fires_stale_and_clears),
	    cmocka_unit_test(eval_device_rules_per_device_with_rate),
	    cmocka_unit_test(eval_reload_keeps_unchanged_and_resolves_removed),
	    cmocka_unit_test(eval_libvirt_down_frame_loss_and_domain_stale),
	    cmocka_unit_test(eval_limits_bound_hosts_and_domains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
