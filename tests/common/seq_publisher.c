/*
 * seq_publisher — a publisher for the loss-accounting tests: binds a PUB
 * socket and sends minimal valid frames whose host, kind, epoch and seq
 * come from a script on stdin, so a test knows exactly which frames "went
 * missing" (those never sent). One line per frame:
 *   HOST KIND EPOCH SEQ     a stats (no domain), event or hb frame
 *   hostile NAME KIND EPOCH SEQ   the same frame with NAME as its host,
 *                           bytes a real encoder refuses (e.g. HTML)
 *   sleep SECONDS           a pause
 * Blank lines and lines starting with '#' are skipped.
 * Usage: seq_publisher ENDPOINT [MAX_SECONDS_BEFORE_FIRST]
 * The socket is an XPUB: the script starts once a subscriber has
 * subscribed (or after the maximum wait), so no frame is lost to a
 * subscriber that had not connected yet: the only gaps are the script's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "sm_clock.h"
#include "sm_sock.h"
#include "sm_wire.h"

static int kind_parse(const char *s, enum sm_msg_kind *k)
{
	if (strcmp(s, "stats") == 0)
		*k = SM_KIND_STATS;
	else if (strcmp(s, "event") == 0)
		*k = SM_KIND_EVENT;
	else if (strcmp(s, "hb") == 0)
		*k = SM_KIND_HEARTBEAT;
	else
		return -1;
	return 0;
}

/* Encodes one frame of `kind` from `host`; when `hostile` is set, its host
 * is replaced in topic and body, byte for byte, after encoding. */
static int send_frame(void *pub, msgpack_sbuffer *buf, const char *host, const char *hostile,
		      enum sm_msg_kind kind, uint64_t epoch, uint64_t seq)
{
	char topic[SM_TOPIC_MAX + 1];
	struct sm_message m;
	size_t tlen, hlen = strlen(host);

	memset(&m, 0, sizeof(m));
	m.hdr.version = SM_WIRE_VERSION;
	m.hdr.kind = kind;
	snprintf(m.hdr.host, sizeof(m.hdr.host), "%s", host);
	m.hdr.time = sm_clock_wall();
	m.hdr.epoch = epoch;
	m.hdr.seq = seq;
	switch (kind) {
	case SM_KIND_STATS:
		m.u.stats.interval = 1.0;
		m.u.stats.host.ncpus = 4;
		m.u.stats.host.cpu_pct = 10.0;
		m.u.stats.host.mem_total_kib = 1 << 20;
		m.u.stats.host.mem_used_kib = 1 << 19;
		m.u.stats.host.mem_pct = 50.0;
		m.u.stats.host.libvirt_ok = true;
		break;
	case SM_KIND_EVENT:
		m.u.event.type = SM_EVENT_STARTED;
		memset(m.u.event.uuid, 0x5e, sizeof(m.u.event.uuid));
		m.u.event.uuid[6] = 0x40;
		m.u.event.uuid[8] = 0x80;
		snprintf(m.u.event.name, sizeof(m.u.event.name), "seq-test");
		break;
	default:
		m.u.hb.interval = 1.0;
		break;
	}
	tlen = sm_wire_topic(kind, host, topic, sizeof(topic));
	if (tlen == 0 || sm_wire_encode(&m, buf) < 0)
		return -1;
	if (hostile) {
		memcpy(topic + tlen - hlen - 1, hostile, hlen);
		for (size_t k = 0; k + hlen <= buf->size; k++)
			if (memcmp(buf->data + k, host, hlen) == 0)
				memcpy(buf->data + k, hostile, hlen);
	}
	return sm_sock_send2(pub, topic, tlen, buf->data, buf->size, 0);
}

/* Waits up to `max_s` for a first subscription, then a little more for
 * the subscriber's other prefixes, which it sends together. */
static void wait_for_subscriber(void *pub, double max_s)
{
	zmq_pollitem_t item = {pub, 0, ZMQ_POLLIN, 0};
	char msg[SM_TOPIC_MAX + 2];

	if (zmq_poll(&item, 1, (long)(max_s * 1000)) == 1)
		while (zmq_recv(pub, msg, sizeof(msg), ZMQ_DONTWAIT) >= 0)
			;
	usleep(300 * 1000);
}

int main(int argc, char **argv)
{
	struct sm_sock_opts so;
	msgpack_sbuffer buf;
	char line[1024];
	void *ctx, *pub;
	double wait = argc > 2 ? atof(argv[2]) : 10.0;
	unsigned long sent = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: seq_publisher ENDPOINT [SECONDS_BEFORE_FIRST] < script\n");
		return 2;
	}
	ctx = zmq_ctx_new();
	sm_sock_opts_default(&so);
	so.sndhwm = 100000;
	pub = sm_sock_new(ctx, ZMQ_XPUB, &so);
	if (!pub || sm_sock_bind(pub, argv[1]) < 0)
		return 1;
	msgpack_sbuffer_init(&buf);
	wait_for_subscriber(pub, wait); /* PUB drops what nobody takes yet */
	while (fgets(line, sizeof(line), stdin)) {
		char a[300], b[300], c[32];
		unsigned long long epoch, seq;
		enum sm_msg_kind kind;
		double pause;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "sleep %lf", &pause) == 1) {
			usleep((useconds_t)(pause * 1e6));
			continue;
		}
		if (sscanf(line, "hostile %299s %31s %llu %llu", a, c, &epoch, &seq) == 4 &&
		    kind_parse(c, &kind) == 0) {
			size_t n = strlen(a);

			memset(b, 'x', n);
			b[n] = '\0';
			if (n > SM_HOST_MAX || send_frame(pub, &buf, b, a, kind, epoch, seq) < 0)
				return 1;
		} else if (sscanf(line, "%299s %31s %llu %llu", a, c, &epoch, &seq) == 4 &&
			   kind_parse(c, &kind) == 0) {
			if (send_frame(pub, &buf, a, NULL, kind, epoch, seq) < 0) {
				fprintf(stderr, "seq_publisher: cannot send: %s", line);
				return 1;
			}
		} else {
			fprintf(stderr, "seq_publisher: bad line: %s", line);
			return 2;
		}
		sent++;
		usleep(2000); /* a steady trickle, as a monitor's */
	}
	printf("sent %lu\n", sent);
	fflush(stdout);
	usleep(300 * 1000); /* the last frames leave before the socket closes */
	msgpack_sbuffer_destroy(&buf);
	sm_sock_close(&pub);
	zmq_ctx_term(ctx);
	return 0;
}
