/*
 * Tests of the aggregator's metric mapping: which value of a decoded frame
 * (encoded and decoded by the real wire code) feeds which catalogue entry.
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

#include "metric_map.h"
#include "sm_wire.h"

static const uint8_t UUID[16] = {0x66, 0x95, 0xeb, 0x01, 0xf6, 0xa4, 0x83, 0x04,
				 0x79, 0xaa, 0x97, 0xf2, 0x50, 0x2e, 0x19, 0x3f};

/* A frame as a monitor sends it, through the real encoder and decoder. */
static void decoded_frame(struct sm_message *out)
{
	static struct sm_disk_stats disk;
	static struct sm_nic_stats nic;
	static struct sm_domain_stats d;
	struct sm_message m;
	struct sm_wire_error err;
	msgpack_sbuffer buf;

	memset(&m, 0, sizeof(m));
	m.hdr = (struct sm_header){.version = SM_WIRE_VERSION,
				   .kind = SM_KIND_STATS,
				   .time = 1795917600.5,
				   .seq = 1,
				   .epoch = 7};
	snprintf(m.hdr.host, sizeof(m.hdr.host), "cn1");
	m.u.stats.interval = 1;
	m.u.stats.host = (struct sm_host_stats){.ncpus = 4,
						.cpu_pct = 12.5,
						.load = {1, 2, 3},
						.mem_total_kib = 1000,
						.mem_used_kib = 250,
						.mem_pct = 25,
						.libvirt_ok = true,
						.libvirt_latency_ms = NAN};
	memcpy(d.uuid, UUID, 16);
	snprintf(d.name, sizeof(d.name), "instance-1");
	d.state = 1;
	d.vcpus = 1;
	d.cpu_pct = 42.5;
	d.steal_pct = NAN; /* sent as nil */
	d.load[0] = 0.5, d.load[1] = 0.25, d.load[2] = 0.125;
	d.mem_basis = SM_MEM_GUEST_USABLE;
	d.mem_total_kib = 2048;
	d.mem_used_kib = 1024;
	d.mem_pct = 50;
	disk = (struct sm_disk_stats){"vda", 1, 2, 3, 4, 5, 10.0, 20.0, NAN, 40.0};
	nic = (struct sm_nic_stats){"tap0", 1, 2, 3, 4, 5, 6, 7, 8, 100.0, 200.0, 300.0, 400.0};
	d.ndisks = 1;
	d.disks = &disk;
	d.nnics = 1;
	d.nics = &nic;
	m.u.stats.ndomains = 1;
	m.u.stats.domains = &d;
	msgpack_sbuffer_init(&buf);
	assert_int_equal(sm_wire_encode(&m, &buf), 0);
	assert_int_equal(sm_wire_decode(buf.data, buf.size, 0, out, &err), 0);
	msgpack_sbuffer_destroy(&buf);
}

static void metric_values_come_from_the_decoded_frame(void **state)
{
	struct sm_message m;
	double v[METRIC_DEVICE_MAX_N > METRIC_DOMAIN_N ? METRIC_DEVICE_MAX_N : METRIC_DOMAIN_N];
	double hv[METRIC_HOST_N];
	const struct sm_domain_stats *d;

	decoded_frame(&m);
	d = &m.u.stats.domains[0];
	metric_domain_values(d, v);
	assert_true(v[0] == 42.5);
	assert_true(isnan(v[1])); /* nil stays unknown: not written */
	assert_true(v[2] == 0.5 && v[3] == 0.25 && v[4] == 0.125);
	assert_true(v[5] == 50.0);
	assert_true(v[6] == 1024.0);

	metric_disk_values(&d->disks[0], v);
	assert_true(v[0] == 10.0 && v[1] == 20.0);
	assert_true(isnan(v[2]));
	assert_true(v[3] == 40.0);
	assert_true(v[4] == 5.0); /* errors: the cumulative counter */

	metric_nic_values(&d->nics[0], v);
	assert_true(v[0] == 100.0 && v[1] == 200.0 && v[2] == 300.0 && v[3] == 400.0);
	assert_true(v[4] == 3.0 && v[5] == 4.0 && v[6] == 7.0 && v[7] == 8.0);

	metric_host_values(&m.u.stats.host, m.u.stats.ndomains, hv);
	assert_true(hv[0] == 12.5);
	assert_true(hv[1] == 1.0 && hv[2] == 2.0 && hv[3] == 3.0);
	assert_true(hv[4] == 25.0 && hv[5] == 250.0);
	assert_true(isnan(hv[6])); /* libvirt latency absent */
	assert_true(hv[7] == 1.0); /* domains in the frame */
	sm_message_clear(&m);
}

static void metric_memory_without_basis_is_unknown(void **state)
{
	struct sm_domain_stats d;
	double v[METRIC_DOMAIN_N];

	memset(&d, 0, sizeof(d));
	d.mem_basis = SM_MEM_NONE;
	d.mem_used_kib = 0;
	d.mem_pct = NAN;
	metric_domain_values(&d, v);
	assert_true(isnan(v[5]));
	assert_true(isnan(v[6])); /* a 0 that was never measured is not written */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(metric_values_come_from_the_decoded_frame),
	    cmocka_unit_test(metric_memory_without_basis_is_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
