/*
 * Unit tests of qemu_proc (a local QEMU domain's CPU figures from /proc and
 * its cgroup): the parsers, good and hostile text, then the real kernel:
 * this test process with a thread named as QEMU names a vCPU thread, found
 * by its command line and read while that thread burns CPU. The comparison
 * with libvirt on real QEMU guests is in qemu_test.py.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qemu_proc.h"

static void qemu_finds_uuid_in_a_command_line(void **state)
{
	static const char cmd[] = "/usr/bin/qemu-system-x86_64\0-name\0guest=vm1\0-uuid\0"
				  "2E62D698-4957-2d7b-38c1-23c5c144b859\0-smp\0001";
	static const uint8_t want[16] = {0x2e, 0x62, 0xd6, 0x98, 0x49, 0x57, 0x2d, 0x7b,
					 0x38, 0xc1, 0x23, 0xc5, 0xc1, 0x44, 0xb8, 0x59};
	uint8_t uuid[16];

	assert_int_equal(qemu_proc_cmdline_uuid(cmd, sizeof(cmd), uuid), 0);
	assert_memory_equal(uuid, want, 16);
}

static void qemu_rejects_command_lines_without_a_good_uuid(void **state)
{
	static const char none[] = "/bin/sh\0-c\0sleep 1";
	static const char last[] = "qemu\0-uuid";		       /* no argument after it */
	static const char cut[] = "qemu\0-uuid\0002e62d698-4957-2d7b"; /* read in part */
	static const char bad[] = "qemu\0-uuid\0zz62d698-4957-2d7b-38c1-23c5c144b859";
	static const char not_arg[] = "qemu\0-name\0-uuid x\0";
	uint8_t uuid[16];

	assert_int_equal(qemu_proc_cmdline_uuid(none, sizeof(none), uuid), -1);
	assert_int_equal(qemu_proc_cmdline_uuid(last, sizeof(last), uuid), -1);
	assert_int_equal(qemu_proc_cmdline_uuid(cut, sizeof(cut) - 1, uuid), -1);
	assert_int_equal(qemu_proc_cmdline_uuid(bad, sizeof(bad), uuid), -1);
	assert_int_equal(qemu_proc_cmdline_uuid(not_arg, sizeof(not_arg), uuid), -1);
	assert_int_equal(qemu_proc_cmdline_uuid("", 0, uuid), -1);
}

static void qemu_names_vcpu_threads(void **state)
{
	assert_int_equal(qemu_proc_vcpu_index("CPU 0/KVM\n"), 0);
	assert_int_equal(qemu_proc_vcpu_index("CPU 17/TCG"), 17);
	assert_int_equal(qemu_proc_vcpu_index("CPU 3/HVF\n"), 3);
	assert_int_equal(qemu_proc_vcpu_index("ALL CPUs/TCG\n"), -1);
	assert_int_equal(qemu_proc_vcpu_index("IO mon_iothread"), -1);
	assert_int_equal(qemu_proc_vcpu_index("CPU /KVM"), -1);
	assert_int_equal(qemu_proc_vcpu_index("CPU 1"), -1);
	assert_int_equal(qemu_proc_vcpu_index("CPU 99999999999/KVM"), -1);
	assert_int_equal(qemu_proc_vcpu_index(""), -1);
}

static void qemu_parses_schedstat_and_cpu_stat(void **state)
{
	uint64_t v = 0;

	assert_int_equal(qemu_proc_parse_schedstat("6606684863 25604304 533\n", &v), 0);
	assert_int_equal(v, 25604304);
	assert_int_equal(qemu_proc_parse_schedstat("12\n", &v), -1);
	assert_int_equal(qemu_proc_parse_schedstat("", &v), -1);
	assert_int_equal(qemu_proc_parse_cpu_stat("usage_usec 7726081\nuser_usec 7073458\n", &v),
			 0);
	assert_int_equal(v, 7726081000ull);
	assert_int_equal(qemu_proc_parse_cpu_stat("user_usec 1\nusage_usec 5", &v), 0);
	assert_int_equal(v, 5000);
	assert_int_equal(qemu_proc_parse_cpu_stat("user_usec 7073458\n", &v), -1);
	assert_int_equal(qemu_proc_parse_cpu_stat("usage_usec x\n", &v), -1);
	assert_int_equal(qemu_proc_parse_cpu_stat("usage_usec 99999999999999999999\n", &v), -1);
}

static void qemu_finds_the_domains_cgroup(void **state)
{
	/* Hybrid layout (v1 controllers and a unified v2 tree), as here. */
	static const char hybrid[] = "9:name=systemd:/\n"
				     "3:cpuset:/machine/qemu-1-vm.libvirt-qemu/emulator\n"
				     "2:cpuacct:/\n"
				     "1:cpu:/machine/qemu-1-vm.libvirt-qemu/emulator\n"
				     "0::/machine/qemu-1-vm.libvirt-qemu/emulator\n";
	static const char v1[] = "4:cpu,cpuacct:/machine.slice/machine-qemu.scope/emulator\n";
	static const char v2[] =
	    "0::/machine.slice/machine-qemu\\x2d1\\x2dvm.scope/libvirt/emulator";
	char out[256];

	assert_int_equal(qemu_proc_cgroup_path(hybrid, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "/machine/qemu-1-vm.libvirt-qemu");
	assert_int_equal(qemu_proc_cgroup_path(hybrid, 1, out, sizeof(out)), -1); /* the root */
	assert_int_equal(qemu_proc_cgroup_path(v1, 1, out, sizeof(out)), 0);
	assert_string_equal(out, "/machine.slice/machine-qemu.scope");
	assert_int_equal(qemu_proc_cgroup_path(v1, 0, out, sizeof(out)), -1);
	assert_int_equal(qemu_proc_cgroup_path(v2, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "/machine.slice/machine-qemu\\x2d1\\x2dvm.scope/libvirt");
	assert_int_equal(qemu_proc_cgroup_path(v2, 0, out, 8), -1); /* too long for out */
	assert_int_equal(qemu_proc_cgroup_path("0::/\n", 0, out, sizeof(out)), -1);
	assert_int_equal(qemu_proc_cgroup_path("0::relative\n", 0, out, sizeof(out)), -1);
	assert_int_equal(qemu_proc_cgroup_path("garbage\n\n::\n", 0, out, sizeof(out)), -1);
	assert_int_equal(qemu_proc_cgroup_path("", 1, out, sizeof(out)), -1);
}

static void qemu_scan_of_a_missing_proc_fails(void **state)
{
	uint8_t uuids[1][16] = {{1}};
	pid_t pids[1] = {42};

	assert_int_equal(qemu_proc_scan("/nonexistent-proc", (const uint8_t(*)[16])uuids, 1, pids),
			 -1);
	assert_int_equal(pids[0], 0);
	assert_null(qemu_proc_open("/nonexistent-proc", getpid()));
}

/* ---- The real kernel: this process, with a "vCPU" thread -------------- */

static atomic_bool stop_burning;

static void *burn(void *arg)
{
	volatile uint64_t x = 0;

	(void)arg;
	while (!atomic_load(&stop_burning))
		x++;
	return NULL;
}

static uint64_t thread_cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void qemu_reads_a_process_with_a_vcpu_thread(void **state)
{
	struct qemu_proc *q;
	struct qemu_proc_cpu a, b;
	pthread_t t;
	uint64_t own0, own1;

	/* Without a thread named like a vCPU, the process is not QEMU's. */
	assert_null(qemu_proc_open("/proc", getpid()));
	atomic_store(&stop_burning, false);
	assert_int_equal(pthread_create(&t, NULL, burn, NULL), 0);
	assert_int_equal(pthread_setname_np(t, "CPU 0/TEST"), 0);
	q = qemu_proc_open("/proc", getpid());
	assert_non_null(q);
	assert_int_equal(qemu_proc_pid(q), getpid());
	own0 = thread_cpu_now_ns();
	assert_int_equal(qemu_proc_read(q, &a), 0);
	usleep(300000);
	assert_int_equal(qemu_proc_read(q, &b), 0);
	own1 = thread_cpu_now_ns();
	assert_int_equal(a.vcpus, 1);
	assert_int_equal(b.vcpus, 1);
	assert_true(b.delay_ns >= a.delay_ns);
	/* The burning thread ran most of the 0.3 s; a clock of ticks (no
	 * cgroup of our own) is at worst 10 ms behind at each end. */
	assert_true(b.cpu_time_ns > a.cpu_time_ns + 100000000ull);
	assert_true(b.cpu_time_ns - a.cpu_time_ns <= own1 - own0 + 30000000ull ||
		    qemu_proc_source(q) != QEMU_PROC_PROC_STAT);
	/* A second "vCPU" shows on the next read; when both are gone, the
	 * figures are no longer QEMU's. */
	{
		pthread_t t2;

		assert_int_equal(pthread_create(&t2, NULL, burn, NULL), 0);
		assert_int_equal(pthread_setname_np(t2, "CPU 1/TEST"), 0);
		assert_int_equal(qemu_proc_read(q, &b), 0);
		assert_int_equal(b.vcpus, 2);
		atomic_store(&stop_burning, true);
		pthread_join(t2, NULL);
	}
	pthread_join(t, NULL);
	/* pthread_join returns once the kernel clears the thread's id, a moment
	 * before its /proc/PID/task entry goes: wait for that, up to 2 s. */
	for (int tries = 0; tries < 200 && qemu_proc_read(q, &b) == 0; tries++)
		usleep(10000);
	assert_int_equal(qemu_proc_read(q, &b), -1);
	qemu_proc_destroy(&q);
	assert_null(q);
	qemu_proc_destroy(&q); /* NULL-safe */
}

static void qemu_scan_finds_a_process_by_uuid(void **state)
{
	/* A process started as libvirt starts QEMU, "-uuid U" among its
	 * arguments (a shell that sleeps; it does not exec, so the command line
	 * stays). The scan reads every process's command line, this one's too. */
	static const uint8_t want[2][16] = {{0xde, 0xad}, /* nobody's */
					    {0x5e, 0x1f, 0x0e, 0x3a, 0x9d, 0x11, 0x4c, 0x6b, 0x8a,
					     0x2e, 0x07, 0x3c, 0x41, 0x55, 0x68, 0x99}};
	char *argv[] = {
	    "sh", "-c", "sleep 5; :", "sh", "-uuid", "5e1f0e3a-9d11-4c6b-8a2e-073c41556899", NULL};
	pid_t child, pids[2] = {7, 7};
	int found = 0, status;

	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		setpgid(0, 0); /* its sleep goes with it, not left holding ctest's pipe */
		execv("/bin/sh", argv);
		_exit(127);
	}
	/* The child's command line is the shell's once it has exec'd. */
	for (int tries = 0; tries < 100 && pids[1] != child; tries++) {
		found = qemu_proc_scan("/proc", want, 2, pids);
		if (pids[1] != child)
			usleep(20000);
	}
	kill(-child, SIGTERM);
	kill(child, SIGTERM);
	waitpid(child, &status, 0);
	assert_int_equal(found, 1);
	assert_int_equal(pids[0], 0);
	assert_int_equal(pids[1], child);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(qemu_finds_uuid_in_a_command_line),
	    cmocka_unit_test(qemu_rejects_command_lines_without_a_good_uuid),
	    cmocka_unit_test(qemu_names_vcpu_threads),
	    cmocka_unit_test(qemu_parses_schedstat_and_cpu_stat),
	    cmocka_unit_test(qemu_finds_the_domains_cgroup),
	    cmocka_unit_test(qemu_scan_of_a_missing_proc_fails),
	    cmocka_unit_test(qemu_reads_a_process_with_a_vcpu_thread),
	    cmocka_unit_test(qemu_scan_finds_a_process_by_uuid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
