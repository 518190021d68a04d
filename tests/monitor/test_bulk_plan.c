/*
 * Tests of bulk_plan: which groups a bulk pass asks for as the table's
 * domains change (devices known or not, one disk or more, CPU figures from
 * the kernel or not), the budget of the per-domain disk calls and the pause
 * after it is overrun, and the kernel lookup failing cleanly for a domain
 * whose QEMU does not exist.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <string.h>

#include "bulk_plan.h"
#include "dom_table.h"
#include "dom_tracker.h"

#define MS 1000000LL

static const unsigned int everything = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
				       VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU |
				       VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK;
static const unsigned int cpu = VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_VCPU;

static struct dom_entry *add(struct dom_table *t, uint8_t n, size_t ndisks)
{
	uint8_t uuid[16] = {n};
	struct dom_tracker *tr = dom_tracker_new(uuid, "d");
	struct dom_entry *e = dom_table_add(t, uuid, &tr, "booted");

	assert_non_null(e);
	if (ndisks != (size_t)-1) { /* -1: devices not read yet */
		e->need_devices = false;
		e->devices.ndisks = ndisks;
	}
	return e;
}

static void plan_asks_everything_until_devices_are_known(void **state)
{
	struct dom_table *t = dom_table_new();
	struct bulk_plan *p = bulk_plan_new(250 * MS);

	assert_int_equal(bulk_plan_groups(p, t, true), everything);
	assert_int_equal(bulk_plan_groups(p, t, false), everything & ~VIR_DOMAIN_STATS_BALLOON);
	add(t, 1, (size_t)-1);
	assert_int_equal(bulk_plan_groups(p, t, true), everything);
	assert_true(bulk_plan_block_asked(p));
	assert_true(bulk_plan_cpu_asked(p));
	bulk_plan_destroy(&p);
	assert_null(p);
	bulk_plan_destroy(&p);
	dom_table_destroy(&t);
}

static void plan_reads_a_lone_disk_by_its_own_call(void **state)
{
	struct dom_table *t = dom_table_new();
	struct bulk_plan *p = bulk_plan_new(250 * MS);
	struct dom_entry *two = add(t, 2, 2), *one;

	/* Two disks: the block group is cheaper than two calls. */
	assert_true(bulk_plan_groups(p, t, true) & VIR_DOMAIN_STATS_BLOCK);
	assert_false(bulk_plan_disk_alone(two));
	one = add(t, 1, 1);
	assert_true(bulk_plan_disk_alone(one));
	assert_int_equal(bulk_plan_groups(p, t, true), everything & ~VIR_DOMAIN_STATS_BLOCK);
	assert_false(bulk_plan_block_asked(p));
	/* A disk-less domain needs no call either. */
	assert_true(bulk_plan_disk_alone(add(t, 3, 0)));
	/* Devices changed (an event): not alone until they are read again. */
	one->need_devices = true;
	assert_false(bulk_plan_disk_alone(one));
	bulk_plan_ask_all(p);
	assert_true(bulk_plan_block_asked(p));
	assert_true(bulk_plan_cpu_asked(p));
	bulk_plan_destroy(&p);
	dom_table_destroy(&t);
}

static void plan_pauses_lone_disk_calls_over_budget(void **state)
{
	struct dom_table *t = dom_table_new();
	struct bulk_plan *p = bulk_plan_new(250 * MS);
	int passes = 0;

	add(t, 1, 1);
	assert_false(bulk_plan_groups(p, t, true) & VIR_DOMAIN_STATS_BLOCK);
	bulk_plan_note_alone_ns(p, 200 * MS); /* within the budget */
	assert_false(bulk_plan_groups(p, t, true) & VIR_DOMAIN_STATS_BLOCK);
	bulk_plan_note_alone_ns(p, 300 * MS); /* over it */
	while (bulk_plan_groups(p, t, true) & VIR_DOMAIN_STATS_BLOCK)
		assert_true(++passes < 1000);
	assert_int_equal(passes, 60); /* the next 60 passes */
	/* No budget: never. */
	bulk_plan_set_budget(p, 0);
	assert_true(bulk_plan_groups(p, t, true) & VIR_DOMAIN_STATS_BLOCK);
	bulk_plan_destroy(&p);
	dom_table_destroy(&t);
}

static void plan_asks_cpu_of_libvirt_for_domains_without_a_process(void **state)
{
	struct dom_table *t = dom_table_new();
	struct bulk_plan *p = bulk_plan_new(0);
	struct dom_entry *e = add(t, 0x77, 1);
	struct qemu_proc_cpu k;

	/* Not local: libvirt's CPU figures, always. */
	assert_true((bulk_plan_groups(p, t, true) & cpu) == cpu);
	bulk_plan_find_processes(p, t);
	assert_false(e->kernel_looked);
	/* Local, but no process has this UUID: looked for once, then asked of
	 * libvirt (no scan on every pass). */
	bulk_plan_set_kernel(p, true);
	bulk_plan_find_processes(p, t);
	assert_true(e->kernel_looked);
	assert_null(e->kernel);
	assert_false(bulk_plan_kernel_cpu(e, &k));
	assert_true((bulk_plan_groups(p, t, true) & cpu) == cpu);
	assert_true(bulk_plan_cpu_asked(p));
	/* An empty table on a local connection asks for no CPU groups. */
	dom_table_remove(t, e->uuid, "destroyed");
	assert_int_equal(bulk_plan_groups(p, t, true) & cpu, 0);
	assert_false(bulk_plan_cpu_asked(p));
	bulk_plan_destroy(&p);
	dom_table_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(plan_asks_everything_until_devices_are_known),
	    cmocka_unit_test(plan_reads_a_lone_disk_by_its_own_call),
	    cmocka_unit_test(plan_pauses_lone_disk_calls_over_budget),
	    cmocka_unit_test(plan_asks_cpu_of_libvirt_for_domains_without_a_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
