/*
 * Tests of the dashboard's escapers (dashboard/esc.c): whatever a tenant
 * puts in a name, the HTML/SVG, JSON and URL forms are inert and
 * well-formed (valid UTF-8, no control characters).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "esc.h"
#include "sm_utf8.h"

/* Runs one escaper over s and returns what it wrote (caller frees). */
static char *run(void (*fn)(FILE *, const char *), const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, s);
	fclose(f);
	return buf;
}

static void esc_html_makes_markup_inert(void **state)
{
	char *o = run(esc_html, "<script>alert(\"x\" & 'y')</script>");

	assert_string_equal(o,
			    "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;");
	free(o);
	o = run(esc_html, NULL);
	assert_string_equal(o, "");
	free(o);
	o = run(esc_html, "plain caf\xc3\xa9");
	assert_string_equal(o, "plain caf\xc3\xa9");
	free(o);
}

static void esc_html_replaces_invalid_utf8_and_controls(void **state)
{
	char *o = run(esc_html, "a\xff"
				"b\x01"
				"c\x1b[31m\xc3");

	assert_true(sm_utf8_valid(o, strlen(o)));
	for (char *p = o; *p; p++)
		assert_true((unsigned char)*p >= 0x20);
	assert_non_null(strstr(o, "a?b?c?[31m?"));
	free(o);
}

static void esc_json_escapes_quotes_controls_and_html(void **state)
{
	char *o = run(esc_json, "\"</script>\\ & \xe2\x80\xa8 x");

	assert_string_equal(o, "\"\\\"\\u003c/script\\u003e\\\\ \\u0026 \\u2028 x\"");
	free(o);
	o = run(esc_json, NULL);
	assert_string_equal(o, "null");
	free(o);
	o = run(esc_json_body, "tab\there\x7f");
	assert_string_equal(o, "tab?here?");
	free(o);
}

static void esc_url_encodes_everything_but_unreserved(void **state)
{
	char *o = run(esc_url, "a b&c=d/../\xc3\xa9~_.-Z9");

	assert_string_equal(o, "a%20b%26c%3Dd%2F..%2F%C3%A9~_.-Z9");
	free(o);
}

static void esc_log_keeps_one_line_and_marks_cuts(void **state)
{
	char buf[16];

	assert_string_equal(esc_log(buf, sizeof(buf), "ok"), "ok");
	assert_string_equal(esc_log(buf, sizeof(buf), NULL), "(none)");
	assert_string_equal(esc_log(buf, sizeof(buf), "a\nb\rc"), "a?b?c");
	esc_log(buf, sizeof(buf), "0123456789abcdefghij");
	assert_string_equal(buf, "0123456789ab..."); /* 15 bytes and the NUL */
	/* A cut never splits a character. */
	esc_log(buf, sizeof(buf),
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	assert_true(sm_utf8_valid(buf, strlen(buf)));
	assert_non_null(strstr(buf, "..."));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(esc_html_makes_markup_inert),
	    cmocka_unit_test(esc_html_replaces_invalid_utf8_and_controls),
	    cmocka_unit_test(esc_json_escapes_quotes_controls_and_html),
	    cmocka_unit_test(esc_url_encodes_everything_but_unreserved),
	    cmocka_unit_test(esc_log_keeps_one_line_and_marks_cuts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
