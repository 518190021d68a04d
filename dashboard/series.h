/*
 * series — one metric over one time window, read from its Whisper file and
 * reduced to what a chart can draw: a fixed number of buckets, each with
 * the minimum, maximum and mean of the points that fall in it, NaN where
 * none do (a gap). A missing, unreadable or half-written file is reported
 * as "no data" with a reason, never as an error page.
 */
#ifndef DASH_SERIES_H
#define DASH_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "whisper.h"

/* The windows a page offers. whisper_fetch picks the archive: 1 s points
 * for 15 min and 3 h, 1 min points for 1 day and 7 days (with the default
 * retention 1s:3h,1m:7d,10m:1y). */
enum window { WIN_15M, WIN_3H, WIN_1D, WIN_7D, WIN_COUNT };

struct window_info {
	const char *name;  /* parameter value: "15m", "3h", "1d", "7d" */
	const char *label; /* for people: "15 min" */
	int64_t seconds;   /* length */
	int64_t tick;	   /* seconds between x-axis ticks */
};

extern const struct window_info windows[WIN_COUNT];

/* The window called `name`, or -1. */
int window_parse(const char *name);

/* True if `relpath` is a safe path below a data directory: relative, no
 * empty, "." or ".." component, at most 4095 bytes. */
bool series_relpath_ok(const char *relpath);

/*
 * Fetches [from, until] of the Whisper file data_dir/relpath as of `now`.
 * Returns 0 with *out set (NULL when the file holds nothing for the range),
 * or -1 with a short reason in `why` ("no file", "damaged file", …) when
 * the file cannot be used: a gap, for the caller.
 */
int series_fetch(const char *data_dir, const char *relpath, int64_t from, int64_t until,
		 int64_t now, struct whisper_series **out, char *why, size_t whylen);

/* Buckets of one series. */
struct buckets {
	size_t n;      /* number of buckets */
	int64_t from;  /* start of bucket 0 */
	int64_t until; /* end of the last bucket */
	size_t points; /* finite points that fell in some bucket */
	double *min;   /* n values each; NaN = no point in the bucket */
	double *max;
	double *mean;
};

/* Spreads s over n buckets covering [from, until) (points outside are
 * ignored; s NULL gives all gaps). Returns 0 or -1 (no memory). Free with
 * buckets_clear. */
int buckets_fill(struct buckets *b, const struct whisper_series *s, int64_t from, int64_t until,
		 size_t n);
void buckets_clear(struct buckets *b);

#endif
