/*
 * fcache — the aggregator's bounded cache of open Whisper handles, least
 * recently used first out. A node lives inside whatever owns the file's
 * slot (a domain's or host's metric), so a lookup is a pointer, and the
 * cache only orders and bounds them: when one more file would exceed the
 * limit, the least recently written one is closed (its deferred
 * propagation paid) and its node's handle set to NULL; the owner reopens
 * it when it next needs it. Single-threaded.
 */
#ifndef AGG_FCACHE_H
#define AGG_FCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "whisper.h"

/* Embedded in the owner of one file. Zero-initialise; w is NULL when the
 * file is not open. The links belong to the cache. */
struct fcache_node {
	struct whisper *w;	      /* open handle, owned by the cache while linked */
	TAILQ_ENTRY(fcache_node) lru; /* LRU order, most recent at the head */
};

struct fcache;

/* A cache of at most `max` (>= 1) open handles; NULL on allocation failure. */
struct fcache *fcache_new(size_t max);
/* Closes every handle still cached (node->w = NULL), frees the cache and
 * nulls *self_p; NULL-safe. */
void fcache_destroy(struct fcache **self_p);

/* Takes ownership of the open handle `w` for `node` (node->w must be NULL)
 * and makes it the most recent; then closes least recent ones until at
 * most max are open (never `node` itself). */
void fcache_add(struct fcache *self, struct fcache_node *node, struct whisper *w);
/* Marks an open node as just used (no-op if node->w is NULL). */
void fcache_touch(struct fcache *self, struct fcache_node *node);
/* Closes node's handle now, if open (e.g. its domain stopped). */
void fcache_close(struct fcache *self, struct fcache_node *node);

/* Changes the bound (>= 1), closing least recent handles if over it. */
void fcache_set_max(struct fcache *self, size_t max);
size_t fcache_max(const struct fcache *self);
/* Handles open now. */
size_t fcache_count(const struct fcache *self);
/* Handles closed to make room since the cache was made. */
uint64_t fcache_evictions(const struct fcache *self);

#endif
