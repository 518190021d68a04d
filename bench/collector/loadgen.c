/*
 * loadgen — the collector benchmark's publishers: N sockets in one process,
 * each a monitor-like sender of realistic stats frames, at a fixed total
 * rate or flat out. Sockets are XPUB with NODROP so that "flat out" means
 * as fast as the receiver takes them (a full queue blocks) rather than as
 * fast as a PUB can discard. Sending starts once every socket has seen the
 * receiver's subscription, so no frame is lost to the slow-joiner effect.
 * Usage: loadgen --connect EP [--publishers N] [--domains D] [--rate R]
 *                [--duration S] [--prefix NAME] [--hwm N]
 *                [--curve-secret NAME.key_secret --curve-server SERVER.key]
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "benchlib.h"
#include "sm_clock.h"

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"connect", required_argument, NULL, 'c'},
						 {"publishers", required_argument, NULL, 'n'},
						 {"domains", required_argument, NULL, 'd'},
						 {"rate", required_argument, NULL, 'r'},
						 {"duration", required_argument, NULL, 't'},
						 {"prefix", required_argument, NULL, 'p'},
						 {"hwm", required_argument, NULL, 'w'},
						 {"curve-secret", required_argument, NULL, 'S'},
						 {"curve-server", required_argument, NULL, 'K'},
						 {NULL, 0, NULL, 0}};
	const char *curve_secret = NULL, *curve_server = NULL;
	struct bench_curve curve = {0};
	const char *endpoint = NULL, *prefix = "lg";
	size_t n = 1, ndomains = 10, ready = 0;
	double rate = 0, duration = 10;
	int hwm = 10000, nodrop = 1, zero = 0, timeout_ms = 2000, opt;
	struct bench_frame *frames;
	void **socks;
	zmq_pollitem_t *items;
	bool *subscribed;
	uint64_t sent = 0, blocked = 0;
	int64_t start, end, deadline;
	long fds;
	void *ctx;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			endpoint = optarg;
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			ndomains = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 't':
			duration = atof(optarg);
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'w':
			hwm = atoi(optarg);
			break;
		case 'S':
			curve_secret = optarg;
			break;
		case 'K':
			curve_server = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!endpoint || n == 0 || !curve_secret != !curve_server)
		return 2;
	if (curve_secret && bench_curve_load(&curve, curve_secret, curve_server) < 0)
		return 1;
	fds = bench_raise_fd_limit();
	ctx = zmq_ctx_new();
	/* Each socket costs two descriptors (its mailbox and its connection);
	 * ZMQ_MAX_SOCKETS (default 1023) must also allow them all. */
	if (zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, (int)n + 64) < 0) {
		fprintf(stderr, "loadgen: ZMQ_MAX_SOCKETS %zu: %s\n", n + 64, zmq_strerror(errno));
		return 1;
	}
	frames = calloc(n, sizeof(*frames));
	socks = calloc(n, sizeof(*socks));
	items = calloc(n, sizeof(*items));
	subscribed = calloc(n, sizeof(*subscribed));
	if (!frames || !socks || !items || !subscribed)
		return 1;
	for (size_t i = 0; i < n; i++) {
		char host[64];

		snprintf(host, sizeof(host), "%s-%05zu", prefix, i);
		if (bench_frame_init(&frames[i], host, ndomains, 1000 + i) < 0)
			return 1;
		socks[i] = zmq_socket(ctx, ZMQ_XPUB);
		if (!socks[i]) {
			fprintf(stderr, "loadgen: socket %zu: %s (fd limit %ld)\n", i,
				zmq_strerror(errno), fds);
			return 1;
		}
		zmq_setsockopt(socks[i], ZMQ_XPUB_NODROP, &nodrop, sizeof(nodrop));
		zmq_setsockopt(socks[i], ZMQ_SNDHWM, &hwm, sizeof(hwm));
		zmq_setsockopt(socks[i], ZMQ_SNDTIMEO, &timeout_ms, sizeof(timeout_ms));
		zmq_setsockopt(socks[i], ZMQ_LINGER, &zero, sizeof(zero));
		if (bench_curve_apply(&curve, socks[i]) < 0)
			return 1;
		if (zmq_connect(socks[i], endpoint) < 0) {
			fprintf(stderr, "loadgen: connect %s: %s\n", endpoint, zmq_strerror(errno));
			return 1;
		}
		items[i] = (zmq_pollitem_t){.socket = socks[i], .events = ZMQ_POLLIN};
	}
	/* Wait until every socket has the receiver's subscription. */
	deadline = sm_clock_mono_ns() + 120 * SM_NS_PER_SEC;
	while (ready < n && sm_clock_mono_ns() < deadline) {
		if (zmq_poll(items, (int)n, 100) <= 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			char buf[64];

			if (!(items[i].revents & ZMQ_POLLIN))
				continue;
			while (zmq_recv(socks[i], buf, sizeof(buf), ZMQ_DONTWAIT) >= 0) {
				if (!subscribed[i]) {
					subscribed[i] = true;
					ready++;
				}
			}
		}
	}
	printf("loadgen: %zu/%zu publishers connected and subscribed, frame %zu bytes\n", ready, n,
	       frames[0].body_len);
	fflush(stdout);

	start = sm_clock_mono_ns();
	end = start + (int64_t)(duration * (double)SM_NS_PER_SEC);
	for (size_t i = 0; sm_clock_mono_ns() < end;) {
		uint64_t due = sent + 64;

		if (rate > 0) {
			due = (uint64_t)((double)(sm_clock_mono_ns() - start) / 1e9 * rate);
			if (due <= sent) {
				zmq_poll(NULL, 0, 1);
				continue;
			}
		}
		for (; sent < due; sent++, i = (i + 1) % n) {
			struct bench_frame *f = &frames[i];

			bench_frame_stamp(f, sent / n + 1);
			if (zmq_send(socks[i], f->topic, f->topic_len, ZMQ_SNDMORE) < 0 ||
			    zmq_send(socks[i], f->body, f->body_len, 0) < 0)
				blocked++;
		}
	}
	printf("loadgen: sent=%llu seconds=%.2f rate=%.0f blocked=%llu\n", (unsigned long long)sent,
	       (double)(sm_clock_mono_ns() - start) / 1e9,
	       (double)sent / ((double)(sm_clock_mono_ns() - start) / 1e9),
	       (unsigned long long)blocked);
	for (size_t i = 0; i < n; i++) {
		zmq_close(socks[i]);
		bench_frame_free(&frames[i]);
	}
	zmq_ctx_term(ctx);
	free(frames);
	free(socks);
	free(items);
	free(subscribed);
	return 0;
}
