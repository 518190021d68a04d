/*
 * sm_utf8 — validation and sanitising of untrusted text (tenant-chosen
 * instance names, libvirt XML, network strings). Everything StackMon puts on
 * the wire passes sm_utf8_sanitize first.
 */
#ifndef SM_UTF8_H
#define SM_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, no
 * code points above U+10FFFF). NUL bytes are rejected too. */
bool sm_utf8_valid(const char *s, size_t len);

/* Copies src[0..srclen) into dst (size dstsize >= 1), replacing each invalid
 * sequence and each control character below U+0020 (and DEL) with '?',
 * and truncating at a character boundary so that the result has at most
 * dstsize-1 bytes. Always NUL-terminates. Returns the result's length. */
size_t sm_utf8_sanitize(char *dst, size_t dstsize, const char *src, size_t srclen);

/* Decodes the character at s[0..len) (len >= 1). Returns its length in
 * bytes with *cp its code point; for an ill-formed sequence returns the
 * length of the maximal subpart to skip (>= 1) with *cp = U+FFFD. */
size_t sm_utf8_decode(const char *s, size_t len, uint32_t *cp);

/*
 * True if code point cp must never reach a terminal as itself, because it
 * can move the cursor, start an escape sequence or make text display other
 * than it reads: C0 controls and DEL, C1 controls (U+0080-U+009F, CSI is
 * U+009B), the bidi controls (U+061C, U+200E, U+200F, U+202A-U+202E,
 * U+2066-U+2069), the line and paragraph separators U+2028/U+2029, and the
 * invisible format characters U+200B, U+2060-U+206F and U+FEFF. Every
 * printer of untrusted text (JSON lines, tables) applies this one rule.
 */
bool sm_utf8_is_terminal_unsafe(uint32_t cp);

#endif
