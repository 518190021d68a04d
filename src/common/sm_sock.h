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

#include "sm_cert.h"   /* SM_CURVE_KEY_Z85 */
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
	/* CurveZMQ (docs/SECURITY.md). The daemons never read these;
	 * sm_sock_new and sm_sock_bind/connect apply them. */
	bool curve;		     /* encrypt and authenticate every socket */
	char curve_public[SM_CURVE_KEY_Z85 + 1];	     /* own long-term public key, Z85 */
	char curve_secret[SM_CURVE_KEY_Z85 + 1];	     /* own secret key, Z85 */
	char curve_server[SM_CURVE_KEY_Z85 + 1];	     /* server key for connecting sockets, Z85; "" none */
	bool curve_unusable;	     /* curve asked for but keys not loaded: refuse sockets */
	bool curve_relay;	     /* own key has role = relay: an intermediate collector
				        sends each frame's origin identity upstream */
};

/* Config keys every daemon includes in its table, so the file and the
 * command line can set the transport options above. */
extern const struct sm_config_key sm_sock_config_keys[];
extern const size_t sm_sock_config_nkeys;

/* Room a frame needs under ZMQ_MAXMSGSIZE beyond the body limit max_frame.
 * libzmq applies the limit to each ZeroMQ frame as it arrives (the body is
 * the largest; the topic travels in a frame of its own), after CURVE, whose
 * box adds 33 bytes; the rest is margin. */
#define SM_SOCK_FRAME_OVERHEAD 4096
/* Default max_msg_size: the default max_frame plus the overhead. */
#define SM_SOCK_MAX_MSG_DEFAULT (8388608 + SM_SOCK_FRAME_OVERHEAD)

/* Defaults: hwm 10000, linger 200 ms, reconnect 100 ms..1 s, keepalive on
 * (60 s idle), max message SM_SOCK_MAX_MSG_DEFAULT (8 MiB + 4 KiB). */
void sm_sock_opts_default(struct sm_sock_opts *opts);
/* For a process that receives frames of bodies up to max_frame: checks that
 * max_msg_size lets every such frame through, since ZeroMQ drops (and, for
 * a connecting socket, does not reconnect) a peer whose frame is larger.
 * max_msg_size must be -1 (no limit) or at least max_frame +
 * SM_SOCK_FRAME_OVERHEAD; 0, other negatives and overflowing sums are
 * refused. Returns 0, or -1 with one line naming both keys and values and
 * the fix in err. */
int sm_sock_limits_check(long long max_msg_size, long long max_frame, char *err, size_t errlen);
/* Reads sm_sock_config_keys from a config into opts. With curve = yes it
 * loads the key files: the own secret key (must be mode 0600 or stricter)
 * and, when given, the server's public key. Returns 0, or -1 after logging
 * which file is missing, malformed or too open; opts then makes no socket. */
int sm_sock_opts_from_config(struct sm_sock_opts *opts, const struct sm_config *cfg);

/* Creates a socket of `type` (ZMQ_PUB, ZMQ_SUB, …) in `zctx` with opts
 * applied (with curve: the own key pair, and the server key as a client's
 * default). Returns NULL and logs on failure. */
void *sm_sock_new(void *zctx, int type, const struct sm_sock_opts *opts);
/* Binds / connects, logging the endpoint and zmq's reason on failure.
 * Return 0 or -1.
 * A CurveZMQ socket that binds becomes a CURVE server whose clients are
 * authorised by the ZAP handler (sm_zap, domain SM_ZAP_DOMAIN), which must
 * be running in the same context before the first bind; one that connects
 * is a client. Sockets here either bind or connect, never both.
 * sm_sock_connect takes "ENDPOINT@KEYFILE": the public key file of that
 * server, for that connection only (the opts' curve_server stays the
 * default for others); ignored by a plain socket. */
int sm_sock_bind(void *sock, const char *endpoint);
int sm_sock_connect(void *sock, const char *endpoint);
int sm_sock_disconnect(void *sock, const char *endpoint);
/* Connects with `server_key` (Z85) as this connection's CURVE server key;
 * "" keeps the socket's own. A CURVE socket with no server key at all is
 * refused (the handshake could never succeed). 0 or -1 (logged). */
int sm_sock_connect_key(void *sock, const char *endpoint, const char *server_key);

/* ZAP domain of StackMon's CURVE servers. */
#define SM_ZAP_DOMAIN "stackmon"

/* Splits "ENDPOINT@KEYFILE": the key file is what follows the last '@' that
 * does not come right after '/' (so ipc://@abstract names stay whole).
 * Copies the endpoint into ep; *keyfile points into spec or is NULL.
 * -1 when the endpoint does not fit or the key file is empty. */
int sm_endpoint_split(const char *spec, char *ep, size_t eplen, const char **keyfile);
/* Reads a public key file (sm_cert) into key (Z85). 0, or -1 logged with
 * the file named. */
int sm_sock_load_server_key(const char *path, char key[SM_CURVE_KEY_Z85 + 1]);
/* Subscribes a SUB socket to a topic prefix ("" = everything). */
int sm_sock_subscribe(void *sock, const char *prefix);

/* The consumers' `host_prefix` key: a shard of a site chosen by ZeroMQ topic
 * subscription (topics are KIND/HOST/), so the collector's fan-out sends a
 * subscriber only its hosts' frames. */
#define SM_SOCK_HOST_PREFIX_KEY                                                                  \
	{"host_prefix", SM_CFG_LIST, 0, 0, NULL,                                                 \
	 "take frames only from hosts whose name starts with this (repeatable: a shard of the"   \
	 " site by ZeroMQ topic subscription; unset = every host)"}
/* 0 when every host_prefix of cfg could start a host name (1 to
 * SM_HOST_MAX of [A-Za-z0-9._-]); otherwise -1 and the first bad one named
 * in err (for -n and the start-up checks). */
int sm_sock_host_prefix_check(const struct sm_config *cfg, char *err, size_t len);
/* Subscribes to each of `kinds` ("stats", "event", ...) for each of cfg's
 * host_prefix items, or for every host when there is none. -1 (logged) if
 * a prefix is bad or a subscription fails. */
int sm_sock_subscribe_hosts(void *sock, const struct sm_config *cfg, const char *const *kinds,
			    size_t nkinds);
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
	int fd; /* O_PATH on the file while noted: its inode number cannot be reused */
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

/* One received message. `parts` is how many frames arrived; the first three
 * are kept (more are counted and discarded). StackMon messages are two
 * frames; only the hop from an intermediate collector to its upstream may
 * carry a third, the origin identity (docs/PROTOCOL.md), and only a
 * collector looks at it: everyone else refuses parts != 2. */
struct sm_frames {
	zmq_msg_t topic;  /* first frame */
	zmq_msg_t body;   /* second frame (empty if parts < 2) */
	zmq_msg_t origin; /* third frame (empty if parts < 3) */
	int parts;        /* number of frames in the message as received */
};

/* Receives one whole message (all its frames). flags: 0 or ZMQ_DONTWAIT.
 * Returns 0, or -1 with errno (EAGAIN: nothing waiting; EINTR: signal).
 * On success the caller must call sm_frames_close. */
int sm_sock_recv2(void *sock, struct sm_frames *f, int flags);
void sm_frames_close(struct sm_frames *f);

#endif
