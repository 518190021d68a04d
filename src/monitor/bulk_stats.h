/*
 * bulk_stats — one record of libvirt's bulk statistics API
 * (virConnectGetAllDomainStats / virDomainListGetStats) as a sample for a
 * DomainStatTracker. The parsing is pure (no libvirt call) and bounded:
 * device indexes at or above SM_WIRE_MAX_DEVICES are ignored.
 */
#ifndef BULK_STATS_H
#define BULK_STATS_H

#include <libvirt/libvirt.h>

#include "dom_tracker.h"
#include "qemu_proc.h"

enum bulk_result {
	BULK_OK,      /* a complete sample */
	BULK_PARTIAL, /* libvirt skipped parts (no-wait flag and a busy domain job:
	                 a disk without rd.reqs, or no CPU time): leave it stale */
	BULK_NO_CPU,  /* a running domain without CPU time: this driver's bulk API
	                 reports only the state (the test driver); sample per domain */
};

/*
 * Parses params[0..nparams) into *s. With `kernel` (the domain's CPU figures
 * read from the kernel, qemu_proc), the record's CPU fields are ignored and
 * those are used: the record then needs no cpu-total or vcpu group. Disk and NIC entries are written to
 * disks[] and nics[] (caller's arrays of SM_WIRE_MAX_DEVICES entries) and
 * s->disks / s->nics point at them. s->mono_ns is set to now. Unknown and
 * non-numeric fields are ignored; names are sanitised.
 */
enum bulk_result bulk_stats_parse(const virTypedParameter *params, int nparams,
				  const struct qemu_proc_cpu *kernel, struct dom_sample *s, struct sm_disk_stats *disks,
				  struct sm_nic_stats *nics);

#endif
