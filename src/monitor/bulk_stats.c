/*
 * bulk_stats — turns one record of libvirt's bulk statistics
 * (virConnectGetAllDomainStats: typed parameters named "cpu.time",
 * "block.0.rd.reqs", "vcpu.1.delay", …) into a DomainStatTracker sample.
 * Pure: no libvirt call, so it is tested with hand-made records.
 */
#include "bulk_stats.h"

#include <stdbool.h>
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

static void disk_field(struct sm_disk_stats *d, const char *f, const virTypedParameter *par,
		       bool *has_rd)
{
	uint64_t v;

	if (strcmp(f, "name") == 0) {
		if (par->type == VIR_TYPED_PARAM_STRING && par->value.s)
			sm_utf8_sanitize(d->name, sizeof(d->name), par->value.s,
					 strlen(par->value.s));
		return;
	}
	if (!param_u64(par, &v))
		return;
	if (strcmp(f, "rd.reqs") == 0) {
		d->rd_req = v;
		*has_rd = true;
	} else if (strcmp(f, "rd.bytes") == 0) {
		d->rd_bytes = v;
	} else if (strcmp(f, "wr.reqs") == 0) {
		d->wr_req = v;
	} else if (strcmp(f, "wr.bytes") == 0) {
		d->wr_bytes = v;
	} else if (strcmp(f, "errors") == 0) {
		d->errors = v;
	}
}

static void nic_field(struct sm_nic_stats *d, const char *f, const virTypedParameter *par)
{
	uint64_t v;

	if (strcmp(f, "name") == 0) {
		if (par->type == VIR_TYPED_PARAM_STRING && par->value.s)
			sm_utf8_sanitize(d->name, sizeof(d->name), par->value.s,
					 strlen(par->value.s));
		return;
	}
	if (!param_u64(par, &v))
		return;
	if (strcmp(f, "rx.bytes") == 0)
		d->rx_bytes = v;
	else if (strcmp(f, "rx.pkts") == 0)
		d->rx_packets = v;
	else if (strcmp(f, "rx.errs") == 0)
		d->rx_errors = v;
	else if (strcmp(f, "rx.drop") == 0)
		d->rx_drops = v;
	else if (strcmp(f, "tx.bytes") == 0)
		d->tx_bytes = v;
	else if (strcmp(f, "tx.pkts") == 0)
		d->tx_packets = v;
	else if (strcmp(f, "tx.errs") == 0)
		d->tx_errors = v;
	else if (strcmp(f, "tx.drop") == 0)
		d->tx_drops = v;
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

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(name, fields[i].name) == 0)
			return fields[i].which;
	return 0;
}

enum bulk_result bulk_stats_parse(const virTypedParameter *params, int nparams,
				  struct dom_sample *s, struct sm_disk_stats *disks,
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
			disk_field(&disks[idx], rest, par, &has_rd[idx]);
		} else if ((rest = indexed(f, "net.", 4, &idx))) {
			if (idx >= SM_WIRE_MAX_DEVICES)
				continue;
			for (; nnics <= idx; nnics++)
				memset(&nics[nnics], 0, sizeof(nics[nnics]));
			nic_field(&nics[idx], rest, par);
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
