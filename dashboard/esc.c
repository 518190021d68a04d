/*
 * esc — see esc.h. Sanitising first and escaping second keeps each escaper
 * a byte loop over text that is known to be valid UTF-8 without control
 * characters: the only multi-byte sequences left to care about are the two
 * JavaScript line terminators (U+2028, U+2029) for JSON.
 */
#include "esc.h"

#include <stdlib.h>
#include <string.h>

#include "sm_utf8.h"

/* Small strings (names are at most 255 bytes) are sanitised on the stack. */
#define ESC_STACK 512

/* Returns a sanitised copy of s: `buf` when it fits, else a malloc'd one
 * (*heap set, caller frees), or NULL when out of memory. */
static char *clean(const char *s, char *buf, size_t buflen, char **heap)
{
	size_t n = strlen(s);
	char *dst = buf;

	*heap = NULL;
	if (n + 1 > buflen) {
		dst = malloc(n + 1);
		if (dst == NULL)
			return NULL;
		*heap = dst;
	}
	/* The result is never longer than the input: each replaced subpart
	 * becomes one '?' and no byte is added. */
	sm_utf8_sanitize(dst, n + 1, s, n);
	return dst;
}

void esc_html(FILE *out, const char *s)
{
	char buf[ESC_STACK], *heap;
	const char *p;

	if (s == NULL || (p = clean(s, buf, sizeof(buf), &heap)) == NULL)
		return;
	for (const char *run = p;; p++) {
		const char *ent = NULL;

		switch (*p) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		case '\0':
			break;
		default:
			continue;
		}
		fwrite(run, 1, (size_t)(p - run), out);
		if (*p == '\0')
			break;
		fputs(ent, out);
		run = p + 1;
	}
	free(heap);
}

void esc_json_body(FILE *out, const char *s)
{
	char buf[ESC_STACK], *heap;
	const unsigned char *p;

	if (s == NULL || (p = (const unsigned char *)clean(s, buf, sizeof(buf), &heap)) == NULL)
		return;
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '<':
			fputs("\\u003c", out);
			break;
		case '>':
			fputs("\\u003e", out);
			break;
		case '&':
			fputs("\\u0026", out);
			break;
		case 0xE2:
			/* U+2028 / U+2029 are E2 80 A8 / E2 80 A9. */
			if (p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) {
				fprintf(out, "\\u%04x", p[2] == 0xA8 ? 0x2028 : 0x2029);
				p += 2;
				break;
			}
			/* fall through */
		default:
			/* Sanitised: no byte below 0x20 and no DEL remain. */
			fputc(*p, out);
		}
	}
	free(heap);
}

void esc_json(FILE *out, const char *s)
{
	if (s == NULL) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	esc_json_body(out, s);
	fputc('"', out);
}

void esc_url(FILE *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	if (s == NULL)
		return;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			fputc(*p, out);
		} else {
			fputc('%', out);
			fputc(hex[*p >> 4], out);
			fputc(hex[*p & 15], out);
		}
	}
}

char *esc_log(char *dst, size_t dstlen, const char *s)
{
	size_t n;

	if (s == NULL)
		s = "(none)";
	n = strlen(s);
	sm_utf8_sanitize(dst, dstlen, s, n);
	if (n >= dstlen && dstlen > 4) {
		/* Mark the cut so a reader knows the line is not the whole input;
		 * back up to a character boundary first. */
		size_t at = dstlen - 4;

		while (at > 0 && ((unsigned char)dst[at] & 0xC0) == 0x80)
			at--;
		memcpy(dst + at, "...", 4);
	}
	return dst;
}
