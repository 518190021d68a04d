/*
 * publisher — LibvirtDomainStatPublisher (see publisher.h).
 *
 * Threads and what they own:
 *  - sampler thread: the libvirt connection, the watcher, every libvirt call,
 *    the table's structure and its entries' sampler-only fields;
 *  - caller's thread (main loop): the host tracker, the frame buffers,
 *    sequence numbers, sending;
 *  - shared: the dom_table (tracked domains and the event queue) under its
 *    one lock (see dom_table.h). No libvirt call is ever made with that
 *    lock held, so main never waits for libvirt;
 *  - sampler control (generations, wake flags) under `ctl`.
 * Generations: each tick is a generation; a domain sampled in the tick's
 * generation is fresh in that tick's frame, any other is stale.
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include "publisher.h"

#include <errno.h>
#include <inttypes.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <math.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bulk_stats.h"
#include "dom_devices.h"
#include "dom_table.h"
#include "dom_tracker.h"
#include "dom_watcher.h"
#include "host_tracker.h"
#include "nova_meta.h"
#include "sm_clock.h"
#include "sm_log.h"
#include "sm_upstream.h"
#include "sm_wire.h"

#define DEADLINE_MAX_NS (2 * SM_NS_PER_SEC)      /* longest wait for a pass */
#define JOIN_WAIT_S 5                           /* shutdown wait for a libvirt call */
#define KEEPALIVE_INTERVAL_S 5                  /* libvirt keepalive: probe period */
#define KEEPALIVE_COUNT 3                       /* unanswered probes before closing */

/* What the bulk call asks for: everything DESIGN.md measures. */
static const unsigned int bulk_stats = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
				       VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU |
				       VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK;

struct publisher {
	/* configuration (immutable after new) */
	char *uri;                   /* libvirt URI, NULL = default */
	char host[SM_HOST_MAX + 1];  /* wire name */
	double interval;             /* seconds */
	size_t max_frame;            /* body limit */
	struct sm_upstream *up;      /* where frames go (borrowed), or NULL */
	uint64_t epoch;              /* random per process start */
	int efd;                     /* eventfd: sampler -> main "work to do" */

	/* main thread only */
	struct host_tracker *host_tracker; /* dom0 */
	msgpack_sbuffer frame;       /* last stats body */
	msgpack_packer pk;           /* packs into frame */
	msgpack_sbuffer evbuf;       /* one event body */
	uint64_t seq_stats, seq_events; /* last sequence numbers sent */
	bool frame_pending;          /* a tick's frame waits for its pass */
	uint64_t frame_gen;          /* its generation */
	int64_t frame_deadline_ns;   /* send it by then whatever the pass does */
	double frame_wall;           /* wall time of its tick */
	char topic_stats[SM_TOPIC_MAX + 1], topic_event[SM_TOPIC_MAX + 1];
	size_t topic_stats_len, topic_event_len;
	struct sm_complaint send_complaint; /* upstream refusing messages */
	struct sm_complaint frame_complaint; /* frame too big */
	uint64_t frames, events_sent, send_drops, late_frames;

	/* shared with the sampler thread under the table's lock */
	struct dom_table *table;     /* tracked domains and queued events */

	/* sampler control, under ctl */
	pthread_mutex_t ctl;
	pthread_cond_t cond;
	uint64_t kick_gen;           /* latest generation asked for */
	uint64_t done_gen;           /* latest generation whose pass ended */
	bool wake_events;            /* libvirt events queued: resolve now */
	bool refresh_all;            /* re-read identities and devices */
	bool quit;                   /* sampler must exit */
	pthread_t thread;
	bool thread_started;

	/* written by the sampler (or libvirt's event thread), read anywhere */
	atomic_bool conn_up;         /* a connection is open */
	atomic_bool conn_closed;     /* libvirt's close callback fired */
	atomic_int close_reason;     /* its VIR_CONNECT_CLOSE_REASON_* */
	atomic_bool bulk_flag;       /* mirror of `bulk` for counters */
	atomic_int_fast64_t call_start_ns; /* start of the libvirt call in progress, 0 = none */
	atomic_int_fast64_t call_max_ns;   /* slowest call since the last frame */
	atomic_uint_fast64_t passes, reconnects;

	/* sampler thread only */
	virConnectPtr conn;          /* open connection, or NULL */
	bool bulk;                   /* use virConnectGetAllDomainStats */
	bool ever_connected;         /* first connection made */
	bool told_per_domain;        /* the per-domain fallback was logged */
	int64_t lost_ns;             /* when the connection was lost (0 = never, or open) */
	uint64_t failed_opens;       /* connection attempts failed since then */
	char last_error[256];        /* error of the last failed call ("" = none) */
	char open_error[256];        /* error of the last failed connection attempt */
	struct dom_watcher *watcher; /* ActiveDomainWatcher */
	struct sm_complaint lv_complaint; /* libvirt unreachable */
	uint64_t pass_gen;           /* generation being sampled */
	virDomainPtr *fresh;         /* domains that appeared in this pass (borrowed) */
	size_t nfresh, fresh_cap;
	virDomainPtr *scratch_doms;  /* the bulk records' domains, for the watcher */
	size_t scratch_doms_cap;
	uint8_t (*uuids)[16];        /* UUIDs of the pass's domains, asked once */
	size_t uuids_cap;
	struct sm_disk_stats *sdisks; /* one sample's disks */
	struct sm_nic_stats *snics;   /* one sample's nics */
};

/* ---- Small helpers ----------------------------------------------------- */

static void signal_main(struct publisher *p)
{
	uint64_t one = 1;

	/* EAGAIN only when the counter is saturated: main is awake anyway. */
	if (write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sm_log_warn("publisher: eventfd write");
}

/* Times a libvirt call, so that main can report the slowest one (including
 * one still hanging). */
static void lv_begin(struct publisher *p)
{
	atomic_store(&p->call_start_ns, sm_clock_mono_ns());
}

static void lv_end(struct publisher *p)
{
	int64_t start = atomic_exchange(&p->call_start_ns, 0);
	int64_t d = sm_clock_mono_ns() - start;
	int64_t max = atomic_load(&p->call_max_ns);

	while (d > max && !atomic_compare_exchange_weak(&p->call_max_ns, &max, d))
		;
}

static const char *lv_error(void)
{
	const char *msg = virGetLastErrorMessage();

	return msg ? msg : "unknown error";
}

/* Keeps the error of the call that just failed: libvirt resets it at the
 * start of every API call, virConnectIsAlive included, so asking whether the
 * connection still lives would otherwise leave only "no error" to log.
 * Sampler thread. */
static void lv_keep_error(struct publisher *p)
{
	virErrorPtr err = virGetLastError();

	if (err && err->code != VIR_ERR_OK && err->message)
		snprintf(p->last_error, sizeof(p->last_error), "%s", err->message);
}

/* After a failed call on p->conn: true while the connection still lives. */
static bool lv_conn_alive(struct publisher *p)
{
	lv_keep_error(p);
	return virConnectIsAlive(p->conn) == 1;
}

static void quiet_errors(void *opaque, virErrorPtr err)
{
	/* libvirt prints every error to stderr by default; the monitor reports
	 * failures itself, rate-limited, so a dead libvirtd logs once. */
}

/* ---- Watcher callbacks (sampler thread) ---------------------------- */

/* Nova metadata of `dom`: 1 read, 0 none, -1 failed (asked again before
 * the next sample). */
static int ask_identity(struct publisher *p, virDomainPtr dom, struct sm_identity *id)
{
	int rc;

	lv_begin(p);
	rc = nova_meta_read(dom, id);
	lv_end(p);
	return rc;
}

static void read_identity(struct publisher *p, struct dom_entry *e, virDomainPtr dom)
{
	struct sm_identity id;
	int rc = ask_identity(p, dom, &id);

	if (rc < 0)
		return;
	dom_table_set_identity(p->table, e, rc == 1 ? &id : NULL);
	e->need_identity = false;
}

static void on_appeared(void *arg, virDomainPtr dom, const uint8_t uuid[16], const char *reason)
{
	struct publisher *p = arg;
	struct dom_tracker *tracker = dom_tracker_new(uuid, virDomainGetName(dom));
	struct dom_entry *e;
	struct sm_identity id;
	int rc;

	if (!tracker)
		goto fail;
	/* The identity goes into the "started" event, so it is read now,
	 * before the table (and so main) can see the tracker. */
	rc = ask_identity(p, dom, &id);
	if (rc >= 0)
		dom_tracker_set_identity(tracker, rc == 1 ? &id : NULL);
	e = dom_table_add(p->table, uuid, &tracker, reason);
	if (!e)
		goto fail;
	e->need_identity = rc < 0;

	if (p->nfresh + 1 < p->fresh_cap) /* one slot kept for a NULL terminator */
		p->fresh[p->nfresh++] = dom;
	signal_main(p);
	return;
fail:
	/* The watcher counts it as known; it is sampled nowhere until it
	 * restarts. Memory is what failed, so say so loudly. */
	sm_log_err("out of memory tracking a new domain");
	dom_tracker_destroy(&tracker);
}

static void on_disappeared(void *arg, const uint8_t uuid[16], const char *reason)
{
	struct publisher *p = arg;

	if (dom_table_remove(p->table, uuid, reason))
		signal_main(p);
}

static void on_changed(void *arg, virDomainPtr dom, const uint8_t uuid[16], unsigned what)
{
	struct publisher *p = arg;
	struct dom_entry *e = dom_table_find(p->table, uuid);

	if (!e)
		return;
	if (what & DOM_CHANGE_METADATA)
		e->need_identity = true;
	if (what & DOM_CHANGE_DEVICES)
		e->need_devices = true;
}

/* Called in libvirt's event thread: only signal. */
static void on_wakeup(void *arg)
{
	struct publisher *p = arg;

	pthread_mutex_lock(&p->ctl);
	p->wake_events = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->ctl);
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct publisher *p = opaque;

	atomic_store(&p->close_reason, reason);
	atomic_store(&p->conn_closed, true);
	on_wakeup(p);
}

static const struct dom_watcher_ops watcher_ops = {on_appeared, on_disappeared, on_changed};

/* ---- Connection (sampler thread) ------------------------------------ */

static void drop_connection(struct publisher *p, const char *why)
{
	if (!p->conn)
		return;
	sm_complain(&p->lv_complaint, SM_LOG_ERR, "libvirt connection to %s lost: %s; reconnecting",
		    p->uri ? p->uri : "(default)", why);
	dom_watcher_detach(p->watcher);
	virConnectUnregisterCloseCallback(p->conn, on_close);
	virConnectClose(p->conn);
	virResetLastError();
	p->conn = NULL;
	atomic_store(&p->conn_up, false);
	p->lost_ns = sm_clock_mono_ns();
	p->failed_opens = 0;
	p->open_error[0] = '\0';
}

/* What libvirt's close callback says about why the connection ended, with
 * the error of the call that failed meanwhile, if one did. */
static void close_cause(struct publisher *p, char *buf, size_t size)
{
	const char *why;

	switch (atomic_load(&p->close_reason)) {
	case VIR_CONNECT_CLOSE_REASON_EOF:
		why = "end of file from libvirtd (it closed the connection or exited)";
		break;
	case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
		why = "keepalive timeout (libvirtd stopped answering)";
		break;
	case VIR_CONNECT_CLOSE_REASON_CLIENT:
		why = "closed by this client";
		break;
	default:
		why = "I/O error on the connection";
		break;
	}
	if (p->last_error[0])
		snprintf(buf, size, "%s; last call failed: %s", why, p->last_error);
	else
		snprintf(buf, size, "%s", why);
}

/* After a failed call: was it the connection? Drops it if so; true if it did. */
static bool check_connection(struct publisher *p)
{
	if (p->conn && !lv_conn_alive(p)) {
		drop_connection(p, p->last_error[0] ? p->last_error
						    : "libvirt reports the connection dead, without an error");
		return true;
	}
	return false;
}

static int open_connection(struct publisher *p)
{
	virConnectPtr c;
	const char *driver;

	/* Read-only: statistics, metadata, XML (without secrets) and lifecycle
	 * events are all a read-only connection may have, and that is all the
	 * monitor asks for. On a compute node that means libvirt's world-usable
	 * libvirt-sock-ro, so the monitor's user needs no group or polkit rule
	 * that would also let it start, stop or redefine domains. */
	lv_begin(p);
	c = virConnectOpenReadOnly(p->uri);
	lv_end(p);
	if (!c) {
		snprintf(p->open_error, sizeof(p->open_error), "%s", lv_error());
		p->failed_opens++;
		sm_complain(&p->lv_complaint, SM_LOG_ERR, "cannot connect to libvirt %s: %s",
			    p->uri ? p->uri : "(default)", p->open_error);
		virResetLastError();
		return -1;
	}
	/* Keepalive turns a libvirtd that stopped answering into a closed
	 * connection (and failing calls) instead of calls that hang forever.
	 * Local drivers do not support it, which is fine. */
	if (virConnectSetKeepAlive(c, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT) < 0)
		sm_log_debug("libvirt keepalive unavailable: %s", lv_error());
	if (virConnectRegisterCloseCallback(c, on_close, p, NULL) < 0)
		sm_log_debug("libvirt close callback unavailable: %s", lv_error());
	atomic_store(&p->conn_closed, false);
	if (dom_watcher_attach(p->watcher, c) < 0)
		sm_log_warnx("libvirt %s: no lifecycle events (%s); starts and stops are seen on the "
			     "next tick",
			     p->uri ? p->uri : "(default)", lv_error());
	virResetLastError();
	p->conn = c;
	p->bulk = true; /* until the driver shows it cannot */
	atomic_store(&p->bulk_flag, true);
	atomic_store(&p->conn_up, true);
	driver = virConnectGetType(c);
	if (p->ever_connected) {
		atomic_fetch_add(&p->reconnects, 1);
		sm_complaint_release(&p->lv_complaint,
				     "libvirt connection to %s recovered after %.1f s "
				     "(%" PRIu64 " failed attempt(s)%s%s)",
				     p->uri ? p->uri : "(default)",
				     (double)(sm_clock_mono_ns() - p->lost_ns) / 1e9, p->failed_opens,
				     p->open_error[0] ? ", last: " : "", p->open_error);
	} else {
		sm_complaint_release(&p->lv_complaint, "libvirt %s answers now",
				     p->uri ? p->uri : "(default)");
		sm_log_info("connected to libvirt %s (driver %s)", p->uri ? p->uri : "(default)",
			    driver ? driver : "?");
	}
	p->ever_connected = true;
	p->lost_ns = 0;
	virResetLastError();
	return 0;
}

static void use_per_domain(struct publisher *p, const char *why)
{
	p->bulk = false;
	atomic_store(&p->bulk_flag, false);
	/* Said once per process: after a reconnection it is no news. */
	sm_log(p->told_per_domain ? SM_LOG_DEBUG : SM_LOG_INFO,
	       "libvirt bulk statistics unusable (%s): sampling domain by domain", why);
	p->told_per_domain = true;
	/* The per-domain path needs each domain's device targets. */
	for (size_t i = 0; i < dom_table_count(p->table); i++)
		dom_table_at(p->table, i)->need_devices = true;
}

/* ---- Sampling (sampler thread) --------------------------------------- */

static void read_devices(struct publisher *p, struct dom_entry *e, virDomainPtr dom)
{
	char *xml;
	struct dom_devices d;

	lv_begin(p);
	xml = virDomainGetXMLDesc(dom, 0);
	lv_end(p);
	if (!xml)
		return;
	if (dom_devices_parse(xml, strlen(xml), &d) == 0) {
		dom_devices_clear(&e->devices);
		e->devices = d;
		e->need_devices = false;
	}
	free(xml);
}

static uint64_t nonneg(long long v)
{
	return v < 0 ? 0 : (uint64_t)v;
}

/* The per-domain path: four kinds of calls per domain. Returns 0, or -1 when
 * libvirt failed (the domain may be gone, or the connection). */
static int sample_one(struct publisher *p, struct dom_entry *e, virDomainPtr dom)
{
	virDomainInfo info;
	virDomainMemoryStatStruct ms[VIR_DOMAIN_MEMORY_STAT_NR];
	struct dom_sample s = {0};
	int rc, n;

	if (e->need_identity)
		read_identity(p, e, dom);
	if (e->need_devices)
		read_devices(p, e, dom);

	lv_begin(p);
	rc = virDomainGetInfo(dom, &info);
	lv_end(p);
	if (rc < 0)
		return -1;
	s.mono_ns = sm_clock_mono_ns();
	s.state = info.state;
	s.vcpus = info.nrVirtCpu;
	s.has_cpu = true;
	s.cpu_time_ns = info.cpuTime;
	dom_mem_set(&s.mem, DOM_MEM_CURRENT, info.memory);
	dom_mem_set(&s.mem, DOM_MEM_MAXIMUM, info.maxMem);

	lv_begin(p);
	n = virDomainMemoryStats(dom, ms, VIR_DOMAIN_MEMORY_STAT_NR, 0);
	lv_end(p);
	for (int i = 0; i < n; i++) {
		switch (ms[i].tag) {
		case VIR_DOMAIN_MEMORY_STAT_AVAILABLE:
			dom_mem_set(&s.mem, DOM_MEM_AVAILABLE, ms[i].val);
			break;
		case VIR_DOMAIN_MEMORY_STAT_UNUSED:
			dom_mem_set(&s.mem, DOM_MEM_UNUSED, ms[i].val);
			break;
		case VIR_DOMAIN_MEMORY_STAT_USABLE:
			dom_mem_set(&s.mem, DOM_MEM_USABLE, ms[i].val);
			break;
		case VIR_DOMAIN_MEMORY_STAT_RSS:
			dom_mem_set(&s.mem, DOM_MEM_RSS, ms[i].val);
			break;
		case VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON:
			/* The balloon's size now: fresher than GetInfo's. */
			dom_mem_set(&s.mem, DOM_MEM_CURRENT, ms[i].val);
			break;
		default:
			break;
		}
	}

	for (size_t i = 0; i < e->devices.ndisks; i++) {
		virDomainBlockStatsStruct bs;
		struct sm_disk_stats *d = &p->sdisks[s.ndisks];

		lv_begin(p);
		rc = virDomainBlockStats(dom, e->devices.disks[i], &bs, sizeof(bs));
		lv_end(p);
		if (rc < 0) {
			if (!lv_conn_alive(p))
				return -1;
			/* Unplugged or never had statistics: stop asking until
			 * the device list is read again. */
			dom_devices_drop_disk(&e->devices, i--);
			continue;
		}
		memset(d, 0, sizeof(*d));
		memcpy(d->name, e->devices.disks[i], sizeof(d->name));
		d->rd_req = nonneg(bs.rd_req);
		d->rd_bytes = nonneg(bs.rd_bytes);
		d->wr_req = nonneg(bs.wr_req);
		d->wr_bytes = nonneg(bs.wr_bytes);
		d->errors = nonneg(bs.errs);
		s.ndisks++;
	}
	for (size_t i = 0; i < e->devices.nnics; i++) {
		virDomainInterfaceStatsStruct is;
		struct sm_nic_stats *d = &p->snics[s.nnics];

		lv_begin(p);
		rc = virDomainInterfaceStats(dom, e->devices.nics[i], &is, sizeof(is));
		lv_end(p);
		if (rc < 0) {
			if (!lv_conn_alive(p))
				return -1;
			dom_devices_drop_nic(&e->devices, i--);
			continue;
		}
		memset(d, 0, sizeof(*d));
		memcpy(d->name, e->devices.nics[i], sizeof(d->name));
		d->rx_bytes = nonneg(is.rx_bytes);
		d->rx_packets = nonneg(is.rx_packets);
		d->rx_errors = nonneg(is.rx_errs);
		d->rx_drops = nonneg(is.rx_drop);
		d->tx_bytes = nonneg(is.tx_bytes);
		d->tx_packets = nonneg(is.tx_packets);
		d->tx_errors = nonneg(is.tx_errs);
		d->tx_drops = nonneg(is.tx_drop);
		s.nnics++;
	}
	s.disks = p->sdisks;
	s.nics = p->snics;
	virResetLastError();
	dom_table_apply(p->table, e, virDomainGetName(dom), &s, p->pass_gen);
	return 0;
}

/* Fills p->uuids with the UUIDs of doms[0..n), asked of libvirt once per
 * pass (watcher and sampler share them); false if that failed (callers then
 * pass NULL and ask per domain). */
static bool fill_uuids(struct publisher *p, virDomainPtr *doms, size_t n)
{
	if (n > p->uuids_cap) {
		uint8_t(*grown)[16] = realloc(p->uuids, n * sizeof(*grown));

		if (!grown)
			return false;
		p->uuids = grown;
		p->uuids_cap = n;
	}
	for (size_t i = 0; i < n; i++)
		if (virDomainGetUUID(doms[i], p->uuids[i]) < 0)
			return false;
	return true;
}

/* The entry of doms[i] (uuids may be NULL), or NULL if it is not tracked. */
static struct dom_entry *entry_of(struct publisher *p, virDomainPtr dom, const uint8_t (*uuids)[16],
			      size_t i)
{
	uint8_t uuid[16];

	if (uuids)
		return dom_table_find(p->table, uuids[i]);
	return virDomainGetUUID(dom, uuid) < 0 ? NULL : dom_table_find(p->table, uuid);
}

/* Applies bulk records; returns -1 when the driver turned out not to give
 * CPU time in bulk (the caller switches to the per-domain path). */
static int apply_records(struct publisher *p, virDomainStatsRecordPtr *recs,
			 const uint8_t (*uuids)[16], int n)
{
	struct dom_sample s;

	for (int i = 0; i < n; i++) {
		struct dom_entry *e = entry_of(p, recs[i]->dom, uuids, (size_t)i);

		if (!e)
			continue;
		if (e->need_identity)
			read_identity(p, e, recs[i]->dom);
		switch (bulk_stats_parse(recs[i]->params, recs[i]->nparams, &s, p->sdisks,
					 p->snics)) {
		case BULK_NO_CPU:
			return -1;
		case BULK_PARTIAL:
			continue; /* stays stale this tick */
		case BULK_OK:
			dom_table_apply(p->table, e, virDomainGetName(recs[i]->dom), &s, p->pass_gen);
			break;
		}
	}
	return 0;
}

static void sample_each(struct publisher *p, virDomainPtr *doms, const uint8_t (*uuids)[16],
			size_t n)
{
	for (size_t i = 0; i < n && p->conn; i++) {
		struct dom_entry *e = entry_of(p, doms[i], uuids, i);

		if (!e)
			continue;
		if (sample_one(p, e, doms[i]) < 0) {
			/* A domain that just went away fails harmlessly; a dead
			 * connection ends the pass. */
			check_connection(p);
			virResetLastError();
		}
	}
}

static void free_domains(virDomainPtr *doms, int n)
{
	for (int i = 0; i < n; i++)
		virDomainFree(doms[i]);
	free(doms);
}

/* Lists the active domains and reconciles the watcher; returns the list
 * (caller frees with free_domains) and its length, or -1. *uuids is set to
 * their UUIDs, or NULL. */
static int list_and_resolve(struct publisher *p, virDomainPtr **doms, const uint8_t (**uuids)[16])
{
	int n;

	*doms = NULL;
	lv_begin(p);
	n = virConnectListAllDomains(p->conn, doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	lv_end(p);
	if (n < 0) {
		if (!check_connection(p))
			sm_log_warnx("libvirt: cannot list domains: %s", lv_error());
		virResetLastError();
		return -1;
	}
	*uuids = fill_uuids(p, *doms, (size_t)n) ? (const uint8_t(*)[16])p->uuids : NULL;
	if (dom_watcher_update(p->watcher, *doms, *uuids, (size_t)n) < 0)
		sm_log_err("out of memory resolving active domains");
	return n;
}

static void pass_each(struct publisher *p)
{
	virDomainPtr *doms;
	const uint8_t(*uuids)[16];
	int n = list_and_resolve(p, &doms, &uuids);

	if (n < 0)
		return;
	sample_each(p, doms, uuids, (size_t)n);
	free_domains(doms, n);
}

static void pass_bulk(struct publisher *p)
{
	virDomainStatsRecordPtr *recs = NULL;
	const uint8_t(*uuids)[16];
	int n;

	lv_begin(p);
	n = virConnectGetAllDomainStats(p->conn, bulk_stats, &recs,
					VIR_CONNECT_LIST_DOMAINS_ACTIVE |
						VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
	lv_end(p);
	if (n < 0) {
		if (check_connection(p))
			return;
		use_per_domain(p, lv_error());
		virResetLastError();
		pass_each(p);
		return;
	}
	if ((size_t)n > p->scratch_doms_cap) {
		virDomainPtr *grown = realloc(p->scratch_doms, (size_t)n * sizeof(*grown));

		if (!grown) {
			sm_log_err("out of memory listing domains");
			goto out;
		}
		p->scratch_doms = grown;
		p->scratch_doms_cap = (size_t)n;
	}
	for (int i = 0; i < n; i++)
		p->scratch_doms[i] = recs[i]->dom;
	uuids = fill_uuids(p, p->scratch_doms, (size_t)n) ? (const uint8_t(*)[16])p->uuids : NULL;
	if (dom_watcher_update(p->watcher, p->scratch_doms, uuids, (size_t)n) < 0)
		sm_log_err("out of memory resolving active domains");
	if (apply_records(p, recs, uuids, n) < 0) {
		use_per_domain(p, "no CPU time for running domains");
		virDomainStatsRecordListFree(recs);
		recs = NULL;
		pass_each(p);
	}
out:
	virDomainStatsRecordListFree(recs);
}

/* Between ticks, after lifecycle events: reconcile now, and take a first
 * sample of new domains so that their first frame already has rates. */
static void pass_resolve(struct publisher *p)
{
	virDomainPtr *doms;
	const uint8_t(*uuids)[16];
	int n = list_and_resolve(p, &doms, &uuids);

	if (n < 0)
		return;
	if (p->nfresh && p->bulk) {
		virDomainStatsRecordPtr *recs = NULL;
		int m;

		p->fresh[p->nfresh] = NULL; /* virDomainListGetStats wants it terminated */
		lv_begin(p);
		m = virDomainListGetStats(p->fresh, bulk_stats, &recs,
					  VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
		lv_end(p);
		if (m > 0 && apply_records(p, recs, NULL, m) < 0)
			use_per_domain(p, "no CPU time for running domains");
		virDomainStatsRecordListFree(recs);
		virResetLastError();
	}
	if (p->nfresh && !p->bulk)
		sample_each(p, p->fresh, NULL, p->nfresh);
	free_domains(doms, n);
}

/* One pass of the sampler: connect if needed, then a full sample (a tick)
 * or only a reconciliation (events between ticks). */
static void sampler_pass(struct publisher *p, uint64_t gen, bool tick, bool refresh)
{
	p->pass_gen = gen;
	if (p->conn && atomic_load(&p->conn_closed)) {
		char why[sizeof(p->last_error) + 96];

		close_cause(p, why, sizeof(why));
		drop_connection(p, why);
	}
	p->last_error[0] = '\0';
	/* No back-off beyond the tick: while libvirtd is away, each tick makes
	 * one attempt (on a local socket, a refused connect costs a syscall;
	 * a slow one costs this thread, never a frame), so the first tick after
	 * libvirtd answers again reconnects and its frame is already fresh. The
	 * failures are logged rate-limited. */
	if (!p->conn) {
		if (!tick || open_connection(p) < 0)
			return;
	}
	if (refresh) {
		for (size_t i = 0; i < dom_table_count(p->table); i++) {
			struct dom_entry *e = dom_table_at(p->table, i);

			e->need_identity = e->need_devices = true;
		}
	}
	/* Appearing domains are collected during the pass (for pass_resolve);
	 * room for as many as there could be is made up front. */
	p->nfresh = 0;
	if (p->fresh_cap < 1024) {
		virDomainPtr *f = realloc(p->fresh, 1024 * sizeof(*f));

		if (f) {
			p->fresh = f;
			p->fresh_cap = 1024;
		}
	}
	if (!tick)
		pass_resolve(p);
	else if (p->bulk)
		pass_bulk(p);
	else
		pass_each(p);
	p->nfresh = 0;
	atomic_fetch_add(&p->passes, 1);
}

static void *sampler_main(void *arg)
{
	struct publisher *p = arg;

	pthread_mutex_lock(&p->ctl);
	for (;;) {
		uint64_t gen;
		bool tick, refresh;

		while (!p->quit && p->kick_gen == p->done_gen && !p->wake_events)
			pthread_cond_wait(&p->cond, &p->ctl);
		if (p->quit)
			break;
		gen = p->kick_gen;
		tick = gen != p->done_gen;
		refresh = p->refresh_all;
		p->refresh_all = false;
		p->wake_events = false;
		pthread_mutex_unlock(&p->ctl);

		sampler_pass(p, gen, tick, refresh);

		pthread_mutex_lock(&p->ctl);
		if (tick)
			p->done_gen = gen;
		pthread_mutex_unlock(&p->ctl);
		signal_main(p);
		pthread_mutex_lock(&p->ctl);
	}
	pthread_mutex_unlock(&p->ctl);
	return NULL;
}

/* ---- Main thread side ------------------------------------------------ */

struct publisher *publisher_new(const struct publisher_config *cfg, struct sm_upstream *up)
{
	struct publisher *p;

	if (!cfg->host || !sm_wire_host_valid(cfg->host) || !(cfg->interval > 0)) {
		sm_log_err("publisher: invalid host name or interval");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->efd = -1;
	pthread_mutex_init(&p->ctl, NULL);
	pthread_cond_init(&p->cond, NULL);
	msgpack_sbuffer_init(&p->frame);
	msgpack_sbuffer_init(&p->evbuf);
	msgpack_packer_init(&p->pk, &p->frame, msgpack_sbuffer_write);
	if (cfg->uri && *cfg->uri && !(p->uri = strdup(cfg->uri)))
		goto fail;
	snprintf(p->host, sizeof(p->host), "%s", cfg->host);
	p->interval = cfg->interval;
	p->max_frame = cfg->max_frame ? cfg->max_frame : SM_WIRE_FRAME_MAX_DEFAULT;
	p->up = up;
	if (getrandom(&p->epoch, sizeof(p->epoch), 0) != sizeof(p->epoch))
		p->epoch = (uint64_t)sm_clock_mono_ns() ^ ((uint64_t)getpid() << 32) ^
			   (uint64_t)time(NULL);
	p->topic_stats_len =
		sm_wire_topic(SM_KIND_STATS, p->host, p->topic_stats, sizeof(p->topic_stats));
	p->topic_event_len =
		sm_wire_topic(SM_KIND_EVENT, p->host, p->topic_event, sizeof(p->topic_event));
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->host_tracker = host_tracker_new(cfg->proc_root);
	p->table = dom_table_new();
	p->watcher = dom_watcher_new(&watcher_ops, p, on_wakeup);
	p->sdisks = calloc(SM_WIRE_MAX_DEVICES, sizeof(*p->sdisks));
	p->snics = calloc(SM_WIRE_MAX_DEVICES, sizeof(*p->snics));
	if (p->efd < 0 || !p->host_tracker || !p->table || !p->watcher || !p->sdisks || !p->snics ||
	    !p->topic_stats_len || !p->topic_event_len)
		goto fail;
	atomic_init(&p->conn_up, false);
	atomic_init(&p->conn_closed, false);
	atomic_init(&p->close_reason, VIR_CONNECT_CLOSE_REASON_ERROR);
	atomic_init(&p->bulk_flag, false);
	atomic_init(&p->call_start_ns, 0);
	atomic_init(&p->call_max_ns, 0);
	atomic_init(&p->passes, 0);
	atomic_init(&p->reconnects, 0);
	virSetErrorFunc(NULL, quiet_errors);
	return p;
fail:
	sm_log_err("publisher: cannot allocate");
	publisher_destroy(&p);
	return NULL;
}

/* Waits for the sampler up to JOIN_WAIT_S; false if it is still stuck. */
static bool join_sampler(struct publisher *p)
{
	struct timespec deadline;

	pthread_mutex_lock(&p->ctl);
	p->quit = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->ctl);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += JOIN_WAIT_S;
	return pthread_timedjoin_np(p->thread, NULL, &deadline) == 0;
}

void publisher_destroy(struct publisher **pp)
{
	struct publisher *p;

	if (!pp || !*pp)
		return;
	p = *pp;
	*pp = NULL;
	if (p->thread_started && !join_sampler(p)) {
		/* Freeing what the stuck thread uses would crash it; the
		 * process exits right after this anyway. */
		sm_log_warnx("a libvirt call is still hanging after %d s: leaving it", JOIN_WAIT_S);
		return;
	}
	if (p->conn) {
		dom_watcher_detach(p->watcher);
		virConnectUnregisterCloseCallback(p->conn, on_close);
		virConnectClose(p->conn);
		p->conn = NULL;
	}
	dom_watcher_destroy(&p->watcher);
	dom_table_destroy(&p->table);
	free(p->fresh);
	free(p->scratch_doms);
	free(p->uuids);
	free(p->sdisks);
	free(p->snics);
	host_tracker_destroy(&p->host_tracker);
	msgpack_sbuffer_destroy(&p->frame);
	msgpack_sbuffer_destroy(&p->evbuf);
	if (p->efd >= 0)
		close(p->efd);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->ctl);
	free(p->uri);
	free(p);
}

int publisher_start(struct publisher *p)
{
	if (p->thread_started)
		return 0;
	if (pthread_create(&p->thread, NULL, sampler_main, p) != 0) {
		sm_log_err("cannot start the sampler thread");
		return -1;
	}
	p->thread_started = true;
	return 0;
}

int publisher_fd(const struct publisher *p)
{
	return p->efd;
}

static void fill_header(struct publisher *p, struct sm_header *h, enum sm_msg_kind kind,
			uint64_t seq, double wall)
{
	memset(h, 0, sizeof(*h));
	h->version = SM_WIRE_VERSION;
	h->kind = kind;
	memcpy(h->host, p->host, sizeof(h->host));
	h->time = wall;
	h->seq = seq;
	h->epoch = p->epoch;
}

static void send_body(struct publisher *p, const char *topic, size_t tlen, const void *body,
		      size_t len)
{
	if (!p->up)
		return;
	if (sm_upstream_send(p->up, topic, tlen, body, len) < 0) {
		p->send_drops++;
		sm_complain(&p->send_complaint, SM_LOG_WARNING,
			    "collector not taking messages (%s): dropping", strerror(errno));
	} else {
		sm_complaint_release(&p->send_complaint, "collector takes messages again");
	}
}

static void send_events(struct publisher *p, const struct sm_domain_event *evs, size_t n)
{
	struct sm_message m;

	for (size_t i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
		fill_header(p, &m.hdr, SM_KIND_EVENT, ++p->seq_events, sm_clock_wall());
		m.u.event = evs[i];
		if (sm_wire_encode(&m, &p->evbuf) < 0) {
			sm_log_err("out of memory encoding an event");
			continue;
		}
		send_body(p, p->topic_event, p->topic_event_len, p->evbuf.data, p->evbuf.size);
		p->events_sent++;
	}
	dom_table_events_sent(p->table);
}

/* Builds and sends the pending frame (with whatever the sampler has);
 * `late` when its pass had not ended. */
static void send_frame(struct publisher *p, int64_t now_ns, bool late)
{
	struct sm_host_stats hs;
	struct sm_header h;
	int64_t lat = atomic_exchange(&p->call_max_ns, 0);
	int64_t start = atomic_load(&p->call_start_ns);
	const struct sm_domain_event *evs;
	size_t nev, n, stale = 0;

	memset(&hs, 0, sizeof(hs));
	host_tracker_update(p->host_tracker, &hs);
	hs.libvirt_ok = atomic_load(&p->conn_up);
	if (start && now_ns - start > lat)
		lat = now_ns - start; /* a call still hanging counts as it is so far */
	hs.libvirt_latency_ms = (double)lat / 1e6;

	dom_table_lock(p->table);
	/* Events first, under the same lock as the frame: a frame never lists a
	 * domain before its "started" or after its "stopped". */
	nev = dom_table_take_events(p->table, &evs);
	n = dom_table_count(p->table);
	if (n > SM_WIRE_MAX_DOMAINS) {
		sm_complain(&p->frame_complaint, SM_LOG_WARNING,
			    "%zu domains: only %d fit in a frame", n, SM_WIRE_MAX_DOMAINS);
		n = SM_WIRE_MAX_DOMAINS;
	}
	for (size_t i = 0; i < n; i++)
		if (dom_table_at(p->table, i)->refreshed_gen != p->frame_gen)
			stale++;
	hs.domains_stale = (uint32_t)stale;
	fill_header(p, &h, SM_KIND_STATS, ++p->seq_stats, p->frame_wall);
	msgpack_sbuffer_clear(&p->frame);
	sm_wire_pack_stats_begin(&p->pk, &h, p->interval, &hs, n);
	for (size_t i = 0; i < n; i++) {
		const struct dom_entry *e = dom_table_at(p->table, i);
		const struct sm_domain_stats *st = dom_tracker_stats(e->tracker);

		if (e->refreshed_gen != p->frame_gen) {
			struct sm_domain_stats copy = *st;

			copy.flags |= SM_DOM_STALE;
			sm_wire_pack_domain(&p->pk, &copy);
		} else {
			sm_wire_pack_domain(&p->pk, st);
		}
	}
	dom_table_unlock(p->table);

	send_events(p, evs, nev);
	p->frame_pending = false;
	if (late)
		p->late_frames++;
	if (p->frame.size > p->max_frame) {
		sm_complain(&p->frame_complaint, SM_LOG_ERR,
			    "stats frame of %zu bytes is over max_frame (%zu): not sent",
			    p->frame.size, p->max_frame);
		return;
	}
	send_body(p, p->topic_stats, p->topic_stats_len, p->frame.data, p->frame.size);
	p->frames++;
}

void publisher_tick(struct publisher *p, int64_t now_ns)
{
	int64_t budget = (int64_t)(p->interval * 0.5 * 1e9);

	if (p->frame_pending)
		send_frame(p, now_ns, true);
	pthread_mutex_lock(&p->ctl);
	p->frame_gen = ++p->kick_gen;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->ctl);
	p->frame_pending = true;
	p->frame_deadline_ns = now_ns + (budget > DEADLINE_MAX_NS ? DEADLINE_MAX_NS : budget);
	p->frame_wall = sm_clock_wall();
}

int publisher_timeout_ms(const struct publisher *p, int64_t now_ns)
{
	int64_t left;

	if (!p->frame_pending)
		return -1;
	left = p->frame_deadline_ns - now_ns;
	return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

bool publisher_pass_done(struct publisher *p)
{
	bool done;

	pthread_mutex_lock(&p->ctl);
	done = p->done_gen == p->kick_gen;
	pthread_mutex_unlock(&p->ctl);
	return done;
}

int publisher_service(struct publisher *p, int64_t now_ns)
{
	const struct sm_domain_event *evs;
	uint64_t v;
	size_t nev;

	while (read(p->efd, &v, sizeof(v)) == sizeof(v))
		;
	if (p->frame_pending) {
		bool done = publisher_pass_done(p);

		if (done || now_ns >= p->frame_deadline_ns) {
			send_frame(p, now_ns, !done);
			return 1;
		}
	}
	/* Events between ticks go out at once. */
	dom_table_lock(p->table);
	nev = dom_table_take_events(p->table, &evs);
	dom_table_unlock(p->table);
	send_events(p, evs, nev);
	return 0;
}

void publisher_refresh(struct publisher *p)
{
	pthread_mutex_lock(&p->ctl);
	p->refresh_all = true;
	pthread_mutex_unlock(&p->ctl);
}

void publisher_last_frame(const struct publisher *p, const void **body, size_t *len)
{
	*body = p->frame.data;
	*len = p->frame.size;
}

void publisher_counters(const struct publisher *p, struct publisher_counters *c)
{
	memset(c, 0, sizeof(*c));
	c->frames = p->frames;
	c->events = p->events_sent;
	c->send_drops = p->send_drops;
	c->late_frames = p->late_frames;
	c->passes = atomic_load(&p->passes);
	c->reconnects = atomic_load(&p->reconnects);
	c->domains = dom_table_size(p->table);
	c->last_frame_size = p->frame.size;
	c->bulk = atomic_load(&p->bulk_flag);
	c->connected = atomic_load(&p->conn_up);
}
