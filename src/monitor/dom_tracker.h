/*
 * dom_tracker — the seed's DomainStatTracker: one per active domain. It keeps
 * the previous sample of a domain's cumulative counters and turns each new
 * sample into a DomainStats (struct sm_domain_stats): utilisation and rates
 * over the wall time between samples, damped load averages, memory use with
 * the basis it was measured on. The arithmetic is in pure functions below so
 * that it can be tested without libvirt. Invariant: a rate is never negative
 * and never computed across a counter reset — it is NaN for that tick.
 */
#ifndef DOM_TRACKER_H
#define DOM_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sm_wire.h"

/* Bits of dom_mem_sample.have: which memory figures libvirt gave. */
enum dom_mem_have {
	DOM_MEM_AVAILABLE = 1u << 0, /* balloon: memory the guest OS sees */
	DOM_MEM_UNUSED = 1u << 1,    /* balloon: memory the guest leaves completely unused */
	DOM_MEM_USABLE = 1u << 2,    /* balloon: memory the guest could use without swapping */
	DOM_MEM_RSS = 1u << 3,       /* host: resident set of the hypervisor process */
	DOM_MEM_CURRENT = 1u << 4,   /* host: current balloon size (allocation) */
	DOM_MEM_MAXIMUM = 1u << 5,   /* host: maximum allocation */
};

/* Memory figures of one sample, in KiB. Only fields flagged in `have` are meaningful. */
struct dom_mem_sample {
	uint32_t have; /* enum dom_mem_have bits */
	uint64_t available_kib, unused_kib, usable_kib, rss_kib, current_kib, maximum_kib;
};

/* Records one figure: sets the field `which` names and flags it in `have`
 * (both sampling paths, bulk and per domain, go through here). */
void dom_mem_set(struct dom_mem_sample *m, enum dom_mem_have which, uint64_t kib);

/* Fills the figures `m` lacks from `older` (a previous read of the same
 * domain), keeping every figure `m` has: a pass that does not ask for the
 * guest's memory statistics still reports the last ones read. */
void dom_mem_fill_from(struct dom_mem_sample *m, const struct dom_mem_sample *older);

/*
 * One raw sample of a domain, as gathered from libvirt. Counters are
 * cumulative. The disks/nics arrays are borrowed for the call only; only
 * their names and counters are read (the rate fields are ignored).
 */
struct dom_sample {
	int64_t mono_ns;      /* CLOCK_MONOTONIC time of the sample */
	uint32_t state;       /* virDomainState */
	uint32_t vcpus;       /* vCPUs online in the domain (0 = unknown) */
	bool has_cpu;         /* cpu_time_ns is meaningful */
	uint64_t cpu_time_ns; /* CPU time of the whole domain */
	bool has_delay;       /* delay_ns is meaningful (bulk stats vcpu.N.delay) */
	uint64_t delay_ns;    /* sum over vCPUs of time spent runnable but not running */
	struct dom_mem_sample mem;
	size_t ndisks;
	const struct sm_disk_stats *disks;
	size_t nnics;
	const struct sm_nic_stats *nics;
};

/* ---- Pure arithmetic (no state, no libvirt) --------------------------- */

/* Per-second rate of a cumulative counter; NaN when the counter went
 * backwards (reset) or dt_s is not positive. */
double dom_rate(uint64_t prev, uint64_t cur, double dt_s);

/* The rate over two back-to-back spans, `older` over older_s seconds then
 * `newer` over newer_s: their time-weighted mean. `newer` alone when there
 * is no older span (older_s 0) or either rate is unknown (NaN). */
double dom_rate_merge(double older, double older_s, double newer, double newer_s);

/* Share, 0..100, of `vcpus` CPUs used by a CPU-time counter (ns) growing
 * from prev_ns to cur_ns over dt_s wall seconds. NaN when the counter went
 * backwards, dt_s <= 0 or vcpus == 0. Clamped to 0..100 (sampling jitter can
 * otherwise overshoot by a little). */
double dom_cpu_pct(uint64_t prev_ns, uint64_t cur_ns, double dt_s, uint32_t vcpus);

/* The 1/5/15-minute load averages of one domain, as Unix damps them
 * (avg = avg*f + inst*(1-f), f = exp(-dt/period)), but started from
 * nothing rather than from a guess: `damped` starts at 0 and `seen` is the
 * share of each window the samples so far cover (1 - exp(-elapsed/period)).
 * The average reported is damped/seen: for a history much longer than the
 * period it is the Unix figure; for a shorter one it is the exponentially
 * weighted mean of the samples seen, so one unusual first second counts
 * for one second, not for the whole 15 minutes (as seeding did), and a new
 * domain does not ramp up from zero either. */
struct dom_load {
	double damped[3];
	double seen[3];
};

/* Forgets every sample: the averages are unknown (NaN) until the next. */
void dom_load_reset(struct dom_load *l);

/* Adds the instantaneous load `inst` (vCPUs busy plus vCPUs waiting for a
 * host CPU) measured over the last dt_s seconds and writes the three
 * averages to avg. A NaN `inst` or dt_s <= 0 (or NaN) adds nothing; avg is
 * NaN while nothing has been added. */
void dom_load_update(struct dom_load *l, double inst, double dt_s, double avg[3]);

/* Chooses the best memory basis available in `m` and computes used/total:
 * guest's view from balloon stats (available - usable, else available -
 * unused), else the host's view (rss / current allocation, else current /
 * maximum). Returns the basis (SM_MEM_NONE when nothing is known: used and
 * total are then 0). */
enum sm_mem_basis dom_mem_basis_choose(const struct dom_mem_sample *m, uint64_t *used_kib,
				       uint64_t *total_kib);

/* used/total as 0..100 (clamped); NaN when total is 0, and for host_rss:
 * QEMU's RSS holds QEMU's own memory too (142-226 MiB for a 128 MiB guest
 * while it boots), so set against the guest's allocation it read 100 % for
 * every booting guest. Its used and total are still published, as they are. */
double dom_mem_pct(enum sm_mem_basis basis, uint64_t used_kib, uint64_t total_kib);

/* ---- The tracker ------------------------------------------------------ */

struct dom_tracker; /* opaque */

/* A tracker for the domain `uuid` named `name` (sanitised and truncated to
 * SM_NAME_MAX). Returns NULL on allocation failure. */
struct dom_tracker *dom_tracker_new(const uint8_t uuid[16], const char *name);
/* Frees the tracker and its device arrays; nulls *t. NULL-safe. */
void dom_tracker_destroy(struct dom_tracker **t);

const uint8_t *dom_tracker_uuid(const struct dom_tracker *t);
/* Renames (a renamed domain keeps its tracker and history). */
void dom_tracker_set_name(struct dom_tracker *t, const char *name);
/* Sets the Nova identity (copied; strings must already be sanitised), or
 * clears it when id is NULL. */
void dom_tracker_set_identity(struct dom_tracker *t, const struct sm_identity *id);

/* Folds a new sample into the tracker: the stats now describe the interval
 * from the previous sample to this one. The first sample only sets the
 * baseline (utilisation and rates are NaN). Returns 0, or -1 when the device
 * arrays could not be grown (the previous stats are kept). */
int dom_tracker_update(struct dom_tracker *t, const struct dom_sample *s);

/* Forgets the previous counters, so the next sample is a new baseline (used
 * when the domain was restarted under the same UUID). */
void dom_tracker_reset(struct dom_tracker *t);

/* The latest DomainStats; valid until the next update/destroy. flags holds
 * SM_DOM_NOVA when an identity is set; the caller adds SM_DOM_STALE. */
const struct sm_domain_stats *dom_tracker_stats(const struct dom_tracker *t);

/* CLOCK_MONOTONIC time of the latest sample folded in (0 before the
 * first): the time the counters of dom_tracker_stats were read. */
int64_t dom_tracker_sample_ns(const struct dom_tracker *t);

/* Number of samples folded in since creation or the last reset. */
uint64_t dom_tracker_samples(const struct dom_tracker *t);

/* The rates of the sample just applied will be in no frame: it came after
 * its frame had gone out (stale). The next sample's rates then cover its
 * span too (dom_rate_merge), so that a reader who skips stale frames still
 * counts every second once. */
void dom_tracker_rates_missed(struct dom_tracker *t);

#endif
