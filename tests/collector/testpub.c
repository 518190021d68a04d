/*
 * testpub — a small publisher standing in for stackmon-monitor in the
 * collector's end-to-end tests: stats frames (fake_stats) at a fixed rate
 * and, every K frames, a started/stopped event, with proper epoch and
 * sequence numbers, sent through sm_upstream exactly as a monitor sends.
 * Prints "switch INDEX ENDPOINT" on each fail-over and a summary at exit.
 * --origin ID adds a third frame, as a relaying collector does upstream,
 * so tests can send one from a key that has no right to.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "fake_stats.h"
#include "sm_clock.h"
#include "sm_config.h"
#include "sm_daemon.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_upstream.h"
#include "sm_wire.h"

#define MAX_TARGETS 8

static void usage(void)
{
	fprintf(stderr, "usage: testpub --connect FANIN[=HEARTBEAT]... [--host NAME] [--rate HZ]\n"
			"               [--count N] [--domains N] [--event-every K] "
			"[--failover S] [--epoch E]\n"
			"               [--curve-secret KEY_SECRET [--curve-server KEY]] "
			"[--origin ID]\n");
	exit(2);
}

/* Sends m; with origin (not NULL) as a third frame. */
static int send_msg(struct sm_upstream *up, const struct sm_message *m, msgpack_sbuffer *buf,
		    const char *origin)
{
	char topic[SM_TOPIC_MAX + 1];
	size_t tlen = sm_wire_topic(m->hdr.kind, m->hdr.host, topic, sizeof(topic));
	zmq_msg_t t, b, o;
	int rc;

	if (tlen == 0 || sm_wire_encode(m, buf) < 0)
		return -1;
	if (!origin)
		return sm_upstream_send(up, topic, tlen, buf->data, buf->size);
	zmq_msg_init_size(&t, tlen);
	zmq_msg_init_size(&b, buf->size);
	zmq_msg_init_size(&o, strlen(origin));
	memcpy(zmq_msg_data(&t), topic, tlen);
	memcpy(zmq_msg_data(&b), buf->data, buf->size);
	memcpy(zmq_msg_data(&o), origin, strlen(origin));
	rc = sm_upstream_send_origin(up, &t, &b, &o);
	zmq_msg_close(&t);
	zmq_msg_close(&b);
	zmq_msg_close(&o);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"connect", required_argument, NULL, 'c'},
						 {"host", required_argument, NULL, 'H'},
						 {"rate", required_argument, NULL, 'r'},
						 {"count", required_argument, NULL, 'n'},
						 {"domains", required_argument, NULL, 'd'},
						 {"event-every", required_argument, NULL, 'e'},
						 {"failover", required_argument, NULL, 'f'},
						 {"epoch", required_argument, NULL, 'E'},
						 {"curve-secret", required_argument, NULL, 'S'},
						 {"curve-server", required_argument, NULL, 'K'},
						 {"origin", required_argument, NULL, 'O'},
						 {NULL, 0, NULL, 0}};
	const char *targets[MAX_TARGETS];
	size_t ntargets = 0, ndomains = 2;
	char host[SM_HOST_MAX + 1];
	const char *origin = NULL;
	double rate = 10, failover = 1;
	unsigned long long count = 0, event_every = 0, epoch = (unsigned long long)getpid() << 16;
	uint64_t stats_seq = 0, event_seq = 0, drops = 0, last_switches = 0;
	struct sm_sock_opts opts;
	struct sm_config *sock_cfg = sm_config_new(sm_sock_config_keys, sm_sock_config_nkeys);
	char err[256];
	struct sm_ticker tick;
	struct sm_upstream *up;
	msgpack_sbuffer buf;
	void *ctx;
	int opt;

	snprintf(host, sizeof(host), "tp-%d", (int)getpid());
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (ntargets == MAX_TARGETS)
				usage();
			targets[ntargets++] = optarg;
			break;
		case 'H':
			snprintf(host, sizeof(host), "%s", optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'n':
			count = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			ndomains = strtoul(optarg, NULL, 10);
			break;
		case 'e':
			event_every = strtoull(optarg, NULL, 10);
			break;
		case 'f':
			failover = atof(optarg);
			break;
		case 'E':
			epoch = strtoull(optarg, NULL, 10);
			break;
		case 'O':
			origin = optarg;
			break;
		case 'S': /* CurveZMQ as a monitor does it: the same config keys */
			if (!sock_cfg ||
			    sm_config_set(sock_cfg, "curve", "yes", "--curve-secret", err,
					  sizeof(err)) < 0 ||
			    sm_config_set(sock_cfg, "curve_secret_key", optarg, "--curve-secret", err,
					  sizeof(err)) < 0)
				usage();
			break;
		case 'K':
			if (!sock_cfg || sm_config_set(sock_cfg, "curve_server_key", optarg,
						       "--curve-server", err, sizeof(err)) < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (ntargets == 0 || rate <= 0 || !sm_wire_host_valid(host))
		usage();
	sm_log_open("testpub", SM_LOG_NOTICE, false);
	sm_daemon_install_signals();
	ctx = zmq_ctx_new();
	if (!sock_cfg || sm_sock_opts_from_config(&opts, sock_cfg) < 0)
		return 1;
	sm_config_destroy(&sock_cfg);
	opts.reconnect_ivl_max_ms = 500; /* tests restart collectors: come back fast */
	up = sm_upstream_new(ctx, targets, ntargets, &opts, failover);
	if (!up)
		return 1;
	msgpack_sbuffer_init(&buf);
	sm_ticker_start(&tick, (int64_t)((double)SM_NS_PER_SEC / rate));
	while (!sm_daemon_quit_requested() && (count == 0 || stats_seq < count)) {
		zmq_pollitem_t items[MAX_TARGETS];
		size_t n = sm_upstream_pollitems(up, items, MAX_TARGETS);
		struct sm_message m;

		zmq_poll(items, (int)n, sm_ticker_timeout_ms(&tick));
		sm_upstream_service(up, sm_clock_mono_ns());
		if (sm_upstream_switches(up) != last_switches) {
			last_switches = sm_upstream_switches(up);
			printf("switch %zu %s\n", sm_upstream_current_index(up),
			       sm_upstream_current(up));
			fflush(stdout);
		}
		if (!sm_ticker_due(&tick))
			continue;
		sm_ticker_advance(&tick);
		if (fake_stats_fill(&m, host, ndomains, epoch, ++stats_seq) < 0)
			return 1;
		if (send_msg(up, &m, &buf, origin) < 0)
			drops++;
		fake_stats_free(&m);
		if (event_every && stats_seq % event_every == 0) {
			enum sm_event_type type =
			    (stats_seq / event_every) % 2 ? SM_EVENT_STARTED : SM_EVENT_STOPPED;

			fake_event_fill(&m, host, type, (unsigned)(stats_seq / event_every), epoch,
					++event_seq);
			if (send_msg(up, &m, &buf, origin) < 0)
				drops++;
		}
	}
	printf("sent stats=%llu events=%llu drops=%llu switches=%llu current=%zu\n",
	       (unsigned long long)stats_seq, (unsigned long long)event_seq,
	       (unsigned long long)drops, (unsigned long long)sm_upstream_switches(up),
	       sm_upstream_current_index(up));
	msgpack_sbuffer_destroy(&buf);
	sm_upstream_destroy(&up);
	zmq_ctx_term(ctx);
	return 0;
}
