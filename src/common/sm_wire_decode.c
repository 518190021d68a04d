/*
 * sm_wire_decode.c — decoding side of the wire protocol: the message
 * decoders, built on the bounded msgpack reader (sm_mpread) and generated
 * from the field lists (sm_wire_fields.h). Every count is checked against
 * the bytes left and the protocol's limits before anything is allocated,
 * so a hostile frame can neither crash a daemon nor make it allocate more
 * than a small multiple of its own size. Decoding never trusts a length.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_mpread.h"
#include "sm_wire.h"
#include "sm_wire_fields.h"

/* Decoder over one body: the reader, and where in the message it is, so
 * that an error message can name the field without building paths on the
 * success path. */
struct dec {
	struct sm_mpread r;
	long dom;             /* current domain index, -1 outside the domain list */
	const char *dev_kind; /* "disks" / "nics" / "loss" while inside one, else NULL */
	long dev;             /* current device / row index */
	const char *sub;      /* "node" / "identity" while reading its fields, else NULL */
	size_t frame_devices; /* devices seen so far in this frame */
	bool brief;           /* the domain being read is a brief record (its flags say) */
	unsigned nil_names;   /* names sent as nil in the domain being read */
};

/* Smallest encodings, used to bound counts by the bytes left. */
#define MIN_DOMAIN_BYTES 34 /* array header, bin16 uuid, 15 one-byte fields */
#define MIN_DISK_BYTES (1 + SM_WIRE_DISK_BRIEF_FIELDS) /* a brief record */
#define MIN_NIC_BYTES (1 + SM_WIRE_NIC_BRIEF_FIELDS)
#define MIN_LOSS_BYTES 5
#define MAX_RECORD 64 /* elements of one positional record a decoder looks at */

/* sm_mpread's `where` hook: "domains[3].disks[0]." and the like. */
static void where(const struct sm_mpread *r, char *buf, size_t len)
{
	const struct dec *d = r->ctx;
	int n = 0;

	buf[0] = '\0';
	if (d->dom >= 0 && d->dev_kind != NULL)
		n = snprintf(buf, len, "domains[%ld].%s[%ld].", d->dom, d->dev_kind, d->dev);
	else if (d->dom >= 0)
		n = snprintf(buf, len, "domains[%ld].", d->dom);
	else if (d->dev_kind != NULL)
		n = snprintf(buf, len, "%s[%ld].", d->dev_kind, d->dev);
	if (d->sub != NULL && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "%s.", d->sub);
}

static void dec_init(struct dec *d, const void *body, size_t len, struct sm_wire_error *err)
{
	sm_mpread_init(&d->r, body, len, err);
	d->r.where = where;
	d->r.ctx = d;
	d->dom = -1;
	d->dev_kind = NULL;
	d->dev = -1;
	d->sub = NULL;
	d->frame_devices = 0;
}

#define fail(d, ...) sm_mpread_fail(&(d)->r, __VA_ARGS__)

/* ---- header ------------------------------------------------------------ */

enum hdr_bits { H_V = 1, H_KIND = 2, H_HOST = 4, H_TIME = 8, H_SEQ = 16, H_EPOCH = 32,
		H_ALL = 63 };
/* The header fields' names, in hdr_bits order. */
static const char *const header_names[] = {"v", "kind", "host", "time", "seq", "epoch"};
#define NHEADER (sizeof(header_names) / sizeof(header_names[0]))

static int parse_kind(struct dec *d, enum sm_msg_kind *kind, const char *field)
{
	const char *s;
	size_t n;

	if (sm_mpread_str_view(&d->r, &s, &n, field) < 0)
		return -1;
	for (enum sm_msg_kind k = SM_KIND_STATS; k <= SM_KIND_COLLECTOR; k++) {
		const char *name = sm_wire_kind_name(k);

		if (strlen(name) == n && memcmp(name, s, n) == 0) {
			*kind = k;
			return 0;
		}
	}
	return fail(d, SM_WIRE_E_KIND, field, "unknown message kind '%.*s'",
		    (int)(n > 20 ? 20 : n), s);
}

/* Header key handler: returns 1 if the key was a header key (and read),
 * 0 if not, -1 on error. `seen` collects which were read. */
static int read_header_key(struct dec *d, const char *k, size_t klen, struct sm_header *h,
			   unsigned *seen)
{
	/* A header field said twice is refused: a relay reads the first of
	 * each and stops (sm_wire_peek_envelope), so a later one must never be
	 * what a consumer believes, e.g. another host's name. */
	for (size_t i = 0; i < NHEADER; i++) {
		if ((*seen & (1u << i)) && sm_mpread_key_is(k, klen, header_names[i]))
			return fail(d, SM_WIRE_E_GARBAGE, header_names[i], "header field given twice");
	}
	if (sm_mpread_key_is(k, klen, "v")) {
		*seen |= H_V;
		return sm_mpread_u32(&d->r, &h->version, UINT32_MAX, "v") < 0 ? -1 : 1;
	}
	if (sm_mpread_key_is(k, klen, "kind")) {
		*seen |= H_KIND;
		return parse_kind(d, &h->kind, "kind") < 0 ? -1 : 1;
	}
	if (sm_mpread_key_is(k, klen, "host")) {
		*seen |= H_HOST;
		if (sm_mpread_str(&d->r, h->host, SM_HOST_MAX, "host") < 0)
			return -1;
		if (!sm_wire_host_valid(h->host))
			return fail(d, SM_WIRE_E_RANGE, "host", "not a valid host name");
		return 1;
	}
	if (sm_mpread_key_is(k, klen, "time")) {
		*seen |= H_TIME;
		return sm_mpread_num(&d->r, &h->time, false, 0, 1e11, "time") < 0 ? -1 : 1;
	}
	if (sm_mpread_key_is(k, klen, "seq")) {
		*seen |= H_SEQ;
		return sm_mpread_uint(&d->r, &h->seq, UINT64_MAX, "seq") < 0 ? -1 : 1;
	}
	if (sm_mpread_key_is(k, klen, "epoch")) {
		*seen |= H_EPOCH;
		return sm_mpread_uint(&d->r, &h->epoch, UINT64_MAX, "epoch") < 0 ? -1 : 1;
	}
	return 0;
}

static int check_header(struct dec *d, unsigned seen, const struct sm_header *h)
{
	/* Version first: a frame from a newer, incompatible publisher must be
	 * reported as such, whatever else it lacks. */
	if ((seen & H_V) && (h->version < SM_WIRE_VERSION_MIN || h->version > SM_WIRE_VERSION))
		return fail(d, SM_WIRE_E_VERSION, "v",
			    "protocol version %u, this build speaks %d to %d", h->version,
			    SM_WIRE_VERSION_MIN, SM_WIRE_VERSION);
	for (size_t i = 0; i < NHEADER; i++) {
		if (!(seen & (1u << i)))
			return fail(d, SM_WIRE_E_MISSING, header_names[i], "required field missing");
	}
	return 0;
}

static int check_size(struct dec *d, size_t len, size_t max_frame)
{
	if (max_frame == 0)
		max_frame = SM_WIRE_FRAME_MAX_DEFAULT;
	if (len > max_frame)
		return fail(d, SM_WIRE_E_TOO_BIG, "body", "%zu bytes, limit %zu", len, max_frame);
	if (len == 0)
		return fail(d, SM_WIRE_E_TRUNCATED, "body", "empty");
	return 0;
}

/* The header, and with `whole` the structure of everything after it; without,
 * reading stops as soon as the six header fields are in (for an encoder that
 * writes them first, as ours does, the cost no longer grows with the body). */
static int peek(const void *body, size_t len, size_t max_frame, struct sm_header *h,
		struct sm_wire_error *err, bool whole)
{
	struct dec d;
	size_t n;
	unsigned seen = 0;

	dec_init(&d, body, len, err);
	memset(h, 0, sizeof(*h));
	if (check_size(&d, len, max_frame) < 0)
		return -1;
	if (sm_mpread_peek(&d.r) >= 0 && !sm_mpread_is_map(&d.r))
		return fail(&d, SM_WIRE_E_GARBAGE, "body", "not a msgpack map");
	if (sm_mpread_map(&d.r, &n, SIZE_MAX, 1, "body") < 0)
		return -1;
	for (size_t i = 0; i < n && (whole || seen != H_ALL); i++) {
		const char *k;
		size_t klen;
		int rc;

		if (sm_mpread_key(&d.r, &k, &klen) < 0)
			return -1;
		rc = read_header_key(&d, k, klen, h, &seen);
		if (rc < 0)
			return -1;
		if (rc == 0 && sm_mpread_skip(&d.r, 1, "value") < 0)
			return -1;
	}
	if (whole && sm_mpread_left(&d.r) != 0)
		return fail(&d, SM_WIRE_E_GARBAGE, "body", "%zu bytes after the message",
			    sm_mpread_left(&d.r));
	return check_header(&d, seen, h);
}

int sm_wire_peek_header(const void *body, size_t len, size_t max_frame, struct sm_header *h,
			struct sm_wire_error *err)
{
	return peek(body, len, max_frame, h, err, true);
}

int sm_wire_peek_envelope(const void *body, size_t len, size_t max_frame, struct sm_header *h,
			  struct sm_wire_error *err)
{
	return peek(body, len, max_frame, h, err, false);
}

/* ---- one reader per field type (sm_wire_fields.h) ---------------------- */

/* Each takes the field as SM_WIRE_ARG_<type> hands it over, the field's
 * lo and hi columns, and its name for error messages. */

/* hi as an integer limit: SM_WIRE_UNBOUNDED (2^64) is any uint64. */
static uint64_t int_limit(double hi)
{
	return hi >= SM_WIRE_UNBOUNDED ? UINT64_MAX : (uint64_t)hi;
}

static int read_U32(struct dec *d, uint32_t *v, double lo, double hi, const char *field)
{
	(void)lo;
	return sm_mpread_u32(&d->r, v, (uint32_t)int_limit(hi), field);
}

static int read_U64(struct dec *d, uint64_t *v, double lo, double hi, const char *field)
{
	(void)lo;
	return sm_mpread_uint(&d->r, v, int_limit(hi), field);
}

static int read_F32(struct dec *d, double *v, double lo, double hi, const char *field)
{
	return sm_mpread_num(&d->r, v, true, lo, hi, field);
}

static int read_F64(struct dec *d, double *v, double lo, double hi, const char *field)
{
	return sm_mpread_num(&d->r, v, false, lo, hi, field);
}

static int read_BOOL(struct dec *d, bool *v, double lo, double hi, const char *field)
{
	(void)lo, (void)hi;
	return sm_mpread_bool(&d->r, v, field);
}

static int read_TEXT(struct dec *d, char *s, double lo, double hi, const char *field)
{
	(void)lo;
	/* A brief record names neither its domain nor its devices (nil): the
	 * domain's name comes before its flags, so whether it was allowed is
	 * checked at the record's end (check_domain_form); a device's comes
	 * after them. Nowhere else is a text nil. */
	if (d->dom >= 0 && d->sub == NULL && (d->dev_kind == NULL || d->brief) &&
	    sm_mpread_nil(&d->r)) {
		s[0] = '\0';
		if (d->dev_kind == NULL)
			d->nil_names++;
		return 0;
	}
	return sm_mpread_str(&d->r, s, (size_t)hi, field);
}

static int read_UUID(struct dec *d, uint8_t uuid[16], double lo, double hi, const char *field)
{
	(void)lo, (void)hi;
	return sm_mpread_bin(&d->r, uuid, 16, field);
}

static int skip_extra(struct dec *d, size_t have, size_t used, int depth, const char *field)
{
	for (size_t i = used; i < have; i++) {
		if (sm_mpread_skip(&d->r, depth, field) < 0)
			return -1;
	}
	return 0;
}

static int read_LOAD(struct dec *d, double load[3], double lo, double hi, const char *field)
{
	size_t n;

	if (sm_mpread_array(&d->r, &n, MAX_RECORD, 1, field) < 0)
		return -1;
	if (n < 3)
		return fail(d, SM_WIRE_E_MISSING, field, "%zu of 3 values", n);
	for (int i = 0; i < 3; i++) {
		if (sm_mpread_num(&d->r, &load[i], true, lo, hi, field) < 0)
			return -1;
	}
	return skip_extra(d, n, 3, 3, field);
}

static int read_DOM_FLAGS(struct dec *d, uint32_t *v, double lo, double hi, const char *field)
{
	if (read_U32(d, v, lo, hi, field) < 0)
		return -1;
	d->brief = (*v & SM_DOM_BRIEF) != 0;
	return 0;
}

static int read_MEM_BASIS(struct dec *d, uint32_t *v, double lo, double hi, const char *field)
{
	return read_U32(d, v, lo, hi, field);
}

static int read_KIND(struct dec *d, enum sm_msg_kind *k, double lo, double hi,
		     const char *field)
{
	(void)lo, (void)hi;
	return parse_kind(d, k, field);
}

static int read_EVENT(struct dec *d, enum sm_event_type *t, double lo, double hi,
		      const char *field)
{
	const char *s;
	size_t n;

	(void)lo, (void)hi;
	if (sm_mpread_str_view(&d->r, &s, &n, field) < 0)
		return -1;
	if (sm_mpread_key_is(s, n, "started"))
		*t = SM_EVENT_STARTED;
	else if (sm_mpread_key_is(s, n, "stopped"))
		*t = SM_EVENT_STOPPED;
	else
		return fail(d, SM_WIRE_E_RANGE, field, "unknown event '%.*s'",
			    (int)(n > 20 ? 20 : n), s);
	return 0;
}

/* ---- positional records ------------------------------------------------ */

#define IS_REQ_REQ 1
#define IS_REQ_OPT 0
#define IS_REQ_OMIT0 0

/* The number of REQ fields of a list: what a positional record must hold. */
#define COUNT_REQ(T, m, key, json, lo, hi, pres, unit) +IS_REQ_##pres

/* A positional field past the record's end reads as unknown (a float) or 0
 * (the record was zeroed). */
static int absent_pos_nan(double *v)
{
	*v = NAN;
	return 0;
}

static int absent_pos_zero(const void *v)
{
	(void)v;
	return 0;
}

/* Reads every field of a positional record of n elements in order, the
 * ones past its end as absent; true if one failed. Needs `n` and `pos`. */
#define READ_FIELD(T, m, key, json, lo, hi, pres, unit) \
	|| (pos++ < n ? read_##T(d, SM_WIRE_ARG_##T(rec, m), lo, hi, key) < 0 \
		      : _Generic(&(rec)->m, double *: absent_pos_nan, default: absent_pos_zero)( \
			    &(rec)->m))

/* Reads a positional record's array header: at least `fields` elements. */
static int record_start(struct dec *d, size_t *n, size_t fields, const char *what)
{
	if (sm_mpread_array(&d->r, n, MAX_RECORD, 1, what) < 0)
		return -1;
	if (*n < fields)
		return fail(d, SM_WIRE_E_MISSING, what, "%zu of %zu fields", *n, fields);
	return 0;
}

static int read_IDENTITY(struct dec *d, bool *has, struct sm_identity *rec, double lo,
			 double hi, const char *field)
{
	const size_t fields = SM_WIRE_COUNT(SM_WIRE_IDENTITY_FIELDS);
	const char *outer = d->sub;
	size_t n, pos = 0;
	bool failed;

	(void)lo, (void)hi;
	*has = false;
	if (sm_mpread_nil(&d->r))
		return 0;
	if (record_start(d, &n, 0 SM_WIRE_IDENTITY_FIELDS(COUNT_REQ), field) < 0)
		return -1;
	d->sub = field; /* errors name "identity.user_id" */
	failed = 0 SM_WIRE_IDENTITY_FIELDS(READ_FIELD);
	d->sub = outer;
	if (failed || skip_extra(d, n, fields, 3, field) < 0)
		return -1;
	*has = true;
	return 0;
}

static int read_disk(struct dec *d, struct sm_disk_stats *rec)
{
	const size_t fields = SM_WIRE_COUNT(SM_WIRE_DISK_FIELDS);
	size_t n, pos = 0;

	if (record_start(d, &n,
			 d->brief ? SM_WIRE_DISK_BRIEF_FIELDS : 0 SM_WIRE_DISK_FIELDS(COUNT_REQ),
			 "disk") < 0 ||
	    0 SM_WIRE_DISK_FIELDS(READ_FIELD))
		return -1;
	return skip_extra(d, n, fields, 4, "disk");
}

static int read_nic(struct dec *d, struct sm_nic_stats *rec)
{
	const size_t fields = SM_WIRE_COUNT(SM_WIRE_NIC_FIELDS);
	size_t n, pos = 0;

	if (record_start(d, &n,
			 d->brief ? SM_WIRE_NIC_BRIEF_FIELDS : 0 SM_WIRE_NIC_FIELDS(COUNT_REQ),
			 "nic") < 0 ||
	    0 SM_WIRE_NIC_FIELDS(READ_FIELD))
		return -1;
	return skip_extra(d, n, fields, 4, "nic");
}

static int read_loss_row(struct dec *d, struct sm_publisher_loss *rec)
{
	const size_t fields = SM_WIRE_COUNT(SM_WIRE_LOSS_FIELDS);
	size_t n, pos = 0;

	if (record_start(d, &n, 0 SM_WIRE_LOSS_FIELDS(COUNT_REQ), "row") < 0 ||
	    0 SM_WIRE_LOSS_FIELDS(READ_FIELD))
		return -1;
	return skip_extra(d, n, fields, 4, "row");
}

/* ---- lists ------------------------------------------------------------- */

/* Reads a device list header and allocates its array. */
static int read_device_list(struct dec *d, const char *kind, size_t max, size_t min_bytes,
			    size_t elem_size, void **out, size_t *count)
{
	size_t n;

	d->dev_kind = NULL;
	*out = NULL;
	*count = 0;
	if (sm_mpread_array(&d->r, &n, max, min_bytes, kind) < 0)
		return -1;
	if (d->frame_devices + n > SM_WIRE_MAX_FRAME_DEVICES)
		return fail(d, SM_WIRE_E_COUNT, kind, "over %d devices in one frame",
			    SM_WIRE_MAX_FRAME_DEVICES);
	d->frame_devices += n;
	if (n == 0)
		return 0;
	*out = calloc(n, elem_size);
	if (*out == NULL)
		return fail(d, SM_WIRE_E_NOMEM, kind, "out of memory");
	*count = n; /* set before filling so a failure frees what was made */
	d->dev_kind = kind;
	return 0;
}

static int read_DISKS(struct dec *d, size_t *n, struct sm_disk_stats **arr, double lo,
		      double hi, const char *field)
{
	void *a;

	(void)lo;
	if (read_device_list(d, field, (size_t)hi, MIN_DISK_BYTES, sizeof(**arr), &a, n) < 0)
		return -1;
	*arr = a;
	for (size_t i = 0; i < *n; i++) {
		d->dev = (long)i;
		if (read_disk(d, &(*arr)[i]) < 0)
			return -1;
	}
	d->dev_kind = NULL;
	return 0;
}

static int read_NICS(struct dec *d, size_t *n, struct sm_nic_stats **arr, double lo,
		     double hi, const char *field)
{
	void *a;

	(void)lo;
	if (read_device_list(d, field, (size_t)hi, MIN_NIC_BYTES, sizeof(**arr), &a, n) < 0)
		return -1;
	*arr = a;
	for (size_t i = 0; i < *n; i++) {
		d->dev = (long)i;
		if (read_nic(d, &(*arr)[i]) < 0)
			return -1;
	}
	d->dev_kind = NULL;
	return 0;
}

/* What the fields alone do not say: a full record names its domain, and a
 * brief one says which full record it refers to and since when. */
static int check_domain_form(struct dec *d, size_t n)
{
	if (d->brief && n < SM_WIRE_COUNT(SM_WIRE_DOMAIN_FIELDS))
		return fail(d, SM_WIRE_E_MISSING, "gen", "a brief record without gen and since_us");
	if (!d->brief && d->nil_names > 0)
		return fail(d, SM_WIRE_E_TYPE, "name", "nil in a full record");
	return 0;
}

static int read_domain(struct dec *d, struct sm_domain_stats *rec)
{
	const size_t fields = SM_WIRE_COUNT(SM_WIRE_DOMAIN_FIELDS);
	size_t n, pos = 0;

	d->brief = false;
	d->nil_names = 0;
	if (record_start(d, &n, 0 SM_WIRE_DOMAIN_FIELDS(COUNT_REQ), "domain") < 0 ||
	    0 SM_WIRE_DOMAIN_FIELDS(READ_FIELD))
		return -1;
	if (skip_extra(d, n, fields, 4, "domain") < 0)
		return -1;
	return check_domain_form(d, n);
}

/* The lists a map holds allocate; a second copy of their key is refused
 * before it gets here (READ_KEYED). */
static int read_LOSS(struct dec *d, size_t *n, struct sm_publisher_loss **arr, double lo,
		     double hi, const char *field)
{
	size_t count;

	(void)lo;
	if (sm_mpread_array(&d->r, &count, (size_t)hi, MIN_LOSS_BYTES, field) < 0)
		return -1;
	if (count == 0)
		return 0;
	*arr = calloc(count, sizeof(**arr));
	if (*arr == NULL)
		return fail(d, SM_WIRE_E_NOMEM, field, "out of memory");
	*n = count;
	d->dev_kind = field;
	for (size_t i = 0; i < count; i++) {
		d->dev = (long)i;
		if (read_loss_row(d, &(*arr)[i]) < 0)
			return -1;
	}
	d->dev_kind = NULL;
	return 0;
}

static int read_DOMAINS(struct dec *d, size_t *n, struct sm_domain_stats **arr, double lo,
			double hi, const char *field)
{
	size_t count;

	(void)lo;
	if (sm_mpread_array(&d->r, &count, (size_t)hi, MIN_DOMAIN_BYTES, field) < 0)
		return -1;
	if (count == 0)
		return 0;
	*arr = calloc(count, sizeof(**arr));
	if (*arr == NULL)
		return fail(d, SM_WIRE_E_NOMEM, field, "out of memory");
	*n = count;
	for (size_t i = 0; i < count; i++) {
		d->dom = (long)i;
		if (read_domain(d, &(*arr)[i]) < 0)
			return -1;
	}
	d->dom = -1;
	return 0;
}

static int read_DROPPED(struct dec *d, uint64_t dropped[SM_DROP_COUNT], double lo, double hi,
			const char *field)
{
	size_t n;

	(void)lo, (void)hi;
	if (sm_mpread_map(&d->r, &n, 256, 1, field) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *k;
		size_t klen;
		int j;

		if (sm_mpread_key(&d->r, &k, &klen) < 0)
			return -1;
		for (j = 0; j < SM_DROP_COUNT; j++) {
			if (sm_mpread_key_is(k, klen, sm_drop_reason_names[j]))
				break;
		}
		if (j == SM_DROP_COUNT) {
			if (sm_mpread_skip(&d->r, 2, field) < 0)
				return -1;
		} else if (sm_mpread_uint(&d->r, &dropped[j], UINT64_MAX, field) < 0) {
			return -1;
		}
	}
	return 0;
}

/* ---- map records ------------------------------------------------------- */

/*
 * For a map record, MAP_RECORD(name, type, list, sub) defines
 *   name_key(d, k, klen, rec, &seen): reads the value of key k if it is one
 *     of the record's (1), or leaves it to the caller (0); -1 on error;
 *   name_check(d, seen): refuses the record if a REQ field was not seen;
 *   name_absent(rec): what an absent optional field reads as.
 * `seen` has one bit per field in list order; both walk the list the same
 * way, so bit and field agree. `sub` prefixes field names in errors.
 */
/* A key given twice is refused, whatever its type: a list read twice would
 * leak or shadow the first, and a value read twice is one that two readers
 * of the same frame could take differently. */
#define READ_KEYED(T, m, key, json, lo, hi, pres, unit) \
	if (rc == 0 && sm_mpread_key_is(k, klen, key)) { \
		if (*seen & bit) \
			rc = fail(d, SM_WIRE_E_GARBAGE, key, "given twice"); \
		else \
			rc = read_##T(d, SM_WIRE_ARG_##T(rec, m), lo, hi, key) < 0 ? -1 : 1; \
		*seen |= bit; \
	} \
	bit <<= 1;

#define CHECK_REQ(T, m, key, json, lo, hi, pres, unit) \
	if (rc == 0 && IS_REQ_##pres && !(seen & bit)) \
		rc = fail(d, SM_WIRE_E_MISSING, key, "required field missing"); \
	bit <<= 1;

/* An absent float is unknown (NaN); every other absent field reads as 0. */
static void absent_nan(double *v)
{
	*v = NAN;
}

static void absent_zero(const void *v)
{
	(void)v; /* the decoder zeroed the message first */
}

#define ABSENT(T, m, key, json, lo, hi, pres, unit) \
	_Generic(&(rec)->m, double *: absent_nan, default: absent_zero)(&(rec)->m);

#define MAP_RECORD(name, type, list, subname) \
	_Static_assert(SM_WIRE_COUNT(list) <= 32, #list " has more fields than seen has bits"); \
	static int name##_key(struct dec *d, const char *k, size_t klen, type *rec, \
			      uint32_t *seen) \
	{ \
		const char *outer = d->sub; \
		uint32_t bit = 1; \
		int rc = 0; \
		d->sub = subname; \
		list(READ_KEYED) \
		d->sub = outer; \
		return rc; \
	} \
	static int name##_check(struct dec *d, uint32_t seen) \
	{ \
		const char *outer = d->sub; \
		uint32_t bit = 1; \
		int rc = 0; \
		d->sub = subname; \
		list(CHECK_REQ) \
		d->sub = outer; \
		return rc; \
	} \
	static void name##_absent(type *rec) \
	{ \
		list(ABSENT) \
	}

MAP_RECORD(node, struct sm_host_stats, SM_WIRE_NODE_FIELDS, "node")

static int read_NODE(struct dec *d, struct sm_host_stats *rec, double lo, double hi,
		     const char *field)
{
	size_t n;
	uint32_t seen = 0;

	(void)lo, (void)hi;
	if (sm_mpread_map(&d->r, &n, 256, 1, field) < 0)
		return -1;
	node_absent(rec);
	for (size_t i = 0; i < n; i++) {
		const char *k;
		size_t klen;
		int rc;

		if (sm_mpread_key(&d->r, &k, &klen) < 0)
			return -1;
		rc = node_key(d, k, klen, rec, &seen);
		if (rc < 0 || (rc == 0 && sm_mpread_skip(&d->r, 2, field) < 0))
			return -1;
	}
	return node_check(d, seen);
}

MAP_RECORD(stats, struct sm_aggregate_domain_stats, SM_WIRE_STATS_FIELDS, NULL)
MAP_RECORD(event, struct sm_domain_event, SM_WIRE_EVENT_FIELDS, NULL)
MAP_RECORD(heartbeat, struct sm_heartbeat, SM_WIRE_HEARTBEAT_FIELDS, NULL)
MAP_RECORD(collector, struct sm_collector_stats, SM_WIRE_COLLECTOR_FIELDS, NULL)

/* ---- bodies ------------------------------------------------------------ */

static void payload_absent(struct sm_message *m)
{
	switch (m->hdr.kind) {
	case SM_KIND_STATS: stats_absent(&m->u.stats); break;
	case SM_KIND_EVENT: event_absent(&m->u.event); break;
	case SM_KIND_HEARTBEAT: heartbeat_absent(&m->u.hb); break;
	case SM_KIND_COLLECTOR: collector_absent(&m->u.collector); break;
	}
}

/* Payload keys of each kind; 1 if handled, 0 if not the kind's, -1 on error. */
static int payload_key(struct dec *d, const char *k, size_t klen, struct sm_message *m,
		       uint32_t *seen)
{
	switch (m->hdr.kind) {
	case SM_KIND_STATS: return stats_key(d, k, klen, &m->u.stats, seen);
	case SM_KIND_EVENT: return event_key(d, k, klen, &m->u.event, seen);
	case SM_KIND_HEARTBEAT: return heartbeat_key(d, k, klen, &m->u.hb, seen);
	case SM_KIND_COLLECTOR: return collector_key(d, k, klen, &m->u.collector, seen);
	}
	return 0;
}

static int payload_check(struct dec *d, const struct sm_message *m, uint32_t seen)
{
	switch (m->hdr.kind) {
	case SM_KIND_STATS: return stats_check(d, seen);
	case SM_KIND_EVENT: return event_check(d, seen);
	case SM_KIND_HEARTBEAT: return heartbeat_check(d, seen);
	case SM_KIND_COLLECTOR: return collector_check(d, seen);
	}
	return 0;
}

int sm_wire_decode(const void *body, size_t len, size_t max_frame, struct sm_message *m,
		   struct sm_wire_error *err)
{
	struct sm_wire_error local;
	struct dec d;
	size_t n;
	uint32_t seen = 0;

	if (err == NULL)
		err = &local;
	memset(m, 0, sizeof(*m));
	/* Pass 1 validates the whole structure and finds the kind, wherever
	 * the encoder put it in the map; pass 2 decodes the payload. */
	if (sm_wire_peek_header(body, len, max_frame, &m->hdr, err) < 0)
		goto fail;
	dec_init(&d, body, len, err);
	if (sm_mpread_map(&d.r, &n, SIZE_MAX, 1, "body") < 0)
		goto fail;
	payload_absent(m);
	for (size_t i = 0; i < n; i++) {
		const char *k;
		size_t klen;
		int rc;

		if (sm_mpread_key(&d.r, &k, &klen) < 0)
			goto fail;
		rc = payload_key(&d, k, klen, m, &seen);
		if (rc < 0)
			goto fail;
		if (rc == 0 && sm_mpread_skip(&d.r, 1, "value") < 0) /* header keys, unknown keys */
			goto fail;
	}
	if (payload_check(&d, m, seen) < 0)
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
