/*
 * Unit tests of bulk_stats: records of libvirt's bulk statistics API, made
 * by hand as QEMU's driver shapes them, turned into tracker samples —
 * complete, partial (no-wait), from a driver without CPU time, and hostile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "bulk_stats.h"
#include "sm_utf8.h"

static struct sm_disk_stats disks[SM_WIRE_MAX_DEVICES];
static struct sm_nic_stats nics[SM_WIRE_MAX_DEVICES];

static virTypedParameter u64(const char *field, unsigned long long v)
{
	virTypedParameter p;

	memset(&p, 0, sizeof(p));
	snprintf(p.field, sizeof(p.field), "%s", field);
	p.type = VIR_TYPED_PARAM_ULLONG;
	p.value.ul = v;
	return p;
}

static virTypedParameter i32(const char *field, int v)
{
	virTypedParameter p = u64(field, 0);

	p.type = VIR_TYPED_PARAM_INT;
	p.value.i = v;
	return p;
}

static virTypedParameter str(const char *field, char *v)
{
	virTypedParameter p = u64(field, 0);

	p.type = VIR_TYPED_PARAM_STRING;
	p.value.s = v;
	return p;
}

static void bulk_parses_a_complete_qemu_record(void **state)
{
	char vda[] = "vda", tap[] = "tap0";
	virTypedParameter r[] = {
		i32("state.state", 1),          i32("state.reason", 1),
		u64("cpu.time", 9173807000ULL), u64("cpu.user", 1),
		u64("balloon.current", 98304),  u64("balloon.maximum", 131072),
		u64("balloon.unused", 20284),   u64("balloon.available", 49140),
		u64("balloon.usable", 26844),   u64("balloon.rss", 178660),
		i32("vcpu.current", 2),         i32("vcpu.maximum", 4),
		u64("vcpu.0.time", 5),          u64("vcpu.0.delay", 1000),
		u64("vcpu.1.delay", 2500),      u64("net.count", 1),
		str("net.0.name", tap),         u64("net.0.rx.bytes", 860),
		u64("net.0.rx.pkts", 10),       u64("net.0.rx.errs", 1),
		u64("net.0.rx.drop", 2),        u64("net.0.tx.bytes", 720),
		u64("net.0.tx.pkts", 8),        u64("net.0.tx.errs", 3),
		u64("net.0.tx.drop", 4),        u64("block.count", 1),
		str("block.0.name", vda),       u64("block.0.rd.reqs", 14),
		u64("block.0.rd.bytes", 512512), u64("block.0.wr.reqs", 2),
		u64("block.0.wr.bytes", 131072), u64("block.0.rd.times", 99),
		u64("block.0.errors", 7),
	};
	struct dom_sample s;

	assert_int_equal(bulk_stats_parse(r, sizeof(r) / sizeof(r[0]), NULL, &s, disks, nics), BULK_OK);
	assert_int_equal(s.state, 1);
	assert_int_equal(s.vcpus, 2);
	assert_true(s.has_cpu);
	assert_int_equal(s.cpu_time_ns, 9173807000ULL);
	assert_true(s.has_delay);
	assert_int_equal(s.delay_ns, 3500);
	assert_int_equal(s.mem.have, DOM_MEM_CURRENT | DOM_MEM_MAXIMUM | DOM_MEM_UNUSED |
					     DOM_MEM_AVAILABLE | DOM_MEM_USABLE | DOM_MEM_RSS);
	/* Every figure in its own field: a swapped entry in a table shows here. */
	assert_int_equal(s.mem.current_kib, 98304);
	assert_int_equal(s.mem.maximum_kib, 131072);
	assert_int_equal(s.mem.unused_kib, 20284);
	assert_int_equal(s.mem.available_kib, 49140);
	assert_int_equal(s.mem.usable_kib, 26844);
	assert_int_equal(s.mem.rss_kib, 178660);
	assert_int_equal(s.ndisks, 1);
	assert_ptr_equal(s.disks, disks);
	assert_string_equal(s.disks[0].name, "vda");
	assert_int_equal(s.disks[0].rd_req, 14);
	assert_int_equal(s.disks[0].rd_bytes, 512512);
	assert_int_equal(s.disks[0].wr_req, 2);
	assert_int_equal(s.disks[0].wr_bytes, 131072);
	assert_int_equal(s.disks[0].errors, 7);
	assert_int_equal(s.nnics, 1);
	assert_string_equal(s.nics[0].name, "tap0");
	assert_int_equal(s.nics[0].rx_bytes, 860);
	assert_int_equal(s.nics[0].rx_packets, 10);
	assert_int_equal(s.nics[0].rx_errors, 1);
	assert_int_equal(s.nics[0].rx_drops, 2);
	assert_int_equal(s.nics[0].tx_bytes, 720);
	assert_int_equal(s.nics[0].tx_packets, 8);
	assert_int_equal(s.nics[0].tx_errors, 3);
	assert_int_equal(s.nics[0].tx_drops, 4);
	assert_true(s.mono_ns > 0);
}

static void bulk_record_without_disk_counters_is_partial(void **state)
{
	char vda[] = "vda", vdb[] = "vdb";
	/* With the no-wait flag and a busy job, QEMU's driver still names the
	 * disks (from the definition) but has no counters for them. */
	virTypedParameter r[] = {
		i32("state.state", 1),    u64("cpu.time", 5),          u64("block.count", 2),
		str("block.0.name", vda), u64("block.0.rd.reqs", 1),   str("block.1.name", vdb),
		u64("block.1.allocation", 5),
	};
	struct dom_sample s;

	assert_int_equal(bulk_stats_parse(r, 7, NULL, &s, disks, nics), BULK_PARTIAL);
	assert_int_equal(bulk_stats_parse(r, 5, NULL, &s, disks, nics), BULK_OK);
}

static void bulk_running_domain_without_cpu_means_driver_lacks_it(void **state)
{
	virTypedParameter test_driver[] = {i32("state.state", 1), i32("state.reason", 0)};
	virTypedParameter paused_no_cpu[] = {i32("state.state", 3)};
	struct dom_sample s;

	assert_int_equal(bulk_stats_parse(test_driver, 2, NULL, &s, disks, nics), BULK_NO_CPU);
	assert_int_equal(bulk_stats_parse(paused_no_cpu, 1, NULL, &s, disks, nics), BULK_PARTIAL);
	assert_int_equal(bulk_stats_parse(NULL, 0, NULL, &s, disks, nics), BULK_PARTIAL);
}

static void bulk_kernel_cpu_figures_replace_the_records(void **state)
{
	char vda[] = "vda";
	/* A record asked without the cpu-total and vcpu groups, and one that
	 * has them anyway: the kernel's figures are used in both. */
	virTypedParameter no_cpu[] = {i32("state.state", 1), str("block.0.name", vda),
				      u64("block.0.rd.reqs", 3)};
	virTypedParameter with_cpu[] = {i32("state.state", 1), u64("cpu.time", 5),
					u64("vcpu.current", 4), u64("vcpu.0.delay", 9)};
	const struct qemu_proc_cpu kernel = {.cpu_time_ns = 7000, .delay_ns = 300, .vcpus = 2};
	struct dom_sample s;

	assert_int_equal(bulk_stats_parse(no_cpu, 3, &kernel, &s, disks, nics), BULK_OK);
	assert_true(s.has_cpu);
	assert_true(s.has_delay);
	assert_int_equal(s.cpu_time_ns, 7000);
	assert_int_equal(s.delay_ns, 300);
	assert_int_equal(s.vcpus, 2);
	assert_int_equal(s.disks[0].rd_req, 3);
	assert_int_equal(bulk_stats_parse(with_cpu, 4, &kernel, &s, disks, nics), BULK_OK);
	assert_int_equal(s.cpu_time_ns, 7000);
	assert_int_equal(s.delay_ns, 300);
	assert_int_equal(s.vcpus, 2);
	/* Without them, the same record is the driver lacking CPU time. */
	assert_int_equal(bulk_stats_parse(no_cpu, 3, NULL, &s, disks, nics), BULK_NO_CPU);
}

static void bulk_devices_matched_by_index_whatever_the_order(void **state)
{
	char a[] = "sda", b[] = "sdb";
	virTypedParameter r[] = {
		u64("cpu.time", 1),         u64("block.1.rd.reqs", 20), str("block.1.name", b),
		u64("block.0.rd.reqs", 10), str("block.0.name", a),     u64("net.2.tx.pkts", 7),
	};
	struct dom_sample s;

	assert_int_equal(bulk_stats_parse(r, 6, NULL, &s, disks, nics), BULK_OK);
	assert_int_equal(s.ndisks, 2);
	assert_string_equal(s.disks[0].name, "sda");
	assert_int_equal(s.disks[0].rd_req, 10);
	assert_string_equal(s.disks[1].name, "sdb");
	assert_int_equal(s.disks[1].rd_req, 20);
	/* A gap in the NIC indexes leaves zeroed, nameless entries. */
	assert_int_equal(s.nnics, 3);
	assert_string_equal(s.nics[0].name, "");
	assert_int_equal(s.nics[2].tx_packets, 7);
}

static void bulk_ignores_hostile_and_malformed_fields(void **state)
{
	char evil[300], weird[] = "x";
	virTypedParameter r[] = {
		u64("cpu.time", 1),
		u64("block.99999999999999999999.rd.reqs", 1), /* index overflow */
		u64("block.256.rd.reqs", 1),                  /* over the wire limit */
		u64("block.-1.rd.reqs", 1),
		u64("block.x.rd.reqs", 1),
		u64("block.7", 1),
		str("cpu.time", weird), /* wrong type: ignored, the number stays */
		i32("balloon.rss", -5),  /* negative: 0 */
		i32("state.state", 4000), /* not a state */
		str("net.0.name", evil),
		u64("vcpu.current", 1ULL << 40),
	};
	struct dom_sample s;

	memset(evil, 'n', sizeof(evil) - 1);
	evil[sizeof(evil) - 1] = '\0';
	memcpy(evil, "\xff\x1b[2J\n", 6);
	assert_int_equal(bulk_stats_parse(r, sizeof(r) / sizeof(r[0]), NULL, &s, disks, nics), BULK_OK);
	assert_int_equal(s.ndisks, 0);
	assert_int_equal(s.cpu_time_ns, 1);
	assert_true(s.mem.have & DOM_MEM_RSS);
	assert_int_equal(s.mem.rss_kib, 0);
	assert_int_equal(s.state, 0);
	assert_int_equal(s.vcpus, 0);
	assert_int_equal(s.nnics, 1);
	assert_true(strlen(s.nics[0].name) <= SM_DEV_MAX);
	assert_true(sm_utf8_valid(s.nics[0].name, strlen(s.nics[0].name)));
	assert_null(strchr(s.nics[0].name, '\x1b'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bulk_parses_a_complete_qemu_record),
		cmocka_unit_test(bulk_record_without_disk_counters_is_partial),
		cmocka_unit_test(bulk_running_domain_without_cpu_means_driver_lacks_it),
		cmocka_unit_test(bulk_kernel_cpu_figures_replace_the_records),
		cmocka_unit_test(bulk_devices_matched_by_index_whatever_the_order),
		cmocka_unit_test(bulk_ignores_hostile_and_malformed_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
