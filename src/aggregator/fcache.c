/*
 * fcache — see fcache.h. An intrusive doubly-linked list: add, touch and
 * close are O(1), and nothing is allocated per file.
 */
#include "fcache.h"

#include <stdlib.h>

struct fcache {
	struct fcache_node *head; /* most recently used */
	struct fcache_node *tail; /* least recently used: the next to close */
	size_t count;		  /* nodes linked (= handles open) */
	size_t max;		  /* bound on count */
	uint64_t evictions;	  /* closed to make room */
};

struct fcache *fcache_new(size_t max)
{
	struct fcache *self = calloc(1, sizeof(*self));

	if (self)
		self->max = max ? max : 1;
	return self;
}

static void unlink_node(struct fcache *self, struct fcache_node *node)
{
	if (node->prev)
		node->prev->next = node->next;
	else
		self->head = node->next;
	if (node->next)
		node->next->prev = node->prev;
	else
		self->tail = node->prev;
	node->prev = node->next = NULL;
}

static void push_head(struct fcache *self, struct fcache_node *node)
{
	node->prev = NULL;
	node->next = self->head;
	if (self->head)
		self->head->prev = node;
	self->head = node;
	if (!self->tail)
		self->tail = node;
}

/* Unlinks and closes; the owner sees node->w == NULL. */
static void drop(struct fcache *self, struct fcache_node *node)
{
	unlink_node(self, node);
	self->count--;
	whisper_close(&node->w);
}

/* Closes least recent handles until at most `max` are open, sparing `keep`. */
static void shrink(struct fcache *self, size_t max, const struct fcache_node *keep)
{
	while (self->count > max && self->tail) {
		struct fcache_node *victim = self->tail;

		if (victim == keep) {
			if (!victim->prev)
				break;
			victim = victim->prev;
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
	while (self->head)
		drop(self, self->head);
	free(self);
	*self_p = NULL;
}

void fcache_add(struct fcache *self, struct fcache_node *node, struct whisper *w)
{
	if (node->w) /* caller bug: keep the cache consistent rather than leak */
		fcache_close(self, node);
	node->w = w;
	push_head(self, node);
	self->count++;
	shrink(self, self->max, node);
}

void fcache_touch(struct fcache *self, struct fcache_node *node)
{
	if (!node->w || self->head == node)
		return;
	unlink_node(self, node);
	push_head(self, node);
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
