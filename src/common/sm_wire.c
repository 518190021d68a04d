/*
 * sm_wire.c — encoding side of the wire protocol (docs/PROTOCOL.md), plus
 * topics and UUID text. Bodies are msgpack maps with readable keys for the
 * once-per-frame envelope, and positional arrays for the records that repeat
 * per domain and per device, which keeps a 1,000-domain frame small.
 * Invariant: whatever the caller's structs hold, the output decodes — every
 * string is sanitised to valid, bounded UTF-8, every NaN float becomes nil.
 */
#include "sm_wire.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sm_utf8.h"

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

/* ---- UUIDs ------------------------------------------------------------ */

void sm_uuid_format(const uint8_t uuid[16], char buf[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[o++] = '-';
		buf[o++] = hex[uuid[i] >> 4];
		buf[o++] = hex[uuid[i] & 15];
	}
	buf[o] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sm_uuid_parse(const char *text, uint8_t uuid[16])
{
	size_t len = strlen(text);
	int n = 0;

	if (len != 36 && len != 32)
		return -1;
	for (size_t i = 0; i < len;) {
		int hi, lo;

		if (len == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (text[i] != '-')
				return -1;
			i++;
			continue;
		}
		hi = hexval(text[i]);
		lo = hexval(text[i + 1]);
		if (hi < 0 || lo < 0 || n >= 16)
			return -1;
		uuid[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return n == 16 ? 0 : -1;
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

static void pack_identity(msgpack_packer *pk, bool has, const struct sm_identity *id)
{
	if (!has) {
		msgpack_pack_nil(pk);
		return;
	}
	msgpack_pack_array(pk, 6);
	pack_text(pk, id->display_name, SM_NAME_MAX);
	pack_text(pk, id->project_id, SM_ID_MAX);
	pack_text(pk, id->project_name, SM_NAME_MAX);
	pack_text(pk, id->user_id, SM_ID_MAX);
	pack_text(pk, id->user_name, SM_NAME_MAX);
	pack_text(pk, id->flavor, SM_NAME_MAX);
}

static void pack_load(msgpack_packer *pk, const double load[3])
{
	msgpack_pack_array(pk, 3);
	for (int i = 0; i < 3; i++)
		pack_f32(pk, load[i]);
}

void sm_wire_pack_stats_begin(msgpack_packer *pk, const struct sm_header *h, double interval,
			      const struct sm_host_stats *n, size_t ndomains)
{
	pack_header(pk, h, 3);
	pack_key(pk, "interval");
	pack_f64(pk, interval);
	pack_key(pk, "node");
	msgpack_pack_map(pk, 9);
	pack_key(pk, "ncpus");
	msgpack_pack_uint32(pk, n->ncpus);
	pack_key(pk, "cpu_pct");
	pack_f32(pk, n->cpu_pct);
	pack_key(pk, "load");
	pack_load(pk, n->load);
	pack_key(pk, "mem_total_kib");
	msgpack_pack_uint64(pk, n->mem_total_kib);
	pack_key(pk, "mem_used_kib");
	msgpack_pack_uint64(pk, n->mem_used_kib);
	pack_key(pk, "mem_pct");
	pack_f32(pk, n->mem_pct);
	pack_key(pk, "libvirt_ok");
	if (n->libvirt_ok)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	pack_key(pk, "libvirt_latency_ms");
	pack_f32(pk, n->libvirt_latency_ms);
	pack_key(pk, "domains_stale");
	msgpack_pack_uint32(pk, n->domains_stale);
	pack_key(pk, "domains");
	msgpack_pack_array(pk, ndomains);
}

static void pack_disk(msgpack_packer *pk, const struct sm_disk_stats *d)
{
	msgpack_pack_array(pk, 10);
	pack_text(pk, d->name, SM_DEV_MAX);
	msgpack_pack_uint64(pk, d->rd_req);
	msgpack_pack_uint64(pk, d->rd_bytes);
	msgpack_pack_uint64(pk, d->wr_req);
	msgpack_pack_uint64(pk, d->wr_bytes);
	msgpack_pack_uint64(pk, d->errors);
	pack_f32(pk, d->rd_req_ps);
	pack_f32(pk, d->rd_bytes_ps);
	pack_f32(pk, d->wr_req_ps);
	pack_f32(pk, d->wr_bytes_ps);
}

static void pack_nic(msgpack_packer *pk, const struct sm_nic_stats *n)
{
	msgpack_pack_array(pk, 13);
	pack_text(pk, n->name, SM_DEV_MAX);
	msgpack_pack_uint64(pk, n->rx_bytes);
	msgpack_pack_uint64(pk, n->rx_packets);
	msgpack_pack_uint64(pk, n->rx_errors);
	msgpack_pack_uint64(pk, n->rx_drops);
	msgpack_pack_uint64(pk, n->tx_bytes);
	msgpack_pack_uint64(pk, n->tx_packets);
	msgpack_pack_uint64(pk, n->tx_errors);
	msgpack_pack_uint64(pk, n->tx_drops);
	pack_f32(pk, n->rx_bytes_ps);
	pack_f32(pk, n->rx_packets_ps);
	pack_f32(pk, n->tx_bytes_ps);
	pack_f32(pk, n->tx_packets_ps);
}

void sm_wire_pack_domain(msgpack_packer *pk, const struct sm_domain_stats *d)
{
	size_t ndisks = d->ndisks > SM_WIRE_MAX_DEVICES ? SM_WIRE_MAX_DEVICES : d->ndisks;
	size_t nnics = d->nnics > SM_WIRE_MAX_DEVICES ? SM_WIRE_MAX_DEVICES : d->nnics;

	msgpack_pack_array(pk, 16);
	msgpack_pack_bin(pk, 16);
	msgpack_pack_bin_body(pk, d->uuid, 16);
	pack_text(pk, d->name, SM_NAME_MAX);
	msgpack_pack_uint32(pk, d->state);
	msgpack_pack_uint32(pk, d->flags);
	pack_identity(pk, d->has_identity, &d->identity);
	msgpack_pack_uint32(pk, d->vcpus);
	msgpack_pack_uint64(pk, d->cpu_time_ns);
	pack_f32(pk, d->cpu_pct);
	pack_f32(pk, d->steal_pct);
	pack_load(pk, d->load);
	msgpack_pack_uint32(pk, d->mem_basis);
	msgpack_pack_uint64(pk, d->mem_total_kib);
	msgpack_pack_uint64(pk, d->mem_used_kib);
	pack_f32(pk, d->mem_pct);
	msgpack_pack_array(pk, ndisks);
	for (size_t i = 0; i < ndisks; i++)
		pack_disk(pk, &d->disks[i]);
	msgpack_pack_array(pk, nnics);
	for (size_t i = 0; i < nnics; i++)
		pack_nic(pk, &d->nics[i]);
}

static const char *event_type_name(enum sm_event_type t)
{
	return t == SM_EVENT_STARTED ? "started" : "stopped";
}

static void pack_event(msgpack_packer *pk, const struct sm_header *h,
		       const struct sm_domain_event *e)
{
	pack_header(pk, h, 5);
	pack_key(pk, "event");
	pack_cstr(pk, event_type_name(e->type));
	pack_key(pk, "uuid");
	msgpack_pack_bin(pk, 16);
	msgpack_pack_bin_body(pk, e->uuid, 16);
	pack_key(pk, "name");
	pack_text(pk, e->name, SM_NAME_MAX);
	pack_key(pk, "identity");
	pack_identity(pk, e->has_identity, &e->identity);
	pack_key(pk, "reason");
	pack_text(pk, e->reason, SM_REASON_MAX);
}

/* Names of enum sm_drop_reason, as keys of a collector's "dropped" map. */
const char *const sm_drop_reason_names[SM_DROP_COUNT] = {
	[SM_DROP_MALFORMED] = "malformed", [SM_DROP_VERSION] = "version",
	[SM_DROP_TOO_BIG] = "too_big",     [SM_DROP_HWM_OUT] = "hwm_fanout",
	[SM_DROP_HWM_UP] = "hwm_upstream", [SM_DROP_HOST_MISMATCH] = "host_mismatch",
	[SM_DROP_REFUSED] = "refused",     [SM_DROP_ORIGIN_MISMATCH] = "origin_mismatch",
	[SM_DROP_NO_SUBSCRIBER] = "no_subscriber",
};

static void pack_collector(msgpack_packer *pk, const struct sm_header *h,
			   const struct sm_collector_stats *c)
{
	size_t nloss = c->nloss > SM_WIRE_MAX_PUBLISHERS ? SM_WIRE_MAX_PUBLISHERS : c->nloss;

	pack_header(pk, h, 12);
	pack_key(pk, "interval");
	pack_f64(pk, c->interval);
	pack_key(pk, "frames_in");
	msgpack_pack_uint64(pk, c->frames_in);
	pack_key(pk, "bytes_in");
	msgpack_pack_uint64(pk, c->bytes_in);
	pack_key(pk, "frames_out");
	msgpack_pack_uint64(pk, c->frames_out);
	pack_key(pk, "bytes_out");
	msgpack_pack_uint64(pk, c->bytes_out);
	pack_key(pk, "frames_up");
	msgpack_pack_uint64(pk, c->frames_up);
	pack_key(pk, "dropped");
	msgpack_pack_map(pk, SM_DROP_COUNT);
	for (int i = 0; i < SM_DROP_COUNT; i++) {
		pack_key(pk, sm_drop_reason_names[i]);
		msgpack_pack_uint64(pk, c->dropped[i]);
	}
	pack_key(pk, "lost");
	msgpack_pack_uint64(pk, c->lost);
	pack_key(pk, "origin_unknown");
	msgpack_pack_uint64(pk, c->origin_unknown);
	pack_key(pk, "publishers");
	msgpack_pack_uint32(pk, c->publishers);
	pack_key(pk, "upstream");
	pack_text(pk, c->upstream, SM_ENDPOINT_MAX);
	pack_key(pk, "loss");
	msgpack_pack_array(pk, nloss);
	for (size_t i = 0; i < nloss; i++) {
		const struct sm_publisher_loss *l = &c->loss[i];

		msgpack_pack_array(pk, 4);
		pack_text(pk, l->host, SM_HOST_MAX);
		pack_cstr(pk, sm_wire_kind_name(l->kind) ? sm_wire_kind_name(l->kind) : "?");
		msgpack_pack_uint64(pk, l->received);
		msgpack_pack_uint64(pk, l->lost);
	}
}

int sm_wire_encode(const struct sm_message *m, msgpack_sbuffer *out)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(out);
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	switch (m->hdr.kind) {
	case SM_KIND_STATS: {
		const struct sm_aggregate_domain_stats *s = &m->u.stats;

		sm_wire_pack_stats_begin(&pk, &m->hdr, s->interval, &s->host, s->ndomains);
		for (size_t i = 0; i < s->ndomains; i++)
			sm_wire_pack_domain(&pk, &s->domains[i]);
		break;
	}
	case SM_KIND_EVENT:
		pack_event(&pk, &m->hdr, &m->u.event);
		break;
	case SM_KIND_HEARTBEAT:
		pack_header(&pk, &m->hdr, m->u.hb.max_frame ? 2 : 1);
		pack_key(&pk, "interval");
		pack_f64(&pk, m->u.hb.interval);
		if (m->u.hb.max_frame) {
			pack_key(&pk, "max_frame");
			msgpack_pack_uint64(&pk, m->u.hb.max_frame);
		}
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
