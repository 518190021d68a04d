/*
 * sampler — the thread that makes every libvirt call of the monitor: it
 * keeps the one connection (keepalive, loss and reconnection on each tick),
 * the ActiveDomainWatcher, and samples the active domains in one bulk call
 * or domain by domain, folding each sample into the dom_table it is given.
 * Keeping libvirt in this one thread is what lets the publisher send every
 * frame on time however long a libvirt call hangs.
 *
 * Threads and what they own:
 *  - sampler thread: the connection, the watcher, every libvirt call, the
 *    table's structure and its entries' sampler-only fields;
 *  - caller's thread (main): sampler_kick/_pass_done/_refresh, through the
 *    control mutex; the eventfd it polls;
 *  - libvirt's event loop runs in the sampler thread too, while it waits
 *    for work: its callbacks (lifecycle events, a closed connection) only
 *    flag work. A loop in a thread of its own cost each libvirt call two
 *    cross-thread wake-ups (libvirt's client mutes and unmutes the
 *    connection's watch around every call): 20 % more CPU for the monitor
 *    and libvirtd together on the per-domain path;
 *  - any thread: the atomic health figures (connected, call latency,
 *    counters).
 */
#ifndef SAMPLER_H
#define SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

struct dom_table;

struct sampler_counters {
	uint64_t passes;     /* passes over libvirt ended */
	uint64_t reconnects; /* connections opened after the first */
	uint64_t helper_calls; /* libvirt calls made by the per-domain pass's helper threads */
	bool bulk;           /* the bulk statistics API is in use */
	bool connected;      /* a connection is open */
};

struct sampler; /* opaque */

/*
 * A sampler of `uri` (NULL or "": libvirt's default; copied) into `table`
 * (borrowed: it must outlive the sampler). libvirt's event loop must already
 * run (event_loop_start). Returns NULL and logs on failure. Nothing touches
 * libvirt until sampler_start and the first kick.
 */
struct sampler *sampler_new(const char *uri, struct dom_table *table);

/* Stops the thread (see sampler_stop), closes the connection, frees the
 * watcher; nulls *s. NULL-safe. After a sampler_stop that returned false
 * it frees nothing: the stuck thread still uses it. */
void sampler_destroy(struct sampler **s);

/* Reads each guest's memory statistics (the balloon driver's view) every
 * `passes` passes instead of every pass (0 and 1: every pass), reporting the
 * last figures in between. Before sampler_start. */
void sampler_set_memory_every(struct sampler *s, unsigned passes);

/* Whether the CPU figures of QEMU domains on this host (libvirt's cpu.time
 * and vcpu.N.delay) are read from the kernel (qemu_proc) rather than asked
 * of libvirt, which asks QEMU. Default on; a connection to another host or
 * driver, or a domain whose process is not found, uses libvirt's anyway.
 * Before sampler_start. */
void sampler_set_kernel_counters(struct sampler *s, bool on);

/* Whether the per-domain path's statistics calls are pipelined to libvirtd
 * (lv_rpc) where the URI allows it (a local daemon's socket, no
 * authentication step); default on. Off, or where it cannot serve, they go
 * through libvirt's library one round trip at a time. Before sampler_start. */
void sampler_set_pipeline(struct sampler *s, bool on);

/* How many libvirt calls the per-domain path may keep in flight at once
 * (threads sharing its domains; 1 to 8, default 1), and from when: once
 * the calls of a pass add up to more than share_above_ns (0 = always).
 * Before sampler_start. */
void sampler_set_calls_in_flight(struct sampler *s, unsigned calls, int64_t share_above_ns);

/* Starts the thread; it connects on the first kick. Returns 0, or -1 when
 * the thread cannot be created. */
int sampler_start(struct sampler *s);

/* Asks the thread to end and waits a few seconds for a libvirt call in
 * progress. True when it ended (or never started); false when a call still
 * hangs, and then neither the sampler nor its table may be freed. */
bool sampler_stop(struct sampler *s);

/* Readable when a pass ended or lifecycle events were queued: poll it,
 * then sampler_fd_clear. */
int sampler_fd(const struct sampler *s);
void sampler_fd_clear(struct sampler *s);

/* Asks for a full pass in a new generation and returns that generation:
 * entries sampled in it carry it as refreshed_gen. */
uint64_t sampler_kick(struct sampler *s);

/* True once the pass of the latest kick has ended. */
bool sampler_pass_done(struct sampler *s);

/* The next pass reads every domain's identity and device list again. */
void sampler_refresh(struct sampler *s);

/* Nanoseconds of the slowest libvirt call since the previous call of this
 * (one still in progress counts as long as it has lasted by now_ns), and
 * starts a new period. */
int64_t sampler_take_latency_ns(struct sampler *s, int64_t now_ns);

void sampler_counters(const struct sampler *s, struct sampler_counters *c);

#endif
