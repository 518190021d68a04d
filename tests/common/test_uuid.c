/*
 * Tests of sm_hex and sm_uuid: every byte value through the hex-digit
 * table, and UUID text in each accepted shape and in the near misses (a
 * dash moved, a digit short or long, a non-hex letter, NULL, empty).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sm_hex.h"
#include "sm_uuid.h"

static void hex_value_of_every_byte(void **state)
{
	(void)state;
	for (int b = 0; b < 256; b++) {
		char c = (char)b;
		int want = -1;

		if (c >= '0' && c <= '9')
			want = c - '0';
		else if (c >= 'a' && c <= 'f')
			want = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			want = c - 'A' + 10;
		assert_int_equal(sm_hex_value(c), want);
	}
	assert_int_equal(sm_hex_value('g'), -1);
	assert_int_equal(sm_hex_value('\0'), -1);
}

static const char *const good[] = {
    "6f9a4c1e-0b2d-4e8f-9a7b-3c5d1e2f4a6b",
    "6F9A4C1E-0B2D-4E8F-9A7B-3C5D1E2F4A6B",
    "6f9a4c1e0b2d4e8f9a7b3c5d1e2f4a6b",
    "6F9a4C1e0B2d4E8f9A7b3C5d1E2f4A6b",
};

static const char *const bad[] = {
    "",
    "6f9a4c1e-0b2d-4e8f-9a7b-3c5d1e2f4a6",   /* 35 */
    "6f9a4c1e-0b2d-4e8f-9a7b-3c5d1e2f4a6b0", /* 37 */
    "6f9a4c1e0b2d4e8f9a7b3c5d1e2f4a6",	     /* 31 */
    "6f9a4c1e0b2d4e8f9a7b3c5d1e2f4a6b0",     /* 33 */
    "6f9a4c1e-0b2d-4e8f-9a7b-3c5d1e2f4a6g",  /* not hex */
    "6f9a4c1e0-b2d-4e8f-9a7b-3c5d1e2f4a6b",  /* dash moved */
    "6f9a4c1e-0b2d-4e8f-9a7b+3c5d1e2f4a6b",  /* not a dash */
    "6f9a4c1e-0b2d4-e8f-9a7b-3c5d1e2f4a6b",
    "{6f9a4c1e-0b2d-4e8f-9a7b-3c5d1e2f4a}",
    "6f9a4c1e-0b2d-4e8f-9a7b-3c5d1e2f4a\n",
    "6f9a4c1e 0b2d 4e8f 9a7b 3c5d1e2f4a6b",
};

static void uuid_valid_accepts_both_shapes_either_case(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(sm_uuid_valid(good[i]));
}

static void uuid_valid_rejects_near_misses(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (sm_uuid_valid(bad[i]))
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_false(sm_uuid_valid(NULL));
}

static void uuid_canonical_is_lowercase_with_dashes(void **state)
{
	char out[37];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(out, 'x', sizeof(out));
		assert_int_equal(sm_uuid_canonical(good[i], out), 0);
		assert_string_equal(out, "6f9a4c1e-0b2d-4e8f-9a7b-3c5d1e2f4a6b");
	}
}

static void uuid_canonical_refuses_bad_text_leaving_out_alone(void **state)
{
	char out[37] = "untouched";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sm_uuid_canonical(bad[i], out), -1);
	assert_int_equal(sm_uuid_canonical(NULL, out), -1);
	assert_string_equal(out, "untouched");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hex_value_of_every_byte),
	    cmocka_unit_test(uuid_valid_accepts_both_shapes_either_case),
	    cmocka_unit_test(uuid_valid_rejects_near_misses),
	    cmocka_unit_test(uuid_canonical_is_lowercase_with_dashes),
	    cmocka_unit_test(uuid_canonical_refuses_bad_text_leaving_out_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
