/*
 * Tests of sm_utf8: a table of tricky byte strings for the validator
 * (overlongs, surrogates, out-of-range, truncation, NUL), the sanitiser's
 * replacement and boundary-respecting truncation, the decoder, and the one
 * rule of which code points may not reach a terminal raw.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sm_utf8.h"

struct validity_case {
	const char *what;  /* printed when the case fails */
	const char *bytes; /* input */
	size_t len;	   /* input length (may include NULs) */
	bool valid;	   /* expected verdict */
};

#define CASE(what, lit, ok)                                                                        \
	{                                                                                          \
		what, lit, sizeof(lit) - 1, ok                                                     \
	}

static const struct validity_case validity_cases[] = {
    CASE("empty", "", true),
    CASE("ascii", "instance-0001", true),
    CASE("2-byte e-acute", "caf\xC3\xA9", true),
    CASE("3-byte euro", "\xE2\x82\xAC", true),
    CASE("4-byte emoji", "\xF0\x9F\x98\x80", true),
    CASE("U+0080 smallest 2-byte", "\xC2\x80", true),
    CASE("U+0800 smallest 3-byte", "\xE0\xA0\x80", true),
    CASE("U+D7FF below surrogates", "\xED\x9F\xBF", true),
    CASE("U+E000 above surrogates", "\xEE\x80\x80", true),
    CASE("U+FFFF noncharacter is still UTF-8", "\xEF\xBF\xBF", true),
    CASE("U+10000 smallest 4-byte", "\xF0\x90\x80\x80", true),
    CASE("U+10FFFF largest", "\xF4\x8F\xBF\xBF", true),
    CASE("NUL byte", "a\0b", false),
    CASE("lone continuation", "\x80", false),
    CASE("continuation after ascii", "a\xBF", false),
    CASE("overlong NUL C0 80", "\xC0\x80", false),
    CASE("overlong C1 BF", "\xC1\xBF", false),
    CASE("overlong 3-byte slash", "\xE0\x80\xAF", false),
    CASE("overlong 3-byte E0 9F BF", "\xE0\x9F\xBF", false),
    CASE("overlong 4-byte", "\xF0\x80\x80\x80", false),
    CASE("overlong 4-byte F0 8F BF BF", "\xF0\x8F\xBF\xBF", false),
    CASE("surrogate D800", "\xED\xA0\x80", false),
    CASE("surrogate DFFF", "\xED\xBF\xBF", false),
    CASE("surrogate pair as CESU-8", "\xED\xA0\xBD\xED\xB8\x80", false),
    CASE("U+110000 above range", "\xF4\x90\x80\x80", false),
    CASE("F5 lead byte", "\xF5\x80\x80\x80", false),
    CASE("FF byte", "\xFF", false),
    CASE("FE byte", "\xFE", false),
    CASE("truncated 2-byte", "\xC3", false),
    CASE("truncated 3-byte", "\xE2\x82", false),
    CASE("4-byte cut after 3", "\xF0\x9F\x98", false),
    CASE("4-byte cut after 1 then ascii",
	 "\xF0"
	 "a",
	 false),
    CASE("3-byte missing continuation mid-string",
	 "\xE2\x82"
	 "x",
	 false),
    CASE("5-byte form", "\xF8\x88\x80\x80\x80", false),
};

static void utf8_valid_accepts_and_rejects_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(validity_cases) / sizeof(validity_cases[0]); i++) {
		const struct validity_case *c = &validity_cases[i];
		bool got = sm_utf8_valid(c->bytes, c->len);

		if (got != c->valid)
			fail_msg("case '%s': expected %s", c->what, c->valid ? "valid" : "invalid");
	}
}

struct sanitize_case {
	const char *what;     /* printed when the case fails */
	const char *src;      /* input */
	size_t srclen;	      /* input length */
	size_t dstsize;	      /* output buffer size */
	const char *expected; /* output */
};

#define SCASE(what, lit, size, out)                                                                \
	{                                                                                          \
		what, lit, sizeof(lit) - 1, size, out                                              \
	}

static const struct sanitize_case sanitize_cases[] = {
    SCASE("plain ascii unchanged", "web-01", 64, "web-01"),
    SCASE("valid multibyte unchanged", "caf\xC3\xA9 \xE2\x82\xAC", 64, "caf\xC3\xA9 \xE2\x82\xAC"),
    SCASE("C0 controls replaced",
	  "a\x01"
	  "b\nc\td\re",
	  64, "a?b?c?d?e"),
    SCASE("DEL replaced", "x\x7Fy", 64, "x?y"),
    SCASE("NUL replaced", "a\0b", 64, "a?b"),
    SCASE("lone continuation replaced",
	  "a\x80"
	  "b",
	  64, "a?b"),
    SCASE("overlong replaced byte by byte", "\xC0\x80", 64, "??"),
    SCASE("surrogate: ED then two bytes", "\xED\xA0\x80", 64, "???"),
    SCASE("source cut inside 4-byte: one ?", "a\xF0\x9F\x98", 64, "a?"),
    SCASE("4-byte cut then ascii",
	  "\xF0\x9F\x98"
	  "z",
	  64, "?z"),
    SCASE("dst too small for emoji stops before it", "a\xF0\x9F\x98\x80", 4, "a"),
    SCASE("dst exactly fits emoji", "a\xF0\x9F\x98\x80", 6, "a\xF0\x9F\x98\x80"),
    SCASE("dst cuts 2-byte char", "ab\xC3\xA9", 4, "ab"),
    SCASE("dst truncates ascii", "abcdef", 4, "abc"),
    SCASE("dst of one byte gives empty", "abc", 1, ""),
    SCASE("empty source", "", 8, ""),
    SCASE("above U+10FFFF replaced", "\xF4\x90\x80\x80", 64, "????"),
};

static void utf8_sanitize_replaces_and_truncates_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sanitize_cases) / sizeof(sanitize_cases[0]); i++) {
		const struct sanitize_case *c = &sanitize_cases[i];
		char dst[64];
		size_t n;

		memset(dst, 'X', sizeof(dst));
		n = sm_utf8_sanitize(dst, c->dstsize, c->src, c->srclen);
		if (n != strlen(c->expected) || strcmp(dst, c->expected) != 0)
			fail_msg("case '%s': got '%s' (%zu)", c->what, dst, n);
		if (dst[n] != '\0')
			fail_msg("case '%s': not NUL-terminated", c->what);
	}
}

static void utf8_sanitize_output_is_always_valid(void **state)
{
	/* Every 3-byte string over a set of interesting bytes: whatever goes in,
	 * what comes out passes the validator. */
	static const unsigned char bytes[] = {0x00, 0x1F, 0x41, 0x7F, 0x80, 0xBF, 0xC2,
					      0xC3, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF};
	const size_t nb = sizeof(bytes);
	char src[3], dst[8];

	(void)state;
	for (size_t a = 0; a < nb; a++)
		for (size_t b = 0; b < nb; b++)
			for (size_t c = 0; c < nb; c++) {
				size_t n;

				src[0] = (char)bytes[a];
				src[1] = (char)bytes[b];
				src[2] = (char)bytes[c];
				n = sm_utf8_sanitize(dst, sizeof(dst), src, 3);
				assert_true(sm_utf8_valid(dst, n));
				assert_true(n <= 3);
			}
}

static void utf8_decode_gives_code_point_and_length(void **state)
{
	uint32_t cp = 0;

	(void)state;
	assert_int_equal(sm_utf8_decode("A", 1, &cp), 1);
	assert_int_equal(cp, 0x41);
	assert_int_equal(sm_utf8_decode("\xC2\x9B", 2, &cp), 2);
	assert_int_equal(cp, 0x9B);
	assert_int_equal(sm_utf8_decode("\xE2\x80\xAEx", 4, &cp), 3);
	assert_int_equal(cp, 0x202E);
	assert_int_equal(sm_utf8_decode("\xF0\x9F\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1F600);
	assert_int_equal(sm_utf8_decode("\xF4\x8F\xBF\xBF", 4, &cp), 4);
	assert_int_equal(cp, 0x10FFFF);
	/* Ill-formed: U+FFFD and the maximal subpart's length, as the sanitiser. */
	assert_int_equal(sm_utf8_decode("\xF0\x9F\x98z", 4, &cp), 3);
	assert_int_equal(cp, 0xFFFD);
	assert_int_equal(sm_utf8_decode("\xC0\x80", 2, &cp), 1);
	assert_int_equal(cp, 0xFFFD);
	assert_int_equal(sm_utf8_decode("\xED\xA0\x80", 3, &cp), 1);
	assert_int_equal(cp, 0xFFFD);
}

struct unsafe_case {
	uint32_t cp; /* code point */
	bool unsafe; /* expected verdict */
};

static const struct unsafe_case unsafe_cases[] = {
    /* C0 controls, DEL and the C1 block at both ends, CSI, NEL. */
    {0x00, true}, {0x07, true}, {0x09, true}, {0x0A, true}, {0x1B, true}, {0x1F, true},
    {0x7F, true}, {0x80, true}, {0x85, true}, {0x9B, true}, {0x9F, true},
    /* Bidi controls: marks, embeddings and overrides, isolates. */
    {0x061C, true}, {0x200E, true}, {0x200F, true}, {0x202A, true}, {0x202B, true},
    {0x202C, true}, {0x202D, true}, {0x202E, true}, {0x2066, true}, {0x2067, true},
    {0x2068, true}, {0x2069, true},
    /* Line breaks that are not '\n', and invisible format characters. */
    {0x2028, true}, {0x2029, true}, {0x200B, true}, {0x2060, true}, {0x2064, true},
    {0x206F, true}, {0xFEFF, true},
    /* Printable neighbours stay as they are. */
    {0x20, false}, {0x41, false}, {0x7E, false}, {0xA0, false}, {0xE9, false},
    {0x061B, false}, {0x061D, false}, {0x0627, false}, {0x05D0, false}, {0x2027, false},
    {0x202F, false}, {0x2070, false}, {0x2713, false}, {0xFEFE, false}, {0xFFFD, false},
    {0x1F600, false}, {0x10FFFF, false},
    /* ZWNJ and ZWJ: names in Persian and emoji sequences need them. */
    {0x200C, false}, {0x200D, false},
};

static void utf8_terminal_unsafe_names_controls_bidi_and_invisibles(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(unsafe_cases) / sizeof(unsafe_cases[0]); i++) {
		const struct unsafe_case *c = &unsafe_cases[i];

		if (sm_utf8_is_terminal_unsafe(c->cp) != c->unsafe)
			fail_msg("U+%04X: expected %s", (unsigned)c->cp,
				 c->unsafe ? "unsafe" : "safe");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(utf8_valid_accepts_and_rejects_table),
	    cmocka_unit_test(utf8_sanitize_replaces_and_truncates_table),
	    cmocka_unit_test(utf8_sanitize_output_is_always_valid),
	    cmocka_unit_test(utf8_decode_gives_code_point_and_length),
	    cmocka_unit_test(utf8_terminal_unsafe_names_controls_bidi_and_invisibles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
