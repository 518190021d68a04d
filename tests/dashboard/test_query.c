/*
 * Tests of the dashboard's query-string validation (dashboard/query.c):
 * what a page may receive is exactly the keys it names, once each, decoded,
 * inside their character class and length bound; everything else refuses
 * the whole request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "query.h"

static const struct query_key keys[] = {
    {"project", QUERY_ID, 64},
    {"sort", QUERY_WORD, 16},
    {"uuid", QUERY_UUID, 36},
    {"refresh", QUERY_NUMBER, 4},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Parses qs; returns 0/-1 and leaves values in v. */
static int parse(const char *qs, char **v, char *why)
{
	return query_parse(qs, keys, NKEYS, v, why, 128);
}

static void query_accepts_known_keys_and_decodes(void **state)
{
	char *v[NKEYS], why[128];

	assert_int_equal(parse("project=proj%2Dalpha&sort=cpu&refresh=10", v, why), 0);
	assert_string_equal(v[0], "proj-alpha");
	assert_string_equal(v[1], "cpu");
	assert_null(v[2]);
	assert_string_equal(v[3], "10");
	query_free(v, NKEYS);
	assert_null(v[0]);
}

static void query_empty_or_absent_gives_no_values(void **state)
{
	char *v[NKEYS], why[128];

	assert_int_equal(parse(NULL, v, why), 0);
	assert_int_equal(parse("", v, why), 0);
	for (size_t i = 0; i < NKEYS; i++)
		assert_null(v[i]);
	/* Empty pairs and a trailing '&' are what browsers make: tolerated. */
	assert_int_equal(parse("sort=cpu&&project=p&", v, why), 0);
	assert_string_equal(v[0], "p");
	query_free(v, NKEYS);
}

static void query_refuses_unknown_key(void **state)
{
	char *v[NKEYS], why[128];

	assert_int_equal(parse("sort=cpu&debug=1", v, why), -1);
	assert_string_equal(why, "unknown parameter");
	for (size_t i = 0; i < NKEYS; i++)
		assert_null(v[i]);
	/* No prefix matching and case matters. */
	assert_int_equal(parse("proj=x", v, why), -1);
	assert_int_equal(parse("Project=x", v, why), -1);
	assert_int_equal(parse("sort%3D=cpu", v, why), -1);
}

static void query_refuses_duplicate_key(void **state)
{
	char *v[NKEYS], why[128];

	assert_int_equal(parse("project=a&project=b", v, why), -1);
	assert_non_null(strstr(why, "twice"));
	assert_int_equal(parse("project=a&project=a", v, why), -1);
	assert_null(v[0]);
}

static void query_refuses_bad_percent_encoding(void **state)
{
	char *v[NKEYS], why[128];

	assert_int_equal(parse("project=a%", v, why), -1);
	assert_int_equal(parse("project=a%4", v, why), -1);
	assert_int_equal(parse("project=a%zz", v, why), -1);
	assert_int_equal(parse("project=a%00b", v, why), -1); /* an encoded NUL */
}

static void query_refuses_values_outside_their_class(void **state)
{
	char *v[NKEYS], why[128];

	/* Traversal, whether plain or encoded, is judged after decoding. */
	assert_int_equal(parse("project=../../etc/passwd", v, why), -1);
	assert_int_equal(parse("project=%2e%2e%2fetc", v, why), -1);
	assert_int_equal(parse("project=a%20b", v, why), -1);
	assert_int_equal(parse("project=a+b", v, why), -1); /* '+' is a space */
	assert_int_equal(parse("project=%3Cscript%3E", v, why), -1);
	assert_int_equal(parse("sort=cpu.x", v, why), -1); /* WORD: no dot */
	assert_int_equal(parse("refresh=1e3", v, why), -1);
	assert_int_equal(parse("refresh=-5", v, why), -1);
	assert_int_equal(parse("project=", v, why), -1); /* empty value */
	assert_int_equal(parse("project", v, why), -1);	 /* no '=' */
	assert_non_null(strstr(why, "'='"));
	assert_int_equal(parse("project=%C3%A9", v, why), -1); /* non-ASCII */
}

static void query_uuid_takes_32_or_36_hex_forms_only(void **state)
{
	char *v[NKEYS], why[128];

	assert_int_equal(parse("uuid=a1000000-0000-4000-8000-000000000001", v, why), 0);
	query_free(v, NKEYS);
	assert_int_equal(parse("uuid=A1000000000040008000000000000001", v, why), 0);
	query_free(v, NKEYS);
	assert_int_equal(parse("uuid=a1000000-0000-4000-8000-00000000000", v, why), -1);
	assert_int_equal(parse("uuid=a10000000-000-4000-8000-000000000001", v, why), -1);
	assert_int_equal(parse("uuid=g1000000-0000-4000-8000-000000000001", v, why), -1);
	assert_int_equal(parse("uuid=a1000000-0000-4000-8000-000000000001x", v, why), -1);
}

static void query_bounds_lengths_and_counts(void **state)
{
	char *v[NKEYS], why[128], qs[QUERY_MAX_LEN + 64];

	/* 65 bytes for a 64-byte key. */
	snprintf(qs, sizeof(qs), "project=%065d", 0);
	assert_int_equal(parse(qs, v, why), -1);
	snprintf(qs, sizeof(qs), "project=%064d", 0);
	assert_int_equal(parse(qs, v, why), 0);
	query_free(v, NKEYS);
	/* The whole string. */
	memset(qs, 'a', sizeof(qs) - 1);
	qs[sizeof(qs) - 1] = '\0';
	assert_int_equal(parse(qs, v, why), -1);
	assert_non_null(strstr(why, "longer"));
	/* Pairs: a route with many keys still takes at most QUERY_MAX_PAIRS. */
	{
		struct query_key many[QUERY_MAX_PAIRS + 1];
		char names[QUERY_MAX_PAIRS + 1][8], *mv[QUERY_MAX_PAIRS + 1];

		qs[0] = '\0';
		for (int i = 0; i <= QUERY_MAX_PAIRS; i++) {
			snprintf(names[i], sizeof(names[i]), "k%d", i);
			many[i] = (struct query_key){names[i], QUERY_WORD, 4};
			strcat(qs, names[i]);
			strcat(qs, "=a&&");
		}
		assert_int_equal(query_parse(qs, many, QUERY_MAX_PAIRS + 1, mv, why, 128), -1);
		assert_non_null(strstr(why, "more than"));
		/* One fewer passes: empty pairs do not count. */
		*strrchr(qs, 'k') = '\0';
		assert_int_equal(query_parse(qs, many, QUERY_MAX_PAIRS + 1, mv, why, 128), 0);
		query_free(mv, QUERY_MAX_PAIRS + 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(query_accepts_known_keys_and_decodes),
	    cmocka_unit_test(query_empty_or_absent_gives_no_values),
	    cmocka_unit_test(query_refuses_unknown_key),
	    cmocka_unit_test(query_refuses_duplicate_key),
	    cmocka_unit_test(query_refuses_bad_percent_encoding),
	    cmocka_unit_test(query_refuses_values_outside_their_class),
	    cmocka_unit_test(query_uuid_takes_32_or_36_hex_forms_only),
	    cmocka_unit_test(query_bounds_lengths_and_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
