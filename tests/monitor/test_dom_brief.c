/*
 * test_dom_brief.c — when the monitor sends a domain in full and when in
 * brief (dom_brief), and that what it sends expands, at a receiver
 * (sm_brief), to exactly what it had: over a run with a rename, a new disk,
 * a counter reset, unknown rates and lost frames.
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

#include "dom_brief.h"
#include "sm_brief.h"
#include "sm_wire.h"

#define SEC INT64_C(1000000000)

struct dom {
	struct sm_domain_stats d;
	struct sm_disk_stats disk[2];
	struct sm_nic_stats nic;
};

static void dom_init(struct dom *x, uint8_t last_uuid_byte)
{
	memset(x, 0, sizeof(*x));
	for (int j = 0; j < 16; j++)
		x->d.uuid[j] = (uint8_t)(0x40 + j);
	x->d.uuid[15] = last_uuid_byte;
	strcpy(x->d.name, "instance-00000001");
	x->d.state = 1;
	x->d.vcpus = 1;
	x->d.flags = SM_DOM_NOVA;
	x->d.has_identity = true;
	strcpy(x->d.identity.project_name, "acme");
	strcpy(x->d.identity.display_name, "web");
	x->d.cpu_time_ns = 1000;
	x->d.cpu_pct = 10;
	x->d.steal_pct = NAN;
	x->d.load[0] = x->d.load[1] = x->d.load[2] = 0.1;
	strcpy(x->disk[0].name, "vda");
	strcpy(x->disk[1].name, "vdb");
	strcpy(x->nic.name, "vnet0");
	x->d.ndisks = 1, x->d.disks = x->disk;
	x->d.nnics = 1, x->d.nics = &x->nic;
}

/* One second of work at t: counters grow, the tracker's rates say so. */
static void dom_step(struct dom *x, int t)
{
	x->d.cpu_time_ns += 250000000u + (uint64_t)t * 1000u;
	x->d.cpu_pct = 25;
	for (size_t k = 0; k < x->d.ndisks; k++) {
		x->disk[k].rd_req += 10u + (uint64_t)t;
		x->disk[k].rd_bytes += 40960;
		x->disk[k].rd_req_ps = 10, x->disk[k].rd_bytes_ps = 40960;
		x->disk[k].wr_req_ps = 0, x->disk[k].wr_bytes_ps = 0;
	}
	x->nic.tx_bytes += 1500u * (uint64_t)t;
	x->nic.rx_bytes_ps = x->nic.rx_packets_ps = x->nic.tx_packets_ps = 0;
	x->nic.tx_bytes_ps = 1500;
}

/* Packs x's next record into a one-domain frame of seq and decodes it. */
static void pack_frame_forced(struct dom_brief *b, struct dom *x, int64_t sample_ns,
			      int64_t now_ns, int64_t full_every_ns, uint64_t seq,
			      struct sm_message *m, bool force)
{
	struct sm_header h = {SM_WIRE_VERSION, SM_KIND_STATS, "cn-01", 1.0 + (double)seq, seq, 5};
	struct sm_host_stats hs = {.ncpus = 1};
	struct sm_wire_error err;
	msgpack_sbuffer buf;
	msgpack_packer pk;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	sm_wire_pack_stats_begin(&pk, &h, 1.0, &hs, 1);
	dom_brief_pack(b, &pk, &x->d, sample_ns, now_ns, full_every_ns, force);
	if (sm_wire_decode(buf.data, buf.size, 0, m, &err) < 0)
		fail_msg("refused: %s", err.msg);
	msgpack_sbuffer_destroy(&buf);
}

static void pack_frame(struct dom_brief *b, struct dom *x, int64_t sample_ns, int64_t now_ns,
		       int64_t full_every_ns, uint64_t seq, struct sm_message *m)
{
	pack_frame_forced(b, x, sample_ns, now_ns, full_every_ns, seq, m, false);
}

static bool is_brief(const struct sm_message *m)
{
	return (m->u.stats.domains[0].flags & SM_DOM_BRIEF) != 0;
}

static void full_when_due_brief_otherwise(void **state)
{
	struct dom_brief *b = dom_brief_new();
	struct dom x;
	struct sm_message m;
	uint64_t seq = 0;
	int t = 0;

	(void)state;
	assert_non_null(b);
	dom_init(&x, 255); /* first refresh a whole interval after the first record */
#define NEXT(expect_brief)                                                            \
	do {                                                                          \
		t++;                                                                  \
		dom_step(&x, t);                                                      \
		pack_frame(b, &x, t * SEC, t * SEC, 30 * SEC, ++seq, &m);             \
		assert_int_equal(is_brief(&m), expect_brief);                       \
		sm_message_clear(&m);                                                 \
	} while (0)
	NEXT(false); /* first listing */
	NEXT(true);
	NEXT(true);
	strcpy(x.d.name, "renamed");
	NEXT(false);
	NEXT(true);
	strcpy(x.d.identity.project_name, "other");
	NEXT(false);
	x.d.flags = 0, x.d.has_identity = false;
	NEXT(false);
	NEXT(true);
	x.d.ndisks = 2; /* hot-plugged */
	NEXT(false);
	NEXT(true);
	strcpy(x.nic.name, "vnet1"); /* replaced */
	NEXT(false);
	NEXT(true);
	x.disk[1].rd_req = 0; /* reset: below the last one sent */
	t++;
	pack_frame(b, &x, t * SEC, t * SEC, 30 * SEC, ++seq, &m);
	assert_false(is_brief(&m));
	sm_message_clear(&m);
	NEXT(true);
	t++; /* the tracker could not compute a rate: a new baseline */
	x.d.cpu_pct = NAN;
	pack_frame(b, &x, t * SEC, t * SEC, 30 * SEC, ++seq, &m);
	assert_false(is_brief(&m));
	sm_message_clear(&m);
	NEXT(true);
	/* The periodic refresh: the first 30 s after the first record (UUID
	 * byte 255), then every 30 s, whatever full records came between. */
	assert_int_equal(dom_brief_full_count(b), 8);
	while (t < 30)
		NEXT(true);
	NEXT(false); /* t = 31: due at 31 (first record at 1, + 30 s) */
	/* A new subscriber (the publisher forces it): full, the schedule kept. */
	t++;
	dom_step(&x, t);
	pack_frame_forced(b, &x, t * SEC, t * SEC, 30 * SEC, ++seq, &m, true);
	assert_false(is_brief(&m));
	sm_message_clear(&m);
	for (int i = 0; i < 28; i++)
		NEXT(true);
	NEXT(false); /* t = 61 */
	for (int i = 0; i < 29; i++)
		NEXT(true);
	NEXT(false); /* t = 91 */
	dom_brief_destroy(&b);
	assert_null(b);
	dom_brief_destroy(&b); /* NULL-safe */

	/* full_interval 0: every record full. */
	b = dom_brief_new();
	for (int i = 0; i < 3; i++) {
		pack_frame(b, &x, i * SEC, i * SEC, 0, (uint64_t)i + 1, &m);
		assert_false(is_brief(&m));
		sm_message_clear(&m);
	}
	dom_brief_destroy(&b);
#undef NEXT
}

static void first_refresh_is_staggered_by_uuid(void **state)
{
	struct sm_message m;

	(void)state;
	/* UUID byte k: first refresh after (k + 1) / 256 of the interval. */
	for (int k = 0; k < 256; k += 51) {
		struct dom_brief *b = dom_brief_new();
		struct dom x;
		int64_t due = 256 * SEC / 256 * (k + 1), t;

		dom_init(&x, (uint8_t)k);
		pack_frame(b, &x, 0, 0, 256 * SEC, 1, &m);
		sm_message_clear(&m);
		for (t = SEC; t < due; t += SEC) {
			dom_step(&x, 1);
			pack_frame(b, &x, t, t, 256 * SEC, 2, &m);
			assert_true(is_brief(&m));
			sm_message_clear(&m);
		}
		dom_step(&x, 1);
		pack_frame(b, &x, t, t, 256 * SEC, 3, &m);
		assert_false(is_brief(&m));
		sm_message_clear(&m);
		dom_brief_destroy(&b);
	}
}

/* Everything the monitor had, the receiver gets back: over 200 s with
 * every kind of full record, stale listings and lost frames. */
static void what_is_sent_expands_to_what_was_had(void **state)
{
	struct dom_brief *b = dom_brief_new();
	struct sm_brief *rx = sm_brief_new(1, 4);
	struct dom x;
	struct sm_message m;
	struct sm_brief_result res;
	int64_t sample_ns = 0;
	size_t briefs = 0, waited = 0, fulls_lost = 0;
	bool base_lost = false; /* the last full record sent was in a lost frame */

	(void)state;
	dom_init(&x, 7);
	for (int t = 1; t <= 200; t++) {
		bool stale = t % 17 == 0, lost = t % 23 == 0;
		const struct sm_domain_stats *got;

		if (!stale) { /* a stale listing repeats the last sample */
			dom_step(&x, t);
			sample_ns = t * SEC + (t % 3) * 7000000; /* samples jitter */
		}
		if (t == 50)
			strcpy(x.d.name, "renamed");
		if (t == 90)
			x.d.ndisks = 2;
		if (t == 120)
			x.d.cpu_time_ns = 5; /* restarted */
		pack_frame(b, &x, sample_ns, t * SEC, 10 * SEC, (uint64_t)t, &m);
		briefs += is_brief(&m);
		if (lost) {
			if (!is_brief(&m)) {
				base_lost = true;
				fulls_lost++;
			}
			sm_message_clear(&m);
			continue;
		}
		if (!is_brief(&m))
			base_lost = false;
		assert_int_equal(sm_brief_expand(rx, &m, &res), 0);
		if (base_lost) {
			/* Its full record was lost: it waits for the next one. */
			assert_int_equal(res.no_base, 1);
			assert_int_equal(m.u.stats.ndomains, 0);
			waited++;
			sm_message_clear(&m);
			continue;
		}
		assert_int_equal(res.no_base + res.mismatch + res.no_room, 0);
		assert_int_equal(m.u.stats.ndomains, 1);
		got = &m.u.stats.domains[0];
		assert_string_equal(got->name, x.d.name);
		assert_string_equal(got->identity.project_name, "acme");
		assert_int_equal(got->cpu_time_ns, x.d.cpu_time_ns);
		assert_int_equal(got->ndisks, x.d.ndisks);
		for (size_t k = 0; k < x.d.ndisks; k++) {
			assert_string_equal(got->disks[k].name, x.disk[k].name);
			assert_int_equal(got->disks[k].rd_req, x.disk[k].rd_req);
			assert_int_equal(got->disks[k].rd_bytes, x.disk[k].rd_bytes);
		}
		assert_int_equal(got->nics[0].tx_bytes, x.nic.tx_bytes);
		/* Rates from growth over sample time: finite, never negative. */
		if (is_brief(&m) || got->since_us > 0) {
			assert_true(isfinite(got->cpu_pct) && got->cpu_pct >= 0);
			assert_true(isfinite(got->disks[0].rd_bytes_ps));
			assert_true(got->disks[0].rd_bytes_ps >= 0);
		}
		sm_message_clear(&m);
	}
	/* Most records were brief; a lost full record costs at most the
	 * 10 s until the next. */
	assert_true(briefs > 150);
	assert_true(fulls_lost > 0 && waited > 0);
	assert_true(waited <= fulls_lost * 10);
	dom_brief_destroy(&b);
	sm_brief_free(&rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(full_when_due_brief_otherwise),
	    cmocka_unit_test(first_refresh_is_staggered_by_uuid),
	    cmocka_unit_test(what_is_sent_expands_to_what_was_had),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
