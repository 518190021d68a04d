/*
 * Tests of frame_deadline: the base deadline (half an interval, at most
 * 2 s), the longer wait after slow passes that still fit the interval (a
 * quarter more than the slowest recent pass, at most 90 % of the interval),
 * hangs ignored, and the base again once the slow passes are old.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "frame_deadline.h"
#include "sm_clock.h"

#define MS (1000 * 1000LL)

static void deadline_base_is_half_an_interval_at_most_2s(void **state)
{
	struct frame_deadline d;

	frame_deadline_init(&d, 1.0);
	assert_int_equal(frame_deadline_budget_ns(&d), 500 * MS);
	frame_deadline_init(&d, 60.0);
	assert_int_equal(frame_deadline_budget_ns(&d), 2000 * MS);
	/* Quick passes change nothing. */
	frame_deadline_pass(&d, 5 * MS);
	assert_int_equal(frame_deadline_budget_ns(&d), 2000 * MS);
}

/* libvirt answering in 500-870 ms at a 1 s interval: the frame waits. */
static void deadline_follows_slow_passes_within_the_interval(void **state)
{
	struct frame_deadline d;

	frame_deadline_init(&d, 1.0);
	frame_deadline_pass(&d, 560 * MS);
	assert_int_equal(frame_deadline_budget_ns(&d), 700 * MS);
	frame_deadline_pass(&d, 870 * MS); /* 1087 ms wanted: 90 % of the interval */
	assert_int_equal(frame_deadline_budget_ns(&d), 900 * MS);
	/* The slowest of the recent passes rules until it is old. */
	for (int i = 0; i < FRAME_DEADLINE_PASSES - 1; i++)
		frame_deadline_pass(&d, 100 * MS);
	assert_int_equal(frame_deadline_budget_ns(&d), 900 * MS);
	frame_deadline_pass(&d, 100 * MS);
	assert_int_equal(frame_deadline_budget_ns(&d), 500 * MS);
}

/* A pass longer than the interval (libvirtd wedged) is not waited for. */
static void deadline_ignores_hangs(void **state)
{
	struct frame_deadline d;

	frame_deadline_init(&d, 0.5);
	frame_deadline_pass(&d, 4000 * MS);
	frame_deadline_pass(&d, -1);
	frame_deadline_pass(&d, 0);
	assert_int_equal(frame_deadline_budget_ns(&d), 250 * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deadline_base_is_half_an_interval_at_most_2s),
		cmocka_unit_test(deadline_follows_slow_passes_within_the_interval),
		cmocka_unit_test(deadline_ignores_hangs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
