/*
 * dom_tracker — DomainStatTracker (see dom_tracker.h). The tracker's
 * sm_domain_stats doubles as the previous sample: its counters are what the
 * next sample's deltas are taken against, so no second copy is kept.
 */
#include "dom_tracker.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sm_utf8.h"

/* Averaging periods of the three load averages, in seconds (as Unix). */
static const double load_periods[3] = {60.0, 300.0, 900.0};

struct dom_tracker {
	struct sm_domain_stats stats; /* latest DomainStats; counters = previous sample */
	size_t disks_cap;             /* allocated entries of stats.disks */
	size_t nics_cap;              /* allocated entries of stats.nics */
	bool have_prev;               /* a baseline sample exists */
	int64_t prev_ns;              /* monotonic time of the baseline */
	bool prev_has_delay;          /* the baseline carried vcpu delay */
	uint64_t prev_delay_ns;       /* its summed vcpu delay */
	uint64_t samples;             /* samples since creation or reset */
	double span_s;                /* seconds the current rates cover */
	double carry_s;               /* seconds of rates the next sample must cover too */
	struct dom_load load;         /* behind stats.load */
};

void dom_mem_set(struct dom_mem_sample *m, enum dom_mem_have which, uint64_t kib)
{
	switch (which) {
	case DOM_MEM_AVAILABLE:
		m->available_kib = kib;
		break;
	case DOM_MEM_UNUSED:
		m->unused_kib = kib;
		break;
	case DOM_MEM_USABLE:
		m->usable_kib = kib;
		break;
	case DOM_MEM_RSS:
		m->rss_kib = kib;
		break;
	case DOM_MEM_CURRENT:
		m->current_kib = kib;
		break;
	case DOM_MEM_MAXIMUM:
		m->maximum_kib = kib;
		break;
	default:
		return;
	}
	m->have |= which;
}

void dom_mem_fill_from(struct dom_mem_sample *m, const struct dom_mem_sample *older)
{
	static const struct {
		enum dom_mem_have which;
		size_t offset;
	} fields[] = {
	    {DOM_MEM_AVAILABLE, offsetof(struct dom_mem_sample, available_kib)},
	    {DOM_MEM_UNUSED, offsetof(struct dom_mem_sample, unused_kib)},
	    {DOM_MEM_USABLE, offsetof(struct dom_mem_sample, usable_kib)},
	    {DOM_MEM_RSS, offsetof(struct dom_mem_sample, rss_kib)},
	    {DOM_MEM_CURRENT, offsetof(struct dom_mem_sample, current_kib)},
	    {DOM_MEM_MAXIMUM, offsetof(struct dom_mem_sample, maximum_kib)},
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint64_t kib;

		if ((m->have & fields[i].which) || !(older->have & fields[i].which))
			continue;
		memcpy(&kib, (const char *)older + fields[i].offset, sizeof(kib));
		dom_mem_set(m, fields[i].which, kib);
	}
}

double dom_rate_merge(double older, double older_s, double newer, double newer_s)
{
	if (!(older_s > 0) || isnan(older) || isnan(newer) || !(newer_s > 0))
		return newer;
	return (older * older_s + newer * newer_s) / (older_s + newer_s);
}

double dom_rate(uint64_t prev, uint64_t cur, double dt_s)
{
	if (!(dt_s > 0) || cur < prev)
		return NAN;
	return (double)(cur - prev) / dt_s;
}

double dom_cpu_pct(uint64_t prev_ns, uint64_t cur_ns, double dt_s, uint32_t vcpus)
{
	double pct;

	if (!(dt_s > 0) || vcpus == 0 || cur_ns < prev_ns)
		return NAN;
	pct = (double)(cur_ns - prev_ns) / 1e9 / dt_s / vcpus * 100.0;
	return pct > 100.0 ? 100.0 : pct;
}

/* Damping factors of the 1, 5 and 15 minute averages for a sample every dt_s seconds. */
static void dom_load_factors(double dt_s, double f[3])
{
	for (int i = 0; i < 3; i++)
		f[i] = exp(-dt_s / load_periods[i]);
}

void dom_load_reset(struct dom_load *l)
{
	*l = (struct dom_load){{0, 0, 0}, {0, 0, 0}};
}

void dom_load_update(struct dom_load *l, double inst, double dt_s, double avg[3])
{
	double f[3];

	if (!isnan(inst) && dt_s > 0) {
		dom_load_factors(dt_s, f);
		for (int i = 0; i < 3; i++) {
			l->damped[i] = l->damped[i] * f[i] + inst * (1.0 - f[i]);
			l->seen[i] = l->seen[i] * f[i] + (1.0 - f[i]);
		}
	}
	for (int i = 0; i < 3; i++)
		avg[i] = l->seen[i] > 0 ? l->damped[i] / l->seen[i] : NAN;
}

enum sm_mem_basis dom_mem_basis_choose(const struct dom_mem_sample *m, uint64_t *used_kib,
				       uint64_t *total_kib)
{
	uint32_t h = m->have;
	uint64_t free_kib;
	enum sm_mem_basis basis = SM_MEM_NONE;

	*used_kib = *total_kib = 0;
	/* The guest's own view is the only one that reflects what its OS uses;
	 * "usable" (Linux MemAvailable) beats "unused" (MemFree), which counts
	 * reclaimable page cache as used. */
	if ((h & DOM_MEM_AVAILABLE) && m->available_kib > 0 &&
	    (h & (DOM_MEM_USABLE | DOM_MEM_UNUSED))) {
		if (h & DOM_MEM_USABLE) {
			free_kib = m->usable_kib;
			basis = SM_MEM_GUEST_USABLE;
		} else {
			free_kib = m->unused_kib;
			basis = SM_MEM_GUEST_UNUSED;
		}
		*total_kib = m->available_kib;
		*used_kib = free_kib >= m->available_kib ? 0 : m->available_kib - free_kib;
	} else if ((h & DOM_MEM_RSS) && (h & DOM_MEM_CURRENT) && m->current_kib > 0) {
		/* Without a guest agent, the pages the hypervisor process holds are
		 * the best measure of what the guest has touched. */
		*total_kib = m->current_kib;
		*used_kib = m->rss_kib;
		basis = SM_MEM_HOST_RSS;
	} else if ((h & DOM_MEM_CURRENT) && (h & DOM_MEM_MAXIMUM) && m->maximum_kib > 0) {
		*total_kib = m->maximum_kib;
		*used_kib = m->current_kib;
		basis = SM_MEM_HOST_ALLOC;
	}
	return basis;
}

double dom_mem_pct(enum sm_mem_basis basis, uint64_t used_kib, uint64_t total_kib)
{
	double pct;

	if (total_kib == 0 || basis == SM_MEM_NONE || basis == SM_MEM_HOST_RSS)
		return NAN;
	pct = (double)used_kib / (double)total_kib * 100.0;
	return pct > 100.0 ? 100.0 : pct;
}

struct dom_tracker *dom_tracker_new(const uint8_t uuid[16], const char *name)
{
	struct dom_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	memcpy(t->stats.uuid, uuid, 16);
	dom_tracker_set_name(t, name);
	dom_tracker_reset(t);
	return t;
}

void dom_tracker_destroy(struct dom_tracker **t)
{
	if (!t || !*t)
		return;
	free((*t)->stats.disks);
	free((*t)->stats.nics);
	free(*t);
	*t = NULL;
}

const uint8_t *dom_tracker_uuid(const struct dom_tracker *t)
{
	return t->stats.uuid;
}

void dom_tracker_set_name(struct dom_tracker *t, const char *name)
{
	if (!name)
		name = "";
	sm_utf8_sanitize(t->stats.name, sizeof(t->stats.name), name, strlen(name));
}

void dom_tracker_set_identity(struct dom_tracker *t, const struct sm_identity *id)
{
	if (id) {
		t->stats.identity = *id;
		t->stats.has_identity = true;
		t->stats.flags |= SM_DOM_NOVA;
	} else {
		memset(&t->stats.identity, 0, sizeof(t->stats.identity));
		t->stats.has_identity = false;
		t->stats.flags &= ~(uint32_t)SM_DOM_NOVA;
	}
}

void dom_tracker_reset(struct dom_tracker *t)
{
	struct sm_domain_stats *st = &t->stats;

	t->have_prev = false;
	t->prev_has_delay = false;
	t->samples = 0;
	t->span_s = t->carry_s = 0.0;
	st->cpu_pct = st->steal_pct = NAN;
	st->load[0] = st->load[1] = st->load[2] = NAN;
	dom_load_reset(&t->load);
	st->mem_pct = NAN;
	/* Without a baseline every device is "new": its rates become NaN. */
	st->ndisks = 0;
	st->nnics = 0;
}

/* Makes room for n disk entries (n nic entries); 0 or -1. Typed twins rather
 * than one void ** helper, which would alias pointers of different types. */
static int grow_disks(struct dom_tracker *t, size_t n)
{
	struct sm_disk_stats *p;

	if (n <= t->disks_cap)
		return 0;
	p = realloc(t->stats.disks, n * sizeof(*p));
	if (!p)
		return -1;
	t->stats.disks = p;
	t->disks_cap = n;
	return 0;
}

static int grow_nics(struct dom_tracker *t, size_t n)
{
	struct sm_nic_stats *p;

	if (n <= t->nics_cap)
		return 0;
	p = realloc(t->stats.nics, n * sizeof(*p));
	if (!p)
		return -1;
	t->stats.nics = p;
	t->nics_cap = n;
	return 0;
}

/* A domain reports at most SM_WIRE_MAX_DEVICES disks (or nics); more are dropped. */
static size_t devices_bounded(size_t n)
{
	return n > SM_WIRE_MAX_DEVICES ? SM_WIRE_MAX_DEVICES : n;
}

/* Index of the previous entry named `name`; the same index is tried first
 * because devices rarely move. Returns n when none. */
static size_t find_dev(const char *base, size_t stride, size_t n, size_t hint, const char *name)
{
	if (hint < n && strcmp(base + hint * stride, name) == 0)
		return hint;
	for (size_t i = 0; i < n; i++)
		if (strcmp(base + i * stride, name) == 0)
			return i;
	return n;
}

/* One device rate: the counter's rate over dt, merged with the rate `old_ps`
 * that no frame carried when `carry` > 0 (see dom_tracker_rates_missed). */
static double device_rate(double old_ps, double carry, uint64_t prev, uint64_t cur, double dt)
{
	return dom_rate_merge(old_ps, carry, dom_rate(prev, cur, dt), dt);
}

/* Fills new disk entries' rates against the previous ones (held in `old`). */
static void disk_rates(struct sm_disk_stats *now, size_t n, const struct sm_disk_stats *old,
		       size_t nold, double dt, double carry)
{
	for (size_t i = 0; i < n; i++) {
		struct sm_disk_stats *d = &now[i];
		size_t j = find_dev((const char *)old, sizeof(*old), nold, i, d->name);
		const struct sm_disk_stats *o = j < nold ? &old[j] : NULL;

		/* New, or re-created (hot-plug, restart: its counters went
		 * back): none of its rates is meaningful this tick. */
		if (!o || d->rd_req < o->rd_req || d->rd_bytes < o->rd_bytes ||
		    d->wr_req < o->wr_req || d->wr_bytes < o->wr_bytes) {
			d->rd_req_ps = d->rd_bytes_ps = d->wr_req_ps = d->wr_bytes_ps = NAN;
			continue;
		}
		d->rd_req_ps = device_rate(o->rd_req_ps, carry, o->rd_req, d->rd_req, dt);
		d->rd_bytes_ps = device_rate(o->rd_bytes_ps, carry, o->rd_bytes, d->rd_bytes, dt);
		d->wr_req_ps = device_rate(o->wr_req_ps, carry, o->wr_req, d->wr_req, dt);
		d->wr_bytes_ps = device_rate(o->wr_bytes_ps, carry, o->wr_bytes, d->wr_bytes, dt);
	}
}

static void nic_rates(struct sm_nic_stats *now, size_t n, const struct sm_nic_stats *old,
		      size_t nold, double dt, double carry)
{
	for (size_t i = 0; i < n; i++) {
		struct sm_nic_stats *d = &now[i];
		size_t j = find_dev((const char *)old, sizeof(*old), nold, i, d->name);
		const struct sm_nic_stats *o = j < nold ? &old[j] : NULL;

		if (!o || d->rx_bytes < o->rx_bytes || d->rx_packets < o->rx_packets ||
		    d->tx_bytes < o->tx_bytes || d->tx_packets < o->tx_packets) {
			d->rx_bytes_ps = d->rx_packets_ps = d->tx_bytes_ps = d->tx_packets_ps = NAN;
			continue;
		}
		d->rx_bytes_ps = device_rate(o->rx_bytes_ps, carry, o->rx_bytes, d->rx_bytes, dt);
		d->rx_packets_ps =
		    device_rate(o->rx_packets_ps, carry, o->rx_packets, d->rx_packets, dt);
		d->tx_bytes_ps = device_rate(o->tx_bytes_ps, carry, o->tx_bytes, d->tx_bytes, dt);
		d->tx_packets_ps =
		    device_rate(o->tx_packets_ps, carry, o->tx_packets, d->tx_packets, dt);
	}
}

/*
 * Device arrays are replaced by the sample's. The old entries are needed
 * for the deltas, so the new ones are first built in a scratch copy at the
 * end of the same allocation (old + new entries, grown by the caller) — a
 * realloc only when a domain gains devices, none in the steady state.
 */
static void update_disks(struct dom_tracker *t, const struct dom_sample *s, double dt,
			 double carry)
{
	struct sm_domain_stats *st = &t->stats;
	size_t n = devices_bounded(s->ndisks);
	struct sm_disk_stats *scratch;

	if (n == 0) { /* the array may not exist yet */
		st->ndisks = 0;
		return;
	}
	scratch = st->disks + st->ndisks;
	for (size_t i = 0; i < n; i++) {
		scratch[i] = s->disks[i];
		/* A name equal to last tick's (already clean) needs no second look. */
		if (i < st->ndisks && strncmp(s->disks[i].name, st->disks[i].name, SM_DEV_MAX + 1) == 0)
			continue;
		sm_utf8_sanitize(scratch[i].name, sizeof(scratch[i].name), s->disks[i].name,
				 strnlen(s->disks[i].name, sizeof(s->disks[i].name)));
	}
	disk_rates(scratch, n, st->disks, st->ndisks, dt, carry);
	memmove(st->disks, scratch, n * sizeof(*scratch));
	st->ndisks = n;
}

static void update_nics(struct dom_tracker *t, const struct dom_sample *s, double dt,
			double carry)
{
	struct sm_domain_stats *st = &t->stats;
	size_t n = devices_bounded(s->nnics);
	struct sm_nic_stats *scratch;

	if (n == 0) { /* the array may not exist yet */
		st->nnics = 0;
		return;
	}
	scratch = st->nics + st->nnics;
	for (size_t i = 0; i < n; i++) {
		scratch[i] = s->nics[i];
		/* A name equal to last tick's (already clean) needs no second look. */
		if (i < st->nnics && strncmp(s->nics[i].name, st->nics[i].name, SM_DEV_MAX + 1) == 0)
			continue;
		sm_utf8_sanitize(scratch[i].name, sizeof(scratch[i].name), s->nics[i].name,
				 strnlen(s->nics[i].name, sizeof(s->nics[i].name)));
	}
	nic_rates(scratch, n, st->nics, st->nnics, dt, carry);
	memmove(st->nics, scratch, n * sizeof(*scratch));
	st->nnics = n;
}

int dom_tracker_update(struct dom_tracker *t, const struct dom_sample *s)
{
	struct sm_domain_stats *st = &t->stats;
	double dt = t->have_prev ? (double)(s->mono_ns - t->prev_ns) / 1e9 : NAN;
	/* Rates no frame carried (dom_tracker_rates_missed): the new rates
	 * cover their span too. */
	double carry = t->carry_s;
	double busy = NAN, waiting = 0.0, inst;
	uint64_t used, total;

	/* Devices first: they are the only step that can fail, and on failure
	 * the tracker must stay as it was. When there is no baseline, dt is NaN
	 * and every rate comes out NaN. */
	if (!t->have_prev) {
		st->ndisks = 0;
		st->nnics = 0;
	}
	if (grow_disks(t, st->ndisks + devices_bounded(s->ndisks)) < 0 ||
	    grow_nics(t, st->nnics + devices_bounded(s->nnics)) < 0)
		return -1;
	update_disks(t, s, dt, carry);
	update_nics(t, s, dt, carry);

	st->state = s->state;
	if (s->vcpus)
		st->vcpus = s->vcpus;
	if (s->has_cpu) {
		bool had_cpu = t->have_prev && st->cpu_time_ns <= s->cpu_time_ns;

		st->cpu_pct =
		    had_cpu ? dom_rate_merge(st->cpu_pct, carry,
					     dom_cpu_pct(st->cpu_time_ns, s->cpu_time_ns, dt, st->vcpus),
					     dt)
			    : NAN;
		st->cpu_time_ns = s->cpu_time_ns;
	} else {
		st->cpu_pct = NAN;
	}
	if (s->has_delay && t->prev_has_delay && t->have_prev) {
		st->steal_pct = dom_rate_merge(
		    st->steal_pct, carry, dom_cpu_pct(t->prev_delay_ns, s->delay_ns, dt, st->vcpus),
		    dt);
	} else {
		st->steal_pct = NAN;
	}
	t->prev_has_delay = s->has_delay;
	t->prev_delay_ns = s->delay_ns;

	/* Instantaneous load, in vCPUs: those running plus those runnable but
	 * waiting for a host CPU (steal), as Unix counts running + runnable. */
	if (!isnan(st->cpu_pct))
		busy = st->cpu_pct / 100.0 * st->vcpus;
	if (!isnan(st->steal_pct))
		waiting = st->steal_pct / 100.0 * st->vcpus;
	inst = isnan(busy) ? NAN : busy + waiting;
	dom_load_update(&t->load, inst, dt, st->load);

	st->mem_basis = dom_mem_basis_choose(&s->mem, &used, &total);
	st->mem_used_kib = used;
	st->mem_total_kib = total;
	st->mem_pct = dom_mem_pct(st->mem_basis, used, total);

	t->have_prev = true;
	t->prev_ns = s->mono_ns;
	t->samples++;
	t->span_s = carry + (isnan(dt) ? 0.0 : dt);
	t->carry_s = 0.0;
	return 0;
}

void dom_tracker_rates_missed(struct dom_tracker *t)
{
	t->carry_s = t->span_s;
}

const struct sm_domain_stats *dom_tracker_stats(const struct dom_tracker *t)
{
	return &t->stats;
}

int64_t dom_tracker_sample_ns(const struct dom_tracker *t)
{
	return t->have_prev ? t->prev_ns : 0;
}

uint64_t dom_tracker_samples(const struct dom_tracker *t)
{
	return t->samples;
}
