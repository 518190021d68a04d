/*
 * sm_sock — see sm_sock.h. All transport policy lives here: a daemon never
 * calls zmq_setsockopt itself, so one change (say, CurveZMQ) reaches every
 * socket. Messages are (topic, body) pairs sent as one atomic multipart.
 */
#define _GNU_SOURCE /* O_PATH */
#include "sm_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sm_cert.h"
#include "sm_config.h"
#include "sm_log.h"
#include "sm_wire.h"

/* The textual defaults below must agree with sm_sock_opts_default. */
const struct sm_config_key sm_sock_config_keys[] = {
    {"hwm", SM_CFG_INT, 1, 10000000, "10000",
     "messages queued per peer (send and receive) before dropping or blocking"},
    {"linger_ms", SM_CFG_INT, 0, 60000, "200",
     "how long closing a socket waits for unsent messages (ms)"},
    {"reconnect_ivl_ms", SM_CFG_INT, 1, 600000, "100", "first reconnect delay (ms)"},
    /* A restarted collector holds its fan-in for startup_grace (2 s): its
     * subscribers must be back within that, so the ceiling stays at 1 s. */
    {"reconnect_ivl_max_ms", SM_CFG_INT, 0, 3600000, "1000",
     "reconnect back-off ceiling (ms; 0 = no back-off)"},
    {"tcp_keepalive", SM_CFG_BOOL, 0, 0, "yes", "TCP keepalive probes on idle connections"},
    {"tcp_keepalive_idle", SM_CFG_INT, 1, 86400, "60",
     "idle seconds before the first keepalive probe"},
    {"max_msg_size", SM_CFG_INT, -1, 1073745920, "8392704",
     "largest inbound frame in bytes; a peer sending more is dropped (-1 = no limit); "
     "at least max_frame + 4096 where frames are received"},
    {"curve", SM_CFG_BOOL, 0, 0, "no",
     "CurveZMQ: encrypt every connection and authenticate both ends (keys below)"},
    {"curve_secret_key", SM_CFG_STRING, 0, 0, NULL,
     "this process's key pair, a NAME.key_secret file of stackmon-keygen (mode 0600)"},
    {"curve_server_key", SM_CFG_STRING, 0, 0, NULL,
     "public key file of the collector connected to, for endpoints without @KEYFILE"},
};
const size_t sm_sock_config_nkeys = sizeof(sm_sock_config_keys) / sizeof(sm_sock_config_keys[0]);

void sm_sock_opts_default(struct sm_sock_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->sndhwm = 10000;
	opts->rcvhwm = 10000;
	opts->linger_ms = 200;
	opts->reconnect_ivl_ms = 100;
	opts->reconnect_ivl_max_ms = 1000;
	opts->tcp_keepalive = true;
	opts->tcp_keepalive_idle_s = 60;
	/* The wire decoder's limit plus room for the frame's transport
	 * overhead: a frame the decoder would refuse by far is stopped at the
	 * transport before it is buffered, one it accepts never is. */
	opts->max_msg_size = SM_SOCK_MAX_MSG_DEFAULT;
	opts->curve = false;
}

int sm_sock_load_server_key(const char *path, char key[SM_CURVE_KEY_Z85 + 1])
{
	struct sm_cert cert = {0};
	char err[4400];

	if (sm_cert_load(path, false, &cert, err, sizeof(err)) < 0) {
		sm_log_err("curve server key: %s", err);
		return -1;
	}
	memcpy(key, cert.public_key, sizeof(cert.public_key));
	sm_cert_clear(&cert);
	return 0;
}

/* Loads the key files named in cfg into opts; -1 (logged) on any problem. */
static int opts_load_keys(struct sm_sock_opts *opts, const struct sm_config *cfg)
{
	const char *secret = sm_config_string(cfg, "curve_secret_key");
	const char *server = sm_config_string(cfg, "curve_server_key");
	struct sm_cert cert = {0};
	char err[4400];

	if (!secret) {
		sm_log_err("curve = yes needs curve_secret_key (a key pair from stackmon-keygen)");
		return -1;
	}
	if (sm_cert_load(secret, true, &cert, err, sizeof(err)) < 0) {
		sm_log_err("curve secret key: %s", err);
		return -1;
	}
	memcpy(opts->curve_public, cert.public_key, sizeof(opts->curve_public));
	memcpy(opts->curve_secret, cert.secret_key, sizeof(opts->curve_secret));
	opts->curve_relay = cert.relay;
	sm_cert_clear(&cert);
	if (server && sm_sock_load_server_key(server, opts->curve_server) < 0)
		return -1;
	return 0;
}

int sm_sock_opts_from_config(struct sm_sock_opts *opts, const struct sm_config *cfg)
{
	sm_sock_opts_default(opts);
	opts->sndhwm = (int)sm_config_int(cfg, "hwm");
	opts->rcvhwm = opts->sndhwm;
	opts->linger_ms = (int)sm_config_int(cfg, "linger_ms");
	opts->reconnect_ivl_ms = (int)sm_config_int(cfg, "reconnect_ivl_ms");
	opts->reconnect_ivl_max_ms = (int)sm_config_int(cfg, "reconnect_ivl_max_ms");
	opts->tcp_keepalive = sm_config_bool(cfg, "tcp_keepalive");
	opts->tcp_keepalive_idle_s = (int)sm_config_int(cfg, "tcp_keepalive_idle");
	opts->max_msg_size = sm_config_int(cfg, "max_msg_size");
	opts->curve = sm_config_bool(cfg, "curve");
	if (opts->curve && opts_load_keys(opts, cfg) < 0) {
		/* Never fall back to plain text: every socket is refused. */
		memset(opts->curve_secret, 0, sizeof(opts->curve_secret));
		opts->curve_unusable = true;
		return -1;
	}
	return 0;
}

int sm_sock_limits_check(long long max_msg_size, long long max_frame, char *err, size_t errlen)
{
	long long need;

	if (max_frame < 1) {
		snprintf(err, errlen, "max_frame = %lld: must be at least 1 byte", max_frame);
		return -1;
	}
	if (max_frame > LLONG_MAX - SM_SOCK_FRAME_OVERHEAD) {
		snprintf(err, errlen,
			 "max_frame = %lld is too large: max_frame + %d bytes of overhead "
			 "overflows",
			 max_frame, SM_SOCK_FRAME_OVERHEAD);
		return -1;
	}
	need = max_frame + SM_SOCK_FRAME_OVERHEAD;
	if (max_msg_size == -1 || max_msg_size >= need)
		return 0;
	if (max_msg_size < -1)
		snprintf(err, errlen,
			 "max_msg_size = %lld: give -1 (no limit) or a size of at least max_frame "
			 "(%lld) + %d = %lld bytes",
			 max_msg_size, max_frame, SM_SOCK_FRAME_OVERHEAD, need);
	else
		snprintf(err, errlen,
			 "max_msg_size = %lld is smaller than max_frame = %lld + %d bytes of "
			 "frame overhead: ZeroMQ would drop, and not reconnect, a peer sending a "
			 "frame that max_frame allows; set max_msg_size to at least %lld, or -1 "
			 "for no limit (and give every daemon along one path the same max_frame)",
			 max_msg_size, max_frame, SM_SOCK_FRAME_OVERHEAD, need);
	return -1;
}

static int set_int(void *sock, int option, const char *name, int value)
{
	if (zmq_setsockopt(sock, option, &value, sizeof(value)) == 0)
		return 0;
	sm_log_err("zmq_setsockopt(%s, %d): %s", name, value, zmq_strerror(errno));
	return -1;
}

void *sm_sock_new(void *zctx, int type, const struct sm_sock_opts *opts)
{
	struct sm_sock_opts defaults;
	int64_t maxmsg;
	void *sock;
	int saved;

	if (!opts) {
		sm_sock_opts_default(&defaults);
		opts = &defaults;
	}
	/* Refuse rather than run in the clear when security was asked for. */
	if (opts->curve_unusable || (opts->curve && !opts->curve_secret[0])) {
		sm_log_err("CurveZMQ asked for, but no usable key pair was loaded");
		errno = EINVAL;
		return NULL;
	}
	sock = zmq_socket(zctx, type);
	if (!sock) {
		sm_log_err("zmq_socket(type %d): %s", type, zmq_strerror(errno));
		return NULL;
	}
	maxmsg = opts->max_msg_size;
	if (set_int(sock, ZMQ_SNDHWM, "ZMQ_SNDHWM", opts->sndhwm) < 0 ||
	    set_int(sock, ZMQ_RCVHWM, "ZMQ_RCVHWM", opts->rcvhwm) < 0 ||
	    set_int(sock, ZMQ_LINGER, "ZMQ_LINGER", opts->linger_ms) < 0 ||
	    set_int(sock, ZMQ_RECONNECT_IVL, "ZMQ_RECONNECT_IVL", opts->reconnect_ivl_ms) < 0 ||
	    set_int(sock, ZMQ_RECONNECT_IVL_MAX, "ZMQ_RECONNECT_IVL_MAX",
		    opts->reconnect_ivl_max_ms) < 0 ||
	    set_int(sock, ZMQ_TCP_KEEPALIVE, "ZMQ_TCP_KEEPALIVE", opts->tcp_keepalive ? 1 : 0) <
		0 ||
	    (opts->tcp_keepalive && set_int(sock, ZMQ_TCP_KEEPALIVE_IDLE, "ZMQ_TCP_KEEPALIVE_IDLE",
					    opts->tcp_keepalive_idle_s) < 0))
		goto fail;
	if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0) {
		sm_log_err("zmq_setsockopt(ZMQ_MAXMSGSIZE, %lld): %s", (long long)maxmsg,
			   zmq_strerror(errno));
		goto fail;
	}
	/* The own pair makes this a CURVE client; sm_sock_bind turns a
	 * binding socket into a server. */
	if (opts->curve &&
	    (zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, opts->curve_public, SM_CURVE_KEY_Z85 + 1) <
		 0 ||
	     zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, opts->curve_secret, SM_CURVE_KEY_Z85 + 1) <
		 0 ||
	     (opts->curve_server[0] && zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, opts->curve_server,
						      SM_CURVE_KEY_Z85 + 1) < 0))) {
		sm_log_err("zmq_setsockopt(ZMQ_CURVE_*): %s (libzmq without CURVE?)",
			   zmq_strerror(errno));
		goto fail;
	}
	return sock;
fail:
	saved = errno;
	zmq_close(sock);
	errno = saved;
	return NULL;
}

static bool sock_is_curve(void *sock)
{
	int mechanism = ZMQ_NULL;
	size_t len = sizeof(mechanism);

	return zmq_getsockopt(sock, ZMQ_MECHANISM, &mechanism, &len) == 0 &&
	       mechanism == ZMQ_CURVE;
}

int sm_sock_bind(void *sock, const char *endpoint)
{
	int server = 1;

	/* A CURVE server keeps its secret key; ZAP (sm_zap) decides which
	 * clients it talks to. Without a handler libzmq would admit every
	 * client, so the daemons start sm_zap before binding. */
	if (sock_is_curve(sock) &&
	    (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &server, sizeof(server)) < 0 ||
	     zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, SM_ZAP_DOMAIN, strlen(SM_ZAP_DOMAIN)) < 0)) {
		sm_log_err("cannot make %s a CURVE server: %s", endpoint, zmq_strerror(errno));
		return -1;
	}
	if (zmq_bind(sock, endpoint) == 0)
		return 0;
	sm_log_err("cannot bind %s: %s", endpoint, zmq_strerror(errno));
	return -1;
}

int sm_endpoint_split(const char *spec, char *ep, size_t eplen, const char **keyfile)
{
	const char *at = NULL;
	size_t len;

	for (const char *p = strchr(spec, '@'); p; p = strchr(p + 1, '@')) {
		if (p > spec && p[-1] != '/')
			at = p;
	}
	len = at ? (size_t)(at - spec) : strlen(spec);
	*keyfile = at ? at + 1 : NULL;
	if (len >= eplen || (at && !at[1]))
		return -1;
	memcpy(ep, spec, len);
	ep[len] = '\0';
	return 0;
}

int sm_sock_connect_key(void *sock, const char *endpoint, const char *server_key)
{
	uint8_t current[32] = {0}, zero[32] = {0};
	size_t len = sizeof(current);

	if (sock_is_curve(sock)) {
		if (server_key && server_key[0] &&
		    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_key, SM_CURVE_KEY_Z85 + 1) <
			0) {
			sm_log_err("%s: bad CURVE server key: %s", endpoint, zmq_strerror(errno));
			return -1;
		}
		if (zmq_getsockopt(sock, ZMQ_CURVE_SERVERKEY, current, &len) < 0 ||
		    memcmp(current, zero, sizeof(zero)) == 0) {
			sm_log_err("cannot connect to %s: no CURVE server key (set curve_server_key "
				   "or write the endpoint as %s@KEYFILE)",
				   endpoint, endpoint);
			return -1;
		}
	}
	if (zmq_connect(sock, endpoint) == 0)
		return 0;
	sm_log_err("cannot connect to %s: %s", endpoint, zmq_strerror(errno));
	return -1;
}

int sm_sock_connect(void *sock, const char *spec)
{
	char ep[SM_ENDPOINT_MAX + 1], key[SM_CURVE_KEY_Z85 + 1] = "";
	uint8_t saved[32];
	size_t len = sizeof(saved);
	const char *keyfile;
	int rc;

	if (sm_endpoint_split(spec, ep, sizeof(ep), &keyfile) < 0) {
		sm_log_err("cannot connect to %s: malformed endpoint", spec);
		return -1;
	}
	if (!keyfile || !sock_is_curve(sock))
		return sm_sock_connect_key(sock, ep, "");
	/* This connection's key only: the socket's default comes back after,
	 * for the endpoints that have none of their own. */
	if (sm_sock_load_server_key(keyfile, key) < 0 ||
	    zmq_getsockopt(sock, ZMQ_CURVE_SERVERKEY, saved, &len) < 0)
		return -1;
	rc = sm_sock_connect_key(sock, ep, key);
	(void)zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, saved, sizeof(saved));
	return rc;
}

int sm_sock_disconnect(void *sock, const char *spec)
{
	char ep[SM_ENDPOINT_MAX + 1];
	const char *keyfile;

	if (sm_endpoint_split(spec, ep, sizeof(ep), &keyfile) < 0)
		ep[0] = '\0';
	if (zmq_disconnect(sock, ep) == 0)
		return 0;
	sm_log_err("cannot disconnect from %s: %s", spec, zmq_strerror(errno));
	return -1;
}

int sm_sock_subscribe(void *sock, const char *prefix)
{
	if (zmq_setsockopt(sock, ZMQ_SUBSCRIBE, prefix, strlen(prefix)) == 0)
		return 0;
	sm_log_err("cannot subscribe to '%s': %s", prefix, zmq_strerror(errno));
	return -1;
}

int sm_sock_host_prefix_check(const struct sm_config *cfg, char *err, size_t len)
{
	for (size_t i = 0; i < sm_config_list_count(cfg, "host_prefix"); i++) {
		const char *prefix = sm_config_list_item(cfg, "host_prefix", i);
		size_t plen = strlen(prefix);

		if (plen == 0 || plen > SM_HOST_MAX ||
		    strspn(prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789._-") != plen) {
			snprintf(err, len,
				 "host_prefix '%.64s': not the start of a host name (1 to %d of"
				 " [A-Za-z0-9._-])",
				 prefix, SM_HOST_MAX);
			return -1;
		}
	}
	return 0;
}

int sm_sock_subscribe_hosts(void *sock, const struct sm_config *cfg, const char *const *kinds,
			    size_t nkinds)
{
	size_t n = sm_config_list_count(cfg, "host_prefix");
	char topic[SM_TOPIC_MAX + 1];
	char err[160];

	if (sm_sock_host_prefix_check(cfg, err, sizeof(err)) < 0) {
		sm_log_err("%s", err);
		return -1;
	}
	for (size_t k = 0; k < nkinds; k++) {
		for (size_t i = 0; i < (n ? n : 1); i++) {
			snprintf(topic, sizeof(topic), "%s/%s", kinds[k],
				 n ? sm_config_list_item(cfg, "host_prefix", i) : "");
			if (sm_sock_subscribe(sock, topic) < 0)
				return -1;
		}
	}
	return 0;
}

void sm_sock_close(void **sock)
{
	if (!sock || !*sock)
		return;
	zmq_close(*sock);
	*sock = NULL;
}

void sm_ipc_file_note(struct sm_ipc_file *f, const char *endpoint)
{
	static const char scheme[] = "ipc://";
	const char *path;
	struct stat st;
	int fd;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (!endpoint || strncmp(endpoint, scheme, sizeof(scheme) - 1) != 0)
		return;
	path = endpoint + sizeof(scheme) - 1;
	/* "*" asks libzmq for a temporary name, and "@" is Linux's abstract
	 * namespace: neither leaves a file we made by that name. */
	if (!path[0] || path[0] == '*' || path[0] == '@' || strlen(path) >= sizeof(f->path))
		return;
	/* Held open (O_PATH works on a socket file), the inode stays ours: a
	 * successor that binds the same path after we closed gets a file with
	 * another inode number, never a reuse of this one (which a fresh
	 * Debian root showed happening at once). */
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		close(fd);
		return;
	}
	memcpy(f->path, path, strlen(path) + 1);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->fd = fd;
	f->noted = true;
}

void sm_ipc_file_remove(struct sm_ipc_file *f)
{
	struct stat st;

	if (!f || !f->noted)
		return;
	f->noted = false;
	if (lstat(f->path, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino &&
	    unlink(f->path) < 0 && errno != ENOENT)
		sm_log_warn("cannot remove socket file %s", f->path);
	/* else gone, or somebody else's by now */
	close(f->fd);
	f->fd = -1;
}

int sm_sock_send2(void *sock, const void *topic, size_t topic_len, const void *body,
		  size_t body_len, int flags)
{
	/* The first frame either queues the whole message or nothing: ZeroMQ
	 * delivers multipart messages atomically, so EAGAIN can only come
	 * here, never half-way through. */
	if (zmq_send(sock, topic, topic_len, ZMQ_SNDMORE | flags) < 0)
		return -1;
	/* Cannot fail after the first part was accepted with today's libzmq;
	 * if it ever does, report it and let the caller count a lost message. */
	if (zmq_send(sock, body, body_len, flags) < 0)
		return -1;
	return 0;
}

/* Receives the next part of a message already started: it is queued, so
 * only a signal can interrupt it, and then we simply try again. */
static int recv_more(zmq_msg_t *msg, void *sock)
{
	int rc;

	do
		rc = zmq_msg_recv(msg, sock, 0);
	while (rc < 0 && errno == EINTR);
	return rc;
}

int sm_sock_recv2(void *sock, struct sm_frames *f, int flags)
{
	zmq_msg_t extra;
	int saved;

	zmq_msg_init(&f->topic);
	zmq_msg_init(&f->body);
	zmq_msg_init(&f->origin);
	f->parts = 0;
	if (zmq_msg_recv(&f->topic, sock, flags) < 0)
		goto fail; /* EAGAIN, EINTR, ETERM…: nothing was taken */
	f->parts = 1;
	if (zmq_msg_more(&f->topic)) {
		if (recv_more(&f->body, sock) < 0)
			goto fail;
		f->parts = 2;
	}
	if (f->parts == 2 && zmq_msg_more(&f->body)) {
		if (recv_more(&f->origin, sock) < 0)
			goto fail;
		f->parts = 3;
	}
	/* Drain the rest so the next call starts on a message boundary. */
	if (f->parts == 3 && zmq_msg_more(&f->origin)) {
		zmq_msg_init(&extra);
		do {
			if (recv_more(&extra, sock) < 0) {
				saved = errno;
				zmq_msg_close(&extra);
				errno = saved;
				goto fail;
			}
			f->parts++;
		} while (zmq_msg_more(&extra));
		zmq_msg_close(&extra);
	}
	return 0;
fail:
	saved = errno;
	sm_frames_close(f);
	errno = saved;
	return -1;
}

void sm_frames_close(struct sm_frames *f)
{
	if (!f)
		return;
	zmq_msg_close(&f->topic);
	zmq_msg_close(&f->body);
	zmq_msg_close(&f->origin);
	/* Leave valid empty messages behind so a second close is harmless. */
	zmq_msg_init(&f->topic);
	zmq_msg_init(&f->body);
	zmq_msg_init(&f->origin);
	f->parts = 0;
}
