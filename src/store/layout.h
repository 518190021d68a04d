/*
 * layout — where the aggregator keeps things under its data directory, and
 * the only code that turns names from the network into path components
 * (docs/AGGREGATOR.md "Data directory" is the contract the dashboard reads).
 * Pure string functions: no file is touched here. Every function writes a
 * path relative to the data directory, never one with an empty, "." or ".."
 * component, or fails.
 */
#ifndef STORE_LAYOUT_H
#define STORE_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LAYOUT_INDEX_FILE     "index.sqlite" /* the sqlite index (WAL: -wal, -shm beside it) */
#define LAYOUT_DOMAINS_DIR    "domains"	     /* domains/<2 hex>/<uuid>/<metric>.wsp */
#define LAYOUT_HOSTS_DIR      "hosts"	     /* hosts/<host>/<metric>.wsp */
#define LAYOUT_QUARANTINE_DIR "quarantine"   /* files moved aside, never read again */
#define LAYOUT_LOCK_FILE      ".lock"	     /* flock: one aggregator per data directory */
#define LAYOUT_FILE_SUFFIX    ".wsp"

#define LAYOUT_DEVICE_MAX 63  /* bytes of a sanitised device name */
#define LAYOUT_HOST_MAX	  253 /* bytes of a host name (the wire's limit) */
#define LAYOUT_METRIC_MAX 127 /* bytes of a metric name: "disk." + 63 + "." + suffix */
#define LAYOUT_PATH_MAX	  512 /* bytes of any relative path built here, NUL included */

/*
 * Device name as it appears in a metric name: every byte outside
 * [A-Za-z0-9_-] becomes '_' (so '.', '/', NUL-free UTF-8 and control bytes
 * can neither add a path component nor a metric-name level), cut to
 * LAYOUT_DEVICE_MAX bytes, and "_" when empty. Reads at most `len` bytes of
 * `raw` (stops at a NUL). Two names that map alike share their files.
 */
void layout_device_name(const char *raw, size_t len, char out[LAYOUT_DEVICE_MAX + 1]);

/* True if `host` may name a directory: 1..253 bytes of [A-Za-z0-9._-]
 * (the protocol's rule), and not starting with '.' (no ".", "..", hidden). */
bool layout_host_ok(const char *host);

/* "domains/ab/<uuid>": the first two hex digits of the lowercase canonical
 * uuid, then the uuid. Returns the length, or -1 if buf is too small. */
int layout_domain_dir(const uint8_t uuid[16], char *buf, size_t len);

/* "hosts/<host>"; -1 if the host is refused (layout_host_ok) or buf too small. */
int layout_host_dir(const char *host, char *buf, size_t len);

/* "<dir>/<metric>.wsp"; -1 if the metric name is empty, has '/' or starts
 * with '.', or buf is too small. */
int layout_metric_path(const char *dir, const char *metric, char *buf, size_t len);

/* A device metric's name: "<kind>.<dev>.<suffix>" (kind "disk" or "nic",
 * dev already sanitised). Returns the length or -1. */
int layout_device_metric(const char *kind, const char *dev, const char *suffix, char *buf,
			 size_t len);

/* Where a bad file goes: "quarantine/<relpath with '/' as '+'>.<UTC
 * YYYYmmddTHHMMSSZ>". `relpath` is one this module built. Returns the
 * length or -1. */
int layout_quarantine_path(const char *relpath, time_t when, char *buf, size_t len);

#endif
