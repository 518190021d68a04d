/*
 * benchlib — what the collector benchmark's programs share: raising the fd
 * limit, and pre-encoded stats frames whose time and seq are patched in
 * place before each send, so generating load costs a memcpy, not an encode.
 */
#ifndef BENCHLIB_H
#define BENCHLIB_H

#include <stddef.h>
#include <stdint.h>

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
