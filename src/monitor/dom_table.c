/*
 * dom_table — tracked domains and the event queue under one lock (see
 * dom_table.h for which thread owns what). Entries are kept sorted by UUID
 * so that the sampler finds a domain by binary search on every sample and
 * frames list domains in a stable order.
 */
#include "dom_table.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dom_tracker.h"
#include "sm_log.h"
#include "sm_utf8.h"
#include "sm_uuid.h"

#define EVENT_QUEUE_MAX SM_WIRE_MAX_DOMAINS /* unsent events before dropping */
#define EVENT_BUFFER_KEEP 64                /* event buffer kept between bursts */

struct dom_table {
	pthread_mutex_t lock;           /* the one lock shared by sampler and main */
	struct dom_entry **entries;     /* sorted by UUID; structure: sampler only */
	size_t nentries, entries_cap;   /* written by the sampler under the lock */
	atomic_size_t size;             /* mirror of nentries for counters */
	struct sm_domain_event *events; /* under the lock: waiting to be taken */
	size_t nevents, events_cap;
	uint64_t events_dropped;        /* under the lock: refused since the last take */
	struct sm_domain_event *taken;  /* taking thread: the batch being sent */
	size_t taken_cap;
	uint64_t framed_gen;            /* under the lock: generation of the last frame packed */
};

static int entry_key_cmp(const void *key, const void *elem)
{
	return memcmp(key, (*(struct dom_entry *const *)elem)->uuid, 16);
}

struct dom_table *dom_table_new(void)
{
	struct dom_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	atomic_init(&t->size, 0);
	return t;
}

static void entry_free(struct dom_entry *e)
{
	dom_tracker_destroy(&e->tracker);
	dom_devices_clear(&e->devices);
	dom_brief_destroy(&e->brief);
	qemu_proc_destroy(&e->kernel);
	free(e);
}

void dom_table_destroy(struct dom_table **tp)
{
	struct dom_table *t;

	if (!tp || !*tp)
		return;
	t = *tp;
	*tp = NULL;
	for (size_t i = 0; i < t->nentries; i++)
		entry_free(t->entries[i]);
	free(t->entries);
	free(t->events);
	free(t->taken);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Queues a lifecycle event; caller holds the lock. A full queue drops the
 * event and counts it: main has not taken events for a long while, and the
 * frames still say which domains run. */
static void queue_event(struct dom_table *t, enum sm_event_type type, const uint8_t uuid[16],
			const struct sm_domain_stats *st, const char *reason)
{
	struct sm_domain_event *ev;

	if (t->nevents == t->events_cap) {
		size_t cap = t->events_cap ? t->events_cap * 2 : 16;
		struct sm_domain_event *q =
			cap <= EVENT_QUEUE_MAX ? realloc(t->events, cap * sizeof(*q)) : NULL;

		if (!q) {
			t->events_dropped++;
			return;
		}
		t->events = q;
		t->events_cap = cap;
	}
	ev = &t->events[t->nevents++];
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	memcpy(ev->uuid, uuid, 16);
	memcpy(ev->name, st->name, sizeof(ev->name));
	ev->has_identity = st->has_identity;
	ev->identity = st->identity;
	sm_utf8_sanitize(ev->reason, sizeof(ev->reason), reason, strlen(reason));
}

static void log_change(const char *what, const uint8_t uuid[16], const struct dom_tracker *tr,
		       const char *reason)
{
	char text[37];

	if (!sm_log_enabled(SM_LOG_DEBUG))
		return;
	sm_uuid_format(uuid, text);
	sm_log_debug("domain %s (%s) %s: %s", text, dom_tracker_stats(tr)->name, what, reason);
}

struct dom_entry *dom_table_add(struct dom_table *t, const uint8_t uuid[16],
				struct dom_tracker **tracker, const char *reason)
{
	struct dom_entry *e = calloc(1, sizeof(*e));
	size_t lo = 0, hi;

	if (!e)
		return NULL;
	memcpy(e->uuid, uuid, 16);
	e->need_identity = true;
	e->need_devices = true;

	pthread_mutex_lock(&t->lock);
	if (t->nentries == t->entries_cap) {
		size_t cap = t->entries_cap ? t->entries_cap * 2 : 64;
		struct dom_entry **grown = realloc(t->entries, cap * sizeof(*grown));

		if (!grown) {
			pthread_mutex_unlock(&t->lock);
			free(e);
			return NULL;
		}
		t->entries = grown;
		t->entries_cap = cap;
	}
	e->tracker = *tracker;
	*tracker = NULL;
	hi = t->nentries;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (memcmp(t->entries[mid]->uuid, uuid, 16) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&t->entries[lo + 1], &t->entries[lo], (t->nentries - lo) * sizeof(*t->entries));
	t->entries[lo] = e;
	t->nentries++;
	queue_event(t, SM_EVENT_STARTED, uuid, dom_tracker_stats(e->tracker), reason);
	pthread_mutex_unlock(&t->lock);
	atomic_store(&t->size, t->nentries);
	log_change("appeared", uuid, e->tracker, reason);
	return e;
}

bool dom_table_remove(struct dom_table *t, const uint8_t uuid[16], const char *reason)
{
	struct dom_entry *e;
	size_t i;

	pthread_mutex_lock(&t->lock);
	e = dom_table_find(t, uuid);
	if (!e) {
		pthread_mutex_unlock(&t->lock);
		return false;
	}
	for (i = 0; t->entries[i] != e; i++)
		;
	memmove(&t->entries[i], &t->entries[i + 1], (t->nentries - i - 1) * sizeof(*t->entries));
	t->nentries--;
	queue_event(t, SM_EVENT_STOPPED, uuid, dom_tracker_stats(e->tracker), reason);
	pthread_mutex_unlock(&t->lock);
	atomic_store(&t->size, t->nentries);
	log_change("disappeared", uuid, e->tracker, reason);
	entry_free(e);
	return true;
}

void dom_table_set_identity(struct dom_table *t, struct dom_entry *e, const struct sm_identity *id)
{
	pthread_mutex_lock(&t->lock);
	dom_tracker_set_identity(e->tracker, id);
	pthread_mutex_unlock(&t->lock);
}

void dom_table_framed(struct dom_table *t, uint64_t gen)
{
	t->framed_gen = gen;
}

void dom_table_apply(struct dom_table *t, struct dom_entry *e, const char *name,
		     const struct dom_sample *s, uint64_t gen)
{
	pthread_mutex_lock(&t->lock);
	if (name && strcmp(name, dom_tracker_stats(e->tracker)->name) != 0)
		dom_tracker_set_name(e->tracker, name);
	if (dom_tracker_update(e->tracker, s) == 0) {
		e->refreshed_gen = gen;
		/* Its frame has gone (listing the domain stale): these rates
		 * reach readers only as part of the next sample's. */
		if (gen <= t->framed_gen)
			dom_tracker_rates_missed(e->tracker);
	}
	pthread_mutex_unlock(&t->lock);
}

struct dom_entry *dom_table_find(const struct dom_table *t, const uint8_t uuid[16])
{
	struct dom_entry **e;

	if (!t->nentries)
		return NULL;
	e = bsearch(uuid, t->entries, t->nentries, sizeof(*t->entries), entry_key_cmp);
	return e ? *e : NULL;
}

size_t dom_table_count(const struct dom_table *t)
{
	return t->nentries;
}

struct dom_entry *dom_table_at(const struct dom_table *t, size_t i)
{
	return t->entries[i];
}

void dom_table_lock(struct dom_table *t)
{
	pthread_mutex_lock(&t->lock);
}

void dom_table_unlock(struct dom_table *t)
{
	pthread_mutex_unlock(&t->lock);
}

size_t dom_table_size(const struct dom_table *t)
{
	return atomic_load(&t->size);
}

size_t dom_table_take_events(struct dom_table *t, const struct sm_domain_event **evs)
{
	/* The queue and the batch swap buffers, so a steady trickle of events
	 * allocates nothing. */
	struct sm_domain_event *tmp = t->taken;
	size_t cap = t->taken_cap, n = t->nevents;

	t->taken = t->events;
	t->taken_cap = t->events_cap;
	t->events = tmp;
	t->events_cap = cap;
	t->nevents = 0;
	if (t->events_dropped) {
		sm_log_warnx("%" PRIu64 " lifecycle events dropped (queue full)",
			     t->events_dropped);
		t->events_dropped = 0;
	}
	*evs = t->taken;
	return n;
}

size_t dom_table_take_events_now(struct dom_table *t, const struct sm_domain_event **evs)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = dom_table_take_events(t, evs);
	pthread_mutex_unlock(&t->lock);
	return n;
}

void dom_table_events_sent(struct dom_table *t)
{
	/* A burst grows the buffer to thousands of 1.6 KiB events; it is not
	 * kept afterwards. */
	if (t->taken_cap > EVENT_BUFFER_KEEP) {
		free(t->taken);
		t->taken = NULL;
		t->taken_cap = 0;
	}
}
