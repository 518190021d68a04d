/*
 * lv_wire — see lv_wire.h. XDR: big-endian 32-bit words; a hyper is two
 * words; a string is its length word and its bytes, padded to 4; an
 * optional value (a pointer in the .x file) is a boolean word before it.
 */
#include "lv_wire.h"

#include <string.h>

/* ---- Encoding ---- */

struct out {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
};

static void put_u32(struct out *o, uint32_t v)
{
	if (o->overflow || o->cap - o->len < 4) {
		o->overflow = true;
		return;
	}
	o->buf[o->len++] = (uint8_t)(v >> 24);
	o->buf[o->len++] = (uint8_t)(v >> 16);
	o->buf[o->len++] = (uint8_t)(v >> 8);
	o->buf[o->len++] = (uint8_t)v;
}

static void put_bytes(struct out *o, const void *p, size_t n)
{
	size_t padded = (n + 3) & ~(size_t)3;

	if (o->overflow || padded < n || o->cap - o->len < padded) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	memset(o->buf + o->len + n, 0, padded - n);
	o->len += padded;
}

static void put_string(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (n > LV_WIRE_MAX_REPLY) { /* far above any name; keeps the word exact */
		o->overflow = true;
		return;
	}
	put_u32(o, (uint32_t)n);
	put_bytes(o, s, n);
}

static void put_domain(struct out *o, const struct lv_wire_domain *d)
{
	put_string(o, d->name);
	put_bytes(o, d->uuid, 16); /* remote_uuid: fixed opaque, no length */
	put_u32(o, (uint32_t)d->id);
}

static void begin(struct out *o, uint8_t *buf, size_t cap, int proc, uint32_t serial)
{
	*o = (struct out){.buf = buf, .cap = cap};
	put_u32(o, 0); /* the length, known at the end */
	put_u32(o, LV_WIRE_PROGRAM);
	put_u32(o, LV_WIRE_VERSION);
	put_u32(o, (uint32_t)proc);
	put_u32(o, LV_TYPE_CALL);
	put_u32(o, serial);
	put_u32(o, LV_STATUS_OK);
}

static size_t end(struct out *o)
{
	size_t len = o->len;

	if (o->overflow)
		return 0;
	o->len = 0;
	put_u32(o, (uint32_t)len);
	return len;
}

size_t lv_wire_auth_list(uint8_t *out, size_t cap, uint32_t serial)
{
	struct out o;

	begin(&o, out, cap, LV_PROC_AUTH_LIST, serial);
	return end(&o);
}

size_t lv_wire_connect_open(uint8_t *out, size_t cap, uint32_t serial, const char *name,
			    uint32_t flags)
{
	struct out o;

	begin(&o, out, cap, LV_PROC_CONNECT_OPEN, serial);
	put_u32(&o, 1); /* remote_string: present */
	put_string(&o, name);
	put_u32(&o, flags);
	return end(&o);
}

size_t lv_wire_get_info(uint8_t *out, size_t cap, uint32_t serial, const struct lv_wire_domain *dom)
{
	struct out o;

	begin(&o, out, cap, LV_PROC_DOMAIN_GET_INFO, serial);
	put_domain(&o, dom);
	return end(&o);
}

size_t lv_wire_device_stats(uint8_t *out, size_t cap, uint32_t serial, int proc,
			    const struct lv_wire_domain *dom, const char *device)
{
	struct out o;

	if (proc != LV_PROC_DOMAIN_BLOCK_STATS && proc != LV_PROC_DOMAIN_INTERFACE_STATS)
		return 0;
	begin(&o, out, cap, proc, serial);
	put_domain(&o, dom);
	put_string(&o, device);
	return end(&o);
}

size_t lv_wire_memory_stats(uint8_t *out, size_t cap, uint32_t serial,
			    const struct lv_wire_domain *dom, uint32_t max_stats)
{
	struct out o;

	begin(&o, out, cap, LV_PROC_DOMAIN_MEMORY_STATS, serial);
	put_domain(&o, dom);
	put_u32(&o, max_stats);
	put_u32(&o, 0); /* flags */
	return end(&o);
}

/* ---- Decoding ---- */

struct in {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static uint32_t get_u32(struct in *in)
{
	uint32_t v;

	if (in->bad || in->left < 4) {
		in->bad = true;
		return 0;
	}
	v = (uint32_t)in->p[0] << 24 | (uint32_t)in->p[1] << 16 | (uint32_t)in->p[2] << 8 |
	    in->p[3];
	in->p += 4;
	in->left -= 4;
	return v;
}

static uint64_t get_u64(struct in *in)
{
	uint64_t hi = get_u32(in);

	return hi << 32 | get_u32(in);
}

/* Skips n bytes and their padding. */
static void skip(struct in *in, uint32_t n)
{
	size_t padded = ((size_t)n + 3) & ~(size_t)3;

	if (in->bad || in->left < padded) {
		in->bad = true;
		return;
	}
	in->p += padded;
	in->left -= padded;
}

/* A well-formed body is read to its last byte: trailing bytes mean the
 * reply is not the structure we think it is. */
static int finish(const struct in *in)
{
	return in->bad || in->left ? -1 : 0;
}

uint32_t lv_wire_length(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int lv_wire_header_parse(const uint8_t *msg, size_t len, struct lv_wire_header *h)
{
	struct in in = {msg, len, false};

	if (len < LV_WIRE_HEADER_LEN)
		return -1;
	h->length = get_u32(&in);
	h->prog = get_u32(&in);
	h->vers = get_u32(&in);
	h->proc = (int32_t)get_u32(&in);
	h->type = (int32_t)get_u32(&in);
	h->serial = get_u32(&in);
	h->status = (int32_t)get_u32(&in);
	return h->length == len ? 0 : -1;
}

int lv_wire_info_parse(const uint8_t *body, size_t len, struct lv_wire_info *out)
{
	struct in in = {body, len, false};

	out->state = get_u32(&in);
	out->max_mem_kib = get_u64(&in);
	out->memory_kib = get_u64(&in);
	out->nr_virt_cpu = get_u32(&in);
	out->cpu_time_ns = get_u64(&in);
	return finish(&in);
}

int lv_wire_block_parse(const uint8_t *body, size_t len, struct lv_wire_block *out)
{
	struct in in = {body, len, false};

	out->rd_req = (int64_t)get_u64(&in);
	out->rd_bytes = (int64_t)get_u64(&in);
	out->wr_req = (int64_t)get_u64(&in);
	out->wr_bytes = (int64_t)get_u64(&in);
	out->errs = (int64_t)get_u64(&in);
	return finish(&in);
}

int lv_wire_iface_parse(const uint8_t *body, size_t len, struct lv_wire_iface *out)
{
	struct in in = {body, len, false};

	out->rx_bytes = (int64_t)get_u64(&in);
	out->rx_packets = (int64_t)get_u64(&in);
	out->rx_errs = (int64_t)get_u64(&in);
	out->rx_drop = (int64_t)get_u64(&in);
	out->tx_bytes = (int64_t)get_u64(&in);
	out->tx_packets = (int64_t)get_u64(&in);
	out->tx_errs = (int64_t)get_u64(&in);
	out->tx_drop = (int64_t)get_u64(&in);
	return finish(&in);
}

int lv_wire_memory_parse(const uint8_t *body, size_t len, struct lv_wire_memory *out)
{
	struct in in = {body, len, false};
	uint32_t n = get_u32(&in);

	/* We ask for at most LV_WIRE_MAX_MEMORY_STATS; more is not an answer
	 * to our call. */
	if (in.bad || n > LV_WIRE_MAX_MEMORY_STATS)
		return -1;
	out->n = n;
	for (uint32_t i = 0; i < n; i++) {
		out->stat[i].tag = (int32_t)get_u32(&in);
		out->stat[i].val = get_u64(&in);
	}
	return finish(&in);
}

int lv_wire_auth_none_parse(const uint8_t *body, size_t len, bool *none_ok)
{
	struct in in = {body, len, false};
	uint32_t n = get_u32(&in);

	if (in.bad || n > 20) /* REMOTE_AUTH_TYPE_LIST_MAX */
		return -1;
	*none_ok = n == 0;
	for (uint32_t i = 0; i < n; i++)
		if (get_u32(&in) == LV_WIRE_AUTH_NONE)
			*none_ok = true;
	return finish(&in);
}

int lv_wire_error_parse(const uint8_t *body, size_t len, int *code, char *msg, size_t size)
{
	struct in in = {body, len, false};
	uint32_t n;

	if (size)
		msg[0] = '\0';
	*code = (int32_t)get_u32(&in);
	(void)get_u32(&in); /* the error's domain (virErrorDomain) */
	if (get_u32(&in)) { /* message present */
		n = get_u32(&in);
		if (in.bad || n > in.left)
			return -1;
		if (size) {
			size_t keep = n < size - 1 ? n : size - 1;

			memcpy(msg, in.p, keep);
			msg[keep] = '\0';
			/* Shown in our log: no control characters from the wire. */
			for (size_t i = 0; i < keep; i++)
				if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
					msg[i] = '?';
		}
		skip(&in, n);
	}
	/* The rest (level, domain, network, str1-3, int1-2) is not used; it is
	 * not checked either, as its layout has grown over libvirt's versions. */
	return in.bad ? -1 : 0;
}
