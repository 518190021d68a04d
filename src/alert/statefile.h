/*
 * statefile — the alerter's memory across a restart: every pending and
 * firing (rule, instance) pair and every known node, in <data dir>/state,
 * replaced atomically (firing.h's afile). Restored at start, so an alert
 * that fired before is firing again without being notified again, a
 * pending one keeps its clock, and a node that never reports after the
 * restart still goes stale. Lines that do not parse, or name a rule that
 * is no longer in the rules file, are skipped and counted.
 */
#ifndef ALERT_STATEFILE_H
#define ALERT_STATEFILE_H

#include <stddef.h>

#include "eval.h"

#define STATE_FILE "state"

/* Writes e's state to path. 0, or -1 with err set (the old file stays). */
int statefile_save(const struct eval *e, const char *path, char *err, size_t errlen);

/* What a load did. */
struct statefile_result {
	size_t hosts, pairs; /* restored */
	size_t skipped;	     /* lines not restored */
};

/* Restores path into e at `now`. A missing file is an empty state (0).
 * Returns 0, or -1 with err set when the file cannot be read. */
int statefile_load(struct eval *e, const char *path, double now, struct statefile_result *res,
		   char *err, size_t errlen);

#endif
