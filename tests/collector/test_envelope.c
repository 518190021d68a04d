/*
 * test_envelope.c — the collector's envelope check: what it lets through
 * and every rejection, each charged to the right drop reason, with bodies
 * built by the real encoder or byte by byte with msgpack-c's packer; and the
 * origin frame of the upstream hop, refused unless a relay sent a clean one.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "envelope.h"
#include "sm_wire.h"

struct frame {
	char topic[SM_TOPIC_MAX + 1];
	size_t topic_len;
	msgpack_sbuffer body;
};

static void frame_encode(struct frame *f, enum sm_msg_kind kind, const char *host)
{
	struct sm_message m;
	struct sm_domain_stats dom[2];

	memset(&m, 0, sizeof(m));
	memset(dom, 0, sizeof(dom));
	m.hdr.version = SM_WIRE_VERSION;
	m.hdr.kind = kind;
	snprintf(m.hdr.host, sizeof(m.hdr.host), "%s", host);
	m.hdr.time = 1764380000.5;
	m.hdr.seq = 9;
	m.hdr.epoch = 77;
	if (kind == SM_KIND_STATS) {
		m.u.stats.interval = 1;
		m.u.stats.ndomains = 2;
		m.u.stats.domains = dom;
		for (int i = 0; i < 2; i++) {
			snprintf(dom[i].name, sizeof(dom[i].name), "instance-%d", i);
			dom[i].cpu_pct = dom[i].steal_pct = NAN;
			dom[i].mem_pct = NAN;
			dom[i].load[0] = dom[i].load[1] = dom[i].load[2] = 0;
		}
	} else if (kind == SM_KIND_EVENT) {
		m.u.event.type = SM_EVENT_STOPPED;
		snprintf(m.u.event.name, sizeof(m.u.event.name), "instance-1");
	} else if (kind == SM_KIND_HEARTBEAT) {
		m.u.hb.interval = 1;
	}
	msgpack_sbuffer_init(&f->body);
	assert_int_equal(sm_wire_encode(&m, &f->body), 0);
	f->topic_len = sm_wire_topic(kind, host, f->topic, sizeof(f->topic));
	assert_true(f->topic_len > 0);
}

/* Runs the check; returns the drop reason, or SM_DROP_COUNT when accepted. */
static enum sm_drop_reason check(int parts, const void *topic, size_t tlen, const void *body,
				 size_t blen, size_t max_frame, struct sm_wire_error *err)
{
	struct sm_header h;
	enum sm_drop_reason reason = SM_DROP_COUNT;

	if (envelope_check(parts, topic, tlen, body, blen, max_frame, true, &h, &reason, err) == 0) {
		assert_int_equal(err->code, SM_WIRE_OK);
		return SM_DROP_COUNT;
	}
	assert_int_not_equal(err->code, SM_WIRE_OK);
	assert_true(err->msg[0] != '\0');
	return reason;
}

static void envelope_accepts_valid_stats_and_event_frames(void **state)
{
	struct frame f;
	struct sm_wire_error err;
	struct sm_header h;
	enum sm_drop_reason reason;

	frame_encode(&f, SM_KIND_STATS, "cn-01");
	assert_int_equal(
	    envelope_check(2, f.topic, f.topic_len, f.body.data, f.body.size, 0, true, &h, &reason,
			   &err),
	    0);
	assert_int_equal(h.kind, SM_KIND_STATS);
	assert_string_equal(h.host, "cn-01");
	assert_int_equal(h.seq, 9);
	assert_int_equal(h.epoch, 77);
	msgpack_sbuffer_destroy(&f.body);

	frame_encode(&f, SM_KIND_EVENT, "cn-01");
	assert_int_equal(check(2, f.topic, f.topic_len, f.body.data, f.body.size, 0, &err),
			 SM_DROP_COUNT);
	msgpack_sbuffer_destroy(&f.body);
}

static void envelope_refuses_wrong_number_of_frames(void **state)
{
	struct frame f;
	struct sm_wire_error err;

	frame_encode(&f, SM_KIND_STATS, "cn-01");
	assert_int_equal(check(1, f.topic, f.topic_len, "", 0, 0, &err), SM_DROP_MALFORMED);
	assert_int_equal(check(3, f.topic, f.topic_len, f.body.data, f.body.size, 0, &err),
			 SM_DROP_MALFORMED);
	assert_non_null(strstr(err.msg, "3 frames"));
	msgpack_sbuffer_destroy(&f.body);
}

static void envelope_refuses_bad_topics(void **state)
{
	struct frame f;
	struct sm_wire_error err;
	const char *bad[] = {"",
			     "stats",
			     "stats/",
			     "stats/cn-01",
			     "stats//",
			     "nope/cn-01/",
			     "stats/cn 01/",
			     "stats/cn-01/extra/",
			     "STATS/cn-01/"};

	frame_encode(&f, SM_KIND_STATS, "cn-01");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    check(2, bad[i], strlen(bad[i]), f.body.data, f.body.size, 0, &err),
		    SM_DROP_MALFORMED);
	}
	/* A NUL inside the topic is not a shorter topic. */
	assert_int_equal(check(2, "stats/cn-01/\0", 13, f.body.data, f.body.size, 0, &err),
			 SM_DROP_MALFORMED);
	msgpack_sbuffer_destroy(&f.body);
}

static void envelope_refuses_topic_that_disagrees_with_body(void **state)
{
	struct frame f;
	struct sm_wire_error err;

	frame_encode(&f, SM_KIND_STATS, "cn-01");
	/* Another host: a consumer filtering on the topic would misfile it. */
	assert_int_equal(check(2, "stats/cn-02/", 12, f.body.data, f.body.size, 0, &err),
			 SM_DROP_MALFORMED);
	assert_int_equal(err.code, SM_WIRE_E_TOPIC);
	/* Another kind. */
	assert_int_equal(check(2, "event/cn-01/", 12, f.body.data, f.body.size, 0, &err),
			 SM_DROP_MALFORMED);
	assert_int_equal(err.code, SM_WIRE_E_TOPIC);
	msgpack_sbuffer_destroy(&f.body);
}

static void envelope_refuses_oversized_body_before_reading_it(void **state)
{
	struct frame f;
	struct sm_wire_error err;
	static char big[70000];

	frame_encode(&f, SM_KIND_STATS, "cn-01");
	assert_int_equal(
	    check(2, f.topic, f.topic_len, f.body.data, f.body.size, f.body.size - 1, &err),
	    SM_DROP_TOO_BIG);
	assert_int_equal(err.code, SM_WIRE_E_TOO_BIG);
	/* Exactly at the limit passes. */
	assert_int_equal(
	    check(2, f.topic, f.topic_len, f.body.data, f.body.size, f.body.size, &err),
	    SM_DROP_COUNT);
	/* Over the limit with garbage inside: still "too big", nothing was parsed. */
	memset(big, 0xc1, sizeof(big));
	assert_int_equal(check(2, f.topic, f.topic_len, big, sizeof(big), 65536, &err),
			 SM_DROP_TOO_BIG);
	msgpack_sbuffer_destroy(&f.body);
}

static void envelope_refuses_garbage_and_truncated_bodies(void **state)
{
	struct frame f;
	struct sm_wire_error err;
	char padded[4096];

	frame_encode(&f, SM_KIND_STATS, "cn-01");
	assert_int_equal(check(2, f.topic, f.topic_len, "", 0, 0, &err), SM_DROP_MALFORMED);
	assert_int_equal(check(2, f.topic, f.topic_len, "\xc1\xc1\xc1", 3, 0, &err),
			 SM_DROP_MALFORMED);
	assert_int_equal(check(2, f.topic, f.topic_len, "hello world", 11, 0, &err),
			 SM_DROP_MALFORMED);
	/* Every truncation of a valid body is refused. */
	for (size_t n = 1; n < f.body.size; n++) {
		assert_int_equal(check(2, f.topic, f.topic_len, f.body.data, n, 0, &err),
				 SM_DROP_MALFORMED);
	}
	/* Bytes after the map. */
	assert_true(f.body.size + 1 < sizeof(padded));
	memcpy(padded, f.body.data, f.body.size);
	padded[f.body.size] = 0;
	assert_int_equal(check(2, f.topic, f.topic_len, padded, f.body.size + 1, 0, &err),
			 SM_DROP_MALFORMED);
	assert_int_equal(err.code, SM_WIRE_E_GARBAGE);
	msgpack_sbuffer_destroy(&f.body);
}

/* A header-only body with the given version, packed by hand. */
static void pack_header(msgpack_sbuffer *sb, uint32_t version, bool with_host)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, with_host ? 6 : 5);
	msgpack_pack_str_with_body(&pk, "v", 1);
	msgpack_pack_uint32(&pk, version);
	msgpack_pack_str_with_body(&pk, "kind", 4);
	msgpack_pack_str_with_body(&pk, "stats", 5);
	if (with_host) {
		msgpack_pack_str_with_body(&pk, "host", 4);
		msgpack_pack_str_with_body(&pk, "cn-01", 5);
	}
	msgpack_pack_str_with_body(&pk, "time", 4);
	msgpack_pack_double(&pk, 1764380000.0);
	msgpack_pack_str_with_body(&pk, "seq", 3);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_str_with_body(&pk, "epoch", 5);
	msgpack_pack_uint64(&pk, 1);
}

static void envelope_counts_other_versions_apart(void **state)
{
	msgpack_sbuffer sb;
	struct sm_wire_error err;

	pack_header(&sb, SM_WIRE_VERSION + 1, true);
	assert_int_equal(check(2, "stats/cn-01/", 12, sb.data, sb.size, 0, &err), SM_DROP_VERSION);
	assert_int_equal(err.code, SM_WIRE_E_VERSION);
	msgpack_sbuffer_destroy(&sb);
	/* Even when the newer version lacks a field we require. */
	pack_header(&sb, 0, false);
	assert_int_equal(check(2, "stats/cn-01/", 12, sb.data, sb.size, 0, &err), SM_DROP_VERSION);
	msgpack_sbuffer_destroy(&sb);
	/* Our version without the host is merely malformed. */
	pack_header(&sb, SM_WIRE_VERSION, false);
	assert_int_equal(check(2, "stats/cn-01/", 12, sb.data, sb.size, 0, &err),
			 SM_DROP_MALFORMED);
	assert_int_equal(err.code, SM_WIRE_E_MISSING);
	msgpack_sbuffer_destroy(&sb);
}

static void envelope_refuses_heartbeats_on_the_fan_in(void **state)
{
	struct frame f;
	struct sm_wire_error err;

	frame_encode(&f, SM_KIND_HEARTBEAT, "other-collector");
	assert_int_equal(check(2, f.topic, f.topic_len, f.body.data, f.body.size, 0, &err),
			 SM_DROP_MALFORMED);
	assert_int_equal(err.code, SM_WIRE_E_KIND);
	msgpack_sbuffer_destroy(&f.body);
}

/* Runs the origin check; returns the identity read, or NULL when refused
 * (then always as malformed, with a reason text). */
static const char *origin(int parts, const void *id, size_t len, bool may_relay)
{
	static char out[SM_HOST_MAX + 1];
	struct sm_wire_error err;
	enum sm_drop_reason reason = SM_DROP_COUNT;

	memset(out, 'x', sizeof(out));
	if (envelope_origin(parts, id, len, may_relay, out, &reason, &err) == 0) {
		assert_int_equal(err.code, SM_WIRE_OK);
		assert_int_equal(strlen(out), len);
		return out;
	}
	assert_int_equal(reason, SM_DROP_MALFORMED);
	assert_true(err.msg[0] != '\0');
	assert_string_equal(out, ""); /* nothing half-copied to use by mistake */
	return NULL;
}

static void envelope_origin_takes_a_valid_identity_from_a_relay_only(void **state)
{
	char longest[SM_HOST_MAX + 2];

	(void)state;
	assert_string_equal(origin(3, "m1", 2, true), "m1");
	assert_string_equal(origin(3, "rack-2.cn_7", 11, true), "rack-2.cn_7");
	/* The connection's key lacks role = relay: refused, however valid. */
	assert_null(origin(3, "m1", 2, false));
	/* Only exactly three frames. */
	assert_null(origin(2, "m1", 2, true));
	assert_null(origin(4, "m1", 2, true));
	assert_null(origin(1000, "m1", 2, true));
	/* Not an identity: empty, too long, outside [A-Za-z0-9._-], a NUL
	 * inside, a log-forging newline, high bytes. */
	assert_null(origin(3, "", 0, true));
	memset(longest, 'a', sizeof(longest));
	assert_non_null(origin(3, longest, SM_HOST_MAX, true));
	assert_null(origin(3, longest, SM_HOST_MAX + 1, true));
	assert_null(origin(3, "m 1", 3, true));
	assert_null(origin(3, "m1/x", 4, true));
	assert_null(origin(3, "m1\0evil", 7, true));
	assert_null(origin(3, "m1\nfake log line", 17, true));
	assert_null(origin(3, "\xc3\xa9t\xc3\xa9", 5, true));
	assert_null(origin(3, "'m1'", 4, true));
}

static void envelope_topic_printable_masks_control_bytes(void **state)
{
	char buf[8];

	envelope_topic_printable("a\n\x01\xffz", 5, buf, sizeof(buf));
	assert_string_equal(buf, "a???z");
	envelope_topic_printable("0123456789", 10, buf, sizeof(buf));
	assert_string_equal(buf, "0123456");
	envelope_topic_printable("", 0, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

/* check_body = no: the header is read and checked as ever (topic
 * agreement, version, size), the rest is not walked, so a body cut after
 * its header passes here and is left to its consumers. */
static void envelope_header_only_checks_the_header_and_not_the_tail(void **state)
{
	struct frame f;
	struct sm_wire_error err;
	struct sm_header h;
	enum sm_drop_reason reason = SM_DROP_COUNT;
	size_t cut;

	(void)state;
	frame_encode(&f, SM_KIND_STATS, "cn-01");
	cut = f.body.size - 3;
	assert_int_equal(check(2, f.topic, f.topic_len, f.body.data, cut, 0, &err),
			 SM_DROP_MALFORMED);
	assert_int_equal(envelope_check(2, f.topic, f.topic_len, f.body.data, cut, 0, false, &h,
					&reason, &err),
			 0);
	assert_string_equal(h.host, "cn-01");
	assert_true(h.seq == 9);
	/* ... but the header still has to agree with the topic */
	assert_int_equal(envelope_check(2, "stats/cn-02/", 12, f.body.data, cut, 0, false, &h,
					&reason, &err),
			 -1);
	assert_int_equal(reason, SM_DROP_MALFORMED);
	assert_int_equal(err.code, SM_WIRE_E_TOPIC);
	/* ... and be whole: cut inside the header, it is refused */
	assert_int_equal(envelope_check(2, f.topic, f.topic_len, f.body.data, 12, 0, false, &h,
					&reason, &err),
			 -1);
	assert_int_equal(reason, SM_DROP_MALFORMED);
	/* ... and the size limit holds */
	assert_int_equal(envelope_check(2, f.topic, f.topic_len, f.body.data, f.body.size,
					f.body.size - 1, false, &h, &reason, &err),
			 -1);
	assert_int_equal(reason, SM_DROP_TOO_BIG);
	msgpack_sbuffer_destroy(&f.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(envelope_header_only_checks_the_header_and_not_the_tail),
	    cmocka_unit_test(envelope_accepts_valid_stats_and_event_frames),
	    cmocka_unit_test(envelope_refuses_wrong_number_of_frames),
	    cmocka_unit_test(envelope_refuses_bad_topics),
	    cmocka_unit_test(envelope_refuses_topic_that_disagrees_with_body),
	    cmocka_unit_test(envelope_refuses_oversized_body_before_reading_it),
	    cmocka_unit_test(envelope_refuses_garbage_and_truncated_bodies),
	    cmocka_unit_test(envelope_counts_other_versions_apart),
	    cmocka_unit_test(envelope_refuses_heartbeats_on_the_fan_in),
	    cmocka_unit_test(envelope_origin_takes_a_valid_identity_from_a_relay_only),
	    cmocka_unit_test(envelope_topic_printable_masks_control_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
