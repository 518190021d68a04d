/*
 * Tests of the command hook: the alert's JSON on stdin and its fields in
 * the environment; arguments passed as they are written, never to a shell
 * (a "$(...)" stays text); a run past its timeout killed and counted; a
 * failing run counted; relative and non-executable commands refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hook.h"
#include "sm_clock.h"

static char dir[] = "/tmp/sm-alert-hook-XXXXXX";
/* What the tests make in dir, removed at the end. */
static const char *const made[] = {"h.sh", "stdin", "env", "args", "slow.sh", "bad.sh"};

static void write_script(const char *name, const char *body)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static struct alert_info alert(struct rule *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "cpu_spike");
	snprintf(r->severity, sizeof(r->severity), "critical");
	snprintf(r->expr, sizeof(r->expr), "domain cpu_pct > 90");
	return (struct alert_info){.rule = r,
				   .state = ALERT_FIRING,
				   .value = 97.5,
				   .since = 1700000000.25,
				   .host = "cn1",
				   .is_domain = true,
				   .uuid = "16f2d94f-8fc8-edc2-4644-0f749f4e818e",
				   .domain = "instance-1",
				   .display_name = "web \"one\"",
				   .project_id = "p1",
				   .project_name = "shop",
				   .device = ""};
}

/* Polls until nothing runs or `seconds` pass. */
static void drain(struct hook *h, double seconds)
{
	int64_t end = sm_clock_mono_ns() + (int64_t)(seconds * 1e9);

	do {
		hook_poll(h);
		usleep(20000);
	} while (hook_busy(h) && sm_clock_mono_ns() < end);
}

static char *slurp(const char *name)
{
	char path[256], *buf = calloc(1, 8192);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f) {
		size_t n = fread(buf, 1, 8191, f);

		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

static void hook_gets_json_env_and_literal_arguments(void **state)
{
	char cmd[512], err[256], *out, *env, *args;
	struct rule r;
	struct alert_info a = alert(&r);
	struct hook *h;

	write_script("h.sh", "cat > \"$1/stdin\"\n env > \"$1/env\"\n"
			     "printf '%s\\n' \"$2\" > \"$1/args\"\n");
	snprintf(cmd, sizeof(cmd), "%s/h.sh %s $(touch%s/pwned)", dir, dir, dir);
	h = hook_new(cmd, 5, 2, err, sizeof(err));
	assert_non_null(h);
	hook_note(h, &a, 1700000001);
	drain(h, 5);
	assert_int_equal(hook_counters(h)->runs, 1);
	assert_int_equal(hook_counters(h)->ok, 1);
	out = slurp("stdin");
	assert_non_null(strstr(out, "\"status\":\"firing\",\"rule\":\"cpu_spike\",\"value\":97.5"));
	assert_non_null(strstr(out, "\"uuid\":\"16f2d94f-8fc8-edc2-4644-0f749f4e818e\""));
	assert_non_null(strstr(out, "\"name\":\"web \\\"one\\\"\""));
	assert_non_null(strstr(out, "\"startsAt\":\"2023-11-14T22:13:20.250Z\""));
	env = slurp("env");
	assert_non_null(strstr(env, "STACKMON_ALERT_RULE=cpu_spike\n"));
	assert_non_null(strstr(env, "STACKMON_ALERT_STATUS=firing\n"));
	assert_non_null(strstr(env, "STACKMON_ALERT_PROJECT_ID=p1\n"));
	args = slurp("args");
	assert_non_null(strstr(args, "$(touch")); /* text, not a command */
	{
		char pwned[256];

		snprintf(pwned, sizeof(pwned), "%s/pwned)", dir);
		assert_int_not_equal(access(pwned, F_OK), 0);
	}
	free(out);
	free(env);
	free(args);
	hook_destroy(&h);
	assert_null(h);
}

static void hook_kills_a_late_run_and_counts_failures(void **state)
{
	char cmd[256], err[256];
	struct rule r;
	struct alert_info a = alert(&r);
	struct hook *h;
	int64_t t0;

	write_script("slow.sh", "exec sleep 30\n");
	snprintf(cmd, sizeof(cmd), "%s/slow.sh", dir);
	h = hook_new(cmd, 0.3, 1, err, sizeof(err));
	assert_non_null(h);
	t0 = sm_clock_mono_ns();
	hook_note(h, &a, 0);
	drain(h, 5);
	assert_false(hook_busy(h));
	assert_true(sm_clock_mono_ns() - t0 < (int64_t)4e9);
	assert_int_equal(hook_counters(h)->timed_out, 1);
	hook_destroy(&h);

	write_script("bad.sh", "exit 3\n");
	snprintf(cmd, sizeof(cmd), "%s/bad.sh", dir);
	h = hook_new(cmd, 5, 1, err, sizeof(err));
	hook_note(h, &a, 0);
	hook_note(h, &a, 0); /* waits for the first: hook_max 1 */
	drain(h, 5);
	assert_int_equal(hook_counters(h)->runs, 2);
	assert_int_equal(hook_counters(h)->failed, 2);
	hook_destroy(&h);
}

static void hook_refuses_relative_and_non_executable_commands(void **state)
{
	char cmd[256], err[256];

	assert_null(hook_new("h.sh", 1, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "absolute path"));
	assert_null(hook_new("", 1, 1, err, sizeof(err)));
	snprintf(cmd, sizeof(cmd), "%s/none.sh", dir);
	assert_null(hook_new(cmd, 1, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "not an executable file"));
	assert_null(hook_new(dir, 1, 1, err, sizeof(err))); /* a directory */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hook_gets_json_env_and_literal_arguments),
	    cmocka_unit_test(hook_kills_a_late_run_and_counts_failures),
	    cmocka_unit_test(hook_refuses_relative_and_non_executable_commands),
	};
	int rc;

	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		char path[256];

		snprintf(path, sizeof(path), "%s/%s", dir, made[i]);
		unlink(path);
	}
	rmdir(dir);
	return rc;
}
