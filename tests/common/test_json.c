/*
 * test_json.c — the project's one JSON number format (sm_json): integers
 * without a decimal point, other values in the fewest digits that read
 * back as the same double, null for what JSON cannot hold.
 */
#define _GNU_SOURCE /* open_memstream */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sm_json.h"

static const char *num(double v)
{
	static char buf[SM_JSON_NUMBER_MAX];

	sm_json_number(buf, sizeof(buf), v);
	return buf;
}

static void json_integers_print_without_point_or_exponent(void **state)
{
	(void)state;
	assert_string_equal(num(0), "0");
	assert_string_equal(num(-0.0), "0");
	assert_string_equal(num(42), "42");
	assert_string_equal(num(-7), "-7");
	assert_string_equal(num(1e15), "1000000000000000");
	assert_string_equal(num(9007199254740991.0), "9007199254740991");
	assert_string_equal(num(18446744073709551615.0), "1.8446744073709552e+19");
}

static void json_fractions_print_shortest_round_trip(void **state)
{
	static const double values[] = {0.1, 1.0 / 3, 2.0 / 3, 12.3, 1e-7, 123456.789,
					1e300, 5e-324, 0.1 + 0.2, -2.5};

	(void)state;
	assert_string_equal(num(0.1), "0.1");
	assert_string_equal(num(0.5), "0.5");
	assert_string_equal(num(1.0 / 3), "0.3333333333333333");
	assert_string_equal(num(0.1 + 0.2), "0.30000000000000004");
	/* A float32 from the wire prints at a float's precision: what the
	 * monitor measured, not its double expansion. */
	assert_string_equal(num((float)12.3), "12.3");
	assert_string_equal(num((float)(1.0 / 3)), "0.33333334");
	assert_string_equal(num((float)0.1), "0.1");
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		assert_true(strtod(num(values[i]), NULL) == values[i]);
}

static void json_nan_and_infinity_print_null(void **state)
{
	(void)state;
	assert_string_equal(num(NAN), "null");
	assert_string_equal(num(INFINITY), "null");
	assert_string_equal(num(-INFINITY), "null");
}

static void json_number_truncates_to_small_buffer(void **state)
{
	char buf[4];
	char *s = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(sm_json_number(buf, sizeof(buf), 123456), 6);
	assert_string_equal(buf, "123");
	f = open_memstream(&s, &len);
	assert_non_null(f);
	sm_json_put_number(f, 0.25);
	fclose(f);
	assert_string_equal(s, "0.25");
	free(s);
}

/* Every float32 the wire can carry reads back as the same float, and a
 * double that is not a float keeps its double digits. */
static void json_float32_values_read_back_as_the_same_float(void **state)
{
	uint32_t bits = 2463534242u;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		float f;

		bits ^= bits << 13; /* xorshift32: spread over every exponent */
		bits ^= bits >> 17;
		bits ^= bits << 5;
		memcpy(&f, &bits, sizeof(f));
		if (!isfinite(f) || f == floorf(f))
			continue;
		assert_true(strtof(num(f), NULL) == f);
	}
	assert_true(strtod(num(12.3), NULL) == 12.3);
	assert_string_equal(num(12.3), "12.3");
	/* One double past the float 12.3: not a float, so double digits. */
	double past = nextafter((double)(float)12.3, 13);
	assert_true(strtod(num(past), NULL) == past);
	assert_true(strlen(num(past)) > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_integers_print_without_point_or_exponent),
		cmocka_unit_test(json_fractions_print_shortest_round_trip),
		cmocka_unit_test(json_nan_and_infinity_print_null),
		cmocka_unit_test(json_number_truncates_to_small_buffer),
		cmocka_unit_test(json_float32_values_read_back_as_the_same_float),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
