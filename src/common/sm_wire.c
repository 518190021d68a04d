/*
 * sm_wire.c — encoding side of the wire protocol (docs/PROTOCOL.md), plus
 * topics and UUID text. Bodies are msgpack maps with readable keys for the
 * once-per-frame envelope, and positional arrays for the records that repeat
 * per domain and per device, which keeps a 1,000-domain frame small. Each
 * record is packed from its field list (sm_wire_fields.h) by one packer per
 * field type; only the header is packed by hand.
 * Invariant: whatever the caller's structs hold, the output decodes — every
 * string is sanitised to valid, bounded UTF-8, every NaN float becomes nil.
 */
#include "sm_uuid.h"
#include "sm_wire.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sm_utf8.h"
#include "sm_wire_fields.h"

static const char *const kind_names[] = {
	[SM_KIND_STATS] = "stats",
	[SM_KIND_EVENT] = "event",
	[SM_KIND_HEARTBEAT] = "hb",
	[SM_KIND_COLLECTOR] = "collector",
};

static const char *const code_names[SM_WIRE_CODE_COUNT] = {
	[SM_WIRE_OK] = "ok",
	[SM_WIRE_E_TOO_BIG] = "too_big",
	[SM_WIRE_E_TRUNCATED] = "truncated",
	[SM_WIRE_E_GARBAGE] = "garbage",
	[SM_WIRE_E_TYPE] = "type",
	[SM_WIRE_E_MISSING] = "missing",
	[SM_WIRE_E_COUNT] = "count",
	[SM_WIRE_E_STRING] = "string_length",
	[SM_WIRE_E_UTF8] = "utf8",
	[SM_WIRE_E_NOT_FINITE] = "not_finite",
	[SM_WIRE_E_RANGE] = "range",
	[SM_WIRE_E_VERSION] = "version",
	[SM_WIRE_E_KIND] = "kind",
	[SM_WIRE_E_TOPIC] = "topic",
	[SM_WIRE_E_DEPTH] = "depth",
	[SM_WIRE_E_NOMEM] = "nomem",
};

const char *sm_wire_code_name(enum sm_wire_code code)
{
	if ((unsigned)code >= SM_WIRE_CODE_COUNT)
		return "unknown";
	return code_names[code];
}

const char *sm_wire_kind_name(enum sm_msg_kind kind)
{
	if (kind < SM_KIND_STATS || kind > SM_KIND_COLLECTOR)
		return NULL;
	return kind_names[kind];
}

/* ---- topics ----------------------------------------------------------- */

static bool host_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

bool sm_wire_host_valid(const char *host)
{
	size_t n = 0;

	if (host == NULL)
		return false;
	for (; host[n] != '\0'; n++) {
		if (n >= SM_HOST_MAX || !host_char_ok((unsigned char)host[n]))
			return false;
	}
	return n > 0;
}

size_t sm_wire_topic(enum sm_msg_kind kind, const char *host, char *buf, size_t bufsize)
{
	const char *k = sm_wire_kind_name(kind);
	int n;

	if (k == NULL || !sm_wire_host_valid(host))
		return 0;
	n = snprintf(buf, bufsize, "%s/%s/", k, host);
	if (n < 0 || (size_t)n >= bufsize)
		return 0;
	return (size_t)n;
}

int sm_wire_topic_parse(const void *topic, size_t len, enum sm_msg_kind *kind,
			char host[SM_HOST_MAX + 1], struct sm_wire_error *err)
{
	const char *t = topic;
	const char *slash = memchr(t, '/', len);
	size_t klen, hlen;
	enum sm_msg_kind k;

	if (slash == NULL || len > SM_TOPIC_MAX || t[len - 1] != '/')
		goto bad;
	klen = (size_t)(slash - t);
	hlen = len - klen - 2;
	if (hlen == 0 || hlen > SM_HOST_MAX)
		goto bad;
	for (k = SM_KIND_STATS; k <= SM_KIND_COLLECTOR; k++) {
		if (strlen(kind_names[k]) == klen && memcmp(kind_names[k], t, klen) == 0)
			break;
	}
	if (k > SM_KIND_COLLECTOR) {
		if (err != NULL) {
			err->code = SM_WIRE_E_KIND;
			snprintf(err->msg, sizeof(err->msg), "topic: unknown kind '%.*s'",
				 (int)(klen > 20 ? 20 : klen), t);
		}
		return -1;
	}
	for (size_t i = 0; i < hlen; i++) {
		if (!host_char_ok((unsigned char)slash[1 + i]))
			goto bad;
	}
	memcpy(host, slash + 1, hlen);
	host[hlen] = '\0';
	*kind = k;
	return 0;
bad:
	if (err != NULL) {
		err->code = SM_WIRE_E_TOPIC;
		snprintf(err->msg, sizeof(err->msg),
			 "topic: not '<kind>/<host>/' (%zu bytes)", len);
	}
	return -1;
}

/* ---- packing helpers -------------------------------------------------- */

static void pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

/* Packs a string bounded by `max` bytes, sanitising it when it is too long
 * or not valid UTF-8 (the producer may hand us raw tenant input). */
static void pack_text(msgpack_packer *pk, const char *s, size_t max)
{
	char tmp[SM_NAME_MAX + 1];
	size_t n = strnlen(s, max + 1);

	if (n > max || !sm_utf8_valid(s, n)) {
		n = sm_utf8_sanitize(tmp, (max < sizeof(tmp) - 1 ? max : sizeof(tmp) - 1) + 1, s,
				     n);
		s = tmp;
	}
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pack_key(msgpack_packer *pk, const char *key)
{
	pack_cstr(pk, key);
}

/* Rates, percentages, loads: float32 (plenty for monitoring, 5 bytes),
 * nil when unknown. */
static void pack_f32(msgpack_packer *pk, double v)
{
	if (!isfinite(v))
		msgpack_pack_nil(pk);
	else
		msgpack_pack_float(pk, (float)v);
}

/* Times and intervals keep float64 precision; never nil. */
static void pack_f64(msgpack_packer *pk, double v)
{
	msgpack_pack_double(pk, isfinite(v) ? v : 0.0);
}

static void pack_header(msgpack_packer *pk, const struct sm_header *h, size_t extra_keys)
{
	msgpack_pack_map(pk, 6 + extra_keys);
	pack_key(pk, "v");
	msgpack_pack_uint32(pk, SM_WIRE_VERSION);
	pack_key(pk, "kind");
	pack_cstr(pk, sm_wire_kind_name(h->kind) ? sm_wire_kind_name(h->kind) : "?");
	pack_key(pk, "host");
	pack_text(pk, h->host, SM_HOST_MAX);
	pack_key(pk, "time");
	pack_f64(pk, h->time);
	pack_key(pk, "seq");
	msgpack_pack_uint64(pk, h->seq);
	pack_key(pk, "epoch");
	msgpack_pack_uint64(pk, h->epoch);
}

/* ---- one packer per field type (sm_wire_fields.h) --------------------- */

/* Each takes the field as SM_WIRE_ARG_<type> hands it over, and the
 * field's `hi` column (a string's or a list's limit; unused by the rest). */

static void pack_U32(msgpack_packer *pk, const uint32_t *v, double hi)
{
	(void)hi;
	msgpack_pack_uint32(pk, *v);
}

static void pack_U64(msgpack_packer *pk, const uint64_t *v, double hi)
{
	(void)hi;
	msgpack_pack_uint64(pk, *v);
}

static void pack_F32(msgpack_packer *pk, const double *v, double hi)
{
	(void)hi;
	pack_f32(pk, *v);
}

static void pack_F64(msgpack_packer *pk, const double *v, double hi)
{
	(void)hi;
	pack_f64(pk, *v);
}

static void pack_BOOL(msgpack_packer *pk, const bool *v, double hi)
{
	(void)hi;
	if (*v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static void pack_TEXT(msgpack_packer *pk, const char *s, double hi)
{
	pack_text(pk, s, (size_t)hi);
}

static void pack_UUID(msgpack_packer *pk, const uint8_t uuid[16], double hi)
{
	(void)hi;
	msgpack_pack_bin(pk, 16);
	msgpack_pack_bin_body(pk, uuid, 16);
}

static void pack_LOAD(msgpack_packer *pk, const double load[3], double hi)
{
	(void)hi;
	msgpack_pack_array(pk, 3);
	for (int i = 0; i < 3; i++)
		pack_f32(pk, load[i]);
}

static void pack_DOM_FLAGS(msgpack_packer *pk, const uint32_t *v, double hi)
{
	pack_U32(pk, v, hi);
}

static void pack_MEM_BASIS(msgpack_packer *pk, const uint32_t *v, double hi)
{
	pack_U32(pk, v, hi);
}

static void pack_KIND(msgpack_packer *pk, const enum sm_msg_kind *k, double hi)
{
	(void)hi;
	pack_cstr(pk, sm_wire_kind_name(*k) ? sm_wire_kind_name(*k) : "?");
}

static void pack_EVENT(msgpack_packer *pk, const enum sm_event_type *t, double hi)
{
	(void)hi;
	pack_cstr(pk, *t == SM_EVENT_STARTED ? "started" : "stopped");
}

/* Positional records: an array of the list's fields, in order. */
#define PACK_FIELD(T, m, key, json, lo, hi, pres, unit) pack_##T(pk, SM_WIRE_ARG_##T(rec, m), hi);

static void pack_IDENTITY(msgpack_packer *pk, const bool *has, const struct sm_identity *rec,
			  double hi)
{
	(void)hi;
	if (!*has) {
		msgpack_pack_nil(pk);
		return;
	}
	msgpack_pack_array(pk, SM_WIRE_COUNT(SM_WIRE_IDENTITY_FIELDS));
	SM_WIRE_IDENTITY_FIELDS(PACK_FIELD)
}

static void pack_disk(msgpack_packer *pk, const struct sm_disk_stats *rec)
{
	msgpack_pack_array(pk, SM_WIRE_COUNT(SM_WIRE_DISK_FIELDS));
	SM_WIRE_DISK_FIELDS(PACK_FIELD)
}

static void pack_nic(msgpack_packer *pk, const struct sm_nic_stats *rec)
{
	msgpack_pack_array(pk, SM_WIRE_COUNT(SM_WIRE_NIC_FIELDS));
	SM_WIRE_NIC_FIELDS(PACK_FIELD)
}

static void pack_loss_row(msgpack_packer *pk, const struct sm_publisher_loss *rec)
{
	msgpack_pack_array(pk, SM_WIRE_COUNT(SM_WIRE_LOSS_FIELDS));
	SM_WIRE_LOSS_FIELDS(PACK_FIELD)
}

/* Lists longer than their limit are cut to it, so the output decodes. */
static size_t clamp(size_t n, double hi)
{
	return n > (size_t)hi ? (size_t)hi : n;
}

static void pack_DISKS(msgpack_packer *pk, const size_t *n, struct sm_disk_stats *const *a,
		       double hi)
{
	size_t count = clamp(*n, hi);

	msgpack_pack_array(pk, count);
	for (size_t i = 0; i < count; i++)
		pack_disk(pk, &(*a)[i]);
}

static void pack_NICS(msgpack_packer *pk, const size_t *n, struct sm_nic_stats *const *a,
		      double hi)
{
	size_t count = clamp(*n, hi);

	msgpack_pack_array(pk, count);
	for (size_t i = 0; i < count; i++)
		pack_nic(pk, &(*a)[i]);
}

static void pack_LOSS(msgpack_packer *pk, const size_t *n, struct sm_publisher_loss *const *a,
		      double hi)
{
	size_t count = clamp(*n, hi);

	msgpack_pack_array(pk, count);
	for (size_t i = 0; i < count; i++)
		pack_loss_row(pk, &(*a)[i]);
}

/* The domain list is not cut: a streaming publisher announces its count
 * before it has the domains. With no array (*a NULL) only the list's
 * header is written, and the domains follow by sm_wire_pack_domain. */
static void pack_DOMAINS(msgpack_packer *pk, const size_t *n,
			 struct sm_domain_stats *const *a, double hi)
{
	(void)hi;
	msgpack_pack_array(pk, *n);
	for (size_t i = 0; *a != NULL && i < *n; i++)
		sm_wire_pack_domain(pk, &(*a)[i]);
}

/* Names of enum sm_drop_reason, as keys of a collector's "dropped" map. */
const char *const sm_drop_reason_names[SM_DROP_COUNT] = {
	[SM_DROP_MALFORMED] = "malformed", [SM_DROP_VERSION] = "version",
	[SM_DROP_TOO_BIG] = "too_big",     [SM_DROP_HWM_OUT] = "hwm_fanout",
	[SM_DROP_HWM_UP] = "hwm_upstream", [SM_DROP_HOST_MISMATCH] = "host_mismatch",
	[SM_DROP_REFUSED] = "refused",     [SM_DROP_ORIGIN_MISMATCH] = "origin_mismatch",
	[SM_DROP_NO_SUBSCRIBER] = "no_subscriber",
};

static void pack_DROPPED(msgpack_packer *pk, const uint64_t dropped[SM_DROP_COUNT], double hi)
{
	(void)hi;
	msgpack_pack_map(pk, SM_DROP_COUNT);
	for (int i = 0; i < SM_DROP_COUNT; i++) {
		pack_key(pk, sm_drop_reason_names[i]);
		msgpack_pack_uint64(pk, dropped[i]);
	}
}

/* Map records: whether a field is sent, and then its key and value. */
#define SENT_REQ(T, ...) 1
#define SENT_OPT(T, ...) 1
#define SENT_OMIT0(T, ...) (*(__VA_ARGS__) != 0)
#define COUNT_SENT(T, m, key, json, lo, hi, pres, unit) +SENT_##pres(T, SM_WIRE_ARG_##T(rec, m))
#define PACK_KEYED(T, m, key, json, lo, hi, pres, unit) \
	if (SENT_##pres(T, SM_WIRE_ARG_##T(rec, m))) { \
		pack_key(pk, key); \
		pack_##T(pk, SM_WIRE_ARG_##T(rec, m), hi); \
	}

static void pack_NODE(msgpack_packer *pk, const struct sm_host_stats *rec, double hi)
{
	(void)hi;
	msgpack_pack_map(pk, 0 SM_WIRE_NODE_FIELDS(COUNT_SENT));
	SM_WIRE_NODE_FIELDS(PACK_KEYED)
}

static void pack_stats(msgpack_packer *pk, const struct sm_header *h,
		       const struct sm_aggregate_domain_stats *rec)
{
	pack_header(pk, h, 0 SM_WIRE_STATS_FIELDS(COUNT_SENT));
	SM_WIRE_STATS_FIELDS(PACK_KEYED)
}

void sm_wire_pack_stats_begin(msgpack_packer *pk, const struct sm_header *h, double interval,
			      const struct sm_host_stats *host, size_t ndomains)
{
	/* Without the domain array, pack_DOMAINS writes only the list's header. */
	const struct sm_aggregate_domain_stats stats = {
		.interval = interval, .host = *host, .ndomains = ndomains, .domains = NULL};

	pack_stats(pk, h, &stats);
}

void sm_wire_pack_domain(msgpack_packer *pk, const struct sm_domain_stats *rec)
{
	msgpack_pack_array(pk, SM_WIRE_COUNT(SM_WIRE_DOMAIN_FIELDS));
	SM_WIRE_DOMAIN_FIELDS(PACK_FIELD)
}

/* ---- brief records (docs/PROTOCOL.md "Brief records") ------------------ */

/* A brief device record is its list cut before the first rate: the name
 * as nil, then every counter as its growth since the full record. The
 * rates are the receiver's to compute, from two records' growth and
 * since_us, so they are not sent. By type: */
#define BRIEF_SENT_TEXT 1
#define BRIEF_SENT_U64 1
#define BRIEF_SENT_F32 0
#define COUNT_BRIEF(T, m, key, json, lo, hi, pres, unit) +BRIEF_SENT_##T
#define PACK_BRIEF(T, m, key, json, lo, hi, pres, unit) pack_brief_##T(pk, &rec->m, &base->m);

static void pack_brief_TEXT(msgpack_packer *pk, const void *cur, const void *base)
{
	(void)cur, (void)base;
	msgpack_pack_nil(pk); /* the name is the full record's */
}

static void pack_brief_U64(msgpack_packer *pk, const uint64_t *cur, const uint64_t *base)
{
	/* The caller found no counter below its base; a hostile or buggy
	 * caller still gets a value that decodes. */
	msgpack_pack_uint64(pk, *cur >= *base ? *cur - *base : 0);
}

static void pack_brief_F32(msgpack_packer *pk, const double *cur, const double *base)
{
	(void)pk, (void)cur, (void)base; /* not sent: see COUNT_BRIEF */
}

/* The brief lists must keep the full lists' order: every sent field comes
 * before the first rate, so a brief record is a prefix of a full one. */
_Static_assert(0 SM_WIRE_DISK_FIELDS(COUNT_BRIEF) == SM_WIRE_DISK_BRIEF_FIELDS,
	       "SM_WIRE_DISK_BRIEF_FIELDS must count the disk fields a brief record sends");
_Static_assert(0 SM_WIRE_NIC_FIELDS(COUNT_BRIEF) == SM_WIRE_NIC_BRIEF_FIELDS,
	       "SM_WIRE_NIC_BRIEF_FIELDS must count the NIC fields a brief record sends");

static void pack_disk_brief(msgpack_packer *pk, const struct sm_disk_stats *rec,
			    const struct sm_disk_stats *base)
{
	msgpack_pack_array(pk, SM_WIRE_DISK_BRIEF_FIELDS);
	SM_WIRE_DISK_FIELDS(PACK_BRIEF)
}

static void pack_nic_brief(msgpack_packer *pk, const struct sm_nic_stats *rec,
			   const struct sm_nic_stats *base)
{
	msgpack_pack_array(pk, SM_WIRE_NIC_BRIEF_FIELDS);
	SM_WIRE_NIC_FIELDS(PACK_BRIEF)
}

/* Written out by hand, unlike the rest: which domain fields a brief record
 * drops is a choice per field (cpu_pct is derived, steal_pct is not), not
 * per type. The assertion catches a field added to the list without a
 * decision here. */
_Static_assert(SM_WIRE_COUNT(SM_WIRE_DOMAIN_FIELDS) == 18,
	       "a domain field was added: decide its brief form in sm_wire_pack_domain_brief");

void sm_wire_pack_domain_brief(msgpack_packer *pk, const struct sm_domain_stats *d,
			       const struct sm_domain_stats *base, uint32_t gen, uint64_t since_us)
{
	uint32_t flags = d->flags | SM_DOM_BRIEF;
	size_t ndisks = clamp(d->ndisks < base->ndisks ? d->ndisks : base->ndisks,
			      SM_WIRE_MAX_DEVICES);
	size_t nnics = clamp(d->nnics < base->nnics ? d->nnics : base->nnics, SM_WIRE_MAX_DEVICES);

	msgpack_pack_array(pk, SM_WIRE_COUNT(SM_WIRE_DOMAIN_FIELDS));
	pack_UUID(pk, d->uuid, 0);
	msgpack_pack_nil(pk); /* name: the full record's */
	pack_U32(pk, &d->state, 0);
	pack_U32(pk, &flags, 0);
	msgpack_pack_nil(pk); /* identity: the full record's */
	pack_U32(pk, &d->vcpus, 0);
	pack_brief_U64(pk, &d->cpu_time_ns, &base->cpu_time_ns);
	msgpack_pack_nil(pk); /* cpu_pct: from cpu_time_ns growth, since_us and vcpus */
	pack_f32(pk, d->steal_pct);
	pack_LOAD(pk, d->load, 0);
	pack_U32(pk, &d->mem_basis, 0);
	pack_U64(pk, &d->mem_total_kib, 0);
	pack_U64(pk, &d->mem_used_kib, 0);
	pack_f32(pk, d->mem_pct);
	msgpack_pack_array(pk, ndisks);
	for (size_t i = 0; i < ndisks; i++)
		pack_disk_brief(pk, &d->disks[i], &base->disks[i]);
	msgpack_pack_array(pk, nnics);
	for (size_t i = 0; i < nnics; i++)
		pack_nic_brief(pk, &d->nics[i], &base->nics[i]);
	msgpack_pack_uint32(pk, gen & 255u);
	msgpack_pack_uint64(pk, since_us);
}

static void pack_event(msgpack_packer *pk, const struct sm_header *h,
		       const struct sm_domain_event *rec)
{
	pack_header(pk, h, 0 SM_WIRE_EVENT_FIELDS(COUNT_SENT));
	SM_WIRE_EVENT_FIELDS(PACK_KEYED)
}

static void pack_heartbeat(msgpack_packer *pk, const struct sm_header *h,
			   const struct sm_heartbeat *rec)
{
	pack_header(pk, h, 0 SM_WIRE_HEARTBEAT_FIELDS(COUNT_SENT));
	SM_WIRE_HEARTBEAT_FIELDS(PACK_KEYED)
}

static void pack_collector(msgpack_packer *pk, const struct sm_header *h,
			   const struct sm_collector_stats *rec)
{
	pack_header(pk, h, 0 SM_WIRE_COLLECTOR_FIELDS(COUNT_SENT));
	SM_WIRE_COLLECTOR_FIELDS(PACK_KEYED)
}

int sm_wire_encode(const struct sm_message *m, msgpack_sbuffer *out)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(out);
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	switch (m->hdr.kind) {
	case SM_KIND_STATS:
		pack_stats(&pk, &m->hdr, &m->u.stats);
		break;
	case SM_KIND_EVENT:
		pack_event(&pk, &m->hdr, &m->u.event);
		break;
	case SM_KIND_HEARTBEAT:
		pack_heartbeat(&pk, &m->hdr, &m->u.hb);
		break;
	case SM_KIND_COLLECTOR:
		pack_collector(&pk, &m->hdr, &m->u.collector);
		break;
	default:
		return -1;
	}
	/* msgpack_sbuffer_write reports allocation failure by return value,
	 * which the packer drops; a NULL data pointer with a non-zero request
	 * is how it shows. */
	return out->data != NULL ? 0 : -1;
}
