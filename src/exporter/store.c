/*
 * store — the exporter's latest values (see store.h). Two chained hash
 * tables, domains by UUID and hosts by name, hashed with a seed drawn at
 * start so that a sender cannot choose keys that all land in one chain
 * (UUIDs and host names come from the network); each host keeps a list of
 * its domains, so a frame's absent domains and a silent host's domains are
 * found without a scan of the whole table.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "expo.h"
#include "sm_clock.h"
#include "sm_log.h"
#include "sm_uuid.h"

#define MIN_BUCKETS	64
#define STALE_INTERVALS 3.0 /* stale_after 0: this many of the host's intervals */
#define STALE_MIN_S	3.0

struct store {
	struct store_sizes sizes;
	size_t max_series; /* 0 = no limit */
	size_t series;	   /* series of all records held */
	struct store_domain **dom_buckets;
	size_t dom_nbuckets, ndomains;
	struct store_host **host_buckets;
	size_t host_nbuckets, nhosts;
	struct store_host *first_host, *last_host;
	uint64_t seed;
	struct store_counters counters;
	struct sm_complaint full; /* max_series reached, logged with rate limiting */
};

/* FNV-1a over the key, started from the seed. */
static uint64_t hash_bytes(uint64_t seed, const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

static size_t dom_slot(const struct store *s, const uint8_t uuid[16])
{
	return (size_t)hash_bytes(s->seed, uuid, 16) & (s->dom_nbuckets - 1);
}

static size_t host_slot(const struct store *s, const char *name)
{
	return (size_t)hash_bytes(s->seed, name, strlen(name)) & (s->host_nbuckets - 1);
}

struct store *store_new(const struct store_sizes *sizes, size_t max_series)
{
	struct store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->sizes = *sizes;
	s->max_series = max_series;
	s->dom_nbuckets = s->host_nbuckets = MIN_BUCKETS;
	s->dom_buckets = calloc(s->dom_nbuckets, sizeof(*s->dom_buckets));
	s->host_buckets = calloc(s->host_nbuckets, sizeof(*s->host_buckets));
	if (!s->dom_buckets || !s->host_buckets) {
		store_destroy(&s);
		return NULL;
	}
	if (getrandom(&s->seed, sizeof(s->seed), 0) != (ssize_t)sizeof(s->seed))
		s->seed = (uint64_t)sm_clock_mono_ns() ^ (uint64_t)time(NULL);
	return s;
}

static void domain_free(struct store_domain *d)
{
	free(d->stats.disks);
	free(d->stats.nics);
	free(d->labels);
	free(d);
}

void store_destroy(struct store **sp)
{
	struct store *s = sp ? *sp : NULL;

	if (!s)
		return;
	for (struct store_host *h = s->first_host, *hn; h; h = hn) {
		hn = h->next;
		for (struct store_domain *d = h->first, *dn; d; d = dn) {
			dn = d->next;
			domain_free(d);
		}
		free(h->labels);
		free(h);
	}
	free(s->dom_buckets);
	free(s->host_buckets);
	free(s);
	*sp = NULL;
}

void store_set_max_series(struct store *s, size_t max_series)
{
	s->max_series = max_series;
}

/* Doubles a table when it holds more entries than buckets; a failed
 * allocation keeps the old one (longer chains, nothing lost). */
static void dom_grow(struct store *s)
{
	size_t n = s->dom_nbuckets * 2;
	struct store_domain **b;

	if (s->ndomains <= s->dom_nbuckets)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < s->dom_nbuckets; i++)
		for (struct store_domain *d = s->dom_buckets[i], *dn; d; d = dn) {
			size_t k = (size_t)hash_bytes(s->seed, d->stats.uuid, 16) & (n - 1);

			dn = d->hnext;
			d->hnext = b[k];
			b[k] = d;
		}
	free(s->dom_buckets);
	s->dom_buckets = b;
	s->dom_nbuckets = n;
}

static void host_grow(struct store *s)
{
	size_t n = s->host_nbuckets * 2;
	struct store_host **b;

	if (s->nhosts <= s->host_nbuckets)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < s->host_nbuckets; i++)
		for (struct store_host *h = s->host_buckets[i], *hn; h; h = hn) {
			size_t k = (size_t)hash_bytes(s->seed, h->name, strlen(h->name)) & (n - 1);

			hn = h->hnext;
			h->hnext = b[k];
			b[k] = h;
		}
	free(s->host_buckets);
	s->host_buckets = b;
	s->host_nbuckets = n;
}

static struct store_domain *dom_find(const struct store *s, const uint8_t uuid[16])
{
	for (struct store_domain *d = s->dom_buckets[dom_slot(s, uuid)]; d; d = d->hnext)
		if (memcmp(d->stats.uuid, uuid, 16) == 0)
			return d;
	return NULL;
}

static struct store_host *host_find(const struct store *s, const char *name)
{
	for (struct store_host *h = s->host_buckets[host_slot(s, name)]; h; h = h->hnext)
		if (strcmp(h->name, name) == 0)
			return h;
	return NULL;
}

const struct store_domain *store_find_domain(const struct store *s, const uint8_t uuid[16])
{
	return dom_find(s, uuid);
}

/* ---- lists ------------------------------------------------------------- */

static void host_link_domain(struct store_host *h, struct store_domain *d)
{
	d->host = h;
	d->next = NULL;
	d->prev = h->last;
	if (h->last)
		h->last->next = d;
	else
		h->first = d;
	h->last = d;
	h->ndomains++;
}

static void host_unlink_domain(struct store_host *h, struct store_domain *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		h->first = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		h->last = d->prev;
	d->prev = d->next = NULL;
	h->ndomains--;
}

static size_t domain_series(const struct store *s, const struct sm_domain_stats *st)
{
	return s->sizes.per_domain + st->ndisks * s->sizes.per_disk + st->nnics * s->sizes.per_nic;
}

/* Takes a domain out of the table, its host's list and the series count,
 * and frees it. */
static void domain_remove(struct store *s, struct store_domain *d, enum store_removal why)
{
	struct store_domain **pp = &s->dom_buckets[dom_slot(s, d->stats.uuid)];

	while (*pp && *pp != d)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = d->hnext;
	host_unlink_domain(d->host, d);
	s->ndomains--;
	s->series -= d->series;
	s->counters.domains_removed[why]++;
	domain_free(d);
}

static void host_remove(struct store *s, struct store_host *h, enum store_removal why)
{
	struct store_host **pp = &s->host_buckets[host_slot(s, h->name)];

	while (h->first)
		domain_remove(s, h->first, why);
	while (*pp && *pp != h)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = h->hnext;
	if (h->prev)
		h->prev->next = h->next;
	else
		s->first_host = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		s->last_host = h->prev;
	s->nhosts--;
	s->series -= s->sizes.per_host;
	free(h->labels);
	free(h);
}

/* ---- labels ------------------------------------------------------------ */

/* The label text every series of a domain carries. NULL when out of memory. */
static char *domain_labels(const struct store_host *h, const struct sm_domain_stats *st,
			   const char *uuid_text)
{
	struct expo_buf b = {0};
	const struct sm_identity *id = st->has_identity ? &st->identity : NULL;

	expo_label(&b, true, "host", h->name);
	expo_label(&b, false, "uuid", uuid_text);
	expo_label(&b, false, "domain", st->name);
	if (id) {
		expo_label(&b, false, "name", id->display_name);
		expo_label(&b, false, "project_id", id->project_id);
		expo_label(&b, false, "project", id->project_name);
		expo_label(&b, false, "user_id", id->user_id);
		expo_label(&b, false, "user", id->user_name);
	}
	if (b.failed) {
		expo_buf_free(&b);
		return NULL;
	}
	return b.data;
}

static bool same_identity(const struct sm_domain_stats *a, const struct sm_domain_stats *b)
{
	if (a->has_identity != b->has_identity || strcmp(a->name, b->name) != 0)
		return false;
	return !a->has_identity || memcmp(&a->identity, &b->identity, sizeof(a->identity)) == 0;
}

/* ---- stats ------------------------------------------------------------- */

/* Copies n records of size sz into *dst (grown or shrunk to fit). */
static int copy_array(void **dst, const void *src, size_t n, size_t sz)
{
	void *p;

	if (n == 0) {
		free(*dst);
		*dst = NULL;
		return 0;
	}
	p = realloc(*dst, n * sz);
	if (!p)
		return -1;
	memcpy(p, src, n * sz);
	*dst = p;
	return 0;
}

/* Replaces d's figures with st's; -1 (d unchanged but for its devices,
 * which may then be empty) when out of memory. */
static int domain_update(struct store *s, struct store_host *h, struct store_domain *d,
			 const struct sm_domain_stats *st)
{
	struct sm_disk_stats *disks = d->stats.disks;
	struct sm_nic_stats *nics = d->stats.nics;
	bool relabel = d->host != h || !d->labels || !same_identity(&d->stats, st);
	size_t series;

	if (copy_array((void **)&disks, st->disks, st->ndisks, sizeof(*disks)) < 0 ||
	    copy_array((void **)&nics, st->nics, st->nnics, sizeof(*nics)) < 0) {
		d->stats.disks = disks;
		d->stats.nics = nics;
		return -1;
	}
	if (relabel) {
		char *labels = domain_labels(h, st, d->uuid_text);

		if (!labels) {
			d->stats.disks = disks;
			d->stats.nics = nics;
			return -1;
		}
		free(d->labels);
		d->labels = labels;
	}
	d->stats = *st;
	d->stats.disks = disks;
	d->stats.ndisks = st->ndisks;
	d->stats.nics = nics;
	d->stats.nnics = st->nnics;
	series = domain_series(s, st);
	s->series = s->series - d->series + series;
	d->series = series;
	if (d->host != h) { /* migrated: now listed by another host */
		host_unlink_domain(d->host, d);
		host_link_domain(h, d);
	}
	return 0;
}

static bool fits(const struct store *s, size_t more)
{
	return s->max_series == 0 || s->series + more <= s->max_series;
}

static void complain_full(struct store *s, const char *host, const char *what, size_t more)
{
	sm_complain(&s->full, SM_LOG_WARNING,
		    "max_series %zu reached (%zu held): %s of host %s not exported (%zu series);"
		    " stackmon_exporter_series_dropped_total counts what is left out",
		    s->max_series, s->series, what, host, more);
}

static struct store_host *host_add(struct store *s, const char *name, int64_t now_ns)
{
	struct store_host *h;
	struct expo_buf b = {0};

	if (!fits(s, s->sizes.per_host)) {
		s->counters.series_dropped += s->sizes.per_host;
		complain_full(s, name, "a new host", s->sizes.per_host);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	snprintf(h->name, sizeof(h->name), "%s", name);
	expo_label(&b, true, "host", name);
	if (b.failed) {
		expo_buf_free(&b);
		free(h);
		return NULL;
	}
	h->labels = b.data;
	h->received_ns = now_ns;
	h->prev = s->last_host;
	if (s->last_host)
		s->last_host->next = h;
	else
		s->first_host = h;
	s->last_host = h;
	h->hnext = s->host_buckets[host_slot(s, name)];
	s->host_buckets[host_slot(s, name)] = h;
	s->nhosts++;
	s->series += s->sizes.per_host;
	host_grow(s);
	return h;
}

/* A new domain of host h, or NULL (counted) when the bound leaves no room. */
static struct store_domain *domain_add(struct store *s, struct store_host *h,
				       const struct sm_domain_stats *st)
{
	size_t more = domain_series(s, st);
	struct store_domain *d;

	if (!fits(s, more)) {
		char what[80];
		char uuid[37];

		sm_uuid_format(st->uuid, uuid);
		snprintf(what, sizeof(what), "domain %s", uuid);
		s->counters.series_dropped += more;
		complain_full(s, h->name, what, more);
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	memcpy(d->stats.uuid, st->uuid, 16);
	sm_uuid_format(st->uuid, d->uuid_text);
	d->host = h;
	if (domain_update(s, h, d, st) < 0) {
		s->series -= d->series;
		domain_free(d);
		return NULL;
	}
	d->host = NULL;
	host_link_domain(h, d);
	d->hnext = s->dom_buckets[dom_slot(s, st->uuid)];
	s->dom_buckets[dom_slot(s, st->uuid)] = d;
	s->ndomains++;
	dom_grow(s);
	return d;
}

size_t store_apply_stats(struct store *s, const struct sm_message *m, int64_t now_ns, bool complete)
{
	const struct sm_aggregate_domain_stats *agg = &m->u.stats;
	uint64_t dropped_before = s->counters.series_dropped;
	struct store_host *h = host_find(s, m->hdr.host);

	if (!h)
		h = host_add(s, m->hdr.host, now_ns);
	if (!h)
		return (size_t)(s->counters.series_dropped - dropped_before);
	h->node = agg->host;
	h->interval = agg->interval;
	h->frame_time = m->hdr.time;
	h->received_ns = now_ns;
	h->gen++;
	for (size_t i = 0; i < agg->ndomains; i++) {
		const struct sm_domain_stats *st = &agg->domains[i];
		struct store_domain *d = dom_find(s, st->uuid);

		if (!d)
			d = domain_add(s, h, st);
		else if (domain_update(s, h, d, st) < 0)
			d = NULL;
		if (d)
			d->seen = h->gen;
	}
	/* What a complete frame did not list has gone from the host. */
	for (struct store_domain *d = h->first, *dn; complete && d; d = dn) {
		dn = d->next;
		if (d->seen != h->gen)
			domain_remove(s, d, STORE_GONE_ABSENT);
	}
	if (s->counters.series_dropped == dropped_before)
		sm_complaint_release(&s->full, "max_series: room again (%zu of %zu series held)",
				     s->series, s->max_series);
	return (size_t)(s->counters.series_dropped - dropped_before);
}

bool store_apply_event(struct store *s, const struct sm_message *m)
{
	const struct sm_domain_event *ev = &m->u.event;
	struct store_domain *d;

	if (ev->type != SM_EVENT_STOPPED)
		return false;
	d = dom_find(s, ev->uuid);
	if (!d || strcmp(d->host->name, m->hdr.host) != 0)
		return false;
	domain_remove(s, d, STORE_GONE_STOPPED);
	return true;
}

static void sink_stats(void *ctx, const struct sm_message *m, int64_t now_ns, bool complete)
{
	store_apply_stats(ctx, m, now_ns, complete);
}

static void sink_event(void *ctx, const struct sm_message *m)
{
	store_apply_event(ctx, m);
}

struct sm_intake_sink store_intake_sink(struct store *s)
{
	return (struct sm_intake_sink){.ctx = s, .stats = sink_stats, .event = sink_event};
}

size_t store_expire(struct store *s, int64_t now_ns, double stale_after)
{
	size_t gone = 0;

	for (struct store_host *h = s->first_host, *hn; h; h = hn) {
		double limit = stale_after;
		double silent = (double)(now_ns - h->received_ns) / (double)SM_NS_PER_SEC;

		hn = h->next;
		if (limit <= 0) {
			limit = STALE_INTERVALS * h->interval;
			if (limit < STALE_MIN_S)
				limit = STALE_MIN_S;
		}
		if (silent > limit) {
			sm_log_notice("host %s silent for %.1f s (stale_after %.1f s): its %zu"
				      " domains are no longer exported",
				      h->name, silent, limit, h->ndomains);
			host_remove(s, h, STORE_GONE_STALE);
			s->counters.hosts_expired++;
			gone++;
		}
	}
	return gone;
}

const struct store_host *store_first_host(const struct store *s)
{
	return s->first_host;
}

size_t store_hosts(const struct store *s)
{
	return s->nhosts;
}

size_t store_domains(const struct store *s)
{
	return s->ndomains;
}

size_t store_series(const struct store *s)
{
	return s->series;
}

const struct store_counters *store_counters(const struct store *s)
{
	return &s->counters;
}
