/*
 * sm_msgq — see sm_msgq.h. An array used from a head index: a pop only
 * moves the head, and the live part is moved to the front when the array
 * is full, so a queue that drains and fills again does not keep growing.
 */
#include "sm_msgq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sm_msgq {
	struct sm_msgq_item *items; /* items[head..n) are queued */
	size_t head, n, cap;
	size_t bytes;
};

static size_t item_bytes(struct sm_msgq_item *it)
{
	return zmq_msg_size(&it->topic) + zmq_msg_size(&it->body) +
	       (it->has_origin ? zmq_msg_size(&it->origin) : 0);
}

struct sm_msgq *sm_msgq_new(void)
{
	return calloc(1, sizeof(struct sm_msgq));
}

void sm_msgq_destroy(struct sm_msgq **qp)
{
	struct sm_msgq *q = qp ? *qp : NULL;

	if (!q)
		return;
	while (q->head < q->n)
		sm_msgq_pop(q);
	free(q->items);
	free(q);
	*qp = NULL;
}

int sm_msgq_push(struct sm_msgq *q, zmq_msg_t *topic, zmq_msg_t *body, zmq_msg_t *origin,
		 int64_t now_ns)
{
	struct sm_msgq_item *it;

	if (q->head > 0 && q->n == q->cap) {
		memmove(q->items, q->items + q->head, (q->n - q->head) * sizeof(*q->items));
		q->n -= q->head;
		q->head = 0;
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct sm_msgq_item *grown = realloc(q->items, cap * sizeof(*grown));

		if (!grown) {
			errno = ENOMEM;
			return -1;
		}
		q->items = grown;
		q->cap = cap;
	}
	it = &q->items[q->n++];
	zmq_msg_init(&it->topic);
	zmq_msg_init(&it->body);
	zmq_msg_init(&it->origin);
	zmq_msg_move(&it->topic, topic);
	zmq_msg_move(&it->body, body);
	it->has_origin = origin != NULL;
	if (origin)
		zmq_msg_move(&it->origin, origin);
	it->since_ns = now_ns;
	it->size = item_bytes(it);
	q->bytes += it->size;
	return 0;
}

struct sm_msgq_item *sm_msgq_front(struct sm_msgq *q)
{
	return q->head < q->n ? &q->items[q->head] : NULL;
}

void sm_msgq_pop(struct sm_msgq *q)
{
	struct sm_msgq_item *it = sm_msgq_front(q);

	if (!it)
		return;
	/* Its frames may have been sent (emptied) by now: take off the size
	 * counted at the push. */
	q->bytes -= it->size;
	zmq_msg_close(&it->topic);
	zmq_msg_close(&it->body);
	zmq_msg_close(&it->origin);
	if (++q->head == q->n)
		q->head = q->n = 0;
}

size_t sm_msgq_count(const struct sm_msgq *q)
{
	return q->n - q->head;
}

size_t sm_msgq_bytes(const struct sm_msgq *q)
{
	return q->bytes;
}
