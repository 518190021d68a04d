/*
 * frame_deadline — see frame_deadline.h.
 */
#include "frame_deadline.h"

#include <string.h>

#include "sm_clock.h"

#define BASE_MAX_NS (2 * SM_NS_PER_SEC) /* the base: half an interval, at most this */

void frame_deadline_init(struct frame_deadline *d, double interval_s)
{
	memset(d, 0, sizeof(*d));
	d->interval_ns = (int64_t)(interval_s * SM_NS_PER_SEC);
}

void frame_deadline_pass(struct frame_deadline *d, int64_t ns)
{
	/* A hang is no measure of how long to wait: nothing longer than the
	 * interval could be waited for anyway. */
	if (ns <= 0 || ns > d->interval_ns)
		return;
	d->pass_ns[d->next] = ns;
	d->next = (d->next + 1) % FRAME_DEADLINE_PASSES;
}

int64_t frame_deadline_budget_ns(const struct frame_deadline *d)
{
	int64_t base = d->interval_ns / 2, cap = d->interval_ns / 10 * 9, slowest = 0, want;

	if (base > BASE_MAX_NS)
		base = BASE_MAX_NS;
	for (unsigned i = 0; i < FRAME_DEADLINE_PASSES; i++)
		if (d->pass_ns[i] > slowest)
			slowest = d->pass_ns[i];
	want = slowest + slowest / 4;
	if (want > cap)
		want = cap;
	return want > base ? want : base;
}
