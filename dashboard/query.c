/*
 * query — see query.h. Decoding happens into a fresh buffer per value and
 * the class check runs on the decoded bytes, so an encoded "%2e%2e%2f" is
 * judged as the "../" it is. Nothing is matched by prefix: keys are
 * compared whole, and a key seen twice is refused rather than guessed at.
 */
#include "query.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sm_err.h"
#include "sm_hex.h"
#include "sm_uuid.h"

/* Decodes s[0..len) ('+' is a space, %XX a byte) into a new string; NULL
 * on a bad escape, an encoded NUL, or no memory (*oom set). */
static char *decode(const char *s, size_t len, bool *oom)
{
	char *out = malloc(len + 1), *o = out;

	*oom = out == NULL;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len) {
				free(out);
				return NULL;
			}
			hi = sm_hex_value(s[i + 1]);
			lo = sm_hex_value(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static bool in_class(const char *v, enum query_class class)
{
	size_t len = strlen(v);

	if (len == 0)
		return false;
	if (class == QUERY_UUID)
		return sm_uuid_valid(v);
	for (const char *p = v; *p; p++) {
		char c = *p;
		bool ok = (c >= '0' && c <= '9');

		if (class != QUERY_NUMBER)
			ok = ok || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			     c == '-';
		if (class == QUERY_ID)
			ok = ok || c == '.' || c == ':' || c == '@' || c == '+';
		if (!ok)
			return false;
	}
	return class != QUERY_NUMBER || len <= 9;
}

void query_free(char **values, size_t nkeys)
{
	for (size_t i = 0; i < nkeys; i++) {
		free(values[i]);
		values[i] = NULL;
	}
}

int query_parse(const char *qs, const struct query_key *keys, size_t nkeys, char **values,
		char *why, size_t whylen)
{
	size_t len, pairs = 0;
	const char *p, *end;

	for (size_t i = 0; i < nkeys; i++)
		values[i] = NULL;
	if (qs == NULL || *qs == '\0')
		return 0;
	len = strlen(qs);
	if (len > QUERY_MAX_LEN) {
		sm_err_set(why, whylen, "query string longer than %d bytes", QUERY_MAX_LEN);
		goto fail;
	}
	for (p = qs, end = qs + len; p <= end; p++) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
		const char *stop = amp ? amp : end;
		size_t klen, k;
		char *v;
		bool oom;

		if (stop == p) {
			/* "a=1&&b=2" or a trailing '&': tolerated as browsers make them. */
			if (amp == NULL)
				break;
			continue;
		}
		if (++pairs > QUERY_MAX_PAIRS) {
			sm_err_set(why, whylen, "more than %d parameters", QUERY_MAX_PAIRS);
			goto fail;
		}
		eq = memchr(p, '=', (size_t)(stop - p));
		if (eq == NULL) {
			sm_err_set(why, whylen, "parameter without '='");
			goto fail;
		}
		klen = (size_t)(eq - p);
		for (k = 0; k < nkeys; k++)
			if (strlen(keys[k].name) == klen && memcmp(keys[k].name, p, klen) == 0)
				break;
		if (k == nkeys) {
			sm_err_set(why, whylen, "unknown parameter");
			goto fail;
		}
		if (values[k] != NULL) {
			sm_err_set(why, whylen, "parameter '%s' given twice", keys[k].name);
			goto fail;
		}
		if ((size_t)(stop - eq - 1) > 3 * keys[k].max_len) {
			sm_err_set(why, whylen, "parameter '%s' too long", keys[k].name);
			goto fail;
		}
		v = decode(eq + 1, (size_t)(stop - eq - 1), &oom);
		if (v == NULL) {
			sm_err_set(why, whylen, oom ? "out of memory" : "bad %%-encoding in '%s'",
				   keys[k].name);
			goto fail;
		}
		values[k] = v;
		if (strlen(v) > keys[k].max_len || !in_class(v, keys[k].class)) {
			sm_err_set(why, whylen, "bad value for '%s'", keys[k].name);
			goto fail;
		}
		if (amp == NULL)
			break;
		p = amp;
	}
	return 0;

fail:
	query_free(values, nkeys);
	return -1;
}
