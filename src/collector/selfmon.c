/*
 * selfmon — see selfmon.h. Messages are built with sm_wire_encode like any
 * other publisher's: the collector's own frames carry an epoch and per-kind
 * sequence numbers, so subscribers count their loss like everyone else's.
 */
#include "selfmon.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"
#include "sm_clock.h"
#include "sm_log.h"
#include "sm_wire.h"

struct selfmon {
	char name[SM_HOST_MAX + 1]; /* collector name on the wire */
	double hb_interval;	    /* seconds between heartbeats */
	double stats_interval;	    /* seconds between counter reports */
	uint64_t epoch;		    /* random per process start */
	uint64_t hb_seq;	    /* last heartbeat seq */
	uint64_t stats_seq;	    /* last collector-stats seq */
	msgpack_sbuffer buf;	    /* reused encoding buffer */
};

static uint64_t random_epoch(void)
{
	uint64_t e = 0;

	/* getrandom cannot fail for 8 bytes once the pool is ready; should it,
	 * time and pid still differ between two starts. */
	if (getrandom(&e, sizeof(e), GRND_NONBLOCK) != (ssize_t)sizeof(e))
		e = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
	return e ? e : 1;
}

struct selfmon *selfmon_new(const char *name, double heartbeat_interval, double stats_interval)
{
	struct selfmon *s;

	if (!sm_wire_host_valid(name))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->hb_interval = heartbeat_interval;
	s->stats_interval = stats_interval;
	s->epoch = random_epoch();
	msgpack_sbuffer_init(&s->buf);
	return s;
}

void selfmon_destroy(struct selfmon **sp)
{
	struct selfmon *s = sp ? *sp : NULL;

	if (!s)
		return;
	msgpack_sbuffer_destroy(&s->buf);
	free(s);
	*sp = NULL;
}

static void header_init(struct selfmon *s, struct sm_message *m, enum sm_msg_kind kind,
			uint64_t seq)
{
	m->hdr.version = SM_WIRE_VERSION;
	m->hdr.kind = kind;
	memcpy(m->hdr.host, s->name, sizeof(m->hdr.host));
	m->hdr.time = sm_clock_wall();
	m->hdr.seq = seq;
	m->hdr.epoch = s->epoch;
}

static int publish(struct selfmon *s, struct relay *r, const struct sm_message *m, bool up)
{
	char topic[SM_TOPIC_MAX + 1];
	size_t tlen = sm_wire_topic(m->hdr.kind, s->name, topic, sizeof(topic));

	if (tlen == 0 || sm_wire_encode(m, &s->buf) < 0) {
		sm_log_err("cannot encode own %s message", sm_wire_kind_name(m->hdr.kind));
		return -1;
	}
	return relay_publish_own(r, topic, tlen, s->buf.data, s->buf.size, up);
}

int selfmon_heartbeat(struct selfmon *s, struct relay *r)
{
	struct sm_message m;

	memset(&m, 0, sizeof(m));
	header_init(s, &m, SM_KIND_HEARTBEAT, ++s->hb_seq);
	m.u.hb.interval = s->hb_interval;
	/* What this collector promises its consumers (docs/SECURITY.md,
	 * "Message sizes"): they warn when their own limit is smaller. */
	m.u.hb.max_frame = relay_max_frame(r);
	/* Tells the monitors below that a new reader lacks their full records. */
	m.u.hb.resync = relay_resync(r);
	return publish(s, r, &m, false);
}

int selfmon_stats(struct selfmon *s, struct relay *r, int64_t now_ns)
{
	struct sm_message m;
	struct sm_collector_stats *st = &m.u.collector;
	size_t cap;
	int rc;

	memset(&m, 0, sizeof(m));
	header_init(s, &m, SM_KIND_COLLECTOR, ++s->stats_seq);
	st->interval = s->stats_interval;
	relay_stats(r, st, now_ns);
	/* A host sends two or three kinds: size for four, within the wire limit. */
	cap = relay_senders(r) * 4;
	if (cap > SM_WIRE_MAX_PUBLISHERS)
		cap = SM_WIRE_MAX_PUBLISHERS;
	if (cap > 0) {
		st->loss = calloc(cap, sizeof(*st->loss));
		if (st->loss)
			st->nloss = relay_loss_rows(r, st->loss, cap);
	}
	rc = publish(s, r, &m, true);
	free(st->loss);
	return rc;
}

uint64_t selfmon_heartbeats(const struct selfmon *s)
{
	return s->hb_seq;
}

uint64_t selfmon_reports(const struct selfmon *s)
{
	return s->stats_seq;
}
