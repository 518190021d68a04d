/*
 * test_brief.c — brief records (docs/PROTOCOL.md "Brief records"): what the
 * encoder sends, what the decoder accepts and refuses, and how sm_brief
 * turns them back into the full records they stand for — exactly for
 * counters, names and identity, and for rates as the growth between two
 * records over their time apart. Frames are real encoder output, decoded by
 * the real decoder, as a receiver gets them.
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

#include "sm_brief.h"
#include "sm_wire.h"

/* ---- fixtures ------------------------------------------------------------ */

/* A domain at second `t` of a steady load: counters grow linearly. */
struct fake {
	struct sm_domain_stats d;
	struct sm_disk_stats disk[2];
	struct sm_nic_stats nic;
};

static void fake_at(struct fake *f, int id, double t)
{
	memset(f, 0, sizeof(*f));
	for (int j = 0; j < 16; j++)
		f->d.uuid[j] = (uint8_t)(id * 31 + j);
	snprintf(f->d.name, sizeof(f->d.name), "instance-%08x", id);
	f->d.state = 1;
	f->d.flags = SM_DOM_NOVA;
	f->d.has_identity = true;
	strcpy(f->d.identity.display_name, "web \"1\" \xc3\xa9");
	strcpy(f->d.identity.project_id, "p-acme");
	strcpy(f->d.identity.project_name, "acme");
	strcpy(f->d.identity.user_id, "u-1");
	strcpy(f->d.identity.user_name, "alice");
	strcpy(f->d.identity.flavor, "m1.small");
	f->d.vcpus = 2;
	f->d.cpu_time_ns = UINT64_C(5000000000000) + (uint64_t)(t * 1.5e9); /* 75 % of 2 */
	f->d.cpu_pct = 75;
	f->d.steal_pct = 1.5;
	f->d.load[0] = f->d.load[1] = f->d.load[2] = 1.5;
	f->d.mem_basis = SM_MEM_GUEST_USABLE;
	f->d.mem_total_kib = 1048576;
	f->d.mem_used_kib = 524288;
	f->d.mem_pct = 50;
	for (int k = 0; k < 2; k++) {
		snprintf(f->disk[k].name, sizeof(f->disk[k].name), "vd%c", 'a' + k);
		f->disk[k].rd_req = 1000 + (uint64_t)(t * 100);
		f->disk[k].rd_bytes = UINT64_C(1) << 40 | (uint64_t)(t * 409600);
		f->disk[k].wr_req = 7;
		f->disk[k].wr_bytes = 4096 * 7;
		f->disk[k].errors = 2;
		f->disk[k].rd_req_ps = 100, f->disk[k].rd_bytes_ps = 409600;
		f->disk[k].wr_req_ps = 0, f->disk[k].wr_bytes_ps = 0;
	}
	strcpy(f->nic.name, "tap1a2b3c4d-5e");
	f->nic.rx_bytes = 123456789 + (uint64_t)(t * 1500);
	f->nic.rx_packets = 1000 + (uint64_t)t;
	f->nic.tx_bytes = 987654321 + (uint64_t)(t * 3000);
	f->nic.tx_packets = 5000 + (uint64_t)(t * 2);
	f->nic.rx_bytes_ps = 1500, f->nic.rx_packets_ps = 1;
	f->nic.tx_bytes_ps = 3000, f->nic.tx_packets_ps = 2;
	f->d.ndisks = 2, f->d.disks = f->disk;
	f->d.nnics = 1, f->d.nics = &f->nic;
}

/* One record of a frame: full, or brief against base (gen, since_us). */
struct rec {
	const struct sm_domain_stats *d;
	const struct sm_domain_stats *base; /* NULL: full */
	uint32_t gen;
	uint64_t since_us;
};

/* Encodes a stats frame of host "cn-01" and decodes it into *m. */
static void frame(struct sm_message *m, uint64_t epoch, uint64_t seq, const struct rec *recs,
		  size_t n)
{
	struct sm_header h = {SM_WIRE_VERSION, SM_KIND_STATS, "cn-01", 1764380000.0 + seq, seq,
			      epoch};
	struct sm_host_stats hs = {.ncpus = 4, .libvirt_ok = true};
	struct sm_wire_error err;
	msgpack_sbuffer buf;
	msgpack_packer pk;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	sm_wire_pack_stats_begin(&pk, &h, 1.0, &hs, n);
	for (size_t i = 0; i < n; i++) {
		if (recs[i].base == NULL) {
			struct sm_domain_stats full = *recs[i].d;

			full.gen = recs[i].gen;
			sm_wire_pack_domain(&pk, &full);
		} else {
			sm_wire_pack_domain_brief(&pk, recs[i].d, recs[i].base, recs[i].gen,
						  recs[i].since_us);
		}
	}
	if (sm_wire_decode(buf.data, buf.size, 0, m, &err) < 0)
		fail_msg("own frame refused: %s", err.msg);
	msgpack_sbuffer_destroy(&buf);
}

static size_t packed_size(const struct sm_domain_stats *d, const struct sm_domain_stats *base)
{
	msgpack_sbuffer buf;
	msgpack_packer pk;
	size_t n;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	if (base == NULL)
		sm_wire_pack_domain(&pk, d);
	else
		sm_wire_pack_domain_brief(&pk, d, base, 0, 1000000);
	n = buf.size;
	msgpack_sbuffer_destroy(&buf);
	return n;
}

static void assert_same_description(const struct sm_domain_stats *got,
				    const struct sm_domain_stats *want)
{
	assert_memory_equal(got->uuid, want->uuid, 16);
	assert_string_equal(got->name, want->name);
	assert_true(got->has_identity == want->has_identity);
	assert_string_equal(got->identity.display_name, want->identity.display_name);
	assert_string_equal(got->identity.project_id, want->identity.project_id);
	assert_string_equal(got->identity.flavor, want->identity.flavor);
	assert_int_equal(got->flags & SM_DOM_NOVA, want->flags & SM_DOM_NOVA);
	assert_int_equal(got->flags & SM_DOM_BRIEF, 0);
	assert_int_equal(got->ndisks, want->ndisks);
	assert_int_equal(got->nnics, want->nnics);
	for (size_t i = 0; i < want->ndisks; i++)
		assert_string_equal(got->disks[i].name, want->disks[i].name);
	for (size_t i = 0; i < want->nnics; i++)
		assert_string_equal(got->nics[i].name, want->nics[i].name);
}

static void assert_same_counters(const struct sm_domain_stats *got,
				 const struct sm_domain_stats *want)
{
	assert_int_equal(got->cpu_time_ns, want->cpu_time_ns);
	for (size_t i = 0; i < want->ndisks; i++) {
		assert_int_equal(got->disks[i].rd_req, want->disks[i].rd_req);
		assert_int_equal(got->disks[i].rd_bytes, want->disks[i].rd_bytes);
		assert_int_equal(got->disks[i].wr_bytes, want->disks[i].wr_bytes);
		assert_int_equal(got->disks[i].errors, want->disks[i].errors);
	}
	assert_int_equal(got->nics[0].rx_bytes, want->nics[0].rx_bytes);
	assert_int_equal(got->nics[0].tx_packets, want->nics[0].tx_packets);
	assert_int_equal(got->nics[0].rx_drops, want->nics[0].rx_drops);
}

/* ---- encoding ------------------------------------------------------------- */

static void brief_record_is_under_half_the_full_one(void **state)
{
	struct fake base, now;

	(void)state;
	fake_at(&base, 1, 0);
	fake_at(&now, 1, 1);
	/* Names, identity and rates left out, counters as growth. */
	assert_true(packed_size(&now.d, &base.d) * 2 < packed_size(&now.d, NULL));
}

/* ---- expansion ------------------------------------------------------------ */

static void brief_records_expand_to_the_full_records(void **state)
{
	struct sm_brief *b = sm_brief_new(4, 16);
	struct fake base, now, plain;
	struct sm_brief_result res;
	struct sm_message m;

	(void)state;
	assert_non_null(b);
	fake_at(&base, 1, 0);
	fake_at(&plain, 2, 0);
	plain.d.has_identity = false;
	plain.d.flags = 0;
	frame(&m, 9, 1, (struct rec[]){{&base.d, NULL, 7, 0}, {&plain.d, NULL, 0, 0}}, 2);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	assert_int_equal(m.u.stats.ndomains, 2);
	assert_int_equal(res.expanded, 0);
	sm_message_clear(&m);

	/* Seconds 1..5, brief: counters exact, names back, rates over 1 s. */
	for (int t = 1; t <= 5; t++) {
		fake_at(&now, 1, t);
		frame(&m, 9, (uint64_t)t + 1,
		      (struct rec[]){{&now.d, &base.d, 7, (uint64_t)t * 1000000u},
				     {&plain.d, NULL, 0, 0}},
		      2);
		assert_int_equal(m.u.stats.domains[0].flags & SM_DOM_BRIEF, SM_DOM_BRIEF);
		assert_int_equal(sm_brief_expand(b, &m, &res), 0);
		assert_int_equal(res.expanded, 1);
		assert_int_equal(res.no_base + res.mismatch + res.no_room, 0);
		assert_int_equal(m.u.stats.ndomains, 2);
		assert_same_description(&m.u.stats.domains[0], &now.d);
		assert_same_counters(&m.u.stats.domains[0], &now.d);
		assert_float_equal(m.u.stats.domains[0].cpu_pct, 75.0, 1e-9);
		assert_float_equal(m.u.stats.domains[0].disks[1].rd_req_ps, 100.0, 1e-9);
		assert_float_equal(m.u.stats.domains[0].disks[1].rd_bytes_ps, 409600.0, 1e-9);
		assert_float_equal(m.u.stats.domains[0].disks[0].wr_req_ps, 0.0, 1e-9);
		assert_float_equal(m.u.stats.domains[0].nics[0].tx_bytes_ps, 3000.0, 1e-9);
		assert_float_equal(m.u.stats.domains[0].nics[0].rx_packets_ps, 1.0, 1e-9);
		/* What a brief record carries as it is. */
		assert_float_equal(m.u.stats.domains[0].steal_pct, 1.5, 1e-6);
		assert_int_equal(m.u.stats.domains[0].mem_used_kib, 524288);
		assert_int_equal(m.u.stats.domains[0].since_us, (uint64_t)t * 1000000u);
		sm_message_clear(&m);
	}

	/* A stale listing (no new sample: same since_us) repeats the rates. */
	frame(&m, 9, 7, (struct rec[]){{&now.d, &base.d, 7, 5000000}}, 1);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	assert_float_equal(m.u.stats.domains[0].cpu_pct, 75.0, 1e-9);
	assert_float_equal(m.u.stats.domains[0].nics[0].tx_bytes_ps, 3000.0, 1e-9);
	sm_message_clear(&m);

	/* A lost frame: the next rates cover both seconds, still exact. */
	fake_at(&now, 1, 7);
	frame(&m, 9, 9, (struct rec[]){{&now.d, &base.d, 7, 7000000}}, 1);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	assert_same_counters(&m.u.stats.domains[0], &now.d);
	assert_float_equal(m.u.stats.domains[0].disks[0].rd_req_ps, 100.0, 1e-9);
	sm_message_clear(&m);
	sm_brief_free(&b);
	assert_null(b);
}

static void brief_records_without_their_full_record_wait(void **state)
{
	struct sm_brief *b = sm_brief_new(4, 16);
	struct fake base, now, other;
	struct sm_brief_result res;
	struct sm_message m;

	(void)state;
	fake_at(&base, 1, 0);
	fake_at(&now, 1, 1);
	fake_at(&other, 2, 1);
	/* Joined late: the brief record is left out, the full one kept. */
	frame(&m, 9, 5, (struct rec[]){{&now.d, &base.d, 3, 1000000}, {&other.d, NULL, 0, 0}}, 2);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	assert_int_equal(res.no_base, 1);
	assert_int_equal(m.u.stats.ndomains, 1);
	assert_memory_equal(m.u.stats.domains[0].uuid, other.d.uuid, 16);
	sm_message_clear(&m);

	/* A brief record of a newer full record (number 4) than the one kept
	 * (3, whose frame came; 4's was lost) waits too. */
	frame(&m, 9, 6, (struct rec[]){{&base.d, NULL, 3, 0}}, 1);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	sm_message_clear(&m);
	frame(&m, 9, 8, (struct rec[]){{&now.d, &base.d, 4, 1000000}}, 1);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	assert_int_equal(res.no_base, 1);
	assert_int_equal(m.u.stats.ndomains, 0);
	sm_message_clear(&m);

	/* A new epoch (the monitor restarted) forgets what was kept. */
	frame(&m, 9, 9, (struct rec[]){{&base.d, NULL, 3, 0}}, 1);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	sm_message_clear(&m);
	frame(&m, 10, 1, (struct rec[]){{&now.d, &base.d, 3, 1000000}}, 1);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	assert_int_equal(res.no_base, 1);
	sm_message_clear(&m);

	/* So does a gap of more than 128 frames: the number may have come round. */
	frame(&m, 10, 2, (struct rec[]){{&base.d, NULL, 3, 0}}, 1);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	sm_message_clear(&m);
	frame(&m, 10, 2 + 129, (struct rec[]){{&now.d, &base.d, 3, 1000000}}, 1);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	assert_int_equal(res.no_base, 1);
	sm_message_clear(&m);
	sm_brief_free(&b);
}

static void brief_records_that_contradict_their_full_record_are_refused(void **state)
{
	struct sm_brief *b = sm_brief_new(4, 16);
	struct fake base, now, huge;
	struct sm_brief_result res;
	struct sm_message m;

	(void)state;
	fake_at(&base, 1, 0);
	fake_at(&now, 1, 1);
	frame(&m, 9, 1, (struct rec[]){{&base.d, NULL, 0, 0}}, 1);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	sm_message_clear(&m);

	/* One disk fewer than its full record. */
	now.d.ndisks = 1;
	frame(&m, 9, 2, (struct rec[]){{&now.d, &base.d, 0, 1000000}}, 1);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	assert_int_equal(res.mismatch, 1);
	assert_int_equal(m.u.stats.ndomains, 0);
	sm_message_clear(&m);

	/* Growth that would pass 2^64 on top of the full record's counter. */
	fake_at(&huge, 1, 1);
	huge.disk[0].rd_bytes = UINT64_MAX;
	fake_at(&now, 1, 0);
	now.disk[0].rd_bytes = 0;
	frame(&m, 9, 3, (struct rec[]){{&huge.d, &now.d, 0, 1000000}}, 1);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	assert_int_equal(res.mismatch, 1);
	sm_message_clear(&m);

	/* The same domain twice in one frame: the second is refused. */
	fake_at(&now, 1, 2);
	frame(&m, 9, 4,
	      (struct rec[]){{&now.d, &base.d, 0, 2000000}, {&now.d, &base.d, 0, 2000000}}, 2);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	assert_int_equal(res.expanded, 1);
	assert_int_equal(res.mismatch, 1);
	assert_int_equal(m.u.stats.ndomains, 1);
	sm_message_clear(&m);

	/* Time running backwards: kept, rates unknown. */
	fake_at(&now, 1, 3);
	frame(&m, 9, 5, (struct rec[]){{&now.d, &base.d, 0, 1000000}}, 1);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	assert_int_equal(m.u.stats.ndomains, 1);
	assert_true(isnan(m.u.stats.domains[0].cpu_pct));
	assert_true(isnan(m.u.stats.domains[0].disks[0].rd_req_ps));
	sm_message_clear(&m);
	sm_brief_free(&b);
}

static void brief_memory_is_bounded(void **state)
{
	struct sm_brief *b = sm_brief_new(2, 2);
	struct fake f[3], now;
	struct sm_brief_result res;
	struct sm_message m;
	char host[16];

	(void)state;
	for (int i = 0; i < 3; i++)
		fake_at(&f[i], i, 0);
	/* Three domains, room for two: the third full record is kept in the
	 * frame but not remembered, so its brief records are left out. */
	frame(&m, 9, 1, (struct rec[]){{&f[0].d, NULL, 0, 0}, {&f[1].d, NULL, 0, 0},
				       {&f[2].d, NULL, 0, 0}},
	      3);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	assert_int_equal(res.no_room, 1);
	assert_int_equal(m.u.stats.ndomains, 3);
	sm_message_clear(&m);
	fake_at(&now, 2, 1);
	frame(&m, 9, 2, (struct rec[]){{&now.d, &f[2].d, 0, 1000000}}, 1);
	assert_int_equal(sm_brief_expand(b, &m, &res), 0);
	assert_int_equal(res.no_base, 1);
	sm_message_clear(&m);

	/* Publishers beyond max_hosts: the least recently heard is forgotten. */
	for (int i = 0; i < 5; i++) {
		struct sm_header h = {SM_WIRE_VERSION, SM_KIND_STATS, "", 1.0, 1, 1};

		snprintf(host, sizeof(host), "cn-%02d", i);
		memset(&m, 0, sizeof(m));
		m.hdr = h;
		strcpy(m.hdr.host, host);
		assert_int_equal(sm_brief_expand(b, &m, &res), 0);
		assert_true(sm_brief_hosts(b) <= 2);
	}
	assert_int_equal(sm_brief_hosts(b), 2);
	sm_brief_free(&b);
	assert_null(sm_brief_new(0, 1));
	assert_null(sm_brief_new(1, 0));
}

/* ---- decoding --------------------------------------------------------------- */

/* Packs a stats frame with one hand-made domain record and decodes it. */
struct hand {
	msgpack_sbuffer buf;
	msgpack_packer pk;
};

static void hand_begin(struct hand *h, uint32_t version)
{
	struct sm_header hdr = {version, SM_KIND_STATS, "cn-01", 1764380000.0, 1, 1};
	struct sm_host_stats hs = {.ncpus = 1};

	msgpack_sbuffer_init(&h->buf);
	msgpack_packer_init(&h->pk, &h->buf, msgpack_sbuffer_write);
	sm_wire_pack_stats_begin(&h->pk, &hdr, 1.0, &hs, 1);
	/* The encoder writes its own version first: map, "v", then the value. */
	assert_memory_equal(h->buf.data + 1, "\xa1v", 2);
	assert_int_equal((uint8_t)h->buf.data[3], SM_WIRE_VERSION);
	h->buf.data[3] = (char)version;
}

/* The 14 fields after the name and before the devices, with `flags`. */
static void hand_middle(struct hand *h, uint32_t flags, bool identity_nil_name)
{
	msgpack_pack_uint8(&h->pk, 1); /* state */
	msgpack_pack_uint32(&h->pk, flags);
	if (identity_nil_name) {
		msgpack_pack_array(&h->pk, 6);
		msgpack_pack_nil(&h->pk); /* display_name: never nil */
		for (int i = 0; i < 5; i++)
			msgpack_pack_str_with_body(&h->pk, "x", 1);
	} else {
		msgpack_pack_nil(&h->pk);
	}
	msgpack_pack_uint8(&h->pk, 1);	/* vcpus */
	msgpack_pack_uint8(&h->pk, 5);	/* cpu_time_ns */
	msgpack_pack_nil(&h->pk);	/* cpu_pct */
	msgpack_pack_nil(&h->pk);	/* steal_pct */
	msgpack_pack_array(&h->pk, 3);
	for (int i = 0; i < 3; i++)
		msgpack_pack_nil(&h->pk);
	msgpack_pack_uint8(&h->pk, 0); /* mem_basis */
	msgpack_pack_uint8(&h->pk, 0);
	msgpack_pack_uint8(&h->pk, 0);
	msgpack_pack_nil(&h->pk);
}

static enum sm_wire_code hand_decode(struct hand *h, struct sm_message *keep)
{
	struct sm_message m;
	struct sm_wire_error err;
	int rc = sm_wire_decode(h->buf.data, h->buf.size, 0, &m, &err);

	msgpack_sbuffer_destroy(&h->buf);
	if (rc < 0)
		return err.code;
	if (keep != NULL)
		*keep = m;
	else
		sm_message_clear(&m);
	return SM_WIRE_OK;
}

static const uint8_t some_uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void brief_decoder_refuses_what_a_brief_record_may_not_be(void **state)
{
	struct hand h;
	struct sm_message m;

	(void)state;
	/* A full record with a nil name. */
	hand_begin(&h, SM_WIRE_VERSION);
	msgpack_pack_array(&h.pk, 18);
	msgpack_pack_bin_with_body(&h.pk, some_uuid, 16);
	msgpack_pack_nil(&h.pk);
	hand_middle(&h, 0, false);
	msgpack_pack_array(&h.pk, 0);
	msgpack_pack_array(&h.pk, 0);
	msgpack_pack_uint8(&h.pk, 0);
	msgpack_pack_uint8(&h.pk, 0);
	assert_int_equal(hand_decode(&h, NULL), SM_WIRE_E_TYPE);

	/* A brief record without gen and since_us. */
	hand_begin(&h, SM_WIRE_VERSION);
	msgpack_pack_array(&h.pk, 16);
	msgpack_pack_bin_with_body(&h.pk, some_uuid, 16);
	msgpack_pack_nil(&h.pk);
	hand_middle(&h, SM_DOM_BRIEF, false);
	msgpack_pack_array(&h.pk, 0);
	msgpack_pack_array(&h.pk, 0);
	assert_int_equal(hand_decode(&h, NULL), SM_WIRE_E_MISSING);

	/* A nil inside an identity, brief or not. */
	hand_begin(&h, SM_WIRE_VERSION);
	msgpack_pack_array(&h.pk, 18);
	msgpack_pack_bin_with_body(&h.pk, some_uuid, 16);
	msgpack_pack_nil(&h.pk);
	hand_middle(&h, SM_DOM_BRIEF, true);
	msgpack_pack_array(&h.pk, 0);
	msgpack_pack_array(&h.pk, 0);
	msgpack_pack_uint8(&h.pk, 0);
	msgpack_pack_uint8(&h.pk, 0);
	assert_int_equal(hand_decode(&h, NULL), SM_WIRE_E_TYPE);

	/* A brief disk record of 5 fields (a brief one has 6), and a full
	 * record's disk with a nil name. */
	for (int variant = 0; variant < 2; variant++) {
		hand_begin(&h, SM_WIRE_VERSION);
		msgpack_pack_array(&h.pk, 18);
		msgpack_pack_bin_with_body(&h.pk, some_uuid, 16);
		if (variant == 0)
			msgpack_pack_nil(&h.pk);
		else
			msgpack_pack_str_with_body(&h.pk, "vm", 2);
		hand_middle(&h, variant == 0 ? SM_DOM_BRIEF : 0, false);
		msgpack_pack_array(&h.pk, 1);
		msgpack_pack_array(&h.pk, variant == 0 ? 5 : 10);
		msgpack_pack_nil(&h.pk);
		for (int i = 1; i < (variant == 0 ? 5 : 10); i++)
			msgpack_pack_uint8(&h.pk, 1);
		msgpack_pack_array(&h.pk, 0);
		msgpack_pack_uint8(&h.pk, 0);
		msgpack_pack_uint8(&h.pk, 0);
		assert_int_equal(hand_decode(&h, NULL),
				 variant == 0 ? SM_WIRE_E_MISSING : SM_WIRE_E_TYPE);
	}

	/* A version 1 record (16 fields) is a full record of number 0. */
	hand_begin(&h, 1);
	msgpack_pack_array(&h.pk, 16);
	msgpack_pack_bin_with_body(&h.pk, some_uuid, 16);
	msgpack_pack_str_with_body(&h.pk, "vm", 2);
	hand_middle(&h, 0, false);
	msgpack_pack_array(&h.pk, 0);
	msgpack_pack_array(&h.pk, 0);
	assert_int_equal(hand_decode(&h, &m), SM_WIRE_OK);
	assert_int_equal(m.hdr.version, 1);
	assert_string_equal(m.u.stats.domains[0].name, "vm");
	assert_int_equal(m.u.stats.domains[0].gen, 0);
	assert_int_equal(m.u.stats.domains[0].since_us, 0);
	sm_message_clear(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(brief_record_is_under_half_the_full_one),
	    cmocka_unit_test(brief_records_expand_to_the_full_records),
	    cmocka_unit_test(brief_records_without_their_full_record_wait),
	    cmocka_unit_test(brief_records_that_contradict_their_full_record_are_refused),
	    cmocka_unit_test(brief_memory_is_bounded),
	    cmocka_unit_test(brief_decoder_refuses_what_a_brief_record_may_not_be),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
