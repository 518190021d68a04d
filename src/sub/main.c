/*
 * stackmon-sub — the command-line subscriber for ops scripts. Connects to
 * one or more collector fan-out endpoints (or a monitor directly), decodes
 * every frame, applies the operator's filters and prints one JSON object per
 * line (or a compact table). It is the reference consumer of
 * docs/PROTOCOL.md in C, as docs/examples/subscriber.py is in Python.
 * It also counts loss by sender (sub_loss.h): each gap in a sender's seq
 * on stderr as it is found, a summary by sender when it ends (--loss: the
 * summary alone, on stdout).
 *
 * Exit status: 0 done (count reached, timeout with no count, signal, or
 * the reader closed the pipe);
 * 1 runtime failure; 2 usage or configuration error; 3 --timeout expired
 * before --count messages arrived.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "sm_cli.h"
#include "sm_brief.h"
#include "sm_clock.h"
#include "sm_config.h"
#include "sm_daemon.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_sockwatch.h"
#include "sm_wire.h"
#include "sub_filter.h"
#include "sub_loss.h"
#include "sub_table.h"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };

static const struct sm_config_key sub_keys[] = {
	{"connect", SM_CFG_LIST, 0, 0, NULL, "fan-out endpoint to subscribe to (repeatable), optionally ENDPOINT@KEYFILE: "
	 "that collector's public key, with curve"},
	{"kind", SM_CFG_LIST, 0, 0, "", "only these kinds: stats, event, hb, collector"},
	{"host", SM_CFG_LIST, 0, 0, "", "only messages from these hosts / collectors"},
	{"tenant", SM_CFG_STRING, 0, 0, NULL, "only this project (id or name)"},
	{"domain", SM_CFG_STRING, 0, 0, NULL, "only this domain (uuid, libvirt or display name)"},
	{"count", SM_CFG_INT, 0, 1e12, "0", "exit after this many printed messages (0: never)"},
	{"timeout", SM_CFG_DOUBLE, 0, 1e9, "0", "exit after this many seconds (0: never)"},
	{"max_frame", SM_CFG_INT, 1024, 1 << 30, "8388608", "largest body accepted, bytes"},
};

#define NSUB_KEYS (sizeof(sub_keys) / sizeof(sub_keys[0]))

/* Counters reported at exit with -v. */
struct sub_counts {
	uint64_t received;  /* whole messages read from the socket */
	uint64_t printed;   /* messages that passed the filters */
	uint64_t malformed; /* refused by the decoder */
	uint64_t waiting;   /* brief records left out: their full record not seen yet */
	uint64_t refused;   /* brief records contradicting their full record */
	bool told_waiting;  /* the first wait for full records was explained */
};

/* Reads and prints one message. Returns 0, or -1 when stdout can no
 * longer be written (errno set: EPIPE when the reader went away, as with
 * `stackmon-sub ... | head -1`). */
/* How a message that passed the filters is shown. */
enum output { OUT_JSON, OUT_TABLE, OUT_NONE };

static int handle(void *sock, struct sm_sockwatch *watch, const struct sub_filter *filter,
		  size_t max_frame, enum output output, struct sub_loss *loss,
		  struct sm_brief *brief, struct sub_counts *counts, struct sm_complaint *bad)
{
	struct sm_brief_result br;
	struct sm_frames f;
	struct sm_message m;
	struct sm_wire_error err;
	int rc = 0;

	if (sm_sock_recv2(sock, &f, ZMQ_DONTWAIT) < 0)
		return 0;
	counts->received++;
	if (f.parts != 2) {
		counts->malformed++;
		sm_complain(bad, SM_LOG_WARNING, "dropped a message of %d frames (expected 2)",
			    f.parts);
		goto out;
	}
	if (sm_wire_decode_frames(zmq_msg_data(&f.topic), zmq_msg_size(&f.topic),
				  zmq_msg_data(&f.body), zmq_msg_size(&f.body), max_frame, &m,
				  &err) < 0) {
		counts->malformed++;
		sm_complain(bad, SM_LOG_WARNING, "dropped a malformed message (%s): %s",
			    sm_wire_code_name(err.code), err.msg);
		goto out;
	}
	sm_sockwatch_note_heartbeat(watch, &m, max_frame); /* a collector's limit vs ours */
	/* Every frame received counts, whatever the content filters say: a
	 * gap is in the sender's stream, not in what we show of it. */
	sub_loss_note(loss, &m.hdr, output == OUT_NONE ? NULL : stderr);
	/* Brief records become full ones; those whose full record we have not
	 * seen (we joined after it) are left out until it comes again. */
	if (sm_brief_expand(brief, &m, &br) < 0)
		sm_complain(bad, SM_LOG_ERR, "out of memory expanding a frame of %s", m.hdr.host);
	counts->waiting += br.no_base;
	if (br.no_base > 0 && !counts->told_waiting) {
		/* Someone watching a frame with domains missing deserves a why. */
		sm_log_notice("%zu domains of %s left out until their full record comes: each within"
			      " the monitor's full_interval (30 s by default)",
			      br.no_base, m.hdr.host);
		counts->told_waiting = true;
	}
	counts->refused += br.mismatch + br.no_room;
	if (br.mismatch + br.no_room > 0)
		sm_complain(bad, SM_LOG_WARNING,
			    "left out %zu brief records of %s that contradict its full records",
			    br.mismatch + br.no_room, m.hdr.host);
	if (sub_filter_apply(filter, &m)) {
		if (output == OUT_TABLE) {
			sub_table_print(stdout, &m);
		} else if (output == OUT_JSON) {
			sm_wire_print_json(&m, stdout);
			fputc('\n', stdout);
		}
		if (fflush(stdout) == EOF || ferror(stdout))
			rc = -1;
		else
			counts->printed++;
	}
	sm_message_clear(&m);
out:
	sm_frames_close(&f);
	return rc;
}

int main(int argc, char **argv)
{
	struct sm_cli cli = {.program = "stackmon-sub",
			     .summary = "Subscribe to StackMon frames and print them as JSON lines.",
			     .default_config = "/etc/stackmon/sub.conf"};
	bool table = false, loss_only = false;
	const struct sm_cli_flag flags[] = {
	    {"table", "print a compact human table", &table},
	    {"loss", "print no message, only the loss summary by sender (stdout) at the end",
	     &loss_only}};
	struct sub_loss *loss = NULL;
	struct sm_brief *brief = NULL;
	enum output output;
	struct sub_filter filter = {0};
	struct sub_counts counts = {0};
	struct sm_complaint bad = SM_COMPLAINT_INIT;
	struct sm_sock_opts opts;
	struct sm_config *cfg = sm_config_new_joined(sub_keys, NSUB_KEYS, sm_sock_config_keys,
						     sm_sock_config_nkeys);
	const char **kinds = NULL, **hosts = NULL, **endpoints = NULL;
	size_t nendpoints = 0;
	void *ctx = NULL, *sock = NULL;
	struct sm_sockwatch *watch = NULL; /* makes a dropped subscription again */
	long long count;
	double timeout;
	int64_t deadline = 0;
	int status = EXIT_RUNTIME;
	char err[256];

	if (cfg == NULL)
		return EXIT_RUNTIME;
	status = sm_cli_start(&cli, cfg, flags, sizeof(flags) / sizeof(flags[0]), argc, argv);
	if (status != SM_CLI_CONTINUE)
		goto out;
	status = EXIT_RUNTIME;

	kinds = sm_config_list_array(cfg, "kind", &filter.nkinds);
	hosts = sm_config_list_array(cfg, "host", &filter.nhosts);
	endpoints = sm_config_list_array(cfg, "connect", &nendpoints);
	filter.kinds = kinds;
	filter.hosts = hosts;
	filter.tenant = sm_config_string(cfg, "tenant");
	filter.domain = sm_config_string(cfg, "domain");
	count = sm_config_int(cfg, "count");
	timeout = sm_config_double(cfg, "timeout");
	if (sub_filter_check(&filter, err, sizeof(err)) < 0) {
		fprintf(stderr, "stackmon-sub: %s\n", err);
		status = EXIT_USAGE;
		goto out;
	}
	if (nendpoints == 0) {
		fprintf(stderr, "stackmon-sub: no endpoint: give --connect ENDPOINT\n");
		status = EXIT_USAGE;
		goto out;
	}
	if (sm_sock_limits_check(sm_config_int(cfg, "max_msg_size"),
				 sm_config_int(cfg, "max_frame"), err, sizeof(err)) < 0) {
		fprintf(stderr, "stackmon-sub: %s\n", err);
		status = EXIT_USAGE;
		goto out;
	}
	/* Key files are checked here, so -n finds a bad one too. */
	if (sm_sock_opts_from_config(&opts, cfg) < 0) {
		status = EXIT_USAGE; /* the message named the key file */
		goto out;
	}
	if (table && loss_only) {
		fprintf(stderr, "stackmon-sub: --table and --loss exclude each other\n");
		status = EXIT_USAGE;
		goto out;
	}
	output = loss_only ? OUT_NONE : table ? OUT_TABLE : OUT_JSON;
	status = sm_cli_ready(&cli);
	if (status != SM_CLI_CONTINUE)
		goto out;
	status = EXIT_RUNTIME;

	ctx = zmq_ctx_new();
	sock = ctx ? sm_sock_new(ctx, ZMQ_SUB, &opts) : NULL;
	watch = sock ? sm_sockwatch_new(ctx, sock, &opts) : NULL;
	loss = sub_loss_new();
	brief = sm_brief_new(SM_WIRE_MAX_PUBLISHERS, SM_WIRE_MAX_DOMAINS);
	if (watch == NULL || loss == NULL || brief == NULL)
		goto out;
	for (size_t i = 0; i < sub_filter_prefix_count(&filter); i++) {
		char prefix[SM_TOPIC_MAX + 1];

		sub_filter_prefix(&filter, i, prefix, sizeof(prefix));
		if (sm_sock_subscribe(sock, prefix) < 0)
			goto out;
	}
	for (size_t i = 0; i < nendpoints; i++) {
		if (sm_sockwatch_connect(watch, endpoints[i]) < 0) {
			status = EXIT_USAGE; /* the message named the endpoint */
			goto out;
		}
	}
	if (table)
		sub_table_header(stdout);
	if (timeout > 0)
		deadline = sm_clock_mono_ns() + (int64_t)(timeout * 1e9);

	status = 0;
	while (!sm_daemon_quit_requested() && (count == 0 || (long long)counts.printed < count)) {
		zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLIN, 0}, sm_sockwatch_pollitem(watch)};
		long wait_ms = 1000;
		int rc;

		if (deadline) {
			int64_t left = deadline - sm_clock_mono_ns();

			if (left <= 0) {
				status = count > 0 ? EXIT_TIMEOUT : 0;
				break;
			}
			wait_ms = left / 1000000 + 1 < 1000 ? left / 1000000 + 1 : 1000;
		}
		wait_ms = sm_sockwatch_timeout_ms(watch, sm_clock_mono_ns(), (int)wait_ms);
		rc = zmq_poll(items, 2, wait_ms);
		if (rc < 0 && errno != EINTR) {
			sm_log_err("zmq_poll: %s", zmq_strerror(errno));
			status = EXIT_RUNTIME;
			break;
		}
		sm_sockwatch_service(watch, sm_clock_mono_ns());
		if ((items[0].revents & ZMQ_POLLIN) &&
		    handle(sock, watch, &filter, (size_t)sm_config_int(cfg, "max_frame"), output,
			   loss, brief, &counts, &bad) < 0) {
			/* A closed pipe is how a reader says "enough": not an error. */
			if (errno != EPIPE) {
				sm_log_err("writing to standard output: %s", strerror(errno));
				status = EXIT_RUNTIME;
			}
			break;
		}
	}
	/* stdout carries the messages, so the summary goes beside the gap lines. */
	sub_loss_report(loss, loss_only ? stdout : stderr);
	sm_log_info("received %llu, printed %llu, malformed %llu; brief records waiting for their"
		    " full record %llu, refused %llu",
		    (unsigned long long)counts.received, (unsigned long long)counts.printed,
		    (unsigned long long)counts.malformed, (unsigned long long)counts.waiting,
		    (unsigned long long)counts.refused);
out:
	sm_brief_free(&brief);
	sub_loss_destroy(&loss);
	sm_sockwatch_destroy(&watch); /* before its socket */
	sm_sock_close(&sock);
	if (ctx != NULL)
		zmq_ctx_term(ctx);
	free(kinds);
	free(hosts);
	free(endpoints);
	sm_config_destroy(&cfg);
	return status;
}
