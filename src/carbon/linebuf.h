/*
 * linebuf — one destination's bounded buffer of carbon plaintext lines:
 * a ring of bytes that only ever holds whole lines ("path value ts\n").
 * Lines are appended at the tail; the socket writes from the head; a line
 * leaves the buffer only once its last byte (the '\n') was written, so
 * after a lost connection the next one starts again at the beginning of
 * the line the old one was in the middle of (a line is never split
 * between two connections). When full, the newest lines are refused and
 * counted (docs/CARBON.md "Buffer and drops" says why newest). Plain
 * memory, no I/O: the socket side is dest.c.
 */
#ifndef CARBON_LINEBUF_H
#define CARBON_LINEBUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct linebuf; /* opaque */

/* A buffer that holds at most max_bytes (it grows to that as needed).
 * NULL when out of memory or max_bytes is 0. */
struct linebuf *linebuf_new(size_t max_bytes);
void linebuf_destroy(struct linebuf **lb);

/* Appends `len` bytes of whole lines (each ending with '\n'; text that
 * does not end with one is refused whole). Lines go in, in order, while
 * they fit; from the first that does not, the rest are refused. *taken
 * (may be NULL) gets the bytes that went in. Returns the number of lines
 * refused (0 when all went in). */
size_t linebuf_append(struct linebuf *lb, const char *text, size_t len, size_t *taken);

/* The bytes still to write on the current connection, as up to two
 * pieces of the ring; returns the number of pieces (0 when nothing waits). */
int linebuf_pending(const struct linebuf *lb, struct iovec iov[2]);

/* `n` bytes of what linebuf_pending gave were written. The lines whose
 * last byte is among them are done and freed; the written start of the
 * next line is remembered until it completes or the connection is lost.
 * Returns the number of lines completed. */
size_t linebuf_written(struct linebuf *lb, size_t n);

/* The connection was lost: the next one starts at the beginning of the
 * first line not completed (what of it was written is sent again). */
void linebuf_rewind(struct linebuf *lb);

size_t linebuf_bytes(const struct linebuf *lb); /* held, written part of a line included */
size_t linebuf_lines(const struct linebuf *lb); /* lines held (not completed) */

#endif
