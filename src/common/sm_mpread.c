/*
 * sm_mpread.c — the bounded msgpack reader (sm_mpread.h). Only msgpack's
 * own encodings are known here; what a field means, and which limits the
 * protocol sets, is the caller's (sm_wire_decode.c).
 */
#include "sm_mpread.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sm_utf8.h"

void sm_mpread_init(struct sm_mpread *r, const void *buf, size_t len, struct sm_wire_error *err)
{
	r->p = buf;
	r->end = r->p + len;
	r->err = err;
	r->max_depth = SM_WIRE_MAX_DEPTH;
	r->where = NULL;
	r->ctx = NULL;
	if (err != NULL) {
		err->code = SM_WIRE_OK;
		err->msg[0] = '\0';
	}
}

int sm_mpread_fail(struct sm_mpread *r, enum sm_wire_code code, const char *field,
		   const char *fmt, ...)
{
	char where[96] = "";
	char what[96];
	va_list ap;

	if (r->err == NULL || r->err->code != SM_WIRE_OK)
		return -1; /* keep the first, most specific error */
	if (r->where != NULL)
		r->where(r, where, sizeof(where));
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	r->err->code = code;
	snprintf(r->err->msg, sizeof(r->err->msg), "%.60s%.32s: %.64s", where, field, what);
	return -1;
}

size_t sm_mpread_left(const struct sm_mpread *r)
{
	return (size_t)(r->end - r->p);
}

static int need(struct sm_mpread *r, size_t n, const char *field)
{
	if (sm_mpread_left(r) < n)
		return sm_mpread_fail(r, SM_WIRE_E_TRUNCATED, field, "body ends inside the value");
	return 0;
}

/* Big-endian unsigned integer of n <= 8 bytes. */
static uint64_t be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int sm_mpread_peek(const struct sm_mpread *r)
{
	return r->p < r->end ? *r->p : -1;
}

bool sm_mpread_nil(struct sm_mpread *r)
{
	if (sm_mpread_peek(r) != 0xc0)
		return false;
	r->p++;
	return true;
}

bool sm_mpread_is_map(const struct sm_mpread *r)
{
	int t = sm_mpread_peek(r);

	return (t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf;
}

static int read_container(struct sm_mpread *r, bool is_map, size_t *n, size_t max,
			  size_t min_bytes, const char *field)
{
	int t;
	uint64_t c;
	size_t per;

	*n = 0; /* defined output on every path */
	if (need(r, 1, field) < 0)
		return -1;
	t = *r->p;
	if (!is_map && t >= 0x90 && t <= 0x9f) {
		c = (uint64_t)(t & 0x0f);
		r->p += 1;
	} else if (is_map && t >= 0x80 && t <= 0x8f) {
		c = (uint64_t)(t & 0x0f);
		r->p += 1;
	} else if (t == (is_map ? 0xde : 0xdc)) {
		if (need(r, 3, field) < 0)
			return -1;
		c = be(r->p + 1, 2);
		r->p += 3;
	} else if (t == (is_map ? 0xdf : 0xdd)) {
		if (need(r, 5, field) < 0)
			return -1;
		c = be(r->p + 1, 4);
		r->p += 5;
	} else {
		return sm_mpread_fail(r, SM_WIRE_E_TYPE, field, "expected %s",
				      is_map ? "a map" : "an array");
	}
	if (c > max)
		return sm_mpread_fail(r, SM_WIRE_E_COUNT, field, "%llu elements, limit %zu",
				      (unsigned long long)c, max);
	per = min_bytes * (is_map ? 2 : 1);
	if (c > sm_mpread_left(r) / (per > 0 ? per : 1))
		return sm_mpread_fail(r, SM_WIRE_E_COUNT, field,
				      "%llu elements cannot fit in %zu bytes",
				      (unsigned long long)c, sm_mpread_left(r));
	*n = (size_t)c;
	return 0;
}

int sm_mpread_array(struct sm_mpread *r, size_t *n, size_t max, size_t min_bytes,
		    const char *field)
{
	return read_container(r, false, n, max, min_bytes, field);
}

int sm_mpread_map(struct sm_mpread *r, size_t *n, size_t max, size_t min_bytes,
		  const char *field)
{
	return read_container(r, true, n, max, min_bytes, field);
}

int sm_mpread_str_view(struct sm_mpread *r, const char **s, size_t *len, const char *field)
{
	int t;
	size_t hdr, n;

	*s = NULL; /* defined outputs on every path */
	*len = 0;
	if (need(r, 1, field) < 0)
		return -1;
	t = *r->p;
	if (t >= 0xa0 && t <= 0xbf) {
		hdr = 1;
		n = (size_t)(t & 0x1f);
	} else if (t == 0xd9 || t == 0xda || t == 0xdb) {
		hdr = t == 0xd9 ? 2 : t == 0xda ? 3 : 5;
		if (need(r, hdr, field) < 0)
			return -1;
		n = (size_t)be(r->p + 1, hdr - 1);
	} else {
		return sm_mpread_fail(r, SM_WIRE_E_TYPE, field, "expected a string");
	}
	if (n > sm_mpread_left(r) - hdr)
		return sm_mpread_fail(r, SM_WIRE_E_TRUNCATED, field, "string of %zu bytes, %zu left",
				      n, sm_mpread_left(r) - hdr);
	*s = (const char *)r->p + hdr;
	*len = n;
	r->p += hdr + n;
	return 0;
}

int sm_mpread_str(struct sm_mpread *r, char *dst, size_t max, const char *field)
{
	const char *s;
	size_t n;

	if (sm_mpread_str_view(r, &s, &n, field) < 0)
		return -1;
	if (n > max)
		return sm_mpread_fail(r, SM_WIRE_E_STRING, field, "%zu bytes, limit %zu", n, max);
	if (!sm_utf8_valid(s, n))
		return sm_mpread_fail(r, SM_WIRE_E_UTF8, field, "not valid UTF-8");
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* Keys longer than any of ours are returned as-is and simply never match. */
int sm_mpread_key(struct sm_mpread *r, const char **k, size_t *klen)
{
	if (sm_mpread_str_view(r, k, klen, "key") < 0)
		return -1;
	if (!sm_utf8_valid(*k, *klen))
		return sm_mpread_fail(r, SM_WIRE_E_UTF8, "key", "not valid UTF-8");
	return 0;
}

bool sm_mpread_key_is(const char *k, size_t klen, const char *name)
{
	return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

int sm_mpread_uint(struct sm_mpread *r, uint64_t *v, uint64_t max, const char *field)
{
	int t;

	if (need(r, 1, field) < 0)
		return -1;
	t = *r->p;
	if (t <= 0x7f) {
		*v = (uint64_t)t;
		r->p += 1;
	} else if (t >= 0xcc && t <= 0xcf) {
		size_t n = (size_t)1 << (t - 0xcc);

		if (need(r, 1 + n, field) < 0)
			return -1;
		*v = be(r->p + 1, n);
		r->p += 1 + n;
	} else if (t >= 0xd0 && t <= 0xd3) {
		/* Signed encodings of non-negative values are fine (some
		 * encoders use them); negative ones are out of range. */
		size_t n = (size_t)1 << (t - 0xd0);
		uint64_t raw;

		if (need(r, 1 + n, field) < 0)
			return -1;
		raw = be(r->p + 1, n);
		if (raw >> (8 * n - 1))
			return sm_mpread_fail(r, SM_WIRE_E_RANGE, field,
					      "negative where unsigned expected");
		*v = raw;
		r->p += 1 + n;
	} else if (t >= 0xe0) {
		return sm_mpread_fail(r, SM_WIRE_E_RANGE, field, "negative where unsigned expected");
	} else {
		return sm_mpread_fail(r, SM_WIRE_E_TYPE, field, "expected an unsigned integer");
	}
	if (*v > max)
		return sm_mpread_fail(r, SM_WIRE_E_RANGE, field, "%llu over limit %llu",
				      (unsigned long long)*v, (unsigned long long)max);
	return 0;
}

int sm_mpread_u32(struct sm_mpread *r, uint32_t *v, uint32_t max, const char *field)
{
	uint64_t x = 0; /* set on success; gcc -O3 cannot see it and warns */

	if (sm_mpread_uint(r, &x, max, field) < 0)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int sm_mpread_num(struct sm_mpread *r, double *v, bool nullable, double lo, double hi,
		  const char *field)
{
	int t;

	if (need(r, 1, field) < 0)
		return -1;
	t = *r->p;
	if (t == 0xc0 && nullable) {
		r->p++;
		*v = NAN;
		return 0;
	} else if (t == 0xca) {
		uint32_t bits;
		float f;

		if (need(r, 5, field) < 0)
			return -1;
		bits = (uint32_t)be(r->p + 1, 4);
		memcpy(&f, &bits, 4);
		*v = f;
		r->p += 5;
	} else if (t == 0xcb) {
		uint64_t bits;

		if (need(r, 9, field) < 0)
			return -1;
		bits = be(r->p + 1, 8);
		memcpy(v, &bits, 8);
		r->p += 9;
	} else if (t <= 0x7f || (t >= 0xcc && t <= 0xcf)) {
		uint64_t u;

		if (sm_mpread_uint(r, &u, UINT64_MAX, field) < 0)
			return -1;
		*v = (double)u;
	} else if (t >= 0xe0) {
		*v = (double)(int8_t)t;
		r->p++;
	} else if (t >= 0xd0 && t <= 0xd3) {
		size_t n = (size_t)1 << (t - 0xd0);
		uint64_t raw;
		int64_t s;

		if (need(r, 1 + n, field) < 0)
			return -1;
		raw = be(r->p + 1, n);
		if (n < 8 && raw >> (8 * n - 1))
			raw |= ~UINT64_C(0) << (8 * n); /* sign-extend */
		memcpy(&s, &raw, 8);
		*v = (double)s;
		r->p += 1 + n;
	} else {
		return sm_mpread_fail(r, SM_WIRE_E_TYPE, field, "expected a number%s",
				      nullable ? " or nil" : "");
	}
	if (!isfinite(*v))
		return sm_mpread_fail(r, SM_WIRE_E_NOT_FINITE, field, "NaN or infinity");
	if (*v < lo || *v > hi)
		return sm_mpread_fail(r, SM_WIRE_E_RANGE, field, "%g outside [%g, %g]", *v, lo, hi);
	return 0;
}

int sm_mpread_bool(struct sm_mpread *r, bool *v, const char *field)
{
	if (need(r, 1, field) < 0)
		return -1;
	if (*r->p != 0xc2 && *r->p != 0xc3)
		return sm_mpread_fail(r, SM_WIRE_E_TYPE, field, "expected a boolean");
	*v = *r->p == 0xc3;
	r->p++;
	return 0;
}

/* Only bin8 is accepted: every bin of the protocol is short, and an encoder
 * always picks the smallest header. */
int sm_mpread_bin(struct sm_mpread *r, void *dst, size_t len, const char *field)
{
	if (need(r, 1, field) < 0)
		return -1;
	if (*r->p != 0xc4)
		return sm_mpread_fail(r, SM_WIRE_E_TYPE, field, "expected %zu bytes of binary",
				      len);
	if (need(r, 2, field) < 0)
		return -1;
	if (r->p[1] != len)
		return sm_mpread_fail(r, SM_WIRE_E_RANGE, field, "binary of %u bytes, expected %zu",
				      r->p[1], len);
	if (need(r, 2 + len, field) < 0)
		return -1;
	memcpy(dst, r->p + 2, len);
	r->p += 2 + len;
	return 0;
}

int sm_mpread_skip(struct sm_mpread *r, int depth, const char *field)
{
	int t;
	size_t n = 0, hdr = 1;

	if (depth > r->max_depth)
		return sm_mpread_fail(r, SM_WIRE_E_DEPTH, field, "nested deeper than %d",
				      r->max_depth);
	if (need(r, 1, field) < 0)
		return -1;
	t = *r->p;
	if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
		r->p++;
		return 0;
	}
	if ((t >= 0x80 && t <= 0x9f) || t == 0xdc || t == 0xdd || t == 0xde || t == 0xdf) {
		bool is_map = (t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf;
		size_t count;

		if (read_container(r, is_map, &count, SIZE_MAX, 1, field) < 0)
			return -1;
		if (is_map)
			count *= 2; /* bounded by the bytes left, cannot overflow */
		for (size_t i = 0; i < count; i++) {
			if (sm_mpread_skip(r, depth + 1, field) < 0)
				return -1;
		}
		return 0;
	}
	switch (t) {
	case 0xc1:
		return sm_mpread_fail(r, SM_WIRE_E_GARBAGE, field, "reserved byte 0xc1");
	case 0xc4: case 0xc5: case 0xc6: /* bin */
	case 0xd9: case 0xda: case 0xdb: /* str */
		hdr = 1 + ((t == 0xc4 || t == 0xd9) ? 1 : (t == 0xc5 || t == 0xda) ? 2 : 4);
		if (need(r, hdr, field) < 0)
			return -1;
		n = (size_t)be(r->p + 1, hdr - 1);
		break;
	case 0xc7: case 0xc8: case 0xc9: /* ext: length, type byte, data */
		hdr = 1 + (t == 0xc7 ? 1 : t == 0xc8 ? 2 : 4);
		if (need(r, hdr + 1, field) < 0)
			return -1;
		n = (size_t)be(r->p + 1, hdr - 1);
		hdr += 1;
		break;
	case 0xca: n = 4; break;
	case 0xcb: n = 8; break;
	case 0xcc: case 0xd0: n = 1; break;
	case 0xcd: case 0xd1: n = 2; break;
	case 0xce: case 0xd2: n = 4; break;
	case 0xcf: case 0xd3: n = 8; break;
	case 0xd4: n = 2; break; /* fixext: type byte + data */
	case 0xd5: n = 3; break;
	case 0xd6: n = 5; break;
	case 0xd7: n = 9; break;
	case 0xd8: n = 17; break;
	default: /* fixstr */
		n = (size_t)(t & 0x1f);
		break;
	}
	if (n > sm_mpread_left(r) - hdr)
		return sm_mpread_fail(r, SM_WIRE_E_TRUNCATED, field, "value of %zu bytes, %zu left",
				      n, sm_mpread_left(r) - hdr);
	r->p += hdr + n;
	return 0;
}
