/*
 * sm_mpread — a bounded msgpack reader over one buffer: the part of the
 * wire decoder that knows msgpack, and nothing of StackMon's messages.
 * Every read is checked against the end of the buffer, every container
 * count against a limit and against the bytes left (each element takes at
 * least one byte) before the caller allocates anything, and nesting is
 * bounded. Nothing here trusts a length.
 *
 * Why not msgpack-c's unpacker: it allocates `count` objects as soon as it
 * reads a container header, so a 5-byte frame announcing four billion
 * elements costs a huge allocation before the bytes are known to exist.
 *
 * The reader is a plain cursor the caller keeps on its stack (no
 * allocation per frame), hence a visible struct. Errors are reported in a
 * struct sm_wire_error: the first one is kept, with a message naming the
 * field and, through the optional `where` hook, its place in the message.
 */
#ifndef SM_MPREAD_H
#define SM_MPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sm_log.h"
#include "sm_wire.h"

struct sm_mpread;

/* Writes where the reader is (e.g. "domains[3].disks[0].") into buf; only
 * called when an error is recorded, so the success path builds no paths. */
typedef void sm_mpread_where_fn(const struct sm_mpread *r, char *buf, size_t len);

struct sm_mpread {
	const uint8_t *p;          /* next byte */
	const uint8_t *end;        /* one past the last byte */
	struct sm_wire_error *err; /* first error is recorded here; NULL: not recorded */
	int max_depth;             /* nesting sm_mpread_skip accepts (SM_WIRE_MAX_DEPTH) */
	sm_mpread_where_fn *where; /* optional location prefix for error messages */
	void *ctx;                 /* the caller's, for `where` */
};

/* Starts reading buf[0..len). Clears *err (if not NULL). */
void sm_mpread_init(struct sm_mpread *r, const void *buf, size_t len, struct sm_wire_error *err);

/* Records an error (unless one is recorded already) and returns -1. */
int sm_mpread_fail(struct sm_mpread *r, enum sm_wire_code code, const char *field,
		   const char *fmt, ...) SM_PRINTF(4, 5);

/* Bytes not yet read. */
size_t sm_mpread_left(const struct sm_mpread *r);
/* The next type byte without consuming it; -1 at the end. */
int sm_mpread_peek(const struct sm_mpread *r);
/* True if the next object is nil, which is then consumed. */
bool sm_mpread_nil(struct sm_mpread *r);
/* True if the next object is a map header (of any width). */
bool sm_mpread_is_map(const struct sm_mpread *r);

/* Container headers: *n is the element (array) or pair (map) count. The
 * count must be <= max and fit in the bytes left at min_bytes per element
 * (per key and per value for maps). *n is 0 on failure. */
int sm_mpread_array(struct sm_mpread *r, size_t *n, size_t max, size_t min_bytes,
		    const char *field);
int sm_mpread_map(struct sm_mpread *r, size_t *n, size_t max, size_t min_bytes,
		  const char *field);

/* A str's bytes in place (not NUL-terminated, not checked as UTF-8). */
int sm_mpread_str_view(struct sm_mpread *r, const char **s, size_t *len, const char *field);
/* A str of at most max bytes of valid UTF-8, copied NUL-terminated into dst[max + 1]. */
int sm_mpread_str(struct sm_mpread *r, char *dst, size_t max, const char *field);
/* A map key: a str of valid UTF-8, in place. */
int sm_mpread_key(struct sm_mpread *r, const char **k, size_t *klen);
/* True if the key k[0..klen) is `name`. */
bool sm_mpread_key_is(const char *k, size_t klen, const char *name);

/* A non-negative integer <= max (signed encodings of non-negative values
 * are accepted; negative ones are a range error). */
int sm_mpread_uint(struct sm_mpread *r, uint64_t *v, uint64_t max, const char *field);
int sm_mpread_u32(struct sm_mpread *r, uint32_t *v, uint32_t max, const char *field);
/* A number (float32, float64 or integer) in [lo, hi] as double. NaN and
 * infinities are refused; nil reads as NaN when nullable. */
int sm_mpread_num(struct sm_mpread *r, double *v, bool nullable, double lo, double hi,
		  const char *field);
int sm_mpread_bool(struct sm_mpread *r, bool *v, const char *field);
/* A bin of exactly len bytes, copied into dst. */
int sm_mpread_bin(struct sm_mpread *r, void *dst, size_t len, const char *field);

/* Skips one object of any type, checking its structure down to
 * r->max_depth levels, `depth` being the level of this object. */
int sm_mpread_skip(struct sm_mpread *r, int depth, const char *field);

#endif
