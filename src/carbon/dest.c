/*
 * dest — see dest.h. Three states: down (no socket; a connect is tried at
 * retry_ns), connecting (a non-blocking connect waits for POLLOUT, at most
 * CONNECT_TIMEOUT_MS) and up (writes while the socket takes bytes). The
 * peer never speaks in carbon's plaintext protocol, so anything readable
 * is drained and an end of file is a lost connection. Writes use
 * MSG_NOSIGNAL: a reset peer is an error code here, never a signal.
 */
#include "dest.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linebuf.h"
#include "sm_log.h"

#define CONNECT_TIMEOUT_MS 10000
#define HOST_MAX	   256
#define NS_PER_MS	   1000000LL

enum dest_state { DEST_DOWN, DEST_CONNECTING, DEST_UP };

struct dest {
	char *spec;	     /* "HOST:PORT" as configured */
	char host[HOST_MAX]; /* without brackets */
	char port[8];
	struct linebuf *buf; /* lines waiting */
	size_t max_bytes;    /* the buffer's bound, for the log */
	enum dest_state state;
	int fd;			 /* -1 when down */
	int64_t retry_ns;	 /* down: when the next connect is tried */
	int64_t deadline_ns;	 /* connecting: when it is given up */
	int backoff_ms;		 /* the wait after the next failure */
	bool ever_up;		 /* a connection was made once: later ones are reconnects */
	bool outage;		 /* down since a failure, logged; ends with a connection */
	int64_t outage_ns;	 /* when the outage began */
	uint64_t outage_dropped; /* counters.dropped when it began */
	struct dest_counters c;
};

static int parse_spec(const char *spec, char *host, size_t hostlen, char *port, size_t portlen,
		      char *err, size_t errlen)
{
	const char *colon, *h = spec;
	size_t hl;
	char *end;
	long p;

	if (!spec || !spec[0])
		goto bad;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close[1] != ':')
			goto bad;
		h = spec + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || strchr(spec, ':') != colon) /* an IPv6 address needs brackets */
			goto bad;
		hl = (size_t)(colon - spec);
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (hl == 0 || hl >= hostlen || errno || *end || end == colon + 1 || p < 1 || p > 65535)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, portlen, "%ld", p);
	return 0;
bad:
	snprintf(err, errlen, "carbon destination \"%s\": expected HOST:PORT or [ADDR]:PORT",
		 spec ? spec : "");
	return -1;
}

int dest_spec_check(const char *spec, char *err, size_t errlen)
{
	char host[HOST_MAX], port[8];

	return parse_spec(spec, host, sizeof(host), port, sizeof(port), err, errlen);
}

struct dest *dest_new(const char *spec, size_t buffer_bytes, char *err, size_t errlen)
{
	struct dest *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->fd = -1;
	d->backoff_ms = DEST_BACKOFF_MIN_MS;
	d->max_bytes = buffer_bytes;
	if (parse_spec(spec, d->host, sizeof(d->host), d->port, sizeof(d->port), err, errlen) < 0)
		goto fail;
	d->spec = strdup(spec);
	d->buf = linebuf_new(buffer_bytes);
	if (!d->spec || !d->buf) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return d;
fail:
	dest_destroy(&d);
	return NULL;
}

void dest_destroy(struct dest **dp)
{
	struct dest *d = dp ? *dp : NULL;

	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	linebuf_destroy(&d->buf);
	free(d->spec);
	free(d);
	*dp = NULL;
}

const char *dest_name(const struct dest *d)
{
	return d->spec;
}

/* The connection failed or was lost: close, keep the buffer (from the
 * start of its first unfinished line), wait, and log an outage's start. */
static void fail(struct dest *d, const char *why, int64_t now_ns)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->state = DEST_DOWN;
	linebuf_rewind(d->buf);
	d->c.failures++;
	d->retry_ns = now_ns + (int64_t)d->backoff_ms * NS_PER_MS;
	d->backoff_ms =
	    d->backoff_ms >= DEST_BACKOFF_MAX_MS / 2 ? DEST_BACKOFF_MAX_MS : d->backoff_ms * 2;
	if (!d->outage) {
		d->outage = true;
		d->outage_ns = now_ns;
		d->outage_dropped = d->c.dropped;
		sm_log_warnx("carbon %s: down (%s); points wait in its buffer (at most %zu bytes,"
			     " the newest dropped when full), retrying every 1-%d s",
			     d->spec, why, d->max_bytes, DEST_BACKOFF_MAX_MS / 1000);
	} else {
		sm_log_debug("carbon %s: still down (%s)", d->spec, why);
	}
}

static void up(struct dest *d, int64_t now_ns)
{
	d->state = DEST_UP;
	d->backoff_ms = DEST_BACKOFF_MIN_MS;
	if (d->ever_up)
		d->c.reconnects++;
	if (d->outage)
		sm_log_notice("carbon %s: up again after %.0f s; %llu points dropped meanwhile,"
			      " %zu buffered points being sent",
			      d->spec, (double)(now_ns - d->outage_ns) / 1e9,
			      (unsigned long long)(d->c.dropped - d->outage_dropped),
			      linebuf_lines(d->buf));
	else
		sm_log_info("carbon %s: connected", d->spec);
	d->ever_up = true;
	d->outage = false;
}

static void try_connect(struct dest *d, int64_t now_ns)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV},
			*ai = NULL;
	char why[HOST_MAX + 200];
	int rc = getaddrinfo(d->host, d->port, &hints, &ai);

	if (rc != 0) {
		snprintf(why, sizeof(why), "resolving %s: %s", d->host, gai_strerror(rc));
		fail(d, why, now_ns);
		return;
	}
	d->fd =
	    socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (d->fd < 0) {
		snprintf(why, sizeof(why), "socket: %s", strerror(errno));
		fail(d, why, now_ns);
	} else if (connect(d->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		up(d, now_ns);
	} else if (errno == EINPROGRESS) {
		d->state = DEST_CONNECTING;
		d->deadline_ns = now_ns + CONNECT_TIMEOUT_MS * NS_PER_MS;
	} else {
		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		fail(d, why, now_ns);
	}
	freeaddrinfo(ai);
}

/* Writes until the socket would block or nothing waits. */
static void flush(struct dest *d, int64_t now_ns)
{
	struct iovec iov[2];
	int n;

	while (d->state == DEST_UP && (n = linebuf_pending(d->buf, iov)) > 0) {
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(d->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		char why[HOST_MAX + 200];

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			snprintf(why, sizeof(why), "send: %s", strerror(errno));
			fail(d, why, now_ns);
			return;
		}
		d->c.sent += linebuf_written(d->buf, (size_t)w);
	}
}

/* Drains what the peer sent; an end of file or error loses the connection. */
static void drain_input(struct dest *d, int64_t now_ns)
{
	char scratch[4096], why[HOST_MAX + 200];

	for (;;) {
		ssize_t r = recv(d->fd, scratch, sizeof(scratch), MSG_DONTWAIT);

		if (r > 0)
			continue;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		snprintf(why, sizeof(why), "%s", r == 0 ? "closed by the peer" : strerror(errno));
		fail(d, why, now_ns);
		return;
	}
}

void dest_service(struct dest *d, short revents, int64_t now_ns)
{
	char why[HOST_MAX + 200];

	if (d->state == DEST_DOWN && now_ns >= d->retry_ns)
		try_connect(d, now_ns);
	if (d->state == DEST_CONNECTING) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (revents & (ZMQ_POLLOUT | ZMQ_POLLERR)) {
			if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
				soerr = errno;
			if (soerr) {
				snprintf(why, sizeof(why), "connect: %s", strerror(soerr));
				fail(d, why, now_ns);
				return;
			}
			up(d, now_ns);
		} else if (now_ns >= d->deadline_ns) {
			fail(d, "connect: timed out", now_ns);
			return;
		} else {
			return;
		}
	}
	if (d->state != DEST_UP)
		return;
	if (revents & (ZMQ_POLLIN | ZMQ_POLLERR)) {
		drain_input(d, now_ns);
		if (d->state != DEST_UP)
			return;
	}
	flush(d, now_ns);
}

size_t dest_append(struct dest *d, const char *text, size_t len, int64_t now_ns)
{
	size_t off = 0, taken, dropped;

	for (;;) {
		size_t before;

		dropped = linebuf_append(d->buf, text + off, len - off, &taken);
		off += taken;
		if (dropped == 0 || d->state != DEST_UP)
			break;
		/* Full while the peer is up: room is made by writing, if the
		 * socket takes anything; if it does not, the peer is slow. */
		before = linebuf_bytes(d->buf);
		flush(d, now_ns);
		if (linebuf_bytes(d->buf) == before)
			break;
	}
	d->c.dropped += dropped;
	return dropped;
}

zmq_pollitem_t dest_pollitem(const struct dest *d)
{
	zmq_pollitem_t it = {.socket = NULL, .fd = d->fd, .events = 0};

	if (d->state == DEST_CONNECTING) {
		it.events = ZMQ_POLLOUT;
	} else if (d->state == DEST_UP) {
		struct iovec iov[2];

		it.events = ZMQ_POLLIN;
		if (linebuf_pending(d->buf, iov) > 0)
			it.events |= ZMQ_POLLOUT;
	}
	return it;
}

int dest_timeout_ms(const struct dest *d, int64_t now_ns, int timeout_ms)
{
	int64_t at, ms;

	if (d->state == DEST_UP)
		return timeout_ms;
	at = d->state == DEST_DOWN ? d->retry_ns : d->deadline_ns;
	ms = at <= now_ns ? 0 : (at - now_ns + NS_PER_MS - 1) / NS_PER_MS;
	return timeout_ms < 0 || ms < timeout_ms ? (int)ms : timeout_ms;
}

const struct dest_counters *dest_counters(const struct dest *d)
{
	return &d->c;
}

size_t dest_buffered_lines(const struct dest *d)
{
	return linebuf_lines(d->buf);
}

size_t dest_buffered_bytes(const struct dest *d)
{
	return linebuf_bytes(d->buf);
}

int dest_connected(const struct dest *d)
{
	return d->state == DEST_UP;
}
