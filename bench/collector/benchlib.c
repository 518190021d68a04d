/*
 * benchlib — see benchlib.h. The offsets are found by looking for the
 * msgpack key strings "time" and "seq" followed by their fixed-width type
 * bytes (0xcb float64, 0xcf uint64) in the header the encoder wrote first.
 */
#include "benchlib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zmq.h>

#include "fake_stats.h"
#include "sm_cert.h"
#include "sm_clock.h"
#include "sm_wire.h"

int bench_curve_load(struct bench_curve *c, const char *secret_file, const char *server_file)
{
	struct sm_cert own = {0}, server = {0};
	char err[256];

	memset(c, 0, sizeof(*c));
	if (sm_cert_load(secret_file, true, &own, err, sizeof(err)) < 0 ||
	    sm_cert_load(server_file, false, &server, err, sizeof(err)) < 0) {
		fprintf(stderr, "curve: %s\n", err);
		sm_cert_clear(&own);
		return -1;
	}
	memcpy(c->public_key, own.public_key, sizeof(c->public_key));
	memcpy(c->secret_key, own.secret_key, sizeof(c->secret_key));
	memcpy(c->server_key, server.public_key, sizeof(c->server_key));
	sm_cert_clear(&own);
	sm_cert_clear(&server);
	return 0;
}

int bench_curve_apply(const struct bench_curve *c, void *sock)
{
	if (!c->public_key[0])
		return 0;
	if (zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, c->public_key, 41) < 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, c->secret_key, 41) < 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, c->server_key, 41) < 0) {
		fprintf(stderr, "curve: %s\n", zmq_strerror(errno));
		return -1;
	}
	return 0;
}

long bench_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return (long)rl.rlim_cur;
}

static long find(const unsigned char *p, size_t len, const char *pat, size_t plen)
{
	for (size_t i = 0; i + plen <= len && i < 200; i++) {
		if (memcmp(p + i, pat, plen) == 0)
			return (long)(i + plen);
	}
	return -1;
}

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

int bench_frame_init(struct bench_frame *f, const char *host, size_t ndomains, uint64_t epoch)
{
	struct sm_message m;
	msgpack_sbuffer sb;
	long t, s;

	memset(f, 0, sizeof(*f));
	/* A seq above 2^32 makes the encoder use the 9-byte uint64 form. */
	if (fake_stats_fill(&m, host, ndomains, epoch, UINT64_C(1) << 40) < 0)
		return -1;
	/* Each host its own domains, as on a real site: the fixtures number
	 * them from 0 on every host, and a consumer keyed by UUID (the
	 * exporter, the aggregator) would see one host's ten domains. */
	for (size_t i = 0; i < m.u.stats.ndomains; i++) {
		uint32_t h = 2166136261u; /* FNV-1a of the host name */

		for (const char *c = host; *c; c++)
			h = (h ^ (uint8_t)*c) * 16777619u;
		memcpy(m.u.stats.domains[i].uuid + 8, &h, sizeof(h));
	}
	msgpack_sbuffer_init(&sb);
	if (sm_wire_encode(&m, &sb) < 0) {
		fake_stats_free(&m);
		return -1;
	}
	fake_stats_free(&m);
	t = find((unsigned char *)sb.data, sb.size, "\xa4time\xcb", 6);
	s = find((unsigned char *)sb.data, sb.size, "\xa3seq\xcf", 5);
	f->topic_len = sm_wire_topic(SM_KIND_STATS, host, f->topic, sizeof(f->topic));
	if (t < 0 || s < 0 || f->topic_len == 0) {
		msgpack_sbuffer_destroy(&sb);
		return -1;
	}
	f->body = (unsigned char *)sb.data; /* take the sbuffer's allocation */
	f->body_len = sb.size;
	f->time_off = (size_t)t;
	f->seq_off = (size_t)s;
	return 0;
}

void bench_frame_free(struct bench_frame *f)
{
	free(f->body);
	f->body = NULL;
}

void bench_frame_stamp(struct bench_frame *f, uint64_t seq)
{
	double now = sm_clock_wall();
	uint64_t bits;

	memcpy(&bits, &now, sizeof(bits));
	put_be64(f->body + f->time_off, bits);
	put_be64(f->body + f->seq_off, seq);
}
