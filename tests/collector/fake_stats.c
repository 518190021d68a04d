/*
 * fake_stats — see fake_stats.h. Values are plausible, not random: the
 * point is the encoded size and shape, which decide relay cost.
 */
#include "fake_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_clock.h"

static void header(struct sm_header *h, enum sm_msg_kind kind, const char *host, uint64_t epoch,
		   uint64_t seq)
{
	h->version = SM_WIRE_VERSION;
	h->kind = kind;
	snprintf(h->host, sizeof(h->host), "%s", host);
	h->time = sm_clock_wall();
	h->seq = seq;
	h->epoch = epoch;
}

static void identity(struct sm_identity *id, unsigned i)
{
	snprintf(id->display_name, sizeof(id->display_name), "web-frontend-%u", i);
	snprintf(id->project_id, sizeof(id->project_id), "6f3e0d4c8a1b4e8e9d7c5b3a1f2e%04x",
		 i % 97);
	snprintf(id->project_name, sizeof(id->project_name), "tenant-%u", i % 97);
	snprintf(id->user_id, sizeof(id->user_id), "0a1b2c3d4e5f60718293a4b5c6d7%04x", i % 13);
	snprintf(id->user_name, sizeof(id->user_name), "user-%u", i % 13);
	snprintf(id->flavor, sizeof(id->flavor), "m1.medium");
}

int fake_stats_fill(struct sm_message *m, const char *host, size_t ndomains, uint64_t epoch,
		    uint64_t seq)
{
	struct sm_aggregate_domain_stats *a = &m->u.stats;

	memset(m, 0, sizeof(*m));
	header(&m->hdr, SM_KIND_STATS, host, epoch, seq);
	a->interval = 1.0;
	a->host = (struct sm_host_stats){.ncpus = 32,
					 .cpu_pct = 41.5,
					 .load = {12.1, 11.8, 10.2},
					 .mem_total_kib = 263921000,
					 .mem_used_kib = 190000000,
					 .mem_pct = 72.0,
					 .libvirt_ok = true,
					 .libvirt_latency_ms = 4.2};
	a->ndomains = ndomains;
	a->domains = calloc(ndomains ? ndomains : 1, sizeof(*a->domains));
	if (!a->domains)
		return -1;
	for (size_t i = 0; i < ndomains; i++) {
		struct sm_domain_stats *d = &a->domains[i];

		for (int j = 0; j < 16; j++)
			d->uuid[j] = (uint8_t)(i * 7 + (size_t)j);
		snprintf(d->name, sizeof(d->name), "instance-%08zx", i + 0x2a);
		d->state = 1;
		d->flags = SM_DOM_NOVA;
		d->has_identity = true;
		identity(&d->identity, (unsigned)i);
		d->vcpus = 2;
		d->cpu_time_ns = UINT64_C(987654321000) + i;
		d->cpu_pct = 37.25;
		d->steal_pct = 0.5;
		d->load[0] = 0.8, d->load[1] = 0.7, d->load[2] = 0.6;
		d->mem_basis = SM_MEM_GUEST_USABLE;
		d->mem_total_kib = 4194304;
		d->mem_used_kib = 1572864;
		d->mem_pct = 37.5;
		d->ndisks = 2;
		d->disks = calloc(2, sizeof(*d->disks));
		d->nnics = 2;
		d->nics = calloc(2, sizeof(*d->nics));
		if (!d->disks || !d->nics)
			return -1;
		for (int k = 0; k < 2; k++) {
			d->disks[k] =
			    (struct sm_disk_stats){"vda", 120000, 4915200000, 880000, 3604480000,
						   0,	  12.0,	  49152.0,    88.0,   360448.0};
			d->disks[k].name[2] = (char)('a' + k);
			d->nics[k] = (struct sm_nic_stats){"tap1a2b3c4d-5e",
							   9800000000,
							   7200000,
							   0,
							   3,
							   1200000000,
							   5100000,
							   0,
							   0,
							   980000.0,
							   720.0,
							   120000.0,
							   510.0};
			d->nics[k].name[13] = (char)('0' + k);
		}
	}
	return 0;
}

void fake_stats_free(struct sm_message *m)
{
	for (size_t i = 0; m->u.stats.domains && i < m->u.stats.ndomains; i++) {
		free(m->u.stats.domains[i].disks);
		free(m->u.stats.domains[i].nics);
	}
	free(m->u.stats.domains);
	memset(m, 0, sizeof(*m));
}

void fake_event_fill(struct sm_message *m, const char *host, enum sm_event_type type,
		     unsigned domain, uint64_t epoch, uint64_t seq)
{
	memset(m, 0, sizeof(*m));
	header(&m->hdr, SM_KIND_EVENT, host, epoch, seq);
	m->u.event.type = type;
	for (int j = 0; j < 16; j++)
		m->u.event.uuid[j] = (uint8_t)(domain * 7 + (unsigned)j);
	snprintf(m->u.event.name, sizeof(m->u.event.name), "instance-%08x", domain + 0x2a);
	m->u.event.has_identity = true;
	identity(&m->u.event.identity, domain);
	snprintf(m->u.event.reason, sizeof(m->u.event.reason), "%s",
		 type == SM_EVENT_STARTED ? "booted" : "destroyed");
}
