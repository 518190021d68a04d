/*
 * sm_sockwatch — keeps the connections of a connecting SUB socket alive.
 * libzmq reconnects by itself after a connection error, but not when it
 * dropped a peer for a protocol error, above all a message larger than the
 * socket's ZMQ_MAXMSGSIZE: libzmq 4.3.4 then ends that connection for good
 * and the subscription stays silent without a word. A watch reads the
 * socket's monitor events (zmq_socket_monitor, on an inproc PAIR), logs each
 * lost connection once (rate-limited) with its endpoint and likely reason,
 * counts it, and connects again, with back-off, an endpoint that libzmq
 * gave up on. The daemon keeps owning the socket.
 */
#ifndef SM_SOCKWATCH_H
#define SM_SOCKWATCH_H

#include <stdint.h>
#include <zmq.h>

struct sm_message;
struct sm_sock_opts;
struct sm_sockwatch; /* opaque */

/* Starts watching `sock` (borrowed; made with sm_sock_new in zctx, with
 * `opts`: their max_msg_size is named in the log, their reconnect interval
 * and ceiling bound the back-off). NULL (logged) on failure. */
struct sm_sockwatch *sm_sockwatch_new(void *zctx, void *sock, const struct sm_sock_opts *opts);
/* Stops watching and frees the watch; call it before closing the socket.
 * NULL-safe; sets *w to NULL. */
void sm_sockwatch_destroy(struct sm_sockwatch **w);

struct sm_config;
/* A consumer's subscription as its configuration says, in one call: a SUB
 * socket (made in zctx with opts) subscribed to each of `kinds` for cfg's
 * host_prefix items (sm_sock_subscribe_hosts) and to every collector's
 * "hb/" (its heartbeats say the max_frame it relays), watched, and
 * connected to each of cfg's `subscribe` endpoints. Returns the watch and
 * the socket in *sub (destroy the watch first, then close the socket); NULL
 * (logged) and *sub NULL on failure. */
struct sm_sockwatch *sm_sockwatch_subscribe(void *zctx, const struct sm_config *cfg,
					    const struct sm_sock_opts *opts,
					    const char *const *kinds, size_t nkinds, void **sub);

/* Connects the socket to `spec` (as sm_sock_connect: ENDPOINT[@KEYFILE])
 * and remembers it, to connect it again should libzmq give up. 0 or -1
 * (logged). */
int sm_sockwatch_connect(struct sm_sockwatch *w, const char *spec);

/* The poll item of the monitor socket, so the caller's zmq_poll wakes on
 * its events. */
zmq_pollitem_t sm_sockwatch_pollitem(const struct sm_sockwatch *w);
/* `timeout_ms`, shortened so the caller is back in time for the watch's
 * next due step (-1 = none of its own). */
int sm_sockwatch_timeout_ms(const struct sm_sockwatch *w, int64_t now_ns, int timeout_ms);
/* Reads the monitor's events, logs and counts lost connections, and
 * connects again what is due. Call on every loop turn, with the monotonic
 * time in ns. */
void sm_sockwatch_service(struct sm_sockwatch *w, int64_t now_ns);

/* Notes a decoded message: a collector's heartbeat that says it relays
 * bodies larger than `own_max_frame` (this side's max_frame) is logged as a
 * warning, once per collector name and value, before any frame is lost.
 * Anything else, and heartbeats that say nothing (older collectors), are
 * ignored. */
void sm_sockwatch_note_heartbeat(struct sm_sockwatch *w, const struct sm_message *m,
				 size_t own_max_frame);

/* Established connections lost since creation (any reason). */
uint64_t sm_sockwatch_disconnects(const struct sm_sockwatch *w);
/* Connections libzmq gave up on and the watch made again. */
uint64_t sm_sockwatch_reconnects(const struct sm_sockwatch *w);

#endif
