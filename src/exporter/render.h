/*
 * render — StackMon's metric families in the Prometheus text format: the
 * store's domains and hosts, then the exporter's own health. Every family
 * has its HELP and TYPE lines, even when it has no sample yet; samples of
 * one family are written together, as the format requires. Rates are not
 * exported where the counter they come from is: Prometheus' rate() makes
 * them over any window.
 */
#ifndef RENDER_H
#define RENDER_H

#include <stdint.h>

#include "expo.h"
#include "sm_intake.h"
#include "store.h"

/* Series each record renders at most (store_sizes for store_new). */
#define RENDER_PER_HOST	  14
#define RENDER_PER_DOMAIN 11
#define RENDER_PER_DISK	  5
#define RENDER_PER_NIC	  8

/* What the health section shows besides the intake's and store's counters. */
struct render_health {
	int64_t started_ns;   /* monotonic start of this scrape */
	double start_time;    /* the exporter's start, wall clock */
	uint64_t scrapes;     /* scrapes served before this one */
	uint64_t disconnects; /* subscription connections lost */
	size_t max_series;    /* the bound (0 = none) */
};

/* The store_sizes matching the families below. */
void render_sizes(struct store_sizes *sizes);

/* Appends the whole exposition to b: domains, nodes, then health (whose
 * scrape duration is measured from h->started_ns to its own line). now_ns
 * is the monotonic time used for frame ages. */
void render_metrics(struct expo_buf *b, const struct store *s, const struct sm_intake_counters *in,
		    const struct render_health *h, int64_t now_ns);

#endif
