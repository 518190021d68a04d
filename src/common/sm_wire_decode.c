/*
 * sm_wire_decode.c — decoding side of the wire protocol: a small,
 * bounds-checked msgpack reader and the message decoders on top of it.
 *
 * Why not msgpack-c's unpacker: it allocates an array of `count` objects
 * as soon as it reads a container header, before it knows whether the bytes
 * for them exist, so a 5-byte frame announcing four billion elements costs a
 * huge allocation. Here every count is checked against the bytes left (each
 * element takes at least one byte) and against the protocol's limits before
 * anything is allocated, every read is checked against the end of the
 * buffer, and nesting depth is bounded. Decoding never trusts a length.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_log.h"
#include "sm_utf8.h"
#include "sm_wire.h"

/* Reader over one body. `dom`, `dev_kind`, `dev` locate the current field
 * so that an error message can name it without building paths on the
 * success path. */
struct rd {
	const uint8_t *p;     /* next byte */
	const uint8_t *end;   /* one past the last byte */
	struct sm_wire_error *err;
	long dom;             /* current domain index, -1 outside the domain list */
	const char *dev_kind; /* "disks" / "nics" / "loss" while inside one, else NULL */
	long dev;             /* current device / row index */
	size_t frame_devices; /* devices seen so far in this frame */
};

/* Smallest encodings, used to bound counts by the bytes left. */
#define MIN_DOMAIN_BYTES 34 /* array header, bin16 uuid, 15 one-byte fields */
#define MIN_DISK_BYTES 11
#define MIN_NIC_BYTES 14
#define MIN_LOSS_BYTES 5
#define MAX_KEY 64

static int fail(struct rd *r, enum sm_wire_code code, const char *field, const char *fmt, ...)
	SM_PRINTF(4, 5);

static int fail(struct rd *r, enum sm_wire_code code, const char *field, const char *fmt, ...)
{
	char where[96] = "";
	char what[96];
	va_list ap;

	if (r->err == NULL || r->err->code != SM_WIRE_OK)
		return -1; /* keep the first, most specific error */
	if (r->dom >= 0 && r->dev_kind != NULL)
		snprintf(where, sizeof(where), "domains[%ld].%s[%ld].", r->dom, r->dev_kind,
			 r->dev);
	else if (r->dom >= 0)
		snprintf(where, sizeof(where), "domains[%ld].", r->dom);
	else if (r->dev_kind != NULL)
		snprintf(where, sizeof(where), "%s[%ld].", r->dev_kind, r->dev);
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	r->err->code = code;
	snprintf(r->err->msg, sizeof(r->err->msg), "%.60s%.32s: %.64s", where, field, what);
	return -1;
}

static size_t left(const struct rd *r)
{
	return (size_t)(r->end - r->p);
}

static int need(struct rd *r, size_t n, const char *field)
{
	if (left(r) < n)
		return fail(r, SM_WIRE_E_TRUNCATED, field, "body ends inside the value");
	return 0;
}

static uint64_t be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Type byte without consuming it; -1 at end of body. */
static int peek(const struct rd *r)
{
	return r->p < r->end ? *r->p : -1;
}

/* Reads a container header. For arrays *n is the element count, for maps
 * the pair count. is_map selects which. Checks the count against `max` and
 * against the bytes left (each element needs min_bytes). */
static int read_container(struct rd *r, bool is_map, size_t *n, size_t max, size_t min_bytes,
			  const char *field)
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
		return fail(r, SM_WIRE_E_TYPE, field, "expected %s", is_map ? "a map" : "an array");
	}
	if (c > max)
		return fail(r, SM_WIRE_E_COUNT, field, "%llu elements, limit %zu",
			    (unsigned long long)c, max);
	per = min_bytes * (is_map ? 2 : 1);
	if (c > left(r) / (per > 0 ? per : 1))
		return fail(r, SM_WIRE_E_COUNT, field, "%llu elements cannot fit in %zu bytes",
			    (unsigned long long)c, left(r));
	*n = (size_t)c;
	return 0;
}

/* Reads a str header; returns a view of its bytes (not NUL-terminated). */
static int read_str_view(struct rd *r, const char **s, size_t *len, const char *field)
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
		return fail(r, SM_WIRE_E_TYPE, field, "expected a string");
	}
	if (n > left(r) - hdr)
		return fail(r, SM_WIRE_E_TRUNCATED, field, "string of %zu bytes, %zu left", n,
			    left(r) - hdr);
	*s = (const char *)r->p + hdr;
	*len = n;
	r->p += hdr + n;
	return 0;
}

/* Reads a bounded, valid UTF-8 string into dst[max + 1]. */
static int read_str(struct rd *r, char *dst, size_t max, const char *field)
{
	const char *s;
	size_t n;

	if (read_str_view(r, &s, &n, field) < 0)
		return -1;
	if (n > max)
		return fail(r, SM_WIRE_E_STRING, field, "%zu bytes, limit %zu", n, max);
	if (!sm_utf8_valid(s, n))
		return fail(r, SM_WIRE_E_UTF8, field, "not valid UTF-8");
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

static int read_uint(struct rd *r, uint64_t *v, uint64_t max, const char *field)
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
			return fail(r, SM_WIRE_E_RANGE, field, "negative where unsigned expected");
		*v = raw;
		r->p += 1 + n;
	} else if (t >= 0xe0) {
		return fail(r, SM_WIRE_E_RANGE, field, "negative where unsigned expected");
	} else {
		return fail(r, SM_WIRE_E_TYPE, field, "expected an unsigned integer");
	}
	if (*v > max)
		return fail(r, SM_WIRE_E_RANGE, field, "%llu over limit %llu",
			    (unsigned long long)*v, (unsigned long long)max);
	return 0;
}

static int read_u32(struct rd *r, uint32_t *v, uint32_t max, const char *field)
{
	uint64_t x;

	if (read_uint(r, &x, max, field) < 0)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/* Reads a number as double. Accepts float32, float64 and integers; nil is
 * NaN ("unknown") when nullable. NaN and infinities on the wire are
 * refused: unknown is spelled nil. Checks [lo, hi]. */
static int read_num(struct rd *r, double *v, bool nullable, double lo, double hi,
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

		if (read_uint(r, &u, UINT64_MAX, field) < 0)
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
		return fail(r, SM_WIRE_E_TYPE, field, "expected a number%s",
			    nullable ? " or nil" : "");
	}
	if (!isfinite(*v))
		return fail(r, SM_WIRE_E_NOT_FINITE, field, "NaN or infinity");
	if (*v < lo || *v > hi)
		return fail(r, SM_WIRE_E_RANGE, field, "%g outside [%g, %g]", *v, lo, hi);
	return 0;
}

static int read_bool(struct rd *r, bool *v, const char *field)
{
	if (need(r, 1, field) < 0)
		return -1;
	if (*r->p != 0xc2 && *r->p != 0xc3)
		return fail(r, SM_WIRE_E_TYPE, field, "expected a boolean");
	*v = *r->p == 0xc3;
	r->p++;
	return 0;
}

static int read_uuid(struct rd *r, uint8_t uuid[16], const char *field)
{
	if (need(r, 1, field) < 0)
		return -1;
	if (*r->p != 0xc4)
		return fail(r, SM_WIRE_E_TYPE, field, "expected 16 bytes of binary");
	if (need(r, 2, field) < 0)
		return -1;
	if (r->p[1] != 16)
		return fail(r, SM_WIRE_E_RANGE, field, "binary of %u bytes, expected 16", r->p[1]);
	if (need(r, 18, field) < 0)
		return -1;
	memcpy(uuid, r->p + 2, 16);
	r->p += 18;
	return 0;
}

/* Skips one object of any type, checking its structure: what a decoder
 * does with a field it does not know. */
static int skip(struct rd *r, int depth, const char *field)
{
	int t;
	size_t n = 0, hdr = 1;

	if (depth > SM_WIRE_MAX_DEPTH)
		return fail(r, SM_WIRE_E_DEPTH, field, "nested deeper than %d", SM_WIRE_MAX_DEPTH);
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
			if (skip(r, depth + 1, field) < 0)
				return -1;
		}
		return 0;
	}
	switch (t) {
	case 0xc1:
		return fail(r, SM_WIRE_E_GARBAGE, field, "reserved byte 0xc1");
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
	if (n > left(r) - hdr)
		return fail(r, SM_WIRE_E_TRUNCATED, field, "value of %zu bytes, %zu left", n,
			    left(r) - hdr);
	r->p += hdr + n;
	return 0;
}

/* Map key as a view; keys longer than MAX_KEY are not ours, so they are
 * returned as-is and simply never match. */
static int read_key(struct rd *r, const char **k, size_t *klen)
{
	if (read_str_view(r, k, klen, "key") < 0)
		return -1;
	if (!sm_utf8_valid(*k, *klen))
		return fail(r, SM_WIRE_E_UTF8, "key", "not valid UTF-8");
	return 0;
}

static bool key_is(const char *k, size_t klen, const char *name)
{
	return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

/* ---- header ------------------------------------------------------------ */

enum hdr_bits { H_V = 1, H_KIND = 2, H_HOST = 4, H_TIME = 8, H_SEQ = 16, H_EPOCH = 32,
		H_ALL = 63 };

static int parse_kind(struct rd *r, enum sm_msg_kind *kind)
{
	const char *s;
	size_t n;

	if (read_str_view(r, &s, &n, "kind") < 0)
		return -1;
	for (enum sm_msg_kind k = SM_KIND_STATS; k <= SM_KIND_COLLECTOR; k++) {
		const char *name = sm_wire_kind_name(k);

		if (strlen(name) == n && memcmp(name, s, n) == 0) {
			*kind = k;
			return 0;
		}
	}
	return fail(r, SM_WIRE_E_KIND, "kind", "unknown message kind '%.*s'",
		    (int)(n > 20 ? 20 : n), s);
}

/* Header key handler: returns 1 if the key was a header key (and read),
 * 0 if not, -1 on error. `seen` collects which were read. */
static int read_header_key(struct rd *r, const char *k, size_t klen, struct sm_header *h,
			   unsigned *seen)
{
	if (key_is(k, klen, "v")) {
		*seen |= H_V;
		return read_u32(r, &h->version, UINT32_MAX, "v") < 0 ? -1 : 1;
	}
	if (key_is(k, klen, "kind")) {
		*seen |= H_KIND;
		return parse_kind(r, &h->kind) < 0 ? -1 : 1;
	}
	if (key_is(k, klen, "host")) {
		*seen |= H_HOST;
		if (read_str(r, h->host, SM_HOST_MAX, "host") < 0)
			return -1;
		if (!sm_wire_host_valid(h->host))
			return fail(r, SM_WIRE_E_RANGE, "host", "not a valid host name");
		return 1;
	}
	if (key_is(k, klen, "time")) {
		*seen |= H_TIME;
		return read_num(r, &h->time, false, 0, 1e11, "time") < 0 ? -1 : 1;
	}
	if (key_is(k, klen, "seq")) {
		*seen |= H_SEQ;
		return read_uint(r, &h->seq, UINT64_MAX, "seq") < 0 ? -1 : 1;
	}
	if (key_is(k, klen, "epoch")) {
		*seen |= H_EPOCH;
		return read_uint(r, &h->epoch, UINT64_MAX, "epoch") < 0 ? -1 : 1;
	}
	return 0;
}

static int check_header(struct rd *r, unsigned seen, const struct sm_header *h)
{
	static const char *const names[] = {"v", "kind", "host", "time", "seq", "epoch"};

	/* Version first: a frame from a newer, incompatible publisher must be
	 * reported as such, whatever else it lacks. */
	if ((seen & H_V) && h->version != SM_WIRE_VERSION)
		return fail(r, SM_WIRE_E_VERSION, "v",
			    "protocol version %u, this build speaks %d", h->version,
			    SM_WIRE_VERSION);
	for (int i = 0; i < 6; i++) {
		if (!(seen & (1u << i)))
			return fail(r, SM_WIRE_E_MISSING, names[i], "required field missing");
	}
	return 0;
}

static void rd_init(struct rd *r, const void *body, size_t len, struct sm_wire_error *err)
{
	r->p = body;
	r->end = r->p + len;
	r->err = err;
	r->dom = -1;
	r->dev_kind = NULL;
	r->dev = -1;
	r->frame_devices = 0;
	if (err != NULL) {
		err->code = SM_WIRE_OK;
		err->msg[0] = '\0';
	}
}

static int check_size(struct rd *r, size_t len, size_t max_frame)
{
	if (max_frame == 0)
		max_frame = SM_WIRE_FRAME_MAX_DEFAULT;
	if (len > max_frame)
		return fail(r, SM_WIRE_E_TOO_BIG, "body", "%zu bytes, limit %zu", len, max_frame);
	if (len == 0)
		return fail(r, SM_WIRE_E_TRUNCATED, "body", "empty");
	return 0;
}

int sm_wire_peek_header(const void *body, size_t len, size_t max_frame, struct sm_header *h,
			struct sm_wire_error *err)
{
	struct rd r;
	size_t n;
	unsigned seen = 0;

	rd_init(&r, body, len, err);
	memset(h, 0, sizeof(*h));
	if (check_size(&r, len, max_frame) < 0)
		return -1;
	if (peek(&r) >= 0 && !((peek(&r) >= 0x80 && peek(&r) <= 0x8f) || peek(&r) == 0xde ||
			       peek(&r) == 0xdf))
		return fail(&r, SM_WIRE_E_GARBAGE, "body", "not a msgpack map");
	if (read_container(&r, true, &n, SIZE_MAX, 1, "body") < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *k;
		size_t klen;
		int rc;

		if (read_key(&r, &k, &klen) < 0)
			return -1;
		rc = read_header_key(&r, k, klen, h, &seen);
		if (rc < 0)
			return -1;
		if (rc == 0 && skip(&r, 1, "value") < 0)
			return -1;
	}
	if (r.p != r.end)
		return fail(&r, SM_WIRE_E_GARBAGE, "body", "%zu bytes after the message",
			    left(&r));
	return check_header(&r, seen, h);
}

/* ---- payloads ------------------------------------------------------------ */

static int read_identity(struct rd *r, bool *has, struct sm_identity *id)
{
	size_t n;

	if (peek(r) == 0xc0) {
		r->p++;
		*has = false;
		return 0;
	}
	if (read_container(r, false, &n, 64, 1, "identity") < 0)
		return -1;
	if (n < 6)
		return fail(r, SM_WIRE_E_MISSING, "identity", "%zu of 6 fields", n);
	if (read_str(r, id->display_name, SM_NAME_MAX, "identity.display_name") < 0 ||
	    read_str(r, id->project_id, SM_ID_MAX, "identity.project_id") < 0 ||
	    read_str(r, id->project_name, SM_NAME_MAX, "identity.project_name") < 0 ||
	    read_str(r, id->user_id, SM_ID_MAX, "identity.user_id") < 0 ||
	    read_str(r, id->user_name, SM_NAME_MAX, "identity.user_name") < 0 ||
	    read_str(r, id->flavor, SM_NAME_MAX, "identity.flavor") < 0)
		return -1;
	for (size_t i = 6; i < n; i++) {
		if (skip(r, 3, "identity") < 0)
			return -1;
	}
	*has = true;
	return 0;
}

static int read_load(struct rd *r, double load[3], const char *field)
{
	size_t n;

	if (read_container(r, false, &n, 64, 1, field) < 0)
		return -1;
	if (n < 3)
		return fail(r, SM_WIRE_E_MISSING, field, "%zu of 3 values", n);
	for (int i = 0; i < 3; i++) {
		if (read_num(r, &load[i], true, 0, 1e9, field) < 0)
			return -1;
	}
	for (size_t i = 3; i < n; i++) {
		if (skip(r, 3, field) < 0)
			return -1;
	}
	return 0;
}

#define RATE_MAX 1e18 /* no device moves an exabyte per second */

static int skip_extra(struct rd *r, size_t have, size_t used, const char *field)
{
	for (size_t i = used; i < have; i++) {
		if (skip(r, 4, field) < 0)
			return -1;
	}
	return 0;
}

/* Reads a device list header and allocates its array. */
static int read_device_list(struct rd *r, const char *kind, size_t min_bytes, size_t elem_size,
			    void **out, size_t *count)
{
	size_t n;

	r->dev_kind = NULL;
	if (read_container(r, false, &n, SM_WIRE_MAX_DEVICES, min_bytes, kind) < 0)
		return -1;
	if (r->frame_devices + n > SM_WIRE_MAX_FRAME_DEVICES)
		return fail(r, SM_WIRE_E_COUNT, kind, "over %d devices in one frame",
			    SM_WIRE_MAX_FRAME_DEVICES);
	r->frame_devices += n;
	*count = n;
	*out = NULL;
	if (n == 0)
		return 0;
	*out = calloc(n, elem_size);
	if (*out == NULL)
		return fail(r, SM_WIRE_E_NOMEM, kind, "out of memory");
	r->dev_kind = kind;
	return 0;
}

static int read_disk(struct rd *r, struct sm_disk_stats *d)
{
	size_t n;

	if (read_container(r, false, &n, 64, 1, "disk") < 0)
		return -1;
	if (n < 10)
		return fail(r, SM_WIRE_E_MISSING, "disk", "%zu of 10 fields", n);
	if (read_str(r, d->name, SM_DEV_MAX, "name") < 0 ||
	    read_uint(r, &d->rd_req, UINT64_MAX, "rd_req") < 0 ||
	    read_uint(r, &d->rd_bytes, UINT64_MAX, "rd_bytes") < 0 ||
	    read_uint(r, &d->wr_req, UINT64_MAX, "wr_req") < 0 ||
	    read_uint(r, &d->wr_bytes, UINT64_MAX, "wr_bytes") < 0 ||
	    read_uint(r, &d->errors, UINT64_MAX, "errors") < 0 ||
	    read_num(r, &d->rd_req_ps, true, 0, RATE_MAX, "rd_req_ps") < 0 ||
	    read_num(r, &d->rd_bytes_ps, true, 0, RATE_MAX, "rd_bytes_ps") < 0 ||
	    read_num(r, &d->wr_req_ps, true, 0, RATE_MAX, "wr_req_ps") < 0 ||
	    read_num(r, &d->wr_bytes_ps, true, 0, RATE_MAX, "wr_bytes_ps") < 0)
		return -1;
	return skip_extra(r, n, 10, "disk");
}

static int read_nic(struct rd *r, struct sm_nic_stats *d)
{
	size_t n;

	if (read_container(r, false, &n, 64, 1, "nic") < 0)
		return -1;
	if (n < 13)
		return fail(r, SM_WIRE_E_MISSING, "nic", "%zu of 13 fields", n);
	if (read_str(r, d->name, SM_DEV_MAX, "name") < 0 ||
	    read_uint(r, &d->rx_bytes, UINT64_MAX, "rx_bytes") < 0 ||
	    read_uint(r, &d->rx_packets, UINT64_MAX, "rx_packets") < 0 ||
	    read_uint(r, &d->rx_errors, UINT64_MAX, "rx_errors") < 0 ||
	    read_uint(r, &d->rx_drops, UINT64_MAX, "rx_drops") < 0 ||
	    read_uint(r, &d->tx_bytes, UINT64_MAX, "tx_bytes") < 0 ||
	    read_uint(r, &d->tx_packets, UINT64_MAX, "tx_packets") < 0 ||
	    read_uint(r, &d->tx_errors, UINT64_MAX, "tx_errors") < 0 ||
	    read_uint(r, &d->tx_drops, UINT64_MAX, "tx_drops") < 0 ||
	    read_num(r, &d->rx_bytes_ps, true, 0, RATE_MAX, "rx_bytes_ps") < 0 ||
	    read_num(r, &d->rx_packets_ps, true, 0, RATE_MAX, "rx_packets_ps") < 0 ||
	    read_num(r, &d->tx_bytes_ps, true, 0, RATE_MAX, "tx_bytes_ps") < 0 ||
	    read_num(r, &d->tx_packets_ps, true, 0, RATE_MAX, "tx_packets_ps") < 0)
		return -1;
	return skip_extra(r, n, 13, "nic");
}

static int read_domain(struct rd *r, struct sm_domain_stats *d)
{
	size_t n;
	void *arr;

	if (read_container(r, false, &n, 64, 1, "domain") < 0)
		return -1;
	if (n < 16)
		return fail(r, SM_WIRE_E_MISSING, "domain", "%zu of 16 fields", n);
	if (read_uuid(r, d->uuid, "uuid") < 0 || read_str(r, d->name, SM_NAME_MAX, "name") < 0 ||
	    read_u32(r, &d->state, 255, "state") < 0 ||
	    read_u32(r, &d->flags, UINT32_MAX, "flags") < 0 ||
	    read_identity(r, &d->has_identity, &d->identity) < 0 ||
	    read_u32(r, &d->vcpus, 65536, "vcpus") < 0 ||
	    read_uint(r, &d->cpu_time_ns, UINT64_MAX, "cpu_time_ns") < 0 ||
	    read_num(r, &d->cpu_pct, true, 0, 100, "cpu_pct") < 0 ||
	    read_num(r, &d->steal_pct, true, 0, 100, "steal_pct") < 0 ||
	    read_load(r, d->load, "load") < 0 ||
	    read_u32(r, &d->mem_basis, 255, "mem_basis") < 0 ||
	    read_uint(r, &d->mem_total_kib, UINT64_MAX, "mem_total_kib") < 0 ||
	    read_uint(r, &d->mem_used_kib, UINT64_MAX, "mem_used_kib") < 0 ||
	    read_num(r, &d->mem_pct, true, 0, 100, "mem_pct") < 0)
		return -1;
	if (read_device_list(r, "disks", MIN_DISK_BYTES, sizeof(struct sm_disk_stats), &arr,
			     &d->ndisks) < 0)
		return -1;
	d->disks = arr;
	for (size_t i = 0; i < d->ndisks; i++) {
		r->dev = (long)i;
		if (read_disk(r, &d->disks[i]) < 0)
			return -1;
	}
	if (read_device_list(r, "nics", MIN_NIC_BYTES, sizeof(struct sm_nic_stats), &arr,
			     &d->nnics) < 0)
		return -1;
	d->nics = arr;
	for (size_t i = 0; i < d->nnics; i++) {
		r->dev = (long)i;
		if (read_nic(r, &d->nics[i]) < 0)
			return -1;
	}
	r->dev_kind = NULL;
	return skip_extra(r, n, 16, "domain");
}

static int read_node(struct rd *r, struct sm_host_stats *h)
{
	size_t n;
	unsigned seen = 0;

	if (read_container(r, true, &n, 256, 1, "node") < 0)
		return -1;
	h->libvirt_latency_ms = NAN;
	for (size_t i = 0; i < n; i++) {
		const char *k;
		size_t klen;
		int rc = 0;

		if (read_key(r, &k, &klen) < 0)
			return -1;
		if (key_is(k, klen, "ncpus"))
			seen |= 1, rc = read_u32(r, &h->ncpus, 1u << 20, "node.ncpus");
		else if (key_is(k, klen, "cpu_pct"))
			seen |= 2, rc = read_num(r, &h->cpu_pct, true, 0, 100, "node.cpu_pct");
		else if (key_is(k, klen, "load"))
			seen |= 4, rc = read_load(r, h->load, "node.load");
		else if (key_is(k, klen, "mem_total_kib"))
			seen |= 8, rc = read_uint(r, &h->mem_total_kib, UINT64_MAX,
						  "node.mem_total_kib");
		else if (key_is(k, klen, "mem_used_kib"))
			seen |= 16, rc = read_uint(r, &h->mem_used_kib, UINT64_MAX,
						   "node.mem_used_kib");
		else if (key_is(k, klen, "mem_pct"))
			seen |= 32, rc = read_num(r, &h->mem_pct, true, 0, 100, "node.mem_pct");
		else if (key_is(k, klen, "libvirt_ok"))
			seen |= 64, rc = read_bool(r, &h->libvirt_ok, "node.libvirt_ok");
		else if (key_is(k, klen, "libvirt_latency_ms"))
			rc = read_num(r, &h->libvirt_latency_ms, true, 0, 1e9,
				      "node.libvirt_latency_ms");
		else if (key_is(k, klen, "domains_stale"))
			rc = read_u32(r, &h->domains_stale, SM_WIRE_MAX_DOMAINS,
				      "node.domains_stale");
		else
			rc = skip(r, 2, "node");
		if (rc < 0)
			return -1;
	}
	if ((seen & 127) != 127)
		return fail(r, SM_WIRE_E_MISSING, "node",
			    "needs ncpus, cpu_pct, load, mem_total_kib, mem_used_kib, mem_pct, "
			    "libvirt_ok");
	return 0;
}

static int read_domains(struct rd *r, struct sm_aggregate_domain_stats *s)
{
	size_t n;

	if (read_container(r, false, &n, SM_WIRE_MAX_DOMAINS, MIN_DOMAIN_BYTES, "domains") < 0)
		return -1;
	if (n == 0)
		return 0;
	s->domains = calloc(n, sizeof(*s->domains));
	if (s->domains == NULL)
		return fail(r, SM_WIRE_E_NOMEM, "domains", "out of memory");
	s->ndomains = n; /* set before filling so a failure frees what was made */
	for (size_t i = 0; i < n; i++) {
		r->dom = (long)i;
		if (read_domain(r, &s->domains[i]) < 0)
			return -1;
	}
	r->dom = -1;
	return 0;
}

static int read_event_type(struct rd *r, enum sm_event_type *t)
{
	const char *s;
	size_t n;

	if (read_str_view(r, &s, &n, "event") < 0)
		return -1;
	if (key_is(s, n, "started"))
		*t = SM_EVENT_STARTED;
	else if (key_is(s, n, "stopped"))
		*t = SM_EVENT_STOPPED;
	else
		return fail(r, SM_WIRE_E_RANGE, "event", "unknown event '%.*s'",
			    (int)(n > 20 ? 20 : n), s);
	return 0;
}

static int read_dropped(struct rd *r, uint64_t dropped[SM_DROP_COUNT])
{
	size_t n;

	if (read_container(r, true, &n, 256, 1, "dropped") < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *k;
		size_t klen;
		int j;

		if (read_key(r, &k, &klen) < 0)
			return -1;
		for (j = 0; j < SM_DROP_COUNT; j++) {
			if (key_is(k, klen, sm_drop_reason_names[j]))
				break;
		}
		if (j == SM_DROP_COUNT) {
			if (skip(r, 2, "dropped") < 0)
				return -1;
		} else if (read_uint(r, &dropped[j], UINT64_MAX, "dropped") < 0) {
			return -1;
		}
	}
	return 0;
}

static int read_loss(struct rd *r, struct sm_collector_stats *c)
{
	size_t n;

	if (read_container(r, false, &n, SM_WIRE_MAX_PUBLISHERS, MIN_LOSS_BYTES, "loss") < 0)
		return -1;
	if (n == 0)
		return 0;
	c->loss = calloc(n, sizeof(*c->loss));
	if (c->loss == NULL)
		return fail(r, SM_WIRE_E_NOMEM, "loss", "out of memory");
	c->nloss = n;
	r->dev_kind = "loss";
	for (size_t i = 0; i < n; i++) {
		struct sm_publisher_loss *l = &c->loss[i];
		size_t m;

		r->dev = (long)i;
		if (read_container(r, false, &m, 64, 1, "row") < 0)
			return -1;
		if (m < 4)
			return fail(r, SM_WIRE_E_MISSING, "row", "%zu of 4 fields", m);
		if (read_str(r, l->host, SM_HOST_MAX, "host") < 0 || parse_kind(r, &l->kind) < 0 ||
		    read_uint(r, &l->received, UINT64_MAX, "received") < 0 ||
		    read_uint(r, &l->lost, UINT64_MAX, "lost") < 0 ||
		    skip_extra(r, m, 4, "row") < 0)
			return -1;
	}
	r->dev_kind = NULL;
	return 0;
}

/* Payload keys of each kind; returns 1 if handled, 0 if unknown, -1 on error. */
static int read_payload_key(struct rd *r, const char *k, size_t klen, struct sm_message *m,
			    unsigned *seen)
{
	switch (m->hdr.kind) {
	case SM_KIND_STATS: {
		struct sm_aggregate_domain_stats *s = &m->u.stats;

		if (key_is(k, klen, "interval"))
			return *seen |= 1,
			       read_num(r, &s->interval, false, 0, 86400, "interval") < 0 ? -1 : 1;
		if (key_is(k, klen, "node"))
			return *seen |= 2, read_node(r, &s->host) < 0 ? -1 : 1;
		if (key_is(k, klen, "domains")) {
			if (*seen & 4)
				return fail(r, SM_WIRE_E_GARBAGE, "domains", "given twice");
			return *seen |= 4, read_domains(r, s) < 0 ? -1 : 1;
		}
		return 0;
	}
	case SM_KIND_EVENT: {
		struct sm_domain_event *e = &m->u.event;

		if (key_is(k, klen, "event"))
			return *seen |= 1, read_event_type(r, &e->type) < 0 ? -1 : 1;
		if (key_is(k, klen, "uuid"))
			return *seen |= 2, read_uuid(r, e->uuid, "uuid") < 0 ? -1 : 1;
		if (key_is(k, klen, "name"))
			return *seen |= 4, read_str(r, e->name, SM_NAME_MAX, "name") < 0 ? -1 : 1;
		if (key_is(k, klen, "identity"))
			return read_identity(r, &e->has_identity, &e->identity) < 0 ? -1 : 1;
		if (key_is(k, klen, "reason"))
			return read_str(r, e->reason, SM_REASON_MAX, "reason") < 0 ? -1 : 1;
		return 0;
	}
	case SM_KIND_HEARTBEAT:
		if (key_is(k, klen, "interval"))
			return *seen |= 1, read_num(r, &m->u.hb.interval, false, 0, 86400,
						    "interval") < 0
						   ? -1
						   : 1;
		if (key_is(k, klen, "max_frame"))
			return read_uint(r, &m->u.hb.max_frame, UINT64_MAX, "max_frame") < 0 ? -1 : 1;
		return 0;
	case SM_KIND_COLLECTOR: {
		struct sm_collector_stats *c = &m->u.collector;
		static const char *const counters[] = {"frames_in",  "bytes_in",  "frames_out",
						       "bytes_out",  "frames_up", "lost",
						       "origin_unknown"};
		uint64_t *const slots[] = {&c->frames_in,  &c->bytes_in,  &c->frames_out,
					   &c->bytes_out, &c->frames_up, &c->lost,
					   &c->origin_unknown};

		if (key_is(k, klen, "interval"))
			return *seen |= 1,
			       read_num(r, &c->interval, false, 0, 86400, "interval") < 0 ? -1 : 1;
		for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
			if (key_is(k, klen, counters[i]))
				return read_uint(r, slots[i], UINT64_MAX, counters[i]) < 0 ? -1
											   : 1;
		}
		if (key_is(k, klen, "dropped"))
			return read_dropped(r, c->dropped) < 0 ? -1 : 1;
		if (key_is(k, klen, "publishers"))
			return read_u32(r, &c->publishers, UINT32_MAX, "publishers") < 0 ? -1 : 1;
		if (key_is(k, klen, "upstream"))
			return read_str(r, c->upstream, SM_ENDPOINT_MAX, "upstream") < 0 ? -1 : 1;
		if (key_is(k, klen, "loss")) {
			if (c->loss != NULL)
				return fail(r, SM_WIRE_E_GARBAGE, "loss", "given twice");
			return read_loss(r, c) < 0 ? -1 : 1;
		}
		return 0;
	}
	}
	return 0;
}

static int check_payload(struct rd *r, const struct sm_message *m, unsigned seen)
{
	switch (m->hdr.kind) {
	case SM_KIND_STATS:
		if (seen != 7)
			return fail(r, SM_WIRE_E_MISSING, "stats", "needs interval, node, domains");
		break;
	case SM_KIND_EVENT:
		if (seen != 7)
			return fail(r, SM_WIRE_E_MISSING, "event", "needs event, uuid, name");
		break;
	case SM_KIND_HEARTBEAT:
	case SM_KIND_COLLECTOR:
		if (seen != 1)
			return fail(r, SM_WIRE_E_MISSING, "interval", "required field missing");
		break;
	}
	return 0;
}

int sm_wire_decode(const void *body, size_t len, size_t max_frame, struct sm_message *m,
		   struct sm_wire_error *err)
{
	struct sm_wire_error local;
	struct rd r;
	size_t n;
	unsigned seen = 0;

	if (err == NULL)
		err = &local;
	memset(m, 0, sizeof(*m));
	/* Pass 1 validates the whole structure and finds the kind, wherever
	 * the encoder put it in the map; pass 2 decodes the payload. */
	if (sm_wire_peek_header(body, len, max_frame, &m->hdr, err) < 0)
		goto fail;
	rd_init(&r, body, len, err);
	if (read_container(&r, true, &n, SIZE_MAX, 1, "body") < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const char *k;
		size_t klen;
		int rc;

		if (read_key(&r, &k, &klen) < 0)
			goto fail;
		rc = read_payload_key(&r, k, klen, m, &seen);
		if (rc < 0)
			goto fail;
		if (rc == 0 && skip(&r, 1, "value") < 0) /* header keys, unknown keys */
			goto fail;
	}
	if (check_payload(&r, m, seen) < 0)
		goto fail;
	return 0;
fail:
	sm_message_clear(m);
	return -1;
}

int sm_wire_decode_frames(const void *topic, size_t topic_len, const void *body, size_t len,
			  size_t max_frame, struct sm_message *m, struct sm_wire_error *err)
{
	struct sm_wire_error local;
	enum sm_msg_kind kind;
	char host[SM_HOST_MAX + 1];

	if (err == NULL)
		err = &local;
	memset(m, 0, sizeof(*m));
	err->code = SM_WIRE_OK;
	if (sm_wire_topic_parse(topic, topic_len, &kind, host, err) < 0)
		return -1;
	if (sm_wire_decode(body, len, max_frame, m, err) < 0)
		return -1;
	if (m->hdr.kind != kind || strcmp(m->hdr.host, host) != 0) {
		err->code = SM_WIRE_E_TOPIC;
		snprintf(err->msg, sizeof(err->msg),
			 "topic says %s from %.40s, body says %s from %.40s", sm_wire_kind_name(kind),
			 host, sm_wire_kind_name(m->hdr.kind), m->hdr.host);
		sm_message_clear(m);
		return -1;
	}
	return 0;
}

void sm_message_clear(struct sm_message *m)
{
	if (m->hdr.kind == SM_KIND_STATS) {
		for (size_t i = 0; i < m->u.stats.ndomains; i++) {
			free(m->u.stats.domains[i].disks);
			free(m->u.stats.domains[i].nics);
		}
		free(m->u.stats.domains);
	} else if (m->hdr.kind == SM_KIND_COLLECTOR) {
		free(m->u.collector.loss);
	}
	memset(m, 0, sizeof(*m));
}
