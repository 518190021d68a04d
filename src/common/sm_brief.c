/*
 * sm_brief — see sm_brief.h. Per publisher, an array of the domains of its
 * latest frame sorted by UUID; each frame builds the next array from the
 * previous one (entries move, nothing is copied twice), so a domain that
 * left the frame leaves the table with it.
 *
 * The arithmetic mirrors the monitor's (dom_tracker): a rate is the growth
 * of a counter between two records over the samples' time between them
 * (their since_us); a counter that went backwards or time that did not
 * advance gives an unknown rate, and a record whose since_us equals the
 * previous one's (a stale listing: no new sample) repeats its rates.
 */
#include "sm_brief.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_wire_fields.h"

/* Frames a publisher may skip (lost) before its records are forgotten: a
 * full-record number is one byte, and a domain gets a new full record at
 * most once a frame, so after 128 frames the number in a brief record may
 * belong to a newer full record than the one kept. */
#define BRIEF_MAX_GAP 128

struct brief_dom {
	struct sm_domain_stats base; /* the full record, as received (owns its arrays) */
	struct sm_domain_stats last; /* the last record expanded from it (owns its arrays) */
	bool moved;                  /* taken into the next frame's table */
};

struct brief_host {
	char name[SM_HOST_MAX + 1];
	uint64_t epoch, seq;
	uint64_t heard; /* the receiver's frame count when this host was last heard */
	size_t n;
	struct brief_dom *doms; /* sorted by UUID */
};

struct sm_brief {
	size_t max_hosts, nhosts;
	size_t max_domains; /* remembered per publisher */
	struct brief_host **hosts; /* sorted by name */
	uint64_t frames;
};

/* ---- records ----------------------------------------------------------- */

static void record_free(struct sm_domain_stats *d)
{
	free(d->disks);
	free(d->nics);
	d->disks = NULL;
	d->nics = NULL;
	d->ndisks = d->nnics = 0;
}

/* A deep copy (its own device arrays); -1 when memory ran out. */
static int record_copy(struct sm_domain_stats *dst, const struct sm_domain_stats *src)
{
	*dst = *src;
	dst->disks = NULL;
	dst->nics = NULL;
	if (src->ndisks > 0) {
		dst->disks = malloc(src->ndisks * sizeof(*dst->disks));
		if (dst->disks == NULL)
			goto fail;
		memcpy(dst->disks, src->disks, src->ndisks * sizeof(*dst->disks));
	}
	if (src->nnics > 0) {
		dst->nics = malloc(src->nnics * sizeof(*dst->nics));
		if (dst->nics == NULL)
			goto fail;
		memcpy(dst->nics, src->nics, src->nnics * sizeof(*dst->nics));
	}
	return 0;
fail:
	record_free(dst);
	return -1;
}

static void dom_free(struct brief_dom *e)
{
	record_free(&e->base);
	record_free(&e->last);
}

static int uuid_cmp(const void *a, const void *b)
{
	const struct brief_dom *x = a, *y = b;

	return memcmp(x->base.uuid, y->base.uuid, 16);
}

static struct brief_dom *dom_find(struct brief_host *h, const uint8_t uuid[16])
{
	struct brief_dom key;

	if (h->n == 0)
		return NULL;
	memcpy(key.base.uuid, uuid, 16);
	return bsearch(&key, h->doms, h->n, sizeof(*h->doms), uuid_cmp);
}

/* ---- expansion ----------------------------------------------------------- */

/* A counter's growth `delta` on top of its full record's value; false if
 * the sum passes 2^64 (no monitor sends that). */
static bool add_base(uint64_t *delta, uint64_t base)
{
	if (*delta > UINT64_MAX - base)
		return false;
	*delta += base;
	return true;
}

/* Per second, from `prev` to `cur` over dt_s; the last rate when no time
 * passed (no new sample); unknown when the counter went backwards or time
 * did. */
static double rate(uint64_t prev, uint64_t cur, double dt_s, double last)
{
	if (dt_s == 0)
		return last;
	if (dt_s < 0 || cur < prev)
		return NAN;
	return (double)(cur - prev) / dt_s;
}

/* The monitor's cpu_pct: CPU time over wall time over vCPUs, 0..100. */
static double cpu_pct(uint64_t prev_ns, uint64_t cur_ns, double dt_s, uint32_t vcpus,
		      double last)
{
	double pct;

	if (dt_s == 0)
		return last;
	if (dt_s < 0 || cur_ns < prev_ns || vcpus == 0)
		return NAN;
	pct = (double)(cur_ns - prev_ns) / 1e9 / dt_s / vcpus * 100.0;
	return pct > 100.0 ? 100.0 : pct;
}

/* Every counter of a device record, base added: by type, as the encoder
 * chose what to send by type (sm_wire_pack_domain_brief). */
#define ADD_BASE_TEXT(ok, cur, base) (void)0
#define ADD_BASE_U64(ok, cur, base) ok = ok && add_base(cur, *(base))
#define ADD_BASE_F32(ok, cur, base) (void)0
#define ADD_BASE(T, m, key, json, lo, hi, pres, unit) ADD_BASE_##T(ok, &rec->m, &base->m);

static bool disk_expand(struct sm_disk_stats *rec, const struct sm_disk_stats *base,
			const struct sm_disk_stats *last, double dt)
{
	bool ok = true;

	SM_WIRE_DISK_FIELDS(ADD_BASE)
	if (!ok)
		return false;
	memcpy(rec->name, base->name, sizeof(rec->name));
	rec->rd_req_ps = rate(last->rd_req, rec->rd_req, dt, last->rd_req_ps);
	rec->rd_bytes_ps = rate(last->rd_bytes, rec->rd_bytes, dt, last->rd_bytes_ps);
	rec->wr_req_ps = rate(last->wr_req, rec->wr_req, dt, last->wr_req_ps);
	rec->wr_bytes_ps = rate(last->wr_bytes, rec->wr_bytes, dt, last->wr_bytes_ps);
	return true;
}

static bool nic_expand(struct sm_nic_stats *rec, const struct sm_nic_stats *base,
		       const struct sm_nic_stats *last, double dt)
{
	bool ok = true;

	SM_WIRE_NIC_FIELDS(ADD_BASE)
	if (!ok)
		return false;
	memcpy(rec->name, base->name, sizeof(rec->name));
	rec->rx_bytes_ps = rate(last->rx_bytes, rec->rx_bytes, dt, last->rx_bytes_ps);
	rec->rx_packets_ps = rate(last->rx_packets, rec->rx_packets, dt, last->rx_packets_ps);
	rec->tx_bytes_ps = rate(last->tx_bytes, rec->tx_bytes, dt, last->tx_bytes_ps);
	rec->tx_packets_ps = rate(last->tx_packets, rec->tx_packets, dt, last->tx_packets_ps);
	return true;
}

enum expand_outcome { EXPANDED, NO_BASE, MISMATCH, NOMEM };

/* Turns brief record r into the full one, from entry e (updated to it). */
static enum expand_outcome expand_one(struct brief_dom *e, struct sm_domain_stats *r)
{
	const struct sm_domain_stats *b = &e->base, *l = &e->last;
	struct sm_domain_stats copy;
	double dt;

	if (r->gen != b->gen)
		return NO_BASE; /* refers to a newer full record, which we missed */
	if (r->ndisks != b->ndisks || r->nnics != b->nnics)
		return MISMATCH;
	if (r->since_us >= l->since_us)
		dt = (double)(r->since_us - l->since_us) / 1e6;
	else
		dt = -1; /* time ran backwards: rates unknown */
	if (!add_base(&r->cpu_time_ns, b->cpu_time_ns))
		return MISMATCH;
	for (size_t i = 0; i < r->ndisks; i++) {
		if (!disk_expand(&r->disks[i], &b->disks[i], &l->disks[i], dt))
			return MISMATCH;
	}
	for (size_t i = 0; i < r->nnics; i++) {
		if (!nic_expand(&r->nics[i], &b->nics[i], &l->nics[i], dt))
			return MISMATCH;
	}
	r->cpu_pct = cpu_pct(l->cpu_time_ns, r->cpu_time_ns, dt, r->vcpus, l->cpu_pct);
	memcpy(r->name, b->name, sizeof(r->name));
	r->has_identity = b->has_identity;
	r->identity = b->identity;
	r->flags = (r->flags & ~(uint32_t)(SM_DOM_BRIEF | SM_DOM_NOVA)) | (b->flags & SM_DOM_NOVA);
	if (record_copy(&copy, r) < 0)
		return NOMEM;
	record_free(&e->last);
	e->last = copy;
	return EXPANDED;
}

/* ---- publishers ---------------------------------------------------------- */

/* Entries already moved into the next table belong to it. */
static void host_forget_domains(struct brief_host *h)
{
	for (size_t i = 0; i < h->n; i++) {
		if (!h->doms[i].moved)
			dom_free(&h->doms[i]);
	}
	free(h->doms);
	h->doms = NULL;
	h->n = 0;
}

static int host_cmp(const char *name, const struct brief_host *h)
{
	return strcmp(name, h->name);
}

/* Index of `name`, or where it would go (*found false). */
static size_t host_slot(const struct sm_brief *b, const char *name, bool *found)
{
	size_t lo = 0, hi = b->nhosts;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = host_cmp(name, b->hosts[mid]);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = false;
	return lo;
}

static void host_remove(struct sm_brief *b, size_t i)
{
	host_forget_domains(b->hosts[i]);
	free(b->hosts[i]);
	memmove(&b->hosts[i], &b->hosts[i + 1], (b->nhosts - i - 1) * sizeof(*b->hosts));
	b->nhosts--;
}

/* The least recently heard publisher makes room for a new one. */
static void host_evict_oldest(struct sm_brief *b)
{
	size_t oldest = 0;

	for (size_t i = 1; i < b->nhosts; i++) {
		if (b->hosts[i]->heard < b->hosts[oldest]->heard)
			oldest = i;
	}
	host_remove(b, oldest);
}

static struct brief_host *host_get(struct sm_brief *b, const struct sm_header *hdr)
{
	bool found;
	size_t i = host_slot(b, hdr->host, &found);
	struct brief_host *h;

	if (found)
		return b->hosts[i];
	if (b->nhosts == b->max_hosts) {
		host_evict_oldest(b);
		i = host_slot(b, hdr->host, &found);
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	snprintf(h->name, sizeof(h->name), "%s", hdr->host);
	h->epoch = hdr->epoch;
	h->seq = hdr->seq;
	memmove(&b->hosts[i + 1], &b->hosts[i], (b->nhosts - i) * sizeof(*b->hosts));
	b->hosts[i] = h;
	b->nhosts++;
	return h;
}

struct sm_brief *sm_brief_new(size_t max_hosts, size_t max_domains)
{
	struct sm_brief *b;

	if (max_hosts == 0 || max_domains == 0)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->hosts = calloc(max_hosts, sizeof(*b->hosts));
	if (b->hosts == NULL) {
		free(b);
		return NULL;
	}
	b->max_hosts = max_hosts;
	b->max_domains = max_domains;
	return b;
}

void sm_brief_free(struct sm_brief **bp)
{
	struct sm_brief *b = bp ? *bp : NULL;

	if (b == NULL)
		return;
	while (b->nhosts > 0)
		host_remove(b, b->nhosts - 1);
	free(b->hosts);
	free(b);
	*bp = NULL;
}

size_t sm_brief_hosts(const struct sm_brief *b)
{
	return b->nhosts;
}

/* ---- one frame ----------------------------------------------------------- */

/* Removes the records flagged in `drop` from the frame, keeping the order. */
static void frame_compact(struct sm_aggregate_domain_stats *s, const bool *drop)
{
	size_t out = 0;

	for (size_t i = 0; i < s->ndomains; i++) {
		if (drop[i]) {
			record_free(&s->domains[i]);
			continue;
		}
		s->domains[out++] = s->domains[i];
	}
	s->ndomains = out;
}

/* Sorts the next table and keeps one entry per UUID (a frame listing a
 * domain twice is malformed; the first listing's entry is kept). */
static size_t table_finish(struct brief_dom *next, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0; /* next may be NULL: a frame without domains */
	qsort(next, n, sizeof(*next), uuid_cmp);
	for (size_t i = 0; i < n; i++) {
		if (out > 0 && uuid_cmp(&next[out - 1], &next[i]) == 0) {
			dom_free(&next[i]);
			continue;
		}
		next[out++] = next[i];
	}
	return out;
}

/* Out of memory: keep the frame's full records, forget the publisher. */
static int give_up(struct sm_brief *b, struct brief_host *h, struct sm_aggregate_domain_stats *s,
		   bool *drop, struct brief_dom *next, size_t nnext, struct sm_brief_result *res)
{
	for (size_t i = 0; i < nnext; i++)
		dom_free(&next[i]);
	free(next);
	if (drop != NULL) {
		for (size_t i = 0; i < s->ndomains; i++) {
			if (s->domains[i].flags & SM_DOM_BRIEF) {
				drop[i] = true;
				res->no_base++;
			}
		}
		frame_compact(s, drop);
		free(drop);
	}
	if (h != NULL) {
		bool found;
		size_t i = host_slot(b, h->name, &found);

		if (found)
			host_remove(b, i);
	}
	return -1;
}

int sm_brief_expand(struct sm_brief *b, struct sm_message *m, struct sm_brief_result *res)
{
	struct sm_aggregate_domain_stats *s = &m->u.stats;
	struct brief_host *h;
	struct brief_dom *next = NULL;
	bool *drop = NULL;
	size_t nnext = 0;

	memset(res, 0, sizeof(*res));
	if (m->hdr.kind != SM_KIND_STATS)
		return 0;
	b->frames++;
	h = host_get(b, &m->hdr);
	if (s->ndomains > 0) {
		next = calloc(s->ndomains, sizeof(*next));
		drop = calloc(s->ndomains, sizeof(*drop));
	}
	if (h == NULL || (s->ndomains > 0 && (next == NULL || drop == NULL)))
		return give_up(b, h, s, drop, next, 0, res);
	if (h->epoch != m->hdr.epoch ||
	    (m->hdr.seq > h->seq && m->hdr.seq - h->seq > BRIEF_MAX_GAP))
		host_forget_domains(h); /* a restarted publisher, or too much lost */
	h->epoch = m->hdr.epoch;
	h->seq = m->hdr.seq;
	h->heard = b->frames;

	for (size_t i = 0; i < s->ndomains; i++) {
		struct sm_domain_stats *r = &s->domains[i];
		struct brief_dom *old = dom_find(h, r->uuid);
		struct brief_dom *e = &next[nnext];

		if (nnext >= b->max_domains) {
			/* Kept if full, but neither remembered nor expanded. */
			res->no_room++;
			drop[i] = (r->flags & SM_DOM_BRIEF) != 0;
			continue;
		}
		if (!(r->flags & SM_DOM_BRIEF)) {
			r->since_us = 0; /* the full record is the origin of its brief ones */
			if (record_copy(&e->base, r) < 0)
				return give_up(b, h, s, drop, next, nnext, res);
			if (record_copy(&e->last, r) < 0) {
				record_free(&e->base);
				return give_up(b, h, s, drop, next, nnext, res);
			}
			nnext++;
			continue;
		}
		if (old == NULL || old->moved) {
			/* unknown, or listed twice in this frame */
			drop[i] = true;
			if (old == NULL)
				res->no_base++;
			else
				res->mismatch++;
			continue;
		}
		*e = *old;
		old->moved = true;
		nnext++;
		switch (expand_one(e, r)) {
		case EXPANDED: res->expanded++; break;
		case NO_BASE: drop[i] = true; res->no_base++; break;
		case MISMATCH: drop[i] = true; res->mismatch++; break;
		case NOMEM: return give_up(b, h, s, drop, next, nnext, res);
		}
	}
	host_forget_domains(h);
	h->n = table_finish(next, nnext);
	h->doms = next;
	frame_compact(s, drop);
	free(drop);
	return 0;
}
