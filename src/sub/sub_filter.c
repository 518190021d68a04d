/*
 * sub_filter.c — stackmon-sub's message selection (see sub_filter.h).
 */
#include "sub_filter.h"
#include "sm_uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sub_filter_check(const struct sub_filter *f, char *err, size_t errlen)
{
	for (size_t i = 0; i < f->nkinds; i++) {
		bool known = false;

		for (enum sm_msg_kind k = SM_KIND_STATS; k <= SM_KIND_COLLECTOR; k++)
			known |= strcmp(f->kinds[i], sm_wire_kind_name(k)) == 0;
		if (!known) {
			snprintf(err, errlen, "unknown kind '%s' (stats, event, hb, collector)",
				 f->kinds[i]);
			return -1;
		}
	}
	for (size_t i = 0; i < f->nhosts; i++) {
		if (!sm_wire_host_valid(f->hosts[i])) {
			snprintf(err, errlen, "'%s' is not a host name ([A-Za-z0-9._-])",
				 f->hosts[i]);
			return -1;
		}
	}
	return 0;
}

size_t sub_filter_prefix_count(const struct sub_filter *f)
{
	size_t k = f->nkinds ? f->nkinds : 1;

	/* A host without a kind cannot be a prefix (kind comes first): all
	 * four kinds are subscribed for it. */
	if (f->nhosts > 0 && f->nkinds == 0)
		k = 4;
	return k * (f->nhosts ? f->nhosts : 1);
}

void sub_filter_prefix(const struct sub_filter *f, size_t i, char *buf, size_t bufsize)
{
	size_t nh = f->nhosts ? f->nhosts : 1;
	size_t ki = i / nh, hi = i % nh;
	const char *kind = NULL;

	if (f->nkinds > 0)
		kind = f->kinds[ki];
	else if (f->nhosts > 0)
		kind = sm_wire_kind_name((enum sm_msg_kind)(SM_KIND_STATS + ki));
	if (kind == NULL)
		snprintf(buf, bufsize, "%s", "");
	else if (f->nhosts == 0)
		snprintf(buf, bufsize, "%s/", kind);
	else
		snprintf(buf, bufsize, "%s/%s/", kind, f->hosts[hi]);
}

static bool tenant_matches(const struct sub_filter *f, bool has, const struct sm_identity *id)
{
	if (f->tenant == NULL)
		return true;
	return has && (strcmp(id->project_id, f->tenant) == 0 ||
		       strcmp(id->project_name, f->tenant) == 0);
}

static bool domain_matches(const struct sub_filter *f, const uint8_t uuid[16], const char *name,
			   bool has, const struct sm_identity *id)
{
	char text[37];

	if (f->domain == NULL)
		return true;
	sm_uuid_format(uuid, text);
	return strcasecmp(text, f->domain) == 0 || strcmp(name, f->domain) == 0 ||
	       (has && strcmp(id->display_name, f->domain) == 0);
}

bool sub_filter_apply(const struct sub_filter *f, struct sm_message *m)
{
	if (m->hdr.kind == SM_KIND_EVENT) {
		const struct sm_domain_event *e = &m->u.event;

		return tenant_matches(f, e->has_identity, &e->identity) &&
		       domain_matches(f, e->uuid, e->name, e->has_identity, &e->identity);
	}
	if (m->hdr.kind != SM_KIND_STATS)
		return f->tenant == NULL && f->domain == NULL;
	if (f->tenant == NULL && f->domain == NULL)
		return true;

	struct sm_aggregate_domain_stats *s = &m->u.stats;
	size_t kept = 0;

	for (size_t i = 0; i < s->ndomains; i++) {
		struct sm_domain_stats *d = &s->domains[i];

		if (tenant_matches(f, d->has_identity, &d->identity) &&
		    domain_matches(f, d->uuid, d->name, d->has_identity, &d->identity)) {
			s->domains[kept++] = *d;
		} else {
			/* The decoder owns the device arrays: release the
			 * dropped domain's now, as sm_message_clear will only
			 * see the kept ones. */
			free(d->disks);
			free(d->nics);
		}
	}
	s->ndomains = kept;
	return kept > 0;
}
