/*
 * esc — escaping of every string the dashboard did not write itself
 * (instance, project and user names, device names, UUIDs, paths) for the
 * three places it goes: HTML/SVG text and attributes, JSON strings, and URL
 * query values. Each escaper first makes the text valid UTF-8 without
 * control characters (sm_utf8_sanitize), so the output is always well-formed
 * whatever the index holds.
 */
#ifndef DASH_ESC_H
#define DASH_ESC_H

#include <stddef.h>
#include <stdio.h>

/* Writes `s` as HTML/XML text or attribute value: & < > " ' become
 * entities. NULL writes nothing. */
void esc_html(FILE *out, const char *s);

/* Writes `s` as the inside of a JSON string (no quotes): " \ and control
 * characters escaped, and < > & U+2028 U+2029 as \u escapes so the text is
 * inert even if a browser ever parsed it as HTML. NULL writes nothing. */
void esc_json_body(FILE *out, const char *s);
/* Writes `s` as a quoted JSON string, or `null` when s is NULL. */
void esc_json(FILE *out, const char *s);

/* Writes `s` percent-encoded for a URL query value: only A-Z a-z 0-9 - . _ ~
 * are left as they are. NULL writes nothing. */
void esc_url(FILE *out, const char *s);

/* Copies `s` into dst (size dstlen >= 1) for a log line: valid UTF-8, no
 * control characters, at most dstlen-1 bytes (cut with "..." when longer).
 * NULL gives "(none)". Returns dst. */
char *esc_log(char *dst, size_t dstlen, const char *s);

#endif
