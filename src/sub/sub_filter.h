/*
 * sub_filter — which messages, and which domains inside a stats frame,
 * stackmon-sub prints. Kind and host are also applied as ZeroMQ topic
 * prefixes (cheap, upstream of decoding); tenant and domain can only be
 * checked after decoding, since they live inside the body.
 */
#ifndef SUB_FILTER_H
#define SUB_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "sm_wire.h"

/* Plain data: what the operator asked for. Empty lists match everything. */
struct sub_filter {
	const char *const *kinds; /* "stats", "event", "hb", "collector" */
	size_t nkinds;
	const char *const *hosts;
	size_t nhosts;
	const char *tenant; /* project id or project name; NULL = any */
	const char *domain; /* uuid, libvirt name or display name; NULL = any */
};

/* Checks the filter's kinds; returns 0, or -1 naming the bad kind in err. */
int sub_filter_check(const struct sub_filter *f, char *err, size_t errlen);

/* Number of topic prefixes the filter needs (kinds x hosts, at least 1). */
size_t sub_filter_prefix_count(const struct sub_filter *f);
/* Writes prefix number i ("" for everything, "stats/", "event/cn1/", …). */
void sub_filter_prefix(const struct sub_filter *f, size_t i, char *buf, size_t bufsize);

/*
 * Applies the tenant/domain filters to a message from sm_wire_decode. For stats, drops
 * non-matching domains from m in place (m stays valid for sm_message_clear).
 * Returns true if anything is left to print.
 */
bool sub_filter_apply(const struct sub_filter *f, struct sm_message *m);

#endif
