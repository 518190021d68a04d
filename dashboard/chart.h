/*
 * chart — one time-series chart as inline SVG, drawn on the server so the
 * page needs no script: a light min–max band and a mean line per series
 * over fixed-width buckets, horizontal grid lines with y labels in the
 * chart's unit (binary prefixes for bytes, SI prefixes for the rest, so
 * every label fits the gutter), time ticks on local-time boundaries. A bucket without
 * points is left empty, so missing data shows as a gap, and a series
 * without any shows "no data" with the reason. Colours come from the
 * page's stylesheet (classes s0..s3), so the SVG carries no style.
 */
#ifndef DASH_CHART_H
#define DASH_CHART_H

#include <stdint.h>
#include <stdio.h>

#include "metric.h"
#include "series.h"

/* Buckets per chart: 2 px each over the plot width. */
#define CHART_BUCKETS 248
/* Series a chart distinguishes by colour (more share the last colour). */
#define CHART_COLOURS 4

struct chart_series {
	const char *label; /* legend text (escaped when written) */
	const char *why;   /* reason there is no data, or NULL */
	struct buckets b;  /* CHART_BUCKETS buckets over the chart's range */
};

struct chart {
	const char *title; /* plain text */
	enum metric_unit unit;
	int64_t from, until; /* range drawn */
	int64_t tick;	     /* seconds between time ticks */
	size_t nseries;
	struct chart_series *series;
};

/* Writes the chart as a <figure> holding its title, legend (with last,
 * mean and max of each series) and <svg>. */
void chart_write(FILE *out, const struct chart *c);

/* The "nice" top of a y axis for data reaching `max` in unit `u`, and the
 * number of grid divisions that suits it. */
double chart_nice_max(double max, enum metric_unit u, int *divisions);

/* Writes `v` for an axis tick: at most three significant digits with an SI
 * prefix (k, M, G, T, P, E) from 1,000 up, trailing zeros dropped: "0",
 * "0.25", "12.5", "999", "1k", "1.5k", "898M", "-2.5k", "1T". A value that
 * rounds to 1,000 takes the next prefix ("1M", not "1e+03k"). NaN and
 * infinities give "". Short enough for the chart's label gutter. */
void chart_si(double v, char *buf, size_t len);

#endif
