/*
 * dom_watcher — ActiveDomainWatcher (see dom_watcher.h). Two threads touch
 * it: libvirt's event thread only appends to `queue` under `lock`; the
 * updating thread owns everything else. The known set is a sorted array of
 * UUIDs, so an update costs O(n log n) and no allocation in the steady state.
 */
#include "dom_watcher.h"

#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "sm_log.h"
#include "sm_wire.h"

/* Events queued between two updates before the queue is declared
 * overflowed; then the next update re-reads every domain's details. */
#define QUEUE_MAX 4096

enum qkind { Q_STARTED, Q_STOPPED, Q_CHANGED };

struct qevent {
	uint8_t uuid[16];
	enum qkind kind;
	unsigned what;                  /* enum dom_change bits, for Q_CHANGED */
	char reason[SM_REASON_MAX + 1]; /* for Q_STARTED / Q_STOPPED */
};

/* One entry of the list passed to an update. */
struct current {
	uint8_t uuid[16];
	virDomainPtr dom; /* borrowed from the caller */
	bool suppress;    /* stopped by an event in this batch: not re-appeared */
	bool appeared;    /* reported appeared in this update */
	unsigned what;    /* changes to report */
};

struct dom_watcher {
	struct dom_watcher_ops ops;  /* callbacks */
	void *arg;                   /* their argument */
	void (*wakeup)(void *arg);   /* called from the event thread on each event */
	virConnectPtr conn;          /* attached connection (borrowed), or NULL */
	int cb_ids[4];               /* registered event callbacks, -1 = none */
	pthread_mutex_t lock;        /* guards queue, nqueue, overflow */
	struct qevent *queue;        /* events since the last update, in arrival order */
	size_t nqueue, qcap;
	bool overflow;               /* events were dropped: refresh everything */
	atomic_uint_fast64_t nevents; /* events received */
	struct qevent *batch;        /* the queue being applied (swapped with queue) */
	size_t bcap;
	uint8_t (*known)[16];        /* active domains, sorted by UUID */
	size_t nknown, kcap;
	struct current *cur;         /* scratch for the list of an update */
	size_t ccap;
};

const char *dom_watcher_reason(int event, int detail)
{
	switch (event) {
	case VIR_DOMAIN_EVENT_STARTED:
		switch (detail) {
		case VIR_DOMAIN_EVENT_STARTED_BOOTED:
			return "booted";
		case VIR_DOMAIN_EVENT_STARTED_MIGRATED:
			return "migrated";
		case VIR_DOMAIN_EVENT_STARTED_RESTORED:
			return "restored";
		case VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT:
			return "snapshot";
		case VIR_DOMAIN_EVENT_STARTED_WAKEUP:
			return "wakeup";
		default:
			return "started";
		}
	case VIR_DOMAIN_EVENT_STOPPED:
		switch (detail) {
		case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
			return "shutdown";
		case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
			return "destroyed";
		case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
			return "crashed";
		case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
			return "migrated";
		case VIR_DOMAIN_EVENT_STOPPED_SAVED:
			return "saved";
		case VIR_DOMAIN_EVENT_STOPPED_FAILED:
			return "failed";
		case VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT:
			return "snapshot";
		default:
			return "stopped";
		}
	default:
		return NULL;
	}
}

/* ---- Event thread side ------------------------------------------------- */

static void enqueue(struct dom_watcher *w, virDomainPtr dom, enum qkind kind, unsigned what,
		    const char *reason)
{
	struct qevent *e;

	atomic_fetch_add(&w->nevents, 1);
	pthread_mutex_lock(&w->lock);
	if (w->nqueue == w->qcap) {
		size_t cap = w->qcap ? w->qcap * 2 : 16;
		struct qevent *q = cap <= QUEUE_MAX ? realloc(w->queue, cap * sizeof(*q)) : NULL;

		if (!q) {
			w->overflow = true;
			goto out;
		}
		w->queue = q;
		w->qcap = cap;
	}
	e = &w->queue[w->nqueue];
	if (virDomainGetUUID(dom, e->uuid) < 0)
		goto out;
	e->kind = kind;
	e->what = what;
	snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
	w->nqueue++;
out:
	pthread_mutex_unlock(&w->lock);
	if (w->wakeup)
		w->wakeup(w->arg);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	const char *reason = dom_watcher_reason(event, detail);

	if (reason)
		enqueue(opaque, dom, event == VIR_DOMAIN_EVENT_STARTED ? Q_STARTED : Q_STOPPED, 0,
			reason);
	return 0;
}

/* Any metadata change triggers a re-read: they are rare, and filtering on
 * the namespace here would need the list of Nova namespaces twice. */
static void on_metadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
			void *opaque)
{
	enqueue(opaque, dom, Q_CHANGED, DOM_CHANGE_METADATA, NULL);
}

static void on_device(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
	enqueue(opaque, dom, Q_CHANGED, DOM_CHANGE_DEVICES, NULL);
}

/* ---- Updating thread side ---------------------------------------------- */

struct dom_watcher *dom_watcher_new(const struct dom_watcher_ops *ops, void *arg,
				    void (*wakeup)(void *arg))
{
	struct dom_watcher *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->ops = *ops;
	w->arg = arg;
	w->wakeup = wakeup;
	for (size_t i = 0; i < 4; i++)
		w->cb_ids[i] = -1;
	atomic_init(&w->nevents, 0);
	pthread_mutex_init(&w->lock, NULL);
	return w;
}

void dom_watcher_destroy(struct dom_watcher **wp)
{
	struct dom_watcher *w;

	if (!wp || !*wp)
		return;
	w = *wp;
	dom_watcher_detach(w);
	pthread_mutex_destroy(&w->lock);
	free(w->queue);
	free(w->batch);
	free(w->known);
	free(w->cur);
	free(w);
	*wp = NULL;
}

int dom_watcher_attach(struct dom_watcher *w, virConnectPtr conn)
{
	int rc = 0;

	dom_watcher_detach(w);
	w->conn = conn;
	w->cb_ids[0] = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
							VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
							w, NULL);
	if (w->cb_ids[0] < 0)
		rc = -1;
	/* The others are refinements: a driver without them still works. */
	w->cb_ids[1] = virConnectDomainEventRegisterAny(conn, NULL,
							VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
							VIR_DOMAIN_EVENT_CALLBACK(on_metadata),
							w, NULL);
	w->cb_ids[2] = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
							VIR_DOMAIN_EVENT_CALLBACK(on_device), w,
							NULL);
	w->cb_ids[3] = virConnectDomainEventRegisterAny(conn, NULL,
							VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
							VIR_DOMAIN_EVENT_CALLBACK(on_device), w,
							NULL);
	virResetLastError();
	return rc;
}

void dom_watcher_detach(struct dom_watcher *w)
{
	if (w->conn) {
		for (size_t i = 0; i < 4; i++)
			if (w->cb_ids[i] >= 0)
				virConnectDomainEventDeregisterAny(w->conn, w->cb_ids[i]);
		virResetLastError();
	}
	for (size_t i = 0; i < 4; i++)
		w->cb_ids[i] = -1;
	w->conn = NULL;
	pthread_mutex_lock(&w->lock);
	w->nqueue = 0;
	w->overflow = false;
	pthread_mutex_unlock(&w->lock);
}

static int uuid_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* Index of uuid in the known set, or -1. */
static ssize_t known_find(const struct dom_watcher *w, const uint8_t uuid[16])
{
	const uint8_t(*k)[16] = w->nknown ? bsearch(uuid, w->known, w->nknown, 16, uuid_cmp) : NULL;

	return k ? k - (const uint8_t(*)[16])w->known : -1;
}

/* Makes room for n known domains; 0 or -1. */
static int known_reserve(struct dom_watcher *w, size_t n)
{
	size_t cap = w->kcap ? w->kcap : 64;
	uint8_t(*k)[16];

	if (n <= w->kcap)
		return 0;
	while (cap < n)
		cap *= 2;
	k = realloc(w->known, cap * 16);
	if (!k)
		return -1;
	w->known = k;
	w->kcap = cap;
	return 0;
}

/* Inserts in order; room was reserved at the start of the update. */
static void known_insert(struct dom_watcher *w, const uint8_t uuid[16])
{
	size_t lo = 0, hi = w->nknown;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (memcmp(w->known[mid], uuid, 16) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(w->known[lo + 1], w->known[lo], (w->nknown - lo) * 16);
	memcpy(w->known[lo], uuid, 16);
	w->nknown++;
}

static void known_remove(struct dom_watcher *w, size_t i)
{
	memmove(w->known[i], w->known[i + 1], (w->nknown - i - 1) * 16);
	w->nknown--;
}

static struct current *cur_find(const struct dom_watcher *w, size_t n, const uint8_t uuid[16])
{
	/* struct current starts with the UUID, so the same comparator works. */
	return n ? bsearch(uuid, w->cur, n, sizeof(*w->cur), uuid_cmp) : NULL;
}

/* The appeared callback, once the domain is in the known set. */
static void appear(struct dom_watcher *w, struct current *c, const char *reason)
{
	known_insert(w, c->uuid);
	c->appeared = true;
	w->ops.appeared(w->arg, c->dom, c->uuid, reason);
}

int dom_watcher_update(struct dom_watcher *w, virDomainPtr *doms, const uint8_t (*uuids)[16],
		       size_t n)
{
	size_t nb, nc = 0;
	bool overflow;
	struct qevent *tmp;
	size_t tmpcap;

	/* Every allocation happens here, before anything is reported, so a
	 * failure leaves the watcher exactly as it was. */
	if (n > w->ccap) {
		struct current *c = realloc(w->cur, n * sizeof(*c));

		if (!c)
			return -1;
		w->cur = c;
		w->ccap = n;
	}
	if (known_reserve(w, w->nknown + n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct current *c = &w->cur[nc];

		if (uuids)
			memcpy(c->uuid, uuids[i], 16);
		else if (virDomainGetUUID(doms[i], c->uuid) < 0)
			continue;
		c->dom = doms[i];
		c->suppress = c->appeared = false;
		c->what = 0;
		nc++;
	}
	virResetLastError();
	qsort(w->cur, nc, sizeof(*w->cur), uuid_cmp);

	/* Take the queue as it is now; events arriving meanwhile wait for the
	 * next update. Swapping buffers keeps the lock short. */
	pthread_mutex_lock(&w->lock);
	tmp = w->batch;
	tmpcap = w->bcap;
	w->batch = w->queue;
	w->bcap = w->qcap;
	nb = w->nqueue;
	w->queue = tmp;
	w->qcap = tmpcap;
	w->nqueue = 0;
	overflow = w->overflow;
	w->overflow = false;
	pthread_mutex_unlock(&w->lock);

	for (size_t i = 0; i < nb; i++) {
		const struct qevent *e = &w->batch[i];
		struct current *c = cur_find(w, nc, e->uuid);
		ssize_t k = known_find(w, e->uuid);

		switch (e->kind) {
		case Q_STOPPED:
			if (k >= 0) {
				known_remove(w, (size_t)k);
				w->ops.disappeared(w->arg, e->uuid, e->reason);
			}
			/* Listed but stopped since (or restarted: a start event
			 * follows and clears this). */
			if (c)
				c->suppress = true;
			break;
		case Q_STARTED:
			if (c) {
				c->suppress = false;
				if (k < 0)
					appear(w, c, e->reason);
			}
			break;
		case Q_CHANGED:
			if (c)
				c->what |= e->what;
			break;
		}
	}

	/* Known but no longer listed: gone without an event we saw. */
	for (size_t k = w->nknown; k-- > 0;) {
		uint8_t uuid[16];

		if (cur_find(w, nc, w->known[k]))
			continue;
		memcpy(uuid, w->known[k], 16);
		known_remove(w, k);
		w->ops.disappeared(w->arg, uuid, "vanished");
	}

	for (size_t i = 0; i < nc; i++) {
		struct current *c = &w->cur[i];

		if (c->suppress || c->appeared)
			continue;
		if (known_find(w, c->uuid) < 0) {
			appear(w, c, "first-seen");
			continue;
		}
		if (overflow)
			c->what |= DOM_CHANGE_METADATA | DOM_CHANGE_DEVICES;
		if (c->what && w->ops.changed)
			w->ops.changed(w->arg, c->dom, c->uuid, c->what);
	}
	return 0;
}

bool dom_watcher_pending(struct dom_watcher *w)
{
	bool pending;

	pthread_mutex_lock(&w->lock);
	pending = w->nqueue > 0 || w->overflow;
	pthread_mutex_unlock(&w->lock);
	return pending;
}

size_t dom_watcher_count(const struct dom_watcher *w)
{
	return w->nknown;
}

uint64_t dom_watcher_events(const struct dom_watcher *w)
{
	return atomic_load(&w->nevents);
}
