/*
 * sm_utf8 — validation and sanitising of untrusted text (tenant-chosen
 * instance names, libvirt XML, network strings). Everything StackMon puts on
 * the wire passes sm_utf8_sanitize first.
 */
#ifndef SM_UTF8_H
#define SM_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, no
 * code points above U+10FFFF). NUL bytes are rejected too. */
bool sm_utf8_valid(const char *s, size_t len);

/* Copies src[0..srclen) into dst (size dstsize >= 1), replacing each invalid
 * sequence and each control character below U+0020 (and DEL) with '?',
 * and truncating at a character boundary so that the result has at most
 * dstsize-1 bytes. Always NUL-terminates. Returns the result's length. */
size_t sm_utf8_sanitize(char *dst, size_t dstsize, const char *src, size_t srclen);

#endif
