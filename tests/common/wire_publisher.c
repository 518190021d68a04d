/*
 * wire_publisher.c — a real C publisher for the protocol test: binds a PUB
 * socket and publishes one message of every kind (with hostile tenant
 * strings) each round, writing what it sent as JSON lines (the C view) so
 * that another-language subscriber's decoding can be compared field by field.
 * Usage: wire_publisher ENDPOINT JSON_OUT ROUNDS [DISPLAY_NAME]
 * DISPLAY_NAME, if given, replaces the first domain's Nova display name
 * (raw bytes, as a tenant could choose them), in stats and events alike.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "sm_sock.h"
#include "sm_wire.h"

static void send_msg(void *pub, struct sm_message *m, FILE *json, msgpack_sbuffer *buf)
{
	char topic[SM_TOPIC_MAX + 1];
	size_t tlen = sm_wire_topic(m->hdr.kind, m->hdr.host, topic, sizeof(topic));
	struct sm_message back;
	struct sm_wire_error err;

	if (sm_wire_encode(m, buf) < 0 || tlen == 0)
		exit(1);
	/* The C view is what the C decoder reads back from the same bytes. */
	if (sm_wire_decode_frames(topic, tlen, buf->data, buf->size, 0, &back, &err) < 0) {
		fprintf(stderr, "wire_publisher: own frame refused: %s\n", err.msg);
		exit(1);
	}
	sm_wire_print_json(&back, json);
	fputc('\n', json);
	fflush(json);
	sm_message_clear(&back);
	if (sm_sock_send2(pub, topic, tlen, buf->data, buf->size, 0) < 0)
		exit(1);
}

int main(int argc, char **argv)
{
	struct sm_sock_opts opts;
	struct sm_disk_stats disk = {"vda", 1, 2, 3, 4, 0, 1.5, 2.5, NAN, 4.5};
	struct sm_nic_stats nic = {"tap0", 1, 2, 3, 4, 5, 6, 7, 8, 0.5, NAN, 2.0, 3.0};
	struct sm_domain_stats dom[2];
	struct sm_publisher_loss row = {"cn-01", SM_KIND_STATS, 10, 2};
	struct sm_message m;
	msgpack_sbuffer buf;
	void *ctx, *pub;
	FILE *json;
	int rounds;

	if (argc != 4 && argc != 5)
		return 2;
	rounds = atoi(argv[3]);
	json = fopen(argv[2], "w");
	ctx = zmq_ctx_new();
	sm_sock_opts_default(&opts);
	pub = sm_sock_new(ctx, ZMQ_PUB, &opts);
	if (json == NULL || pub == NULL || sm_sock_bind(pub, argv[1]) < 0)
		return 1;
	msgpack_sbuffer_init(&buf);

	memset(dom, 0, sizeof(dom));
	for (int i = 0; i < 2; i++) {
		for (int j = 0; j < 16; j++)
			dom[i].uuid[j] = (uint8_t)(j * 7 + i);
		dom[i].state = 1;
		dom[i].vcpus = 2;
		dom[i].cpu_time_ns = UINT64_C(9007199254740993); /* > 2^53: exact u64 needed */
		dom[i].cpu_pct = 42.5;
		dom[i].steal_pct = NAN;
		dom[i].load[0] = 1.25, dom[i].load[1] = 0.5, dom[i].load[2] = NAN;
		dom[i].mem_basis = SM_MEM_HOST_RSS;
		dom[i].mem_total_kib = 131072;
		dom[i].mem_used_kib = 65536;
		dom[i].mem_pct = 50;
	}
	strcpy(dom[0].name, "instance-00000001");
	dom[0].flags = SM_DOM_NOVA;
	dom[0].has_identity = true;
	strcpy(dom[0].identity.display_name, "<script>alert(1)</script> \"q\" é ✓");
	if (argc == 5)
		snprintf(dom[0].identity.display_name, sizeof(dom[0].identity.display_name), "%s",
			 argv[4]);
	strcpy(dom[0].identity.project_id, "p-1");
	strcpy(dom[0].identity.project_name, "acme");
	strcpy(dom[0].identity.user_id, "u-1");
	strcpy(dom[0].identity.user_name, "alice");
	strcpy(dom[0].identity.flavor, "m1.tiny");
	dom[0].ndisks = 1, dom[0].disks = &disk;
	dom[0].nnics = 1, dom[0].nics = &nic;
	strcpy(dom[1].name, "plain\x01vm\xff"); /* sanitised by the encoder */
	dom[1].flags = SM_DOM_STALE;

	/* Give subscribers time to connect (PUB drops before that). */
	for (int r = 1; r <= rounds; r++) {
		memset(&m, 0, sizeof(m));
		m.hdr = (struct sm_header){SM_WIRE_VERSION, SM_KIND_STATS, "cn-01", 1764380000.125 + r,
					   (uint64_t)r, 77};
		m.u.stats.interval = 1;
		m.u.stats.host = (struct sm_host_stats){2, 10.5, {0.5, 0.25, 0.125}, 1000, 500, 50,
							true, 2.5, 1};
		m.u.stats.ndomains = 2;
		m.u.stats.domains = dom;
		send_msg(pub, &m, json, &buf);

		memset(&m, 0, sizeof(m));
		m.hdr = (struct sm_header){SM_WIRE_VERSION, SM_KIND_EVENT, "cn-01", 1764380000.5 + r,
					   (uint64_t)r, 77};
		m.u.event.type = r % 2 ? SM_EVENT_STARTED : SM_EVENT_STOPPED;
		memcpy(m.u.event.uuid, dom[0].uuid, 16);
		strcpy(m.u.event.name, dom[0].name);
		m.u.event.has_identity = true;
		m.u.event.identity = dom[0].identity;
		strcpy(m.u.event.reason, "destroyed");
		send_msg(pub, &m, json, &buf);

		memset(&m, 0, sizeof(m));
		m.hdr = (struct sm_header){SM_WIRE_VERSION, SM_KIND_HEARTBEAT, "master", 1764380000.75 + r,
					   (uint64_t)r, 78};
		m.u.hb.interval = 1;
		send_msg(pub, &m, json, &buf);

		memset(&m, 0, sizeof(m));
		m.hdr = (struct sm_header){SM_WIRE_VERSION, SM_KIND_COLLECTOR, "master",
					   1764380000.875 + r, (uint64_t)r, 78};
		m.u.collector.interval = 10;
		m.u.collector.frames_in = 100u * (unsigned)r;
		m.u.collector.dropped[SM_DROP_MALFORMED] = 3;
		m.u.collector.publishers = 1;
		m.u.collector.nloss = 1;
		m.u.collector.loss = &row;
		send_msg(pub, &m, json, &buf);
		usleep(100000);
	}
	msgpack_sbuffer_destroy(&buf);
	sm_sock_close(&pub);
	zmq_ctx_term(ctx);
	fclose(json);
	return 0;
}
