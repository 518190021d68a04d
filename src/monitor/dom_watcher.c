/*
 * dom_watcher — ActiveDomainWatcher (see dom_watcher.h). Two threads touch
 * it: libvirt's event loop only appends to `queue` under `lock`; the
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

#include "sm_clock.h"
#include "sm_log.h"
#include "sm_wire.h"

/* Events queued between two updates before the queue is declared
 * overflowed; then the next update re-reads every domain's details. */
#define QUEUE_MAX 4096
/* How long a domain listed as active may wait for libvirt's start event
 * before it is reported without one ("first-seen"). The list shows a domain
 * while QEMU is still starting it, up to a second before the event. */
#define START_WAIT_S 5.0

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
	void (*wakeup)(void *arg);   /* called from libvirt's event loop on each event */
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
	/* Listed, not known, and waiting for their start event (which says
	 * "booted", "restored", "migrated" …) since `since_ns`. */
	struct waiting {
		uint8_t uuid[16];
		int64_t since_ns;
		/* The start event's reason when it came before the list
		 * showed the domain; "" while it has not come. */
		char reason[SM_REASON_MAX + 1];
	} *waiting;
	size_t nwaiting, wcap;
	int64_t start_wait_ns;       /* START_WAIT_S, or what a test set */
	bool fresh;                  /* no update since creation or attach: what is
					listed now started before we could hear it */
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
	w->start_wait_ns = (int64_t)(START_WAIT_S * SM_NS_PER_SEC);
	w->fresh = true;
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
	free(w->waiting);
	free(w);
	*wp = NULL;
}

int dom_watcher_attach(struct dom_watcher *w, virConnectPtr conn)
{
	int rc = 0;

	dom_watcher_detach(w);
	w->conn = conn;
	/* What started while we were not attached sent its event to nobody. */
	w->fresh = true;
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

static struct waiting *waiting_find(struct dom_watcher *w, const uint8_t uuid[16])
{
	for (size_t i = 0; i < w->nwaiting; i++)
		if (memcmp(w->waiting[i].uuid, uuid, 16) == 0)
			return &w->waiting[i];
	return NULL;
}

static void waiting_forget(struct dom_watcher *w, const uint8_t uuid[16])
{
	struct waiting *q = waiting_find(w, uuid);

	if (q)
		*q = w->waiting[--w->nwaiting];
}

/* The appeared callback, once the domain is in the known set. */
static void appear(struct dom_watcher *w, struct current *c, const char *reason)
{
	waiting_forget(w, c->uuid);
	known_insert(w, c->uuid);
	c->appeared = true;
	w->ops.appeared(w->arg, c->dom, c->uuid, reason);
}

/* Whether a listed domain we do not know yet should wait for its start
 * event rather than be reported now as "first-seen": only while events
 * work and none was lost (a domain listed in the first update after
 * attaching started before we listened), and for start_wait_ns at most. */
static bool wait_for_start_event(struct dom_watcher *w, const struct current *c, bool overflow,
				 int64_t now_ns)
{
	struct waiting *q;

	if (w->fresh || overflow || !w->conn || w->cb_ids[0] < 0 || w->start_wait_ns <= 0)
		return false;
	q = waiting_find(w, c->uuid);
	if (!q) {
		/* Room was reserved for every listed domain, unless early start
		 * events took some: then report it now. */
		if (w->nwaiting == w->wcap)
			return false;
		q = &w->waiting[w->nwaiting++];
		memcpy(q->uuid, c->uuid, 16);
		q->since_ns = now_ns;
		q->reason[0] = '\0';
	}
	return now_ns - q->since_ns < w->start_wait_ns;
}

/* A start event for a domain the list (taken just before) did not show
 * yet: its reason is kept for the update that lists it. Without room the
 * reason is lost, never the domain (it is then reported as first-seen). */
static void waiting_note_start(struct dom_watcher *w, const uint8_t uuid[16], const char *reason,
			       int64_t now_ns)
{
	struct waiting *q = waiting_find(w, uuid);

	if (!q) {
		if (w->nwaiting == w->wcap) {
			size_t cap = w->wcap ? 2 * w->wcap : 16;
			struct waiting *grown = realloc(w->waiting, cap * sizeof(*grown));

			if (!grown)
				return;
			w->waiting = grown;
			w->wcap = cap;
		}
		q = &w->waiting[w->nwaiting++];
		memcpy(q->uuid, uuid, 16);
		q->since_ns = now_ns;
	}
	snprintf(q->reason, sizeof(q->reason), "%s", reason);
}

/* Forgets waiting domains that are known now, and those no longer listed
 * (stopped before their start event, or never started; they were never
 * reported), except a start event's reason for a domain not listed yet,
 * kept for start_wait_ns. */
static void waiting_prune(struct dom_watcher *w, size_t nc, int64_t now_ns)
{
	for (size_t i = w->nwaiting; i-- > 0;) {
		const struct waiting *q = &w->waiting[i];
		bool listed = cur_find(w, nc, q->uuid) != NULL;
		bool early = q->reason[0] && now_ns - q->since_ns < w->start_wait_ns;

		if (known_find(w, q->uuid) >= 0 || (!listed && !early))
			w->waiting[i] = w->waiting[--w->nwaiting];
	}
}

int dom_watcher_update(struct dom_watcher *w, virDomainPtr *doms, const uint8_t (*uuids)[16],
		       size_t n)
{
	size_t nb, nc = 0;
	int64_t now_ns = sm_clock_mono_ns();
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
	if (w->nwaiting + n > w->wcap) {
		size_t cap = w->nwaiting + n;
		struct waiting *q = realloc(w->waiting, cap * sizeof(*q));

		if (!q)
			return -1;
		w->waiting = q;
		w->wcap = cap;
	}
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
			waiting_forget(w, e->uuid);
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
			} else if (k < 0) {
				waiting_note_start(w, e->uuid, e->reason, now_ns);
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
			const struct waiting *q = waiting_find(w, c->uuid);

			if (q && q->reason[0]) {
				char reason[SM_REASON_MAX + 1];

				memcpy(reason, q->reason, sizeof(reason));
				appear(w, c, reason);
			} else if (!wait_for_start_event(w, c, overflow, now_ns)) {
				appear(w, c, "first-seen");
			}
			continue;
		}
		if (overflow)
			c->what |= DOM_CHANGE_METADATA | DOM_CHANGE_DEVICES;
		if (c->what && w->ops.changed)
			w->ops.changed(w->arg, c->dom, c->uuid, c->what);
	}
	waiting_prune(w, nc, now_ns);
	w->fresh = false;
	return 0;
}

void dom_watcher_set_start_wait(struct dom_watcher *w, double seconds)
{
	w->start_wait_ns = seconds > 0 ? (int64_t)(seconds * SM_NS_PER_SEC) : 0;
}

size_t dom_watcher_waiting(const struct dom_watcher *w)
{
	return w->nwaiting;
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
