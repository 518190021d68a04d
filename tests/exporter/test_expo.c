/*
 * Tests of the exporter's expo: label values escaped as the text format
 * wants (backslash, double quote, newline) and nothing else touched (UTF-8
 * stays), empty labels left out, unknown values (NaN, infinities) never
 * written, numbers exact.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "expo.h"

static void expo_escapes_backslash_quote_and_newline_in_label_values(void **state)
{
	struct expo_buf b = {0};

	assert_true(expo_label(&b, true, "name", "a\\b\"c\nd"));
	assert_string_equal(b.data, "name=\"a\\\\b\\\"c\\nd\"");
	expo_buf_free(&b);
}

static void expo_keeps_utf8_and_other_bytes_of_label_values(void **state)
{
	struct expo_buf b = {0};
	const char *v = "caf\xc3\xa9 \xf0\x9f\x9a\x80 \xe2\x80\xae<tab\t>'$(x)`";

	expo_label(&b, true, "project", v);
	expo_label(&b, false, "user", "bob");
	assert_int_equal(b.len, strlen("project=\"\"") + strlen(v) + strlen(",user=\"bob\""));
	assert_non_null(strstr(b.data, v));
	assert_non_null(strstr(b.data, "\",user=\"bob\""));
	expo_buf_free(&b);
}

static void expo_leaves_out_empty_labels(void **state)
{
	struct expo_buf b = {0};

	assert_false(expo_label(&b, true, "name", ""));
	assert_false(expo_label(&b, true, "name", NULL));
	assert_true(expo_label(&b, true, "host", "cn1"));
	assert_false(expo_label(&b, false, "project", ""));
	assert_string_equal(b.data, "host=\"cn1\"");
	expo_buf_free(&b);
}

static void expo_omits_a_sample_whose_value_is_unknown(void **state)
{
	struct expo_buf b = {0};

	assert_false(expo_sample(&b, "m", "host=\"a\"", NAN));
	assert_false(expo_sample(&b, "m", NULL, INFINITY));
	assert_false(expo_sample(&b, "m", NULL, -INFINITY));
	assert_int_equal(b.len, 0);
	assert_true(expo_sample(&b, "m", "host=\"a\"", 2.5));
	assert_string_equal(b.data, "m{host=\"a\"} 2.5\n");
	expo_buf_free(&b);
}

static void expo_writes_numbers_exactly(void **state)
{
	struct expo_buf b = {0};

	expo_sample(&b, "a", NULL, 42);
	expo_sample(&b, "b", NULL, 0.1);
	expo_sample(&b, "c", NULL, 1796602326.401542);
	expo_sample_u64(&b, "d", "", UINT64_MAX);
	assert_string_equal(b.data, "a 42\nb 0.1\nc 1796602326.401542\nd 18446744073709551615\n");
	expo_buf_free(&b);
}

static void expo_writes_help_and_type(void **state)
{
	struct expo_buf b = {0};

	expo_family(&b, "stackmon_x_total", "counter", "Things counted");
	assert_string_equal(b.data, "# HELP stackmon_x_total Things counted\n"
				    "# TYPE stackmon_x_total counter\n");
	expo_buf_free(&b);
}

static void expo_grows_past_its_first_allocation(void **state)
{
	struct expo_buf b = {0};

	for (int i = 0; i < 10000; i++)
		expo_printf(&b, "line %d\n", i);
	assert_false(b.failed);
	assert_non_null(strstr(b.data, "line 9999\n"));
	assert_int_equal(b.len, strlen(b.data));
	expo_buf_free(&b);
	assert_null(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(expo_escapes_backslash_quote_and_newline_in_label_values),
	    cmocka_unit_test(expo_keeps_utf8_and_other_bytes_of_label_values),
	    cmocka_unit_test(expo_leaves_out_empty_labels),
	    cmocka_unit_test(expo_omits_a_sample_whose_value_is_unknown),
	    cmocka_unit_test(expo_writes_numbers_exactly),
	    cmocka_unit_test(expo_writes_help_and_type),
	    cmocka_unit_test(expo_grows_past_its_first_allocation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
