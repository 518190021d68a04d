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
#include "intake.h"
#include "render.h"
#include "sm_log.h"
#include "store.h"

struct fixture {
	struct store *store;
	struct intake *intake;
};

static int setup(void **state)
{
	static struct fixture fx;
	struct store_sizes sizes;

	render_sizes(&sizes);
	fx.store = store_new(&sizes, 0);
	fx.intake = intake_new(fx.store, 0, NULL);
	*state = &fx;
	return fx.store && fx.intake ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	intake_destroy(&fx->intake);
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
	rc = intake_message(fx->intake, 2, topic, tlen, body.data, body.size, 0);
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
	const struct intake_counters *c = intake_counters(fx->intake);
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
	const struct intake_counters *c = intake_counters(fx->intake);
	static const char garbage[] = "\xc1\xc1\xc1 not msgpack";
	static const char topic[] = "stats/cn1/";

	assert_int_equal(
	    intake_message(fx->intake, 2, topic, strlen(topic), garbage, sizeof(garbage), 0), -1);
	assert_int_equal(c->errors[SM_WIRE_E_GARBAGE], 1);
	assert_int_equal(
	    intake_message(fx->intake, 3, topic, strlen(topic), garbage, sizeof(garbage), 0), -1);
	assert_int_equal(c->errors[INTAKE_E_PARTS], 1);
	assert_string_equal(intake_reason_name(INTAKE_E_PARTS), "parts");
	assert_int_equal(intake_message(fx->intake, 1, "\x01\x02", 2, NULL, 0, 0), -1);
	assert_int_equal(c->errors[INTAKE_E_PARTS], 2);
	assert_int_equal(intake_message(fx->intake, 2, "", 0, "", 0, 0), -1);
	assert_int_equal(store_domains(fx->store), 0);
	/* ... and a good frame still goes through. */
	assert_int_equal(feed_stats(fx, "cn1", 1, 1), 0);
	assert_int_equal(store_domains(fx->store), 1);
}

static void intake_refuses_a_topic_that_disagrees_with_the_body(void **state)
{
	struct fixture *fx = *state;
	const struct intake_counters *c = intake_counters(fx->intake);
	struct sm_message m;
	msgpack_sbuffer body;
	static const char topic[] = "stats/other-host/";

	assert_int_equal(fake_stats_fill(&m, "cn1", 1, 7, 1), 0);
	msgpack_sbuffer_init(&body);
	assert_int_equal(sm_wire_encode(&m, &body), 0);
	assert_int_equal(
	    intake_message(fx->intake, 2, topic, strlen(topic), body.data, body.size, 0), -1);
	assert_int_equal(c->errors[SM_WIRE_E_TOPIC], 1);
	assert_int_equal(store_hosts(fx->store), 0);
	msgpack_sbuffer_destroy(&body);
	fake_stats_free(&m);
}

static void intake_counts_gaps_in_seq_as_lost(void **state)
{
	struct fixture *fx = *state;
	const struct intake_counters *c = intake_counters(fx->intake);

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
	    cmocka_unit_test_setup_teardown(intake_counts_gaps_in_seq_as_lost, setup, teardown),
	};

	sm_log_open("test_intake", SM_LOG_ERR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
