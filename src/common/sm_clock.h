/*
 * sm_clock — monotonic and wall clocks, and a drift-free fixed-rate ticker.
 * Intervals are measured on CLOCK_MONOTONIC; timestamps that go on the wire
 * come from the wall clock (CLOCK_REALTIME) with sub-second precision.
 */
#ifndef SM_CLOCK_H
#define SM_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define SM_NS_PER_SEC INT64_C(1000000000)

/* Nanoseconds on CLOCK_MONOTONIC (never jumps). */
int64_t sm_clock_mono_ns(void);
/* Seconds since the Unix epoch on CLOCK_REALTIME, with sub-second precision. */
double sm_clock_wall(void);

/*
 * Fixed-rate ticker: deadlines are start + k*interval, never "now + interval",
 * so the schedule does not drift by the time each tick takes. When a tick
 * overruns, the missed deadlines are skipped (and counted), not bunched up.
 */
struct sm_ticker {
	int64_t interval_ns; /* period, > 0 */
	int64_t next_ns;     /* monotonic deadline of the next tick */
};

/* First deadline is now (the first tick is due at once). */
void sm_ticker_start(struct sm_ticker *t, int64_t interval_ns);
/* True when the next deadline has passed. */
bool sm_ticker_due(const struct sm_ticker *t);
/* Milliseconds until the next deadline, rounded up, >= 0: a poll() timeout. */
int sm_ticker_timeout_ms(const struct sm_ticker *t);
/* Call once per tick taken: moves the deadline to the next future slot and
 * returns how many deadlines were skipped because the tick ran late (0 when
 * on time). */
uint64_t sm_ticker_advance(struct sm_ticker *t);

#endif
