/*
 * dom_watcher — the seed's ActiveDomainWatcher. It knows which domains are
 * active, by UUID, and calls back exactly once when one appears and once
 * when it disappears. It learns this two ways: the list of active domains
 * the publisher resolves on every tick, and libvirt lifecycle events, which
 * arrive at once (in libvirt's event loop) and are only queued there; every
 * callback runs in the thread that calls dom_watcher_update.
 */
#ifndef DOM_WATCHER_H
#define DOM_WATCHER_H

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What changed in a domain that is still active. */
enum dom_change {
	DOM_CHANGE_METADATA = 1u << 0, /* Nova metadata may have changed: re-read identity */
	DOM_CHANGE_DEVICES = 1u << 1,  /* a disk or interface was added or removed */
};

/* Callbacks, all run inside dom_watcher_update. `dom` is borrowed for the
 * call; `reason` is a short word ("booted", "destroyed", "vanished", …). */
struct dom_watcher_ops {
	void (*appeared)(void *arg, virDomainPtr dom, const uint8_t uuid[16], const char *reason);
	void (*disappeared)(void *arg, const uint8_t uuid[16], const char *reason);
	void (*changed)(void *arg, virDomainPtr dom, const uint8_t uuid[16], unsigned what);
};

struct dom_watcher; /* opaque */

/* A watcher that reports to `ops` with `arg`. `wakeup` (may be NULL) is
 * called from libvirt's event loop each time an event is queued, so the
 * owner can run an update at once; it must only signal, never call libvirt.
 * Returns NULL on allocation failure. */
struct dom_watcher *dom_watcher_new(const struct dom_watcher_ops *ops, void *arg,
				    void (*wakeup)(void *arg));
/* Detaches if needed and frees; nulls *w. NULL-safe. No callback runs. */
void dom_watcher_destroy(struct dom_watcher **w);

/* Registers for lifecycle, metadata and device events on `conn` (borrowed
 * until detach). Needs libvirt's event loop running. Returns 0, or -1 when
 * the driver refuses events (the watcher then relies on the tick alone). */
int dom_watcher_attach(struct dom_watcher *w, virConnectPtr conn);
/* Deregisters from the attached connection (before it is closed), and drops
 * queued events. The set of known domains is kept: after a reconnection
 * the next update reports only what really changed. */
void dom_watcher_detach(struct dom_watcher *w);

/*
 * Reconciles the known set with `doms[0..n)`, the domains active now
 * (borrowed); `uuids` holds their UUIDs when the caller already has them
 * (NULL: the watcher asks libvirt). Queued events are applied after the list: a stop event for a
 * known domain reports it gone with the event's reason (and, if a start
 * event follows it in the queue, active again — a restart); known domains
 * missing from the list are reported gone ("vanished"), listed domains not
 * known are reported appeared (see dom_watcher_set_start_wait for when). Returns 0, or -1 on allocation failure (the
 * known set is unchanged and the next update tries again).
 */
int dom_watcher_update(struct dom_watcher *w, virDomainPtr *doms, const uint8_t (*uuids)[16],
		       size_t n);

/* A domain that appears in the list while the watcher is attached (and
 * was not listed in the first update after attaching) is reported when its
 * start event arrives, with the event's reason ("booted", …): the list
 * shows a domain while QEMU is still starting it, before libvirt says it
 * started. If no event comes within `seconds` (default 5; 0 = never wait)
 * it is reported as "first-seen". Not attached, or after lost events, a
 * listed domain is reported at once. */
void dom_watcher_set_start_wait(struct dom_watcher *w, double seconds);
/* Listed domains waiting for their start event (for tests and logs). */
size_t dom_watcher_waiting(const struct dom_watcher *w);

/* True if events were queued since the last update. */
bool dom_watcher_pending(struct dom_watcher *w);
/* Number of domains known to be active. */
size_t dom_watcher_count(const struct dom_watcher *w);
/* Events received since creation (for tests and debug logs). */
uint64_t dom_watcher_events(const struct dom_watcher *w);

/* The word used for a lifecycle event (virDomainEventType, detail), or NULL
 * when the event does not start or stop a domain. Exposed for tests. */
const char *dom_watcher_reason(int event, int detail);

#endif
