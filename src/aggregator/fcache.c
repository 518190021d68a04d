/*
 * fcache — see fcache.h. An intrusive <sys/queue.h> tail queue: add, touch
 * and close are O(1), and nothing is allocated per file.
 */
#include "fcache.h"

#include <stdlib.h>

TAILQ_HEAD(fcache_lru, fcache_node);

struct fcache {
	struct fcache_lru lru; /* most recently used first; the last is the next to close */
	size_t count;	       /* nodes linked (= handles open) */
	size_t max;	       /* bound on count */
	uint64_t evictions;    /* closed to make room */
};

struct fcache *fcache_new(size_t max)
{
	struct fcache *self = calloc(1, sizeof(*self));

	if (self) {
		TAILQ_INIT(&self->lru);
		self->max = max ? max : 1;
	}
	return self;
}

/* Unlinks and closes; the owner sees node->w == NULL. */
static void drop(struct fcache *self, struct fcache_node *node)
{
	TAILQ_REMOVE(&self->lru, node, lru);
	self->count--;
	whisper_close(&node->w);
}

/* Closes least recent handles until at most `max` are open, sparing `keep`. */
static void shrink(struct fcache *self, size_t max, const struct fcache_node *keep)
{
	while (self->count > max && !TAILQ_EMPTY(&self->lru)) {
		struct fcache_node *victim = TAILQ_LAST(&self->lru, fcache_lru);

		if (victim == keep) {
			victim = TAILQ_PREV(victim, fcache_lru, lru);
			if (!victim)
				break;
		}
		drop(self, victim);
		self->evictions++;
	}
}

void fcache_destroy(struct fcache **self_p)
{
	struct fcache *self;

	if (!self_p || !*self_p)
		return;
	self = *self_p;
	while (!TAILQ_EMPTY(&self->lru))
		drop(self, TAILQ_FIRST(&self->lru));
	free(self);
	*self_p = NULL;
}

void fcache_add(struct fcache *self, struct fcache_node *node, struct whisper *w)
{
	if (node->w) /* caller bug: keep the cache consistent rather than leak */
		fcache_close(self, node);
	node->w = w;
	TAILQ_INSERT_HEAD(&self->lru, node, lru);
	self->count++;
	shrink(self, self->max, node);
}

void fcache_touch(struct fcache *self, struct fcache_node *node)
{
	if (!node->w || TAILQ_FIRST(&self->lru) == node)
		return;
	TAILQ_REMOVE(&self->lru, node, lru);
	TAILQ_INSERT_HEAD(&self->lru, node, lru);
}

void fcache_close(struct fcache *self, struct fcache_node *node)
{
	if (node->w)
		drop(self, node);
}

void fcache_set_max(struct fcache *self, size_t max)
{
	self->max = max ? max : 1;
	shrink(self, self->max, NULL);
}

size_t fcache_max(const struct fcache *self)
{
	return self->max;
}

size_t fcache_count(const struct fcache *self)
{
	return self->count;
}

uint64_t fcache_evictions(const struct fcache *self)
{
	return self->evictions;
}
