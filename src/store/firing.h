/*
 * firing — the file of alerts firing now (<alert data dir>/firing), written
 * by stackmon-alert and read by the dashboard (docs/ALERTS.md "The firing
 * file"). One alert a line, fields separated by tabs, each field escaped
 * (%, tab, CR, LF and every other control byte as %XX), so any tenant text
 * round-trips. The file is replaced atomically (written beside, fsync'd,
 * renamed): a reader sees the old set or the new one, never half of one.
 * The escaping and the atomic replacement serve the alerter's state file too.
 */
#ifndef STORE_FIRING_H
#define STORE_FIRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define FIRING_FILE "firing"

/* One firing alert, plain data. */
struct firing_row {
	char rule[64];
	char severity[32];
	char host[254];
	char uuid[37];	     /* "" for a node's alert */
	char project_id[65]; /* "" when not known */
	char domain[256];    /* libvirt name */
	char name[256];	     /* display name */
	char device[64];     /* disk or interface, "" when none */
	char expr[160];	     /* the rule's "when" */
	char summary[512];   /* its "summary" annotation, "" when none */
	double since;	     /* firing since, wall clock */
	double value;	     /* NaN when none */
};

/* A file being replaced: written to "<path>.tmp", renamed over path by
 * afile_commit. */
struct afile {
	char path[4096];
	char tmp[4100];
	FILE *f;
};

/* Opens path's temporary file (mode 0644). 0, or -1 with err set. */
int afile_open(struct afile *a, const char *path, char *err, size_t errlen);
/* Flushes, fsyncs and renames it over the path; closes in every case.
 * 0, or -1 with err set (the old file stays). */
int afile_commit(struct afile *a, char *err, size_t errlen);
/* Closes and removes the temporary file (after a failure). */
void afile_abort(struct afile *a);

/* Writes s escaped (see above). */
void firing_put_field(FILE *f, const char *s);
/* Splits a line (without its newline) at tabs into at most max fields,
 * unescaping each in place; returns the count. */
size_t firing_split(char *line, char **fields, size_t max);

/* Writes one row as a line. */
void firing_put_row(FILE *f, const struct firing_row *r);
/* Reads path and calls fn for every well-formed row (malformed lines are
 * skipped). Returns the rows read, or -1 when the file cannot be opened
 * (errno set). */
long firing_read(const char *path, void (*fn)(void *ctx, const struct firing_row *r), void *ctx);

#endif
