/*
 * Tests of sm_log: stderr is captured by pointing fd 2 at a temp file, so
 * the exact lines, level filtering, errno text and the complaint rate
 * limiting (first line, suppression, repeat count, one "recovered") are
 * checked on what a reader of the journal would see.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sm_clock.h"
#include "sm_log.h"

/* Where fd 2 went while capturing; -1 when not capturing. */
static int saved_stderr = -1;
static char capture_path[64];

static void capture_start(void)
{
	int fd;

	snprintf(capture_path, sizeof(capture_path), "/tmp/sm-test-log-XXXXXX");
	fd = mkstemp(capture_path);
	assert_true(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

/* Restores fd 2; returns what was written (caller frees). Safe when idle. */
static char *capture_stop(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (saved_stderr < 0)
		return NULL;
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	f = fopen(capture_path, "r");
	if (f) {
		buf = calloc(1, 1 << 16);
		len = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
		buf[len] = '\0';
		fclose(f);
	}
	unlink(capture_path);
	return buf;
}

static int setup(void **state)
{
	(void)state;
	sm_log_open("smtest", SM_LOG_INFO, false);
	capture_start();
	return 0;
}

/* Also runs when an assertion failed mid-test, so fd 2 always comes back. */
static int teardown(void **state)
{
	(void)state;
	free(capture_stop());
	return 0;
}

static void assert_captured(const char *expected)
{
	char *got = capture_stop();

	assert_non_null(got);
	assert_string_equal(got, expected);
	free(got);
}

static void log_writes_ident_level_message_line(void **state)
{
	(void)state;
	sm_log_info("hello %d", 42);
	sm_log_err("disk %s full", "/var");
	sm_log_notice("started");
	assert_captured("smtest: info: hello 42\n"
			"smtest: error: disk /var full\n"
			"smtest: notice: started\n");
}

static void log_filters_messages_below_level(void **state)
{
	(void)state;
	sm_log_set_level(SM_LOG_WARNING);
	assert_false(sm_log_enabled(SM_LOG_INFO));
	assert_false(sm_log_enabled(SM_LOG_DEBUG));
	assert_true(sm_log_enabled(SM_LOG_WARNING));
	assert_true(sm_log_enabled(SM_LOG_ERR));
	sm_log_debug("debug %d", 1);
	sm_log_info("info %d", 2);
	sm_log_warnx("warn %d", 3);
	sm_log_err("err %d", 4);
	sm_log_set_level(SM_LOG_DEBUG);
	sm_log_debug("debug %d", 5);
	assert_captured("smtest: warning: warn 3\n"
			"smtest: error: err 4\n"
			"smtest: debug: debug 5\n");
}

/* NOTICE minus three -q is below ERR: errors must still be written, and a
 * level past DEBUG means debug. */
static void log_level_out_of_range_is_clamped(void **state)
{
	(void)state;
	sm_log_open("smtest", (enum sm_log_level)(SM_LOG_NOTICE - 3), false);
	assert_true(sm_log_enabled(SM_LOG_ERR));
	assert_false(sm_log_enabled(SM_LOG_WARNING));
	sm_log_err("still %s", "here");
	sm_log_warnx("hidden");
	sm_log_set_level((enum sm_log_level)(SM_LOG_DEBUG + 4));
	assert_true(sm_log_enabled(SM_LOG_DEBUG));
	sm_log_debug("debug %d", 1);
	sm_log_set_level((enum sm_log_level)0);
	sm_log_err("again");
	assert_captured("smtest: error: still here\n"
			"smtest: debug: debug 1\n"
			"smtest: error: again\n");
}

static void log_warn_appends_errno_text_read_on_entry(void **state)
{
	(void)state;
	errno = ENOENT;
	/* Another errno's text in the message itself: the appended text must
	 * be that of errno as it was on entry. */
	sm_log_warn("open %s", strerror(EACCES));
	assert_int_equal(errno, ENOENT); /* logging leaves errno alone */
	sm_log_warnx("no errno here");
	assert_captured("smtest: warning: open Permission denied: No such file or directory\n"
			"smtest: warning: no errno here\n");
}

static void log_replaces_newlines_so_one_event_is_one_line(void **state)
{
	(void)state;
	sm_log_info("name=%s", "evil\nsmtest: error: forged");
	assert_captured("smtest: info: name=evil?smtest: error: forged\n");
}

static void log_cuts_overlong_message_with_ellipsis(void **state)
{
	char big[10000], *got;
	size_t len;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sm_log_info("%s", big);
	got = capture_stop();
	assert_non_null(got);
	len = strlen(got);
	assert_true(len < 4200);
	assert_memory_equal(got, "smtest: info: xxx", 17);
	assert_string_equal(got + len - 4, "...\n");
	assert_ptr_equal(strchr(got, '\n'), got + len - 1); /* one line */
	free(got);
}

static void log_level_parse_accepts_names_rejects_others(void **state)
{
	(void)state;
	assert_int_equal(sm_log_level_parse("err"), SM_LOG_ERR);
	assert_int_equal(sm_log_level_parse("warning"), SM_LOG_WARNING);
	assert_int_equal(sm_log_level_parse("notice"), SM_LOG_NOTICE);
	assert_int_equal(sm_log_level_parse("info"), SM_LOG_INFO);
	assert_int_equal(sm_log_level_parse("DEBUG"), SM_LOG_DEBUG);
	assert_int_equal(sm_log_level_parse("loud"), -1);
	assert_int_equal(sm_log_level_parse(""), -1);
	assert_int_equal(sm_log_level_parse(NULL), -1);
}

static void log_to_syslog_writes_nothing_on_stderr(void **state)
{
	(void)state;
	sm_log_open("smtest", SM_LOG_INFO, true);
	sm_log_info("to syslog %d", 1);
	sm_log_open("smtest", SM_LOG_INFO, false);
	sm_log_info("back on stderr");
	sm_log_close();
	assert_captured("smtest: info: back on stderr\n");
}

static void complaint_logs_first_occurrence_and_suppresses_repeats(void **state)
{
	struct sm_complaint c = SM_COMPLAINT_INIT;
	int64_t before = sm_clock_mono_ns();

	(void)state;
	for (int i = 0; i < 5; i++)
		sm_complain(&c, SM_LOG_ERR, "libvirt unreachable (try %d)", i);
	assert_true(c.active);
	assert_int_equal(c.suppressed, 4);
	assert_int_equal(c.interval_ns, 60 * SM_NS_PER_SEC);
	assert_true(c.next_ns >= before + 60 * SM_NS_PER_SEC);
	assert_captured("smtest: error: libvirt unreachable (try 0)\n");
}

static void complaint_logs_again_when_interval_passed_with_repeat_count(void **state)
{
	struct sm_complaint c = SM_COMPLAINT_INIT;

	(void)state;
	sm_complain(&c, SM_LOG_WARNING, "collector %s down", "a");
	sm_complain(&c, SM_LOG_WARNING, "collector %s down", "a");
	sm_complain(&c, SM_LOG_WARNING, "collector %s down", "a");
	c.next_ns = sm_clock_mono_ns() - 1; /* as if 60 s went by */
	sm_complain(&c, SM_LOG_WARNING, "collector %s down", "a");
	assert_int_equal(c.interval_ns, 120 * SM_NS_PER_SEC);
	assert_int_equal(c.suppressed, 0);
	c.next_ns = sm_clock_mono_ns() - 1;
	sm_complain(&c, SM_LOG_WARNING, "collector %s down", "a");
	assert_captured("smtest: warning: collector a down\n"
			"smtest: warning: collector a down (2 repeats suppressed)\n"
			"smtest: warning: collector a down\n");
}

static void complaint_interval_doubles_up_to_one_hour(void **state)
{
	struct sm_complaint c = SM_COMPLAINT_INIT;
	int64_t expected = 60 * SM_NS_PER_SEC;

	(void)state;
	sm_log_set_level(SM_LOG_ERR); /* the bookkeeping goes on even when not shown */
	sm_complain(&c, SM_LOG_WARNING, "down");
	for (int i = 0; i < 12; i++) {
		c.next_ns = sm_clock_mono_ns() - 1;
		sm_complain(&c, SM_LOG_WARNING, "down");
		expected =
		    expected * 2 > 3600 * SM_NS_PER_SEC ? 3600 * SM_NS_PER_SEC : expected * 2;
		assert_int_equal(c.interval_ns, expected);
	}
	assert_int_equal(c.interval_ns, 3600 * SM_NS_PER_SEC);
	sm_log_set_level(SM_LOG_INFO);
	assert_captured("");
}

static void complaint_release_logs_recovery_once_only_when_active(void **state)
{
	struct sm_complaint c = SM_COMPLAINT_INIT;

	(void)state;
	sm_complaint_release(&c, "libvirt recovered"); /* never failed: silent */
	sm_complain(&c, SM_LOG_ERR, "libvirt unreachable");
	sm_complain(&c, SM_LOG_ERR, "libvirt unreachable");
	sm_complaint_release(&c, "libvirt %s", "recovered");
	sm_complaint_release(&c, "libvirt recovered");
	assert_false(c.active);
	assert_int_equal(c.suppressed, 0);
	/* A new failure after recovery is logged at once again. */
	sm_complain(&c, SM_LOG_ERR, "libvirt unreachable");
	assert_captured("smtest: error: libvirt unreachable\n"
			"smtest: notice: libvirt recovered (1 repeat suppressed)\n"
			"smtest: error: libvirt unreachable\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(log_writes_ident_level_message_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(log_level_out_of_range_is_clamped, setup, teardown),
	    cmocka_unit_test_setup_teardown(log_filters_messages_below_level, setup, teardown),
	    cmocka_unit_test_setup_teardown(log_warn_appends_errno_text_read_on_entry, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(log_replaces_newlines_so_one_event_is_one_line, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(log_cuts_overlong_message_with_ellipsis, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(log_level_parse_accepts_names_rejects_others, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(log_to_syslog_writes_nothing_on_stderr, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(complaint_logs_first_occurrence_and_suppresses_repeats,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		complaint_logs_again_when_interval_passed_with_repeat_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(complaint_interval_doubles_up_to_one_hour, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(complaint_release_logs_recovery_once_only_when_active,
					    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
