/*
 * test_msgq.c — the FIFO of unsent ZeroMQ messages: order kept across
 * growth and the move to the front, entries and bytes counted (also after
 * the caller sent a front message's frames, which empties them), the third
 * frame kept only when given, and queued messages freed by the destroy
 * (the sanitizer build checks there is no leak).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "sm_msgq.h"

static void text_msg(zmq_msg_t *m, const char *s)
{
	assert_int_equal(zmq_msg_init_size(m, strlen(s)), 0);
	memcpy(zmq_msg_data(m), s, strlen(s));
}

static void push_text(struct sm_msgq *q, const char *topic, const char *body, const char *origin,
		      int64_t t)
{
	zmq_msg_t tm, bm, om;

	text_msg(&tm, topic);
	text_msg(&bm, body);
	if (origin)
		text_msg(&om, origin);
	assert_int_equal(sm_msgq_push(q, &tm, &bm, origin ? &om : NULL, t), 0);
	/* The content was taken: what the caller holds is empty. */
	assert_int_equal(zmq_msg_size(&tm), 0);
	assert_int_equal(zmq_msg_size(&bm), 0);
	zmq_msg_close(&tm);
	zmq_msg_close(&bm);
	if (origin)
		zmq_msg_close(&om);
}

static void test_order_and_counts_across_growth(void **state)
{
	struct sm_msgq *q = sm_msgq_new();
	char body[32];
	size_t bytes = 0;

	(void)state;
	assert_non_null(q);
	assert_null(sm_msgq_front(q));
	sm_msgq_pop(q); /* empty: nothing happens */
	for (int i = 0; i < 100; i++) {
		snprintf(body, sizeof(body), "b%d", i);
		push_text(q, "stats/cn1/", body, NULL, i);
		bytes += strlen("stats/cn1/") + strlen(body);
	}
	assert_int_equal(sm_msgq_count(q), 100);
	assert_int_equal(sm_msgq_bytes(q), bytes);
	/* Pop 90, then push 200 more: the live part moves to the front and
	 * the array grows, and the order stays the order of the pushes. */
	for (int i = 0; i < 90; i++) {
		struct sm_msgq_item *it = sm_msgq_front(q);

		snprintf(body, sizeof(body), "b%d", i);
		assert_int_equal(it->since_ns, i);
		assert_memory_equal(zmq_msg_data(&it->body), body, strlen(body));
		sm_msgq_pop(q);
	}
	for (int i = 100; i < 300; i++) {
		snprintf(body, sizeof(body), "b%d", i);
		push_text(q, "stats/cn1/", body, NULL, i);
	}
	assert_int_equal(sm_msgq_count(q), 210);
	for (int i = 90; i < 300; i++) {
		struct sm_msgq_item *it = sm_msgq_front(q);

		assert_non_null(it);
		assert_int_equal(it->since_ns, i);
		assert_false(it->has_origin);
		sm_msgq_pop(q);
	}
	assert_int_equal(sm_msgq_count(q), 0);
	assert_int_equal(sm_msgq_bytes(q), 0);
	sm_msgq_destroy(&q);
	assert_null(q);
	sm_msgq_destroy(&q); /* NULL-safe */
}

static void test_bytes_right_after_the_front_was_sent(void **state)
{
	struct sm_msgq *q = sm_msgq_new();
	void *ctx = zmq_ctx_new();
	void *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
	struct sm_msgq_item *it;
	char buf[64];

	(void)state;
	assert_int_equal(zmq_bind(a, "inproc://msgq"), 0);
	assert_int_equal(zmq_connect(b, "inproc://msgq"), 0);
	push_text(q, "event/cn1/", "started", "cn1-key", 5);
	push_text(q, "stats/cn1/", "frame", NULL, 6);
	assert_int_equal(sm_msgq_bytes(q), 10 + 7 + 7 + 10 + 5);
	/* The caller sends the front message's frames from the queue (which
	 * empties them), then pops: the bytes counted at the push come off. */
	it = sm_msgq_front(q);
	assert_true(it->has_origin);
	assert_int_equal(zmq_msg_send(&it->topic, a, ZMQ_SNDMORE), 10);
	assert_int_equal(zmq_msg_send(&it->body, a, ZMQ_SNDMORE), 7);
	assert_int_equal(zmq_msg_send(&it->origin, a, 0), 7);
	sm_msgq_pop(q);
	assert_int_equal(sm_msgq_count(q), 1);
	assert_int_equal(sm_msgq_bytes(q), 10 + 5);
	assert_int_equal(zmq_recv(b, buf, sizeof(buf), 0), 10);
	assert_int_equal(zmq_recv(b, buf, sizeof(buf), 0), 7);
	assert_memory_equal(buf, "started", 7);
	assert_int_equal(zmq_recv(b, buf, sizeof(buf), 0), 7);
	assert_memory_equal(buf, "cn1-key", 7);
	/* One message still queued: the destroy frees it. */
	sm_msgq_destroy(&q);
	zmq_close(a);
	zmq_close(b);
	zmq_ctx_term(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_and_counts_across_growth),
	    cmocka_unit_test(test_bytes_right_after_the_front_was_sent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
