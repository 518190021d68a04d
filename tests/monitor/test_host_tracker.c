/*
 * Unit tests of host_tracker (the dom0 / node tracker): parsing of
 * /proc/stat, /proc/meminfo and /proc/loadavg text, good and bad, and a
 * tracker reading a fake /proc directory, then the real one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host_tracker.h"

static void host_parses_cpu_line(void **state)
{
	struct host_cpu_sample s;

	assert_int_equal(host_parse_stat("cpu  100 5 50 800 40 3 2 0 10 0\ncpu0 1 2 3 4\n", &s), 0);
	assert_int_equal(s.total, 1000);
	assert_int_equal(s.busy, 160);
	/* Old kernels: only four fields. */
	assert_int_equal(host_parse_stat("cpu 1 2 3 4\n", &s), 0);
	assert_int_equal(s.total, 10);
	assert_int_equal(s.busy, 6);
}

static void host_rejects_malformed_stat(void **state)
{
	struct host_cpu_sample s;

	assert_int_equal(host_parse_stat("", &s), -1);
	assert_int_equal(host_parse_stat("cpu0 1 2 3 4\n", &s), -1);
	assert_int_equal(host_parse_stat("cpu 1 2\n", &s), -1);
	assert_int_equal(host_parse_stat("intr 1 2 3 4 5\n", &s), -1);
}

static void host_cpu_percent_between_samples(void **state)
{
	struct host_cpu_sample a = {.busy = 100, .total = 1000};
	struct host_cpu_sample b = {.busy = 150, .total = 1200};

	assert_float_equal(host_cpu_pct(&a, &b), 25.0, 1e-9);
	assert_true(isnan(host_cpu_pct(&a, &a)));
	assert_true(isnan(host_cpu_pct(&b, &a)));
}

static void host_parses_meminfo_available(void **state)
{
	const char *text = "MemTotal:       24684004 kB\nMemFree:        23000000 kB\n"
			   "MemAvailable:   20000000 kB\nBuffers: 1 kB\n";
	uint64_t total = 0, avail = 0;

	assert_int_equal(host_parse_meminfo(text, &total, &avail), 0);
	assert_int_equal(total, 24684004);
	assert_int_equal(avail, 20000000);
	assert_int_equal(host_parse_meminfo("MemTotal: 10 kB\nMemFree: 5 kB\n", &total, &avail),
			 -1);
	assert_int_equal(host_parse_meminfo("MemTotalX: 10 kB\nMemAvailable: 5 kB\n", &total,
					    &avail),
			 -1);
	assert_int_equal(host_parse_meminfo("MemTotal: lots\nMemAvailable: 5 kB\n", &total, &avail),
			 -1);
}

static void host_parses_loadavg(void **state)
{
	double l[3];

	assert_int_equal(host_parse_loadavg("0.52 1.25 3.00 2/345 6789\n", l), 0);
	assert_float_equal(l[0], 0.52, 1e-12);
	assert_float_equal(l[1], 1.25, 1e-12);
	assert_float_equal(l[2], 3.0, 1e-12);
	assert_int_equal(host_parse_loadavg("0.52 1.25\n", l), -1);
	assert_int_equal(host_parse_loadavg("nan 1 2\n", l), -1);
	assert_int_equal(host_parse_loadavg("-1 1 2\n", l), -1);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void host_tracker_reads_fake_proc(void **state)
{
	char dir[] = "/tmp/sm-host-XXXXXX";
	struct host_tracker *h;
	struct sm_host_stats st = {0};
	char cmd[600];

	assert_non_null(mkdtemp(dir));
	write_file(dir, "stat", "cpu  100 0 100 800 0 0 0 0 0 0\n");
	write_file(dir, "meminfo", "MemTotal: 1000 kB\nMemAvailable: 250 kB\n");
	write_file(dir, "loadavg", "1.00 2.00 3.00 1/1 1\n");
	h = host_tracker_new(dir);
	assert_non_null(h);
	st.libvirt_ok = true;
	assert_int_equal(host_tracker_update(h, &st), 0);
	assert_true(isnan(st.cpu_pct)); /* first sample: no delta yet */
	assert_int_equal(st.mem_total_kib, 1000);
	assert_int_equal(st.mem_used_kib, 750);
	assert_float_equal(st.mem_pct, 75.0, 1e-9);
	assert_float_equal(st.load[2], 3.0, 1e-12);
	assert_true(st.ncpus >= 1);
	assert_true(st.libvirt_ok); /* libvirt fields are not touched */

	write_file(dir, "stat", "cpu  200 0 200 1400 0 0 0 0 0 0\n");
	assert_int_equal(host_tracker_update(h, &st), 0);
	assert_float_equal(st.cpu_pct, 25.0, 1e-9);

	/* A file that turns to garbage or to nothing: figures unknown, not
	 * stale. (A file kept open reads on after an unlink, as /proc's never
	 * go; an empty read closes it, and the next update opens it again.) */
	write_file(dir, "meminfo", "garbage\n");
	write_file(dir, "loadavg", "");
	snprintf(cmd, sizeof(cmd), "%s/loadavg", dir);
	unlink(cmd);
	assert_int_equal(host_tracker_update(h, &st), -1);
	assert_true(isnan(st.mem_pct));
	assert_int_equal(st.mem_total_kib, 0);
	assert_true(isnan(st.load[0]));
	assert_true(isnan(st.cpu_pct)); /* counters did not move */
	/* Gone for good: still unknown; back: read again. */
	assert_int_equal(host_tracker_update(h, &st), -1);
	assert_true(isnan(st.load[0]));
	write_file(dir, "loadavg", "0.50 0.25 0.10 1/1 1\n");
	write_file(dir, "meminfo", "MemTotal: 1000 kB\nMemAvailable: 500 kB\n");
	assert_int_equal(host_tracker_update(h, &st), 0);
	assert_float_equal(st.load[0], 0.5, 1e-12);
	assert_float_equal(st.mem_pct, 50.0, 1e-9);

	host_tracker_destroy(&h);
	assert_null(h);
	host_tracker_destroy(&h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void host_tracker_reads_real_proc(void **state)
{
	struct host_tracker *h = host_tracker_new(NULL);
	struct sm_host_stats st = {0};

	assert_int_equal(host_tracker_update(h, &st), 0);
	usleep(50000);
	assert_int_equal(host_tracker_update(h, &st), 0);
	assert_true(st.mem_total_kib > 0);
	assert_true(st.mem_pct > 0 && st.mem_pct <= 100);
	assert_true(isnan(st.cpu_pct) || (st.cpu_pct >= 0 && st.cpu_pct <= 100));
	assert_true(st.load[0] >= 0);
	host_tracker_destroy(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(host_parses_cpu_line),
		cmocka_unit_test(host_rejects_malformed_stat),
		cmocka_unit_test(host_cpu_percent_between_samples),
		cmocka_unit_test(host_parses_meminfo_available),
		cmocka_unit_test(host_parses_loadavg),
		cmocka_unit_test(host_tracker_reads_fake_proc),
		cmocka_unit_test(host_tracker_reads_real_proc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
