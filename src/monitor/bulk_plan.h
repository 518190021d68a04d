/*
 * bulk_plan — what a bulk pass (virConnectGetAllDomainStats) asks libvirt
 * for, and what it reads another way because that costs QEMU less:
 *  - CPU figures of local QEMU domains from the kernel (qemu_proc), not the
 *    cpu-total and vcpu groups, each a monitor command to every QEMU;
 *  - the counters of a domain's only disk by a virDomainBlockStats call of
 *    its own (one monitor command, query-blockstats, about 1.7 ms of QEMU
 *    CPU), not the block group (query-blockstats and
 *    query-named-block-nodes, about 2.7 ms); domains with more disks, or
 *    whose disks are not known yet, get the block group in a second bulk
 *    call of their own.
 * Those per-domain calls are serial, so they are used only while they take
 * less than a budget (a quarter of the interval) per pass. Sampler thread only.
 */
#ifndef BULK_PLAN_H
#define BULK_PLAN_H

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>

#include "dom_table.h"
#include "qemu_proc.h"

/* Every group the monitor uses: what a first sample of new domains asks. */
#define BULK_PLAN_ALL_GROUPS                                                                \
	(VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |    \
	 VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK)

struct bulk_plan; /* opaque */

/* A plan that asks for everything until told otherwise; NULL when out of
 * memory. `budget_ns`: the most the per-domain disk calls of a pass may take
 * (0: never use them). */
struct bulk_plan *bulk_plan_new(int64_t budget_ns);

/* Changes the budget of bulk_plan_new. */
void bulk_plan_set_budget(struct bulk_plan *p, int64_t budget_ns);

/* Frees the plan and nulls *p. NULL-safe. */
void bulk_plan_destroy(struct bulk_plan **p);

/* Whether the connection's domains are QEMU processes of this host, whose
 * CPU figures the kernel publishes (false: always ask libvirt). */
void bulk_plan_set_kernel(struct bulk_plan *p, bool local_qemu);

/*
 * The groups for this pass's bulk call (VIR_DOMAIN_STATS_*), from what the
 * table's domains need: `with_memory` adds the balloon group. Remembers what
 * it left out for the bulk_plan_*_asked predicates until the next call.
 */
unsigned int bulk_plan_groups(struct bulk_plan *p, const struct dom_table *t, bool with_memory);

/* For a call that asks every group (a first sample of new domains): the
 * predicates below say so until the next bulk_plan_groups. */
void bulk_plan_ask_all(struct bulk_plan *p);

/* Whether this pass's bulk call has the CPU groups / the block group. */
bool bulk_plan_cpu_asked(const struct bulk_plan *p);
bool bulk_plan_block_asked(const struct bulk_plan *p);

/* Finds the QEMU process of each tracked domain not looked for yet, with
 * one scan of /proc (nothing when the connection is not local QEMU). */
void bulk_plan_find_processes(struct bulk_plan *p, struct dom_table *t);

/* e's CPU figures from the kernel: true, or false when it has none (QEMU
 * gone or restarted: it is looked for again on the next pass). */
bool bulk_plan_kernel_cpu(struct dom_entry *e, struct qemu_proc_cpu *k);

/* In a pass without the block group: whether e's disk counters come from
 * a call of its own (its devices are known and it has at most one disk)
 * rather than from the second bulk call with the block group. */
bool bulk_plan_disk_alone(const struct dom_entry *e);

/* After the pass: how long its per-domain disk calls took in all. Over the
 * budget, the block group is used for everyone for the next 60 passes. */
void bulk_plan_note_alone_ns(struct bulk_plan *p, int64_t ns);

#endif
