/*
 * sm_utf8 — see sm_utf8.h. Strict decoding per RFC 3629 / Unicode table 3-7:
 * the second byte's allowed range depends on the lead byte, which is what
 * rules out overlongs, surrogates and code points above U+10FFFF. An
 * ill-formed sequence is replaced by one '?' per maximal subpart, as the
 * Unicode standard recommends, so a cut 4-byte character costs one '?'.
 */
#include "sm_utf8.h"

#include <stdint.h>

/*
 * Looks at the sequence starting at s[0] (len >= 1). Returns true if it is a
 * well-formed character, with *n its length; else false with *n the length
 * of the ill-formed maximal subpart to replace (>= 1). NUL counts as
 * well-formed here; callers decide about control characters.
 */
static bool utf8_next(const unsigned char *s, size_t len, size_t *n)
{
	unsigned char b = s[0];
	unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
	size_t need;

	if (b < 0x80) {
		*n = 1;
		return true;
	}
	if (b >= 0xC2 && b <= 0xDF) {
		need = 2;
	} else if (b >= 0xE0 && b <= 0xEF) {
		need = 3;
		if (b == 0xE0)
			lo = 0xA0; /* below: overlong */
		else if (b == 0xED)
			hi = 0x9F; /* above: UTF-16 surrogates */
	} else if (b >= 0xF0 && b <= 0xF4) {
		need = 4;
		if (b == 0xF0)
			lo = 0x90; /* below: overlong */
		else if (b == 0xF4)
			hi = 0x8F; /* above: beyond U+10FFFF */
	} else {
		*n = 1; /* continuation byte, C0/C1 overlong lead, or F5..FF */
		return false;
	}
	for (size_t i = 1; i < need; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			*n = i;
			return false;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	*n = need;
	return true;
}

bool sm_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		if (p[i] == 0 || !utf8_next(p + i, len - i, &n))
			return false;
		i += n;
	}
	return true;
}

size_t sm_utf8_sanitize(char *dst, size_t dstsize, const char *src, size_t srclen)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t i = 0, out = 0, n;

	if (dstsize == 0)
		return 0; /* contract says >= 1; nothing can be written */
	while (i < srclen) {
		bool ok = utf8_next(p + i, srclen - i, &n);
		bool replace = !ok || (n == 1 && (p[i] < 0x20 || p[i] == 0x7F));
		size_t width = replace ? 1 : n;

		if (out + width > dstsize - 1)
			break; /* never split a character */
		if (replace)
			dst[out] = '?';
		else
			for (size_t k = 0; k < n; k++)
				dst[out + k] = (char)p[i + k];
		out += width;
		i += n;
	}
	dst[out] = '\0';
	return out;
}

size_t sm_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (!utf8_next(p, len, &n)) {
		*cp = 0xFFFD;
		return n;
	}
	if (n == 1)
		*cp = p[0];
	else if (n == 2)
		*cp = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
	else if (n == 3)
		*cp = (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
	else
		*cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 |
		      (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
	return n;
}

/*
 * ZWNJ and ZWJ (U+200C, U+200D) are left out on purpose: they are invisible
 * too, but Persian and Indic names and emoji sequences need them, and they
 * cannot reorder or hide other text.
 */
bool sm_utf8_is_terminal_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || cp == 0x200B ||
	       cp == 0x200E || cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) ||
	       (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF;
}
