/*
 * host_loss — a node's frame loss over the last hour, for the "/host" page
 * and its API: the index's per-minute counts (host_loss_minutes, written by
 * the aggregator) summed up, and the minutes that had loss. Loss is counted
 * from the monitors' sequence numbers as the aggregator received them.
 */
#ifndef DASH_HOST_LOSS_H
#define DASH_HOST_LOSS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dash.h"

#define HOST_LOSS_WINDOW_S    3600.0
#define HOST_LOSS_MAX_MINUTES 61 /* a window of 3600 s touches at most 61 minutes */

/* One minute of the window. */
struct host_loss_minute {
	int64_t minute; /* its start, seconds since the epoch */
	uint64_t received, lost;
};

struct host_loss {
	uint64_t received, lost; /* over the window */
	size_t n;		 /* minutes with frames, oldest first */
	struct host_loss_minute m[HOST_LOSS_MAX_MINUTES];
};

/* Reads the last hour of `host` (a valid host name). 0, or -1 (logged by
 * the index). */
int host_loss_load(struct dash *d, const char *host, struct host_loss *out);

/* Writes the page's section: totals, then a table of the minutes with loss. */
void host_loss_html(struct dash *d, const struct host_loss *l);

/* Writes `"loss_1h":{...}` for the API: totals, percent and the minutes
 * with loss. */
void host_loss_json(struct dash *d, const struct host_loss *l);

#endif
