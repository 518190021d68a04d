/*
 * Tests of stackmon-carbon's lines: a host name becomes one Graphite level
 * whatever it holds, prefixes are checked, a value prints in the fewest
 * digits that read back as the same double, and a frame gives exactly the
 * aggregator's metric names under the prefix, unknown values left out.
 */
#define _GNU_SOURCE /* memmem */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "catalogue.h"
#include "cline.h"
#include "fake_stats.h"
#include "sm_uuid.h"

static void host_dots_and_hostile_bytes_become_underscores(void **state)
{
	char out[LAYOUT_HOST_MAX + 1];

	(void)state;
	cline_host_component("node1.example.com", out);
	assert_string_equal(out, "node1_example_com");
	cline_host_component("../etc/pass wd\n", out);
	assert_string_equal(out, "___etc_pass_wd_");
	cline_host_component("a-b_C9", out);
	assert_string_equal(out, "a-b_C9");
	cline_host_component("", out);
	assert_string_equal(out, "_");
	cline_host_component(NULL, out);
	assert_string_equal(out, "_");
	cline_host_component("h\xc3\xa9.x", out); /* UTF-8 bytes too */
	assert_string_equal(out, "h___x");
}

static void long_host_is_cut_to_the_wire_limit(void **state)
{
	char host[400], out[LAYOUT_HOST_MAX + 1];

	(void)state;
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	host[10] = '.';
	cline_host_component(host, out);
	assert_int_equal(strlen(out), LAYOUT_HOST_MAX);
	assert_int_equal(out[10], '_');
	assert_null(strchr(out, '.'));
}

static void prefix_levels_are_checked(void **state)
{
	char long_prefix[CLINE_PREFIX_MAX + 2];

	(void)state;
	assert_true(cline_prefix_ok(NULL));
	assert_true(cline_prefix_ok(""));
	assert_true(cline_prefix_ok("stackmon"));
	assert_true(cline_prefix_ok("prod.dc-1.stackmon_x"));
	assert_false(cline_prefix_ok(".stackmon"));
	assert_false(cline_prefix_ok("stackmon."));
	assert_false(cline_prefix_ok("a..b"));
	assert_false(cline_prefix_ok("a b"));
	assert_false(cline_prefix_ok("a/b"));
	assert_false(cline_prefix_ok("a\nb 1 2"));
	memset(long_prefix, 'p', sizeof(long_prefix) - 1);
	long_prefix[sizeof(long_prefix) - 1] = '\0';
	assert_false(cline_prefix_ok(long_prefix));
}

static void values_round_trip_exactly_in_few_digits(void **state)
{
	const double vals[] = {0.0,
			       1.0,
			       -1.0,
			       0.1,
			       1.0 / 3.0,
			       2.0 / 3.0 * 100,
			       1e-300,
			       5e-324,
			       1e300,
			       DBL_MAX,
			       -DBL_MAX,
			       123456789.123456789,
			       4294967296,
			       9007199254740993.0,
			       18446744073709551615.0,
			       99.99999999999999};
	char buf[CLINE_VALUE_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		int n = cline_format_value(vals[i], buf);

		assert_true(n > 0 && n < CLINE_VALUE_MAX);
		assert_true(strtod(buf, NULL) == vals[i]);
		assert_null(strchr(buf, ' '));
	}
	srandom(42);
	for (int i = 0; i < 100000; i++) {
		uint64_t bits =
		    ((uint64_t)random() << 33) ^ ((uint64_t)random() << 11) ^ (uint64_t)random();
		double v;

		memcpy(&v, &bits, sizeof(v));
		if (!isfinite(v))
			continue;
		assert_true(cline_format_value(v, buf) > 0);
		assert_true(strtod(buf, NULL) == v);
	}
	/* Short where it can be: what a person reads in carbon's logs. */
	cline_format_value(0.1, buf);
	assert_string_equal(buf, "0.1");
	cline_format_value(42.0, buf);
	assert_string_equal(buf, "42");
	cline_format_value(1.0 / 3.0, buf);
	assert_string_equal(buf, "0.3333333333333333");
	assert_int_equal(cline_format_value(NAN, buf), -1);
	assert_int_equal(cline_format_value(INFINITY, buf), -1);
}

static void put_writes_one_line_and_skips_unknown(void **state)
{
	struct cline_buf b = {0};

	(void)state;
	assert_true(cline_put(&b, "stackmon", "hosts.n1", "cpu_pct", 12.5, 1700000000));
	assert_false(cline_put(&b, "stackmon", "hosts.n1", "mem_pct", NAN, 1700000000));
	assert_true(cline_put(&b, "", "hosts.n1", "load1", 0.25, 1700000001));
	assert_true(cline_put(&b, NULL, "hosts.n1", "load5", 3, 1700000002));
	assert_int_equal(b.lines, 3);
	assert_int_equal(b.len, strlen("stackmon.hosts.n1.cpu_pct 12.5 1700000000\n"
				       "hosts.n1.load1 0.25 1700000001\n"
				       "hosts.n1.load5 3 1700000002\n"));
	assert_memory_equal(b.data,
			    "stackmon.hosts.n1.cpu_pct 12.5 1700000000\n"
			    "hosts.n1.load1 0.25 1700000001\n"
			    "hosts.n1.load5 3 1700000002\n",
			    b.len);
	cline_buf_free(&b);
}

/* The line of `path` in b, or NULL. */
static const char *find_line(const struct cline_buf *b, const char *path)
{
	size_t n = strlen(path);

	for (const char *p = b->data; p && p < b->data + b->len;) {
		const char *nl = memchr(p, '\n', (size_t)(b->data + b->len - p));

		if (strncmp(p, path, n) == 0 && p[n] == ' ')
			return p;
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static void frame_gives_the_aggregator_names_under_the_prefix(void **state)
{
	struct sm_message m;
	struct cline_buf b = {0};
	char uuid[37], path[512], want[600];
	size_t unknown = 99, lines;

	(void)state;
	assert_int_equal(fake_stats_fill(&m, "cn1.dc.example", 3, 1, 1), 0);
	m.hdr.time = 1700000000.75; /* sub-second: floor, as the aggregator */
	m.u.stats.domains[0].disks[0].rd_req_ps = 1.0 / 3.0;
	snprintf(m.u.stats.domains[0].nics[0].name, sizeof(m.u.stats.domains[0].nics[0].name),
		 "tap.0/x");
	m.u.stats.domains[1].mem_basis = SM_MEM_NONE; /* mem_used_kib unknown */
	m.u.stats.domains[2].flags |= SM_DOM_STALE;   /* nothing of it */
	lines = cline_frame(&b, "sm", &m, &unknown);

	size_t per_dom = METRIC_DOMAIN_N + m.u.stats.domains[0].ndisks * METRIC_DISK_N +
			 m.u.stats.domains[0].nnics * METRIC_NIC_N;
	assert_int_equal(lines, METRIC_HOST_N + 2 * per_dom - 1);
	assert_int_equal(unknown, 1 + per_dom);
	assert_int_equal(b.lines, lines);

	assert_non_null(find_line(&b, "sm.hosts.cn1_dc_example.cpu_pct"));
	assert_non_null(find_line(&b, "sm.hosts.cn1_dc_example.domains"));
	sm_uuid_format(m.u.stats.domains[0].uuid, uuid);
	snprintf(path, sizeof(path), "sm.domains.%.2s.%s.disk.%s.rd_req_ps", uuid, uuid,
		 m.u.stats.domains[0].disks[0].name);
	snprintf(want, sizeof(want), "%s 0.3333333333333333 1700000000\n", path);
	assert_non_null(find_line(&b, path));
	assert_memory_equal(find_line(&b, path), want, strlen(want));
	snprintf(path, sizeof(path), "sm.domains.%.2s.%s.nic.tap_0_x.rx_bytes_ps", uuid, uuid);
	assert_non_null(find_line(&b, path));
	snprintf(path, sizeof(path), "sm.domains.%.2s.%s.cpu_pct", uuid, uuid);
	assert_non_null(find_line(&b, path));
	sm_uuid_format(m.u.stats.domains[1].uuid, uuid);
	snprintf(path, sizeof(path), "sm.domains.%.2s.%s.mem_used_kib", uuid, uuid);
	assert_null(find_line(&b, path));
	sm_uuid_format(m.u.stats.domains[2].uuid, uuid);
	snprintf(path, sizeof(path), "sm.domains.%.2s.%s.cpu_pct", uuid, uuid);
	assert_null(find_line(&b, path));
	/* Every line: three fields, one space apart, no empty level. */
	for (const char *p = b.data; p < b.data + b.len;) {
		const char *nl = memchr(p, '\n', (size_t)(b.data + b.len - p));
		size_t spaces = 0;

		assert_non_null(nl);
		for (const char *q = p; q < nl; q++)
			spaces += *q == ' ';
		assert_int_equal(spaces, 2);
		assert_true(p[0] != '.' && memmem(p, (size_t)(nl - p), "..", 2) == NULL);
		p = nl + 1;
	}
	/* Empty prefix: paths start at the data directory's top. */
	cline_buf_reset(&b);
	cline_frame(&b, NULL, &m, NULL);
	assert_memory_equal(b.data, "hosts.cn1_dc_example.", strlen("hosts.cn1_dc_example."));
	cline_buf_free(&b);
	fake_stats_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(host_dots_and_hostile_bytes_become_underscores),
	    cmocka_unit_test(long_host_is_cut_to_the_wire_limit),
	    cmocka_unit_test(prefix_levels_are_checked),
	    cmocka_unit_test(values_round_trip_exactly_in_few_digits),
	    cmocka_unit_test(put_writes_one_line_and_skips_unknown),
	    cmocka_unit_test(frame_gives_the_aggregator_names_under_the_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
