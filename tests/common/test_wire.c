/*
 * test_wire.c — the wire protocol's round trips and every rejection the
 * decoder promises (docs/PROTOCOL.md "Limits a receiver enforces").
 * Hostile bodies are built byte by byte with msgpack-c's packer, so each
 * test states exactly what is wrong with its frame.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sm_utf8.h"
#include "sm_uuid.h"
#include "sm_wire.h"

/* ---- fixtures ------------------------------------------------------------ */

static void fill_header(struct sm_header *h, enum sm_msg_kind kind, uint64_t seq)
{
	h->version = SM_WIRE_VERSION;
	h->kind = kind;
	strcpy(h->host, "cn-01.rack7");
	h->time = 1764380000.25;
	h->seq = seq;
	h->epoch = UINT64_C(0xdeadbeefcafe1234);
}

static struct sm_disk_stats test_disks[2] = {
	{"vda", 10, 4096, 20, 8192, 0, 1.5, 512.0, 2.0, 1024.0},
	{"vdb", UINT64_MAX, 1, 2, 3, 4, NAN, NAN, NAN, NAN},
};
static struct sm_nic_stats test_nics[1] = {
	{"tap1a2b3c4d-5e", 1000, 10, 1, 2, 2000, 20, 3, 4, 100.0, 1.0, 200.0, 2.0},
};

/* A stats message with three domains: one OpenStack instance with devices,
 * one without identity or devices, one stale with unknown rates. */
static void make_stats(struct sm_message *m, struct sm_domain_stats doms[3])
{
	memset(m, 0, sizeof(*m));
	memset(doms, 0, 3 * sizeof(*doms));
	fill_header(&m->hdr, SM_KIND_STATS, 7);
	m->u.stats.interval = 1.0;
	m->u.stats.host = (struct sm_host_stats){
		.ncpus = 2, .cpu_pct = 12.5, .load = {0.5, 0.25, 0.125},
		.mem_total_kib = 24000000, .mem_used_kib = 1200000, .mem_pct = 5.0,
		.libvirt_ok = true, .libvirt_latency_ms = 3.5, .domains_stale = 1};
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 16; j++)
			doms[i].uuid[j] = (uint8_t)(i * 16 + j);
		snprintf(doms[i].name, sizeof(doms[i].name), "instance-%08x", i);
		doms[i].state = 1;
		doms[i].vcpus = (uint32_t)(i + 1);
		doms[i].cpu_time_ns = UINT64_C(123456789012) * (uint64_t)(i + 1);
		doms[i].cpu_pct = 25.0 * i;
		doms[i].steal_pct = NAN;
		doms[i].load[0] = 0.5, doms[i].load[1] = 0.25, doms[i].load[2] = 0.0;
		doms[i].mem_basis = SM_MEM_GUEST_USABLE;
		doms[i].mem_total_kib = 1024 * 1024;
		doms[i].mem_used_kib = 256 * 1024;
		doms[i].mem_pct = 25.0;
	}
	doms[0].flags = SM_DOM_NOVA;
	doms[0].has_identity = true;
	strcpy(doms[0].identity.display_name, "web <1> \"é\"");
	strcpy(doms[0].identity.project_id, "6f3e0d4c8a1b4e8e9d7c5b3a1f2e4d6c");
	strcpy(doms[0].identity.project_name, "acme");
	strcpy(doms[0].identity.user_id, "u1");
	strcpy(doms[0].identity.user_name, "alice");
	strcpy(doms[0].identity.flavor, "m1.small");
	doms[0].ndisks = 2;
	doms[0].disks = test_disks;
	doms[0].nnics = 1;
	doms[0].nics = test_nics;
	doms[2].flags = SM_DOM_STALE;
	doms[2].cpu_pct = NAN;
	doms[2].mem_basis = SM_MEM_NONE;
	doms[2].mem_pct = NAN;
	m->u.stats.ndomains = 3;
	m->u.stats.domains = doms;
}

static void encode(const struct sm_message *m, msgpack_sbuffer *buf)
{
	msgpack_sbuffer_init(buf);
	assert_int_equal(sm_wire_encode(m, buf), 0);
}

static void assert_same_double(double a, double b)
{
	if (isnan(a))
		assert_true(isnan(b));
	else
		assert_true(fabs(a - b) <= fabs(a) * 1e-6);
}

/* ---- round trips --------------------------------------------------------- */

static void wire_stats_round_trip_keeps_every_field(void **state)
{
	struct sm_message m, out;
	struct sm_domain_stats doms[3];
	struct sm_wire_error err;
	msgpack_sbuffer buf;

	(void)state;
	make_stats(&m, doms);
	encode(&m, &buf);
	assert_int_equal(sm_wire_decode(buf.data, buf.size, 0, &out, &err), 0);
	assert_int_equal(err.code, SM_WIRE_OK);
	assert_int_equal(out.hdr.kind, SM_KIND_STATS);
	assert_string_equal(out.hdr.host, "cn-01.rack7");
	assert_true(out.hdr.time == 1764380000.25);
	assert_true(out.hdr.seq == 7);
	assert_true(out.hdr.epoch == UINT64_C(0xdeadbeefcafe1234));
	assert_int_equal(out.u.stats.host.ncpus, 2);
	assert_true(out.u.stats.host.libvirt_ok);
	assert_int_equal(out.u.stats.host.domains_stale, 1);
	assert_same_double(out.u.stats.host.load[2], 0.125);
	assert_int_equal(out.u.stats.ndomains, 3);
	for (int i = 0; i < 3; i++) {
		const struct sm_domain_stats *a = &doms[i], *b = &out.u.stats.domains[i];

		assert_memory_equal(a->uuid, b->uuid, 16);
		assert_string_equal(a->name, b->name);
		assert_int_equal(a->flags, b->flags);
		assert_int_equal(a->vcpus, b->vcpus);
		assert_true(a->cpu_time_ns == b->cpu_time_ns);
		assert_same_double(a->cpu_pct, b->cpu_pct);
		assert_same_double(a->steal_pct, b->steal_pct);
		assert_same_double(a->mem_pct, b->mem_pct);
		assert_int_equal(a->mem_basis, b->mem_basis);
		assert_int_equal(a->ndisks, b->ndisks);
		assert_int_equal(a->nnics, b->nnics);
		assert_int_equal(a->has_identity, b->has_identity);
	}
	assert_string_equal(out.u.stats.domains[0].identity.display_name, "web <1> \"é\"");
	assert_string_equal(out.u.stats.domains[0].identity.flavor, "m1.small");
	assert_string_equal(out.u.stats.domains[0].disks[1].name, "vdb");
	assert_true(out.u.stats.domains[0].disks[1].rd_req == UINT64_MAX);
	assert_true(isnan(out.u.stats.domains[0].disks[1].wr_bytes_ps));
	assert_same_double(out.u.stats.domains[0].disks[0].wr_bytes_ps, 1024.0);
	assert_string_equal(out.u.stats.domains[0].nics[0].name, "tap1a2b3c4d-5e");
	assert_true(out.u.stats.domains[0].nics[0].tx_drops == 4);
	assert_same_double(out.u.stats.domains[0].nics[0].tx_bytes_ps, 200.0);
	sm_message_clear(&out);
	msgpack_sbuffer_destroy(&buf);
}

static void wire_streaming_pack_equals_whole_encode(void **state)
{
	struct sm_message m;
	struct sm_domain_stats doms[3];
	msgpack_sbuffer whole, streamed;
	msgpack_packer pk;

	(void)state;
	make_stats(&m, doms);
	encode(&m, &whole);
	msgpack_sbuffer_init(&streamed);
	msgpack_packer_init(&pk, &streamed, msgpack_sbuffer_write);
	sm_wire_pack_stats_begin(&pk, &m.hdr, m.u.stats.interval, &m.u.stats.host, 3);
	for (int i = 0; i < 3; i++)
		sm_wire_pack_domain(&pk, &doms[i]);
	assert_int_equal(whole.size, streamed.size);
	assert_memory_equal(whole.data, streamed.data, whole.size);
	msgpack_sbuffer_destroy(&whole);
	msgpack_sbuffer_destroy(&streamed);
}

static void wire_event_round_trip(void **state)
{
	struct sm_message m = {0}, out;
	msgpack_sbuffer buf;

	(void)state;
	fill_header(&m.hdr, SM_KIND_EVENT, 3);
	m.u.event.type = SM_EVENT_STOPPED;
	memset(m.u.event.uuid, 0xab, 16);
	strcpy(m.u.event.name, "instance-0000002a");
	strcpy(m.u.event.reason, "destroyed");
	m.u.event.has_identity = true;
	strcpy(m.u.event.identity.project_name, "acme");
	encode(&m, &buf);
	assert_int_equal(sm_wire_decode(buf.data, buf.size, 0, &out, NULL), 0);
	assert_int_equal(out.hdr.kind, SM_KIND_EVENT);
	assert_int_equal(out.u.event.type, SM_EVENT_STOPPED);
	assert_memory_equal(out.u.event.uuid, m.u.event.uuid, 16);
	assert_string_equal(out.u.event.name, "instance-0000002a");
	assert_string_equal(out.u.event.reason, "destroyed");
	assert_true(out.u.event.has_identity);
	assert_string_equal(out.u.event.identity.project_name, "acme");
	sm_message_clear(&out);
	msgpack_sbuffer_destroy(&buf);
}

static void wire_heartbeat_and_collector_round_trip(void **state)
{
	struct sm_message m = {0}, out;
	struct sm_publisher_loss rows[2] = {{"cn-01", SM_KIND_STATS, 100, 3},
					    {"cn-02", SM_KIND_EVENT, 5, 0}};
	msgpack_sbuffer buf;

	(void)state;
	fill_header(&m.hdr, SM_KIND_HEARTBEAT, 1);
	m.u.hb.interval = 0.5;
	encode(&m, &buf);
	assert_int_equal(sm_wire_decode(buf.data, buf.size, 0, &out, NULL), 0);
	assert_true(out.u.hb.interval == 0.5);
	assert_int_equal(out.u.hb.max_frame, 0); /* optional: absent stays 0 */
	sm_message_clear(&out);
	msgpack_sbuffer_destroy(&buf);

	/* The collector's max_frame, optional, round-trips when given. */
	m.u.hb.max_frame = 16777216;
	encode(&m, &buf);
	assert_int_equal(sm_wire_decode(buf.data, buf.size, 0, &out, NULL), 0);
	assert_int_equal(out.u.hb.max_frame, 16777216);
	assert_true(out.u.hb.interval == 0.5);
	sm_message_clear(&out);
	msgpack_sbuffer_destroy(&buf);

	memset(&m, 0, sizeof(m));
	fill_header(&m.hdr, SM_KIND_COLLECTOR, 9);
	m.u.collector.interval = 10;
	m.u.collector.frames_in = 1000;
	m.u.collector.bytes_out = UINT64_C(1) << 40;
	m.u.collector.dropped[SM_DROP_HWM_OUT] = 17;
	m.u.collector.dropped[SM_DROP_ORIGIN_MISMATCH] = 4;
	m.u.collector.origin_unknown = 6;
	m.u.collector.lost = 3;
	m.u.collector.publishers = 2;
	strcpy(m.u.collector.upstream, "tcp://master:7100");
	m.u.collector.nloss = 2;
	m.u.collector.loss = rows;
	encode(&m, &buf);
	assert_int_equal(sm_wire_decode(buf.data, buf.size, 0, &out, NULL), 0);
	assert_true(out.u.collector.frames_in == 1000);
	assert_true(out.u.collector.bytes_out == UINT64_C(1) << 40);
	assert_true(out.u.collector.dropped[SM_DROP_HWM_OUT] == 17);
	assert_true(out.u.collector.dropped[SM_DROP_ORIGIN_MISMATCH] == 4);
	assert_true(out.u.collector.origin_unknown == 6);
	assert_string_equal(out.u.collector.upstream, "tcp://master:7100");
	assert_int_equal(out.u.collector.nloss, 2);
	assert_string_equal(out.u.collector.loss[0].host, "cn-01");
	assert_int_equal(out.u.collector.loss[1].kind, SM_KIND_EVENT);
	assert_true(out.u.collector.loss[0].lost == 3);
	sm_message_clear(&out);
	msgpack_sbuffer_destroy(&buf);
}

static void wire_encoder_sanitises_hostile_names(void **state)
{
	struct sm_message m, out;
	struct sm_domain_stats doms[3];
	msgpack_sbuffer buf;

	(void)state;
	make_stats(&m, doms);
	/* Invalid UTF-8 and a control character straight from a tenant. */
	strcpy(doms[0].identity.display_name, "bad\xff\xfe name\n<script>");
	memset(doms[1].name, 'x', SM_NAME_MAX);
	doms[1].name[SM_NAME_MAX] = '\0';
	encode(&m, &buf);
	assert_int_equal(sm_wire_decode(buf.data, buf.size, 0, &out, NULL), 0);
	assert_true(sm_utf8_valid(out.u.stats.domains[0].identity.display_name,
				  strlen(out.u.stats.domains[0].identity.display_name)));
	assert_null(strchr(out.u.stats.domains[0].identity.display_name, '\n'));
	assert_non_null(strstr(out.u.stats.domains[0].identity.display_name, "<script>"));
	assert_int_equal(strlen(out.u.stats.domains[1].name), SM_NAME_MAX);
	sm_message_clear(&out);
	msgpack_sbuffer_destroy(&buf);
}

/* ---- topics, uuids, JSON ------------------------------------------------- */

static void wire_topic_round_trip_and_rejections(void **state)
{
	char buf[SM_TOPIC_MAX + 1], host[SM_HOST_MAX + 1];
	enum sm_msg_kind kind;
	struct sm_wire_error err = {0};
	size_t n;

	(void)state;
	n = sm_wire_topic(SM_KIND_EVENT, "cn-01", buf, sizeof(buf));
	assert_int_equal(n, strlen("event/cn-01/"));
	assert_string_equal(buf, "event/cn-01/");
	assert_int_equal(sm_wire_topic_parse(buf, n, &kind, host, &err), 0);
	assert_int_equal(kind, SM_KIND_EVENT);
	assert_string_equal(host, "cn-01");
	assert_int_equal(sm_wire_topic(SM_KIND_STATS, "bad/host", buf, sizeof(buf)), 0);
	assert_int_equal(sm_wire_topic(SM_KIND_STATS, "", buf, sizeof(buf)), 0);
	assert_int_equal(sm_wire_topic_parse("stats/cn-01", 11, &kind, host, &err), -1);
	assert_int_equal(err.code, SM_WIRE_E_TOPIC);
	assert_int_equal(sm_wire_topic_parse("nope/cn-01/", 11, &kind, host, &err), -1);
	assert_int_equal(err.code, SM_WIRE_E_KIND);
	assert_int_equal(sm_wire_topic_parse("stats/a b/", 10, &kind, host, &err), -1);
	assert_int_equal(sm_wire_topic_parse("stats//", 7, &kind, host, &err), -1);
	assert_int_equal(sm_wire_topic_parse("/", 1, &kind, host, &err), -1);
}

static void wire_uuid_text_round_trip(void **state)
{
	uint8_t u[16], v[16];
	char text[37];

	(void)state;
	for (int i = 0; i < 16; i++)
		u[i] = (uint8_t)(0xf0 + i);
	sm_uuid_format(u, text);
	assert_string_equal(text, "f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff");
	assert_int_equal(sm_uuid_parse(text, v), 0);
	assert_memory_equal(u, v, 16);
	assert_int_equal(sm_uuid_parse("F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF", v), 0);
	assert_memory_equal(u, v, 16);
	assert_int_equal(sm_uuid_parse("f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfefg", v), -1);
	assert_int_equal(sm_uuid_parse("../../etc/passwd", v), -1);
}

static void wire_json_escapes_tenant_strings(void **state)
{
	struct sm_message m, out;
	struct sm_domain_stats doms[3];
	msgpack_sbuffer buf;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	make_stats(&m, doms);
	strcpy(doms[0].identity.display_name, "<script>alert(\"x\")</script>\\");
	encode(&m, &buf);
	assert_int_equal(sm_wire_decode(buf.data, buf.size, 0, &out, NULL), 0);
	f = open_memstream(&text, &len);
	sm_wire_print_json(&out, f);
	fclose(f);
	assert_null(strchr(text, '\n'));
	assert_null(strstr(text, "<script>"));
	assert_non_null(strstr(text, "\\u003cscript\\u003ealert(\\\"x\\\")"));
	assert_non_null(strstr(text, "\"steal_pct\":null"));
	assert_non_null(strstr(text, "\"uuid\":\"00010203-0405-0607-0809-0a0b0c0d0e0f\""));
	free(text);
	sm_message_clear(&out);
	msgpack_sbuffer_destroy(&buf);
}

/* ---- rejections ------------------------------------------------------------ */

/* Builds a body from a header plus whatever `extra` packs. */
struct body {
	msgpack_sbuffer buf;
	msgpack_packer pk;
};

static void body_begin(struct body *b, const char *kind, size_t extra_keys, uint32_t version)
{
	msgpack_sbuffer_init(&b->buf);
	msgpack_packer_init(&b->pk, &b->buf, msgpack_sbuffer_write);
	msgpack_pack_map(&b->pk, 6 + extra_keys);
	msgpack_pack_str_with_body(&b->pk, "v", 1);
	msgpack_pack_uint32(&b->pk, version);
	msgpack_pack_str_with_body(&b->pk, "kind", 4);
	msgpack_pack_str_with_body(&b->pk, kind, strlen(kind));
	msgpack_pack_str_with_body(&b->pk, "host", 4);
	msgpack_pack_str_with_body(&b->pk, "cn-01", 5);
	msgpack_pack_str_with_body(&b->pk, "time", 4);
	msgpack_pack_double(&b->pk, 1764380000.5);
	msgpack_pack_str_with_body(&b->pk, "seq", 3);
	msgpack_pack_uint64(&b->pk, 1);
	msgpack_pack_str_with_body(&b->pk, "epoch", 5);
	msgpack_pack_uint64(&b->pk, 2);
}

static void key(struct body *b, const char *k)
{
	msgpack_pack_str_with_body(&b->pk, k, strlen(k));
}

static enum sm_wire_code decode_code(struct body *b)
{
	struct sm_message m;
	struct sm_wire_error err;
	int rc = sm_wire_decode(b->buf.data, b->buf.size, 0, &m, &err);

	if (rc == 0) {
		sm_message_clear(&m);
		assert_int_equal(err.code, SM_WIRE_OK);
	} else {
		assert_int_not_equal(err.code, SM_WIRE_OK);
		assert_true(strlen(err.msg) > 0);
	}
	msgpack_sbuffer_destroy(&b->buf);
	return rc == 0 ? SM_WIRE_OK : err.code;
}

/* A heartbeat with one extra key whose value the caller packs. */
static void hb_with(struct body *b, const char *k)
{
	body_begin(b, "hb", 2, SM_WIRE_VERSION);
	key(b, "interval");
	msgpack_pack_double(&b->pk, 1.0);
	key(b, k);
}

static void wire_rejects_oversized_body(void **state)
{
	struct sm_message m, out;
	struct sm_domain_stats doms[3];
	struct sm_wire_error err;
	msgpack_sbuffer buf;

	(void)state;
	make_stats(&m, doms);
	encode(&m, &buf);
	assert_int_equal(sm_wire_decode(buf.data, buf.size, buf.size - 1, &out, &err), -1);
	assert_int_equal(err.code, SM_WIRE_E_TOO_BIG);
	assert_int_equal(sm_wire_peek_header(buf.data, buf.size, buf.size - 1, &out.hdr, &err),
			 -1);
	assert_int_equal(err.code, SM_WIRE_E_TOO_BIG);
	assert_int_equal(sm_wire_decode(buf.data, buf.size, buf.size, &out, &err), 0);
	sm_message_clear(&out);
	msgpack_sbuffer_destroy(&buf);
}

static void wire_rejects_every_truncation(void **state)
{
	struct sm_message m, out;
	struct sm_domain_stats doms[3];
	struct sm_wire_error err;
	msgpack_sbuffer buf;

	(void)state;
	make_stats(&m, doms);
	encode(&m, &buf);
	for (size_t len = 0; len < buf.size; len++) {
		/* A copy of exactly `len` bytes, so ASan sees any overread. */
		char *cut = malloc(len ? len : 1);

		memcpy(cut, buf.data, len);
		assert_int_equal(sm_wire_decode(cut, len, 0, &out, &err), -1);
		assert_true(err.code == SM_WIRE_E_TRUNCATED || err.code == SM_WIRE_E_COUNT ||
			    err.code == SM_WIRE_E_MISSING);
		free(cut);
	}
	msgpack_sbuffer_destroy(&buf);
}

static void wire_rejects_garbage(void **state)
{
	static const uint8_t not_a_map[] = {0x93, 1, 2, 3};
	static const uint8_t reserved[] = {0x81, 0xa1, 'x', 0xc1};
	static const char text[] = "GET / HTTP/1.1\r\n\r\n";
	struct sm_message out;
	struct sm_wire_error err;
	struct body b;
	uint32_t seed = 12345;

	(void)state;
	assert_int_equal(sm_wire_decode(not_a_map, sizeof(not_a_map), 0, &out, &err), -1);
	assert_int_equal(err.code, SM_WIRE_E_GARBAGE);
	assert_int_equal(sm_wire_decode(reserved, sizeof(reserved), 0, &out, &err), -1);
	assert_int_equal(err.code, SM_WIRE_E_GARBAGE);
	assert_int_equal(sm_wire_decode(text, sizeof(text) - 1, 0, &out, &err), -1);
	/* Bytes after a complete message. */
	hb_with(&b, "x");
	msgpack_pack_nil(&b.pk);
	msgpack_pack_nil(&b.pk);
	assert_int_equal(decode_code(&b), SM_WIRE_E_GARBAGE);
	/* Random bytes never decode into anything and never crash. */
	for (int i = 0; i < 2000; i++) {
		uint8_t rnd[64];

		for (size_t j = 0; j < sizeof(rnd); j++) {
			seed = seed * 1103515245u + 12345u;
			rnd[j] = (uint8_t)(seed >> 16);
		}
		assert_int_equal(sm_wire_decode(rnd, sizeof(rnd), 0, &out, &err), -1);
	}
}

static void wire_rejects_wrong_types(void **state)
{
	struct body b;

	(void)state;
	/* seq as a string */
	msgpack_sbuffer_init(&b.buf);
	msgpack_packer_init(&b.pk, &b.buf, msgpack_sbuffer_write);
	msgpack_pack_map(&b.pk, 1);
	key(&b, "seq");
	key(&b, "seven");
	assert_int_equal(decode_code(&b), SM_WIRE_E_TYPE);
	/* heartbeat interval as a boolean */
	body_begin(&b, "hb", 1, SM_WIRE_VERSION);
	key(&b, "interval");
	msgpack_pack_true(&b.pk);
	assert_int_equal(decode_code(&b), SM_WIRE_E_TYPE);
	/* host name as binary instead of str */
	msgpack_sbuffer_init(&b.buf);
	msgpack_packer_init(&b.pk, &b.buf, msgpack_sbuffer_write);
	msgpack_pack_map(&b.pk, 1);
	key(&b, "host");
	msgpack_pack_bin_with_body(&b.pk, "cn", 2);
	assert_int_equal(decode_code(&b), SM_WIRE_E_TYPE);
	/* event uuid of 15 bytes */
	body_begin(&b, "event", 3, SM_WIRE_VERSION);
	key(&b, "event");
	key(&b, "stopped");
	key(&b, "uuid");
	msgpack_pack_bin_with_body(&b.pk, "0123456789abcde", 15);
	key(&b, "name");
	key(&b, "x");
	assert_int_equal(decode_code(&b), SM_WIRE_E_RANGE);
	/* negative counter */
	body_begin(&b, "collector", 2, SM_WIRE_VERSION);
	key(&b, "interval");
	msgpack_pack_double(&b.pk, 1.0);
	key(&b, "frames_in");
	msgpack_pack_int64(&b.pk, -5);
	assert_int_equal(decode_code(&b), SM_WIRE_E_RANGE);
}

static void wire_rejects_missing_required_fields(void **state)
{
	struct body b;

	(void)state;
	body_begin(&b, "hb", 0, SM_WIRE_VERSION); /* no interval */
	assert_int_equal(decode_code(&b), SM_WIRE_E_MISSING);
	body_begin(&b, "stats", 1, SM_WIRE_VERSION); /* no node, no domains */
	key(&b, "interval");
	msgpack_pack_double(&b.pk, 1.0);
	assert_int_equal(decode_code(&b), SM_WIRE_E_MISSING);
	/* no seq in the header */
	msgpack_sbuffer_init(&b.buf);
	msgpack_packer_init(&b.pk, &b.buf, msgpack_sbuffer_write);
	msgpack_pack_map(&b.pk, 2);
	key(&b, "v");
	msgpack_pack_uint32(&b.pk, SM_WIRE_VERSION);
	key(&b, "kind");
	key(&b, "hb");
	assert_int_equal(decode_code(&b), SM_WIRE_E_MISSING);
}

/* A record's key given twice is refused, a list's as a scalar's, even when
 * the first copy was empty (nothing to leak, but two readers could differ). */
static void wire_rejects_a_key_given_twice(void **state)
{
	struct body b;

	(void)state;
	body_begin(&b, "stats", 3, SM_WIRE_VERSION);
	key(&b, "interval");
	msgpack_pack_double(&b.pk, 1.0);
	key(&b, "interval");
	msgpack_pack_double(&b.pk, 2.0);
	key(&b, "domains");
	msgpack_pack_array(&b.pk, 0);
	assert_int_equal(decode_code(&b), SM_WIRE_E_GARBAGE);
	body_begin(&b, "stats", 3, SM_WIRE_VERSION);
	key(&b, "interval");
	msgpack_pack_double(&b.pk, 1.0);
	key(&b, "domains");
	msgpack_pack_array(&b.pk, 0);
	key(&b, "domains");
	msgpack_pack_array(&b.pk, 0);
	assert_int_equal(decode_code(&b), SM_WIRE_E_GARBAGE);
}

static void wire_rejects_absurd_counts(void **state)
{
	struct body b;
	static const uint8_t billion_keys[] = {0xdf, 0x3b, 0x9a, 0xca, 0x00};

	(void)state;
	/* A billion domains announced in a few bytes. */
	body_begin(&b, "stats", 1, SM_WIRE_VERSION);
	key(&b, "domains");
	msgpack_pack_array(&b.pk, 1000000000u);
	assert_int_equal(decode_code(&b), SM_WIRE_E_COUNT);
	/* More domains than the protocol allows, even if the bytes were there. */
	body_begin(&b, "stats", 1, SM_WIRE_VERSION);
	key(&b, "domains");
	msgpack_pack_array(&b.pk, SM_WIRE_MAX_DOMAINS + 1);
	for (int i = 0; i < SM_WIRE_MAX_DOMAINS + 1; i++) /* 34 bytes each */
		msgpack_pack_str_with_body(&b.pk, "0123456789abcdef0123456789abcdef", 32);
	{
		struct sm_message m;
		struct sm_wire_error err;

		assert_int_equal(sm_wire_decode(b.buf.data, b.buf.size, 0, &m, &err), -1);
		assert_int_equal(err.code, SM_WIRE_E_COUNT);
		assert_non_null(strstr(err.msg, "limit 16384"));
		msgpack_sbuffer_destroy(&b.buf);
	}
	/* A top-level map of a billion pairs. */
	{
		struct sm_message m;
		struct sm_wire_error err;

		assert_int_equal(sm_wire_decode(billion_keys, sizeof(billion_keys), 0, &m, &err),
				 -1);
		assert_int_equal(err.code, SM_WIRE_E_COUNT);
	}
	/* A string claiming 4 GiB. */
	hb_with(&b, "x");
	msgpack_pack_str(&b.pk, 0xffffffffu);
	assert_int_equal(decode_code(&b), SM_WIRE_E_TRUNCATED);
}

static void wire_rejects_overlong_and_invalid_strings(void **state)
{
	char longname[SM_NAME_MAX + 2];
	struct body b;

	(void)state;
	memset(longname, 'a', sizeof(longname));
	body_begin(&b, "event", 3, SM_WIRE_VERSION);
	key(&b, "event");
	key(&b, "started");
	key(&b, "uuid");
	msgpack_pack_bin_with_body(&b.pk, "0123456789abcdef", 16);
	key(&b, "name");
	msgpack_pack_str_with_body(&b.pk, longname, SM_NAME_MAX + 1);
	assert_int_equal(decode_code(&b), SM_WIRE_E_STRING);

	body_begin(&b, "event", 3, SM_WIRE_VERSION);
	key(&b, "event");
	key(&b, "started");
	key(&b, "uuid");
	msgpack_pack_bin_with_body(&b.pk, "0123456789abcdef", 16);
	key(&b, "name");
	msgpack_pack_str_with_body(&b.pk, "ab\xc0\xaf", 4); /* overlong '/' */
	assert_int_equal(decode_code(&b), SM_WIRE_E_UTF8);

	/* A host that is not a valid topic host. */
	msgpack_sbuffer_init(&b.buf);
	msgpack_packer_init(&b.pk, &b.buf, msgpack_sbuffer_write);
	msgpack_pack_map(&b.pk, 1);
	key(&b, "host");
	key(&b, "../etc");
	assert_int_equal(decode_code(&b), SM_WIRE_E_RANGE);
}

static void wire_rejects_nan_and_infinity(void **state)
{
	struct body b;

	(void)state;
	body_begin(&b, "hb", 1, SM_WIRE_VERSION);
	key(&b, "interval");
	msgpack_pack_double(&b.pk, NAN);
	assert_int_equal(decode_code(&b), SM_WIRE_E_NOT_FINITE);
	body_begin(&b, "hb", 1, SM_WIRE_VERSION);
	key(&b, "interval");
	msgpack_pack_float(&b.pk, INFINITY);
	assert_int_equal(decode_code(&b), SM_WIRE_E_NOT_FINITE);
	/* nil is "unknown" only where a field is nullable; interval is not. */
	body_begin(&b, "hb", 1, SM_WIRE_VERSION);
	key(&b, "interval");
	msgpack_pack_nil(&b.pk);
	assert_int_equal(decode_code(&b), SM_WIRE_E_TYPE);
}

static void wire_rejects_other_versions_clearly(void **state)
{
	struct body b;
	struct sm_message m;
	struct sm_wire_error err;

	(void)state;
	body_begin(&b, "hb", 1, SM_WIRE_VERSION + 1);
	key(&b, "interval");
	msgpack_pack_double(&b.pk, 1.0);
	assert_int_equal(sm_wire_decode(b.buf.data, b.buf.size, 0, &m, &err), -1);
	assert_int_equal(err.code, SM_WIRE_E_VERSION);
	assert_non_null(strstr(err.msg, "protocol version 3"));
	assert_non_null(strstr(err.msg, "speaks 1 to 2"));
	msgpack_sbuffer_destroy(&b.buf);
	body_begin(&b, "hb", 1, 0);
	key(&b, "interval");
	msgpack_pack_double(&b.pk, 1.0);
	assert_int_equal(decode_code(&b), SM_WIRE_E_VERSION);
	/* Version 1 is still read: its bodies are version 2 bodies with only
	 * full records (wire_reads_version_1_records). */
	body_begin(&b, "hb", 1, 1);
	key(&b, "interval");
	msgpack_pack_double(&b.pk, 1.0);
	assert_int_equal(decode_code(&b), SM_WIRE_OK);
}

static void wire_rejects_unknown_kind_and_topic_mismatch(void **state)
{
	struct body b;
	struct sm_message m;
	struct sm_wire_error err;

	(void)state;
	body_begin(&b, "metrics", 0, SM_WIRE_VERSION);
	assert_int_equal(decode_code(&b), SM_WIRE_E_KIND);

	body_begin(&b, "hb", 1, SM_WIRE_VERSION);
	key(&b, "interval");
	msgpack_pack_double(&b.pk, 1.0);
	assert_int_equal(sm_wire_decode_frames("hb/cn-01/", 9, b.buf.data, b.buf.size, 0, &m,
					       &err),
			 0);
	sm_message_clear(&m);
	assert_int_equal(sm_wire_decode_frames("hb/cn-02/", 9, b.buf.data, b.buf.size, 0, &m,
					       &err),
			 -1);
	assert_int_equal(err.code, SM_WIRE_E_TOPIC);
	assert_int_equal(sm_wire_decode_frames("stats/cn-01/", 12, b.buf.data, b.buf.size, 0, &m,
					       &err),
			 -1);
	assert_int_equal(err.code, SM_WIRE_E_TOPIC);
	msgpack_sbuffer_destroy(&b.buf);
}

static void wire_rejects_deep_nesting(void **state)
{
	struct body b;

	(void)state;
	hb_with(&b, "unknown");
	for (int i = 0; i < 100; i++)
		msgpack_pack_array(&b.pk, 1);
	msgpack_pack_nil(&b.pk);
	assert_int_equal(decode_code(&b), SM_WIRE_E_DEPTH);
}

static void wire_ignores_unknown_keys_and_extra_fields(void **state)
{
	struct sm_message m, out;
	struct sm_domain_stats doms[3];
	struct body b;

	(void)state;
	/* An unknown key holding a nested structure is skipped. */
	hb_with(&b, "future_field");
	msgpack_pack_map(&b.pk, 1);
	key(&b, "a");
	msgpack_pack_array(&b.pk, 2);
	msgpack_pack_float(&b.pk, 1.0f);
	msgpack_pack_ext_with_body(&b.pk, "xyz", 3, 5);
	assert_int_equal(decode_code(&b), SM_WIRE_OK);

	/* A domain record with two appended fields still decodes. */
	make_stats(&m, doms);
	m.u.stats.ndomains = 1;
	msgpack_sbuffer_init(&b.buf);
	msgpack_packer_init(&b.pk, &b.buf, msgpack_sbuffer_write);
	sm_wire_pack_stats_begin(&b.pk, &m.hdr, 1.0, &m.u.stats.host, 1);
	{
		/* Re-pack domain 1 (no devices) with 20 fields by hand. */
		msgpack_sbuffer one;
		msgpack_packer p1;

		msgpack_sbuffer_init(&one);
		msgpack_packer_init(&p1, &one, msgpack_sbuffer_write);
		sm_wire_pack_domain(&p1, &doms[1]);
		/* 18 elements need the array16 form: 0xdc 0x00 0x12. */
		assert_int_equal((uint8_t)one.data[0], 0xdc);
		assert_int_equal((uint8_t)one.data[2], 18);
		msgpack_pack_array(&b.pk, 20);
		msgpack_sbuffer_write(&b.buf, one.data + 3, one.size - 3);
		msgpack_pack_str_with_body(&b.pk, "new", 3);
		msgpack_pack_uint8(&b.pk, 1);
		msgpack_sbuffer_destroy(&one);
	}
	assert_int_equal(sm_wire_decode(b.buf.data, b.buf.size, 0, &out, NULL), 0);
	assert_int_equal(out.u.stats.ndomains, 1);
	assert_string_equal(out.u.stats.domains[0].name, doms[1].name);
	sm_message_clear(&out);
	msgpack_sbuffer_destroy(&b.buf);
}

/* Collector counters across versions: an older collector's body (no
 * origin_unknown, no origin_mismatch) decodes with zeros, and a newer one's
 * drop reasons and counters this decoder does not know are skipped. */
static void wire_collector_counters_old_and_new_decode(void **state)
{
	struct body b;
	struct sm_message m;

	(void)state;
	body_begin(&b, "collector", 2, SM_WIRE_VERSION);
	key(&b, "interval");
	msgpack_pack_double(&b.pk, 10.0);
	key(&b, "dropped");
	msgpack_pack_map(&b.pk, 2);
	key(&b, "host_mismatch");
	msgpack_pack_uint64(&b.pk, 5);
	key(&b, "refused");
	msgpack_pack_uint64(&b.pk, 1);
	assert_int_equal(sm_wire_decode(b.buf.data, b.buf.size, 0, &m, NULL), 0);
	assert_true(m.u.collector.dropped[SM_DROP_HOST_MISMATCH] == 5);
	assert_true(m.u.collector.dropped[SM_DROP_ORIGIN_MISMATCH] == 0);
	assert_true(m.u.collector.origin_unknown == 0);
	sm_message_clear(&m);
	msgpack_sbuffer_destroy(&b.buf);

	body_begin(&b, "collector", 3, SM_WIRE_VERSION);
	key(&b, "interval");
	msgpack_pack_double(&b.pk, 10.0);
	key(&b, "dropped");
	msgpack_pack_map(&b.pk, 2);
	key(&b, "origin_mismatch");
	msgpack_pack_uint64(&b.pk, 7);
	key(&b, "some_future_reason");
	msgpack_pack_uint64(&b.pk, 9);
	key(&b, "some_future_counter");
	msgpack_pack_uint64(&b.pk, 11);
	assert_int_equal(sm_wire_decode(b.buf.data, b.buf.size, 0, &m, NULL), 0);
	assert_true(m.u.collector.dropped[SM_DROP_ORIGIN_MISMATCH] == 7);
	sm_message_clear(&m);
	msgpack_sbuffer_destroy(&b.buf);
}

static void wire_peek_header_reads_header_only(void **state)
{
	struct sm_message m;
	struct sm_domain_stats doms[3];
	struct sm_header h;
	struct sm_wire_error err;
	msgpack_sbuffer buf;

	(void)state;
	make_stats(&m, doms);
	encode(&m, &buf);
	assert_int_equal(sm_wire_peek_header(buf.data, buf.size, 0, &h, &err), 0);
	assert_int_equal(h.kind, SM_KIND_STATS);
	assert_true(h.seq == 7);
	assert_string_equal(h.host, "cn-01.rack7");
	/* peek validates structure too: a truncated body fails. */
	assert_int_equal(sm_wire_peek_header(buf.data, buf.size - 3, 0, &h, &err), -1);
	msgpack_sbuffer_destroy(&buf);
}

/* A relay's envelope reads the header and stops: a body cut after it
 * passes, one cut inside it does not; a header that comes after the payload
 * is still found. */
static void wire_peek_envelope_stops_after_the_header(void **state)
{
	struct sm_message m;
	struct sm_domain_stats doms[3];
	struct sm_header h, whole;
	struct sm_wire_error err;
	msgpack_sbuffer buf;
	msgpack_packer pk;

	(void)state;
	make_stats(&m, doms);
	encode(&m, &buf);
	assert_int_equal(sm_wire_peek_header(buf.data, buf.size, 0, &whole, &err), 0);
	assert_int_equal(sm_wire_peek_envelope(buf.data, buf.size, 0, &h, &err), 0);
	assert_memory_equal(&h, &whole, sizeof(h));
	assert_int_equal(sm_wire_peek_envelope(buf.data, buf.size - 3, 0, &h, &err), 0);
	assert_string_equal(h.host, "cn-01.rack7");
	for (size_t cut = 1; cut < 30; cut++) /* inside the header: refused */
		assert_int_equal(sm_wire_peek_envelope(buf.data, cut, 0, &h, &err), -1);
	msgpack_sbuffer_destroy(&buf);

	/* payload first, header last: read all the same */
	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 7);
	msgpack_pack_str_with_body(&pk, "domain", 6);
	msgpack_pack_str_with_body(&pk, "vm-1", 4);
	msgpack_pack_str_with_body(&pk, "v", 1);
	msgpack_pack_uint32(&pk, SM_WIRE_VERSION);
	msgpack_pack_str_with_body(&pk, "kind", 4);
	msgpack_pack_str_with_body(&pk, "event", 5);
	msgpack_pack_str_with_body(&pk, "host", 4);
	msgpack_pack_str_with_body(&pk, "cn-9", 4);
	msgpack_pack_str_with_body(&pk, "time", 4);
	msgpack_pack_double(&pk, 1764380000.5);
	msgpack_pack_str_with_body(&pk, "seq", 3);
	msgpack_pack_uint64(&pk, 3);
	msgpack_pack_str_with_body(&pk, "epoch", 5);
	msgpack_pack_uint64(&pk, 4);
	assert_int_equal(sm_wire_peek_envelope(buf.data, buf.size, 0, &h, &err), 0);
	assert_string_equal(h.host, "cn-9");
	assert_true(h.epoch == 4);
	msgpack_sbuffer_destroy(&buf);
}

/* A header field given twice is refused by every reader that goes past the
 * first: a relay stops at the first, so a consumer must never believe the
 * second (here: a host smuggled past the relay's identity check). */
static void wire_refuses_a_header_field_given_twice(void **state)
{
	struct sm_header h;
	struct sm_message m;
	struct sm_wire_error err;
	msgpack_sbuffer buf;
	msgpack_packer pk;

	(void)state;
	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 9);
	msgpack_pack_str_with_body(&pk, "v", 1);
	msgpack_pack_uint32(&pk, SM_WIRE_VERSION);
	msgpack_pack_str_with_body(&pk, "kind", 4);
	msgpack_pack_str_with_body(&pk, "event", 5);
	msgpack_pack_str_with_body(&pk, "host", 4);
	msgpack_pack_str_with_body(&pk, "cn-1", 4);
	msgpack_pack_str_with_body(&pk, "time", 4);
	msgpack_pack_double(&pk, 1764380000.5);
	msgpack_pack_str_with_body(&pk, "seq", 3);
	msgpack_pack_uint64(&pk, 3);
	msgpack_pack_str_with_body(&pk, "epoch", 5);
	msgpack_pack_uint64(&pk, 4);
	msgpack_pack_str_with_body(&pk, "event", 5);
	msgpack_pack_str_with_body(&pk, "stopped", 7);
	msgpack_pack_str_with_body(&pk, "host", 4);
	msgpack_pack_str_with_body(&pk, "cn-2", 4);
	msgpack_pack_str_with_body(&pk, "domain", 6);
	msgpack_pack_str_with_body(&pk, "vm-1", 4);
	assert_int_equal(sm_wire_peek_envelope(buf.data, buf.size, 0, &h, &err), 0);
	assert_string_equal(h.host, "cn-1");
	assert_int_equal(sm_wire_peek_header(buf.data, buf.size, 0, &h, &err), -1);
	assert_int_equal(err.code, SM_WIRE_E_GARBAGE);
	assert_non_null(strstr(err.msg, "host"));
	assert_int_equal(sm_wire_decode(buf.data, buf.size, 0, &m, &err), -1);
	assert_int_equal(err.code, SM_WIRE_E_GARBAGE);
	msgpack_sbuffer_destroy(&buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wire_stats_round_trip_keeps_every_field),
		cmocka_unit_test(wire_streaming_pack_equals_whole_encode),
		cmocka_unit_test(wire_event_round_trip),
		cmocka_unit_test(wire_heartbeat_and_collector_round_trip),
		cmocka_unit_test(wire_encoder_sanitises_hostile_names),
		cmocka_unit_test(wire_topic_round_trip_and_rejections),
		cmocka_unit_test(wire_uuid_text_round_trip),
		cmocka_unit_test(wire_json_escapes_tenant_strings),
		cmocka_unit_test(wire_rejects_oversized_body),
		cmocka_unit_test(wire_rejects_every_truncation),
		cmocka_unit_test(wire_rejects_garbage),
		cmocka_unit_test(wire_rejects_wrong_types),
		cmocka_unit_test(wire_rejects_missing_required_fields),
		cmocka_unit_test(wire_rejects_a_key_given_twice),
		cmocka_unit_test(wire_rejects_absurd_counts),
		cmocka_unit_test(wire_rejects_overlong_and_invalid_strings),
		cmocka_unit_test(wire_rejects_nan_and_infinity),
		cmocka_unit_test(wire_rejects_other_versions_clearly),
		cmocka_unit_test(wire_rejects_unknown_kind_and_topic_mismatch),
		cmocka_unit_test(wire_rejects_deep_nesting),
		cmocka_unit_test(wire_ignores_unknown_keys_and_extra_fields),
		cmocka_unit_test(wire_collector_counters_old_and_new_decode),
		cmocka_unit_test(wire_peek_header_reads_header_only),
		cmocka_unit_test(wire_peek_envelope_stops_after_the_header),
		cmocka_unit_test(wire_refuses_a_header_field_given_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
