/*
 * fake_stats — realistic AggregateDomainStats for tests and the benchmark:
 * a host with N OpenStack domains, each with two disks and two interfaces
 * and full identity, so frame sizes match a real monitor's.
 */
#ifndef FAKE_STATS_H
#define FAKE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "sm_wire.h"

/* Fills *m as a stats message of `ndomains` domains from `host` (header
 * seq/epoch/time as given). The domains, disks and nics are allocated:
 * release with fake_stats_free. Returns 0 or -1 (no memory). */
int fake_stats_fill(struct sm_message *m, const char *host, size_t ndomains, uint64_t epoch,
		    uint64_t seq);
void fake_stats_free(struct sm_message *m);

/* Fills *m as a domain event from `host`. */
void fake_event_fill(struct sm_message *m, const char *host, enum sm_event_type type,
		     unsigned domain, uint64_t epoch, uint64_t seq);

#endif
