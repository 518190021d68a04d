/*
 * cline — carbon plaintext lines ("<path> <value> <unix-seconds>\n") made
 * from decoded stats frames, under the names the aggregator's Whisper
 * files have: "<prefix>.domains.<2 hex>.<uuid>.<metric>" and
 * "<prefix>.hosts.<host>.<metric>" (src/store/layout.h, catalogue.h, and
 * metric_map.h for which value feeds which metric), so carbon-cache's
 * tree under its storage directory is the aggregator's, but for a host's
 * dots (docs/CARBON.md "Names"). Pure string functions over a growable
 * buffer; no I/O.
 */
#ifndef CARBON_CLINE_H
#define CARBON_CLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "sm_wire.h"

#define CLINE_VALUE_MAX	 32  /* bytes of a formatted value, NUL included */
#define CLINE_PREFIX_MAX 200 /* bytes of the configured prefix */

/* Lines being built; plain data. `failed` is set (and stays) when memory
 * ran out: what was appended since is missing. */
struct cline_buf {
	char *data;
	size_t len, cap;
	size_t lines; /* lines appended since the last reset */
	bool failed;
};

void cline_buf_reset(struct cline_buf *b); /* empties it, keeps the memory */
void cline_buf_free(struct cline_buf *b);

/* A host name as one Graphite path component: every byte outside
 * [A-Za-z0-9_-] becomes '_' (a dot would add a level, as collectd's
 * write_graphite also avoids), cut to LAYOUT_HOST_MAX bytes; "_" when
 * empty or NULL. */
void cline_host_component(const char *host, char out[LAYOUT_HOST_MAX + 1]);

/* True if `prefix` may start every path: empty, or 1..CLINE_PREFIX_MAX
 * bytes of [A-Za-z0-9_-] in dot-separated non-empty levels. */
bool cline_prefix_ok(const char *prefix);

/* Formats a finite double in the fewest significant digits (up to 17)
 * that read back (strtod) as the same double, so what Whisper stores is
 * what the monitor sent. Returns the length, or -1 when not finite. */
int cline_format_value(double v, char buf[CLINE_VALUE_MAX]);

/* Appends "<path> <value> <ts>\n" with path = prefix (if not empty) "."
 * stem "." metric. NaN or infinity appends nothing and returns false. */
bool cline_put(struct cline_buf *b, const char *prefix, const char *stem, const char *metric,
	       double v, int64_t ts);

/* Appends every known value of a decoded stats frame: the host's metrics
 * (the frame's host through cline_host_component), then each domain's,
 * its disks' and NICs' (device names through layout_device_name). The
 * timestamp is floor(frame time), as the aggregator's. Domains flagged
 * SM_DOM_STALE send nothing (the aggregator leaves a gap there too); NaN
 * values are not sent. Returns the lines appended; *unknown (may be
 * NULL) gets the values left out as unknown. */
size_t cline_frame(struct cline_buf *b, const char *prefix, const struct sm_message *m,
		   size_t *unknown);

#endif
