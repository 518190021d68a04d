/*
 * sm_loss — see sm_loss.h. A chained hash table of hosts plus an LRU list
 * (a <sys/queue.h> tail queue, newest first), so that a frame costs one
 * hash lookup and a list move, eviction takes the list's tail, and expiry
 * walks the tail only as far as the silent senders go.
 * Each host holds one slot per kind (stats, event, collector, …).
 */
#include "sm_loss.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "sm_clock.h"

#define KIND_SLOTS 8 /* > the largest enum sm_msg_kind; kinds beyond are not tracked */

/* What one host sent of one kind. */
struct kind_slot {
	bool seen;	   /* a frame of this kind arrived */
	uint64_t epoch;	   /* epoch of the last frame */
	uint64_t last_seq; /* highest seq seen in that epoch */
	uint64_t received; /* frames received */
	uint64_t lost;	   /* frames missing from gaps in seq */
};

struct sender {
	char host[SM_HOST_MAX + 1];
	uint32_t hash;	      /* of host */
	struct sender *chain; /* next in the hash bucket */
	TAILQ_ENTRY(sender) lru; /* LRU list, most recently heard first */
	int64_t last_ns;	 /* when it was last heard */
	struct kind_slot kinds[KIND_SLOTS];
};

TAILQ_HEAD(sender_lru, sender);

struct loss_table {
	struct sender **buckets; /* nbuckets chains */
	uint32_t mask;		 /* nbuckets - 1 (a power of two) */
	struct sender_lru lru;	 /* newest first; the last is the next to evict */
	size_t count;		 /* senders in the table */
	size_t max;		 /* bound on count */
	int64_t expiry_ns;	 /* silence after which a sender is forgotten */
	uint64_t evictions;	 /* senders forgotten to make room */
	uint64_t reordered;	 /* duplicate or late frames */
};

static uint32_t hash_host(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a: short keys, good enough spread */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

struct loss_table *loss_table_new(size_t max_senders, double expiry_s)
{
	struct loss_table *t;
	size_t nbuckets = 16;

	if (max_senders == 0 || max_senders > SM_WIRE_MAX_PUBLISHERS || !isfinite(expiry_s) ||
	    expiry_s <= 0)
		return NULL;
	while (nbuckets < max_senders)
		nbuckets *= 2;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->buckets = calloc(nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	TAILQ_INIT(&t->lru);
	t->mask = (uint32_t)(nbuckets - 1);
	t->max = max_senders;
	t->expiry_ns = (int64_t)(expiry_s * (double)SM_NS_PER_SEC);
	return t;
}

void loss_table_destroy(struct loss_table **tp)
{
	struct loss_table *t = tp ? *tp : NULL;

	if (!t)
		return;
	for (struct sender *s = TAILQ_FIRST(&t->lru), *next; s; s = next) {
		next = TAILQ_NEXT(s, lru);
		free(s);
	}
	free(t->buckets);
	free(t);
	*tp = NULL;
}

/* The least recently heard sender, or NULL when the table is empty. */
static struct sender *oldest(const struct loss_table *t)
{
	return TAILQ_LAST(&t->lru, sender_lru);
}

static struct sender *find(const struct loss_table *t, const char *host, uint32_t hash)
{
	for (struct sender *s = t->buckets[hash & t->mask]; s; s = s->chain) {
		if (s->hash == hash && strcmp(s->host, host) == 0)
			return s;
	}
	return NULL;
}

static void forget(struct loss_table *t, struct sender *s)
{
	struct sender **pp = &t->buckets[s->hash & t->mask];

	while (*pp != s)
		pp = &(*pp)->chain;
	*pp = s->chain;
	TAILQ_REMOVE(&t->lru, s, lru);
	t->count--;
	free(s);
}

void loss_table_note_frame(struct loss_table *t, const struct sm_header *h, int64_t now_ns,
			   struct loss_note *note)
{
	uint32_t hash = hash_host(h->host);
	struct sender *s = find(t, h->host, hash);
	struct kind_slot *k;

	*note = (struct loss_note){0};
	if ((unsigned)h->kind >= KIND_SLOTS) {
		note->untracked = true;
		return;
	}
	if (!s) {
		if (t->count >= t->max) {
			forget(t, oldest(t));
			t->evictions++;
		}
		s = calloc(1, sizeof(*s));
		if (!s) {
			note->untracked = true; /* not tracked this time; relaying goes on */
			return;
		}
		snprintf(s->host, sizeof(s->host), "%s", h->host);
		s->hash = hash;
		s->chain = t->buckets[hash & t->mask];
		t->buckets[hash & t->mask] = s;
		t->count++;
	} else {
		TAILQ_REMOVE(&t->lru, s, lru);
	}
	TAILQ_INSERT_HEAD(&t->lru, s, lru);
	s->last_ns = now_ns;

	k = &s->kinds[h->kind];
	k->received++;
	if (!k->seen || k->epoch != h->epoch) {
		/* First frame, or the publisher restarted: its seq starts over,
		 * and what it sent before we heard it is not ours to count. */
		note->first = !k->seen;
		note->restart = k->seen;
		k->seen = true;
		k->epoch = h->epoch;
		k->last_seq = h->seq;
	} else if (h->seq > k->last_seq) {
		uint64_t gap = h->seq - k->last_seq - 1;

		if (gap > LOSS_MAX_GAP) {
			note->jumped = gap;
		} else if (gap > 0) {
			note->lost = gap;
			note->first_missing = k->last_seq + 1;
			note->last_missing = h->seq - 1;
			k->lost += gap;
		}
		k->last_seq = h->seq;
	} else {
		note->duplicate = true;
		t->reordered++;
	}
}

uint64_t loss_table_note(struct loss_table *t, const struct sm_header *h, int64_t now_ns)
{
	struct loss_note note;

	loss_table_note_frame(t, h, now_ns, &note);
	return note.lost;
}

size_t loss_table_expire(struct loss_table *t, int64_t now_ns)
{
	struct sender *s;
	size_t n = 0;

	while ((s = oldest(t)) && now_ns - s->last_ns > t->expiry_ns) {
		forget(t, s);
		n++;
	}
	return n;
}

size_t loss_table_senders(const struct loss_table *t)
{
	return t->count;
}

uint64_t loss_table_evictions(const struct loss_table *t)
{
	return t->evictions;
}

uint64_t loss_table_reordered(const struct loss_table *t)
{
	return t->reordered;
}

static void fill_row(const struct sender *s, int kind, struct sm_publisher_loss *row)
{
	memcpy(row->host, s->host, sizeof(row->host));
	row->kind = (enum sm_msg_kind)kind;
	row->received = s->kinds[kind].received;
	row->lost = s->kinds[kind].lost;
}

size_t loss_table_rows(const struct loss_table *t, struct sm_publisher_loss *rows, size_t max)
{
	size_t n = 0;

	for (const struct sender *s = TAILQ_FIRST(&t->lru); s && n < max; s = TAILQ_NEXT(s, lru)) {
		for (int kind = 0; kind < KIND_SLOTS && n < max; kind++) {
			if (s->kinds[kind].seen)
				fill_row(s, kind, &rows[n++]);
		}
	}
	return n;
}

int loss_table_get(const struct loss_table *t, const char *host, enum sm_msg_kind kind,
		   struct sm_publisher_loss *row)
{
	const struct sender *s = find(t, host, hash_host(host));

	if (!s || (unsigned)kind >= KIND_SLOTS || !s->kinds[kind].seen)
		return -1;
	fill_row(s, (int)kind, row);
	return 0;
}
