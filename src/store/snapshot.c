/*
 * snapshot — see snapshot.h. The SQL is assembled from fixed fragments
 * (never from request text: every value is a bound parameter) and runs on
 * the index's connection. A uuid or host name that cannot be one is
 * refused before any query, as the index's other readers do.
 */
#include "snapshot.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "index_impl.h"
#include "sm_uuid.h"
#include "sm_log.h"
#include "sm_wire.h"

const char *const snap_value_names[SNAP_NVALUES] = {
    [SNAP_CPU] = "cpu_pct",
    [SNAP_STEAL] = "steal_pct",
    [SNAP_LOAD1] = "load1",
    [SNAP_LOAD5] = "load5",
    [SNAP_LOAD15] = "load15",
    [SNAP_MEM] = "mem_pct",
    [SNAP_RD_REQ] = "disk_rd_req_ps",
    [SNAP_WR_REQ] = "disk_wr_req_ps",
    [SNAP_RD_BYTES] = "disk_rd_bytes_ps",
    [SNAP_WR_BYTES] = "disk_wr_bytes_ps",
    [SNAP_RX_BYTES] = "net_rx_bytes_ps",
    [SNAP_TX_BYTES] = "net_tx_bytes_ps",
    [SNAP_RX_PKTS] = "net_rx_packets_ps",
    [SNAP_TX_PKTS] = "net_tx_packets_ps",
};

#define DOMAIN_COLS                                                                                \
	"d.uuid, d.name, d.display_name, d.project_id, t.project_name, d.host, d.flavor,"          \
	" d.state, d.last_seen, d.stopped_at"
#define NDOMAIN_COLS 10
#define LATEST_COLS                                                                                \
	", l.time, l.stale, l.mem_basis, l.cpu_pct, l.steal_pct, l.load1, l.load5, l.load15,"      \
	" l.mem_pct, l.disk_rd_req_ps, l.disk_wr_req_ps, l.disk_rd_bytes_ps, l.disk_wr_bytes_ps,"  \
	" l.net_rx_bytes_ps, l.net_tx_bytes_ps, l.net_rx_packets_ps, l.net_tx_packets_ps"
#define DOMAIN_FROM " FROM domains d LEFT JOIN tenants t ON t.project_id = d.project_id"
#define LATEST_JOIN " LEFT JOIN latest l ON l.uuid = d.uuid"

#define HOST_COLS                                                                                  \
	"h.name, h.last_seen, hl.time, hl.ncpus, hl.cpu_pct, hl.load1, hl.load5, hl.load15,"       \
	" hl.mem_pct, hl.mem_used_kib, hl.mem_total_kib, hl.domains, hl.libvirt_ok"
#define HOST_ACTIVE                                                                                \
	", (SELECT count(*) FROM domains d WHERE d.host = h.name AND d.stopped_at IS NULL)"

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? strdup((const char *)t) : NULL;
}

static double col_real(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static int col_int(sqlite3_stmt *st, int i, int unknown)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? unknown : sqlite3_column_int(st, i);
}

void snap_row_clear(struct snap_row *row)
{
	if (row == NULL)
		return;
	free(row->uuid);
	free(row->name);
	free(row->display_name);
	free(row->project_id);
	free(row->project_name);
	free(row->host);
	free(row->flavor);
	memset(row, 0, sizeof(*row));
}

void snap_list_clear(struct snap_list *list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < list->n; i++)
		snap_row_clear(&list->rows[i]);
	free(list->rows);
	list->rows = NULL;
	list->n = 0;
}

void snap_hosts_clear(struct snap_hosts *hosts)
{
	if (hosts == NULL)
		return;
	for (size_t i = 0; i < hosts->n; i++)
		free(hosts->rows[i].name);
	free(hosts->rows);
	hosts->rows = NULL;
	hosts->n = 0;
}

/* Reads the current row of a DOMAIN_COLS + LATEST_COLS statement. Returns
 * 0, or -1 when out of memory (row cleared). */
static int read_row(sqlite3_stmt *st, struct snap_row *r)
{
	int c = NDOMAIN_COLS;

	memset(r, 0, sizeof(*r));
	r->uuid = col_text(st, 0);
	r->name = col_text(st, 1);
	r->display_name = col_text(st, 2);
	r->project_id = col_text(st, 3);
	r->project_name = col_text(st, 4);
	r->host = col_text(st, 5);
	r->flavor = col_text(st, 6);
	r->state = (uint32_t)sqlite3_column_int64(st, 7);
	r->last_seen = col_real(st, 8);
	r->stopped_at = col_real(st, 9);
	r->time = col_real(st, c++);
	r->stale = col_int(st, c++, 0) != 0;
	r->mem_basis = col_int(st, c++, 0);
	for (int i = 0; i < SNAP_NVALUES; i++)
		r->v[i] = col_real(st, c++);
	if (r->uuid == NULL) {
		snap_row_clear(r);
		return -1;
	}
	return 0;
}

static int prepare(struct agg_index *idx, const char *sql, sqlite3_stmt **st)
{
	sqlite3 *db = index_sqlite(idx);

	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
		sm_log_err("index %s: %s", index_path(idx), sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

int snapshot_list(struct agg_index *idx, enum snap_filter filter, const char *arg,
		  struct snap_list *out)
{
	static const char *const where[] = {
	    [SNAP_BY_PROJECT] = " WHERE d.stopped_at IS NULL AND d.project_id = ?1",
	    [SNAP_WITHOUT_PROJECT] = " WHERE d.stopped_at IS NULL AND d.project_id IS NULL",
	    [SNAP_BY_HOST] = " WHERE d.stopped_at IS NULL AND d.host = ?1",
	    [SNAP_ALL] = " WHERE d.stopped_at IS NULL",
	};
	char sql[1024];
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc, ret = -1;

	out->rows = NULL;
	out->n = 0;
	snprintf(sql, sizeof(sql), "SELECT " DOMAIN_COLS LATEST_COLS DOMAIN_FROM LATEST_JOIN "%s",
		 where[filter]);
	if (prepare(idx, sql, &st) < 0)
		goto out;
	if ((filter == SNAP_BY_PROJECT || filter == SNAP_BY_HOST) &&
	    sqlite3_bind_text(st, 1, arg ? arg : "", -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (out->n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct snap_row *n = realloc(out->rows, ncap * sizeof(*n));

			if (n == NULL)
				goto out;
			out->rows = n;
			cap = ncap;
		}
		if (read_row(st, &out->rows[out->n]) < 0)
			goto out;
		out->n++;
	}
	if (rc != SQLITE_DONE) {
		sm_log_err("index %s: %s", index_path(idx), sqlite3_errmsg(index_sqlite(idx)));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	if (ret < 0)
		snap_list_clear(out);
	return ret;
}

int snapshot_get(struct agg_index *idx, const char *uuid, struct snap_row *out)
{
	static const char sql[] =
	    "SELECT " DOMAIN_COLS LATEST_COLS DOMAIN_FROM LATEST_JOIN " WHERE d.uuid = ?1";
	sqlite3_stmt *st = NULL;
	char canon[37];
	int rc, ret = -1;

	memset(out, 0, sizeof(*out));
	if (sm_uuid_canonical(uuid, canon) < 0) {
		ix_fail_call(idx, INDEX_E_INVALID, "reading latest values: bad uuid refused");
		return -1;
	}
	if (prepare(idx, sql, &st) < 0 ||
	    sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = read_row(st, out) < 0 ? -1 : 1;
	else if (rc == SQLITE_DONE)
		ret = 0;
	else
		sm_log_err("index %s: %s", index_path(idx), sqlite3_errmsg(index_sqlite(idx)));
out:
	sqlite3_finalize(st);
	return ret;
}

int snapshot_hosts(struct agg_index *idx, const char *name, struct snap_hosts *out)
{
	char sql[1024];
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc, ret = -1;

	out->rows = NULL;
	out->n = 0;
	if (name && !sm_wire_host_valid(name)) {
		ix_fail_call(idx, INDEX_E_INVALID, "host lookup with a bad host name refused");
		return -1;
	}
	snprintf(sql, sizeof(sql),
		 "SELECT " HOST_COLS HOST_ACTIVE
		 " FROM hosts h LEFT JOIN host_latest hl ON hl.host = h.name%s ORDER BY h.name",
		 name ? " WHERE h.name = ?1" : "");
	if (prepare(idx, sql, &st) < 0)
		goto out;
	if (name && sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct snap_host *h;

		if (out->n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct snap_host *n = realloc(out->rows, ncap * sizeof(*n));

			if (n == NULL)
				goto out;
			out->rows = n;
			cap = ncap;
		}
		h = &out->rows[out->n];
		memset(h, 0, sizeof(*h));
		if ((h->name = col_text(st, 0)) == NULL)
			goto out;
		out->n++;
		h->last_seen = col_real(st, 1);
		h->time = col_real(st, 2);
		h->ncpus = col_int(st, 3, -1);
		h->cpu_pct = col_real(st, 4);
		for (int i = 0; i < 3; i++)
			h->load[i] = col_real(st, 5 + i);
		h->mem_pct = col_real(st, 8);
		h->mem_used_kib = col_real(st, 9);
		h->mem_total_kib = col_real(st, 10);
		h->domains = col_int(st, 11, -1);
		h->libvirt_ok = col_int(st, 12, -1);
		h->active = (unsigned)sqlite3_column_int(st, 13);
	}
	if (rc != SQLITE_DONE) {
		sm_log_err("index %s: %s", index_path(idx), sqlite3_errmsg(index_sqlite(idx)));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	if (ret < 0)
		snap_hosts_clear(out);
	return ret;
}
