/*
 * test_whisper_retention — retention text parsing and archive-list
 * validation (python-whisper's rules and carbon's unit syntax), aggregation
 * method names and error classification of the whisper module.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "whisper.h"

static void parses(const char *text, size_t expect_n, const uint32_t (*expect)[2])
{
	struct whisper_retention r[WHISPER_MAX_ARCHIVES];
	struct whisper_err err = {0};
	size_t n = 99;

	assert_int_equal(whisper_retention_parse(text, r, WHISPER_MAX_ARCHIVES, &n, &err), 0);
	assert_int_equal(n, expect_n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(r[i].seconds_per_point, expect[i][0]);
		assert_int_equal(r[i].points, expect[i][1]);
	}
}

/* Parsing `text` fails with WHISPER_ECONFIG and a message containing `needle`. */
static void refuses(const char *text, const char *needle)
{
	struct whisper_retention r[4];
	struct whisper_err err = {0};
	size_t n = 99;

	assert_int_equal(whisper_retention_parse(text, r, 4, &n, &err), WHISPER_ECONFIG);
	assert_int_equal(err.code, WHISPER_ECONFIG);
	assert_int_equal(n, 0);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("message for '%s' is '%s', expected it to mention '%s'", text, err.msg,
			 needle);
}

static void retention_parses_carbon_units(void **state)
{
	(void)state;
	static const uint32_t paper[][2] = {{1, 10800}, {60, 10080}, {600, 52560}};
	static const uint32_t plain[][2] = {{60, 1440}};
	static const uint32_t prefixes[][2] = {{1, 60}, {60, 1440}, {3600, 168}, {86400, 1825}};

	parses("1s:3h,1m:7d,10m:1y", 3, paper);
	parses("60:1440", 1, plain);
	parses("1sec:1m,1min:1d,1h:1w,1d:5y", 4, prefixes);
}

static void retention_sorts_and_trims_definitions(void **state)
{
	(void)state;
	static const uint32_t sorted[][2] = {{1, 60}, {60, 60}};

	parses(" 1m:1h ,\t1s:60 ", 2, sorted);
}

static void retention_points_from_duration_round_down(void **state)
{
	(void)state;
	static const uint32_t seven[][2] = {{7, 8}}; /* 60 // 7, as python */

	parses("7s:1m", 1, seven);
}

static void retention_rejects_malformed_text(void **state)
{
	(void)state;
	refuses("", "invalid retention definition");
	refuses("1s", "expected PRECISION:POINTS");
	refuses("1s:", "invalid retention ''");
	refuses(":10", "invalid precision ''");
	refuses("1mo:10", "invalid precision '1mo'"); /* "mo" is no unit prefix */
	refuses("1S:10", "invalid precision '1S'");   /* units are lower case */
	refuses("1s:10x", "invalid retention '10x'");
	refuses("-1s:10", "invalid precision");
	refuses("1s:3h,", "invalid retention definition ''");
	refuses("99999999999:10", "invalid precision");
	refuses("1s:1,2s:2,4s:4,8s:8,16s:16", "more than 4 archives");
}

static void retention_rejects_zero_and_oversized_archives(void **state)
{
	(void)state;
	refuses("0s:10", "must be 1 s");
	refuses("1s:0", "at least one point");
	refuses("1h:30m", "gives 0 points");
	refuses("1y:200y", "more than the format's 2^32-1 s");
}

static void retention_enforces_python_whisper_rules(void **state)
{
	(void)state;
	refuses("1s:60,1s:120", "same precision");
	refuses("7s:100,10s:100", "archive 1's precision (10 s) is not a multiple of archive 0's");
	refuses("1s:600,60s:10", "not more than archive 0's 600 s");
	refuses("10s:5,60s:100", "archive 0 has 5 points but archive 1 consolidates 6");
}

static void retention_validate_rejects_empty_list(void **state)
{
	(void)state;
	struct whisper_err err = {0};
	struct whisper_retention none[1];

	assert_int_equal(whisper_retention_validate(none, 0, &err), WHISPER_ECONFIG);
	assert_non_null(strstr(err.msg, "at least one"));
	/* NULL err is allowed */
	assert_int_equal(whisper_retention_validate(none, 0, NULL), WHISPER_ECONFIG);
}

static void aggregation_names_round_trip(void **state)
{
	(void)state;
	static const char *names[] = {"average", "sum",	     "last",   "max",
				      "min",	 "avg_zero", "absmax", "absmin"};

	for (int i = 0; i < 8; i++) {
		assert_int_equal(whisper_aggregation_parse(names[i]), i + 1);
		assert_string_equal(whisper_aggregation_name(i + 1), names[i]);
	}
	assert_int_equal(whisper_aggregation_parse("avg"), -1);
	assert_int_equal(whisper_aggregation_parse("Average"), -1);
	assert_int_equal(whisper_aggregation_parse(NULL), -1);
	assert_string_equal(whisper_aggregation_name(0), "unknown");
	assert_string_equal(whisper_aggregation_name(9), "unknown");
}

static void errors_are_classified(void **state)
{
	(void)state;
	assert_true(whisper_err_is_corrupt(WHISPER_ECORRUPT));
	assert_true(whisper_err_is_corrupt(WHISPER_ESIZE));
	assert_false(whisper_err_is_corrupt(WHISPER_ENOTCOVERED));
	assert_false(whisper_err_is_corrupt(-2 /* ENOENT */));
	assert_non_null(strstr(whisper_strerror(WHISPER_ESIZE), "size"));
	assert_non_null(strstr(whisper_strerror(-28 /* ENOSPC */), "space"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(retention_parses_carbon_units),
	    cmocka_unit_test(retention_sorts_and_trims_definitions),
	    cmocka_unit_test(retention_points_from_duration_round_down),
	    cmocka_unit_test(retention_rejects_malformed_text),
	    cmocka_unit_test(retention_rejects_zero_and_oversized_archives),
	    cmocka_unit_test(retention_enforces_python_whisper_rules),
	    cmocka_unit_test(retention_validate_rejects_empty_list),
	    cmocka_unit_test(aggregation_names_round_trip),
	    cmocka_unit_test(errors_are_classified),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
