/*
 * publisher — the seed's LibvirtDomainStatPublisher. It owns a sampler (the
 * libvirt connection, the ActiveDomainWatcher, the sampler thread), the
 * dom_table the sampler fills (one DomainStatTracker per active domain, the
 * event queue) and the host tracker, and turns them into one
 * AggregateDomainStats frame per tick plus "started"/"stopped" events.
 *
 * Two threads: every libvirt call happens in the sampler thread; the
 * caller's thread (the daemon's main loop) owns everything here: it only
 * ticks, packs and sends, so a libvirt call that hangs never delays a
 * frame: the frame goes out on time with the domains not refreshed marked
 * stale.
 */
#ifndef PUBLISHER_H
#define PUBLISHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sm_upstream;

struct publisher_config {
	const char *uri;       /* libvirt URI; NULL or "" = libvirt's default */
	const char *host;      /* name on the wire; must pass sm_wire_host_valid */
	double interval;       /* seconds between frames, > 0 */
	size_t max_frame;      /* body size limit in bytes (0 = SM_WIRE_FRAME_MAX_DEFAULT) */
	double memory_interval; /* seconds between reads of guest memory statistics (0 = each pass) */
	double full_interval;  /* seconds between two full records of a domain (0 = all full) */
	unsigned libvirt_calls; /* calls in flight at once on the per-domain path (0 = 1) */
	bool libvirt_cpu;      /* ask libvirt for CPU figures even where the kernel has them */
	bool no_pipeline;      /* per-domain calls through libvirt's library only (no lv_rpc) */
	const char *proc_root; /* host tracker's /proc (NULL = "/proc"; tests use their own) */
};

/* Counters for logs, tests and the benchmark. */
struct publisher_counters {
	uint64_t frames;        /* stats frames sent (or kept, without upstream) */
	uint64_t events;        /* started/stopped events sent */
	uint64_t send_drops;    /* messages the upstream refused (queue full) */
	uint64_t late_frames;   /* frames published at the deadline with stale domains */
	uint64_t passes;        /* sampler passes over libvirt */
	uint64_t reconnects;    /* libvirt connections opened after the first */
	size_t domains;         /* domains tracked now */
	size_t last_frame_size; /* bytes of the last stats body */
	bool bulk;              /* the bulk statistics API is in use */
	bool connected;         /* a libvirt connection is open */
};

struct publisher; /* opaque */

/*
 * A publisher sending through `up` (borrowed; NULL keeps frames for
 * publisher_last_frame instead, as --once wants). Copies the config.
 * libvirt's event loop must already run (event_loop_start). Returns NULL and
 * logs on failure. Nothing touches libvirt until publisher_start.
 */
struct publisher *publisher_new(const struct publisher_config *cfg, struct sm_upstream *up);

/* Stops the sampler thread (waiting a few seconds for a libvirt call in
 * progress), closes the libvirt connection, frees every tracker; nulls *p.
 * NULL-safe. If a libvirt call is still hung after the wait, the thread and
 * connection are abandoned (the process is about to exit). */
void publisher_destroy(struct publisher **p);

/* Starts the sampler thread; it connects to libvirt on the first tick.
 * Returns 0, or -1 when the thread cannot be created. */
int publisher_start(struct publisher *p);

/* A file descriptor that becomes readable when publisher_service has work
 * (a sampling pass ended, or events are queued): poll it. */
int publisher_fd(const struct publisher *p);

/* Begins an interval: asks the sampler for a fresh pass and schedules the
 * frame, which publisher_service sends as soon as the pass ends, or at the
 * deadline (half an interval, at most 2 s) with what is known. A frame
 * still pending from the previous tick is sent first. */
void publisher_tick(struct publisher *p, int64_t now_ns);

/* Milliseconds until the pending frame's deadline (0 if due), or -1 when no
 * frame is pending: a poll() timeout. */
int publisher_timeout_ms(const struct publisher *p, int64_t now_ns);

/* Sends queued events, then the pending frame if its pass ended or its
 * deadline passed. Call after every poll. Returns the number of stats
 * frames sent (0 or 1). */
int publisher_service(struct publisher *p, int64_t now_ns);

/* Asks for every domain's identity and device list to be read again (SIGHUP). */
void publisher_refresh(struct publisher *p);

/* True once the sampler has finished the pass of the latest tick. */
bool publisher_pass_done(struct publisher *p);

/* The last stats body built (valid until the next publisher_service). */
void publisher_last_frame(const struct publisher *p, const void **body, size_t *len);

void publisher_counters(const struct publisher *p, struct publisher_counters *c);

#endif
