/*
 * Tests of the exporter's render: every family has its HELP and TYPE lines
 * once, before its samples, and its samples together; values in base
 * units; unknown values left out; hostile identity text escaped; the
 * store's series count is what a frame with every value known renders.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_stats.h"
#include "sm_intake.h"
#include "render.h"
#include "sm_clock.h"
#include "sm_log.h"
#include "store.h"

static struct store *store_with(struct sm_message *m)
{
	struct store_sizes sizes;
	struct store *s;

	render_sizes(&sizes);
	s = store_new(&sizes, 0);
	assert_non_null(s);
	store_apply_stats(s, m, sm_clock_mono_ns(), true);
	return s;
}

static char *render(const struct store *s)
{
	struct sm_intake_counters in = {0};
	struct render_health h = {.started_ns = sm_clock_mono_ns(), .start_time = 1e9};
	struct expo_buf b = {0};

	render_metrics(&b, s, &in, &h, sm_clock_mono_ns());
	assert_false(b.failed);
	return b.data;
}

/* Lines of text starting with prefix. */
static int count_lines(const char *text, const char *prefix)
{
	int n = 0;
	size_t len = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, len) == 0)
			n++;
	return n;
}

/* The text's line that starts with prefix, copied into line. */
static int find_line(const char *text, const char *prefix, char *line, size_t len)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			size_t n = strcspn(p, "\n");

			snprintf(line, len, "%.*s", (int)n, p);
			return 0;
		}
	return -1;
}

static void render_writes_help_and_type_once_before_each_family(void **state)
{
	struct sm_message m;
	struct store *s;
	char *text, *copy, *save = NULL, last[128] = "";
	char seen[128][96];
	int nseen = 0;

	assert_int_equal(fake_stats_fill(&m, "cn1", 3, 1, 1), 0);
	s = store_with(&m);
	text = render(s);
	copy = strdup(text);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[96];

		if (strncmp(line, "# HELP ", 7) == 0) {
			sscanf(line + 7, "%95s", name);
			for (int i = 0; i < nseen; i++)
				assert_string_not_equal(seen[i], name);
			assert_true(nseen < 128);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
			snprintf(last, sizeof(last), "%s", name);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			sscanf(line + 7, "%95s", name);
			assert_string_equal(name, last);
			continue;
		}
		/* A sample belongs to the family announced last. */
		name[strcspn(strncpy(name, line, sizeof(name) - 1), "{ ")] = '\0';
		assert_string_equal(name, last);
	}
	assert_true(nseen >=
		    RENDER_PER_DOMAIN + RENDER_PER_DISK + RENDER_PER_NIC + RENDER_PER_HOST);
	free(copy);
	free(text);
	store_destroy(&s);
	fake_stats_free(&m);
}

static void render_writes_base_units(void **state)
{
	struct sm_message m;
	struct store *s;
	char *text, line[1024];

	assert_int_equal(fake_stats_fill(&m, "cn1", 1, 1, 1), 0);
	m.u.stats.domains[0].cpu_time_ns = UINT64_C(1500000000);
	m.u.stats.domains[0].steal_pct = 2.5f;
	m.u.stats.host.libvirt_latency_ms = 12.0f;
	s = store_with(&m);
	text = render(s);
	assert_int_equal(find_line(text, "stackmon_domain_cpu_seconds_total{", line, sizeof(line)),
			 0);
	assert_non_null(strstr(line, "} 1.5"));
	assert_int_equal(find_line(text, "stackmon_domain_cpu_steal_ratio{", line, sizeof(line)),
			 0);
	assert_non_null(strstr(line, "} 0.025"));
	assert_int_equal(find_line(text, "stackmon_domain_memory_used_bytes{", line, sizeof(line)),
			 0);
	assert_non_null(strstr(line, ",basis=\"guest_usable\"} 1610612736"));
	assert_int_equal(
	    find_line(text, "stackmon_node_libvirt_latency_seconds{", line, sizeof(line)), 0);
	assert_string_equal(line, "stackmon_node_libvirt_latency_seconds{host=\"cn1\"} 0.012");
	assert_int_equal(
	    find_line(text, "stackmon_domain_block_read_bytes_total{", line, sizeof(line)), 0);
	assert_non_null(strstr(line, ",device=\"vda\"} 4915200000"));
	free(text);
	store_destroy(&s);
	fake_stats_free(&m);
}

static void render_leaves_out_unknown_values(void **state)
{
	struct sm_message m;
	struct store *s;
	char *text;

	assert_int_equal(fake_stats_fill(&m, "cn1", 2, 1, 1), 0);
	m.u.stats.domains[0].steal_pct = NAN;
	m.u.stats.domains[1].mem_basis = SM_MEM_NONE;
	m.u.stats.host.libvirt_latency_ms = NAN;
	s = store_with(&m);
	text = render(s);
	assert_int_equal(count_lines(text, "stackmon_domain_cpu_steal_ratio{"), 1);
	assert_int_equal(count_lines(text, "stackmon_domain_memory_used_bytes{"), 1);
	assert_int_equal(count_lines(text, "stackmon_domain_memory_total_bytes{"), 2);
	assert_int_equal(count_lines(text, "stackmon_node_libvirt_latency_seconds{"), 0);
	assert_int_equal(count_lines(text, "# TYPE stackmon_node_libvirt_latency_seconds gauge"),
			 1);
	assert_null(strstr(text, "NaN"));
	free(text);
	store_destroy(&s);
	fake_stats_free(&m);
}

static void render_escapes_hostile_identity(void **state)
{
	struct sm_message m;
	struct store *s;
	char *text, line[2048];

	assert_int_equal(fake_stats_fill(&m, "cn1", 1, 1, 1), 0);
	snprintf(m.u.stats.domains[0].identity.display_name, SM_NAME_MAX + 1,
		 "a\"b\\c\nd} x=\"1\" \xf0\x9f\x9a\x80");
	snprintf(m.u.stats.domains[0].name, SM_NAME_MAX + 1, "inst\"ance");
	s = store_with(&m);
	text = render(s);
	assert_int_equal(find_line(text, "stackmon_domain_vcpus{", line, sizeof(line)), 0);
	assert_non_null(strstr(
	    line,
	    ",domain=\"inst\\\"ance\",name=\"a\\\"b\\\\c\\nd} x=\\\"1\\\" \xf0\x9f\x9a\x80\","));
	assert_int_equal(count_lines(text, "stackmon_domain_vcpus{"), 1);
	free(text);
	store_destroy(&s);
	fake_stats_free(&m);
}

static void render_series_count_is_the_stores(void **state)
{
	struct sm_message m;
	struct store *s;
	char *text;
	int samples = 0;

	assert_int_equal(fake_stats_fill(&m, "cn1", 4, 1, 1), 0);
	s = store_with(&m);
	text = render(s);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if ((strncmp(p, "stackmon_domain_", 16) == 0 ||
		     strncmp(p, "stackmon_node_", 14) == 0 ||
		     strncmp(p, "stackmon_exporter_last_frame_age_seconds{", 41) == 0))
			samples++;
	assert_int_equal((size_t)samples, store_series(s));
	free(text);
	store_destroy(&s);
	fake_stats_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(render_writes_help_and_type_once_before_each_family),
	    cmocka_unit_test(render_writes_base_units),
	    cmocka_unit_test(render_leaves_out_unknown_values),
	    cmocka_unit_test(render_escapes_hostile_identity),
	    cmocka_unit_test(render_series_count_is_the_stores),
	};

	sm_log_open("test_render", SM_LOG_ERR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
