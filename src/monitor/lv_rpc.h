/*
 * lv_rpc — the per-domain path's statistics calls, sent to libvirtd over its
 * read-only socket with several in flight (pipelined), instead of one round
 * trip at a time through libvirt's client library.
 *
 * Why: where libvirt has no bulk statistics (Xen's libxl, the test driver)
 * a pass asks each domain for its info, each disk and each NIC. libvirt's
 * client spends ~60 µs of CPU per call (a GLib main-loop iteration, a
 * dozen eventfd wake-ups, signal-mask changes); this client spends a write
 * and a read per batch (docs/MONITOR.md). libvirtd's own work per call is
 * the same either way.
 *
 * It serves only these four read-only calls. Connecting, listing domains,
 * events, XML and metadata stay with libvirt's library, and the sampler
 * falls back to it whenever this client cannot be used (another transport,
 * authentication required, a daemon that refuses, a broken reply).
 */
#ifndef LV_RPC_H
#define LV_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "lv_wire.h"

struct lv_rpc;

/* Where the stats client would reach the daemon behind libvirt URI `uri`:
 * the UNIX socket path and the name to open there. Served: "DRIVER+unix:///
 * PATH" (with at most a ?socket= parameter) and the daemon-only drivers'
 * local URIs ("xen:///system", "qemu:///system", "lxc:///system", ...).
 * Not served (returns -1 with *why set): in-process drivers (test:///),
 * other hosts and transports, other parameters, a missing socket. */
int lv_rpc_target(const char *uri, char *sock, size_t sock_size, char *name, size_t name_size,
		  const char **why);

/* Connects to sock and opens `name` read-only; NULL with err set on failure
 * (no socket, authentication needed, the daemon refused, timeout_ms passed). */
struct lv_rpc *lv_rpc_open(const char *sock, const char *name, int timeout_ms, char *err,
			   size_t err_size);

/* Closes the connection and frees; NULL-safe, nulls *rp. */
void lv_rpc_destroy(struct lv_rpc **rp);

enum lv_rpc_kind { LV_RPC_INFO, LV_RPC_BLOCK, LV_RPC_IFACE, LV_RPC_MEMORY };

/* One call of a batch: what to ask (in), and the answer (out). */
struct lv_rpc_call {
	enum lv_rpc_kind kind;
	struct lv_wire_domain dom;
	const char *device; /* LV_RPC_BLOCK, LV_RPC_IFACE */
	/* out: 0 = answered; else libvirt's error code (virErrorNumber) of the
	 * call's error reply, -1 when no answer came (the batch failed). */
	int error;
	int64_t answered_ns; /* CLOCK_MONOTONIC when its reply was read */
	union {
		struct lv_wire_info info;
		struct lv_wire_block block;
		struct lv_wire_iface iface;
		struct lv_wire_memory memory;
	} out;
};

/* Sends calls[0..n), keeping up to `window` in flight (libvirtd serves 5 at
 * once per client by default: max_client_requests), and reads their
 * replies. Returns 0 when every call was answered (each one's .error says
 * how); -1 with err set when the connection failed, a reply was malformed
 * or none came within timeout_ms: the client is then unusable. */
int lv_rpc_run(struct lv_rpc *r, struct lv_rpc_call *calls, size_t n, unsigned window,
	       int timeout_ms, char *err, size_t err_size);

#endif
