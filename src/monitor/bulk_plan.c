/*
 * bulk_plan — which statistics groups a bulk pass asks for (see
 * bulk_plan.h). The decisions are made from the table's entries at the start
 * of a pass; the process lookups and kernel reads happen here too, so that
 * the sampler only makes the calls.
 */
#include "bulk_plan.h"

#include <stdlib.h>
#include <string.h>

#include "dom_tracker.h"
#include "sm_log.h"

/* Passes the block group is used for everyone after the per-domain disk
 * calls of one pass overran the budget (then they are tried again). */
#define ALONE_PAUSE_PASSES 60

static const unsigned int cpu_groups = VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_VCPU;

struct bulk_plan {
	int64_t budget_ns; /* most the per-domain disk calls of a pass may take */
	bool local_qemu;   /* CPU figures may come from the kernel */
	unsigned pause;	   /* passes left with the block group for everyone */
	bool cpu_asked;	   /* this pass's bulk call has the CPU groups */
	bool block_asked;  /* ... and the block group */
	pid_t *pids;	   /* scratch of bulk_plan_find_processes */
	uint8_t (*uuids)[16];
	size_t cap;
};

struct bulk_plan *bulk_plan_new(int64_t budget_ns)
{
	struct bulk_plan *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->budget_ns = budget_ns;
	p->cpu_asked = p->block_asked = true;
	return p;
}

void bulk_plan_set_budget(struct bulk_plan *p, int64_t budget_ns)
{
	p->budget_ns = budget_ns;
}

void bulk_plan_destroy(struct bulk_plan **pp)
{
	struct bulk_plan *p = pp ? *pp : NULL;

	if (!p)
		return;
	free(p->pids);
	free(p->uuids);
	free(p);
	*pp = NULL;
}

void bulk_plan_set_kernel(struct bulk_plan *p, bool local_qemu)
{
	p->local_qemu = local_qemu;
}

bool bulk_plan_disk_alone(const struct dom_entry *e)
{
	return !e->need_devices && e->devices.ndisks <= 1;
}

unsigned int bulk_plan_groups(struct bulk_plan *p, const struct dom_table *t, bool with_memory)
{
	unsigned int groups = BULK_PLAN_ALL_GROUPS;
	size_t n = dom_table_count(t);
	bool any_alone = false;

	p->cpu_asked = !p->local_qemu;
	for (size_t i = 0; i < n; i++) {
		const struct dom_entry *e = dom_table_at(t, i);

		if (p->local_qemu && !e->kernel)
			p->cpu_asked = true;
		if (bulk_plan_disk_alone(e))
			any_alone = true;
	}
	p->block_asked = !any_alone || p->pause || p->budget_ns <= 0;
	if (p->pause)
		p->pause--;
	if (!with_memory)
		groups &= ~VIR_DOMAIN_STATS_BALLOON;
	if (!p->cpu_asked)
		groups &= ~cpu_groups;
	if (!p->block_asked)
		groups &= ~VIR_DOMAIN_STATS_BLOCK;
	return groups;
}

void bulk_plan_ask_all(struct bulk_plan *p)
{
	p->cpu_asked = p->block_asked = true;
}

bool bulk_plan_cpu_asked(const struct bulk_plan *p)
{
	return p->cpu_asked;
}

bool bulk_plan_block_asked(const struct bulk_plan *p)
{
	return p->block_asked;
}

void bulk_plan_note_alone_ns(struct bulk_plan *p, int64_t ns)
{
	if (ns <= p->budget_ns || p->block_asked)
		return;
	p->pause = ALONE_PAUSE_PASSES;
	sm_log_info("per-domain disk calls took %.0f ms, over the %.0f ms allowed: the block "
		    "group is asked for every domain for the next %d passes",
		    (double)ns / 1e6, (double)p->budget_ns / 1e6, ALONE_PAUSE_PASSES);
}

/* A domain whose process is not found (another pid namespace, /proc
 * hidden) is asked of libvirt until a refresh (SIGHUP or a lifecycle event
 * of its own) looks again. */
void bulk_plan_find_processes(struct bulk_plan *p, struct dom_table *t)
{
	static const char *const clock_name[] = {"its cgroup's cpu.stat",
						 "its cgroup's cpuacct.usage", "/proc/PID/stat"};
	size_t n = 0, count = dom_table_count(t);

	if (!p->local_qemu)
		return;
	for (size_t i = 0; i < count; i++) {
		struct dom_entry *e = dom_table_at(t, i);

		if (e->kernel_looked)
			continue;
		if (n == p->cap) {
			size_t cap = n ? n * 2 : 64;
			pid_t *pids = realloc(p->pids, cap * sizeof(*pids));
			uint8_t(*uuids)[16] = pids ? realloc(p->uuids, cap * 16) : NULL;

			if (pids)
				p->pids = pids;
			if (!uuids)
				break; /* out of memory: those left are asked of libvirt */
			p->uuids = uuids;
			p->cap = cap;
		}
		memcpy(p->uuids[n++], e->uuid, 16);
	}
	if (n == 0 || qemu_proc_scan("/proc", (const uint8_t(*)[16])p->uuids, n, p->pids) < 0)
		return;
	for (size_t k = 0; k < n; k++) {
		struct dom_entry *e = dom_table_find(t, p->uuids[k]);

		if (!e)
			continue;
		e->kernel_looked = true;
		if (p->pids[k])
			e->kernel = qemu_proc_open("/proc", p->pids[k]);
		if (e->kernel)
			sm_log_debug(
			    "domain %s: CPU figures from the kernel (QEMU pid %d, CPU time "
			    "from %s)",
			    dom_tracker_stats(e->tracker)->name, (int)p->pids[k],
			    clock_name[qemu_proc_source(e->kernel)]);
	}
}

bool bulk_plan_kernel_cpu(struct dom_entry *e, struct qemu_proc_cpu *k)
{
	if (!e->kernel)
		return false;
	if (qemu_proc_read(e->kernel, k) == 0)
		return true;
	qemu_proc_destroy(&e->kernel);
	e->kernel_looked = false;
	return false;
}
