/*
 * pyset — replays CPython 3.11's set table (Objects/setobject.c: open
 * addressing, 9 linear probes then perturbed jumps, growth when 60% full)
 * for int keys, whose hash is their value, to learn its iteration order.
 * Only insertions happen, so there are no dummy entries to model.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pyset.h"

#define PYSET_MINSIZE 8
#define LINEAR_PROBES 9
#define PERTURB_SHIFT 5
#define EMPTY	      UINT64_MAX /* keys are uint32, so this never collides */

struct table {
	uint64_t *slot;		       /* mask + 1 entries, EMPTY when unused */
	size_t mask;		       /* size - 1, size a power of two */
	size_t used;		       /* keys stored (= fill: no deletions) */
	uint64_t small[PYSET_MINSIZE]; /* CPython's smalltable */
};

/* set_insert_clean: place a key known to be absent (used while resizing). */
static void insert_clean(uint64_t *slot, size_t mask, uint64_t key)
{
	size_t perturb = (size_t)key;
	size_t i = (size_t)key & mask;

	for (;;) {
		if (slot[i] == EMPTY) {
			slot[i] = key;
			return;
		}
		if (i + LINEAR_PROBES <= mask) {
			for (size_t j = 1; j <= LINEAR_PROBES; j++) {
				if (slot[i + j] == EMPTY) {
					slot[i + j] = key;
					return;
				}
			}
		}
		perturb >>= PERTURB_SHIFT;
		i = (i * 5 + 1 + perturb) & mask;
	}
}

/* set_table_resize: new size is the smallest power of two > minused; old
 * entries are re-placed in old table order. */
static int resize(struct table *t, size_t minused)
{
	size_t newsize = PYSET_MINSIZE;
	uint64_t *fresh;

	while (newsize <= minused)
		newsize <<= 1;
	fresh = malloc(newsize * sizeof(*fresh));
	if (fresh == NULL)
		return -ENOMEM;
	memset(fresh, 0xff, newsize * sizeof(*fresh));
	for (size_t i = 0; i <= t->mask; i++)
		if (t->slot[i] != EMPTY)
			insert_clean(fresh, newsize - 1, t->slot[i]);
	if (t->slot != t->small)
		free(t->slot);
	t->slot = fresh;
	t->mask = newsize - 1;
	return 0;
}

/* set_add_entry for a key whose equality is its hash's. */
static int add(struct table *t, uint64_t key)
{
	size_t mask = t->mask;
	size_t perturb = (size_t)key;
	size_t i = (size_t)key & mask;
	size_t e;

	for (;;) {
		size_t probes = (i + LINEAR_PROBES <= mask) ? LINEAR_PROBES : 0;

		e = i;
		for (;;) {
			if (t->slot[e] == EMPTY)
				goto found_unused;
			if (t->slot[e] == key)
				return 0;
			if (probes-- == 0)
				break;
			e++;
		}
		perturb >>= PERTURB_SHIFT;
		i = (i * 5 + 1 + perturb) & mask;
	}
found_unused:
	t->slot[e] = key;
	t->used++;
	if (t->used * 5 < mask * 3)
		return 0;
	return resize(t, t->used > 50000 ? t->used * 2 : t->used * 4);
}

int pyset_order(const uint32_t *keys, size_t n, uint32_t *out, size_t *out_n)
{
	struct table t = {.mask = PYSET_MINSIZE - 1, .used = 0};
	int rc = 0;
	size_t k = 0;

	t.slot = t.small;
	memset(t.small, 0xff, sizeof(t.small));
	for (size_t i = 0; i < n; i++) {
		rc = add(&t, keys[i]);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i <= t.mask; i++)
		if (t.slot[i] != EMPTY)
			out[k++] = (uint32_t)t.slot[i];
out:
	*out_n = k;
	if (t.slot != t.small)
		free(t.slot);
	return rc;
}
