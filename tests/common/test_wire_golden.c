/*
 * test_wire_golden.c — pins the wire protocol's exact bytes and the JSON
 * that stackmon-sub prints. Each message below is encoded and compared,
 * byte for byte, with tests/fixtures/wire_golden.txt, made by the encoder
 * as it stood before the field tables; decoding the pinned bytes and
 * encoding again must give them back. A change here is a protocol change:
 * regenerate only on purpose (SM_GOLDEN_WRITE=1) and say so in PROTOCOL.md.
 */
#define _GNU_SOURCE /* asprintf, open_memstream */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sm_wire.h"

#define MAX_CASES 16

/* One pinned message: its name, body bytes as hex, and its JSON line. */
struct golden {
	char name[32];
	char *hex;
	char *json;
};

static void fill_header(struct sm_header *h, enum sm_msg_kind kind, uint64_t seq)
{
	memset(h, 0, sizeof(*h));
	h->version = SM_WIRE_VERSION;
	h->kind = kind;
	strcpy(h->host, "cn-01.rack7");
	h->time = 1764380000.123456;
	h->seq = seq;
	h->epoch = UINT64_C(0xdeadbeefcafe1234);
}

static struct sm_disk_stats g_disks[2] = {
	{"vda", 10, 4096, 20, 8192, 0, 1.5, 512.25, 0.1, 123456.789},
	{"vdb", UINT64_MAX, 1, 2, 3, 4, NAN, NAN, NAN, NAN},
};
static struct sm_nic_stats g_nics[2] = {
	{"tap1a2b3c4d-5e", 1000, 10, 1, 2, 2000, 20, 3, 4, 100.0, 1.0 / 3, 2e9, 0.0},
	{"tap-x", 0, 0, 0, 0, UINT64_C(1) << 53, UINT64_MAX - 1, 0, 0, NAN, NAN, NAN, NAN},
};
static struct sm_domain_stats g_doms[4];

/* Stats with every field present, absent, extreme and tenant-hostile. */
static void make_stats(struct sm_message *m)
{
	memset(m, 0, sizeof(*m));
	memset(g_doms, 0, sizeof(g_doms));
	fill_header(&m->hdr, SM_KIND_STATS, 7);
	m->u.stats.interval = 10.0;
	m->u.stats.host = (struct sm_host_stats){
		.ncpus = 64, .cpu_pct = 12.3, .load = {0.5, 1.0 / 3, 17.75},
		.mem_total_kib = 263921408, .mem_used_kib = 1200000, .mem_pct = 33.333333,
		.libvirt_ok = true, .libvirt_latency_ms = 3.5, .domains_stale = 1};
	for (int i = 0; i < 4; i++) {
		struct sm_domain_stats *d = &g_doms[i];

		for (int j = 0; j < 16; j++)
			d->uuid[j] = (uint8_t)(i * 37 + j * 11);
		snprintf(d->name, sizeof(d->name), "instance-%08x", i);
		d->state = (uint32_t)(i + 1);
		d->vcpus = (uint32_t)(1u << i);
		d->cpu_time_ns = UINT64_C(123456789012) * (uint64_t)(i + 1);
		d->cpu_pct = 99.99 - i;
		d->steal_pct = 0.01 * i;
		d->load[0] = 0.5 * i, d->load[1] = 2.0 / 3, d->load[2] = 1e-7;
		d->mem_basis = (uint32_t)i;
		d->mem_total_kib = UINT64_C(1) << (20 + i);
		d->mem_used_kib = UINT64_C(1) << (18 + i);
		d->mem_pct = 25.0;
	}
	g_doms[0].flags = SM_DOM_NOVA;
	g_doms[0].has_identity = true;
	strcpy(g_doms[0].identity.display_name, "web <1> \"é\"\n\\ \xe2\x80\xae");
	strcpy(g_doms[0].identity.project_id, "6f3e0d4c8a1b4e8e9d7c5b3a1f2e4d6c");
	strcpy(g_doms[0].identity.project_name, "acme");
	strcpy(g_doms[0].identity.user_id, "u1");
	strcpy(g_doms[0].identity.user_name, "alice");
	strcpy(g_doms[0].identity.flavor, "m1.small");
	g_doms[0].ndisks = 2;
	g_doms[0].disks = g_disks;
	g_doms[0].nnics = 2;
	g_doms[0].nics = g_nics;
	g_doms[1].has_identity = true; /* identity present but all empty */
	g_doms[2].flags = SM_DOM_STALE;
	g_doms[2].cpu_pct = NAN;
	g_doms[2].steal_pct = NAN;
	g_doms[2].load[0] = g_doms[2].load[1] = g_doms[2].load[2] = NAN;
	g_doms[2].mem_pct = NAN;
	g_doms[3].mem_basis = 4;
	g_doms[3].cpu_pct = 0;
	g_doms[3].ndisks = 1;
	g_doms[3].disks = &g_disks[1];
	m->u.stats.ndomains = 4;
	m->u.stats.domains = g_doms;
}

/* Fills case `i`; returns false past the last one. */
static bool make_case(int i, struct sm_message *m, char name[32])
{
	static struct sm_publisher_loss rows[2] = {{"cn-01", SM_KIND_STATS, 100, 3},
						   {"cn-02", SM_KIND_EVENT, 5, 0}};

	memset(m, 0, sizeof(*m));
	switch (i) {
	case 0:
		strcpy(name, "stats_full");
		make_stats(m);
		return true;
	case 1:
		strcpy(name, "stats_node_unknowns");
		make_stats(m);
		m->u.stats.host.cpu_pct = NAN;
		m->u.stats.host.mem_pct = NAN;
		m->u.stats.host.libvirt_ok = false;
		m->u.stats.host.libvirt_latency_ms = NAN;
		m->u.stats.host.load[1] = NAN;
		m->u.stats.ndomains = 0;
		return true;
	case 2:
		strcpy(name, "event_started");
		fill_header(&m->hdr, SM_KIND_EVENT, 3);
		m->u.event.type = SM_EVENT_STARTED;
		memset(m->u.event.uuid, 0xab, 16);
		strcpy(m->u.event.name, "instance-0000002a");
		strcpy(m->u.event.reason, "booted");
		m->u.event.has_identity = true;
		strcpy(m->u.event.identity.project_name, "acme");
		strcpy(m->u.event.identity.display_name, "a\tb");
		return true;
	case 3:
		strcpy(name, "event_stopped_anonymous");
		fill_header(&m->hdr, SM_KIND_EVENT, 4);
		m->u.event.type = SM_EVENT_STOPPED;
		memset(m->u.event.uuid, 0x01, 16);
		strcpy(m->u.event.name, "x");
		return true;
	case 4:
		strcpy(name, "heartbeat");
		fill_header(&m->hdr, SM_KIND_HEARTBEAT, 1);
		m->u.hb.interval = 0.5;
		return true;
	case 5:
		strcpy(name, "heartbeat_max_frame");
		fill_header(&m->hdr, SM_KIND_HEARTBEAT, 2);
		m->u.hb.interval = 2;
		m->u.hb.max_frame = 16777216;
		return true;
	case 6:
		strcpy(name, "collector");
		fill_header(&m->hdr, SM_KIND_COLLECTOR, 9);
		m->u.collector.interval = 10;
		m->u.collector.frames_in = 1000;
		m->u.collector.bytes_in = 123456;
		m->u.collector.frames_out = 999;
		m->u.collector.bytes_out = UINT64_C(1) << 40;
		m->u.collector.frames_up = 7;
		for (int j = 0; j < SM_DROP_COUNT; j++)
			m->u.collector.dropped[j] = (uint64_t)j * 3;
		m->u.collector.origin_unknown = 6;
		m->u.collector.lost = 3;
		m->u.collector.publishers = 2;
		strcpy(m->u.collector.upstream, "tcp://master:7100");
		m->u.collector.nloss = 2;
		m->u.collector.loss = rows;
		return true;
	case 7:
		strcpy(name, "collector_master_empty");
		fill_header(&m->hdr, SM_KIND_COLLECTOR, 10);
		m->u.collector.interval = 0.25;
		return true;
	default:
		return false;
	}
}

static char *to_hex(const char *data, size_t n)
{
	char *s = malloc(2 * n + 1);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", (unsigned char)data[i]);
	s[2 * n] = '\0';
	return s;
}

static char *json_of(const struct sm_message *m)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	sm_wire_print_json(m, f);
	assert_int_equal(fclose(f), 0);
	return s;
}

static char *fixture_path(void)
{
	const char *src = getenv("STACKMON_SOURCE_DIR");
	char *p = NULL;

	assert_non_null(src);
	assert_true(asprintf(&p, "%s/tests/fixtures/wire_golden.txt", src) > 0);
	return p;
}

/* Fixture lines: "<name> hex <bytes>" and "<name> json <line>". */
static int load(struct golden g[MAX_CASES])
{
	char *path = fixture_path();
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int n = 0;

	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		char *sp1 = strchr(line, ' '), *sp2, *nl;

		if (line[0] == '#' || sp1 == NULL)
			continue;
		sp2 = strchr(sp1 + 1, ' ');
		assert_non_null(sp2);
		nl = strchr(sp2, '\n');
		if (nl != NULL)
			*nl = '\0';
		*sp1 = *sp2 = '\0';
		if (n == 0 || strcmp(g[n - 1].name, line) != 0) {
			assert_true(n < MAX_CASES);
			memset(&g[n], 0, sizeof(g[n]));
			snprintf(g[n].name, sizeof(g[n].name), "%s", line);
			n++;
		}
		if (strcmp(sp1 + 1, "hex") == 0)
			g[n - 1].hex = strdup(sp2 + 1);
		else
			g[n - 1].json = strdup(sp2 + 1);
	}
	free(line);
	fclose(f);
	free(path);
	return n;
}

static void write_fixture(void)
{
	char *path = fixture_path();
	FILE *f = fopen(path, "w");
	struct sm_message m;
	char name[32];

	assert_non_null(f);
	fputs("# Pinned wire bytes and stackmon-sub JSON (tests/common/test_wire_golden.c).\n", f);
	for (int i = 0; make_case(i, &m, name); i++) {
		msgpack_sbuffer buf;
		struct sm_message dec;
		char *hex, *json;

		msgpack_sbuffer_init(&buf);
		assert_int_equal(sm_wire_encode(&m, &buf), 0);
		hex = to_hex(buf.data, buf.size);
		/* The JSON pinned is what stackmon-sub prints: of the decoded
		 * message, whose rates have been through float32. */
		assert_int_equal(sm_wire_decode(buf.data, buf.size, 0, &dec, NULL), 0);
		json = json_of(&dec);
		sm_message_clear(&dec);
		fprintf(f, "%s hex %s\n%s json %s\n", name, hex, name, json);
		free(hex);
		free(json);
		msgpack_sbuffer_destroy(&buf);
	}
	assert_int_equal(fclose(f), 0);
	free(path);
}

static void wire_encoding_matches_pinned_bytes(void **state)
{
	struct golden g[MAX_CASES];
	int n, i;
	struct sm_message m;
	char name[32];

	(void)state;
	if (getenv("SM_GOLDEN_WRITE") != NULL)
		write_fixture();
	n = load(g);
	for (i = 0; make_case(i, &m, name); i++) {
		msgpack_sbuffer buf;
		char *hex;

		assert_true(i < n);
		assert_string_equal(g[i].name, name);
		msgpack_sbuffer_init(&buf);
		assert_int_equal(sm_wire_encode(&m, &buf), 0);
		hex = to_hex(buf.data, buf.size);
		assert_string_equal(hex, g[i].hex);
		free(hex);
		msgpack_sbuffer_destroy(&buf);
	}
	assert_int_equal(i, n);
	for (i = 0; i < n; i++) {
		free(g[i].hex);
		free(g[i].json);
	}
}

static size_t from_hex(const char *hex, unsigned char **out)
{
	size_t n = strlen(hex) / 2;

	*out = malloc(n ? n : 1);
	assert_non_null(*out);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		(*out)[i] = (unsigned char)v;
	}
	return n;
}

/* Decoding the pinned bytes and encoding again gives the same bytes, and
 * the JSON of the decoded message is the pinned JSON line. */
static void wire_pinned_bytes_decode_to_pinned_json(void **state)
{
	struct golden g[MAX_CASES];
	int n = load(g);

	(void)state;
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		struct sm_message m;
		struct sm_wire_error err;
		unsigned char *body;
		size_t len = from_hex(g[i].hex, &body);
		msgpack_sbuffer buf;
		char *hex, *json;

		if (sm_wire_decode(body, len, 0, &m, &err) != 0)
			fail_msg("%s: %s", g[i].name, err.msg);
		msgpack_sbuffer_init(&buf);
		assert_int_equal(sm_wire_encode(&m, &buf), 0);
		hex = to_hex(buf.data, buf.size);
		assert_string_equal(hex, g[i].hex);
		json = json_of(&m);
		assert_non_null(g[i].json);
		assert_string_equal(json, g[i].json);
		free(json);
		free(hex);
		msgpack_sbuffer_destroy(&buf);
		sm_message_clear(&m);
		free(body);
		free(g[i].hex);
		free(g[i].json);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wire_encoding_matches_pinned_bytes),
		cmocka_unit_test(wire_pinned_bytes_decode_to_pinned_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
