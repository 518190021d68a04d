/*
 * dom_devices — the target names of a domain's disks and interfaces, read
 * from its XML description. Only the per-domain sampling path needs them
 * (virDomainBlockStats / virDomainInterfaceStats take a target name); the
 * bulk path gets names with the counters. Names are bounded and sanitised.
 */
#ifndef DOM_DEVICES_H
#define DOM_DEVICES_H

#include <stddef.h>

#include "sm_wire.h"

struct dom_devices {
	size_t ndisks;
	char (*disks)[SM_DEV_MAX + 1]; /* disk targets with a source ("vda", "hdc") */
	size_t nnics;
	char (*nics)[SM_DEV_MAX + 1]; /* interface target devices ("vnet0", "tap1") */
};

/* Parses a domain XML description. On success fills *d (release with
 * dom_devices_clear) and returns 0; at most SM_WIRE_MAX_DEVICES of each are
 * kept. Returns -1, with *d empty, on malformed XML or allocation failure. */
int dom_devices_parse(const char *xml, size_t len, struct dom_devices *d);

/* Frees the arrays and empties *d. Safe on a zeroed struct. */
void dom_devices_clear(struct dom_devices *d);

/* Removes entry i of the disks (or nics) array, keeping the order. */
void dom_devices_drop_disk(struct dom_devices *d, size_t i);
void dom_devices_drop_nic(struct dom_devices *d, size_t i);

#endif
