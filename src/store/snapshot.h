/*
 * snapshot — the latest values of every instance and host, read from the
 * index's `latest` and `host_latest` tables (schema v2, written by the
 * aggregator on every frame) joined with `domains`, `tenants` and `hosts`:
 * one query per page, never the Whisper files, so a tenant page of 1,000
 * instances costs one indexed scan. The only reader of those two tables.
 * It reads through an open index's own connection (the dashboard's is
 * read-only), so a request holds one connection to the file.
 */
#ifndef STORE_SNAPSHOT_H
#define STORE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index.h"

/* The latest values of an instance, in the order of the `latest` columns.
 * NAN = unknown. */
enum snap_value {
	SNAP_CPU,      /* cpu_pct, % of the instance's vCPUs */
	SNAP_STEAL,    /* steal_pct, % */
	SNAP_LOAD1,    /* load1, vCPUs busy or waiting */
	SNAP_LOAD5,    /* load5 */
	SNAP_LOAD15,   /* load15 */
	SNAP_MEM,      /* mem_pct, % */
	SNAP_RD_REQ,   /* disk_rd_req_ps, all disks, requests/s */
	SNAP_WR_REQ,   /* disk_wr_req_ps */
	SNAP_RD_BYTES, /* disk_rd_bytes_ps, bytes/s */
	SNAP_WR_BYTES, /* disk_wr_bytes_ps */
	SNAP_RX_BYTES, /* net_rx_bytes_ps, all interfaces, bytes/s */
	SNAP_TX_BYTES, /* net_tx_bytes_ps */
	SNAP_RX_PKTS,  /* net_rx_packets_ps, packets/s */
	SNAP_TX_PKTS,  /* net_tx_packets_ps */
	SNAP_NVALUES
};

/* Column names of enum snap_value in `latest` (and the JSON API's keys):
 * catalogue metrics, a domain's own by name, the device sums as "disk_" or
 * "net_" + the device metric (tests/store/test_catalogue.c holds them to it). */
extern const char *const snap_value_names[SNAP_NVALUES];

/* One instance: identity from `domains`, values from `latest`. Strings are
 * owned by the row (freed by snap_list_clear); NULL = not known. */
struct snap_row {
	char *uuid;	    /* canonical lowercase */
	char *name;	    /* libvirt name */
	char *display_name; /* Nova instance name */
	char *project_id;
	char *project_name;
	char *host;
	char *flavor;
	uint32_t state;	   /* virDomainState */
	double last_seen;  /* domains.last_seen (lags by up to the touch interval) */
	double stopped_at; /* NAN while active */
	double time;	   /* time of the latest point; NAN if none */
	bool stale;	   /* the monitor flagged the latest point stale */
	int mem_basis;	   /* enum sm_mem_basis; 0 = unknown */
	double v[SNAP_NVALUES];
};

struct snap_list {
	struct snap_row *rows;
	size_t n;
};

/* A compute node: `hosts` joined with `host_latest`. */
struct snap_host {
	char *name;
	double last_seen;     /* of any frame from it */
	double time;	      /* of its latest stats; NAN if none */
	int ncpus;	      /* -1 unknown */
	double cpu_pct;	      /* NAN unknown */
	double load[3];	      /* 1, 5, 15 min */
	double mem_pct;	      /* NAN unknown */
	double mem_used_kib;  /* NAN unknown */
	double mem_total_kib; /* NAN unknown */
	int domains;	      /* as the monitor reported; -1 unknown */
	int libvirt_ok;	      /* 1, 0, or -1 unknown */
	unsigned active;      /* active domains the index places on it */
};

struct snap_hosts {
	struct snap_host *rows;
	size_t n;
};

/* Which instances snapshot_list returns (always active ones only). */
enum snap_filter {
	SNAP_BY_PROJECT,      /* arg: project id */
	SNAP_WITHOUT_PROJECT, /* instances with no project (not OpenStack); arg unused */
	SNAP_BY_HOST,	      /* arg: host name */
	SNAP_ALL,	      /* every active instance, of every project or none; arg unused */
};

/* Active instances matching the filter, in no particular order (callers
 * sort), read from index `idx` (index_open: the schema is checked there).
 * Fills *out (clear it with snap_list_clear). Returns 0 or -1 (logged). */
int snapshot_list(struct agg_index *idx, enum snap_filter filter, const char *arg,
		  struct snap_list *out);
/* One instance, active or stopped, by uuid (any case). Returns 1 and fills
 * *out (clear with snap_row_clear), 0 if unknown, -1 on error or when
 * `uuid` is not one (INDEX_E_INVALID). */
int snapshot_get(struct agg_index *idx, const char *uuid, struct snap_row *out);

/* Every host (name NULL) or one, by name. Returns 0, or -1 on error or
 * when `name` cannot be a host name (INDEX_E_INVALID). */
int snapshot_hosts(struct agg_index *idx, const char *name, struct snap_hosts *out);

void snap_row_clear(struct snap_row *row);
void snap_list_clear(struct snap_list *list);
void snap_hosts_clear(struct snap_hosts *hosts);

#endif
