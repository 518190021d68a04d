/*
 * catalogue — see catalogue.h. The tables are catalogue_list.h's lines
 * without their value column (which is the aggregator's).
 */
#include "catalogue.h"

#include <string.h>

#define METRIC_DEF(name, agg, unit, title, label, chart, major, minor, order, value) \
	{name, WHISPER_AGG_##agg, UNIT_##unit, title, label, chart, major, minor, order},

const struct metric_def metric_domain[METRIC_DOMAIN_N] = {METRIC_DOMAIN_LIST(METRIC_DEF)};
const struct metric_def metric_disk[METRIC_DISK_N] = {METRIC_DISK_LIST(METRIC_DEF)};
const struct metric_def metric_nic[METRIC_NIC_N] = {METRIC_NIC_LIST(METRIC_DEF)};
const struct metric_def metric_host[METRIC_HOST_N] = {METRIC_HOST_LIST(METRIC_DEF)};

const struct metric_def *catalogue_find(enum metric_record record, const char *name)
{
	static const struct {
		const struct metric_def *defs;
		size_t n;
	} tables[] = {
	    [METRIC_OF_DOMAIN] = {metric_domain, METRIC_DOMAIN_N},
	    [METRIC_OF_DISK] = {metric_disk, METRIC_DISK_N},
	    [METRIC_OF_NIC] = {metric_nic, METRIC_NIC_N},
	    [METRIC_OF_HOST] = {metric_host, METRIC_HOST_N},
	};

	if (name == NULL || (unsigned)record >= sizeof(tables) / sizeof(tables[0]))
		return NULL;
	for (size_t i = 0; i < tables[record].n; i++)
		if (strcmp(name, tables[record].defs[i].name) == 0)
			return &tables[record].defs[i];
	return NULL;
}
