/*
 * Tests of the rules parser: every form of "when" a rule may take, scopes,
 * labels and annotations, and each kind of bad file refused with its
 * file:line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

static struct rule_set *parse(const char *text, char *err, size_t len)
{
	return rules_parse("t.rules", text, err, len);
}

static void rules_parse_every_form(void **state)
{
	char err[512] = "";
	struct rule_set *s = parse("# comment\n"
				   "rule cpu_spike   # trailing comment\n"
				   "  when domain cpu_pct > 90 for 5m clear 80\n"
				   "  scope project p1\n"
				   "  severity critical\n"
				   "  label team = \"compute # not a comment\"\n"
				   "  annotation summary = \"say \\\"hi\\\"\"\n"
				   "\n"
				   "rule dsk\n  when domain rate(disk.*.errors)>0\n"
				   "rule nic\n  when domain nic.tap0.rx_drops >= 1 for 30\n"
				   "rule down\n  when node stale for 30s\n  scope host cn-1\n"
				   "rule lv\n  when node libvirt_down\n"
				   "rule loss\n  when node frame_loss > 5 for 1h clear 1\n"
				   "rule ld\n  when node load1 <= 0.5\n"
				   "rule one\n  when domain stale for 2m\n"
				   "  scope instance 16f2d94f-8fc8-edc2-4644-0f749f4e818e\n",
				   err, sizeof(err));

	assert_non_null(s);
	assert_int_equal(s->n, 8);
	assert_string_equal(s->rules[0].name, "cpu_spike");
	assert_int_equal(s->rules[0].kind, RULE_METRIC);
	assert_int_equal(s->rules[0].record, METRIC_OF_DOMAIN);
	assert_string_equal(metric_domain[s->rules[0].metric].name, "cpu_pct");
	assert_int_equal(s->rules[0].op, RULE_GT);
	assert_true(s->rules[0].threshold == 90 && s->rules[0].has_clear &&
		    s->rules[0].clear == 80);
	assert_true(s->rules[0].for_s == 300);
	assert_int_equal(s->rules[0].scope, SCOPE_PROJECT);
	assert_string_equal(s->rules[0].scope_value, "p1");
	assert_string_equal(s->rules[0].severity, "critical");
	assert_string_equal(s->rules[0].labels[0].value, "compute # not a comment");
	assert_string_equal(s->rules[0].annotations[0].value, "say \"hi\"");
	assert_string_equal(s->rules[0].expr, "domain cpu_pct > 90 for 5m clear 80");
	assert_true(s->rules[1].rate && s->rules[1].record == METRIC_OF_DISK);
	assert_string_equal(s->rules[1].device, "");
	assert_string_equal(metric_disk[s->rules[1].metric].name, "errors");
	assert_string_equal(s->rules[1].severity, "warning");
	assert_string_equal(s->rules[2].device, "tap0");
	assert_int_equal(s->rules[2].op, RULE_GE);
	assert_true(s->rules[2].for_s == 30);
	assert_int_equal(s->rules[3].kind, RULE_STALE);
	assert_true(rule_is_node(&s->rules[3]));
	assert_int_equal(s->rules[3].scope, SCOPE_HOST);
	assert_int_equal(s->rules[4].kind, RULE_LIBVIRT_DOWN);
	assert_int_equal(s->rules[5].kind, RULE_FRAME_LOSS);
	assert_true(s->rules[5].for_s == 3600);
	assert_true(rule_is_node(&s->rules[6]));
	assert_string_equal(metric_host[s->rules[6].metric].name, "load1");
	assert_int_equal(s->rules[7].kind, RULE_STALE);
	assert_false(rule_is_node(&s->rules[7]));
	assert_int_equal(s->rules[7].scope, SCOPE_INSTANCE);
	assert_int_equal(s->rules[7].scope_uuid[0], 0x16);
	rules_free(&s);
	assert_null(s);
}

static void rules_hold_with_hysteresis(void **state)
{
	char err[256];
	struct rule_set *s =
	    parse("rule a\n when domain cpu_pct > 90 clear 80\n", err, sizeof(err));

	assert_non_null(s);
	assert_true(rule_holds(&s->rules[0], 95, false));
	assert_false(rule_holds(&s->rules[0], 85, false));
	assert_true(rule_holds(&s->rules[0], 85, true));
	assert_false(rule_holds(&s->rules[0], 80, true));
	assert_false(rule_holds(&s->rules[0], 0.0 / 0.0, true));
	rules_free(&s);
}

/* Each bad text is refused with this file:line and words of the reason. */
static void rules_refuse_bad_files_with_file_and_line(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"when domain cpu_pct > 1\n", "t.rules:1: 'when' before the first"},
	    {"rule a\n", "t.rules:1: rule a has no \"when\""},
	    {"rule a\n when domain cpu_pct > 1\nrule b\n\n", "t.rules:4: rule b has no \"when\""},
	    {"rule a\n when domain bogus > 1\n", "t.rules:2: 'bogus' is not a domain metric"},
	    {"rule a\n when node cpu_pct > x\n", "t.rules:2: 'x' is not a number"},
	    {"rule a\n when domain cpu_pct => 1\n", "t.rules:2: '=' is not a comparison"},
	    {"rule a\n when domain cpu_pct > 1 for 5y\n", "t.rules:2: '5y' is not a duration"},
	    {"rule a\n when domain cpu_pct > 90 clear 95\n",
	     "t.rules:2: clear 95 is on the firing"},
	    {"rule a\n when domain stale\n", "t.rules:2: \"stale\" needs \"for DURATION\""},
	    {"rule a\n when domain libvirt_down\n",
	     "t.rules:2: \"when domain libvirt_down\" needs"},
	    {"rule a\n when domain disk.vda > 1\n", "t.rules:2: 'disk.vda': a device metric"},
	    {"rule a\n when domain cpu_pct > 1\n when domain cpu_pct > 2\n",
	     "t.rules:3: rule a has a second"},
	    {"rule a\n when domain cpu_pct > 1\nrule a\n",
	     "t.rules:3: rule a given twice (first at line 1)"},
	    {"rule a b\n", "t.rules:1: rule NAME"},
	    {"rule a/b\n", "t.rules:1: 'a/b' is not a rule name"},
	    {"rule a\n when domain cpu_pct > 1\n label host = x\n",
	     "t.rules:3: label 'host' is set by"},
	    {"rule a\n when domain cpu_pct > 1\n label 9x = x\n",
	     "t.rules:3: '9x' is not a label name"},
	    {"rule a\n when domain cpu_pct > 1\n annotation s = \"open\n",
	     "t.rules:3: a quoted string without"},
	    {"rule a\n when domain cpu_pct > 1\n scope project\n", "t.rules:3: scope is one of"},
	    {"rule a\n when domain cpu_pct > 1\n scope instance nope\n",
	     "t.rules:3: 'nope' is not a UUID"},
	    {"rule a\n when domain cpu_pct > 1\n scope host bad/host\n",
	     "t.rules:3: 'bad/host' is not a host"},
	    {"rule a\n when domain cpu_pct > 1\n colour red\n",
	     "t.rules:3: unknown keyword 'colour'"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[512] = "";
		struct rule_set *s = parse(bad[i].text, err, sizeof(err));

		if (s || strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err, bad[i].want);
	}
}

static void rules_load_names_a_missing_file(void **state)
{
	char err[512];

	assert_null(rules_load("/nonexistent/alert.rules", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/alert.rules: No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rules_parse_every_form),
	    cmocka_unit_test(rules_hold_with_hysteresis),
	    cmocka_unit_test(rules_refuse_bad_files_with_file_and_line),
	    cmocka_unit_test(rules_load_names_a_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
