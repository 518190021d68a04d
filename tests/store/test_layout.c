/*
 * Tests of the data directory's names: the layout (and that no name from
 * the network can leave it or grow without bound).
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
