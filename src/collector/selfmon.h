/*
 * selfmon — the collector speaking for itself on its fan-out: a heartbeat
 * ("hb/<name>/") every heartbeat interval, which monitors and lower
 * collectors watch to fail over, and its counters ("collector/<name>/")
 * every stats interval. Heartbeats stay on this collector's fan-out; the
 * counters of an intermediate collector also go upstream, so an operator
 * at the master sees the health of every hop on one socket.
 */
#ifndef SELFMON_H
#define SELFMON_H

#include <stdint.h>

struct relay;
struct selfmon; /* opaque */

/* `name` must pass sm_wire_host_valid. NULL on bad name or no memory. */
struct selfmon *selfmon_new(const char *name, double heartbeat_interval, double stats_interval);
void selfmon_destroy(struct selfmon **s);

/* Publishes one heartbeat on the relay's fan-out. Returns 0 or -1. */
int selfmon_heartbeat(struct selfmon *s, struct relay *r);
/* Publishes the relay's counters and loss rows (at most
 * SM_WIRE_MAX_PUBLISHERS, most recently heard senders first) on the
 * fan-out and upstream. Returns 0 or -1. */
int selfmon_stats(struct selfmon *s, struct relay *r, int64_t now_ns);

/* Sequence numbers used so far, per kind (tests). */
uint64_t selfmon_heartbeats(const struct selfmon *s);
uint64_t selfmon_reports(const struct selfmon *s);

#endif
