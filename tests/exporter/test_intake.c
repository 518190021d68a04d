/*
 * Tests of the exporter's intake: an encoded stats frame reaches the
 * store; garbage, a wrong topic and a message of three frames are counted
 * by reason and leave the store as it was; gaps in seq count as lost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_stats.h"
#include "sm_intake.h"
#include "render.h"
#include "sm_log.h"
#include "store.h"

struct fixture {
	struct store *store;
	struct sm_intake *intake;
};

static int setup(void **state)
{
	static struct fixture fx;
	struct store_sizes sizes;

	render_sizes(&sizes);
	fx.store = store_new(&sizes, 0);
	if (fx.store) {
		struct sm_intake_sink sink = store_intake_sink(fx.store);

		fx.intake = sm_intake_new(&sink, 0, NULL);
	}
	*state = &fx;
	return fx.store && fx.intake ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	sm_intake_destroy(&fx->intake);
	store_destroy(&fx->store);
	return 0;
}

/* Encodes m and feeds it as topic + body; returns intake_message's result. */
static int feed(struct fixture *fx, const struct sm_message *m)
{
	msgpack_sbuffer body;
	char topic[SM_TOPIC_MAX];
	size_t tlen = sm_wire_topic(m->hdr.kind, m->hdr.host, topic, sizeof(topic));
	int rc;

	msgpack_sbuffer_init(&body);
	assert_int_equal(sm_wire_encode(m, &body), 0);
	rc = sm_intake_message(fx->intake, 2, topic, tlen, body.data, body.size, 0);
	msgpack_sbuffer_destroy(&body);
	return rc;
}

static int feed_stats(struct fixture *fx, const char *host, size_t n, uint64_t seq)
{
	struct sm_message m;
	int rc;

	assert_int_equal(fake_stats_fill(&m, host, n, 7, seq), 0);
	rc = feed(fx, &m);
	fake_stats_free(&m);
	return rc;
}

static void intake_applies_an_encoded_stats_frame_and_event(void **state)
{
	struct fixture *fx = *state;
	const struct sm_intake_counters *c = sm_intake_counters(fx->intake);
	struct sm_message ev;

	assert_int_equal(feed_stats(fx, "cn1", 3, 1), 0);
	assert_int_equal(store_domains(fx->store), 3);
	assert_int_equal(c->frames[SM_KIND_STATS], 1);
	fake_event_fill(&ev, "cn1", SM_EVENT_STOPPED, 2, 7, 1);
	assert_int_equal(feed(fx, &ev), 0);
	assert_int_equal(store_domains(fx->store), 2);
	assert_int_equal(c->frames[SM_KIND_EVENT], 1);
	assert_true(c->bytes > 0);
}

static void intake_counts_bad_messages_by_reason_and_goes_on(void **state)
{
	struct fixture *fx = *state;
	const struct sm_intake_counters *c = sm_intake_counters(fx->intake);
	static const char garbage[] = "\xc1\xc1\xc1 not msgpack";
	static const char topic[] = "stats/cn1/";

	assert_int_equal(
	    sm_intake_message(fx->intake, 2, topic, strlen(topic), garbage, sizeof(garbage), 0), -1);
	assert_int_equal(c->errors[SM_WIRE_E_GARBAGE], 1);
	assert_int_equal(
	    sm_intake_message(fx->intake, 3, topic, strlen(topic), garbage, sizeof(garbage), 0), -1);
	assert_int_equal(c->errors[SM_INTAKE_E_PARTS], 1);
	assert_string_equal(sm_intake_reason_name(SM_INTAKE_E_PARTS), "parts");
	assert_int_equal(sm_intake_message(fx->intake, 1, "\x01\x02", 2, NULL, 0, 0), -1);
	assert_int_equal(c->errors[SM_INTAKE_E_PARTS], 2);
	assert_int_equal(sm_intake_message(fx->intake, 2, "", 0, "", 0, 0), -1);
	assert_int_equal(store_domains(fx->store), 0);
	/* ... and a good frame still goes through. */
	assert_int_equal(feed_stats(fx, "cn1", 1, 1), 0);
	assert_int_equal(store_domains(fx->store), 1);
}

static void intake_refuses_a_topic_that_disagrees_with_the_body(void **state)
{
	struct fixture *fx = *state;
	const struct sm_intake_counters *c = sm_intake_counters(fx->intake);
	struct sm_message m;
	msgpack_sbuffer body;
	static const char topic[] = "stats/other-host/";

	assert_int_equal(fake_stats_fill(&m, "cn1", 1, 7, 1), 0);
	msgpack_sbuffer_init(&body);
	assert_int_equal(sm_wire_encode(&m, &body), 0);
	assert_int_equal(
	    sm_intake_message(fx->intake, 2, topic, strlen(topic), body.data, body.size, 0), -1);
	assert_int_equal(c->errors[SM_WIRE_E_TOPIC], 1);
	assert_int_equal(store_hosts(fx->store), 0);
	msgpack_sbuffer_destroy(&body);
	fake_stats_free(&m);
}

/* Feeds a stats frame of fake domains 0 and 1 from cn1 (seq), domain 0
 * brief against `base` with full-record number gen when base is given. */
static int feed_brief(struct fixture *fx, uint64_t seq, uint64_t cpu_ns,
		      const struct sm_domain_stats *base, uint32_t gen)
{
	struct sm_message m;
	msgpack_sbuffer body;
	msgpack_packer pk;
	static const char topic[] = "stats/cn1/";
	int rc;

	assert_int_equal(fake_stats_fill(&m, "cn1", 2, 7, seq), 0);
	m.u.stats.domains[0].cpu_time_ns = cpu_ns;
	m.u.stats.domains[0].gen = gen;
	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	sm_wire_pack_stats_begin(&pk, &m.hdr, m.u.stats.interval, &m.u.stats.host, 2);
	if (base)
		sm_wire_pack_domain_brief(&pk, &m.u.stats.domains[0], base, gen, seq * 1000000);
	else
		sm_wire_pack_domain(&pk, &m.u.stats.domains[0]);
	sm_wire_pack_domain(&pk, &m.u.stats.domains[1]);
	rc = sm_intake_message(fx->intake, 2, topic, strlen(topic), body.data, body.size, 0);
	msgpack_sbuffer_destroy(&body);
	fake_stats_free(&m);
	return rc;
}

static void intake_expands_brief_records_and_keeps_those_it_cannot(void **state)
{
	struct fixture *fx = *state;
	const struct sm_intake_counters *c = sm_intake_counters(fx->intake);
	struct sm_message full;
	const struct store_domain *d;
	uint8_t u0[16];

	/* The full record the brief ones refer to: number 1. */
	assert_int_equal(feed_brief(fx, 1, 5000000000, NULL, 1), 0);
	assert_int_equal(fake_stats_fill(&full, "cn1", 1, 7, 1), 0);
	full.u.stats.domains[0].cpu_time_ns = 5000000000;
	memcpy(u0, full.u.stats.domains[0].uuid, 16);
	/* A brief record: 1.5 s of CPU more, names and identity from the full one. */
	assert_int_equal(feed_brief(fx, 2, 6500000000, &full.u.stats.domains[0], 1), 0);
	assert_int_equal(c->brief_expanded, 1);
	d = store_find_domain(fx->store, u0);
	assert_non_null(d);
	assert_int_equal(d->stats.cpu_time_ns, 6500000000);
	assert_string_equal(d->stats.identity.display_name, "web-frontend-0");
	assert_non_null(strstr(d->labels, "name=\"web-frontend-0\""));
	/* One that refers to a full record never seen (number 2: lost) is left
	 * out of its frame, and its domain is kept, not taken for gone. */
	assert_int_equal(feed_brief(fx, 3, 7000000000, &full.u.stats.domains[0], 2), 0);
	assert_int_equal(c->brief_waiting, 1);
	d = store_find_domain(fx->store, u0);
	assert_non_null(d);
	assert_int_equal(d->stats.cpu_time_ns, 6500000000);
	assert_int_equal(store_domains(fx->store), 2);
	assert_int_equal(store_counters(fx->store)->domains_removed[STORE_GONE_ABSENT], 0);
	fake_stats_free(&full);
}

static void intake_counts_gaps_in_seq_as_lost(void **state)
{
	struct fixture *fx = *state;
	const struct sm_intake_counters *c = sm_intake_counters(fx->intake);

	feed_stats(fx, "cn1", 1, 1);
	feed_stats(fx, "cn1", 1, 2);
	feed_stats(fx, "cn1", 1, 6); /* 3, 4, 5 lost */
	assert_int_equal(c->lost, 3);
	assert_int_equal(c->frames[SM_KIND_STATS], 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(intake_applies_an_encoded_stats_frame_and_event, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(intake_counts_bad_messages_by_reason_and_goes_on, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(intake_refuses_a_topic_that_disagrees_with_the_body,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(intake_expands_brief_records_and_keeps_those_it_cannot,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(intake_counts_gaps_in_seq_as_lost, setup, teardown),
	};

	sm_log_open("test_intake", SM_LOG_ERR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
