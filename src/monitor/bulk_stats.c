/*
 * bulk_stats — turns one record of libvirt's bulk statistics
 * (virConnectGetAllDomainStats: typed parameters named "cpu.time",
 * "block.0.rd.reqs", "vcpu.1.delay", …) into a DomainStatTracker sample.
 * Pure: no libvirt call, so it is tested with hand-made records.
 */
#include "bulk_stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sm_clock.h"
#include "sm_utf8.h"

/* Numeric typed parameter as uint64 (negative -> 0); false if not numeric. */
static bool param_u64(const virTypedParameter *par, uint64_t *v)
{
	switch (par->type) {
	case VIR_TYPED_PARAM_INT:
		*v = par->value.i < 0 ? 0 : (uint64_t)par->value.i;
		return true;
	case VIR_TYPED_PARAM_UINT:
		*v = par->value.ui;
		return true;
	case VIR_TYPED_PARAM_LLONG:
		*v = par->value.l < 0 ? 0 : (uint64_t)par->value.l;
		return true;
	case VIR_TYPED_PARAM_ULLONG:
		*v = par->value.ul;
		return true;
	case VIR_TYPED_PARAM_DOUBLE:
		*v = par->value.d > 0 && par->value.d < 1.8e19 ? (uint64_t)par->value.d : 0;
		return true;
	default:
		return false;
	}
}

/* Splits "prefix.N.rest": returns rest and sets *idx, or NULL. */
static const char *indexed(const char *field, const char *prefix, size_t plen, size_t *idx)
{
	char *end;
	unsigned long n;

	if (strncmp(field, prefix, plen) != 0 || field[plen] < '0' || field[plen] > '9')
		return NULL;
	n = strtoul(field + plen, &end, 10);
	if (*end != '.')
		return NULL;
	*idx = n;
	return end + 1;
}

/* A per-device counter field ("block.N.rd.reqs" → "rd.reqs") and where its
 * value goes in struct sm_disk_stats or struct sm_nic_stats. */
struct counter_field {
	const char *name;
	size_t offset; /* of a uint64_t */
};

/* The first entry, rd.reqs, is the one a disk's record must have to count
 * as complete (see has_rd). */
static const struct counter_field disk_counters[] = {
    {"rd.reqs", offsetof(struct sm_disk_stats, rd_req)},
    {"rd.bytes", offsetof(struct sm_disk_stats, rd_bytes)},
    {"wr.reqs", offsetof(struct sm_disk_stats, wr_req)},
    {"wr.bytes", offsetof(struct sm_disk_stats, wr_bytes)},
    {"errors", offsetof(struct sm_disk_stats, errors)},
};

static const struct counter_field nic_counters[] = {
    {"rx.bytes", offsetof(struct sm_nic_stats, rx_bytes)},
    {"rx.pkts", offsetof(struct sm_nic_stats, rx_packets)},
    {"rx.errs", offsetof(struct sm_nic_stats, rx_errors)},
    {"rx.drop", offsetof(struct sm_nic_stats, rx_drops)},
    {"tx.bytes", offsetof(struct sm_nic_stats, tx_bytes)},
    {"tx.pkts", offsetof(struct sm_nic_stats, tx_packets)},
    {"tx.errs", offsetof(struct sm_nic_stats, tx_errors)},
    {"tx.drop", offsetof(struct sm_nic_stats, tx_drops)},
};

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* Applies one field of a device's record to `dev` (a disk or a NIC): "name"
 * fills name[cap] (bounded, valid UTF-8), a known counter its slot. Returns
 * the counter set, or NULL. */
static const struct counter_field *device_field(void *dev, char *name, size_t cap,
						const struct counter_field *table, size_t n,
						const char *f, const virTypedParameter *par)
{
	uint64_t v;

	if (strcmp(f, "name") == 0) {
		if (par->type == VIR_TYPED_PARAM_STRING && par->value.s)
			sm_utf8_sanitize(name, cap, par->value.s, strlen(par->value.s));
		return NULL;
	}
	if (!param_u64(par, &v))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(f, table[i].name) == 0) {
			memcpy((char *)dev + table[i].offset, &v, sizeof(v));
			return &table[i];
		}
	}
	return NULL;
}

/* The memory figure a "balloon.<name>" field gives, or 0 for one we do not use. */
static enum dom_mem_have balloon_field(const char *name)
{
	static const struct {
		const char *name;
		enum dom_mem_have which;
	} fields[] = {
	    {"current", DOM_MEM_CURRENT}, {"maximum", DOM_MEM_MAXIMUM},
	    {"available", DOM_MEM_AVAILABLE}, {"unused", DOM_MEM_UNUSED},
	    {"usable", DOM_MEM_USABLE},	  {"rss", DOM_MEM_RSS},
	};

	for (size_t i = 0; i < NFIELDS(fields); i++)
		if (strcmp(name, fields[i].name) == 0)
			return fields[i].which;
	return 0;
}

enum bulk_result bulk_stats_parse(const virTypedParameter *params, int nparams,
				  const struct qemu_proc_cpu *kernel, struct dom_sample *s, struct sm_disk_stats *disks,
				  struct sm_nic_stats *nics)
{
	bool has_rd[SM_WIRE_MAX_DEVICES] = {false};
	uint64_t v, vcpu_current = 0;
	size_t ndisks = 0, nnics = 0, idx;
	bool has_state = false;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < nparams; i++) {
		const virTypedParameter *par = &params[i];
		const char *f = par->field, *rest;

		if ((rest = indexed(f, "block.", 6, &idx))) {
			if (idx >= SM_WIRE_MAX_DEVICES)
				continue;
			for (; ndisks <= idx; ndisks++)
				memset(&disks[ndisks], 0, sizeof(disks[ndisks]));
			if (device_field(&disks[idx], disks[idx].name, sizeof(disks[idx].name),
					 disk_counters, NFIELDS(disk_counters), rest,
					 par) == &disk_counters[0])
				has_rd[idx] = true;
		} else if ((rest = indexed(f, "net.", 4, &idx))) {
			if (idx >= SM_WIRE_MAX_DEVICES)
				continue;
			for (; nnics <= idx; nnics++)
				memset(&nics[nnics], 0, sizeof(nics[nnics]));
			device_field(&nics[idx], nics[idx].name, sizeof(nics[idx].name), nic_counters,
				     NFIELDS(nic_counters), rest, par);
		} else if ((rest = indexed(f, "vcpu.", 5, &idx))) {
			if (strcmp(rest, "delay") == 0 && param_u64(par, &v)) {
				s->has_delay = true;
				s->delay_ns += v;
			}
		} else if (!param_u64(par, &v)) {
			continue;
		} else if (strcmp(f, "state.state") == 0) {
			/* The wire's state is a byte; anything bigger is no state. */
			s->state = v > 255 ? VIR_DOMAIN_NOSTATE : (uint32_t)v;
			has_state = true;
		} else if (strcmp(f, "cpu.time") == 0) {
			s->has_cpu = true;
			s->cpu_time_ns = v;
		} else if (strcmp(f, "vcpu.current") == 0) {
			vcpu_current = v;
		} else if (strncmp(f, "balloon.", 8) == 0) {
			dom_mem_set(&s->mem, balloon_field(f + 8), v);
		}
	}
	s->mono_ns = sm_clock_mono_ns();
	s->vcpus = vcpu_current > UINT32_MAX ? 0 : (uint32_t)vcpu_current;
	if (kernel) {
		s->has_cpu = s->has_delay = true;
		s->cpu_time_ns = kernel->cpu_time_ns;
		s->delay_ns = kernel->delay_ns;
		s->vcpus = kernel->vcpus;
	}
	s->ndisks = ndisks;
	s->disks = disks;
	s->nnics = nnics;
	s->nics = nics;
	if (!s->has_cpu && has_state && s->state == VIR_DOMAIN_RUNNING)
		return BULK_NO_CPU;
	if (!s->has_cpu)
		return BULK_PARTIAL;
	for (size_t i = 0; i < ndisks; i++)
		if (!has_rd[i])
			return BULK_PARTIAL;
	return BULK_OK;
}
