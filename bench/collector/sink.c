/*
 * sink — the collector benchmark's consumer: counts stats frames over a
 * steady window and, with --latency, reads each frame's header (time, seq)
 * to measure the delay from the publisher's stamp to arrival and the frames
 * lost per sender. With --idle S instead, it counts every frame from the
 * first until S seconds pass without one (the loss-free throughput trials).
 * Prints one line of key=value results.
 * Usage: sink (--connect EP | --bind EP) [--skip S] [--duration S] [--latency]
 *             [--idle S] [--curve-secret NAME.key_secret --curve-server SERVER.key]
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "benchlib.h"
#include "sm_loss.h"
#include "sm_clock.h"
#include "sm_wire.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1));

	return n ? v[i] : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"connect", required_argument, NULL, 'c'},
						 {"bind", required_argument, NULL, 'b'},
						 {"skip", required_argument, NULL, 's'},
						 {"duration", required_argument, NULL, 't'},
						 {"latency", no_argument, NULL, 'l'},
						 {"idle", required_argument, NULL, 'i'},
						 {"curve-secret", required_argument, NULL, 'S'},
						 {"curve-server", required_argument, NULL, 'K'},
						 {NULL, 0, NULL, 0}};
	const char *curve_secret = NULL, *curve_server = NULL;
	struct bench_curve curve = {0};
	const char *connect_ep = NULL, *bind_ep = NULL;
	double skip = 2, duration = 10, idle = 0;
	bool latency = false;
	int hwm = 100000, opt;
	uint64_t frames = 0, bytes = 0, lost = 0, bad = 0;
	int64_t first = 0, win_start = 0, win_end = 0, last_rx;
	size_t nlat = 0, maxlat = 0;
	double *lat = NULL;
	struct loss_table *loss = loss_table_new(SM_WIRE_MAX_PUBLISHERS, 3600);
	void *ctx, *sub;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			connect_ep = optarg;
			break;
		case 'b':
			bind_ep = optarg;
			break;
		case 's':
			skip = atof(optarg);
			break;
		case 't':
			duration = atof(optarg);
			break;
		case 'l':
			latency = true;
			break;
		case 'i':
			idle = atof(optarg);
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
	if (!connect_ep == !bind_ep || !loss || !curve_secret != !curve_server)
		return 2;
	if (curve_secret && bench_curve_load(&curve, curve_secret, curve_server) < 0)
		return 1;
	bench_raise_fd_limit();
	ctx = zmq_ctx_new();
	sub = zmq_socket(ctx, ZMQ_SUB);
	zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "stats/", 6);
	if (bench_curve_apply(&curve, sub) < 0)
		return 1;
	if ((connect_ep ? zmq_connect(sub, connect_ep) : zmq_bind(sub, bind_ep)) < 0) {
		fprintf(stderr, "sink: %s: %s\n", connect_ep ? connect_ep : bind_ep,
			zmq_strerror(errno));
		return 1;
	}
	if (latency) {
		maxlat = (size_t)(duration * 200000) + 1000;
		lat = malloc(maxlat * sizeof(*lat));
		if (!lat)
			return 1;
	}
	last_rx = sm_clock_mono_ns();
	for (;;) {
		zmq_msg_t topic, body;
		int64_t now;

		zmq_msg_init(&topic);
		zmq_msg_init(&body);
		if (zmq_msg_recv(&topic, sub, ZMQ_DONTWAIT) < 0) {
			zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};

			zmq_msg_close(&topic);
			zmq_msg_close(&body);
			now = sm_clock_mono_ns();
			if (idle > 0 && first &&
			    now - last_rx > (int64_t)(idle * (double)SM_NS_PER_SEC))
				break;
			/* Before the first frame, wait long: 10,000 publishers take
			 * a while to connect. After it, 30 s of silence ends the run. */
			if ((first && now > win_end) ||
			    now - last_rx > (first ? 30 : 300) * SM_NS_PER_SEC)
				break;
			zmq_poll(&it, 1, 100);
			continue;
		}
		zmq_msg_recv(&body, sub, 0);
		now = last_rx = sm_clock_mono_ns();
		if (!first) {
			first = now;
			win_start = first + (int64_t)(skip * (double)SM_NS_PER_SEC);
			win_end = win_start + (int64_t)(duration * (double)SM_NS_PER_SEC);
			if (idle > 0) { /* count everything, end on silence */
				win_start = first;
				win_end = INT64_MAX;
			}
		}
		if (now >= win_start && now < win_end) {
			frames++;
			bytes += zmq_msg_size(&body);
			if (latency) {
				struct sm_header h;

				if (sm_wire_peek_header(zmq_msg_data(&body), zmq_msg_size(&body), 0,
							&h, NULL) == 0) {
					if (nlat < maxlat)
						lat[nlat++] = sm_clock_wall() - h.time;
					lost += loss_table_note(loss, &h, now);
				} else {
					bad++;
				}
			}
		}
		zmq_msg_close(&topic);
		zmq_msg_close(&body);
		if (first && now >= win_end)
			break;
	}
	if (lat)
		qsort(lat, nlat, sizeof(*lat), cmp_double);
	if (idle > 0 && first)
		duration = (double)(last_rx - first) / 1e9;
	printf("frames=%llu rate=%.0f MBps=%.1f", (unsigned long long)frames,
	       (double)frames / duration, (double)bytes / duration / 1e6);
	if (latency)
		printf(" p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f lost=%llu "
		       "bad=%llu",
		       pct(lat, nlat, 0.50) * 1e6, pct(lat, nlat, 0.90) * 1e6,
		       pct(lat, nlat, 0.99) * 1e6, pct(lat, nlat, 0.999) * 1e6,
		       nlat ? lat[nlat - 1] * 1e6 : 0, (unsigned long long)lost,
		       (unsigned long long)bad);
	printf("\n");
	free(lat);
	loss_table_destroy(&loss);
	zmq_close(sub);
	zmq_ctx_term(ctx);
	return 0;
}
