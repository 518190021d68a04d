/*
 * store — the exporter's latest values: for each host, its node figures
 * from its last stats frame and the domains that frame listed, each
 * domain with its label text made once (labels change only with a name or
 * identity). The table is opaque; hosts and domains are plain records
 * that render.c reads while holding the same lock as the writer.
 * Lifecycle: a domain leaves when its host's next frame does not list it,
 * on a "stopped" event from the host it is on, or with its host when the
 * host has sent nothing for stale_after seconds. Bounded: a new domain or
 * host whose series would take the total over max_series is left out and
 * its series counted as dropped.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sm_intake.h"
#include "sm_wire.h"

struct store; /* opaque */

/* One domain as its host's latest frame listed it. Read-only outside store.c. */
struct store_domain {
	struct sm_domain_stats stats; /* a copy; disks and nics owned by the store */
	char uuid_text[37];	      /* canonical lowercase text */
	char *labels;		      /* host, uuid, domain, name, project_id, project,
					 user_id, user: escaped, comma-separated */
	size_t series;		      /* series this domain renders (store_sizes) */
	struct store_host *host;      /* the host whose frame listed it last */
	struct store_domain *next;    /* next domain of the same host */
	/* private to store.c */
	struct store_domain *prev, *hnext;
	uint64_t seen; /* the host generation that last listed it */
};

/* One host (compute node) and its node figures. Read-only outside store.c. */
struct store_host {
	char name[SM_HOST_MAX + 1];
	char *labels;		    /* host="NAME" */
	struct sm_host_stats node;  /* from the last stats frame */
	double interval;	    /* the monitor's, seconds */
	double frame_time;	    /* the last frame's own time (wall, s) */
	int64_t received_ns;	    /* when it was received (monotonic) */
	size_t ndomains;	    /* domains held now */
	struct store_domain *first; /* its domains, in the order first listed */
	struct store_host *next;    /* next host */
	/* private to store.c */
	struct store_domain *last;
	struct store_host *prev, *hnext;
	uint64_t gen; /* stats frames applied */
};

/* How many series each kind of record renders (render.h's numbers), so
 * that the store can count series without knowing the families. */
struct store_sizes {
	size_t per_host, per_domain, per_disk, per_nic;
};

/* Why domains left, for stackmon_exporter_domains_removed_total{reason}. */
enum store_removal {
	STORE_GONE_STOPPED = 0, /* a "stopped" event */
	STORE_GONE_ABSENT,	/* its host's latest frame did not list it */
	STORE_GONE_STALE,	/* its host fell silent */
	STORE_GONE_COUNT
};

/* Counters since creation, plain data. */
struct store_counters {
	uint64_t series_dropped;		    /* series left out by max_series, per frame */
	uint64_t domains_removed[STORE_GONE_COUNT]; /* by reason */
	uint64_t hosts_expired;			    /* hosts dropped for silence */
};

/* A store holding at most max_series series (0 = no limit). NULL when out
 * of memory. */
struct store *store_new(const struct store_sizes *sizes, size_t max_series);
void store_destroy(struct store **s);
/* Changes the bound; what is held already stays. */
void store_set_max_series(struct store *s, size_t max_series);

/* Applies a decoded stats message received at now_ns (monotonic): the
 * host's node figures, every domain it lists (new ones only while the
 * bound allows), and, when `complete`, drops the host's domains it does
 * not list. A frame is not complete when records were left out of it on
 * the way in (brief records whose full record is not known yet): its
 * absent domains may only be waiting. Returns the number of series left
 * out for the bound (0 normally). */
size_t store_apply_stats(struct store *s, const struct sm_message *m, int64_t now_ns,
			 bool complete);
/* Applies a decoded event: "stopped" removes the domain when `host` is the
 * one it is on (a migration's source says stopped after the target may
 * already list it). Returns true when a domain was removed. */
bool store_apply_event(struct store *s, const struct sm_message *m);
/* The intake sink that applies what the intake decodes to `s` (borrowed):
 * stats and events as above. */
struct sm_intake_sink store_intake_sink(struct store *s);
/* Drops every host (with its domains) whose last frame was received more
 * than stale_after seconds before now_ns; stale_after 0 means three of the
 * host's own intervals (at least 3 s). Returns how many hosts went. */
size_t store_expire(struct store *s, int64_t now_ns, double stale_after);

const struct store_host *store_first_host(const struct store *s);
size_t store_hosts(const struct store *s);
size_t store_domains(const struct store *s);
size_t store_series(const struct store *s);
const struct store_counters *store_counters(const struct store *s);
/* The domain with this uuid, or NULL (tests, diagnostics). */
const struct store_domain *store_find_domain(const struct store *s, const uint8_t uuid[16]);

#endif
