/*
 * dom_brief — see dom_brief.h. It keeps the full record last sent (what a
 * receiver's brief records are expanded against) and the counters of the
 * last record sent, which tell a counter that went backwards even when the
 * sample that saw it reached no frame.
 */
#include "dom_brief.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sm_wire_fields.h"

struct dom_brief {
	bool has_base;               /* a full record has been sent */
	bool full_next;              /* memory ran out: the next record is full */
	uint32_t gen;                /* number of that full record, 0-255 */
	int64_t base_ns;             /* time of its sample */
	int64_t next_full_ns;        /* when the periodic one is due */
	uint64_t fulls;              /* full records packed */
	struct sm_domain_stats base; /* that record (its device arrays owned) */
	size_t disks_cap, nics_cap;
	struct sm_domain_stats sent; /* counters of the last record sent (arrays owned) */
	size_t sent_disks_cap, sent_nics_cap;
};

struct dom_brief *dom_brief_new(void)
{
	return calloc(1, sizeof(struct dom_brief));
}

void dom_brief_destroy(struct dom_brief **bp)
{
	struct dom_brief *b = bp ? *bp : NULL;

	if (b == NULL)
		return;
	free(b->base.disks);
	free(b->base.nics);
	free(b->sent.disks);
	free(b->sent.nics);
	free(b);
	*bp = NULL;
}

uint64_t dom_brief_full_count(const struct dom_brief *b)
{
	return b->fulls;
}

/* Copies src's record into *dst, growing dst's arrays (capacities in
 * *dcap, *ncap) as needed; -1 when out of memory (dst then has no
 * devices, so nothing is compared against a half copy). */
static int copy_into(struct sm_domain_stats *dst, size_t *dcap, size_t *ncap,
		     const struct sm_domain_stats *src)
{
	struct sm_disk_stats *disks = dst->disks;
	struct sm_nic_stats *nics = dst->nics;

	if (src->ndisks > *dcap) {
		struct sm_disk_stats *d = realloc(disks, src->ndisks * sizeof(*d));

		if (d == NULL)
			goto fail;
		disks = d;
		*dcap = src->ndisks;
	}
	if (src->nnics > *ncap) {
		struct sm_nic_stats *n = realloc(nics, src->nnics * sizeof(*n));

		if (n == NULL)
			goto fail;
		nics = n;
		*ncap = src->nnics;
	}
	*dst = *src;
	dst->disks = disks;
	dst->nics = nics;
	if (src->ndisks > 0)
		memcpy(disks, src->disks, src->ndisks * sizeof(*disks));
	if (src->nnics > 0)
		memcpy(nics, src->nics, src->nnics * sizeof(*nics));
	return 0;
fail:
	dst->disks = disks;
	dst->nics = nics;
	dst->ndisks = dst->nnics = 0;
	return -1;
}

#define TEXT_DIFFERS(T, m, key, json, lo, hi, pres, unit) || strcmp(a->m, b->m) != 0

static bool identity_differs(const struct sm_domain_stats *x, const struct sm_domain_stats *y)
{
	const struct sm_identity *a = &x->identity, *b = &y->identity;

	if (x->has_identity != y->has_identity)
		return true;
	return x->has_identity && (0 SM_WIRE_IDENTITY_FIELDS(TEXT_DIFFERS));
}

/* What a brief record cannot say: a new name, identity or device list. */
static bool description_changed(const struct sm_domain_stats *st,
				const struct sm_domain_stats *base)
{
	if (strcmp(st->name, base->name) != 0 || identity_differs(st, base) ||
	    (st->flags & SM_DOM_NOVA) != (base->flags & SM_DOM_NOVA) ||
	    st->ndisks != base->ndisks || st->nnics != base->nnics)
		return true;
	for (size_t i = 0; i < st->ndisks; i++) {
		if (strcmp(st->disks[i].name, base->disks[i].name) != 0)
			return true;
	}
	for (size_t i = 0; i < st->nnics; i++) {
		if (strcmp(st->nics[i].name, base->nics[i].name) != 0)
			return true;
	}
	return false;
}

/* A counter below the last one sent (a reset: brief growth cannot go
 * down), or a rate the tracker could not compute (a new baseline): the
 * receiver's arithmetic would be wrong, so the record is full. */
#define BELOW(T, m, key, json, lo, hi, pres, unit) BELOW_##T(cur->m, last->m)
#define BELOW_TEXT(c, l)
#define BELOW_U64(c, l) || (c) < (l)
#define BELOW_F32(c, l)
#define UNKNOWN(T, m, key, json, lo, hi, pres, unit) UNKNOWN_##T(cur->m)
#define UNKNOWN_TEXT(c)
#define UNKNOWN_U64(c)
#define UNKNOWN_F32(c) || isnan(c)

static bool disk_breaks(const struct sm_disk_stats *cur, const struct sm_disk_stats *last)
{
	return 0 SM_WIRE_DISK_FIELDS(BELOW) SM_WIRE_DISK_FIELDS(UNKNOWN);
}

static bool nic_breaks(const struct sm_nic_stats *cur, const struct sm_nic_stats *last)
{
	return 0 SM_WIRE_NIC_FIELDS(BELOW) SM_WIRE_NIC_FIELDS(UNKNOWN);
}

static bool counters_break(const struct sm_domain_stats *st, const struct sm_domain_stats *sent)
{
	if (st->cpu_time_ns < sent->cpu_time_ns || isnan(st->cpu_pct) ||
	    st->ndisks != sent->ndisks || st->nnics != sent->nnics)
		return true;
	for (size_t i = 0; i < st->ndisks; i++) {
		if (disk_breaks(&st->disks[i], &sent->disks[i]))
			return true;
	}
	for (size_t i = 0; i < st->nnics; i++) {
		if (nic_breaks(&st->nics[i], &sent->nics[i]))
			return true;
	}
	return false;
}

static bool full_due(const struct dom_brief *b, const struct sm_domain_stats *st,
		     int64_t sample_ns, int64_t now_ns, int64_t full_every_ns)
{
	return !b->has_base || b->full_next || full_every_ns <= 0 || now_ns >= b->next_full_ns ||
	       sample_ns < b->base_ns || description_changed(st, &b->base) ||
	       counters_break(st, &b->sent);
}

void dom_brief_pack(struct dom_brief *b, msgpack_packer *pk, const struct sm_domain_stats *st,
		    int64_t sample_ns, int64_t now_ns, int64_t full_every_ns, bool force_full)
{
	if (force_full || full_due(b, st, sample_ns, now_ns, full_every_ns)) {
		struct sm_domain_stats rec = *st;

		/* The first periodic refresh comes after a share of the interval
		 * set by the UUID, so that a host's domains, all first listed in
		 * the same frame, do not all refresh in the same frame after; a
		 * full record sent for a change keeps the schedule. */
		if (!b->has_base)
			b->next_full_ns = now_ns + full_every_ns / 256 * (st->uuid[15] + 1);
		else if (now_ns >= b->next_full_ns)
			b->next_full_ns = now_ns + full_every_ns;
		if (b->has_base)
			b->gen = (b->gen + 1) & 255u;
		b->has_base = true;
		b->base_ns = sample_ns;
		b->fulls++;
		rec.gen = b->gen;
		rec.since_us = 0;
		rec.flags &= ~(uint32_t)SM_DOM_BRIEF;
		sm_wire_pack_domain(pk, &rec);
		b->full_next = copy_into(&b->base, &b->disks_cap, &b->nics_cap, st) < 0;
	} else {
		sm_wire_pack_domain_brief(pk, st, &b->base, b->gen,
					  (uint64_t)(sample_ns - b->base_ns + 500) / 1000);
	}
	if (copy_into(&b->sent, &b->sent_disks_cap, &b->sent_nics_cap, st) < 0)
		b->full_next = true;
}
