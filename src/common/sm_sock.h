/*
 * sm_sock — the one place where StackMon creates and configures ZeroMQ
 * sockets, and sends/receives its two-frame messages (topic, body).
 * Every daemon builds sockets through sm_sock_new so that transport policy
 * (high-water marks, linger, reconnect back-off, TCP keepalive, maximum
 * message size — and later CurveZMQ keys) is applied in one place.
 */
#ifndef SM_SOCK_H
#define SM_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <zmq.h>

#include "sm_config.h" /* sm_sock_config_keys[] needs the complete struct sm_config_key */

struct sm_config;
struct sm_config_key;

/* Transport options applied to every socket. */
struct sm_sock_opts {
	int sndhwm;               /* messages queued per peer before send drops/blocks */
	int rcvhwm;               /* messages queued per peer on receive */
	int linger_ms;            /* how long close waits for unsent messages */
	int reconnect_ivl_ms;     /* first reconnect delay */
	int reconnect_ivl_max_ms; /* reconnect back-off ceiling */
	bool tcp_keepalive;       /* SO_KEEPALIVE on TCP transports */
	int tcp_keepalive_idle_s; /* idle seconds before the first probe */
	long long max_msg_size;   /* ZMQ_MAXMSGSIZE: larger inbound messages drop the peer; -1 = none */
	/* Security: reserved for CurveZMQ (server/public/secret keys). The
	 * daemons never read these; sm_sock_new applies them. */
	const char *curve_server_key; /* NULL: plain transport */
};

/* Config keys every daemon includes in its table, so the file and the
 * command line can set the transport options above. */
extern const struct sm_config_key sm_sock_config_keys[];
extern const size_t sm_sock_config_nkeys;

/* Defaults: hwm 10000, linger 200 ms, reconnect 100 ms..5 s, keepalive on
 * (60 s idle), max message SM_WIRE_FRAME_MAX_DEFAULT (8 MiB). */
void sm_sock_opts_default(struct sm_sock_opts *opts);
/* Reads sm_sock_config_keys from a config into opts. */
void sm_sock_opts_from_config(struct sm_sock_opts *opts, const struct sm_config *cfg);

/* Creates a socket of `type` (ZMQ_PUB, ZMQ_SUB, …) in `zctx` with opts
 * applied. Returns NULL and logs on failure. */
void *sm_sock_new(void *zctx, int type, const struct sm_sock_opts *opts);
/* Binds / connects, logging the endpoint and zmq's reason on failure.
 * Return 0 or -1. */
int sm_sock_bind(void *sock, const char *endpoint);
int sm_sock_connect(void *sock, const char *endpoint);
int sm_sock_disconnect(void *sock, const char *endpoint);
/* Subscribes a SUB socket to a topic prefix ("" = everything). */
int sm_sock_subscribe(void *sock, const char *prefix);
/* Closes *sock (linger applied at creation) and sets it to NULL. NULL-safe. */
void sm_sock_close(void **sock);

/* The socket file an ipc:// bind made. libzmq leaves it behind when the
 * socket closes, so the binder notes it right after the bind and removes it
 * at shutdown — only if the path still names that same file (device and
 * inode), so a successor that bound the same path meanwhile keeps its own. */
struct sm_ipc_file {
	char path[108]; /* sizeof(sockaddr_un.sun_path) */
	dev_t dev;
	ino_t ino;
	bool noted;
};
/* Notes the file of `endpoint` if it is an ipc:// path (not the "*"
 * wildcard); anything else leaves f un-noted. */
void sm_ipc_file_note(struct sm_ipc_file *f, const char *endpoint);
/* Unlinks a noted file that is still ours; then f is un-noted. NULL-safe. */
void sm_ipc_file_remove(struct sm_ipc_file *f);

/* Sends one message of two frames. flags: 0 or ZMQ_DONTWAIT. Returns 0, or
 * -1 with errno (EAGAIN when the high-water mark is reached). */
int sm_sock_send2(void *sock, const void *topic, size_t topic_len, const void *body,
		  size_t body_len, int flags);

/* One received message. `parts` is how many frames arrived; only the first
 * two are kept (extra frames are counted and discarded). */
struct sm_frames {
	zmq_msg_t topic; /* first frame */
	zmq_msg_t body;  /* second frame (empty if parts < 2) */
	int parts;       /* number of frames in the message as received */
};

/* Receives one whole message (all its frames). flags: 0 or ZMQ_DONTWAIT.
 * Returns 0, or -1 with errno (EAGAIN: nothing waiting; EINTR: signal).
 * On success the caller must call sm_frames_close. */
int sm_sock_recv2(void *sock, struct sm_frames *f, int flags);
void sm_frames_close(struct sm_frames *f);

#endif
