/*
 * agg_testpub — a publisher standing in for monitors in the aggregator's
 * end-to-end tests: stats frames of N domains (uuid a9e70000-0000-4000-
 * 8000-<12 hex of the domain number>, 2 disks, 1 nic, Nova identity) at a
 * fixed rate, with proper epoch and sequence numbers; on request it stops
 * reporting one domain and sends its "stopped" event, names a disk with a
 * hostile name, leaves a metric unknown, or first sends malformed messages.
 * As an attacker it forges: another tenant (--project), a time ahead of
 * the clock (--time-offset), a new set of domains in every frame (--fresh),
 * uuids under another first byte (--uuid-prefix).
 * Binds its PUB (the aggregator subscribes to it as to a collector's
 * fan-out) or connects it (to a collector's fan-in).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "sm_clock.h"
#include "sm_daemon.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_wire.h"

struct opts {
	const char *bind, *connect;
	char host[SM_HOST_MAX + 1];
	const char *disk_name; /* name of every domain's first disk */
	unsigned domains, first;
	double rate;
	unsigned long count;
	long stop_domain;	  /* domain number to stop, -1 = none */
	unsigned long stop_after; /* ... after this many stats frames */
	unsigned garbage;	  /* malformed messages sent first */
	unsigned long long epoch;
	bool unknown_steal;  /* steal_pct nil: a gap in its file */
	bool vanish;	     /* the stopped domain goes without an event (its host died) */
	unsigned prefix;     /* first byte of every uuid */
	const char *project; /* every domain's project id and name, NULL: proj<i % 2> */
	double time_offset;  /* seconds added to every header's time */
	bool fresh;	     /* each stats frame reports `domains` domains never seen */
	double delay;	     /* seconds to wait, bound, before the first message */
};

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: agg_testpub (--bind EP | --connect EP) [--host NAME] [--domains N]\n"
	    "       [--first K] [--rate HZ] [--count N] [--stop-domain I --stop-after N]\n"
	    "       [--vanish] [--disk-name NAME] [--garbage N] [--unknown-steal] [--epoch E]\n"
	    "       [--uuid-prefix HEX] [--project ID] [--time-offset S] [--fresh] [--delay S]\n");
	exit(2);
}

static unsigned uuid_prefix = 0xa9;

static void uuid_of(unsigned i, uint8_t uuid[16])
{
	memset(uuid, 0, 16);
	uuid[0] = (uint8_t)uuid_prefix;
	uuid[1] = 0xe7;
	uuid[6] = 0x40;
	uuid[8] = 0x80;
	for (int b = 0; b < 4; b++)
		uuid[15 - b] = (uint8_t)(i >> (8 * b));
}

static void header(struct sm_header *h, enum sm_msg_kind kind, const struct opts *o, uint64_t seq)
{
	h->version = SM_WIRE_VERSION;
	h->kind = kind;
	snprintf(h->host, sizeof(h->host), "%s", o->host);
	h->time = sm_clock_wall() + o->time_offset;
	h->seq = seq;
	h->epoch = o->epoch;
}

/* A stats message of the domains still reported; arrays owned by the caller. */
static void fill_stats(struct sm_message *m, const struct opts *o, uint64_t seq,
		       struct sm_domain_stats *doms, struct sm_disk_stats *disks,
		       struct sm_nic_stats *nics)
{
	struct sm_aggregate_domain_stats *a = &m->u.stats;
	size_t n = 0;

	memset(m, 0, sizeof(*m));
	header(&m->hdr, SM_KIND_STATS, o, seq);
	a->interval = 1.0 / o->rate;
	a->host = (struct sm_host_stats){.ncpus = 8,
					 .cpu_pct = 25.0,
					 .load = {1.5, 1.25, 1.0},
					 .mem_total_kib = 16000000,
					 .mem_used_kib = 4000000,
					 .mem_pct = 25.0,
					 .libvirt_ok = true,
					 .libvirt_latency_ms = 2.5};
	for (unsigned k = 0; k < o->domains; k++) {
		unsigned i = o->first + k;
		struct sm_domain_stats *d = &doms[n];
		struct sm_identity *id = &d->identity;

		if (o->stop_domain == (long)i && seq > o->stop_after)
			continue;
		memset(d, 0, sizeof(*d));
		uuid_of(i, d->uuid);
		snprintf(d->name, sizeof(d->name), "instance-%08x", i);
		d->state = 1;
		d->flags = SM_DOM_NOVA;
		d->has_identity = true;
		snprintf(id->display_name, sizeof(id->display_name), "vm-%u", i);
		if (o->project) {
			snprintf(id->project_id, sizeof(id->project_id), "%s", o->project);
			snprintf(id->project_name, sizeof(id->project_name), "%s", o->project);
		} else {
			snprintf(id->project_id, sizeof(id->project_id), "proj%u", i % 2);
			snprintf(id->project_name, sizeof(id->project_name), "tenant %u", i % 2);
		}
		snprintf(id->user_id, sizeof(id->user_id), "user%u", i % 3);
		snprintf(id->user_name, sizeof(id->user_name), "user %u", i % 3);
		snprintf(id->flavor, sizeof(id->flavor), "m1.small");
		d->vcpus = 2;
		d->cpu_time_ns = seq * 1000000000ull;
		d->cpu_pct = 10.0 + (double)(i % 50) + (double)(seq % 10) / 10.0;
		d->steal_pct = o->unknown_steal ? NAN : 1.0;
		d->load[0] = 0.5, d->load[1] = 0.4, d->load[2] = 0.3;
		d->mem_basis = SM_MEM_GUEST_USABLE;
		d->mem_total_kib = 2097152;
		d->mem_used_kib = 1048576;
		d->mem_pct = 50.0;
		d->ndisks = 2;
		d->disks = &disks[2 * n];
		d->nnics = 1;
		d->nics = &nics[n];
		for (int j = 0; j < 2; j++) {
			struct sm_disk_stats *s = &d->disks[j];

			memset(s, 0, sizeof(*s));
			if (j == 0 && o->disk_name)
				snprintf(s->name, sizeof(s->name), "%s", o->disk_name);
			else
				snprintf(s->name, sizeof(s->name), "vd%c", 'a' + j);
			s->rd_req = seq * 10;
			s->errors = (uint64_t)j;
			s->rd_req_ps = 10.0;
			s->rd_bytes_ps = 40960.0;
			s->wr_req_ps = 5.0;
			s->wr_bytes_ps = 20480.0;
		}
		memset(d->nics, 0, sizeof(*d->nics));
		snprintf(d->nics->name, sizeof(d->nics->name), "tap%08x-00", i);
		d->nics->rx_bytes_ps = 1000.0;
		d->nics->rx_packets_ps = 10.0;
		d->nics->tx_bytes_ps = 500.0;
		d->nics->tx_packets_ps = 5.0;
		n++;
	}
	a->ndomains = n;
	a->domains = doms;
}

static int send_msg(void *pub, const struct sm_message *m, msgpack_sbuffer *buf)
{
	char topic[SM_TOPIC_MAX + 1];
	size_t tlen = sm_wire_topic(m->hdr.kind, m->hdr.host, topic, sizeof(topic));

	if (tlen == 0 || sm_wire_encode(m, buf) < 0)
		return -1;
	return sm_sock_send2(pub, topic, tlen, buf->data, buf->size, 0);
}

/* Malformed messages of three kinds: garbage body, one part, wrong version. */
static void send_garbage(void *pub, const struct opts *o, unsigned n, msgpack_sbuffer *buf)
{
	char topic[SM_TOPIC_MAX + 1];
	size_t tlen = sm_wire_topic(SM_KIND_STATS, o->host, topic, sizeof(topic));

	for (unsigned i = 0; i < n; i++) {
		switch (i % 3) {
		case 0:
			sm_sock_send2(pub, topic, tlen, "\xc1garbage", 8, 0);
			break;
		case 1:
			zmq_send(pub, topic, tlen, 0); /* a topic alone */
			break;
		default: {
			struct sm_message m;

			memset(&m, 0, sizeof(m));
			header(&m.hdr, SM_KIND_EVENT, o, 1);
			m.u.event.type = SM_EVENT_STARTED;
			sm_wire_encode(&m, buf);
			/* version 1 -> 9: the header's first value after "v" */
			for (size_t k = 0; k + 2 < buf->size; k++) {
				if (memcmp(buf->data + k, "\xa1v\x01", 3) == 0) {
					buf->data[k + 2] = 9;
					break;
				}
			}
			sm_sock_send2(pub, topic, tlen, buf->data, buf->size, 0);
		}
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"bind", required_argument, NULL, 'b'},
						 {"connect", required_argument, NULL, 'c'},
						 {"host", required_argument, NULL, 'H'},
						 {"domains", required_argument, NULL, 'd'},
						 {"first", required_argument, NULL, 'f'},
						 {"rate", required_argument, NULL, 'r'},
						 {"count", required_argument, NULL, 'n'},
						 {"stop-domain", required_argument, NULL, 's'},
						 {"stop-after", required_argument, NULL, 'a'},
						 {"disk-name", required_argument, NULL, 'k'},
						 {"garbage", required_argument, NULL, 'g'},
						 {"unknown-steal", no_argument, NULL, 'u'},
						 {"epoch", required_argument, NULL, 'E'},
						 {"vanish", no_argument, NULL, 'V'},
						 {"uuid-prefix", required_argument, NULL, 'P'},
						 {"project", required_argument, NULL, 'p'},
						 {"time-offset", required_argument, NULL, 'T'},
						 {"fresh", no_argument, NULL, 'F'},
						 {"delay", required_argument, NULL, 'D'},
						 {NULL, 0, NULL, 0}};
	struct opts o = {.domains = 2, .rate = 10, .stop_domain = -1, .prefix = 0xa9};
	struct sm_domain_stats *doms;
	struct sm_disk_stats *disks;
	struct sm_nic_stats *nics;
	struct sm_sock_opts so;
	struct sm_ticker tick;
	msgpack_sbuffer buf;
	uint64_t stats_seq = 0, event_seq = 0;
	void *ctx, *pub;
	int opt;

	snprintf(o.host, sizeof(o.host), "atp-%d", (int)getpid());
	o.epoch = ((unsigned long long)getpid() << 20) ^ (unsigned long long)time(NULL);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			o.bind = optarg;
			break;
		case 'c':
			o.connect = optarg;
			break;
		case 'H':
			snprintf(o.host, sizeof(o.host), "%s", optarg);
			break;
		case 'd':
			o.domains = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			o.first = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o.rate = atof(optarg);
			break;
		case 'n':
			o.count = strtoul(optarg, NULL, 10);
			break;
		case 's':
			o.stop_domain = strtol(optarg, NULL, 10);
			break;
		case 'a':
			o.stop_after = strtoul(optarg, NULL, 10);
			break;
		case 'k':
			o.disk_name = optarg;
			break;
		case 'g':
			o.garbage = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'u':
			o.unknown_steal = true;
			break;
		case 'E':
			o.epoch = strtoull(optarg, NULL, 10);
			break;
		case 'V':
			o.vanish = true;
			break;
		case 'P':
			o.prefix = (unsigned)strtoul(optarg, NULL, 16) & 0xff;
			break;
		case 'p':
			o.project = optarg;
			break;
		case 'T':
			o.time_offset = atof(optarg);
			break;
		case 'F':
			o.fresh = true;
			break;
		case 'D':
			o.delay = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if ((!o.bind == !o.connect) || o.rate <= 0 || o.domains > SM_WIRE_MAX_DOMAINS)
		usage();
	uuid_prefix = o.prefix;
	sm_log_open("agg_testpub", SM_LOG_NOTICE, false);
	sm_daemon_install_signals();
	ctx = zmq_ctx_new();
	sm_sock_opts_default(&so);
	so.sndhwm = 100000;
	pub = sm_sock_new(ctx, ZMQ_PUB, &so);
	if (!pub || (o.bind ? sm_sock_bind(pub, o.bind) : sm_sock_connect(pub, o.connect)) < 0)
		return 1;
	doms = calloc(o.domains + 1, sizeof(*doms));
	disks = calloc(2 * (o.domains + 1), sizeof(*disks));
	nics = calloc(o.domains + 1, sizeof(*nics));
	if (!doms || !disks || !nics)
		return 1;
	msgpack_sbuffer_init(&buf);
	usleep(300 * 1000); /* let subscribers connect: PUB drops what nobody takes */
	for (double waited = 0; waited < o.delay && !sm_daemon_quit_requested(); waited += 0.1)
		usleep(100 * 1000);
	send_garbage(pub, &o, o.garbage, &buf);
	sm_ticker_start(&tick, (int64_t)((double)SM_NS_PER_SEC / o.rate));
	while (!sm_daemon_quit_requested() && (o.count == 0 || stats_seq < o.count)) {
		struct sm_message m;
		int ms = sm_ticker_timeout_ms(&tick);

		if (ms > 0) {
			usleep((useconds_t)(ms > 100 ? 100 : ms) * 1000);
			continue;
		}
		sm_ticker_advance(&tick);
		fill_stats(&m, &o, ++stats_seq, doms, disks, nics);
		if (send_msg(pub, &m, &buf) < 0)
			fprintf(stderr, "agg_testpub: send failed\n");
		if (o.fresh)
			o.first += o.domains;
		if (o.stop_domain >= 0 && stats_seq == o.stop_after && !o.vanish) {
			memset(&m, 0, sizeof(m));
			header(&m.hdr, SM_KIND_EVENT, &o, ++event_seq);
			m.u.event.type = SM_EVENT_STOPPED;
			uuid_of((unsigned)o.stop_domain, m.u.event.uuid);
			snprintf(m.u.event.name, sizeof(m.u.event.name), "instance-%08lx",
				 (unsigned long)o.stop_domain);
			snprintf(m.u.event.reason, sizeof(m.u.event.reason), "destroyed");
			send_msg(pub, &m, &buf);
			printf("stopped %ld\n", o.stop_domain);
			fflush(stdout);
		}
	}
	printf("sent stats=%llu events=%llu\n", (unsigned long long)stats_seq,
	       (unsigned long long)event_seq);
	fflush(stdout);
	usleep(300 * 1000);
	msgpack_sbuffer_destroy(&buf);
	free(doms);
	free(disks);
	free(nics);
	sm_sock_close(&pub);
	zmq_ctx_term(ctx);
	return 0;
}
