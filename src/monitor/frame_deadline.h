/*
 * frame_deadline — how long a tick's frame waits for its pass. The base is
 * half an interval, at most 2 s; when libvirt has been slower than that but
 * still answers within the interval (a loaded libvirtd taking 500-870 ms
 * at a 1 s interval), the frame waits for what the recent passes took, with
 * a quarter more, up to 90 % of the interval: late data in time beats a
 * frame of stale domains. A pass that outlasted the interval is not waited
 * for (it is a hang; the frame goes at the base deadline).
 */
#ifndef FRAME_DEADLINE_H
#define FRAME_DEADLINE_H

#include <stdint.h>

/* Passes remembered: one slow pass keeps the longer deadline this long. */
#define FRAME_DEADLINE_PASSES 8

struct frame_deadline {
	int64_t interval_ns;
	int64_t pass_ns[FRAME_DEADLINE_PASSES]; /* recent pass durations, 0 = none */
	unsigned next;                           /* slot the next duration goes to */
};

void frame_deadline_init(struct frame_deadline *d, double interval_s);
/* A pass ended `ns` after its tick. */
void frame_deadline_pass(struct frame_deadline *d, int64_t ns);
/* How long after its tick the next frame may wait for its pass. */
int64_t frame_deadline_budget_ns(const struct frame_deadline *d);

#endif
