/*
 * Tests of sm_err: a message formatted into the caller's buffer, cut to
 * fit and terminated, and nothing written where no buffer was given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sm_err.h"

static void err_set_formats_message(void **state)
{
	char err[64];

	(void)state;
	sm_err_set(err, sizeof(err), "line %d: unknown key '%s'", 7, "fan_inn");
	assert_string_equal(err, "line 7: unknown key 'fan_inn'");
}

static void err_set_truncates_and_terminates(void **state)
{
	char err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	sm_err_set(err, 6, "%s", "abcdefghij");
	assert_string_equal(err, "abcde");
	assert_int_equal(err[6], 'x'); /* nothing past errlen */
	sm_err_set(err, 1, "%s", "abc");
	assert_string_equal(err, "");
}

static void err_set_without_buffer_writes_nothing(void **state)
{
	char err[4] = "old";

	(void)state;
	sm_err_set(NULL, 16, "%s", "ignored");
	sm_err_set(err, 0, "%s", "ignored");
	assert_string_equal(err, "old");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(err_set_formats_message),
	    cmocka_unit_test(err_set_truncates_and_terminates),
	    cmocka_unit_test(err_set_without_buffer_writes_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
