/*
 * Unit tests of dom_tracker (DomainStatTracker): the arithmetic of
 * utilisation, rates, counter resets, load averages and memory basis, fed
 * with synthetic samples — no libvirt involved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dom_tracker.h"
#include "sm_utf8.h"

#define SEC INT64_C(1000000000)

static const uint8_t uuid_a[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* A running domain sample at time t_s with cpu time cpu_s (seconds). */
static struct dom_sample sample_at(double t_s, double cpu_s, uint32_t vcpus)
{
	struct dom_sample s = {0};

	s.mono_ns = (int64_t)(t_s * 1e9);
	s.state = 1;
	s.vcpus = vcpus;
	s.has_cpu = true;
	s.cpu_time_ns = (uint64_t)(cpu_s * 1e9);
	return s;
}

static void disk(struct sm_disk_stats *d, const char *name, uint64_t base)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->rd_req = base;
	d->rd_bytes = base * 512;
	d->wr_req = base / 2;
	d->wr_bytes = base * 256;
	d->errors = 0;
}

static void nic(struct sm_nic_stats *n, const char *name, uint64_t base)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->rx_bytes = base * 1000;
	n->rx_packets = base;
	n->tx_bytes = base * 500;
	n->tx_packets = base / 2;
}

static void tracker_first_sample_has_unknown_rates(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s = sample_at(10, 5, 2);
	struct sm_disk_stats d;
	const struct sm_domain_stats *st;

	disk(&d, "vda", 100);
	s.ndisks = 1;
	s.disks = &d;
	assert_non_null(t);
	assert_int_equal(dom_tracker_update(t, &s), 0);
	st = dom_tracker_stats(t);
	assert_true(isnan(st->cpu_pct));
	assert_true(isnan(st->load[0]));
	assert_int_equal(st->ndisks, 1);
	assert_int_equal(st->disks[0].rd_req, 100);
	assert_true(isnan(st->disks[0].rd_req_ps));
	assert_memory_equal(st->uuid, uuid_a, 16);
	assert_string_equal(st->name, "vm-a");
	dom_tracker_destroy(&t);
	assert_null(t);
	dom_tracker_destroy(&t); /* NULL-safe */
}

static void tracker_cpu_percent_from_two_samples(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s1 = sample_at(100, 50, 2);
	struct dom_sample s2 = sample_at(102, 51, 2); /* 1 s of CPU over 2 s on 2 vCPUs */

	dom_tracker_update(t, &s1);
	dom_tracker_update(t, &s2);
	assert_float_equal(dom_tracker_stats(t)->cpu_pct, 25.0, 1e-9);
	assert_int_equal(dom_tracker_stats(t)->cpu_time_ns, 51 * SEC);
	assert_int_equal(dom_tracker_stats(t)->vcpus, 2);
	dom_tracker_destroy(&t);
}

/* A sample that came after its frame had gone (the frame listed the domain
 * stale): its rates are in no frame, so the next sample's rates cover both
 * spans, and a reader who skips stale frames still counts every second. */
static void tracker_missed_rates_are_carried_into_the_next(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s1 = sample_at(100, 50, 1);
	struct dom_sample s2 = sample_at(101.5, 50.6, 1); /* 40 % over 1.5 s: missed */
	struct dom_sample s3 = sample_at(102, 50.7, 1);   /* 20 % over 0.5 s */
	struct dom_sample s4 = sample_at(103, 51.2, 1);   /* 50 % over 1 s */
	struct sm_disk_stats d[4];
	struct dom_sample *ss[] = {&s1, &s2, &s3, &s4};

	for (int i = 0; i < 4; i++) {
		disk(&d[i], "vda", 0);
		ss[i]->ndisks = 1;
		ss[i]->disks = &d[i];
	}
	d[0].rd_bytes = 0;
	d[1].rd_bytes = 3000; /* 2000 B/s over 1.5 s */
	d[2].rd_bytes = 4000; /* 2000 B/s over 0.5 s */
	d[3].rd_bytes = 4100; /* 100 B/s over 1 s */
	dom_tracker_update(t, &s1);
	dom_tracker_update(t, &s2);
	dom_tracker_rates_missed(t);
	dom_tracker_update(t, &s3);
	/* 0.7 s of CPU over the 2 s since s1, not 20 % */
	assert_float_equal(dom_tracker_stats(t)->cpu_pct, 35.0, 1e-9);
	assert_float_equal(dom_tracker_stats(t)->disks[0].rd_bytes_ps, 2000.0, 1e-9);
	/* Sent with s3: s4 is on its own again. */
	dom_tracker_update(t, &s4);
	assert_float_equal(dom_tracker_stats(t)->cpu_pct, 50.0, 1e-9);
	assert_float_equal(dom_tracker_stats(t)->disks[0].rd_bytes_ps, 100.0, 1e-9);
	dom_tracker_destroy(&t);
}

static void rate_merge_weighs_by_time_and_keeps_unknowns(void **state)
{
	(void)state;
	assert_float_equal(dom_rate_merge(40.0, 1.5, 20.0, 0.5), 35.0, 1e-12);
	assert_float_equal(dom_rate_merge(40.0, 0.0, 20.0, 0.5), 20.0, 1e-12);
	assert_float_equal(dom_rate_merge(NAN, 1.5, 20.0, 0.5), 20.0, 1e-12);
	assert_true(isnan(dom_rate_merge(40.0, 1.5, NAN, 0.5)));
}

static void tracker_cpu_percent_clamped_to_100(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s1 = sample_at(0, 0, 1);
	struct dom_sample s2 = sample_at(1, 1.3, 1); /* sampling jitter: 130 % */

	dom_tracker_update(t, &s1);
	dom_tracker_update(t, &s2);
	assert_float_equal(dom_tracker_stats(t)->cpu_pct, 100.0, 1e-9);
	assert_float_equal(dom_cpu_pct(0, 5 * SEC, 1.0, 4), 100.0, 1e-9);
	assert_float_equal(dom_cpu_pct(0, 1 * SEC, 1.0, 4), 25.0, 1e-9);
	dom_tracker_destroy(&t);
}

static void tracker_cpu_percent_unknown_on_counter_reset_then_recovers(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s;

	s = sample_at(0, 1000, 1);
	dom_tracker_update(t, &s);
	s = sample_at(1, 0.5, 1); /* restarted: counter went back */
	dom_tracker_update(t, &s);
	assert_true(isnan(dom_tracker_stats(t)->cpu_pct));
	s = sample_at(2, 1.0, 1);
	dom_tracker_update(t, &s);
	assert_float_equal(dom_tracker_stats(t)->cpu_pct, 50.0, 1e-9);
	dom_tracker_destroy(&t);
}

static void tracker_cpu_unknown_without_vcpus_or_time(void **state)
{
	assert_true(isnan(dom_cpu_pct(0, SEC, 1.0, 0)));
	assert_true(isnan(dom_cpu_pct(0, SEC, 0.0, 1)));
	assert_true(isnan(dom_cpu_pct(0, SEC, -1.0, 1)));
	assert_true(isnan(dom_cpu_pct(2 * SEC, SEC, 1.0, 1)));
	assert_true(isnan(dom_cpu_pct(0, SEC, NAN, 1)));
}

static void rate_unknown_when_counter_goes_backwards(void **state)
{
	assert_float_equal(dom_rate(100, 300, 2.0), 100.0, 1e-9);
	assert_float_equal(dom_rate(5, 5, 1.0), 0.0, 1e-9);
	assert_true(isnan(dom_rate(300, 100, 1.0)));
	assert_true(isnan(dom_rate(0, 100, 0.0)));
	assert_true(isnan(dom_rate(0, 100, NAN)));
	/* A counter near the top of its range: no overflow in the delta. */
	assert_float_equal(dom_rate(UINT64_MAX - 10, UINT64_MAX, 1.0), 10.0, 1e-9);
}

static void tracker_disk_rates_from_two_samples(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s1 = sample_at(0, 0, 1), s2 = sample_at(2, 1, 1);
	struct sm_disk_stats d1, d2;
	const struct sm_disk_stats *o;

	disk(&d1, "vda", 100);
	disk(&d2, "vda", 300);
	d2.errors = 3;
	s1.ndisks = s2.ndisks = 1;
	s1.disks = &d1;
	s2.disks = &d2;
	dom_tracker_update(t, &s1);
	dom_tracker_update(t, &s2);
	o = &dom_tracker_stats(t)->disks[0];
	assert_string_equal(o->name, "vda");
	assert_float_equal(o->rd_req_ps, 100.0, 1e-9);
	assert_float_equal(o->rd_bytes_ps, 100.0 * 512, 1e-9);
	assert_float_equal(o->wr_req_ps, 50.0, 1e-9);
	assert_float_equal(o->wr_bytes_ps, 100.0 * 256, 1e-9);
	assert_int_equal(o->rd_req, 300);
	assert_int_equal(o->errors, 3);
	dom_tracker_destroy(&t);
}

static void tracker_disk_counter_reset_gives_unknown_rate_not_spike(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s = sample_at(0, 0, 1);
	struct sm_disk_stats d;
	const struct sm_disk_stats *o;

	s.ndisks = 1;
	s.disks = &d;
	disk(&d, "vda", 1000000);
	dom_tracker_update(t, &s);
	s.mono_ns = 1 * SEC;
	disk(&d, "vda", 10); /* device re-created: counters restart */
	d.rd_bytes = 99999999999; /* even one counter that grew must not give a rate */
	dom_tracker_update(t, &s);
	o = &dom_tracker_stats(t)->disks[0];
	assert_true(isnan(o->rd_req_ps));
	assert_true(isnan(o->rd_bytes_ps));
	assert_true(isnan(o->wr_req_ps));
	assert_true(isnan(o->wr_bytes_ps));
	s.mono_ns = 2 * SEC;
	disk(&d, "vda", 20);
	d.rd_bytes = 99999999999 + 1024;
	dom_tracker_update(t, &s);
	o = &dom_tracker_stats(t)->disks[0];
	assert_float_equal(o->rd_req_ps, 10.0, 1e-9);
	assert_float_equal(o->rd_bytes_ps, 1024.0, 1e-9);
	dom_tracker_destroy(&t);
}

static void tracker_hotplugged_device_starts_unknown_others_keep_rates(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s = sample_at(0, 0, 1);
	struct sm_nic_stats n[3];
	const struct sm_domain_stats *st;

	nic(&n[0], "tap0", 100);
	s.nnics = 1;
	s.nics = n;
	dom_tracker_update(t, &s);

	/* tap1 hot-plugged in front of tap0: matched by name, not position. */
	nic(&n[0], "tap1", 7);
	nic(&n[1], "tap0", 200);
	s.nnics = 2;
	s.mono_ns = SEC;
	dom_tracker_update(t, &s);
	st = dom_tracker_stats(t);
	assert_int_equal(st->nnics, 2);
	assert_string_equal(st->nics[0].name, "tap1");
	assert_true(isnan(st->nics[0].rx_bytes_ps));
	assert_string_equal(st->nics[1].name, "tap0");
	assert_float_equal(st->nics[1].rx_bytes_ps, 100000.0, 1e-9);
	assert_float_equal(st->nics[1].rx_packets_ps, 100.0, 1e-9);
	assert_float_equal(st->nics[1].tx_bytes_ps, 50000.0, 1e-9);
	assert_float_equal(st->nics[1].tx_packets_ps, 50.0, 1e-9);

	/* tap0 unplugged, then plugged back with fresh counters. */
	s.nnics = 1;
	s.mono_ns = 2 * SEC;
	nic(&n[0], "tap1", 17);
	dom_tracker_update(t, &s);
	st = dom_tracker_stats(t);
	assert_int_equal(st->nnics, 1);
	assert_float_equal(st->nics[0].rx_packets_ps, 10.0, 1e-9);
	s.nnics = 2;
	s.mono_ns = 3 * SEC;
	nic(&n[0], "tap1", 27);
	nic(&n[1], "tap0", 1);
	dom_tracker_update(t, &s);
	st = dom_tracker_stats(t);
	assert_true(isnan(st->nics[1].rx_packets_ps));
	assert_float_equal(st->nics[0].rx_packets_ps, 10.0, 1e-9);
	dom_tracker_destroy(&t);
}

static void tracker_device_count_and_names_are_bounded(void **state)
{
	static struct sm_disk_stats many[SM_WIRE_MAX_DEVICES + 10];
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s = sample_at(0, 0, 1);
	const struct sm_domain_stats *st;

	for (size_t i = 0; i < SM_WIRE_MAX_DEVICES + 10; i++)
		disk(&many[i], "sdx", i);
	/* A name that fills the buffer with bytes that are not UTF-8. */
	memset(many[0].name, 0xff, sizeof(many[0].name));
	s.ndisks = SM_WIRE_MAX_DEVICES + 10;
	s.disks = many;
	assert_int_equal(dom_tracker_update(t, &s), 0);
	st = dom_tracker_stats(t);
	assert_int_equal(st->ndisks, SM_WIRE_MAX_DEVICES);
	assert_true(strlen(st->disks[0].name) <= SM_DEV_MAX);
	assert_true(sm_utf8_valid(st->disks[0].name, strlen(st->disks[0].name)));
	dom_tracker_destroy(&t);
}

static void tracker_steal_percent_from_vcpu_delay(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s1 = sample_at(0, 0, 2), s2 = sample_at(1, 1, 2);
	const struct sm_domain_stats *st;

	s1.has_delay = s2.has_delay = true;
	s1.delay_ns = 0;
	s2.delay_ns = SEC / 2; /* half a vCPU waited for a host CPU */
	dom_tracker_update(t, &s1);
	dom_tracker_update(t, &s2);
	st = dom_tracker_stats(t);
	assert_float_equal(st->cpu_pct, 50.0, 1e-9);
	assert_float_equal(st->steal_pct, 25.0, 1e-9);
	/* Load counts running and waiting vCPUs: 1 + 0.5, known at once. */
	assert_float_equal(st->load[0], 1.5, 1e-9);
	assert_float_equal(st->load[2], 1.5, 1e-9);
	dom_tracker_destroy(&t);
}

static void tracker_steal_unknown_without_delay(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s1 = sample_at(0, 0, 1), s2 = sample_at(1, 0.25, 1);

	dom_tracker_update(t, &s1);
	dom_tracker_update(t, &s2);
	assert_true(isnan(dom_tracker_stats(t)->steal_pct));
	assert_float_equal(dom_tracker_stats(t)->load[0], 0.25, 1e-9);
	dom_tracker_destroy(&t);
}

static void load_average_decays_like_unix_after_a_step(void **state)
{
	struct dom_load l;
	double load[3];

	/* A long idle history, then a step from 0 to 1: after one period,
	 * 1 - 1/e of the way, as a Unix load average. */
	dom_load_reset(&l);
	for (int i = 0; i < 4 * 3600; i++)
		dom_load_update(&l, 0.0, 1.0, load);
	for (int i = 0; i < 60; i++)
		dom_load_update(&l, 1.0, 1.0, load);
	assert_float_equal(load[0], 1.0 - exp(-1.0), 1e-6);
	assert_float_equal(load[1], 1.0 - exp(-60.0 / 300), 1e-6);
	assert_float_equal(load[2], 1.0 - exp(-60.0 / 900), 1e-6);
}

/* One unusual first second (a guest with 24 % steal as it was first seen,
 * then 0.02 busy) counts for one second: after 100 s the 15-minute figure
 * is the weighted mean of what was seen, about 0.022, not the 0.22 a
 * seeded average still showed. */
static void load_average_first_second_does_not_dominate(void **state)
{
	struct dom_load l;
	double load[3], mean = 0, w = 0;

	dom_load_reset(&l);
	dom_load_update(&l, 0.24, 1.0, load);
	assert_float_equal(load[2], 0.24, 1e-12); /* all that is known so far */
	for (int i = 0; i < 99; i++)
		dom_load_update(&l, 0.02, 1.0, load);
	/* The exact weighted mean: sample k (0 = newest) weighs exp(-k/900). */
	for (int k = 0; k < 100; k++) {
		mean += exp(-k / 900.0) * (k == 99 ? 0.24 : 0.02);
		w += exp(-k / 900.0);
	}
	assert_float_equal(load[2], mean / w, 1e-9);
	assert_true(load[2] < 0.025);
	assert_true(load[0] < load[1] && load[1] < load[2]);
	/* A constant load reads as itself from the first sample on. */
	dom_load_reset(&l);
	for (int i = 0; i < 5; i++) {
		dom_load_update(&l, 0.7, 1.0, load);
		for (int k = 0; k < 3; k++)
			assert_float_equal(load[k], 0.7, 1e-12);
	}
}

static void load_average_independent_of_interval(void **state)
{
	struct dom_load la, lb;
	double a[3], b[3];

	dom_load_reset(&la);
	dom_load_reset(&lb);
	for (int i = 0; i < 120; i++)
		dom_load_update(&la, i < 60 ? 1.0 : 3.0, 0.5, a);
	for (int i = 0; i < 6; i++)
		dom_load_update(&lb, i < 3 ? 1.0 : 3.0, 10.0, b);
	for (int k = 0; k < 3; k++)
		assert_float_equal(a[k], b[k], 1e-9);
}

static void load_average_converges_over_long_run(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	const struct sm_domain_stats *st;
	double cpu = 0;
	int64_t now = 0;
	struct dom_sample s;

	/* One idle hour, then two hours at 1.5 of 2 vCPUs busy, sampled every
	 * second with +-20 % jitter in the tick length: the 15-minute average
	 * ends within 1 % of 1.5, the 1-minute one within 0.1 %. */
	for (int i = 0; i <= 3 * 3600; i++) {
		double dt = 1.0 + ((i % 5) - 2) * 0.1;

		now += (int64_t)(dt * 1e9);
		if (i > 3600)
			cpu += 1.5 * dt;
		s = sample_at((double)now / 1e9, cpu, 2);
		s.cpu_time_ns = (uint64_t)(cpu * 1e9);
		assert_int_equal(dom_tracker_update(t, &s), 0);
		if (i == 3600) {
			st = dom_tracker_stats(t);
			assert_true(st->load[2] < 1e-9);
		}
	}
	st = dom_tracker_stats(t);
	assert_float_equal(st->load[0], 1.5, 1.5e-3);
	assert_float_equal(st->load[1], 1.5, 1.5e-2);
	assert_float_equal(st->load[2], 1.5 * (1 - exp(-7200.0 / 900)), 1.5e-2);
	assert_true(st->load[2] < st->load[1] && st->load[1] < st->load[0] + 1e-9);
	assert_float_equal(st->cpu_pct, 75.0, 1e-6);
	assert_int_equal(dom_tracker_samples(t), 3 * 3600 + 1);
	dom_tracker_destroy(&t);
}

static void load_average_ignores_unknown_instants(void **state)
{
	struct dom_load l;
	double load[3];

	dom_load_reset(&l);
	dom_load_update(&l, NAN, 1.0, load);
	assert_true(isnan(load[0]));
	dom_load_update(&l, 2.0, NAN, load); /* over no known time: adds nothing */
	assert_true(isnan(load[1]));
	dom_load_update(&l, 2.0, 1.0, load);
	assert_float_equal(load[1], 2.0, 1e-12);
	dom_load_update(&l, NAN, 1.0, load);
	assert_float_equal(load[1], 2.0, 1e-12);
	dom_load_update(&l, 0.0, 0.0, load); /* no time passed: no change */
	assert_float_equal(load[0], 2.0, 1e-12);
	dom_load_reset(&l);
	dom_load_update(&l, NAN, 1.0, load);
	assert_true(isnan(load[2]));
}

static void memory_basis_prefers_guest_usable(void **state)
{
	struct dom_mem_sample m = {.have = DOM_MEM_AVAILABLE | DOM_MEM_USABLE | DOM_MEM_UNUSED |
					   DOM_MEM_RSS | DOM_MEM_CURRENT | DOM_MEM_MAXIMUM,
				   .available_kib = 2097152,
				   .usable_kib = 1048576,
				   .unused_kib = 262144,
				   .rss_kib = 3000000,
				   .current_kib = 2097152,
				   .maximum_kib = 8388608};
	uint64_t used, total;

	assert_int_equal(dom_mem_basis_choose(&m, &used, &total), SM_MEM_GUEST_USABLE);
	assert_int_equal(total, 2097152);
	assert_int_equal(used, 1048576);
	assert_float_equal(dom_mem_pct(SM_MEM_GUEST_USABLE, used, total), 50.0, 1e-9);
}

static void memory_basis_falls_back_in_documented_order(void **state)
{
	struct dom_mem_sample m = {.have = DOM_MEM_AVAILABLE | DOM_MEM_UNUSED | DOM_MEM_RSS |
					   DOM_MEM_CURRENT | DOM_MEM_MAXIMUM,
				   .available_kib = 1000,
				   .unused_kib = 250,
				   .rss_kib = 300,
				   .current_kib = 1000,
				   .maximum_kib = 4000};
	uint64_t used, total;

	assert_int_equal(dom_mem_basis_choose(&m, &used, &total), SM_MEM_GUEST_UNUSED);
	assert_int_equal(used, 750);
	m.have &= ~(uint32_t)(DOM_MEM_UNUSED);
	assert_int_equal(dom_mem_basis_choose(&m, &used, &total), SM_MEM_HOST_RSS);
	assert_int_equal(used, 300);
	assert_int_equal(total, 1000);
	/* QEMU's RSS and the guest's size are not comparable: no percentage. */
	assert_true(isnan(dom_mem_pct(SM_MEM_HOST_RSS, used, total)));
	m.have &= ~(uint32_t)DOM_MEM_RSS;
	assert_int_equal(dom_mem_basis_choose(&m, &used, &total), SM_MEM_HOST_ALLOC);
	assert_int_equal(used, 1000);
	assert_int_equal(total, 4000);
	assert_float_equal(dom_mem_pct(SM_MEM_HOST_ALLOC, used, total), 25.0, 1e-9);
	m.have = 0;
	assert_int_equal(dom_mem_basis_choose(&m, &used, &total), SM_MEM_NONE);
	assert_int_equal(used, 0);
	assert_int_equal(total, 0);
	assert_true(isnan(dom_mem_pct(SM_MEM_NONE, used, total)));
}

static void memory_basis_rejects_bad_guest_figures(void **state)
{
	struct dom_mem_sample m = {.have = DOM_MEM_AVAILABLE | DOM_MEM_USABLE | DOM_MEM_CURRENT |
					   DOM_MEM_MAXIMUM,
				   .available_kib = 0, /* guest reported nothing useful */
				   .usable_kib = 100,
				   .current_kib = 512,
				   .maximum_kib = 1024};
	uint64_t used, total;

	assert_int_equal(dom_mem_basis_choose(&m, &used, &total), SM_MEM_HOST_ALLOC);
	m.available_kib = 1000;
	m.usable_kib = 5000; /* more usable than available: nothing used, not negative */
	assert_int_equal(dom_mem_basis_choose(&m, &used, &total), SM_MEM_GUEST_USABLE);
	assert_int_equal(used, 0);
	assert_float_equal(dom_mem_pct(SM_MEM_GUEST_USABLE, used, total), 0.0, 1e-9);
	/* Never above 100. */
	assert_float_equal(dom_mem_pct(SM_MEM_HOST_ALLOC, 1500, 1000), 100.0, 1e-9);
	/* Available alone is not a basis. */
	m.have = DOM_MEM_AVAILABLE;
	assert_int_equal(dom_mem_basis_choose(&m, &used, &total), SM_MEM_NONE);
}

/* A guest that boots: until its balloon driver reports, libvirt gives
 * QEMU's RSS (more than the guest's size, with QEMU's own memory) and the
 * allocation. Both are published; the percentage is nil, not 100 %. */
static void tracker_memory_of_a_booting_guest_has_no_percentage(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s = sample_at(0, 0, 1);
	const struct sm_domain_stats *st;

	s.mem.have = DOM_MEM_RSS | DOM_MEM_CURRENT | DOM_MEM_MAXIMUM;
	s.mem.rss_kib = 200 * 1024;
	s.mem.current_kib = s.mem.maximum_kib = 128 * 1024;
	dom_tracker_update(t, &s);
	st = dom_tracker_stats(t);
	assert_int_equal(st->mem_basis, SM_MEM_HOST_RSS);
	assert_int_equal(st->mem_used_kib, 200 * 1024);
	assert_int_equal(st->mem_total_kib, 128 * 1024);
	assert_true(isnan(st->mem_pct));
	/* The balloon driver is up: the guest's own view, with a percentage. */
	s.mono_ns = SEC;
	s.mem.have |= DOM_MEM_AVAILABLE | DOM_MEM_USABLE;
	s.mem.available_kib = 120 * 1024;
	s.mem.usable_kib = 90 * 1024;
	dom_tracker_update(t, &s);
	assert_int_equal(st->mem_basis, SM_MEM_GUEST_USABLE);
	assert_float_equal(st->mem_pct, 25.0, 1e-9);
	dom_tracker_destroy(&t);
}

static void tracker_memory_reports_basis_and_moves(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s = sample_at(0, 0, 1);
	const struct sm_domain_stats *st;

	s.mem.have = DOM_MEM_AVAILABLE | DOM_MEM_USABLE;
	s.mem.available_kib = 4096;
	s.mem.usable_kib = 3072;
	dom_tracker_update(t, &s);
	st = dom_tracker_stats(t);
	assert_int_equal(st->mem_basis, SM_MEM_GUEST_USABLE);
	assert_float_equal(st->mem_pct, 25.0, 1e-9);
	assert_int_equal(st->mem_used_kib, 1024);
	assert_int_equal(st->mem_total_kib, 4096);
	s.mono_ns = SEC;
	s.mem.usable_kib = 1024;
	dom_tracker_update(t, &s);
	assert_float_equal(st->mem_pct, 75.0, 1e-9);
	s.mono_ns = 2 * SEC;
	s.mem.have = 0; /* balloon stats stopped coming */
	dom_tracker_update(t, &s);
	assert_int_equal(st->mem_basis, SM_MEM_NONE);
	assert_true(isnan(st->mem_pct));
	dom_tracker_destroy(&t);
}

static void tracker_rename_keeps_history(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "old-name");
	struct dom_sample s1 = sample_at(0, 0, 1), s2 = sample_at(1, 0.5, 1);

	dom_tracker_update(t, &s1);
	dom_tracker_set_name(t, "new-name");
	dom_tracker_update(t, &s2);
	assert_string_equal(dom_tracker_stats(t)->name, "new-name");
	assert_float_equal(dom_tracker_stats(t)->cpu_pct, 50.0, 1e-9);
	assert_memory_equal(dom_tracker_uuid(t), uuid_a, 16);
	dom_tracker_destroy(&t);
}

static void tracker_hostile_name_is_sanitised_and_bounded(void **state)
{
	char hostile[1000];
	struct dom_tracker *t;
	const char *name;

	memset(hostile, 'x', sizeof(hostile) - 1);
	hostile[sizeof(hostile) - 1] = '\0';
	memcpy(hostile, "\xc3\x28\x1b[31m\"\n", 8); /* invalid UTF-8, escape, quote, newline */
	t = dom_tracker_new(uuid_a, hostile);
	name = dom_tracker_stats(t)->name;
	assert_true(strlen(name) <= SM_NAME_MAX);
	assert_true(sm_utf8_valid(name, strlen(name)));
	assert_null(strchr(name, '\n'));
	assert_null(strchr(name, '\x1b'));
	dom_tracker_set_name(t, NULL);
	assert_string_equal(dom_tracker_stats(t)->name, "");
	dom_tracker_destroy(&t);
}

static void tracker_identity_sets_and_clears_nova_flag(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct sm_identity id = {0};

	snprintf(id.project_id, sizeof(id.project_id), "p-1");
	dom_tracker_set_identity(t, &id);
	assert_true(dom_tracker_stats(t)->has_identity);
	assert_true(dom_tracker_stats(t)->flags & SM_DOM_NOVA);
	assert_string_equal(dom_tracker_stats(t)->identity.project_id, "p-1");
	dom_tracker_set_identity(t, NULL);
	assert_false(dom_tracker_stats(t)->has_identity);
	assert_false(dom_tracker_stats(t)->flags & SM_DOM_NOVA);
	assert_string_equal(dom_tracker_stats(t)->identity.project_id, "");
	dom_tracker_destroy(&t);
}

static void tracker_reset_makes_next_sample_a_baseline(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s1 = sample_at(0, 0, 1), s2 = sample_at(1, 0.5, 1);
	struct dom_sample s3 = sample_at(2, 0.1, 1), s4 = sample_at(3, 0.2, 1);

	dom_tracker_update(t, &s1);
	dom_tracker_update(t, &s2);
	dom_tracker_reset(t);
	assert_int_equal(dom_tracker_samples(t), 0);
	dom_tracker_update(t, &s3);
	assert_true(isnan(dom_tracker_stats(t)->cpu_pct));
	assert_true(isnan(dom_tracker_stats(t)->load[0]));
	dom_tracker_update(t, &s4);
	assert_float_equal(dom_tracker_stats(t)->cpu_pct, 10.0, 1e-6);
	dom_tracker_destroy(&t);
}

static void tracker_same_instant_gives_unknown_not_infinite(void **state)
{
	struct dom_tracker *t = dom_tracker_new(uuid_a, "vm-a");
	struct dom_sample s1 = sample_at(5, 1, 1), s2 = sample_at(5, 2, 1);
	struct sm_disk_stats d;

	disk(&d, "vda", 1);
	s1.ndisks = s2.ndisks = 1;
	s1.disks = s2.disks = &d;
	dom_tracker_update(t, &s1);
	dom_tracker_update(t, &s2);
	assert_true(isnan(dom_tracker_stats(t)->cpu_pct));
	assert_true(isnan(dom_tracker_stats(t)->disks[0].rd_req_ps));
	dom_tracker_destroy(&t);
}

/* Each figure lands in its own field with its own flag; a value that names
 * no single figure changes nothing. */
static void mem_set_fills_field_and_flag(void **state)
{
	struct dom_mem_sample m = {0};

	(void)state;
	dom_mem_set(&m, DOM_MEM_USABLE, 1234);
	assert_int_equal(m.have, DOM_MEM_USABLE);
	assert_int_equal(m.usable_kib, 1234);
	dom_mem_set(&m, DOM_MEM_CURRENT, 4096);
	dom_mem_set(&m, DOM_MEM_MAXIMUM, 8192);
	dom_mem_set(&m, DOM_MEM_AVAILABLE, 4000);
	dom_mem_set(&m, DOM_MEM_UNUSED, 100);
	dom_mem_set(&m, DOM_MEM_RSS, 5000);
	assert_int_equal(m.have, DOM_MEM_USABLE | DOM_MEM_CURRENT | DOM_MEM_MAXIMUM |
				     DOM_MEM_AVAILABLE | DOM_MEM_UNUSED | DOM_MEM_RSS);
	assert_int_equal(m.current_kib, 4096);
	assert_int_equal(m.maximum_kib, 8192);
	assert_int_equal(m.available_kib, 4000);
	assert_int_equal(m.unused_kib, 100);
	assert_int_equal(m.rss_kib, 5000);
	assert_int_equal(m.usable_kib, 1234);
	memset(&m, 0, sizeof(m));
	dom_mem_set(&m, (enum dom_mem_have)0, 7);
	dom_mem_set(&m, (enum dom_mem_have)(DOM_MEM_RSS | DOM_MEM_UNUSED), 7);
	assert_int_equal(m.have, 0);
	assert_int_equal(m.rss_kib, 0);
	assert_int_equal(m.unused_kib, 0);
}

/* A pass without the guest's statistics: the fresh allocation from GetInfo
 * stays, the guest's view comes from the last read, nothing else appears. */
static void mem_fill_from_keeps_fresh_figures_and_adds_the_rest(void **state)
{
	struct dom_mem_sample older = {0}, m = {0}, none = {0};

	(void)state;
	dom_mem_set(&older, DOM_MEM_CURRENT, 4096);
	dom_mem_set(&older, DOM_MEM_USABLE, 3000);
	dom_mem_set(&older, DOM_MEM_AVAILABLE, 4000);
	dom_mem_set(&older, DOM_MEM_RSS, 5000);
	dom_mem_set(&m, DOM_MEM_CURRENT, 2048);
	dom_mem_set(&m, DOM_MEM_MAXIMUM, 8192);
	dom_mem_fill_from(&m, &older);
	assert_int_equal(m.have, DOM_MEM_CURRENT | DOM_MEM_MAXIMUM | DOM_MEM_USABLE |
				     DOM_MEM_AVAILABLE | DOM_MEM_RSS);
	assert_int_equal(m.current_kib, 2048); /* the fresh figure wins */
	assert_int_equal(m.maximum_kib, 8192);
	assert_int_equal(m.usable_kib, 3000);
	assert_int_equal(m.available_kib, 4000);
	assert_int_equal(m.rss_kib, 5000);
	assert_int_equal(m.unused_kib, 0); /* never read: still absent */
	/* A bulk pass without the balloon group has nothing of its own. */
	dom_mem_fill_from(&none, &older);
	assert_int_equal(none.have, older.have);
	assert_int_equal(none.current_kib, 4096);
	assert_int_equal(none.usable_kib, 3000);
	assert_int_equal(none.available_kib, 4000);
	assert_int_equal(none.rss_kib, 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mem_set_fills_field_and_flag),
		cmocka_unit_test(mem_fill_from_keeps_fresh_figures_and_adds_the_rest),
		cmocka_unit_test(tracker_first_sample_has_unknown_rates),
		cmocka_unit_test(tracker_cpu_percent_from_two_samples),
		cmocka_unit_test(tracker_cpu_percent_clamped_to_100),
		cmocka_unit_test(tracker_missed_rates_are_carried_into_the_next),
		cmocka_unit_test(rate_merge_weighs_by_time_and_keeps_unknowns),
		cmocka_unit_test(tracker_cpu_percent_unknown_on_counter_reset_then_recovers),
		cmocka_unit_test(tracker_cpu_unknown_without_vcpus_or_time),
		cmocka_unit_test(rate_unknown_when_counter_goes_backwards),
		cmocka_unit_test(tracker_disk_rates_from_two_samples),
		cmocka_unit_test(tracker_disk_counter_reset_gives_unknown_rate_not_spike),
		cmocka_unit_test(tracker_hotplugged_device_starts_unknown_others_keep_rates),
		cmocka_unit_test(tracker_device_count_and_names_are_bounded),
		cmocka_unit_test(tracker_steal_percent_from_vcpu_delay),
		cmocka_unit_test(tracker_steal_unknown_without_delay),
		cmocka_unit_test(load_average_decays_like_unix_after_a_step),
		cmocka_unit_test(load_average_first_second_does_not_dominate),
		cmocka_unit_test(load_average_independent_of_interval),
		cmocka_unit_test(load_average_converges_over_long_run),
		cmocka_unit_test(load_average_ignores_unknown_instants),
		cmocka_unit_test(memory_basis_prefers_guest_usable),
		cmocka_unit_test(memory_basis_falls_back_in_documented_order),
		cmocka_unit_test(memory_basis_rejects_bad_guest_figures),
		cmocka_unit_test(tracker_memory_reports_basis_and_moves),
		cmocka_unit_test(tracker_memory_of_a_booting_guest_has_no_percentage),
		cmocka_unit_test(tracker_rename_keeps_history),
		cmocka_unit_test(tracker_hostile_name_is_sanitised_and_bounded),
		cmocka_unit_test(tracker_identity_sets_and_clears_nova_flag),
		cmocka_unit_test(tracker_reset_makes_next_sample_a_baseline),
		cmocka_unit_test(tracker_same_instant_gives_unknown_not_infinite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
