/*
 * dest — one carbon destination (HOST:PORT): a non-blocking TCP
 * connection and its bounded line buffer (linebuf). It never blocks: the
 * caller polls its fd together with the ZeroMQ socket and calls
 * dest_service when it is ready or its timer is due. A connection that
 * fails or drops is made again after a backoff of 1 s doubling to 30 s;
 * an outage is logged once when it starts (destination and reason) and
 * once when it ends (how long, how many points were dropped meanwhile).
 */
#ifndef CARBON_DEST_H
#define CARBON_DEST_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define DEST_BACKOFF_MIN_MS 1000
#define DEST_BACKOFF_MAX_MS 30000

struct dest; /* opaque */

/* Counters since creation; plain data. Points are lines. */
struct dest_counters {
	uint64_t sent;	     /* lines completely written to a connection */
	uint64_t dropped;    /* lines refused: the buffer was full */
	uint64_t reconnects; /* connections made after the first */
	uint64_t failures;   /* connect attempts that failed, connections lost */
};

/* A destination for `spec` ("HOST:PORT", "[ADDR]:PORT") with a buffer of
 * at most buffer_bytes. Nothing is connected yet. NULL with a reason in
 * err when the spec is malformed or memory is short. */
struct dest *dest_new(const char *spec, size_t buffer_bytes, char *err, size_t errlen);
void dest_destroy(struct dest **d);

/* Checks a spec without making anything: 0, or -1 with a reason in err. */
int dest_spec_check(const char *spec, char *err, size_t errlen);

const char *dest_name(const struct dest *d); /* the spec as given */

/* Queues whole lines (see linebuf_append). When they do not all fit and
 * the connection is up, the socket is written to make room, as long as it
 * takes bytes; what still does not fit is dropped (the newest lines) and
 * counted. Returns the lines dropped. */
size_t dest_append(struct dest *d, const char *text, size_t len, int64_t now_ns);

/* The poll item for zmq_poll: its fd (-1 while not connected, which
 * zmq_poll ignores) and the events wanted. */
zmq_pollitem_t dest_pollitem(const struct dest *d);

/* The poll timeout (ms) capped by when this destination next needs
 * dest_service without an event (its reconnect time). */
int dest_timeout_ms(const struct dest *d, int64_t now_ns, int timeout_ms);

/* Does what is due: a connect attempt once its backoff has passed, the
 * end of a connect in progress, writes until the socket would block,
 * reads (and discards) what the peer sends, a close noticed. `revents`
 * from the poll, 0 when called for a timer or after an append. */
void dest_service(struct dest *d, short revents, int64_t now_ns);

const struct dest_counters *dest_counters(const struct dest *d);
size_t dest_buffered_lines(const struct dest *d);
size_t dest_buffered_bytes(const struct dest *d);
int dest_connected(const struct dest *d); /* 1 when a connection is up */

#endif
