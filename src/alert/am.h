/*
 * am — notifications to Prometheus Alertmanager through its v2 API (POST
 * <url>/api/v2/alerts). Transitions are queued as they happen and sent on
 * the next flush; every firing alert is sent again each resend interval
 * with endsAt four intervals ahead (what Prometheus does), so Alertmanager
 * keeps it while we live and resolves it by itself if we die. Resolved
 * alerts go with their endsAt. Requests carry at most 500 alerts each.
 * Every Alertmanager of the list gets every batch (an Alertmanager cluster
 * deduplicates); a batch that did not reach
 * them all is kept (bounded) and tried again with a growing pause.
 * libcurl does the HTTP, within a timeout, in the caller's thread.
 */
#ifndef ALERT_AM_H
#define ALERT_AM_H

#include <stddef.h>
#include <stdint.h>

#include "eval.h"

struct am; /* opaque */

struct am_counters {
	uint64_t posts_ok, posts_failed; /* flushes that reached an Alertmanager, or not */
	uint64_t alerts_sent;		 /* alert objects in successful requests */
	uint64_t dropped;		 /* transitions dropped: the queue was full */
};

/* A notifier for the n base URLs (copied), resending every resend_s,
 * each request within timeout_s. NULL when out of memory or curl fails. */
struct am *am_new(const char *const *urls, size_t n, double resend_s, double timeout_s);
void am_destroy(struct am **a);

/* Queues a transition (to firing, or resolved). */
void am_note(struct am *a, const struct alert_info *x, double now);
/* Sends what is queued, and all of e's firing alerts when the resend
 * interval has passed. Returns 0 when nothing is left to send, -1 when a
 * request failed (logged with rate limiting; tried again later). */
int am_flush(struct am *a, const struct eval *e, double now);

const struct am_counters *am_counters(const struct am *a);

#endif
