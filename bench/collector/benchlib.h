/*
 * benchlib — what the collector benchmark's programs share: raising the fd
 * limit, and pre-encoded stats frames whose time and seq are patched in
 * place before each send, so generating load costs a memcpy, not an encode.
 */
#ifndef BENCHLIB_H
#define BENCHLIB_H

#include <stddef.h>
#include <stdint.h>

/* CurveZMQ client keys (stackmon-keygen files), loaded once, applied to
 * every socket a program connects. */
struct bench_curve {
	char public_key[41], secret_key[41], server_key[41]; /* Z85; public "" = off */
};

/* Loads the own key pair from `secret_file` and the server's public key
 * from `server_file`. 0, or -1 with a message on stderr. */
int bench_curve_load(struct bench_curve *c, const char *secret_file, const char *server_file);
/* Makes sock a CURVE client with c's keys (nothing when c is off). 0 or -1. */
int bench_curve_apply(const struct bench_curve *c, void *sock);

/* Raises RLIMIT_NOFILE's soft limit to the hard one; returns the new limit. */
long bench_raise_fd_limit(void);

/* One publisher's frame: topic and body, and where its header's time
 * (float64) and seq (uint64) live inside the body. */
struct bench_frame {
	char topic[300];
	size_t topic_len;
	unsigned char *body;
	size_t body_len;
	size_t time_off; /* offset of the 8 big-endian bytes of "time" */
	size_t seq_off;	 /* offset of the 8 big-endian bytes of "seq" */
};

/* Encodes a realistic stats frame for `host` with `ndomains` domains (the
 * test suite's fake_stats). seq is encoded as a full uint64 so it can be
 * patched. Returns 0 or -1. */
int bench_frame_init(struct bench_frame *f, const char *host, size_t ndomains, uint64_t epoch);
void bench_frame_free(struct bench_frame *f);
/* Stamps the frame with seq and the current wall-clock time. */
void bench_frame_stamp(struct bench_frame *f, uint64_t seq);

#endif
