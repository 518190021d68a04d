/*
 * linebuf — see linebuf.h. The ring holds `len` bytes from `head`; the
 * first `sent` of them went out on the current connection and belong to
 * a line not yet finished (everything before its start was freed as soon
 * as its '\n' was written). The ring starts small and doubles up to its
 * bound, so an idle destination costs little memory.
 */
#include "linebuf.h"

#include <stdlib.h>
#include <string.h>

#define LINEBUF_START (64 * 1024) /* first allocation, bytes */

struct linebuf {
	char *data;   /* the ring, cap bytes */
	size_t cap;   /* allocated, <= max */
	size_t max;   /* the bound (buffer_bytes) */
	size_t head;  /* index of the first byte held */
	size_t len;   /* bytes held */
	size_t sent;  /* of them, written on this connection (< the first line's length) */
	size_t lines; /* whole lines held */
};

struct linebuf *linebuf_new(size_t max_bytes)
{
	struct linebuf *lb = max_bytes ? calloc(1, sizeof(*lb)) : NULL;

	if (!lb)
		return NULL;
	lb->max = max_bytes;
	return lb;
}

void linebuf_destroy(struct linebuf **lbp)
{
	struct linebuf *lb = lbp ? *lbp : NULL;

	if (!lb)
		return;
	free(lb->data);
	free(lb);
	*lbp = NULL;
}

/* Makes room for `need` bytes held in all (need <= max): grows the ring,
 * laying its content out from index 0 in the new one. */
static int reserve(struct linebuf *lb, size_t need)
{
	size_t cap = lb->cap ? lb->cap : (LINEBUF_START < lb->max ? LINEBUF_START : lb->max);
	char *grown;

	if (need <= lb->cap)
		return 0;
	while (cap < need)
		cap = cap > lb->max / 2 ? lb->max : cap * 2;
	grown = malloc(cap);
	if (!grown)
		return -1;
	if (lb->len > 0) {
		size_t first = lb->cap - lb->head < lb->len ? lb->cap - lb->head : lb->len;

		memcpy(grown, lb->data + lb->head, first);
		memcpy(grown + first, lb->data, lb->len - first);
	}
	free(lb->data);
	lb->data = grown;
	lb->cap = cap;
	lb->head = 0;
	return 0;
}

/* Copies n bytes to the tail (room is there). */
static void put(struct linebuf *lb, const char *p, size_t n)
{
	size_t tail = (lb->head + lb->len) % lb->cap;
	size_t first = lb->cap - tail < n ? lb->cap - tail : n;

	memcpy(lb->data + tail, p, first);
	memcpy(lb->data, p + first, n - first);
	lb->len += n;
}

size_t linebuf_append(struct linebuf *lb, const char *text, size_t len, size_t *taken)
{
	size_t fit = len, dropped = 0;

	if (taken)
		*taken = 0;
	if (len == 0)
		return 0;
	if (text[len - 1] != '\n') {
		for (size_t i = 0; i < len; i++)
			dropped += text[i] == '\n';
		return dropped + 1;
	}
	if (len > lb->max - lb->len) {
		/* The whole lines that fit: the last '\n' within the room. */
		size_t room = lb->max - lb->len;

		fit = 0;
		for (size_t i = room; i > 0; i--)
			if (text[i - 1] == '\n') {
				fit = i;
				break;
			}
	}
	if (fit > 0 && reserve(lb, lb->len + fit) < 0)
		fit = 0;
	for (size_t i = fit; i < len; i++)
		dropped += text[i] == '\n';
	if (fit > 0) {
		size_t n = 0;

		for (const char *p = text; (p = memchr(p, '\n', fit - (size_t)(p - text))); p++)
			n++;
		put(lb, text, fit);
		lb->lines += n;
		if (taken)
			*taken = fit;
	}
	return dropped;
}

int linebuf_pending(const struct linebuf *lb, struct iovec iov[2])
{
	size_t start, n = lb->len - lb->sent;

	if (n == 0)
		return 0;
	start = (lb->head + lb->sent) % lb->cap;
	iov[0].iov_base = lb->data + start;
	iov[0].iov_len = lb->cap - start < n ? lb->cap - start : n;
	if (iov[0].iov_len == n)
		return 1;
	iov[1].iov_base = lb->data;
	iov[1].iov_len = n - iov[0].iov_len;
	return 2;
}

size_t linebuf_written(struct linebuf *lb, size_t n)
{
	size_t done = 0, upto = 0; /* bytes from head through the last '\n' written */

	if (n > lb->len - lb->sent)
		n = lb->len - lb->sent;
	for (size_t i = lb->sent; i < lb->sent + n;) {
		size_t at = (lb->head + i) % lb->cap;
		size_t run = lb->cap - at < lb->sent + n - i ? lb->cap - at : lb->sent + n - i;
		const char *p = lb->data + at, *end = p + run, *nl;

		while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
			done++;
			upto = i + (size_t)(nl - (lb->data + at)) + 1;
			p = nl + 1;
		}
		i += run;
	}
	lb->sent += n;
	lb->head = lb->cap ? (lb->head + upto) % lb->cap : 0;
	lb->len -= upto;
	lb->sent -= upto;
	lb->lines -= done;
	return done;
}

void linebuf_rewind(struct linebuf *lb)
{
	lb->sent = 0;
}

size_t linebuf_bytes(const struct linebuf *lb)
{
	return lb->len;
}

size_t linebuf_lines(const struct linebuf *lb)
{
	return lb->lines;
}
