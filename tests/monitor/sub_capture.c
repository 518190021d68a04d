/*
 * sub_capture — test helper standing in for a collector's fan-in: binds a
 * ZeroMQ SUB socket, receives what monitors send, validates every message
 * with sm_wire_decode_frames and prints one JSON line per message:
 *   {"rx": MONOTONIC_SECONDS, "msg": <sm_wire_print_json>}
 * or {"rx": ..., "error": "CODE: detail"} for a message that does not decode.
 * Brief records are expanded (sm_brief) as every StackMon receiver does; a
 * stats line says how many were left out ("waiting": no full record seen
 * yet; "refused": contradicting it).
 * Usage: sub_capture ENDPOINT [SECONDS]   (default: run until SIGTERM/stdin EOF)
 * Exit: 0, or 1 if any message failed to decode, 2 on usage/socket errors.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "sm_brief.h"
#include "sm_clock.h"
#include "sm_wire.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

int main(int argc, char **argv)
{
	void *ctx, *sub;
	double seconds = argc > 2 ? atof(argv[2]) : 0;
	int64_t end = seconds > 0 ? sm_clock_mono_ns() + (int64_t)(seconds * 1e9) : INT64_MAX;
	int bad = 0, linger = 0;
	struct sigaction sa = {0};
	struct sm_brief *brief = sm_brief_new(64, SM_WIRE_MAX_DOMAINS);

	if (brief == NULL)
		return 2;
	if (argc < 2) {
		fprintf(stderr, "usage: sub_capture ENDPOINT [SECONDS]\n");
		return 2;
	}
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	ctx = zmq_ctx_new();
	sub = zmq_socket(ctx, ZMQ_SUB);
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
	zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(sub, argv[1]) < 0) {
		fprintf(stderr, "sub_capture: bind %s: %s\n", argv[1], zmq_strerror(errno));
		return 2;
	}
	/* Tell the driving test we are listening. */
	printf("{\"ready\":true}\n");
	fflush(stdout);
	while (!stop && sm_clock_mono_ns() < end) {
		zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
		zmq_msg_t topic, body;
		struct sm_message m;
		struct sm_wire_error err;
		int more = 0;
		size_t more_len = sizeof(more);

		if (zmq_poll(&item, 1, 100) <= 0)
			continue;
		zmq_msg_init(&topic);
		zmq_msg_init(&body);
		if (zmq_msg_recv(&topic, sub, 0) < 0)
			goto next;
		zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_len);
		if (!more || zmq_msg_recv(&body, sub, 0) < 0) {
			printf("{\"rx\":%.6f,\"error\":\"one frame\"}\n",
			       (double)sm_clock_mono_ns() / 1e9);
			bad++;
			goto next;
		}
		if (sm_wire_decode_frames(zmq_msg_data(&topic), zmq_msg_size(&topic),
					  zmq_msg_data(&body), zmq_msg_size(&body), 0, &m,
					  &err) < 0) {
			printf("{\"rx\":%.6f,\"error\":\"%s\"}\n", (double)sm_clock_mono_ns() / 1e9,
			       sm_wire_code_name(err.code));
			bad++;
			goto next;
		}
		{
			struct sm_brief_result br;

			if (sm_brief_expand(brief, &m, &br) < 0)
				bad++;
			printf("{\"rx\":%.6f,\"size\":%zu,\"waiting\":%zu,\"refused\":%zu,"
			       "\"msg\":",
			       (double)sm_clock_mono_ns() / 1e9, zmq_msg_size(&body), br.no_base,
			       br.mismatch + br.no_room);
		}
		sm_wire_print_json(&m, stdout);
		printf("}\n");
		sm_message_clear(&m);
	next:
		fflush(stdout);
		zmq_msg_close(&topic);
		zmq_msg_close(&body);
	}
	zmq_close(sub);
	zmq_ctx_term(ctx);
	sm_brief_free(&brief);
	return bad ? 1 : 0;
}
