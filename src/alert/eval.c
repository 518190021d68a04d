/*
 * eval — the state table and its evaluation (see eval.h). Nodes and
 * domains live in two chained hash tables (by name, by UUID); each node
 * lists its domains, each domain its disks and interfaces. Every instance
 * holds one state slot per rule (a slot its kind of rule never uses stays
 * inactive), so a pass is a walk over nodes, domains and devices with no
 * lookup per pair: what makes 100,000 pairs a second cheap (bench/alert).
 */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metric_map.h"
#include "sm_log.h"
#include "sm_uuid.h"

#define HOST_BUCKETS 1024
#define DOM_BUCKETS  16384
#define LOSS_WINDOW  60.0 /* seconds: frame loss is measured over about this long */

struct slot {
	uint8_t state; /* enum alert_state */
	double since;  /* pending or firing since */
	double value;  /* the last value that decided */
};

struct dev {
	char name[SM_DEV_MAX + 1];
	double v[METRIC_DEVICE_MAX_N], prev[METRIC_DEVICE_MAX_N];
	double t, prev_t; /* frame times of v and prev (the monitor's clock) */
	struct slot *slots;
};

struct host;

struct dom {
	uint8_t uuid[16];
	char uuid_text[37];
	struct host *host;
	char name[SM_NAME_MAX + 1];
	struct sm_identity id; /* zeroed when not known */
	double v[METRIC_DOMAIN_N], prev[METRIC_DOMAIN_N];
	double t, prev_t;
	double fresh; /* when last listed with values of its own (not flagged stale) */
	double seen;  /* when last listed */
	uint64_t gen; /* the node's frame that last listed it */
	bool heard;   /* listed since start (false: restored only) */
	struct slot *slots;
	size_t ndisks, nnics;
	struct dev *disks, *nics;
	struct dom *bucket_next;
	struct dom *prev_on_host, *next_on_host;
};

struct host {
	char name[SM_HOST_MAX + 1];
	double last; /* when its last frame arrived (restored: the restart) */
	double v[METRIC_HOST_N], prev[METRIC_HOST_N];
	double t, prev_t;
	bool libvirt_ok;
	bool heard;
	uint64_t gen;
	double recv_w, lost_w;	     /* frames received and lost, decayed over LOSS_WINDOW */
	uint64_t recv_new, lost_new; /* since the last tick */
	bool doms_warned;	     /* max_domains_per_host logged for this host */
	double loss_pct;
	struct slot *slots;
	struct dom *doms;
	size_t ndoms;
	struct host *bucket_next;
};

struct eval {
	struct rule_set *rules;
	struct host *hosts[HOST_BUCKETS];
	struct dom *doms[DOM_BUCKETS];
	double last_tick;
	double next_due; /* the earliest time a pending pair's duration is up; 0 = none */
	size_t max_hosts, max_doms; /* eval_set_limits; 0 = none */
	bool hosts_warned;	    /* max_hosts logged */
	struct eval_stats st;
};

/* ---- helpers ---------------------------------------------------------- */

static uint32_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 16777619u;
	return h;
}

static struct slot *slots_new(size_t n)
{
	return calloc(n ? n : 1, sizeof(struct slot));
}

static void fill_nan(double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = NAN;
}

static const char *gone_reason_text(const char *r)
{
	return r ? r : "cleared";
}

/* Builds the alert of `r`'s slot `s` on the instance (host, dom, dev). */
static void describe(struct alert_info *a, const struct rule *r, const struct slot *s,
		     const struct host *h, const struct dom *d, const struct dev *dv)
{
	*a = (struct alert_info){.rule = r,
				 .state = (enum alert_state)s->state,
				 .value = s->value,
				 .since = s->since,
				 .host = h->name,
				 .is_domain = d != NULL,
				 .domain = d ? d->name : "",
				 .display_name = d ? d->id.display_name : "",
				 .project_id = d ? d->id.project_id : "",
				 .project_name = d ? d->id.project_name : "",
				 .device = dv ? dv->name : ""};
	if (d)
		memcpy(a->uuid, d->uuid_text, sizeof(a->uuid));
}

/* Reports a firing slot as resolved (it goes with its instance or rule). */
static void resolve_gone(struct eval *e, const struct rule *r, struct slot *s, const struct host *h,
			 const struct dom *d, const struct dev *dv, double now, const char *why,
			 eval_notify_fn fn, void *ctx)
{
	struct alert_info a;

	if (s->state == ALERT_FIRING && fn) {
		describe(&a, r, s, h, d, dv);
		a.state = ALERT_INACTIVE;
		a.ends_at = now;
		a.reason = gone_reason_text(why);
		e->st.resolved++;
		fn(ctx, &a);
	}
	s->state = ALERT_INACTIVE;
}

/* ---- lookup, creation, removal ------------------------------------------ */

static struct host *host_find(const struct eval *e, const char *name)
{
	struct host *h = e->hosts[hash_bytes(name, strlen(name)) % HOST_BUCKETS];

	while (h && strcmp(h->name, name) != 0)
		h = h->bucket_next;
	return h;
}

static struct host *host_get(struct eval *e, const char *name, double now)
{
	struct host *h = host_find(e, name);
	uint32_t b;

	if (h)
		return h;
	if (e->max_hosts && e->st.hosts >= e->max_hosts) {
		e->st.hosts_refused++;
		if (!e->hosts_warned)
			sm_log_warnx("max_hosts (%zu) reached: frames of new hosts such as %s are left"
				    " out (counted as hosts_refused; logged once)",
				    e->max_hosts, name);
		e->hosts_warned = true;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->slots = slots_new(e->rules->n);
	if (!h->slots) {
		free(h);
		return NULL;
	}
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->last = now;
	h->libvirt_ok = true;
	fill_nan(h->v, METRIC_HOST_N);
	fill_nan(h->prev, METRIC_HOST_N);
	b = hash_bytes(name, strlen(name)) % HOST_BUCKETS;
	h->bucket_next = e->hosts[b];
	e->hosts[b] = h;
	e->st.hosts++;
	return h;
}

static struct dom *dom_find(const struct eval *e, const uint8_t uuid[16])
{
	struct dom *d = e->doms[hash_bytes(uuid, 16) % DOM_BUCKETS];

	while (d && memcmp(d->uuid, uuid, 16) != 0)
		d = d->bucket_next;
	return d;
}

static void dom_unlink_host(struct dom *d)
{
	if (d->prev_on_host)
		d->prev_on_host->next_on_host = d->next_on_host;
	else
		d->host->doms = d->next_on_host;
	if (d->next_on_host)
		d->next_on_host->prev_on_host = d->prev_on_host;
	d->host->ndoms--;
	d->prev_on_host = d->next_on_host = NULL;
}

static void dom_link_host(struct dom *d, struct host *h)
{
	d->host = h;
	d->prev_on_host = NULL;
	d->next_on_host = h->doms;
	if (h->doms)
		h->doms->prev_on_host = d;
	h->doms = d;
	h->ndoms++;
}

static struct dom *dom_get(struct eval *e, struct host *h, const uint8_t uuid[16])
{
	struct dom *d = dom_find(e, uuid);
	uint32_t b;

	if (d) {
		if (d->host != h) { /* migrated: it now reports from h */
			dom_unlink_host(d);
			dom_link_host(d, h);
		}
		return d;
	}
	if (e->max_doms && h->ndoms >= e->max_doms) {
		e->st.domains_refused++;
		if (!h->doms_warned)
			sm_log_warnx("host %s: max_domains_per_host (%zu) reached, its new domains"
				    " are left out (counted as domains_refused; logged once a host)",
				    h->name, e->max_doms);
		h->doms_warned = true;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->slots = slots_new(e->rules->n);
	if (!d->slots) {
		free(d);
		return NULL;
	}
	memcpy(d->uuid, uuid, 16);
	sm_uuid_format(uuid, d->uuid_text);
	fill_nan(d->v, METRIC_DOMAIN_N);
	fill_nan(d->prev, METRIC_DOMAIN_N);
	b = hash_bytes(uuid, 16) % DOM_BUCKETS;
	d->bucket_next = e->doms[b];
	e->doms[b] = d;
	dom_link_host(d, h);
	e->st.domains++;
	return d;
}

static void devs_free(struct eval *e, struct dev *devs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(devs[i].slots);
	free(devs);
	e->st.devices -= n;
}

/* Removes d, resolving its firing alerts with `why`. */
static void dom_remove(struct eval *e, struct dom *d, double now, const char *why,
		       eval_notify_fn fn, void *ctx)
{
	struct dom **pp = &e->doms[hash_bytes(d->uuid, 16) % DOM_BUCKETS];

	for (size_t r = 0; r < e->rules->n; r++) {
		const struct rule *rule = &e->rules->rules[r];

		resolve_gone(e, rule, &d->slots[r], d->host, d, NULL, now, why, fn, ctx);
		for (size_t i = 0; i < d->ndisks; i++)
			resolve_gone(e, rule, &d->disks[i].slots[r], d->host, d, &d->disks[i], now,
				     why, fn, ctx);
		for (size_t i = 0; i < d->nnics; i++)
			resolve_gone(e, rule, &d->nics[i].slots[r], d->host, d, &d->nics[i], now,
				     why, fn, ctx);
	}
	while (*pp != d)
		pp = &(*pp)->bucket_next;
	*pp = d->bucket_next;
	dom_unlink_host(d);
	devs_free(e, d->disks, d->ndisks);
	devs_free(e, d->nics, d->nnics);
	free(d->slots);
	free(d);
	e->st.domains--;
}

static void host_remove(struct eval *e, struct host *h, double now, eval_notify_fn fn, void *ctx)
{
	struct host **pp = &e->hosts[hash_bytes(h->name, strlen(h->name)) % HOST_BUCKETS];

	while (h->doms)
		dom_remove(e, h->doms, now, "gone", fn, ctx);
	for (size_t r = 0; r < e->rules->n; r++)
		resolve_gone(e, &e->rules->rules[r], &h->slots[r], h, NULL, NULL, now, "gone", fn,
			     ctx);
	while (*pp != h)
		pp = &(*pp)->bucket_next;
	*pp = h->bucket_next;
	free(h->slots);
	free(h);
	e->st.hosts--;
}

/* ---- lifecycle ------------------------------------------------------------ */

void eval_set_limits(struct eval *e, size_t max_hosts, size_t max_domains_per_host)
{
	e->max_hosts = max_hosts;
	e->max_doms = max_domains_per_host;
}

struct eval *eval_new(struct rule_set **rules)
{
	struct eval *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->rules = *rules;
	*rules = NULL;
	return e;
}

void eval_destroy(struct eval **ep)
{
	struct eval *e = ep ? *ep : NULL;

	if (!e)
		return;
	for (size_t b = 0; b < HOST_BUCKETS; b++)
		while (e->hosts[b])
			host_remove(e, e->hosts[b], 0, NULL, NULL);
	rules_free(&e->rules);
	free(e);
	*ep = NULL;
}

const struct rule_set *eval_rules(const struct eval *e)
{
	return e->rules;
}

/* ---- rules reload ----------------------------------------------------------- */

/* Slots for the new rules, carried over from `old` by map; NULL when out of memory. */
static struct slot *remap(const struct slot *old, const int *map, size_t n)
{
	struct slot *s = slots_new(n);

	for (size_t i = 0; s && i < n; i++)
		if (map[i] >= 0)
			s[i] = old[map[i]];
	return s;
}

/* Resolves what went with the old rules: slots of old rules not in the map. */
static void resolve_unmapped(struct eval *e, const struct rule_set *old, const bool *kept,
			     struct slot *slots, const struct host *h, const struct dom *d,
			     const struct dev *dv, double now, eval_notify_fn fn, void *ctx)
{
	for (size_t r = 0; r < old->n; r++)
		if (!kept[r])
			resolve_gone(e, &old->rules[r], &slots[r], h, d, dv, now, "rule removed",
				     fn, ctx);
}

/* One instance's slots as the reload walks them. */
struct slots_ref {
	struct slot **slots;
	const struct host *h;
	const struct dom *d;
	const struct dev *dv;
};

/* Every instance's slots, in a fixed order: the reload walks them twice. */
static size_t all_slots(const struct eval *e, struct slots_ref *out)
{
	size_t n = 0;

	for (size_t b = 0; b < HOST_BUCKETS; b++)
		for (struct host *h = e->hosts[b]; h; h = h->bucket_next) {
			if (out)
				out[n] = (struct slots_ref){&h->slots, h, NULL, NULL};
			n++;
			for (struct dom *d = h->doms; d; d = d->next_on_host) {
				if (out)
					out[n] = (struct slots_ref){&d->slots, h, d, NULL};
				n++;
				for (size_t i = 0; i < d->ndisks + d->nnics; i++) {
					struct dev *dv =
					    i < d->ndisks ? &d->disks[i] : &d->nics[i - d->ndisks];

					if (out)
						out[n] = (struct slots_ref){&dv->slots, h, d, dv};
					n++;
				}
			}
		}
	return n;
}

int eval_set_rules(struct eval *e, struct rule_set **rules, eval_notify_fn fn, void *ctx)
{
	struct rule_set *nw = *rules, *old = e->rules;
	int *map = calloc(nw->n ? nw->n : 1, sizeof(*map));
	bool *kept = calloc(old->n ? old->n : 1, sizeof(*kept));
	size_t n = all_slots(e, NULL), made = 0;
	struct slots_ref *refs = calloc(n ? n : 1, sizeof(*refs));
	struct slot **fresh = calloc(n ? n : 1, sizeof(*fresh));
	double now = e->last_tick;
	int rc = -1;

	if (!map || !kept || !refs || !fresh)
		goto out;
	for (size_t i = 0; i < nw->n; i++) {
		map[i] = -1;
		for (size_t j = 0; j < old->n; j++)
			if (strcmp(nw->rules[i].name, old->rules[j].name) == 0 &&
			    strcmp(nw->rules[i].expr, old->rules[j].expr) == 0) {
				map[i] = (int)j;
				kept[j] = true;
			}
	}
	/* Every new slot array first, so that running out of memory changes
	 * nothing; then the old rules' alerts that go resolve (the old rules
	 * still describe them) and the arrays are swapped. */
	all_slots(e, refs);
	for (made = 0; made < n; made++) {
		fresh[made] = remap(*refs[made].slots, map, nw->n);
		if (!fresh[made])
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		resolve_unmapped(e, old, kept, *refs[i].slots, refs[i].h, refs[i].d, refs[i].dv,
				 now, fn, ctx);
		free(*refs[i].slots);
		*refs[i].slots = fresh[i];
		fresh[i] = NULL;
	}
	made = 0;
	rules_free(&e->rules);
	e->rules = nw;
	*rules = NULL;
	rc = 0;
out:
	for (size_t i = 0; fresh && i < made; i++)
		free(fresh[i]);
	free(fresh);
	free(refs);
	free(map);
	free(kept);
	return rc;
}

/* ---- intake ------------------------------------------------------------------- */

static void shift(double *prev, double *v, const double *nv, size_t n, double *prev_t, double *t,
		  double nt)
{
	memcpy(prev, v, n * sizeof(double));
	memcpy(v, nv, n * sizeof(double));
	*prev_t = *t;
	*t = nt;
}

/* The device list of a domain as the frame has it, carrying over the slots
 * and last values of devices of the same name (their slots then move: the
 * old entry's are nulled). NULL when out of memory, the old list intact. */
static struct dev *devs_update(struct eval *e, struct dev *old, size_t nold, size_t nnew,
			       const char *(*name_of)(const void *, size_t), const void *arr,
			       void (*values)(const void *, size_t, double *), size_t nv, double t)
{
	struct dev *nw = calloc(nnew ? nnew : 1, sizeof(*nw));
	size_t *from = calloc(nnew ? nnew : 1, sizeof(*from)); /* old index + 1, or 0 */
	bool ok = nw && from;

	for (size_t i = 0; ok && i < nnew; i++) {
		for (size_t j = 0; j < nold && !from[i]; j++) {
			bool claimed = false;

			for (size_t k = 0; k < i && !claimed; k++)
				claimed = from[k] == j + 1;
			if (!claimed && strcmp(old[j].name, name_of(arr, i)) == 0)
				from[i] = j + 1;
		}
		if (!from[i]) {
			nw[i].slots = slots_new(e->rules->n);
			ok = nw[i].slots != NULL;
		}
	}
	if (!ok) {
		for (size_t i = 0; nw && i < nnew; i++)
			free(nw[i].slots);
		free(nw);
		free(from);
		return NULL;
	}
	for (size_t i = 0; i < nnew; i++) {
		double vals[METRIC_DEVICE_MAX_N];

		if (from[i]) {
			nw[i] = old[from[i] - 1];
			old[from[i] - 1].slots = NULL; /* moved */
		} else {
			snprintf(nw[i].name, sizeof(nw[i].name), "%s", name_of(arr, i));
			fill_nan(nw[i].v, METRIC_DEVICE_MAX_N);
			fill_nan(nw[i].prev, METRIC_DEVICE_MAX_N);
			e->st.devices++;
		}
		values(arr, i, vals);
		shift(nw[i].prev, nw[i].v, vals, nv, &nw[i].prev_t, &nw[i].t, t);
	}
	free(from);
	return nw;
}

static const char *disk_name(const void *arr, size_t i)
{
	return ((const struct sm_disk_stats *)arr)[i].name;
}

static const char *nic_name(const void *arr, size_t i)
{
	return ((const struct sm_nic_stats *)arr)[i].name;
}

static void disk_vals(const void *arr, size_t i, double *v)
{
	metric_disk_values(&((const struct sm_disk_stats *)arr)[i], v);
}

static void nic_vals(const void *arr, size_t i, double *v)
{
	metric_nic_values(&((const struct sm_nic_stats *)arr)[i], v);
}

/* Devices of the old list that did not carry over: their alerts resolve. */
static void devs_retire(struct eval *e, struct dom *d, struct dev *old, size_t nold, double now,
			eval_notify_fn fn, void *ctx)
{
	for (size_t i = 0; i < nold; i++) {
		if (!old[i].slots)
			continue;
		for (size_t r = 0; r < e->rules->n; r++)
			resolve_gone(e, &e->rules->rules[r], &old[i].slots[r], d->host, d, &old[i],
				     now, "gone", fn, ctx);
		free(old[i].slots);
		old[i].slots = NULL;
		e->st.devices--;
	}
	free(old);
}

static void apply_domain(struct eval *e, struct host *h, const struct sm_domain_stats *s, double t,
			 double now, eval_notify_fn fn, void *ctx)
{
	struct dom *d = dom_get(e, h, s->uuid);
	double v[METRIC_DOMAIN_N];
	struct dev *disks, *nics;

	if (!d)
		return;
	snprintf(d->name, sizeof(d->name), "%s", s->name);
	if (s->has_identity)
		d->id = s->identity;
	metric_domain_values(s, v);
	shift(d->prev, d->v, v, METRIC_DOMAIN_N, &d->prev_t, &d->t, t);
	d->gen = h->gen;
	d->heard = true;
	d->seen = now;
	if (!(s->flags & SM_DOM_STALE) || d->fresh == 0) /* first seen counts as fresh */
		d->fresh = now;
	disks = devs_update(e, d->disks, d->ndisks, s->ndisks, disk_name, s->disks, disk_vals,
			    METRIC_DISK_N, t);
	if (disks) {
		devs_retire(e, d, d->disks, d->ndisks, now, fn, ctx);
		d->disks = disks;
		d->ndisks = s->ndisks;
	}
	nics = devs_update(e, d->nics, d->nnics, s->nnics, nic_name, s->nics, nic_vals,
			   METRIC_NIC_N, t);
	if (nics) {
		devs_retire(e, d, d->nics, d->nnics, now, fn, ctx);
		d->nics = nics;
		d->nnics = s->nnics;
	}
}

void eval_apply_stats(struct eval *e, const struct sm_message *m, double now, bool complete,
		      eval_notify_fn fn, void *ctx)
{
	const struct sm_aggregate_domain_stats *agg = &m->u.stats;
	struct host *h = host_get(e, m->hdr.host, now);
	double v[METRIC_HOST_N];

	if (!h)
		return;
	h->last = now;
	h->heard = true;
	h->gen++;
	h->libvirt_ok = agg->host.libvirt_ok;
	metric_host_values(&agg->host, agg->ndomains, v);
	shift(h->prev, h->v, v, METRIC_HOST_N, &h->prev_t, &h->t, m->hdr.time);
	for (size_t i = 0; i < agg->ndomains; i++)
		apply_domain(e, h, &agg->domains[i], m->hdr.time, now, fn, ctx);
	if (complete) {
		struct dom *d = h->doms, *next;

		for (; d; d = next) {
			next = d->next_on_host;
			if (d->gen != h->gen)
				dom_remove(e, d, now, "gone", fn, ctx);
		}
	}
}

void eval_apply_event(struct eval *e, const struct sm_message *m, eval_notify_fn fn, void *ctx)
{
	struct dom *d;

	if (m->u.event.type != SM_EVENT_STOPPED)
		return;
	d = dom_find(e, m->u.event.uuid);
	/* A migration's source says stopped after the target may list it. */
	if (d && strcmp(d->host->name, m->hdr.host) == 0)
		dom_remove(e, d, e->last_tick, "stopped", fn, ctx);
}

void eval_note_frame(struct eval *e, const char *host, uint64_t lost)
{
	struct host *h = host_find(e, host);

	if (!h)
		h = host_get(e, host, e->last_tick);
	if (!h)
		return;
	h->recv_new++;
	h->lost_new += lost;
}

/* ---- evaluation ------------------------------------------------------------------ */

/* A value now, or its per-second growth (rate): NaN when unknown. */
static double value_of(const struct rule *r, const double *v, const double *prev, double t,
		       double prev_t)
{
	double x = v[r->metric];

	if (!r->rate)
		return x;
	if (isnan(x) || isnan(prev[r->metric]) || !(t > prev_t) || x < prev[r->metric])
		return NAN; /* no earlier sample, or a counter that went back (reset) */
	return (x - prev[r->metric]) / (t - prev_t);
}

/* One step of one pair: `cond` says the condition holds now (to fire),
 * `keep` that a firing alert still holds; unknown = no change at all.
 * `seen` is when the value arrived: a condition's duration counts from the
 * frame that first met it, not from the pass that noticed. */
static void step(struct eval *e, const struct rule *r, struct slot *s, bool unknown, bool cond,
		 bool keep, double value, double seen, double now, const struct host *h,
		 const struct dom *d, const struct dev *dv, eval_notify_fn fn, void *ctx)
{
	struct alert_info a;
	double hold = r->kind == RULE_STALE ? 0 : r->for_s;

	e->st.pairs++;
	if (unknown)
		goto count;
	switch ((enum alert_state)s->state) {
	case ALERT_INACTIVE:
		if (!cond)
			break;
		s->state = ALERT_PENDING;
		s->since = seen > 0 && seen < now ? seen : now;
		/* A rule without "for" fires at once. */
		/* fall through */
	case ALERT_PENDING:
		if (!cond) {
			s->state = ALERT_INACTIVE;
			break;
		}
		s->value = value;
		if (now - s->since + 1e-6 < hold) {
			if (e->next_due == 0 || s->since + hold < e->next_due)
				e->next_due = s->since + hold;
			break;
		}
		s->state = ALERT_FIRING;
		s->since = now;
		e->st.fired++;
		describe(&a, r, s, h, d, dv);
		fn(ctx, &a);
		break;
	case ALERT_FIRING:
		if (keep) {
			s->value = value;
			break;
		}
		s->value = value;
		describe(&a, r, s, h, d, dv);
		a.state = ALERT_INACTIVE;
		a.ends_at = now;
		a.reason = "cleared";
		s->state = ALERT_INACTIVE;
		e->st.resolved++;
		fn(ctx, &a);
		break;
	}
count:
	e->st.pending += s->state == ALERT_PENDING;
	e->st.firing += s->state == ALERT_FIRING;
}

/* A metric-or-loss comparison step. */
static void step_value(struct eval *e, const struct rule *r, struct slot *s, double x, double seen,
		       double now, const struct host *h, const struct dom *d, const struct dev *dv,
		       eval_notify_fn fn, void *ctx)
{
	step(e, r, s, isnan(x), rule_holds(r, x, false), rule_holds(r, x, true), x, seen, now, h, d,
	     dv, fn, ctx);
}

static bool in_scope(const struct rule *r, const struct host *h, const struct dom *d)
{
	switch (r->scope) {
	case SCOPE_ALL:
		return true;
	case SCOPE_HOST:
		return strcmp(h->name, r->scope_value) == 0;
	case SCOPE_PROJECT:
		return d && strcmp(d->id.project_id, r->scope_value) == 0;
	case SCOPE_INSTANCE:
		return d && memcmp(d->uuid, r->scope_uuid, 16) == 0;
	}
	return false;
}

static void eval_devices(struct eval *e, const struct rule *r, struct slot *unused, struct dom *d,
			 double now, eval_notify_fn fn, void *ctx)
{
	bool disk = r->record == METRIC_OF_DISK;
	struct dev *devs = disk ? d->disks : d->nics;
	size_t n = disk ? d->ndisks : d->nnics;

	(void)unused;
	for (size_t i = 0; i < n; i++) {
		struct dev *dv = &devs[i];
		size_t ri = (size_t)(r - e->rules->rules);

		if (r->device[0] && strcmp(r->device, dv->name) != 0)
			continue;
		step_value(e, r, &dv->slots[ri], value_of(r, dv->v, dv->prev, dv->t, dv->prev_t),
			   d->seen, now, d->host, d, dv, fn, ctx);
	}
}

/* A domain no longer in a rule's scope: its alerts of that rule resolve. */
static void resolve_out_of_scope(struct eval *e, const struct rule *r, size_t ri, struct dom *d,
				 double now, eval_notify_fn fn, void *ctx)
{
	resolve_gone(e, r, &d->slots[ri], d->host, d, NULL, now, "out of scope", fn, ctx);
	for (size_t i = 0; i < d->ndisks; i++)
		resolve_gone(e, r, &d->disks[i].slots[ri], d->host, d, &d->disks[i], now,
			     "out of scope", fn, ctx);
	for (size_t i = 0; i < d->nnics; i++)
		resolve_gone(e, r, &d->nics[i].slots[ri], d->host, d, &d->nics[i], now,
			     "out of scope", fn, ctx);
}

static void eval_domain(struct eval *e, struct dom *d, double now, eval_notify_fn fn, void *ctx)
{
	for (size_t ri = 0; ri < e->rules->n; ri++) {
		const struct rule *r = &e->rules->rules[ri];
		struct slot *s = &d->slots[ri];

		if (rule_is_node(r))
			continue;
		if (!in_scope(r, d->host, d)) { /* its project became known, or changed */
			resolve_out_of_scope(e, r, ri, d, now, fn, ctx);
			continue;
		}
		if (r->kind == RULE_STALE) {
			bool stale = now - d->fresh > r->for_s;

			step(e, r, s, false, stale, stale || !d->heard, now - d->fresh, now, now,
			     d->host, d, NULL, fn, ctx);
		} else if (r->record == METRIC_OF_DOMAIN) {
			step_value(e, r, s, value_of(r, d->v, d->prev, d->t, d->prev_t), d->seen,
				   now, d->host, d, NULL, fn, ctx);
		} else {
			eval_devices(e, r, s, d, now, fn, ctx);
		}
	}
}

static void eval_host(struct eval *e, struct host *h, double now, eval_notify_fn fn, void *ctx)
{
	for (size_t ri = 0; ri < e->rules->n; ri++) {
		const struct rule *r = &e->rules->rules[ri];
		struct slot *s = &h->slots[ri];
		bool down;

		if (!rule_is_node(r) || !in_scope(r, h, NULL))
			continue;
		switch (r->kind) {
		case RULE_STALE:
			down = now - h->last > r->for_s;
			step(e, r, s, false, down, down || !h->heard, now - h->last, now, now, h,
			     NULL, NULL, fn, ctx);
			break;
		case RULE_LIBVIRT_DOWN:
			step(e, r, s, !h->heard, !h->libvirt_ok, !h->libvirt_ok,
			     h->libvirt_ok ? 0 : 1, h->last, now, h, NULL, NULL, fn, ctx);
			break;
		case RULE_FRAME_LOSS:
			step_value(e, r, s, h->loss_pct, now, now, h, NULL, NULL, fn, ctx);
			break;
		case RULE_METRIC:
			step_value(e, r, s, value_of(r, h->v, h->prev, h->t, h->prev_t), h->last,
				   now, h, NULL, NULL, fn, ctx);
			break;
		}
	}
}

/* Frame loss over about the last LOSS_WINDOW seconds. */
static void update_loss(struct host *h, double dt)
{
	double keep = dt > 0 ? exp(-dt / LOSS_WINDOW) : 1;

	h->recv_w = h->recv_w * keep + (double)h->recv_new;
	h->lost_w = h->lost_w * keep + (double)h->lost_new;
	h->recv_new = h->lost_new = 0;
	h->loss_pct =
	    h->recv_w + h->lost_w > 0.5 ? 100.0 * h->lost_w / (h->recv_w + h->lost_w) : NAN;
}

void eval_tick(struct eval *e, double now, double forget_after, eval_notify_fn fn, void *ctx)
{
	double dt = e->last_tick > 0 ? now - e->last_tick : 0;

	e->last_tick = now;
	e->next_due = 0;
	e->st.pairs = e->st.pending = e->st.firing = 0;
	for (size_t b = 0; b < HOST_BUCKETS; b++) {
		struct host *h = e->hosts[b], *next;

		for (; h; h = next) {
			next = h->bucket_next;
			if (forget_after > 0 && now - h->last > forget_after) {
				host_remove(e, h, now, fn, ctx);
				continue;
			}
			update_loss(h, dt);
			eval_host(e, h, now, fn, ctx);
			for (struct dom *d = h->doms; d; d = d->next_on_host)
				eval_domain(e, d, now, fn, ctx);
		}
	}
}

/* ---- iteration, restore ------------------------------------------------------------ */

static void each_slot(const struct eval *e, struct slot *slots, const struct host *h,
		      const struct dom *d, const struct dev *dv, eval_notify_fn fn, void *ctx)
{
	struct alert_info a;

	for (size_t r = 0; r < e->rules->n; r++)
		if (slots[r].state != ALERT_INACTIVE) {
			describe(&a, &e->rules->rules[r], &slots[r], h, d, dv);
			fn(ctx, &a);
		}
}

void eval_foreach(const struct eval *e, eval_notify_fn fn, void *ctx)
{
	for (size_t b = 0; b < HOST_BUCKETS; b++)
		for (struct host *h = e->hosts[b]; h; h = h->bucket_next) {
			each_slot(e, h->slots, h, NULL, NULL, fn, ctx);
			for (struct dom *d = h->doms; d; d = d->next_on_host) {
				each_slot(e, d->slots, h, d, NULL, fn, ctx);
				for (size_t i = 0; i < d->ndisks; i++)
					each_slot(e, d->disks[i].slots, h, d, &d->disks[i], fn,
						  ctx);
				for (size_t i = 0; i < d->nnics; i++)
					each_slot(e, d->nics[i].slots, h, d, &d->nics[i], fn, ctx);
			}
		}
}

void eval_foreach_host(const struct eval *e, void (*fn)(void *ctx, const char *host, double last),
		       void *ctx)
{
	for (size_t b = 0; b < HOST_BUCKETS; b++)
		for (struct host *h = e->hosts[b]; h; h = h->bucket_next)
			fn(ctx, h->name, h->last);
}

int eval_restore_host(struct eval *e, const char *host, double now)
{
	if (!sm_wire_host_valid(host))
		return -1;
	return host_get(e, host, now) ? 0 : -1;
}

/* The device `name` of d's disks or interfaces, added when missing. */
static struct dev *dev_restore(struct eval *e, struct dom *d, bool disk, const char *name)
{
	struct dev **devs = disk ? &d->disks : &d->nics;
	size_t *n = disk ? &d->ndisks : &d->nnics;
	struct dev *grown;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*devs)[i].name, name) == 0)
			return &(*devs)[i];
	grown = realloc(*devs, (*n + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	*devs = grown;
	memset(&grown[*n], 0, sizeof(grown[*n]));
	snprintf(grown[*n].name, sizeof(grown[*n].name), "%s", name);
	fill_nan(grown[*n].v, METRIC_DEVICE_MAX_N);
	fill_nan(grown[*n].prev, METRIC_DEVICE_MAX_N);
	grown[*n].slots = slots_new(e->rules->n);
	if (!grown[*n].slots)
		return NULL;
	e->st.devices++;
	return &grown[(*n)++];
}

int eval_restore_pair(struct eval *e, const struct alert_info *a, double now)
{
	const struct rule *r = NULL;
	struct host *h;
	struct dom *d = NULL;
	struct dev *dv = NULL;
	struct slot *s;
	uint8_t uuid[16];
	size_t ri;

	for (ri = 0; ri < e->rules->n && !r; ri++)
		if (strcmp(e->rules->rules[ri].name, a->rule->name) == 0 &&
		    strcmp(e->rules->rules[ri].expr, a->rule->expr) == 0)
			r = &e->rules->rules[ri];
	if (!r || !sm_wire_host_valid(a->host) || a->is_domain == rule_is_node(r))
		return -1;
	ri--;
	h = host_get(e, a->host, now);
	if (!h)
		return -1;
	s = &h->slots[ri];
	if (a->is_domain) {
		if (sm_uuid_parse(a->uuid, uuid) < 0)
			return -1;
		d = dom_get(e, h, uuid);
		if (!d)
			return -1;
		if (!d->heard) {
			snprintf(d->name, sizeof(d->name), "%s", a->domain);
			snprintf(d->id.display_name, sizeof(d->id.display_name), "%s",
				 a->display_name);
			snprintf(d->id.project_id, sizeof(d->id.project_id), "%s", a->project_id);
			snprintf(d->id.project_name, sizeof(d->id.project_name), "%s",
				 a->project_name);
			d->fresh = now;
		}
		s = &d->slots[ri];
		if (r->record == METRIC_OF_DISK || r->record == METRIC_OF_NIC) {
			if (!a->device[0] || strlen(a->device) > SM_DEV_MAX)
				return -1;
			dv = dev_restore(e, d, r->record == METRIC_OF_DISK, a->device);
			if (!dv)
				return -1;
			s = &dv->slots[ri];
		}
	}
	s->state = (uint8_t)a->state;
	s->since = a->since;
	s->value = a->value;
	return 0;
}

double eval_next_due(const struct eval *e)
{
	return e->next_due;
}

void eval_get_stats(const struct eval *e, struct eval_stats *out)
{
	*out = e->st;
}
