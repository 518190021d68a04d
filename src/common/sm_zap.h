/*
 * sm_zap — the ZAP handler (ZeroMQ RFC 27) of a process whose sockets are
 * CurveZMQ servers: a REP socket on inproc://zeromq.zap.01 that admits a
 * client only when its public key is one of the NAME.key files in the
 * allow-list directory, and names it by that NAME (the connection's
 * "User-Id", readable on every message with zmq_msg_gets). The files' `host`
 * metadata says which hosts' frames each identity may send.
 * It is served from the daemon's own loop (poll sm_zap_socket, then call
 * sm_zap_serve), so it is only ever touched by one thread, and the allow
 * list can be swapped (SIGHUP) between two requests. ZAP runs only during a
 * handshake: reloading never drops a connected peer.
 */
#ifndef SM_ZAP_H
#define SM_ZAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sm_zap; /* opaque */

/* Binds the handler in zctx (before any CURVE server socket binds) and
 * reads allow_dir. NULL, logged, when the directory cannot be read or the
 * endpoint is taken. Files that are not certificates are skipped with a
 * warning naming them. */
struct sm_zap *sm_zap_new(void *zctx, const char *allow_dir);
void sm_zap_destroy(struct sm_zap **z);

/* Reads the directory again: new keys admitted, removed ones refused from
 * the next handshake on (and their identity speaks for no host any more).
 * On failure the old list stays. Returns 0 or -1 (logged). */
int sm_zap_reload(struct sm_zap *z);

/* The REP socket, for the caller's zmq_poll (ZMQ_POLLIN). */
void *sm_zap_socket(const struct sm_zap *z);
/* Answers at most `max` waiting requests without blocking; returns how
 * many. A refusal is logged once per (peer address, key), at most a few
 * lines a minute, and always counted. */
size_t sm_zap_serve(struct sm_zap *z, size_t max);

/* True when identity `user_id` (a message's User-Id) is in the allow list
 * and one of its host patterns matches `host`. */
bool sm_zap_speaks_for(const struct sm_zap *z, const char *user_id, const char *host);

/* True when identity `user_id` is in the allow list with `role = relay`:
 * its connection may send a third frame naming each frame's origin
 * identity (a collector below this one). */
bool sm_zap_may_relay(const struct sm_zap *z, const char *user_id);

/* What the allow list says about an origin identity a relay passed on. */
enum sm_zap_origin {
	SM_ZAP_ORIGIN_UNKNOWN = 0, /* not in this allow list: nothing to check against */
	SM_ZAP_ORIGIN_MATCH,	   /* known, and one of its host patterns matches */
	SM_ZAP_ORIGIN_MISMATCH,	   /* known, and none of its host patterns matches */
};
enum sm_zap_origin sm_zap_origin_check(const struct sm_zap *z, const char *origin,
				       const char *host);

/* Handshakes refused since creation; keys in the allow list now. */
uint64_t sm_zap_refused(const struct sm_zap *z);
size_t sm_zap_keys(const struct sm_zap *z);

#endif
