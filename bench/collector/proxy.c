/*
 * proxy — the benchmark's baseline: a bare zmq_proxy between an XSUB bound
 * on the fan-in and an XPUB bound on the fan-out, the transport's own limit
 * for a relay, with the same high-water marks as the collector's defaults.
 * Usage: proxy FAN_IN FAN_OUT [HWM]
 */
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

int main(int argc, char **argv)
{
	void *ctx, *xsub, *xpub;
	int hwm = argc > 3 ? atoi(argv[3]) : 10000;

	if (argc < 3)
		return 2;
	ctx = zmq_ctx_new();
	xsub = zmq_socket(ctx, ZMQ_XSUB);
	xpub = zmq_socket(ctx, ZMQ_XPUB);
	zmq_setsockopt(xsub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(xpub, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	if (zmq_bind(xsub, argv[1]) < 0 || zmq_bind(xpub, argv[2]) < 0) {
		fprintf(stderr, "proxy: bind: %s\n", zmq_strerror(zmq_errno()));
		return 1;
	}
	zmq_proxy(xsub, xpub, NULL); /* until killed */
	return 0;
}
