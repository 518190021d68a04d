/*
 * test_loss.c — per-sender loss accounting (collector, aggregator, sub): gaps counted,
 * duplicates and reordering not, a new epoch starting over, kinds kept
 * apart, and the table's bounds (eviction of the least recently heard
 * sender when full, expiry of silent ones).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sm_loss.h"
#include "sm_clock.h"

#define SEC SM_NS_PER_SEC

static struct sm_header hdr(const char *host, enum sm_msg_kind kind, uint64_t epoch, uint64_t seq)
{
	struct sm_header h;

	memset(&h, 0, sizeof(h));
	h.version = SM_WIRE_VERSION;
	h.kind = kind;
	snprintf(h.host, sizeof(h.host), "%s", host);
	h.seq = seq;
	h.epoch = epoch;
	return h;
}

/* Notes a run of seqs for one sender; returns the loss they revealed. */
static uint64_t note_seqs(struct loss_table *t, const char *host, enum sm_msg_kind kind,
			  uint64_t epoch, const uint64_t *seqs, size_t n)
{
	uint64_t lost = 0;

	for (size_t i = 0; i < n; i++) {
		struct sm_header h = hdr(host, kind, epoch, seqs[i]);

		lost += loss_table_note(t, &h, 0);
	}
	return lost;
}

static void row_is(struct loss_table *t, const char *host, enum sm_msg_kind kind, uint64_t received,
		   uint64_t lost)
{
	struct sm_publisher_loss row;

	assert_int_equal(loss_table_get(t, host, kind, &row), 0);
	assert_string_equal(row.host, host);
	assert_int_equal(row.kind, kind);
	assert_int_equal(row.received, received);
	assert_int_equal(row.lost, lost);
}

static void loss_counts_gaps_in_sequence(void **state)
{
	struct loss_table *t = loss_table_new(16, 60);
	const uint64_t seqs[] = {1, 2, 5, 6, 10};

	assert_non_null(t);
	assert_int_equal(note_seqs(t, "cn-01", SM_KIND_STATS, 1, seqs, 5), 2 + 3);
	row_is(t, "cn-01", SM_KIND_STATS, 5, 5);
	loss_table_destroy(&t);
	assert_null(t);
}

static void loss_first_frame_is_not_a_gap(void **state)
{
	struct loss_table *t = loss_table_new(16, 60);
	const uint64_t seqs[] = {1000, 1001};

	/* We joined late: what came before was never ours. */
	assert_int_equal(note_seqs(t, "cn-01", SM_KIND_STATS, 1, seqs, 2), 0);
	row_is(t, "cn-01", SM_KIND_STATS, 2, 0);
	loss_table_destroy(&t);
}

static void loss_duplicates_and_reordering_are_not_loss(void **state)
{
	struct loss_table *t = loss_table_new(16, 60);
	const uint64_t seqs[] = {1, 2, 3, 3, 2, 4};

	assert_int_equal(note_seqs(t, "cn-01", SM_KIND_STATS, 1, seqs, 6), 0);
	row_is(t, "cn-01", SM_KIND_STATS, 6, 0);
	assert_int_equal(loss_table_reordered(t), 2);
	loss_table_destroy(&t);
}

static void loss_new_epoch_restarts_the_count(void **state)
{
	struct loss_table *t = loss_table_new(16, 60);
	const uint64_t before[] = {1, 2, 3, 4, 5};
	const uint64_t after[] = {1, 2, 4};

	note_seqs(t, "cn-01", SM_KIND_STATS, 111, before, 5);
	/* The monitor restarted: seq 1 after 5 is not a duplicate, not loss. */
	assert_int_equal(note_seqs(t, "cn-01", SM_KIND_STATS, 222, after, 3), 1);
	row_is(t, "cn-01", SM_KIND_STATS, 8, 1);
	assert_int_equal(loss_table_reordered(t), 0);
	loss_table_destroy(&t);
}

static void loss_kinds_and_hosts_are_counted_apart(void **state)
{
	struct loss_table *t = loss_table_new(16, 60);
	const uint64_t stats[] = {1, 2, 3};
	const uint64_t events[] = {1, 3};

	note_seqs(t, "cn-01", SM_KIND_STATS, 1, stats, 3);
	note_seqs(t, "cn-01", SM_KIND_EVENT, 1, events, 2);
	note_seqs(t, "cn-02", SM_KIND_STATS, 1, events, 2);
	row_is(t, "cn-01", SM_KIND_STATS, 3, 0);
	row_is(t, "cn-01", SM_KIND_EVENT, 2, 1);
	row_is(t, "cn-02", SM_KIND_STATS, 2, 1);
	assert_int_equal(loss_table_senders(t), 2);
	loss_table_destroy(&t);
}

static void loss_does_not_believe_absurd_jumps(void **state)
{
	struct loss_table *t = loss_table_new(16, 60);
	const uint64_t seqs[] = {1, UINT64_C(1) << 40, (UINT64_C(1) << 40) + 2};

	assert_int_equal(note_seqs(t, "cn-01", SM_KIND_STATS, 1, seqs, 3), 1);
	row_is(t, "cn-01", SM_KIND_STATS, 3, 1);
	loss_table_destroy(&t);
}

/* The note says which seqs went missing, so a receiver can log the gap. */
static void loss_note_names_the_missing_range(void **state)
{
	struct loss_table *t = loss_table_new(16, 60);
	struct sm_header a = hdr("cn-01", SM_KIND_STATS, 7, 1180);
	struct sm_header b = hdr("cn-01", SM_KIND_STATS, 7, 1499);
	struct loss_note n;

	loss_table_note_frame(t, &a, 0, &n);
	assert_true(n.first);
	assert_false(n.restart);
	assert_int_equal(n.lost, 0);
	loss_table_note_frame(t, &b, 0, &n);
	assert_false(n.first);
	assert_int_equal(n.lost, 318);
	assert_int_equal(n.first_missing, 1181);
	assert_int_equal(n.last_missing, 1498);
	assert_int_equal(n.jumped, 0);
	row_is(t, "cn-01", SM_KIND_STATS, 2, 318);
	loss_table_destroy(&t);
}

/* Duplicates, new epochs and leaps are told apart, none of them is loss. */
static void loss_note_tells_duplicate_restart_and_leap(void **state)
{
	struct loss_table *t = loss_table_new(16, 60);
	struct sm_header h = hdr("cn-01", SM_KIND_EVENT, 1, 10);
	struct loss_note n;

	loss_table_note_frame(t, &h, 0, &n);
	loss_table_note_frame(t, &h, 0, &n);
	assert_true(n.duplicate);
	assert_int_equal(n.lost, 0);
	h.epoch = 2;
	h.seq = 500;
	loss_table_note_frame(t, &h, 0, &n);
	assert_true(n.restart);
	assert_false(n.first);
	assert_int_equal(n.lost, 0);
	h.seq = 500 + LOSS_MAX_GAP + 2;
	loss_table_note_frame(t, &h, 0, &n);
	assert_int_equal(n.jumped, LOSS_MAX_GAP + 1);
	assert_int_equal(n.lost, 0);
	h.seq += 3; /* counting goes on from the leap */
	loss_table_note_frame(t, &h, 0, &n);
	assert_int_equal(n.lost, 2);
	assert_int_equal(n.first_missing, 500 + LOSS_MAX_GAP + 3);
	row_is(t, "cn-01", SM_KIND_EVENT, 5, 2);
	h.kind = (enum sm_msg_kind)99;
	loss_table_note_frame(t, &h, 0, &n);
	assert_true(n.untracked);
	loss_table_destroy(&t);
}

static void loss_evicts_least_recently_heard_when_full(void **state)
{
	struct loss_table *t = loss_table_new(3, 3600);
	struct sm_publisher_loss rows[8];
	struct sm_publisher_loss row;
	struct sm_header h;
	const char *order[] = {"a", "b", "c", "a", "d"};

	for (int i = 0; i < 5; i++) {
		h = hdr(order[i], SM_KIND_STATS, 1, (uint64_t)i + 1);
		loss_table_note(t, &h, (int64_t)i * SEC);
	}
	/* "b" was heard least recently ("a" spoke again), so it made room. */
	assert_int_equal(loss_table_senders(t), 3);
	assert_int_equal(loss_table_evictions(t), 1);
	assert_int_equal(loss_table_get(t, "b", SM_KIND_STATS, &row), -1);
	assert_int_equal(loss_table_rows(t, rows, 8), 3);
	assert_string_equal(rows[0].host, "d");
	assert_string_equal(rows[1].host, "a");
	assert_string_equal(rows[2].host, "c");
	/* The row limit is honoured. */
	assert_int_equal(loss_table_rows(t, rows, 2), 2);
	loss_table_destroy(&t);
}

static void loss_expires_silent_senders(void **state)
{
	struct loss_table *t = loss_table_new(16, 10);
	struct sm_publisher_loss row;
	struct sm_header a = hdr("a", SM_KIND_STATS, 1, 1);
	struct sm_header b = hdr("b", SM_KIND_STATS, 1, 1);

	loss_table_note(t, &a, 0);
	loss_table_note(t, &b, 5 * SEC);
	assert_int_equal(loss_table_expire(t, 9 * SEC), 0);
	assert_int_equal(loss_table_expire(t, 12 * SEC), 1);
	assert_int_equal(loss_table_get(t, "a", SM_KIND_STATS, &row), -1);
	assert_int_equal(loss_table_get(t, "b", SM_KIND_STATS, &row), 0);
	assert_int_equal(loss_table_evictions(t), 0);
	/* A sender that comes back starts a fresh row. */
	a.seq = 50;
	assert_int_equal(loss_table_note(t, &a, 13 * SEC), 0);
	row_is(t, "a", SM_KIND_STATS, 1, 0);
	assert_int_equal(loss_table_expire(t, 100 * SEC), 2);
	assert_int_equal(loss_table_senders(t), 0);
	loss_table_destroy(&t);
}

static void loss_table_holds_ten_thousand_senders(void **state)
{
	struct loss_table *t = loss_table_new(10000, 60);
	char host[32];

	for (int round = 1; round <= 3; round++) {
		for (int i = 0; i < 10000; i++) {
			struct sm_header h;

			snprintf(host, sizeof(host), "cn-%05d", i);
			/* Every 7th host skips one frame in round 3. */
			h = hdr(host, SM_KIND_STATS, 9,
				(uint64_t)round + (round == 3 && i % 7 == 0 ? 1 : 0));
			loss_table_note(t, &h, round * SEC);
		}
	}
	assert_int_equal(loss_table_senders(t), 10000);
	assert_int_equal(loss_table_evictions(t), 0);
	row_is(t, "cn-00007", SM_KIND_STATS, 3, 1);
	row_is(t, "cn-00008", SM_KIND_STATS, 3, 0);
	loss_table_destroy(&t);
}

static void loss_table_new_refuses_bad_bounds(void **state)
{
	assert_null(loss_table_new(0, 60));
	assert_null(loss_table_new(SM_WIRE_MAX_PUBLISHERS + 1, 60));
	assert_null(loss_table_new(16, 0));
	assert_null(loss_table_new(16, NAN));
	loss_table_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(loss_counts_gaps_in_sequence),
	    cmocka_unit_test(loss_first_frame_is_not_a_gap),
	    cmocka_unit_test(loss_duplicates_and_reordering_are_not_loss),
	    cmocka_unit_test(loss_new_epoch_restarts_the_count),
	    cmocka_unit_test(loss_kinds_and_hosts_are_counted_apart),
	    cmocka_unit_test(loss_does_not_believe_absurd_jumps),
	    cmocka_unit_test(loss_note_names_the_missing_range),
	    cmocka_unit_test(loss_note_tells_duplicate_restart_and_leap),
	    cmocka_unit_test(loss_evicts_least_recently_heard_when_full),
	    cmocka_unit_test(loss_expires_silent_senders),
	    cmocka_unit_test(loss_table_holds_ten_thousand_senders),
	    cmocka_unit_test(loss_table_new_refuses_bad_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
