/*
 * Tests of sm_clock: the clocks move the right way, and the fixed-rate
 * ticker keeps its grid (start + k*interval) through on-time ticks and
 * through overruns, where it reports how many deadlines it skipped.
 * No assertion depends on how fast the machine is.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "sm_clock.h"

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {ns / SM_NS_PER_SEC, ns % SM_NS_PER_SEC};

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void clock_mono_never_goes_back_and_wall_is_epoch_seconds(void **state)
{
	int64_t a = sm_clock_mono_ns(), b;
	double w = sm_clock_wall();

	(void)state;
	sleep_ns(1000000);
	b = sm_clock_mono_ns();
	assert_true(b - a >= 1000000);
	assert_true(w > (double)time(NULL) - 5 && w < (double)time(NULL) + 5);
}

static void ticker_first_tick_is_due_at_once(void **state)
{
	struct sm_ticker t;

	(void)state;
	sm_ticker_start(&t, SM_NS_PER_SEC);
	assert_true(sm_ticker_due(&t));
	assert_int_equal(sm_ticker_timeout_ms(&t), 0);
}

static void ticker_on_time_advance_skips_nothing_and_keeps_grid(void **state)
{
	struct sm_ticker t;
	int64_t start;
	int ms;

	(void)state;
	sm_ticker_start(&t, 10 * SM_NS_PER_SEC);
	start = t.next_ns;
	assert_int_equal(sm_ticker_advance(&t), 0);
	assert_int_equal(t.next_ns, start + 10 * SM_NS_PER_SEC);
	assert_false(sm_ticker_due(&t));
	ms = sm_ticker_timeout_ms(&t);
	assert_true(ms > 0 && ms <= 10000);
	assert_int_equal(sm_ticker_advance(&t), 0);
	assert_int_equal(t.next_ns, start + 20 * SM_NS_PER_SEC);
}

static void ticker_overrun_counts_skipped_deadlines_and_stays_aligned(void **state)
{
	const int64_t ivl = 20 * 1000000; /* 20 ms */
	struct sm_ticker t;
	int64_t start, now;
	uint64_t skipped;

	(void)state;
	sm_ticker_start(&t, ivl);
	start = t.next_ns;
	/* Take tick 0, then "work" past the deadlines at +1, +2 and +3. */
	sleep_ns(3 * ivl + ivl / 2);
	skipped = sm_ticker_advance(&t);
	now = sm_clock_mono_ns();
	assert_true(skipped >= 3); /* more if the machine stalled us longer */
	assert_int_equal(t.next_ns, start + (int64_t)(skipped + 1) * ivl);
	assert_int_equal((t.next_ns - start) % ivl, 0);
	/* The new deadline is the first one not yet past when advance ran. */
	assert_true(t.next_ns - ivl < now);
	/* After an on-time tick the grid goes on from there. */
	if (!sm_ticker_due(&t)) {
		int64_t before = t.next_ns;

		sleep_ns(t.next_ns - sm_clock_mono_ns() + 1000);
		assert_true(sm_ticker_due(&t));
		skipped = sm_ticker_advance(&t);
		assert_int_equal(t.next_ns, before + (int64_t)(skipped + 1) * ivl);
	}
}

static void ticker_timeout_rounds_up_so_sleeping_it_reaches_deadline(void **state)
{
	struct sm_ticker t;
	int ms;

	(void)state;
	sm_ticker_start(&t, SM_NS_PER_SEC);
	t.next_ns = sm_clock_mono_ns() + 200500000; /* 200.5 ms away */
	ms = sm_ticker_timeout_ms(&t);
	assert_true(ms >= 0 && ms <= 201); /* rounded down, a 200 ms sleep would fall short */
	sleep_ns((int64_t)ms * 1000000);
	assert_true(sm_ticker_due(&t));
	assert_int_equal(sm_ticker_timeout_ms(&t), 0);
}

static void ticker_timeout_clamps_far_deadline_to_int_max(void **state)
{
	struct sm_ticker t;

	(void)state;
	sm_ticker_start(&t, SM_NS_PER_SEC);
	t.next_ns = sm_clock_mono_ns() + INT64_C(10000000) * SM_NS_PER_SEC; /* ~4 months */
	assert_int_equal(sm_ticker_timeout_ms(&t), INT_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(clock_mono_never_goes_back_and_wall_is_epoch_seconds),
	    cmocka_unit_test(ticker_first_tick_is_due_at_once),
	    cmocka_unit_test(ticker_on_time_advance_skips_nothing_and_keeps_grid),
	    cmocka_unit_test(ticker_overrun_counts_skipped_deadlines_and_stays_aligned),
	    cmocka_unit_test(ticker_timeout_rounds_up_so_sleeping_it_reaches_deadline),
	    cmocka_unit_test(ticker_timeout_clamps_far_deadline_to_int_max),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
