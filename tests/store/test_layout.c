/*
 * Tests of the aggregator's names: the data directory layout (and that no
 * name from the network can leave it or grow without bound) and the metric
 * mapping from a decoded frame (encoded and decoded by the real wire code).
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

#include "layout.h"
#include "metric_map.h"
#include "sm_wire.h"

static const uint8_t UUID[16] = {0x66, 0x95, 0xeb, 0x01, 0xf6, 0xa4, 0x83, 0x04,
				 0x79, 0xaa, 0x97, 0xf2, 0x50, 0x2e, 0x19, 0x3f};

/* True if s could be joined to a directory without leaving it: no '/'
 * and not "." or "..". */
static bool one_component(const char *s)
{
	return s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static void layout_keeps_plain_device_names(void **state)
{
	char out[LAYOUT_DEVICE_MAX + 1];

	layout_device_name("vda", 64, out);
	assert_string_equal(out, "vda");
	layout_device_name("tap1a2b3c4d-5e", 64, out);
	assert_string_equal(out, "tap1a2b3c4d-5e");
	layout_device_name("Vnet_0", 64, out);
	assert_string_equal(out, "Vnet_0");
}

static void layout_device_traversal_becomes_one_component(void **state)
{
	char out[LAYOUT_DEVICE_MAX + 1], metric[LAYOUT_METRIC_MAX + 1], path[LAYOUT_PATH_MAX];

	layout_device_name("../../etc", 64, out);
	assert_string_equal(out, "______etc");
	assert_true(layout_device_metric("disk", out, "rd_req_ps", metric, sizeof(metric)) > 0);
	assert_string_equal(metric, "disk.______etc.rd_req_ps");
	assert_true(layout_metric_path("domains/66/x", metric, path, sizeof(path)) > 0);
	assert_string_equal(path, "domains/66/x/disk.______etc.rd_req_ps.wsp");
	/* '.' would add a level to the metric name; bytes >= 0x80, spaces and
	 * control characters are not file-name material either. */
	layout_device_name("a.b c\t\xc3\xa9/\\", 64, out);
	assert_string_equal(out, "a_b_c_____");
	layout_device_name("..", 64, out);
	assert_string_equal(out, "__");
	assert_true(one_component(out));
}

static void layout_device_names_are_bounded_and_never_empty(void **state)
{
	char raw[1001], out[LAYOUT_DEVICE_MAX + 1];

	memset(raw, 'x', 1000);
	raw[1000] = '\0';
	layout_device_name(raw, sizeof(raw), out);
	assert_int_equal(strlen(out), LAYOUT_DEVICE_MAX);
	layout_device_name("", 64, out);
	assert_string_equal(out, "_");
	layout_device_name(NULL, 0, out);
	assert_string_equal(out, "_");
	/* Only `len` bytes are read: a name without its NUL stays bounded. */
	layout_device_name("vdaXXXX", 3, out);
	assert_string_equal(out, "vda");
	/* A metric name is refused rather than cut if the device is not sanitised. */
	{
		char metric[LAYOUT_METRIC_MAX + 1];

		assert_int_equal(
		    layout_device_metric("disk", "../x", "errors", metric, sizeof(metric)), -1);
		assert_int_equal(
		    layout_device_metric("disk", raw, "errors", metric, sizeof(metric)), -1);
		assert_int_equal(layout_device_metric("disk", "", "errors", metric, sizeof(metric)),
				 -1);
	}
}

static void layout_refuses_hosts_that_are_not_a_directory_name(void **state)
{
	char buf[LAYOUT_PATH_MAX], longname[300];

	assert_true(layout_host_ok("cn1"));
	assert_true(layout_host_ok("compute-01.rack2.example"));
	assert_false(layout_host_ok(".."));
	assert_false(layout_host_ok("."));
	assert_false(layout_host_ok(".hidden"));
	assert_false(layout_host_ok("a/b"));
	assert_false(layout_host_ok(""));
	assert_false(layout_host_ok(NULL));
	assert_false(layout_host_ok("cn 1"));
	memset(longname, 'h', 254);
	longname[254] = '\0';
	assert_false(layout_host_ok(longname));
	longname[253] = '\0';
	assert_true(layout_host_ok(longname));
	assert_int_equal(layout_host_dir("..", buf, sizeof(buf)), -1);
	assert_int_equal(layout_host_dir("../etc", buf, sizeof(buf)), -1);
	assert_true(layout_host_dir("cn1", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "hosts/cn1");
}

static void layout_domain_dir_is_two_hex_then_lowercase_uuid(void **state)
{
	char buf[LAYOUT_PATH_MAX];

	assert_int_equal(layout_domain_dir(UUID, buf, sizeof(buf)),
			 (int)strlen("domains/66/6695eb01-f6a4-8304-79aa-97f2502e193f"));
	assert_string_equal(buf, "domains/66/6695eb01-f6a4-8304-79aa-97f2502e193f");
	/* Refused, not cut, when the buffer is too small. */
	assert_int_equal(layout_domain_dir(UUID, buf, 20), -1);
}

static void layout_metric_path_refuses_non_names(void **state)
{
	char buf[LAYOUT_PATH_MAX];

	assert_true(layout_metric_path("hosts/cn1", "cpu_pct", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "hosts/cn1/cpu_pct.wsp");
	assert_int_equal(layout_metric_path("hosts/cn1", "../x", buf, sizeof(buf)), -1);
	assert_int_equal(layout_metric_path("hosts/cn1", ".x", buf, sizeof(buf)), -1);
	assert_int_equal(layout_metric_path("hosts/cn1", "", buf, sizeof(buf)), -1);
	assert_int_equal(layout_metric_path("hosts/cn1", "cpu_pct", buf, 10), -1);
}

static void layout_quarantine_name_is_flat_and_dated(void **state)
{
	char buf[LAYOUT_PATH_MAX];
	time_t t = 1795917600; /* 2026-11-29T02:00:00Z */

	assert_true(layout_quarantine_path("domains/66/u/cpu_pct.wsp", t, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "quarantine/domains+66+u+cpu_pct.wsp.20261129T020000Z");
	assert_int_equal(layout_quarantine_path("", t, buf, sizeof(buf)), -1);
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
	    cmocka_unit_test(layout_keeps_plain_device_names),
	    cmocka_unit_test(layout_device_traversal_becomes_one_component),
	    cmocka_unit_test(layout_device_names_are_bounded_and_never_empty),
	    cmocka_unit_test(layout_refuses_hosts_that_are_not_a_directory_name),
	    cmocka_unit_test(layout_domain_dir_is_two_hex_then_lowercase_uuid),
	    cmocka_unit_test(layout_metric_path_refuses_non_names),
	    cmocka_unit_test(layout_quarantine_name_is_flat_and_dated),
	    cmocka_unit_test(metric_names_and_methods_follow_the_contract),
	    cmocka_unit_test(metric_values_come_from_the_decoded_frame),
	    cmocka_unit_test(metric_memory_without_basis_is_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
