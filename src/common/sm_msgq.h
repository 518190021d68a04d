/*
 * sm_msgq — a FIFO of ZeroMQ messages that could not be sent yet: a
 * publisher's hold while its collector has not subscribed or its queue is
 * full, a collector's fan-out waiting for a full subscriber. Each entry
 * keeps the received zmq_msg_t buffers themselves (no copy), an optional
 * third frame, and when it was queued. The queue counts entries and bytes;
 * the bounds are its owner's to check before a push, since the owners
 * bound it differently (e.g. room kept for lifecycle events).
 */
#ifndef SM_MSGQ_H
#define SM_MSGQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

struct sm_msgq; /* opaque */

/* One queued message. */
struct sm_msgq_item {
	zmq_msg_t topic, body;
	zmq_msg_t origin; /* third frame, meaningful only when has_origin */
	bool has_origin;
	int64_t since_ns; /* monotonic time of the push */
	size_t size;	  /* bytes of its frames at the push */
};

/* An empty queue; NULL when out of memory. */
struct sm_msgq *sm_msgq_new(void);
/* Closes every queued message and frees the queue. NULL-safe; sets *q to NULL. */
void sm_msgq_destroy(struct sm_msgq **q);

/* Appends a message, taking the content of topic, body and origin (NULL:
 * none); they are left empty. 0, or -1 with errno ENOMEM (nothing taken). */
int sm_msgq_push(struct sm_msgq *q, zmq_msg_t *topic, zmq_msg_t *body, zmq_msg_t *origin,
		 int64_t now_ns);
/* The oldest message (the caller may send its frames from there), or NULL. */
struct sm_msgq_item *sm_msgq_front(struct sm_msgq *q);
/* Closes and removes the oldest message (no-op on an empty queue). */
void sm_msgq_pop(struct sm_msgq *q);

/* Messages queued, and their bytes (all frames). */
size_t sm_msgq_count(const struct sm_msgq *q);
size_t sm_msgq_bytes(const struct sm_msgq *q);

#endif
