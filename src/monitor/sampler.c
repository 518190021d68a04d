/*
 * sampler — the libvirt side of the LibvirtDomainStatPublisher (see
 * sampler.h for which thread owns what). A pass connects if needed (no
 * back-off beyond the tick), lists or bulk-samples the active domains, lets
 * the watcher reconcile them with queued events (its callbacks add and
 * remove dom_table entries) and folds each sample into its entry, marked
 * with the pass's generation. The table's lock is never held across a
 * libvirt call, so main never waits for libvirt.
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include "sampler.h"

#include <errno.h>
#include <inttypes.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bulk_plan.h"
#include "bulk_stats.h"
#include "dom_devices.h"
#include "dom_table.h"
#include "dom_tracker.h"
#include "dom_watcher.h"
#include "event_loop.h"
#include "lv_rpc.h"
#include "nova_meta.h"
#include "sm_clock.h"
#include "sm_log.h"
#include "sm_wire.h"

#define JOIN_WAIT_S 5          /* shutdown wait for a libvirt call */
#define KEEPALIVE_INTERVAL_S 5 /* libvirt keepalive: probe period */
#define KEEPALIVE_COUNT 3      /* unanswered probes before closing */
/* A call that has not returned after this long arms keepalive. */
#define KEEPALIVE_ARM_AFTER_NS (2 * 1000000000LL)

/* Threads of the per-domain pass, the sampler's own included: at most
 * this many libvirt calls in flight at once. */
#define MAX_CALLS_IN_FLIGHT 8

/* The pipelined client (lv_rpc): how long a batch may wait for libvirtd,
 * and how many passes go through libvirt's library after it failed. */
#define PIPELINE_TIMEOUT_MS 5000
#define PIPELINE_RETRY_PASSES 60

/* Which slot of call_start_ns times this thread's libvirt calls: 0 for the
 * sampler thread, 1.. for its helpers. */
static _Thread_local unsigned call_slot;

struct sampler;

/* One thread of the per-domain pass and what it fills while sampling a
 * domain. workers[0] is the sampler thread itself. */
struct sample_worker {
	struct sampler *smp;
	unsigned slot;               /* its call_start_ns slot */
	pthread_t thread;            /* helpers only */
	bool started;                /* helpers only: the thread runs */
	struct sm_disk_stats *sdisks; /* one sample's disks */
	struct sm_nic_stats *snics;   /* one sample's nics */
};


struct sampler {
	/* set by new, immutable after */
	char *uri;                   /* libvirt URI, NULL = default */
	struct dom_table *table;     /* where samples go (borrowed) */
	int efd;                     /* eventfd: sampler -> main "work to do" */
	int loop_fd;                 /* eventfd: anyone -> the sampler in libvirt's loop */

	/* control, under ctl */
	pthread_mutex_t ctl;
	uint64_t kick_gen;           /* latest generation asked for */
	uint64_t done_gen;           /* latest generation whose pass ended */
	bool wake_events;            /* libvirt events queued: resolve now */
	bool refresh_all;            /* re-read identities and devices */
	bool quit;                   /* the thread must exit */
	pthread_t thread;            /* main: set by start */
	bool thread_started;         /* main: the thread runs (or ran) */
	bool thread_stuck;           /* main: stop gave up waiting for it */

	/* written by the sampler (or a libvirt callback), read anywhere */
	atomic_bool conn_up;         /* a connection is open */
	atomic_bool conn_closed;     /* libvirt's close callback fired */
	atomic_int close_reason;     /* its VIR_CONNECT_CLOSE_REASON_* */
	atomic_bool bulk_flag;       /* mirror of `bulk` for counters */
	atomic_int_fast64_t call_start_ns[MAX_CALLS_IN_FLIGHT]; /* per thread: start of its call in progress, 0 = none */
	atomic_int_fast64_t call_max_ns;   /* slowest call since the last take */
	atomic_uint_fast64_t passes, reconnects;
	atomic_uint_fast64_t helper_calls; /* calls made by helper threads */
	atomic_bool keepalive_armed; /* keepalive was armed on the current connection */

	/* Keepalive is armed only while a call is overdue (arm_keepalive):
	 * on, libvirt's client reschedules its keepalive timer in the event
	 * thread on every message, which made each call cost this process
	 * about 1.5x the CPU.
	 * guard_conn is the open connection, for main to arm it; under guard,
	 * so that it is never closed while main uses it. */
	pthread_mutex_t guard;
	virConnectPtr guard_conn;

	/* sampler thread only */
	int loop_watch;              /* libvirt's watch of loop_fd, -1 = none */
	virConnectPtr conn;          /* open connection, or NULL */
	bool bulk;                   /* use virConnectGetAllDomainStats */
	bool kernel_counters;        /* config: CPU figures of local QEMU domains from the kernel */
	struct bulk_plan *plan;      /* what the bulk call asks for, made by start */
	bool ever_connected;         /* first connection made */
	bool told_per_domain;        /* the per-domain fallback was logged */
	int64_t lost_ns;             /* when the connection was lost (0 = never, or open) */
	uint64_t failed_opens;       /* connection attempts failed since then */
	char last_error[256];        /* error of the last failed call ("" = none) */
	char open_error[256];        /* error of the last failed connection attempt */
	struct dom_watcher *watcher; /* ActiveDomainWatcher */
	struct sm_complaint lv_complaint; /* libvirt unreachable */
	uint64_t pass_gen;           /* generation being sampled */
	unsigned memory_every;       /* passes between two reads of a guest's memory statistics */
	virDomainPtr *fresh;         /* domains that appeared in this pass (borrowed) */
	size_t nfresh, fresh_cap;
	virDomainPtr *rest;          /* domains whose disks a second bulk call asks (borrowed) */
	size_t rest_cap;
	virDomainPtr *scratch_doms;  /* the bulk records' domains, for the watcher */
	size_t scratch_doms_cap;
	uint8_t (*uuids)[16];        /* UUIDs of the pass's domains, asked once */
	size_t uuids_cap;
	pthread_mutex_t error_lock;  /* guards last_error (helpers write it too) */

	/* The per-domain pass shares its domains among ncalls threads: each
	 * call waits a round trip for libvirtd, so calls in flight together
	 * shorten the pass (1,000 domains through libvirtd: see MONITOR.md). */
	unsigned ncalls;                 /* threads, the sampler's included; 1 = no helpers */
	int64_t share_above_ns;          /* share a pass once its calls took longer than this */
	int64_t last_work_ns;            /* sampler: the last per-domain pass's calls, summed */
	atomic_int_fast64_t work_ns;     /* this pass's calls so far, summed over threads */
	struct sample_worker workers[MAX_CALLS_IN_FLIGHT];
	pthread_mutex_t work_lock;       /* guards the round's hand-over below */
	pthread_cond_t work_cond;        /* a new round, or quit */
	pthread_cond_t done_cond;        /* the helpers finished the round */
	uint64_t work_round;             /* bumped per shared pass */
	unsigned work_busy;              /* helpers still on this round */
	bool work_quit;
	virDomainPtr *work_doms;         /* this round's domains, read-only during it */
	const uint8_t (*work_uuids)[16];
	size_t work_n;
	atomic_size_t work_next;         /* next index of work_doms to take */
	atomic_bool work_conn_lost;      /* a thread found the connection dead */

	/* The per-domain path's calls pipelined to libvirtd (lv_rpc), where it
	 * serves the URI; libvirt's library otherwise. */
	bool pipeline;                   /* config: use lv_rpc where it can */
	struct lv_rpc *rpc;              /* open, or NULL */
	unsigned rpc_window;             /* its calls in flight */
	uint64_t rpc_retry_gen;          /* no attempt to open it before this pass */
	bool rpc_told;                   /* why it cannot serve the URI was logged */
	struct sm_complaint rpc_complaint;
	struct lv_rpc_call *rpc_calls;   /* a pass's calls */
	size_t rpc_calls_cap;
	struct planned_domain *rpc_doms; /* a pass's domains with calls, in call order */
	size_t rpc_doms_cap;
};

/* ---- Small helpers ----------------------------------------------------- */

static void signal_main(struct sampler *smp)
{
	uint64_t one = 1;

	/* EAGAIN only when the counter is saturated: main is awake anyway. */
	if (write(smp->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sm_log_warn("sampler: eventfd write");
}

/* Interrupts libvirt's event loop if the sampler thread waits in it.
 * Any thread, the sampler's own included (then it is a no-op the loop
 * clears). */
static void wake_sampler(struct sampler *smp)
{
	uint64_t one = 1;

	if (write(smp->loop_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sm_log_warn("sampler: eventfd write");
}

static void on_loop_fd(int watch, int fd, int events, void *opaque)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

/* Times a libvirt call, so that main can report the slowest one (including
 * one still hanging). */
static void lv_begin(struct sampler *smp)
{
	atomic_store(&smp->call_start_ns[call_slot], sm_clock_mono_ns());
}

static void lv_end(struct sampler *smp)
{
	int64_t start = atomic_exchange(&smp->call_start_ns[call_slot], 0);
	int64_t d = sm_clock_mono_ns() - start;
	int64_t max = atomic_load(&smp->call_max_ns);

	if (call_slot)
		atomic_fetch_add(&smp->helper_calls, 1);
	atomic_fetch_add(&smp->work_ns, d);
	while (d > max && !atomic_compare_exchange_weak(&smp->call_max_ns, &max, d))
		;
}

/* Start of the oldest libvirt call in progress in any thread, 0 = none. */
static int64_t oldest_call_start(struct sampler *smp)
{
	int64_t oldest = 0;

	for (unsigned i = 0; i < MAX_CALLS_IN_FLIGHT; i++) {
		int64_t t = atomic_load(&smp->call_start_ns[i]);

		if (t && (!oldest || t < oldest))
			oldest = t;
	}
	return oldest;
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
static void lv_keep_error(struct sampler *smp)
{
	virErrorPtr err = virGetLastError();

	if (err && err->code != VIR_ERR_OK && err->message) {
		pthread_mutex_lock(&smp->error_lock);
		snprintf(smp->last_error, sizeof(smp->last_error), "%s", err->message);
		pthread_mutex_unlock(&smp->error_lock);
	}
}

/* After a failed call on smp->conn: true while the connection still lives. */
static bool lv_conn_alive(struct sampler *smp)
{
	lv_keep_error(smp);
	return virConnectIsAlive(smp->conn) == 1;
}

static void quiet_errors(void *opaque, virErrorPtr err)
{
	/* libvirt prints every error to stderr by default; the monitor reports
	 * failures itself, rate-limited, so a dead libvirtd logs once. */
}

/* ---- Watcher callbacks (sampler thread) ---------------------------- */

/* Nova metadata of `dom`: 1 read, 0 none, -1 failed (asked again before
 * the next sample). */
static int ask_identity(struct sampler *smp, virDomainPtr dom, struct sm_identity *id)
{
	int rc;

	lv_begin(smp);
	rc = nova_meta_read(dom, id);
	lv_end(smp);
	return rc;
}

static void read_identity(struct sampler *smp, struct dom_entry *e, virDomainPtr dom)
{
	struct sm_identity id;
	int rc = ask_identity(smp, dom, &id);

	if (rc < 0)
		return;
	dom_table_set_identity(smp->table, e, rc == 1 ? &id : NULL);
	e->need_identity = false;
}

static void on_appeared(void *arg, virDomainPtr dom, const uint8_t uuid[16], const char *reason)
{
	struct sampler *smp = arg;
	struct dom_tracker *tracker = dom_tracker_new(uuid, virDomainGetName(dom));
	struct dom_entry *e;
	struct sm_identity id;
	int rc;

	if (!tracker)
		goto fail;
	/* The identity goes into the "started" event, so it is read now,
	 * before the table (and so main) can see the tracker. */
	rc = ask_identity(smp, dom, &id);
	if (rc >= 0)
		dom_tracker_set_identity(tracker, rc == 1 ? &id : NULL);
	e = dom_table_add(smp->table, uuid, &tracker, reason);
	if (!e)
		goto fail;
	e->need_identity = rc < 0;

	if (smp->nfresh + 1 < smp->fresh_cap) /* one slot kept for a NULL terminator */
		smp->fresh[smp->nfresh++] = dom;
	signal_main(smp);
	return;
fail:
	/* The watcher counts it as known; it is sampled nowhere until it
	 * restarts. Memory is what failed, so say so loudly. */
	sm_log_err("out of memory tracking a new domain");
	dom_tracker_destroy(&tracker);
}

static void on_disappeared(void *arg, const uint8_t uuid[16], const char *reason)
{
	struct sampler *smp = arg;

	if (dom_table_remove(smp->table, uuid, reason))
		signal_main(smp);
}

static void on_changed(void *arg, virDomainPtr dom, const uint8_t uuid[16], unsigned what)
{
	struct sampler *smp = arg;
	struct dom_entry *e = dom_table_find(smp->table, uuid);

	if (!e)
		return;
	if (what & DOM_CHANGE_METADATA)
		e->need_identity = true;
	if (what & DOM_CHANGE_DEVICES)
		e->need_devices = true;
}

/* Called from libvirt's event loop (in the sampler thread) or from within
 * a libvirt call: only flag. */
static void on_wakeup(void *arg)
{
	struct sampler *smp = arg;

	pthread_mutex_lock(&smp->ctl);
	smp->wake_events = true;
	pthread_mutex_unlock(&smp->ctl);
	wake_sampler(smp);
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct sampler *smp = opaque;

	atomic_store(&smp->close_reason, reason);
	atomic_store(&smp->conn_closed, true);
	on_wakeup(smp);
}

static const struct dom_watcher_ops watcher_ops = {on_appeared, on_disappeared, on_changed};

/* ---- Connection (sampler thread) ------------------------------------ */

static void drop_connection(struct sampler *smp, const char *why)
{
	if (!smp->conn)
		return;
	sm_complain(&smp->lv_complaint, SM_LOG_ERR,
		    "libvirt connection to %s lost: %s; reconnecting",
		    smp->uri ? smp->uri : "(default)", why);
	dom_watcher_detach(smp->watcher);
	virConnectUnregisterCloseCallback(smp->conn, on_close);
	pthread_mutex_lock(&smp->guard);
	smp->guard_conn = NULL;
	pthread_mutex_unlock(&smp->guard);
	virConnectClose(smp->conn);
	virResetLastError();
	smp->conn = NULL;
	/* The pipelined client goes with it, and is tried again with the next. */
	lv_rpc_destroy(&smp->rpc);
	smp->rpc_retry_gen = 0;
	atomic_store(&smp->conn_up, false);
	smp->lost_ns = sm_clock_mono_ns();
	smp->failed_opens = 0;
	smp->open_error[0] = '\0';
}

/* What libvirt's close callback says about why the connection ended, with
 * the error of the call that failed meanwhile, if one did. */
static void close_cause(struct sampler *smp, char *buf, size_t size)
{
	const char *why;

	switch (atomic_load(&smp->close_reason)) {
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
	if (smp->last_error[0])
		snprintf(buf, size, "%s; last call failed: %s", why, smp->last_error);
	else
		snprintf(buf, size, "%s", why);
}

/* After a failed call: was it the connection? Drops it if so; true if it did. */
static bool check_connection(struct sampler *smp)
{
	if (smp->conn && !lv_conn_alive(smp)) {
		drop_connection(smp, smp->last_error[0]
					 ? smp->last_error
					 : "libvirt reports the connection dead, without an error");
		return true;
	}
	return false;
}

/* Whether c's domains are QEMU processes on this host, whose CPU figures
 * the kernel here publishes: the QEMU driver, and a URI without a host
 * ("qemu:///system", "qemu+unix:///session"). */
static bool local_qemu(struct sampler *smp, virConnectPtr c, const char *driver)
{
	const char *after;
	char *uri;
	bool local;

	if (!driver || strcmp(driver, "QEMU") != 0)
		return false;
	lv_begin(smp);
	uri = virConnectGetURI(c);
	lv_end(smp);
	after = uri ? strstr(uri, "://") : NULL;
	local = after && after[3] == '/';
	free(uri);
	virResetLastError();
	return local;
}

static int open_connection(struct sampler *smp)
{
	virConnectPtr c;
	const char *driver;
	int rc;

	/* Read-only: statistics, metadata, XML (without secrets) and lifecycle
	 * events are all a read-only connection may have, and that is all the
	 * monitor asks for. On a compute node that means libvirt's world-usable
	 * libvirt-sock-ro, so the monitor's user needs no group or polkit rule
	 * that would also let it start, stop or redefine domains. */
	lv_begin(smp);
	c = virConnectOpenReadOnly(smp->uri);
	lv_end(smp);
	if (!c) {
		snprintf(smp->open_error, sizeof(smp->open_error), "%s", lv_error());
		smp->failed_opens++;
		sm_complain(&smp->lv_complaint, SM_LOG_ERR, "cannot connect to libvirt %s: %s",
			    smp->uri ? smp->uri : "(default)", smp->open_error);
		virResetLastError();
		return -1;
	}
	atomic_store(&smp->keepalive_armed, false);
	pthread_mutex_lock(&smp->guard);
	smp->guard_conn = c;
	pthread_mutex_unlock(&smp->guard);
	if (virConnectRegisterCloseCallback(c, on_close, smp, NULL) < 0)
		sm_log_debug("libvirt close callback unavailable: %s", lv_error());
	atomic_store(&smp->conn_closed, false);
	lv_begin(smp);
	rc = dom_watcher_attach(smp->watcher, c);
	lv_end(smp);
	if (rc < 0)
		sm_log_warnx(
		    "libvirt %s: no lifecycle events (%s); starts and stops are seen on the "
		    "next tick",
		    smp->uri ? smp->uri : "(default)", lv_error());
	virResetLastError();
	smp->conn = c;
	smp->bulk = true; /* until the driver shows it cannot */
	atomic_store(&smp->bulk_flag, true);
	atomic_store(&smp->conn_up, true);
	lv_begin(smp);
	driver = virConnectGetType(c);
	lv_end(smp);
	bulk_plan_set_kernel(smp->plan, smp->kernel_counters && local_qemu(smp, c, driver));
	if (smp->ever_connected) {
		atomic_fetch_add(&smp->reconnects, 1);
		sm_complaint_release(&smp->lv_complaint,
				     "libvirt connection to %s recovered after %.1f s "
				     "(%" PRIu64 " failed attempt(s)%s%s)",
				     smp->uri ? smp->uri : "(default)",
				     (double)(sm_clock_mono_ns() - smp->lost_ns) / 1e9,
				     smp->failed_opens, smp->open_error[0] ? ", last: " : "",
				     smp->open_error);
	} else {
		sm_complaint_release(&smp->lv_complaint, "libvirt %s answers now",
				     smp->uri ? smp->uri : "(default)");
		sm_log_info("connected to libvirt %s (driver %s)",
			    smp->uri ? smp->uri : "(default)", driver ? driver : "?");
	}
	smp->ever_connected = true;
	smp->lost_ns = 0;
	virResetLastError();
	return 0;
}

/* Keepalive turns a libvirtd that stopped answering into a closed
 * connection (and failing calls) instead of calls that hang forever. It is
 * armed by main once a call has been waiting KEEPALIVE_ARM_AFTER_NS, and
 * the hang then ends KEEPALIVE_INTERVAL_S x KEEPALIVE_COUNT later, as if it
 * had been on all along; a call that waits so long is rare, and libvirtd
 * answers keepalive even while it is busy, so arming it never closes a
 * connection that is merely slow. It stays armed until the connection is
 * replaced: libvirt's client cannot start it again once stopped. Main
 * thread. */
static void arm_keepalive(struct sampler *smp, int64_t now_ns)
{
	int64_t start = oldest_call_start(smp);

	if (!start || now_ns - start < KEEPALIVE_ARM_AFTER_NS ||
	    atomic_load(&smp->keepalive_armed))
		return;
	pthread_mutex_lock(&smp->guard);
	if (smp->guard_conn) {
		/* Local to libvirt's client: it sends nothing and waits for
		 * nothing, however the call in progress fares. */
		if (virConnectSetKeepAlive(smp->guard_conn, KEEPALIVE_INTERVAL_S,
					   KEEPALIVE_COUNT) == 0)
			sm_log_debug("a libvirt call has waited %.1f s: keepalive armed (%d s x %d)",
				    (double)(now_ns - start) / 1e9, KEEPALIVE_INTERVAL_S,
				    KEEPALIVE_COUNT);
		else
			sm_log_debug("libvirt keepalive unavailable: %s", lv_error());
		virResetLastError();
		/* Once per connection either way: a driver without keepalive
		 * (an in-process one) cannot hang on a peer. */
		atomic_store(&smp->keepalive_armed, true);
	}
	pthread_mutex_unlock(&smp->guard);
}

static void on_tend_timer(int timer, void *opaque)
{
}

/* Keepalive's timer lives in libvirt's event loop, which the sampler thread
 * runs only between calls: while a call hangs, main runs one non-blocking
 * iteration of it per tick instead (a timer due at once makes the
 * iteration return), so the hang still ends when keepalive gives up. */
static void tend_loop_while_hung(struct sampler *smp, int64_t now_ns)
{
	int64_t start = oldest_call_start(smp);
	int timer;

	if (!start || now_ns - start < KEEPALIVE_ARM_AFTER_NS || !atomic_load(&smp->keepalive_armed))
		return;
	timer = virEventAddTimeout(0, on_tend_timer, NULL, NULL);
	if (timer < 0) {
		virResetLastError();
		return;
	}
	if (virEventRunDefaultImpl() < 0)
		sm_log_debug("libvirt event loop: %s", lv_error());
	virEventRemoveTimeout(timer);
	virResetLastError();
}

static void use_per_domain(struct sampler *smp, const char *why)
{
	smp->bulk = false;
	atomic_store(&smp->bulk_flag, false);
	/* Said once per process: after a reconnection it is no news. */
	sm_log(smp->told_per_domain ? SM_LOG_DEBUG : SM_LOG_INFO,
	       "libvirt bulk statistics unusable (%s): sampling domain by domain", why);
	smp->told_per_domain = true;
	/* The per-domain path needs each domain's device targets. */
	for (size_t i = 0; i < dom_table_count(smp->table); i++)
		dom_table_at(smp->table, i)->need_devices = true;
}

/* ---- Sampling (sampler thread) --------------------------------------- */

static void read_devices(struct sampler *smp, struct dom_entry *e, virDomainPtr dom)
{
	char *xml;
	struct dom_devices d;

	lv_begin(smp);
	xml = virDomainGetXMLDesc(dom, 0);
	lv_end(smp);
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

/* One of virDomainMemoryStats' figures (by its VIR_DOMAIN_MEMORY_STAT_ tag)
 * into a sample; the tags not used are ignored. */
static void memory_stat_set(struct dom_mem_sample *mem, int tag, unsigned long long val)
{
	switch (tag) {
	case VIR_DOMAIN_MEMORY_STAT_AVAILABLE:
		dom_mem_set(mem, DOM_MEM_AVAILABLE, val);
		break;
	case VIR_DOMAIN_MEMORY_STAT_UNUSED:
		dom_mem_set(mem, DOM_MEM_UNUSED, val);
		break;
	case VIR_DOMAIN_MEMORY_STAT_USABLE:
		dom_mem_set(mem, DOM_MEM_USABLE, val);
		break;
	case VIR_DOMAIN_MEMORY_STAT_RSS:
		dom_mem_set(mem, DOM_MEM_RSS, val);
		break;
	case VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON:
		/* The balloon's size now: fresher than GetInfo's. */
		dom_mem_set(mem, DOM_MEM_CURRENT, val);
		break;
	default:
		break;
	}
}

/* A disk's counters as libvirt gives them (block statistics: -1 = not
 * known, reported as 0) into *d. */
static void disk_set(struct sm_disk_stats *d, const char name[SM_DEV_MAX + 1],
		     const struct lv_wire_block *b)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->name, name, sizeof(d->name));
	d->rd_req = nonneg(b->rd_req);
	d->rd_bytes = nonneg(b->rd_bytes);
	d->wr_req = nonneg(b->wr_req);
	d->wr_bytes = nonneg(b->wr_bytes);
	d->errors = nonneg(b->errs);
}

/* The same for an interface's counters. */
static void nic_set(struct sm_nic_stats *d, const char name[SM_DEV_MAX + 1],
		    const struct lv_wire_iface *f)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->name, name, sizeof(d->name));
	d->rx_bytes = nonneg(f->rx_bytes);
	d->rx_packets = nonneg(f->rx_packets);
	d->rx_errors = nonneg(f->rx_errs);
	d->rx_drops = nonneg(f->rx_drop);
	d->tx_bytes = nonneg(f->tx_bytes);
	d->tx_packets = nonneg(f->tx_packets);
	d->tx_errors = nonneg(f->tx_errs);
	d->tx_drops = nonneg(f->tx_drop);
}

/* Asks libvirt for one disk's counters into w->sdisks[slot]; 0 or -1. */
static int read_disk(struct sample_worker *w, virDomainPtr dom, const char name[SM_DEV_MAX + 1],
		     size_t slot)
{
	struct sampler *smp = w->smp;
	virDomainBlockStatsStruct bs;
	struct sm_disk_stats *d = &w->sdisks[slot];
	int rc;

	lv_begin(smp);
	rc = virDomainBlockStats(dom, name, &bs, sizeof(bs));
	lv_end(smp);
	if (rc < 0)
		return -1;
	disk_set(d, name,
		 &(struct lv_wire_block){bs.rd_req, bs.rd_bytes, bs.wr_req, bs.wr_bytes, bs.errs});
	return 0;
}

/* Asks libvirt for one interface's counters into w->snics[slot]; 0 or -1. */
static int read_nic(struct sample_worker *w, virDomainPtr dom, const char name[SM_DEV_MAX + 1],
		    size_t slot)
{
	struct sampler *smp = w->smp;
	virDomainInterfaceStatsStruct is;
	struct sm_nic_stats *d = &w->snics[slot];
	int rc;

	lv_begin(smp);
	rc = virDomainInterfaceStats(dom, name, &is, sizeof(is));
	lv_end(smp);
	if (rc < 0)
		return -1;
	nic_set(d, name,
		&(struct lv_wire_iface){is.rx_bytes, is.rx_packets, is.rx_errs, is.rx_drop,
					is.tx_bytes, is.tx_packets, is.tx_errs, is.tx_drop});
	return 0;
}

enum dev_kind { DEV_DISK, DEV_NIC };

/* The per-domain path's loop over one kind of device: reads each one
 * listed in *dev into the worker's array for that kind, *got receiving
 * how many were filled. Returns 0, or -1 when the connection is gone. */
static int sample_devices(struct sample_worker *w, virDomainPtr dom, struct dom_devices *dev,
			  enum dev_kind kind, size_t *got)
{
	*got = 0;
	for (size_t i = 0; i < (kind == DEV_DISK ? dev->ndisks : dev->nnics); i++) {
		int rc = kind == DEV_DISK ? read_disk(w, dom, dev->disks[i], *got)
					  : read_nic(w, dom, dev->nics[i], *got);

		if (rc < 0) {
			if (!lv_conn_alive(w->smp))
				return -1;
			/* Unplugged or never had statistics: stop asking until
			 * the device list is read again. */
			if (kind == DEV_DISK)
				dom_devices_drop_disk(dev, i--);
			else
				dom_devices_drop_nic(dev, i--);
			continue;
		}
		(*got)++;
	}
	return 0;
}

/* Whether this pass asks about the guest memory statistics of `e` (the
 * balloon driver's view: per domain, a call of its own; in bulk, the
 * balloon group, which costs QEMU a query of every guest). They are read
 * every memory_every passes; between reads the last figures are reported. */
static bool memory_due(const struct sampler *smp, const struct dom_entry *e)
{
	return !e->mem_read || smp->pass_gen - e->mem_gen >= smp->memory_every;
}

static void memory_keep(struct sampler *smp, struct dom_entry *e, const struct dom_mem_sample *m)
{
	/* A domain's first read is placed within the cycle by its UUID, so
	 * that domains found together are not read together again: each pass
	 * asks about a memory_every-th of them. (Unsigned: wraps as it should.) */
	e->mem_gen = smp->pass_gen - (e->mem_read ? 0 : e->uuid[15] % smp->memory_every);
	e->mem_read = true;
	e->mem = *m;
}

/* The per-domain path: four kinds of calls per domain, made by worker w
 * (any thread of the pass: an entry is sampled by one of them, and the
 * table's structure does not change during a pass). Returns 0, or -1 when
 * libvirt failed (the domain may be gone, or the connection). */
static int sample_one(struct sample_worker *w, struct dom_entry *e, virDomainPtr dom)
{
	struct sampler *smp = w->smp;
	virDomainInfo info;
	virDomainMemoryStatStruct ms[VIR_DOMAIN_MEMORY_STAT_NR];
	struct dom_sample s = {0};
	int rc, n;

	if (e->need_identity)
		read_identity(smp, e, dom);
	if (e->need_devices)
		read_devices(smp, e, dom);

	lv_begin(smp);
	rc = virDomainGetInfo(dom, &info);
	lv_end(smp);
	if (rc < 0)
		return -1;
	s.mono_ns = sm_clock_mono_ns();
	s.state = info.state;
	s.vcpus = info.nrVirtCpu;
	s.has_cpu = true;
	s.cpu_time_ns = info.cpuTime;
	dom_mem_set(&s.mem, DOM_MEM_CURRENT, info.memory);
	dom_mem_set(&s.mem, DOM_MEM_MAXIMUM, info.maxMem);

	if (!memory_due(smp, e)) {
		dom_mem_fill_from(&s.mem, &e->mem);
		goto devices;
	}
	lv_begin(smp);
	n = virDomainMemoryStats(dom, ms, VIR_DOMAIN_MEMORY_STAT_NR, 0);
	lv_end(smp);
	for (int i = 0; i < n; i++)
		memory_stat_set(&s.mem, ms[i].tag, ms[i].val);
	/* Kept even when the call failed: it is asked again in memory_every
	 * passes, not on every one. */
	memory_keep(smp, e, &s.mem);

devices:
	if (sample_devices(w, dom, &e->devices, DEV_DISK, &s.ndisks) < 0 ||
	    sample_devices(w, dom, &e->devices, DEV_NIC, &s.nnics) < 0)
		return -1;
	s.disks = w->sdisks;
	s.nics = w->snics;
	virResetLastError();
	dom_table_apply(smp->table, e, virDomainGetName(dom), &s, smp->pass_gen);
	return 0;
}

/* Fills smp->uuids with the UUIDs of doms[0..n), asked of libvirt once per
 * pass (watcher and sampler share them); false if that failed (callers then
 * pass NULL and ask per domain). */
static bool fill_uuids(struct sampler *smp, virDomainPtr *doms, size_t n)
{
	if (n > smp->uuids_cap) {
		uint8_t(*grown)[16] = realloc(smp->uuids, n * sizeof(*grown));

		if (!grown)
			return false;
		smp->uuids = grown;
		smp->uuids_cap = n;
	}
	for (size_t i = 0; i < n; i++)
		if (virDomainGetUUID(doms[i], smp->uuids[i]) < 0)
			return false;
	return true;
}

/* The entry of doms[i] (uuids may be NULL), or NULL if it is not tracked. */
static struct dom_entry *entry_of(struct sampler *smp, virDomainPtr dom, const uint8_t (*uuids)[16],
			      size_t i)
{
	uint8_t uuid[16];

	if (uuids)
		return dom_table_find(smp->table, uuids[i]);
	return virDomainGetUUID(dom, uuid) < 0 ? NULL : dom_table_find(smp->table, uuid);
}

/* The disks of e's sample in a pass whose bulk call had no block group:
 * its only disk by a call of its own, or those of its record in `blocks`
 * (the second bulk call, block group only; NULL if there was none). Sets
 * s->disks and s->ndisks; false when they are not to be had this pass (the
 * domain then stays stale). *alone_ns grows by the time of e's own call.
 * `blocks` lists its domains in the order of the pass's records, so the
 * search starts at *next, where the previous one ended: one look per domain
 * on a pass, not one per record. */
static bool fill_disks(struct sampler *smp, struct dom_entry *e, virDomainPtr dom,
		       virDomainStatsRecordPtr *blocks, int nblocks, int *next,
		       struct dom_sample *s, int64_t *alone_ns)
{
	static const struct qemu_proc_cpu no_cpu; /* the block record has none: not asked */
	struct dom_sample b;

	if (bulk_plan_disk_alone(e)) {
		int64_t t0 = sm_clock_mono_ns();
		size_t got = 0;
		int rc = sample_devices(&smp->workers[0], dom, &e->devices, DEV_DISK, &got);

		*alone_ns += sm_clock_mono_ns() - t0;
		s->disks = smp->workers[0].sdisks;
		s->ndisks = got;
		return rc == 0;
	}
	for (int k = 0; k < nblocks; k++) {
		int j = (*next + k) % nblocks;
		uint8_t uuid[16];

		if (virDomainGetUUID(blocks[j]->dom, uuid) < 0 || memcmp(uuid, e->uuid, 16) != 0)
			continue;
		*next = j + 1;
		if (bulk_stats_parse(blocks[j]->params, blocks[j]->nparams, &no_cpu, &b,
				     smp->workers[1].sdisks, smp->workers[1].snics) != BULK_OK)
			return false;
		s->disks = b.disks;
		s->ndisks = b.ndisks;
		return true;
	}
	return false;
}

/* Applies bulk records; returns -1 when the driver turned out not to give
 * CPU time in bulk (the caller switches to the per-domain path). What the
 * records lack, by the plan of the pass (bulk_plan), is filled here: CPU
 * figures from the kernel, disks by calls of their own or from `blocks`. */
static int apply_records(struct sampler *smp, virDomainStatsRecordPtr *recs,
			 const uint8_t (*uuids)[16], int n, bool with_memory,
			 virDomainStatsRecordPtr *blocks, int nblocks)
{
	bool with_cpu = bulk_plan_cpu_asked(smp->plan);
	bool with_block = bulk_plan_block_asked(smp->plan);
	int64_t alone_ns = 0;
	int next_block = 0;
	struct dom_sample s;
	struct qemu_proc_cpu k;

	bulk_plan_find_processes(smp->plan, smp->table);
	for (int i = 0; i < n; i++) {
		struct dom_entry *e = entry_of(smp, recs[i]->dom, uuids, (size_t)i);
		bool have_kernel;

		if (!e)
			continue;
		if (e->need_identity)
			read_identity(smp, e, recs[i]->dom);
		have_kernel = bulk_plan_kernel_cpu(e, &k);
		if (!have_kernel && !with_cpu)
			continue; /* its figures were lost this pass: stale this tick */
		switch (bulk_stats_parse(recs[i]->params, recs[i]->nparams, have_kernel ? &k : NULL,
					 &s, smp->workers[0].sdisks, smp->workers[0].snics)) {
		case BULK_NO_CPU:
			return -1;
		case BULK_PARTIAL:
			continue; /* stays stale this tick */
		case BULK_OK:
			if (!with_block &&
			    !fill_disks(smp, e, recs[i]->dom, blocks, nblocks, &next_block, &s,
					&alone_ns)) {
				virResetLastError();
				continue;
			}
			if (with_memory)
				memory_keep(smp, e, &s.mem);
			else
				dom_mem_fill_from(&s.mem, &e->mem);
			dom_table_apply(smp->table, e, virDomainGetName(recs[i]->dom), &s,
					smp->pass_gen);
			break;
		}
	}
	bulk_plan_note_alone_ns(smp->plan, alone_ns);
	return 0;
}

/* Samples the round's domains, taking them one at a time until none is
 * left or the connection is found dead. Any thread of the pass. */
static void sample_share(struct sample_worker *w)
{
	struct sampler *smp = w->smp;
	size_t i;

	while (!atomic_load(&smp->work_conn_lost) &&
	       (i = atomic_fetch_add(&smp->work_next, 1)) < smp->work_n) {
		struct dom_entry *e = entry_of(smp, smp->work_doms[i], smp->work_uuids, i);

		if (!e)
			continue;
		if (sample_one(w, e, smp->work_doms[i]) < 0) {
			/* A domain that just went away fails harmlessly; a dead
			 * connection ends the pass (the sampler thread drops
			 * it once the round is over). */
			if (!lv_conn_alive(smp))
				atomic_store(&smp->work_conn_lost, true);
			virResetLastError();
		}
	}
}

static void *helper_main(void *arg)
{
	struct sample_worker *w = arg;
	struct sampler *smp = w->smp;
	uint64_t seen = 0;

	call_slot = w->slot;
	pthread_mutex_lock(&smp->work_lock);
	for (;;) {
		while (!smp->work_quit && smp->work_round == seen)
			pthread_cond_wait(&smp->work_cond, &smp->work_lock);
		if (smp->work_quit)
			break;
		seen = smp->work_round;
		pthread_mutex_unlock(&smp->work_lock);
		sample_share(w);
		pthread_mutex_lock(&smp->work_lock);
		if (--smp->work_busy == 0)
			pthread_cond_signal(&smp->done_cond);
	}
	pthread_mutex_unlock(&smp->work_lock);
	return NULL;
}

/* Starts the helpers once (sampler thread); on failure the pass runs with
 * those that started. */
static void start_helpers(struct sampler *smp)
{
	for (unsigned i = 1; i < smp->ncalls; i++) {
		struct sample_worker *w = &smp->workers[i];

		if (w->started)
			continue;
		if (pthread_create(&w->thread, NULL, helper_main, w) != 0) {
			sm_log_warnx("sampler: cannot start helper thread %u; %u libvirt calls in "
				     "flight at most", i, i);
			smp->ncalls = i;
			return;
		}
		w->started = true;
	}
}

static void stop_helpers(struct sampler *smp)
{
	pthread_mutex_lock(&smp->work_lock);
	smp->work_quit = true;
	pthread_cond_broadcast(&smp->work_cond);
	pthread_mutex_unlock(&smp->work_lock);
	for (unsigned i = 1; i < MAX_CALLS_IN_FLIGHT; i++) {
		if (smp->workers[i].started)
			pthread_join(smp->workers[i].thread, NULL);
		smp->workers[i].started = false;
	}
}

/* The per-domain path over doms[0..n): shared among ncalls threads once a
 * pass's calls add up to more than share_above_ns (and there are enough
 * domains to share), else the sampler's alone: helpers shorten a pass but
 * cost CPU (threads waking, libvirt's client passing its socket between
 * them), 10 % more per call at 100 domains, so they are used only where
 * the pass needs it. */
static void sample_each(struct sampler *smp, virDomainPtr *doms, const uint8_t (*uuids)[16],
			size_t n)
{
	bool share = smp->ncalls > 1 && n >= 2 * smp->ncalls && smp->last_work_ns > smp->share_above_ns;
	unsigned helpers;

	if (!smp->conn || !n)
		return;
	smp->work_doms = doms;
	smp->work_uuids = uuids;
	smp->work_n = n;
	atomic_store(&smp->work_next, 0);
	atomic_store(&smp->work_conn_lost, false);
	if (share)
		start_helpers(smp);
	helpers = share ? smp->ncalls - 1 : 0;
	if (helpers) {
		pthread_mutex_lock(&smp->work_lock);
		smp->work_busy = helpers;
		smp->work_round++;
		pthread_cond_broadcast(&smp->work_cond);
		pthread_mutex_unlock(&smp->work_lock);
	}
	sample_share(&smp->workers[0]);
	if (helpers) {
		pthread_mutex_lock(&smp->work_lock);
		while (smp->work_busy)
			pthread_cond_wait(&smp->done_cond, &smp->work_lock);
		pthread_mutex_unlock(&smp->work_lock);
	}
	if (atomic_load(&smp->work_conn_lost))
		check_connection(smp);
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
static int list_and_resolve(struct sampler *smp, virDomainPtr **doms, const uint8_t (**uuids)[16])
{
	int n;

	*doms = NULL;
	lv_begin(smp);
	n = virConnectListAllDomains(smp->conn, doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	lv_end(smp);
	if (n < 0) {
		if (!check_connection(smp))
			sm_log_warnx("libvirt: cannot list domains: %s", lv_error());
		virResetLastError();
		return -1;
	}
	*uuids = fill_uuids(smp, *doms, (size_t)n) ? (const uint8_t(*)[16])smp->uuids : NULL;
	if (dom_watcher_update(smp->watcher, *doms, *uuids, (size_t)n) < 0)
		sm_log_err("out of memory resolving active domains");
	return n;
}

/* ---- The per-domain path, pipelined (lv_rpc) -------------------------- */

/* A domain of the pass whose calls start at rpc_calls[first]. */
struct planned_domain {
	struct dom_entry *e;
	const char *name; /* libvirt's, valid while the pass's list is */
	size_t first;
};

/* Calls in flight on the pipelined connection: libvirt_calls, but no more
 * than this host has CPUs. libvirtd runs each call in a worker thread, and
 * calls beyond the CPUs that can run them only contend for its locks: with
 * 2 CPUs, 2 in flight took a pass over 1,000 test-driver domains in the same
 * 0.37-0.39 s as 4, for a quarter less of libvirtd's CPU (docs/MONITOR.md). */
static unsigned pipeline_window(unsigned calls)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus > 0 && (unsigned long)cpus < calls ? (unsigned)cpus : calls;
}

/* The open pipelined client, opening it if it is due; NULL when calls go
 * through libvirt's library this pass. */
static struct lv_rpc *pipeline(struct sampler *smp)
{
	char sock[256], name[1024], err[256];
	const char *why;

	if (smp->rpc || !smp->pipeline || smp->pass_gen < smp->rpc_retry_gen)
		return smp->rpc;
	if (lv_rpc_target(smp->uri, sock, sizeof(sock), name, sizeof(name), &why) < 0) {
		if (!smp->rpc_told)
			sm_log_info("per-domain statistics through libvirt's library: %s "
				    "cannot be pipelined (%s)",
				    smp->uri ? smp->uri : "(default)", why);
		smp->rpc_told = true;
		smp->rpc_retry_gen = smp->pass_gen + PIPELINE_RETRY_PASSES;
		return NULL;
	}
	lv_begin(smp);
	smp->rpc = lv_rpc_open(sock, name, PIPELINE_TIMEOUT_MS, err, sizeof(err));
	lv_end(smp);
	if (!smp->rpc) {
		sm_complain(&smp->rpc_complaint, SM_LOG_WARNING,
			    "per-domain statistics cannot be pipelined to %s: %s; asking through "
			    "libvirt's library, again in %d passes",
			    sock, err, PIPELINE_RETRY_PASSES);
		smp->rpc_retry_gen = smp->pass_gen + PIPELINE_RETRY_PASSES;
		return NULL;
	}
	sm_complaint_release(&smp->rpc_complaint, "per-domain statistics pipelined again");
	smp->rpc_window = pipeline_window(smp->ncalls);
	sm_log_info("per-domain statistics pipelined to %s (%s, %u calls in flight)", sock, name,
		    smp->rpc_window);
	return smp->rpc;
}

/* Makes room for `want` elements of `size` in *arr, doubling, so that the
 * first pass over many domains does not reallocate for each. */
static bool grow(void **arr, size_t *cap, size_t want, size_t size)
{
	size_t to = *cap * 2 > want ? *cap * 2 : want;
	void *p;

	if (want <= *cap)
		return true;
	p = realloc(*arr, to * size);
	if (!p)
		return false;
	*arr = p;
	*cap = to;
	return true;
}

/* Lays out the pass's calls: per tracked domain its info, its memory
 * statistics when due, each disk and each NIC (what sample_one asks one at
 * a time), and the domain in rpc_doms. Identity and device lists, read only
 * on events, still come from libvirt's library first. Returns the number of
 * calls (*ndoms: of domains), or -1 (memory); a domain whose calls find no
 * memory is left out, stale this tick. */
static long plan_calls(struct sampler *smp, virDomainPtr *doms, const uint8_t (*uuids)[16],
		       size_t n, size_t *ndoms)
{
	size_t m = 0;

	*ndoms = 0;
	if (!grow((void **)&smp->rpc_doms, &smp->rpc_doms_cap, n ? n : 1, sizeof(*smp->rpc_doms)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct dom_entry *e = entry_of(smp, doms[i], uuids, i);
		struct lv_wire_domain d;

		if (!e)
			continue;
		if (e->need_identity)
			read_identity(smp, e, doms[i]);
		if (e->need_devices)
			read_devices(smp, e, doms[i]);
		d = (struct lv_wire_domain){virDomainGetName(doms[i]), e->uuid,
					    (int)virDomainGetID(doms[i])};
		if (!d.name ||
		    !grow((void **)&smp->rpc_calls, &smp->rpc_calls_cap,
			  m + 2 + e->devices.ndisks + e->devices.nnics, sizeof(*smp->rpc_calls)))
			continue;
		smp->rpc_doms[(*ndoms)++] = (struct planned_domain){e, d.name, m};
		smp->rpc_calls[m++] = (struct lv_rpc_call){.kind = LV_RPC_INFO, .dom = d};
		if (memory_due(smp, e))
			smp->rpc_calls[m++] = (struct lv_rpc_call){.kind = LV_RPC_MEMORY, .dom = d};
		for (size_t k = 0; k < e->devices.ndisks; k++)
			smp->rpc_calls[m++] = (struct lv_rpc_call){
			    .kind = LV_RPC_BLOCK, .dom = d, .device = e->devices.disks[k]};
		for (size_t k = 0; k < e->devices.nnics; k++)
			smp->rpc_calls[m++] = (struct lv_rpc_call){
			    .kind = LV_RPC_IFACE, .dom = d, .device = e->devices.nics[k]};
	}
	return (long)m;
}

/* Folds the answers of domain p's calls (rpc_calls[p->first..], of m) into
 * a sample and its entry. A device whose call failed is dropped until the
 * device list is read again, as on the library path. *unknown grows when
 * libvirtd did not know the domain. */
static void fold_domain(struct sampler *smp, const struct planned_domain *p, size_t m,
			size_t *unknown)
{
	struct sample_worker *w = &smp->workers[0];
	struct dom_entry *e = p->e;
	size_t k = p->first;
	const struct lv_rpc_call *c = &smp->rpc_calls[k++];
	size_t ndisks = e->devices.ndisks, nnics = e->devices.nnics, first_dev;
	struct dom_sample s = {0};

	if (c->error) {
		/* Gone since the list, most likely: stale this tick, as on the
		 * library path. Its other calls are skipped. */
		if (c->error == VIR_ERR_NO_DOMAIN)
			(*unknown)++;
		return;
	}
	s.mono_ns = c->answered_ns;
	s.state = (int)c->out.info.state;
	s.vcpus = (int)c->out.info.nr_virt_cpu;
	s.has_cpu = true;
	s.cpu_time_ns = c->out.info.cpu_time_ns;
	dom_mem_set(&s.mem, DOM_MEM_CURRENT, c->out.info.memory_kib);
	dom_mem_set(&s.mem, DOM_MEM_MAXIMUM, c->out.info.max_mem_kib);
	if (k < m && smp->rpc_calls[k].kind == LV_RPC_MEMORY) {
		c = &smp->rpc_calls[k++];
		if (!c->error)
			for (unsigned i = 0; i < c->out.memory.n; i++)
				memory_stat_set(&s.mem, c->out.memory.stat[i].tag,
						c->out.memory.stat[i].val);
		memory_keep(smp, e, &s.mem); /* also when it failed: see sample_one */
	} else {
		dom_mem_fill_from(&s.mem, &e->mem);
	}
	first_dev = k;
	for (size_t i = 0; i < ndisks; i++, k++)
		if (!smp->rpc_calls[k].error)
			disk_set(&w->sdisks[s.ndisks++], e->devices.disks[i],
				 &smp->rpc_calls[k].out.block);
	for (size_t i = 0; i < nnics; i++, k++)
		if (!smp->rpc_calls[k].error)
			nic_set(&w->snics[s.nnics++], e->devices.nics[i],
				&smp->rpc_calls[k].out.iface);
	s.disks = w->sdisks;
	s.nics = w->snics;
	dom_table_apply(smp->table, e, p->name, &s, smp->pass_gen);
	/* Dropped last to first, so that the indexes still to look at hold. */
	for (size_t i = nnics; i-- > 0;)
		if (smp->rpc_calls[first_dev + ndisks + i].error)
			dom_devices_drop_nic(&e->devices, i);
	for (size_t i = ndisks; i-- > 0;)
		if (smp->rpc_calls[first_dev + i].error)
			dom_devices_drop_disk(&e->devices, i);
}

/* The per-domain path through lv_rpc: every call of the pass written ahead
 * of the replies. Returns 0, or -1 when the client failed (the caller then
 * drops it and asks this pass through libvirt's library). */
static int sample_pipelined(struct sampler *smp, virDomainPtr *doms,
			    const uint8_t (*uuids)[16], size_t n)
{
	char err[256];
	size_t unknown = 0, ndoms;
	long m = plan_calls(smp, doms, uuids, n, &ndoms);
	int rc;

	if (m < 0) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	lv_begin(smp);
	rc = lv_rpc_run(smp->rpc, smp->rpc_calls, (size_t)m, smp->rpc_window, PIPELINE_TIMEOUT_MS,
			err, sizeof(err));
	lv_end(smp);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < ndoms; i++)
		fold_domain(smp, &smp->rpc_doms[i], (size_t)m, &unknown);
	/* Every domain libvirt's library listed unknown to the daemon here:
	 * this socket is not the daemon the library talks to. */
	if (ndoms && unknown == ndoms) {
		snprintf(err, sizeof(err), "the daemon knows none of the %zu listed domains", ndoms);
		goto fail;
	}
	return 0;
fail:
	sm_complain(&smp->rpc_complaint, SM_LOG_WARNING,
		    "pipelined statistics failed: %s; asking through libvirt's library, again in "
		    "%d passes",
		    err, PIPELINE_RETRY_PASSES);
	lv_rpc_destroy(&smp->rpc);
	smp->rpc_retry_gen = smp->pass_gen + PIPELINE_RETRY_PASSES;
	return -1;
}

static void pass_each(struct sampler *smp)
{
	virDomainPtr *doms;
	const uint8_t(*uuids)[16];
	int n;

	atomic_store(&smp->work_ns, 0);
	n = list_and_resolve(smp, &doms, &uuids);
	if (n < 0)
		return;
	if (!n || !pipeline(smp) || sample_pipelined(smp, doms, uuids, (size_t)n) < 0)
		sample_each(smp, doms, uuids, (size_t)n);
	free_domains(doms, n);
	smp->last_work_ns = atomic_load(&smp->work_ns);
}

/* Whether a bulk pass asks for the balloon group: on every memory_every-th
 * pass, and on any pass while a tracked domain has never had it. */
static bool bulk_memory_due(const struct sampler *smp)
{
	if (smp->pass_gen % smp->memory_every == 0)
		return true;
	for (size_t i = 0; i < dom_table_count(smp->table); i++)
		if (!dom_table_at(smp->table, i)->mem_read)
			return true;
	return false;
}

/* Reads the device lists that are not known (new domains, device events):
 * a domain with one disk can then have it read by a call of its own
 * (bulk_plan). One call per domain when it appears or its devices change. */
static void read_missing_devices(struct sampler *smp, virDomainStatsRecordPtr *recs,
				 const uint8_t (*uuids)[16], int n)
{
	for (int i = 0; i < n; i++) {
		struct dom_entry *e = entry_of(smp, recs[i]->dom, uuids, (size_t)i);

		if (e && e->need_devices)
			read_devices(smp, e, recs[i]->dom);
	}
}

/* In a pass without the block group: asks the block group of the domains
 * whose disks are not read one by one, in a second bulk call. */
static int blocks_of_the_rest(struct sampler *smp, virDomainStatsRecordPtr *recs,
			      const uint8_t (*uuids)[16], int n, virDomainStatsRecordPtr **blocks)
{
	size_t m = 0;
	int got;

	*blocks = NULL;
	if ((size_t)n + 1 > smp->rest_cap) {
		virDomainPtr *grown = realloc(smp->rest, ((size_t)n + 1) * sizeof(*grown));

		if (!grown)
			return 0; /* out of memory: those domains stay stale this tick */
		smp->rest = grown;
		smp->rest_cap = (size_t)n + 1;
	}
	for (int i = 0; i < n; i++) {
		struct dom_entry *e = entry_of(smp, recs[i]->dom, uuids, (size_t)i);

		if (e && !bulk_plan_disk_alone(e))
			smp->rest[m++] = recs[i]->dom;
	}
	if (m == 0)
		return 0;
	smp->rest[m] = NULL; /* virDomainListGetStats wants it terminated */
	lv_begin(smp);
	got = virDomainListGetStats(smp->rest, VIR_DOMAIN_STATS_BLOCK, blocks,
				    VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
	lv_end(smp);
	if (got < 0) {
		virResetLastError();
		return 0;
	}
	return got;
}

static void pass_bulk(struct sampler *smp)
{
	virDomainStatsRecordPtr *recs = NULL, *blocks = NULL;
	const uint8_t(*uuids)[16];
	bool with_memory = bulk_memory_due(smp);
	unsigned int groups = bulk_plan_groups(smp->plan, smp->table, with_memory);
	int n, nblocks = 0;

	lv_begin(smp);
	n = virConnectGetAllDomainStats(smp->conn, groups, &recs,
					VIR_CONNECT_LIST_DOMAINS_ACTIVE |
						VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
	lv_end(smp);
	if (n < 0) {
		if (check_connection(smp))
			return;
		use_per_domain(smp, lv_error());
		virResetLastError();
		pass_each(smp);
		return;
	}
	if ((size_t)n > smp->scratch_doms_cap) {
		virDomainPtr *grown = realloc(smp->scratch_doms, (size_t)n * sizeof(*grown));

		if (!grown) {
			sm_log_err("out of memory listing domains");
			goto out;
		}
		smp->scratch_doms = grown;
		smp->scratch_doms_cap = (size_t)n;
	}
	for (int i = 0; i < n; i++)
		smp->scratch_doms[i] = recs[i]->dom;
	uuids =
	    fill_uuids(smp, smp->scratch_doms, (size_t)n) ? (const uint8_t(*)[16])smp->uuids : NULL;
	if (dom_watcher_update(smp->watcher, smp->scratch_doms, uuids, (size_t)n) < 0)
		sm_log_err("out of memory resolving active domains");
	read_missing_devices(smp, recs, uuids, n);
	if (!bulk_plan_block_asked(smp->plan))
		nblocks = blocks_of_the_rest(smp, recs, uuids, n, &blocks);
	if (apply_records(smp, recs, uuids, n, with_memory, blocks, nblocks) < 0) {
		use_per_domain(smp, "no CPU time for running domains");
		virDomainStatsRecordListFree(recs);
		recs = NULL;
		pass_each(smp);
	}
out:
	virDomainStatsRecordListFree(blocks);
	virDomainStatsRecordListFree(recs);
}

/* Between ticks, after lifecycle events: reconcile now, and take a first
 * sample of new domains so that their first frame already has rates. */
static void pass_resolve(struct sampler *smp)
{
	virDomainPtr *doms;
	const uint8_t(*uuids)[16];
	int n = list_and_resolve(smp, &doms, &uuids);

	if (n < 0)
		return;
	if (smp->nfresh && smp->bulk) {
		virDomainStatsRecordPtr *recs = NULL;
		int m;

		smp->fresh[smp->nfresh] = NULL; /* virDomainListGetStats wants it terminated */
		lv_begin(smp);
		m = virDomainListGetStats(smp->fresh, BULK_PLAN_ALL_GROUPS, &recs,
					  VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
		lv_end(smp);
		/* A first sample asks for everything (BULK_PLAN_ALL_GROUPS), whatever
		 * the plan of the ticks. */
		bulk_plan_ask_all(smp->plan);
		if (m > 0 && apply_records(smp, recs, NULL, m, true, NULL, 0) < 0)
			use_per_domain(smp, "no CPU time for running domains");
		virDomainStatsRecordListFree(recs);
		virResetLastError();
	}
	if (smp->nfresh && !smp->bulk)
		sample_each(smp, smp->fresh, NULL, smp->nfresh);
	free_domains(doms, n);
}

/* One pass of the sampler: connect if needed, then a full sample (a tick)
 * or only a reconciliation (events between ticks). */
static void sampler_pass(struct sampler *smp, uint64_t gen, bool tick, bool refresh)
{
	smp->pass_gen = gen;
	if (smp->conn && atomic_load(&smp->conn_closed)) {
		char why[sizeof(smp->last_error) + 96];

		close_cause(smp, why, sizeof(why));
		drop_connection(smp, why);
	}
	smp->last_error[0] = '\0';
	/* No back-off beyond the tick: while libvirtd is away, each tick makes
	 * one attempt (on a local socket, a refused connect costs a syscall;
	 * a slow one costs this thread, never a frame), so the first tick after
	 * libvirtd answers again reconnects and its frame is already fresh. The
	 * failures are logged rate-limited. */
	if (!smp->conn) {
		if (!tick || open_connection(smp) < 0)
			return;
	}
	if (refresh) {
		for (size_t i = 0; i < dom_table_count(smp->table); i++) {
			struct dom_entry *e = dom_table_at(smp->table, i);

			e->need_identity = e->need_devices = true;
			if (!e->kernel)
				e->kernel_looked = false;
		}
	}
	/* Appearing domains are collected during the pass (for pass_resolve);
	 * room for as many as there could be is made up front. */
	smp->nfresh = 0;
	if (smp->fresh_cap < 1024) {
		virDomainPtr *f = realloc(smp->fresh, 1024 * sizeof(*f));

		if (f) {
			smp->fresh = f;
			smp->fresh_cap = 1024;
		}
	}
	if (!tick) {
		pass_resolve(smp);
	} else {
		int64_t t0 = sm_clock_mono_ns();
		bool bulk = smp->bulk;

		if (bulk)
			pass_bulk(smp);
		else
			pass_each(smp);
		/* How much of the interval a pass takes: what an operator
		 * sizing a node (or the benchmark) wants to see. */
		sm_log_debug("libvirt pass %" PRIu64 " (%s): %zu domains in %.1f ms", gen,
			     bulk ? "bulk" : "per domain", dom_table_count(smp->table),
			     (double)(sm_clock_mono_ns() - t0) / 1e6);
	}
	smp->nfresh = 0;
	atomic_fetch_add(&smp->passes, 1);
}

static void *sampler_main(void *arg)
{
	struct sampler *smp = arg;

	smp->loop_watch =
	    virEventAddHandle(smp->loop_fd, VIR_EVENT_HANDLE_READABLE, on_loop_fd, smp, NULL);
	if (smp->loop_watch < 0)
		sm_log_err("sampler: cannot watch its eventfd in libvirt's loop: %s", lv_error());
	pthread_mutex_lock(&smp->ctl);
	for (;;) {
		uint64_t gen;
		bool tick, refresh;

		/* Waiting for work is running libvirt's loop: lifecycle events
		 * and a closed connection are dispatched here, and a kick
		 * interrupts it through loop_fd. */
		while (!smp->quit && smp->kick_gen == smp->done_gen && !smp->wake_events) {
			pthread_mutex_unlock(&smp->ctl);
			if (smp->loop_watch < 0 || virEventRunDefaultImpl() < 0) {
				struct timespec pause = {0, 10 * 1000 * 1000}; /* never spin */

				virResetLastError();
				nanosleep(&pause, NULL);
			}
			pthread_mutex_lock(&smp->ctl);
		}
		if (smp->quit)
			break;
		gen = smp->kick_gen;
		tick = gen != smp->done_gen;
		refresh = smp->refresh_all;
		smp->refresh_all = false;
		smp->wake_events = false;
		pthread_mutex_unlock(&smp->ctl);

		sampler_pass(smp, gen, tick, refresh);

		pthread_mutex_lock(&smp->ctl);
		if (tick)
			smp->done_gen = gen;
		pthread_mutex_unlock(&smp->ctl);
		signal_main(smp);
		pthread_mutex_lock(&smp->ctl);
	}
	pthread_mutex_unlock(&smp->ctl);
	if (smp->loop_watch >= 0)
		virEventRemoveHandle(smp->loop_watch);
	smp->loop_watch = -1;
	return NULL;
}
/* ---- Caller's thread ------------------------------------------------- */

struct sampler *sampler_new(const char *uri, struct dom_table *table)
{
	struct sampler *smp = calloc(1, sizeof(*smp));

	if (!smp)
		goto fail;
	smp->efd = smp->loop_fd = smp->loop_watch = -1;
	smp->table = table;
	smp->memory_every = 1;
	smp->kernel_counters = true;
	smp->pipeline = true;
	smp->ncalls = 1;
	smp->plan = bulk_plan_new(0);
	pthread_mutex_init(&smp->error_lock, NULL);
	pthread_mutex_init(&smp->work_lock, NULL);
	pthread_cond_init(&smp->work_cond, NULL);
	pthread_cond_init(&smp->done_cond, NULL);
	atomic_init(&smp->work_next, 0);
	atomic_init(&smp->work_conn_lost, false);
	atomic_init(&smp->work_ns, 0);
	pthread_mutex_init(&smp->ctl, NULL);
	pthread_mutex_init(&smp->guard, NULL);
	if (uri && *uri && !(smp->uri = strdup(uri)))
		goto fail;
	if (event_loop_register() < 0)
		goto fail;
	smp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	smp->loop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	smp->watcher = dom_watcher_new(&watcher_ops, smp, on_wakeup);
	if (smp->efd < 0 || smp->loop_fd < 0 || !smp->watcher || !smp->plan)
		goto fail;
	for (unsigned i = 0; i < MAX_CALLS_IN_FLIGHT; i++) {
		struct sample_worker *w = &smp->workers[i];

		w->smp = smp;
		w->slot = i;
		w->sdisks = calloc(SM_WIRE_MAX_DEVICES, sizeof(*w->sdisks));
		w->snics = calloc(SM_WIRE_MAX_DEVICES, sizeof(*w->snics));
		if (!w->sdisks || !w->snics)
			goto fail;
		atomic_init(&smp->call_start_ns[i], 0);
	}
	atomic_init(&smp->conn_up, false);
	atomic_init(&smp->conn_closed, false);
	atomic_init(&smp->close_reason, VIR_CONNECT_CLOSE_REASON_ERROR);
	atomic_init(&smp->bulk_flag, false);
	atomic_init(&smp->call_max_ns, 0);
	atomic_init(&smp->passes, 0);
	atomic_init(&smp->reconnects, 0);
	atomic_init(&smp->helper_calls, 0);
	atomic_init(&smp->keepalive_armed, false);
	virSetErrorFunc(NULL, quiet_errors);
	return smp;
fail:
	sm_log_err("sampler: cannot allocate");
	sampler_destroy(&smp);
	return NULL;
}

bool sampler_stop(struct sampler *smp)
{
	struct timespec deadline;

	if (!smp->thread_started)
		return true;
	if (smp->thread_stuck)
		return false;
	pthread_mutex_lock(&smp->ctl);
	smp->quit = true;
	pthread_mutex_unlock(&smp->ctl);
	wake_sampler(smp);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += JOIN_WAIT_S;
	if (pthread_timedjoin_np(smp->thread, NULL, &deadline) != 0) {
		sm_log_warnx("a libvirt call is still hanging after %d s: leaving it", JOIN_WAIT_S);
		smp->thread_stuck = true;
		return false;
	}
	smp->thread_started = false;
	return true;
}

void sampler_destroy(struct sampler **sp)
{
	struct sampler *smp;

	if (!sp || !*sp)
		return;
	smp = *sp;
	*sp = NULL;
	/* Freeing what a stuck thread uses would crash it; the process exits
	 * right after this anyway. */
	if (!sampler_stop(smp))
		return;
	if (smp->conn) {
		dom_watcher_detach(smp->watcher);
		virConnectUnregisterCloseCallback(smp->conn, on_close);
		virConnectClose(smp->conn);
		smp->conn = NULL;
	}
	dom_watcher_destroy(&smp->watcher);
	lv_rpc_destroy(&smp->rpc);
	free(smp->rpc_calls);
	free(smp->rpc_doms);
	free(smp->fresh);
	free(smp->rest);
	free(smp->scratch_doms);
	free(smp->uuids);
	stop_helpers(smp);
	for (unsigned i = 0; i < MAX_CALLS_IN_FLIGHT; i++) {
		free(smp->workers[i].sdisks);
		free(smp->workers[i].snics);
	}
	pthread_cond_destroy(&smp->work_cond);
	pthread_cond_destroy(&smp->done_cond);
	pthread_mutex_destroy(&smp->work_lock);
	pthread_mutex_destroy(&smp->error_lock);
	if (smp->efd >= 0)
		close(smp->efd);
	if (smp->loop_fd >= 0)
		close(smp->loop_fd);
	pthread_mutex_destroy(&smp->ctl);
	pthread_mutex_destroy(&smp->guard);
	bulk_plan_destroy(&smp->plan);
	free(smp->uri);
	free(smp);
}

void sampler_set_memory_every(struct sampler *smp, unsigned passes)
{
	smp->memory_every = passes ? passes : 1;
}

void sampler_set_kernel_counters(struct sampler *smp, bool on)
{
	smp->kernel_counters = on;
}

void sampler_set_pipeline(struct sampler *smp, bool on)
{
	smp->pipeline = on;
}

void sampler_set_calls_in_flight(struct sampler *smp, unsigned calls, int64_t share_above_ns)
{
	smp->ncalls = calls < 1 ? 1 : calls > MAX_CALLS_IN_FLIGHT ? MAX_CALLS_IN_FLIGHT : calls;
	smp->share_above_ns = share_above_ns;
	/* The bulk path's own serial calls (one-disk domains' block counters)
	 * get the same quarter of the interval. */
	bulk_plan_set_budget(smp->plan, share_above_ns);
}

int sampler_start(struct sampler *smp)
{
	if (smp->thread_started)
		return 0;
	if (pthread_create(&smp->thread, NULL, sampler_main, smp) != 0) {
		sm_log_err("cannot start the sampler thread");
		return -1;
	}
	smp->thread_started = true;
	return 0;
}

int sampler_fd(const struct sampler *smp)
{
	return smp->efd;
}

void sampler_fd_clear(struct sampler *smp)
{
	uint64_t v;

	while (read(smp->efd, &v, sizeof(v)) == sizeof(v))
		;
}

uint64_t sampler_kick(struct sampler *smp)
{
	uint64_t gen;
	int64_t now = sm_clock_mono_ns();

	arm_keepalive(smp, now);
	tend_loop_while_hung(smp, now);
	pthread_mutex_lock(&smp->ctl);
	gen = ++smp->kick_gen;
	pthread_mutex_unlock(&smp->ctl);
	wake_sampler(smp);
	return gen;
}

bool sampler_pass_done(struct sampler *smp)
{
	bool done;

	pthread_mutex_lock(&smp->ctl);
	done = smp->done_gen == smp->kick_gen;
	pthread_mutex_unlock(&smp->ctl);
	return done;
}

void sampler_refresh(struct sampler *smp)
{
	pthread_mutex_lock(&smp->ctl);
	smp->refresh_all = true;
	pthread_mutex_unlock(&smp->ctl);
}

int64_t sampler_take_latency_ns(struct sampler *smp, int64_t now_ns)
{
	int64_t lat = atomic_exchange(&smp->call_max_ns, 0);
	int64_t start = oldest_call_start(smp);

	if (start && now_ns - start > lat)
		lat = now_ns - start; /* a call still hanging counts as it is so far */
	return lat;
}

void sampler_counters(const struct sampler *smp, struct sampler_counters *c)
{
	c->passes = atomic_load(&smp->passes);
	c->reconnects = atomic_load(&smp->reconnects);
	c->helper_calls = atomic_load(&smp->helper_calls);
	c->bulk = atomic_load(&smp->bulk_flag);
	c->connected = atomic_load(&smp->conn_up);
}
