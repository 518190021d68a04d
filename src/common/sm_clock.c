/*
 * sm_clock — see sm_clock.h. The ticker's invariant: next_ns is always
 * start + k*interval for some k, so however late a tick runs, the schedule
 * stays on the grid it started on.
 */
#include "sm_clock.h"

#include <assert.h>
#include <limits.h>
#include <time.h>

int64_t sm_clock_mono_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * SM_NS_PER_SEC + ts.tv_nsec;
}

double sm_clock_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sm_ticker_start(struct sm_ticker *t, int64_t interval_ns)
{
	assert(interval_ns > 0);
	t->interval_ns = interval_ns;
	t->next_ns = sm_clock_mono_ns();
}

bool sm_ticker_due(const struct sm_ticker *t)
{
	return sm_clock_mono_ns() >= t->next_ns;
}

int sm_ticker_timeout_ms(const struct sm_ticker *t)
{
	int64_t left = t->next_ns - sm_clock_mono_ns();
	int64_t ms;

	if (left <= 0)
		return 0;
	/* Rounded up: a poll() that wakes a little early would spin once. */
	ms = (left + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

uint64_t sm_ticker_advance(struct sm_ticker *t)
{
	int64_t now = sm_clock_mono_ns();
	uint64_t skipped = 0;

	t->next_ns += t->interval_ns;
	/* Deadlines already in the past were missed: jump over them in one
	 * step (never bunch catch-up ticks), keeping the grid. A deadline equal
	 * to now is due, not missed. */
	if (t->next_ns < now) {
		skipped = (uint64_t)((now - t->next_ns - 1) / t->interval_ns) + 1;
		t->next_ns += (int64_t)skipped * t->interval_ns;
	}
	return skipped;
}
