/*
 * wire_publisher.c — a real C publisher for the protocol test: binds a PUB
 * socket and publishes one message of every kind (with hostile tenant
 * strings) each round, writing what it sent as JSON lines (the C view) so
 * that another-language subscriber's decoding can be compared field by field.
 * The first domain of each stats frame is sent in full every fifth round
 * and brief in between, its counters growing, so the subscriber's expansion
 * of brief records is compared too; the C view is the C expander's.
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

#include "sm_brief.h"
#include "sm_sock.h"
#include "sm_wire.h"

static struct sm_brief *brief; /* the C view's expander */

/* Sends the body already in buf, or (m's body encoded) when `encode`. */
static void send_body(void *pub, struct sm_message *m, FILE *json, msgpack_sbuffer *buf,
		      bool encode)
{
	char topic[SM_TOPIC_MAX + 1];
	size_t tlen = sm_wire_topic(m->hdr.kind, m->hdr.host, topic, sizeof(topic));
	struct sm_message back;
	struct sm_wire_error err;
	struct sm_brief_result br;

	if ((encode && sm_wire_encode(m, buf) < 0) || tlen == 0)
		exit(1);
	/* The C view is what the C decoder reads back from the same bytes. */
	if (sm_wire_decode_frames(topic, tlen, buf->data, buf->size, 0, &back, &err) < 0) {
		fprintf(stderr, "wire_publisher: own frame refused: %s\n", err.msg);
		exit(1);
	}
	if (sm_brief_expand(brief, &back, &br) < 0 || br.no_base + br.mismatch + br.no_room > 0) {
		fprintf(stderr, "wire_publisher: own brief records not expanded\n");
		exit(1);
	}
	sm_wire_print_json(&back, json);
	fputc('\n', json);
	fflush(json);
	sm_message_clear(&back);
	if (sm_sock_send2(pub, topic, tlen, buf->data, buf->size, 0) < 0)
		exit(1);
}

static void send_msg(void *pub, struct sm_message *m, FILE *json, msgpack_sbuffer *buf)
{
	send_body(pub, m, json, buf, true);
}

/* A stats frame whose first domain is brief against `base` (number gen,
 * since_us after it), the rest full. */
static void send_stats_brief(void *pub, struct sm_message *m, FILE *json, msgpack_sbuffer *buf,
			     const struct sm_domain_stats *base, uint32_t gen, uint64_t since_us)
{
	msgpack_packer pk;
	struct sm_aggregate_domain_stats *s = &m->u.stats;

	msgpack_sbuffer_clear(buf);
	msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
	sm_wire_pack_stats_begin(&pk, &m->hdr, s->interval, &s->host, s->ndomains);
	sm_wire_pack_domain_brief(&pk, &s->domains[0], base, gen, since_us);
	for (size_t i = 1; i < s->ndomains; i++)
		sm_wire_pack_domain(&pk, &s->domains[i]);
	send_body(pub, m, json, buf, false);
}

int main(int argc, char **argv)
{
	struct sm_sock_opts opts;
	struct sm_disk_stats disk = {"vda", 1, 2, 3, 4, 0, 1.5, 2.5, NAN, 4.5};
	struct sm_nic_stats nic = {"tap0", 1, 2, 3, 4, 5, 6, 7, 8, 0.5, NAN, 2.0, 3.0};
	struct sm_domain_stats dom[2], base;
	struct sm_disk_stats base_disk;
	struct sm_nic_stats base_nic;
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
	brief = sm_brief_new(4, 4);
	if (brief == NULL)
		return 1;

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
		/* One second of growth per round: the brief records' rates. */
		dom[0].cpu_time_ns += UINT64_C(750000000);
		disk.rd_req += 40, disk.rd_bytes += 163840, disk.wr_bytes += 4096;
		nic.rx_bytes += 1500, nic.tx_packets += 3, nic.rx_drops += r % 2;
		if (r % 5 == 1) {
			dom[0].gen = (uint32_t)(r / 5) & 255u;
			send_msg(pub, &m, json, &buf);
			base = dom[0];
			base_disk = disk, base_nic = nic;
			base.disks = &base_disk, base.nics = &base_nic;
		} else {
			send_stats_brief(pub, &m, json, &buf, &base, base.gen,
					 (uint64_t)(r % 5 == 0 ? 4 : r % 5 - 1) * 1000000u);
		}

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
	sm_brief_free(&brief);
	sm_sock_close(&pub);
	zmq_ctx_term(ctx);
	fclose(json);
	return 0;
}
