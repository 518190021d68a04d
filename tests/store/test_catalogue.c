/*
 * Tests of the metric catalogue: every name is one path component, unique
 * in its table, with the consolidation method the contract gives it, and
 * found by catalogue_find in its own record only; the snapshot's latest
 * values are catalogue metrics.
 */
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
#include "snapshot.h"

/* True if s could be joined to a directory without leaving it: no '/'
 * and not "." or "..". */
static bool one_component(const char *s)
{
	return s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* ---- metric names ------------------------------------------------------ */

static void check_set(const struct metric_def *defs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_true(one_component(defs[i].name));
		assert_true(defs[i].name[0] != '.');
		for (size_t j = i + 1; j < n; j++)
			assert_string_not_equal(defs[i].name, defs[j].name);
	}
}

static enum whisper_aggregation agg_of(const struct metric_def *defs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(defs[i].name, name) == 0)
			return defs[i].aggregation;
	fail_msg("no metric %s", name);
	return 0;
}

static void metric_names_and_methods_follow_the_contract(void **state)
{
	static const char *const domain[] = {"cpu_pct", "steal_pct", "load1",	    "load5",
					     "load15",	"mem_pct",   "mem_used_kib"};
	static const char *const host[] = {
	    "cpu_pct", "load1", "load5", "load15", "mem_pct", "mem_used_kib", "libvirt_latency_ms",
	    "domains"};

	check_set(metric_domain, METRIC_DOMAIN_N);
	check_set(metric_disk, METRIC_DISK_N);
	check_set(metric_nic, METRIC_NIC_N);
	check_set(metric_host, METRIC_HOST_N);
	for (size_t i = 0; i < METRIC_DOMAIN_N; i++) {
		assert_string_equal(metric_domain[i].name, domain[i]);
		assert_int_equal(metric_domain[i].aggregation, WHISPER_AGG_AVERAGE);
	}
	for (size_t i = 0; i < METRIC_HOST_N; i++)
		assert_string_equal(metric_host[i].name, host[i]);
	/* Counters keep the last value, a latency its peak, the domain count
	 * its last value; everything else averages. */
	assert_int_equal(agg_of(metric_disk, METRIC_DISK_N, "errors"), WHISPER_AGG_LAST);
	assert_int_equal(agg_of(metric_disk, METRIC_DISK_N, "rd_bytes_ps"), WHISPER_AGG_AVERAGE);
	assert_int_equal(agg_of(metric_nic, METRIC_NIC_N, "rx_drops"), WHISPER_AGG_LAST);
	assert_int_equal(agg_of(metric_nic, METRIC_NIC_N, "tx_errors"), WHISPER_AGG_LAST);
	assert_int_equal(agg_of(metric_nic, METRIC_NIC_N, "tx_packets_ps"), WHISPER_AGG_AVERAGE);
	assert_int_equal(agg_of(metric_host, METRIC_HOST_N, "libvirt_latency_ms"), WHISPER_AGG_MAX);
	assert_int_equal(agg_of(metric_host, METRIC_HOST_N, "domains"), WHISPER_AGG_LAST);
	assert_int_equal(agg_of(metric_host, METRIC_HOST_N, "load15"), WHISPER_AGG_AVERAGE);
}

static void catalogue_finds_a_name_in_its_record_only(void **state)
{
	const struct metric_def *def = catalogue_find(METRIC_OF_DISK, "errors");

	assert_non_null(def);
	assert_ptr_equal(def, &metric_disk[4]);
	assert_int_equal(def->unit, UNIT_COUNT);
	assert_null(catalogue_find(METRIC_OF_NIC, "errors"));
	assert_non_null(catalogue_find(METRIC_OF_HOST, "domains"));
	assert_null(catalogue_find(METRIC_OF_DOMAIN, "domains"));
	assert_null(catalogue_find(METRIC_OF_DOMAIN, NULL));
	assert_null(catalogue_find((enum metric_record)99, "cpu_pct"));
}

/* The latest values the snapshot reads are catalogue metrics: a domain's
 * own by name, the disk and nic sums as "disk_" or "net_" + the device
 * metric's name. A column the catalogue does not know fails here. */
static void snapshot_values_are_catalogue_metrics(void **state)
{
	for (int i = 0; i < SNAP_NVALUES; i++) {
		const char *col = snap_value_names[i];
		const struct metric_def *def;

		if (strncmp(col, "disk_", 5) == 0)
			def = catalogue_find(METRIC_OF_DISK, col + 5);
		else if (strncmp(col, "net_", 4) == 0)
			def = catalogue_find(METRIC_OF_NIC, col + 4);
		else
			def = catalogue_find(METRIC_OF_DOMAIN, col);
		if (def == NULL)
			fail_msg("latest column %s is no catalogue metric", col);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(metric_names_and_methods_follow_the_contract),
	    cmocka_unit_test(catalogue_finds_a_name_in_its_record_only),
	    cmocka_unit_test(snapshot_values_are_catalogue_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
