/*
 * lv_rpc — see lv_rpc.h. One non-blocking UNIX socket; a batch keeps up to
 * `window` calls written ahead of their replies. libvirtd may answer them
 * in any order (its worker threads run them side by side), so replies are
 * matched by serial.
 */
#include "lv_rpc.h"

#include "sm_clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RUN_DIR	     "/var/run/libvirt"
#define MAX_CALL_LEN 8192 /* a call: header, domain name, device name */
#define MAX_WINDOW   16

struct lv_rpc {
	int fd;
	uint32_t serial;			/* the last serial sent */
	uint8_t out[MAX_WINDOW * MAX_CALL_LEN]; /* calls written in one go */
	uint8_t in[2 * LV_WIRE_MAX_REPLY];	/* bytes read, not yet taken */
	size_t in_len, in_off;
};

static void say(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!size)
		return;
	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

/* ---- Where to connect ---- */

/* The drivers that live only in a daemon: without a transport in their
 * URI, libvirt's library reaches them through its local socket too. */
static const char *modular_daemon(const char *driver)
{
	static const struct {
		const char *driver, *daemon;
	} map[] = {{"qemu", "virtqemud"},
		   {"xen", "virtxend"},
		   {"libxl", "virtxend"},
		   {"lxc", "virtlxcd"},
		   {"ch", "virtchd"}};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(driver, map[i].driver) == 0)
			return map[i].daemon;
	return NULL;
}

static bool is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

int lv_rpc_target(const char *uri, char *sock, size_t sock_size, char *name, size_t name_size,
		  const char **why)
{
	char driver[32];
	const char *sep, *plus, *rest, *path, *query, *daemon;
	size_t dlen, plen;
	int w;

	*why = NULL;
	if (!uri || !*uri) {
		*why = "libvirt's default URI (its choice of driver is not known here)";
		return -1;
	}
	sep = strstr(uri, "://");
	if (!sep) {
		*why = "not a URI of the form driver[+unix]:///path";
		return -1;
	}
	plus = memchr(uri, '+', (size_t)(sep - uri));
	dlen = (size_t)((plus ? plus : sep) - uri);
	if (!dlen || dlen >= sizeof(driver)) {
		*why = "no driver name in the URI";
		return -1;
	}
	memcpy(driver, uri, dlen);
	driver[dlen] = '\0';
	if (plus && ((size_t)(sep - plus - 1) != 4 || strncmp(plus + 1, "unix", 4) != 0)) {
		*why = "a transport other than unix";
		return -1;
	}
	daemon = modular_daemon(driver);
	if (!plus && !daemon) {
		*why = "a driver that runs inside this process";
		return -1;
	}
	rest = sep + 3;
	if (*rest != '/') {
		*why = "a URI that names a host";
		return -1;
	}
	path = rest;
	query = strchr(path, '?');
	plen = query ? (size_t)(query - path) : strlen(path);
	if (plen == strlen("/session") && strncmp(path, "/session", plen) == 0) {
		*why = "a per-user (session) daemon";
		return -1;
	}
	if (query) {
		/* Only the socket may be named: other parameters change how
		 * libvirt's remote driver connects, which this client does not do. */
		const char *v = query + 1;

		if (strncmp(v, "socket=", 7) != 0 || strpbrk(v + 7, "&%")) {
			*why = "URI parameters other than socket=";
			return -1;
		}
		w = snprintf(sock, sock_size, "%s", v + 7);
	} else {
		w = snprintf(sock, sock_size, RUN_DIR "/libvirt-sock-ro");
		/* libvirtd's socket first, as libvirt's own client prefers it;
		 * else the driver's own daemon (modular deployment). */
		if (w > 0 && (size_t)w < sock_size && !is_socket(sock) && daemon)
			w = snprintf(sock, sock_size, RUN_DIR "/%s-sock-ro", daemon);
	}
	if (w <= 0 || (size_t)w >= sock_size) {
		*why = "socket path too long";
		return -1;
	}
	if (!is_socket(sock)) {
		*why = "no daemon socket";
		return -1;
	}
	w = snprintf(name, name_size, "%s://%.*s", driver, (int)plen, path);
	if (w <= 0 || (size_t)w >= name_size) {
		*why = "URI too long";
		return -1;
	}
	return 0;
}

/* ---- I/O ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on r->fd until deadline; 0, or -1 with err set. */
static int await(struct lv_rpc *r, short events, int64_t deadline, char *err, size_t size)
{
	for (;;) {
		struct pollfd p = {.fd = r->fd, .events = events};
		int64_t left = deadline - now_ms();
		int rc;

		if (left <= 0) {
			say(err, size, "libvirtd did not answer in time");
			return -1;
		}
		rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR) {
			say(err, size, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

static int write_all(struct lv_rpc *r, const uint8_t *p, size_t n, int64_t deadline, char *err,
		     size_t size)
{
	while (n) {
		ssize_t w = send(r->fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (await(r, POLLOUT, deadline, err, size) < 0)
				return -1;
		} else {
			say(err, size, "writing to libvirtd: %s",
			    w < 0 ? strerror(errno) : "closed");
			return -1;
		}
	}
	return 0;
}

/* The next whole message, read as needed: *msg points into r->in and stays
 * valid until the next call. 0, or -1 with err set. */
static int next_message(struct lv_rpc *r, int64_t deadline, const uint8_t **msg, size_t *len,
			char *err, size_t size)
{
	for (;;) {
		size_t have = r->in_len - r->in_off;

		if (have >= 4) {
			uint32_t want = lv_wire_length(r->in + r->in_off);

			if (want < LV_WIRE_HEADER_LEN || want > LV_WIRE_MAX_REPLY) {
				say(err, size,
				    "libvirtd sent a message of %u bytes (protocol error)", want);
				return -1;
			}
			if (have >= want) {
				*msg = r->in + r->in_off;
				*len = want;
				r->in_off += want;
				return 0;
			}
		}
		if (r->in_off) { /* keep the partial message at the start */
			memmove(r->in, r->in + r->in_off, have);
			r->in_len = have;
			r->in_off = 0;
		}
		ssize_t got = recv(r->fd, r->in + r->in_len, sizeof(r->in) - r->in_len, 0);

		if (got > 0) {
			r->in_len += (size_t)got;
		} else if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (await(r, POLLIN, deadline, err, size) < 0)
				return -1;
		} else {
			say(err, size, "reading from libvirtd: %s",
			    got < 0 ? strerror(errno) : "connection closed");
			return -1;
		}
	}
}

/* The reply to one call of ours: skips what is not (an event, a keepalive
 * of another program). Its body is what follows the header. */
static int next_reply(struct lv_rpc *r, int64_t deadline, struct lv_wire_header *h,
		      const uint8_t **body, size_t *blen, char *err, size_t size)
{
	for (;;) {
		const uint8_t *msg;
		size_t len;

		if (next_message(r, deadline, &msg, &len, err, size) < 0)
			return -1;
		if (lv_wire_header_parse(msg, len, h) < 0) {
			say(err, size, "libvirtd sent a malformed header");
			return -1;
		}
		if (h->prog != LV_WIRE_PROGRAM || h->type != LV_TYPE_REPLY)
			continue;
		if (h->vers != LV_WIRE_VERSION) {
			say(err, size, "libvirtd speaks protocol version %u", h->vers);
			return -1;
		}
		*body = msg + LV_WIRE_HEADER_LEN;
		*blen = len - LV_WIRE_HEADER_LEN;
		return 0;
	}
}

/* One call on its own, during the opening: its reply's body, or -1. */
static int exchange(struct lv_rpc *r, const uint8_t *call, size_t clen, int64_t deadline,
		    const uint8_t **body, size_t *blen, char *err, size_t size)
{
	struct lv_wire_header h;
	int code;

	if (!clen) {
		say(err, size, "call too long to encode");
		return -1;
	}
	if (write_all(r, call, clen, deadline, err, size) < 0 ||
	    next_reply(r, deadline, &h, body, blen, err, size) < 0)
		return -1;
	if (h.serial != r->serial) {
		say(err, size, "libvirtd answered serial %u, not %u", h.serial, r->serial);
		return -1;
	}
	if (h.status != LV_STATUS_OK) {
		char msg[200];

		if (lv_wire_error_parse(*body, *blen, &code, msg, sizeof(msg)) < 0)
			say(err, size, "libvirtd refused (malformed error reply)");
		else
			say(err, size, "libvirtd refused: %s (code %d)",
			    msg[0] ? msg : "no message", code);
		return -1;
	}
	return 0;
}

struct lv_rpc *lv_rpc_open(const char *sock, const char *name, int timeout_ms, char *err,
			   size_t err_size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int64_t deadline = now_ms() + timeout_ms;
	struct lv_rpc *r;
	const uint8_t *body;
	size_t blen;
	uint8_t call[MAX_CALL_LEN];
	bool none_ok = false;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		say(err, err_size, "socket path too long: %s", sock);
		return NULL;
	}
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	r = calloc(1, sizeof(*r));
	if (!r) {
		say(err, err_size, "out of memory");
		return NULL;
	}
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK) < 0) {
		say(err, err_size, "cannot connect to %s: %s", sock, strerror(errno));
		goto fail;
	}
	if (exchange(r, call, lv_wire_auth_list(call, sizeof(call), ++r->serial), deadline, &body,
		     &blen, err, err_size) < 0)
		goto fail;
	if (lv_wire_auth_none_parse(body, blen, &none_ok) < 0) {
		say(err, err_size, "libvirtd sent a malformed list of authentication methods");
		goto fail;
	}
	if (!none_ok) {
		/* polkit or SASL: libvirt's library knows those steps. */
		say(err, err_size, "%s asks for authentication", sock);
		goto fail;
	}
	if (exchange(
		r, call,
		lv_wire_connect_open(call, sizeof(call), ++r->serial, name, LV_WIRE_CONNECT_RO),
		deadline, &body, &blen, err, err_size) < 0)
		goto fail;
	return r;
fail:
	lv_rpc_destroy(&r);
	return NULL;
}

void lv_rpc_destroy(struct lv_rpc **rp)
{
	struct lv_rpc *r = rp ? *rp : NULL;

	if (!r)
		return;
	/* No CONNECT_CLOSE: libvirtd closes the connection when the socket
	 * does, and a goodbye that waits for its reply would only delay us. */
	if (r->fd >= 0)
		close(r->fd);
	free(r);
	*rp = NULL;
}

/* ---- Batches ---- */

static size_t encode(const struct lv_rpc_call *c, uint8_t *out, size_t cap, uint32_t serial)
{
	switch (c->kind) {
	case LV_RPC_INFO:
		return lv_wire_get_info(out, cap, serial, &c->dom);
	case LV_RPC_BLOCK:
		return lv_wire_device_stats(out, cap, serial, LV_PROC_DOMAIN_BLOCK_STATS, &c->dom,
					    c->device);
	case LV_RPC_IFACE:
		return lv_wire_device_stats(out, cap, serial, LV_PROC_DOMAIN_INTERFACE_STATS,
					    &c->dom, c->device);
	case LV_RPC_MEMORY:
		return lv_wire_memory_stats(out, cap, serial, &c->dom, LV_WIRE_MAX_MEMORY_STATS);
	}
	return 0;
}

static int decode(struct lv_rpc_call *c, const uint8_t *body, size_t len)
{
	switch (c->kind) {
	case LV_RPC_INFO:
		return lv_wire_info_parse(body, len, &c->out.info);
	case LV_RPC_BLOCK:
		return lv_wire_block_parse(body, len, &c->out.block);
	case LV_RPC_IFACE:
		return lv_wire_iface_parse(body, len, &c->out.iface);
	case LV_RPC_MEMORY:
		return lv_wire_memory_parse(body, len, &c->out.memory);
	}
	return -1;
}

static const char *kind_name(enum lv_rpc_kind k)
{
	static const char *const names[] = {"domain info", "block stats", "interface stats",
					    "memory stats"};

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

int lv_rpc_run(struct lv_rpc *r, struct lv_rpc_call *calls, size_t n, unsigned window,
	       int timeout_ms, char *err, size_t err_size)
{
	int64_t deadline = now_ms() + timeout_ms;
	uint32_t first = r->serial + 1; /* calls[i] has serial first + i */
	size_t sent = 0, got = 0;

	if (window < 1)
		window = 1;
	if (window > MAX_WINDOW)
		window = MAX_WINDOW;
	for (size_t i = 0; i < n; i++)
		calls[i].error = -1;
	while (got < n) {
		struct lv_wire_header h;
		const uint8_t *body;
		size_t blen, olen = 0, idx;

		while (sent < n && sent - got < window) {
			size_t len = encode(&calls[sent], r->out + olen, sizeof(r->out) - olen,
					    first + (uint32_t)sent);

			if (!len) {
				say(err, err_size, "%s call too long to encode",
				    kind_name(calls[sent].kind));
				return -1;
			}
			olen += len;
			sent++;
		}
		r->serial = first + (uint32_t)sent - 1;
		if (olen && write_all(r, r->out, olen, deadline, err, err_size) < 0)
			return -1;
		if (next_reply(r, deadline, &h, &body, &blen, err, err_size) < 0)
			return -1;
		idx = (size_t)(h.serial - first);
		if (idx >= sent || calls[idx].error != -1) {
			say(err, err_size, "libvirtd answered serial %u, which is not waiting",
			    h.serial);
			return -1;
		}
		calls[idx].answered_ns = sm_clock_mono_ns();
		if (h.status == LV_STATUS_OK) {
			if (decode(&calls[idx], body, blen) < 0) {
				say(err, err_size, "malformed %s reply (%zu bytes)",
				    kind_name(calls[idx].kind), blen);
				return -1;
			}
			calls[idx].error = 0;
		} else {
			int code;

			/* Only the code is used (a device gone, a domain gone); the
			 * text is not logged per call, as on the library path. */
			if (lv_wire_error_parse(body, blen, &code, NULL, 0) < 0) {
				say(err, err_size, "malformed error reply to %s",
				    kind_name(calls[idx].kind));
				return -1;
			}
			/* 0 would read as "answered": an error reply is an error. */
			calls[idx].error = code > 0 ? code : 1;
		}
		got++;
	}
	return 0;
}
