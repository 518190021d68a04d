/*
 * publisher — LibvirtDomainStatPublisher (see publisher.h): the tick, the
 * frames and their sequence numbers. The libvirt side is the sampler's, the
 * shared domains and events the dom_table's; this file only turns them into
 * messages on the main thread's schedule.
 *
 * Threads and what they own:
 *  - caller's thread (main loop): everything in struct publisher — the host
 *    tracker, the frame buffers, sequence numbers, the pending frame and its
 *    deadline, sending;
 *  - the sampler and the dom_table it fills are shared as their headers say;
 *    frames and events are read from the table under its lock.
 * Generations: each tick is a generation; a domain sampled in the tick's
 * generation is fresh in that tick's frame, any other is stale.
 */
#include "publisher.h"

#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dom_table.h"
#include "dom_tracker.h"
#include "frame_deadline.h"
#include "host_tracker.h"
#include "sampler.h"
#include "sm_clock.h"
#include "sm_log.h"
#include "sm_upstream.h"
#include "sm_wire.h"

struct publisher {
	/* configuration (immutable after new) */
	char host[SM_HOST_MAX + 1];  /* wire name */
	double interval;             /* seconds */
	int64_t full_every_ns;       /* between two full records of a domain; 0: all full */
	uint64_t resyncs_seen;       /* sm_upstream_resyncs when last looked at */
	bool resync_pending;         /* a new subscriber waits for every domain in full */
	int64_t last_resync_ns;      /* tick of the last frame sent all in full for one */
	size_t max_frame;            /* body limit */
	struct sm_upstream *up;      /* where frames go (borrowed), or NULL */
	uint64_t epoch;              /* random per process start */

	/* the parts: owned, shared with the sampler thread as their headers say */
	struct dom_table *table;     /* tracked domains and queued events */
	struct sampler *sampler;     /* every libvirt call, in its own thread */

	/* main thread only */
	struct host_tracker *host_tracker; /* dom0 */
	msgpack_sbuffer frame;       /* last stats body */
	msgpack_packer pk;           /* packs into frame */
	msgpack_sbuffer evbuf;       /* one event body */
	uint64_t seq_stats, seq_events; /* last sequence numbers sent */
	bool frame_pending;          /* a tick's frame waits for its pass */
	uint64_t frame_gen;          /* its generation */
	int64_t frame_deadline_ns;   /* send it by then whatever the pass does */
	struct frame_deadline deadline; /* how long frames wait, from recent passes */
	int64_t tick_ns;             /* monotonic time of the last tick */
	bool pass_timed;             /* its pass's duration was noted */
	double frame_wall;           /* wall time of its tick */
	char topic_stats[SM_TOPIC_MAX + 1], topic_event[SM_TOPIC_MAX + 1];
	size_t topic_stats_len, topic_event_len;
	struct sm_complaint send_complaint; /* upstream refusing messages */
	struct sm_complaint frame_complaint; /* frame too big */
	uint64_t frames, events_sent, send_drops, late_frames;
};

/* Passes between two reads of guest memory statistics: the interval's
 * multiple nearest to memory_interval, at least 1 (the configuration keeps
 * both in range: at most 3600 / 0.05 passes). */
static unsigned memory_every(double memory_interval, double interval)
{
	double passes = memory_interval / interval;

	return passes < 1.5 ? 1 : (unsigned)lround(passes);
}

struct publisher *publisher_new(const struct publisher_config *cfg, struct sm_upstream *up)
{
	struct publisher *p;

	if (!cfg->host || !sm_wire_host_valid(cfg->host) || !(cfg->interval > 0)) {
		sm_log_err("publisher: invalid host name or interval");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	msgpack_sbuffer_init(&p->frame);
	msgpack_sbuffer_init(&p->evbuf);
	msgpack_packer_init(&p->pk, &p->frame, msgpack_sbuffer_write);
	snprintf(p->host, sizeof(p->host), "%s", cfg->host);
	p->interval = cfg->interval;
	p->full_every_ns = cfg->full_interval > 0 ? (int64_t)(cfg->full_interval * 1e9) : 0;
	frame_deadline_init(&p->deadline, cfg->interval);
	p->pass_timed = true; /* no tick yet */
	p->max_frame = cfg->max_frame ? cfg->max_frame : SM_WIRE_FRAME_MAX_DEFAULT;
	p->up = up;
	if (getrandom(&p->epoch, sizeof(p->epoch), 0) != sizeof(p->epoch))
		p->epoch = (uint64_t)sm_clock_mono_ns() ^ ((uint64_t)getpid() << 32) ^
			   (uint64_t)time(NULL);
	p->topic_stats_len =
		sm_wire_topic(SM_KIND_STATS, p->host, p->topic_stats, sizeof(p->topic_stats));
	p->topic_event_len =
		sm_wire_topic(SM_KIND_EVENT, p->host, p->topic_event, sizeof(p->topic_event));
	p->host_tracker = host_tracker_new(cfg->proc_root);
	p->table = dom_table_new();
	if (p->table)
		p->sampler = sampler_new(cfg->uri, p->table);
	if (!p->host_tracker || !p->table || !p->sampler || !p->topic_stats_len ||
	    !p->topic_event_len)
		goto fail;
	sampler_set_memory_every(p->sampler, memory_every(cfg->memory_interval, cfg->interval));
	sampler_set_kernel_counters(p->sampler, !cfg->libvirt_cpu);
	sampler_set_pipeline(p->sampler, !cfg->no_pipeline);
	/* Shared once a pass's calls take a quarter of the interval: below
	 * that one thread keeps well within the frame deadline, and costs
	 * less. */
	sampler_set_calls_in_flight(p->sampler, cfg->libvirt_calls,
				    (int64_t)(cfg->interval * 1e9 / 4));
	return p;
fail:
	sm_log_err("publisher: cannot allocate");
	publisher_destroy(&p);
	return NULL;
}

void publisher_destroy(struct publisher **pp)
{
	struct publisher *p;

	if (!pp || !*pp)
		return;
	p = *pp;
	*pp = NULL;
	/* A sampler thread stuck in libvirt still uses the sampler and the
	 * table: those are left to it (the process exits right after this
	 * anyway, and they stay reachable from that thread); the rest is the
	 * publisher's own and is freed either way. */
	if (!p->sampler || sampler_stop(p->sampler)) {
		sampler_destroy(&p->sampler);
		dom_table_destroy(&p->table);
	}
	host_tracker_destroy(&p->host_tracker);
	msgpack_sbuffer_destroy(&p->frame);
	msgpack_sbuffer_destroy(&p->evbuf);
	free(p);
}

int publisher_start(struct publisher *p)
{
	return sampler_start(p->sampler);
}

int publisher_fd(const struct publisher *p)
{
	return sampler_fd(p->sampler);
}

static void fill_header(struct publisher *p, struct sm_header *h, enum sm_msg_kind kind,
			uint64_t seq, double wall)
{
	memset(h, 0, sizeof(*h));
	h->version = SM_WIRE_VERSION;
	h->kind = kind;
	memcpy(h->host, p->host, sizeof(h->host));
	h->time = wall;
	h->seq = seq;
	h->epoch = p->epoch;
}

static void send_body(struct publisher *p, const char *topic, size_t tlen, const void *body,
		      size_t len)
{
	if (!p->up)
		return;
	if (sm_upstream_send(p->up, topic, tlen, body, len) < 0) {
		p->send_drops++;
		sm_complain(&p->send_complaint, SM_LOG_WARNING,
			    "collector not taking messages (%s): dropping", strerror(errno));
	} else {
		sm_complaint_release(&p->send_complaint, "collector takes messages again");
	}
}

/* Sends events; `wall` is their time: the pending frame's for those
 * learnt during its pass (they are part of that tick, and a frame listing a
 * domain is never older than its "started"), now for those learnt after the
 * frame went and before the next tick. */
static void send_events(struct publisher *p, const struct sm_domain_event *evs, size_t n,
			double wall)
{
	struct sm_message m;

	for (size_t i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
		fill_header(p, &m.hdr, SM_KIND_EVENT, ++p->seq_events, wall);
		m.u.event = evs[i];
		if (sm_wire_encode(&m, &p->evbuf) < 0) {
			sm_log_err("out of memory encoding an event");
			continue;
		}
		send_body(p, p->topic_event, p->topic_event_len, p->evbuf.data, p->evbuf.size);
		p->events_sent++;
	}
	dom_table_events_sent(p->table);
}

/* At most one frame all in full per this long for new subscribers: one
 * that reconnects in a loop must not turn every frame into a full one. */
#define RESYNC_MIN_NS (5 * INT64_C(1000000000))

/* Whether this frame lists every domain in full: a subscriber for frames
 * joined the collector in use or one above it (its heartbeats say), or we
 * switched collectors, since the last such frame. */
static bool resync_due(struct publisher *p)
{
	uint64_t seen = sm_upstream_resyncs(p->up);

	if (seen != p->resyncs_seen) {
		p->resyncs_seen = seen;
		p->resync_pending = true;
	}
	if (!p->resync_pending ||
	    (p->last_resync_ns != 0 && p->tick_ns - p->last_resync_ns < RESYNC_MIN_NS))
		return false;
	p->resync_pending = false;
	p->last_resync_ns = p->tick_ns;
	return true;
}

/* Builds and sends the pending frame (with whatever the sampler has);
 * `late` when its pass had not ended. */
static void send_frame(struct publisher *p, int64_t now_ns, bool late)
{
	struct sm_host_stats hs;
	struct sm_header h;
	struct sampler_counters sc;
	const struct sm_domain_event *evs;
	size_t nev, total, n = 0, stale = 0, pending = 0;
	bool all_full = resync_due(p);

	memset(&hs, 0, sizeof(hs));
	host_tracker_update(p->host_tracker, &hs);
	sampler_counters(p->sampler, &sc);
	hs.libvirt_ok = sc.connected;
	hs.libvirt_latency_ms = (double)sampler_take_latency_ns(p->sampler, now_ns) / 1e6;

	dom_table_lock(p->table);
	/* Events first, under the same lock as the frame: a frame never lists a
	 * domain before its "started" or after its "stopped". */
	nev = dom_table_take_events(p->table, &evs);
	total = dom_table_count(p->table);
	/* A domain never sampled yet (its first pass has not reached it) has
	 * nothing true to say: it is left out until it has, rather than listed
	 * with placeholders (state 0, no vCPUs, no devices). It still counts in
	 * domains_stale, so that a frame sent at the deadline of a first pass
	 * that has not reached every domain says it is incomplete. */
	for (size_t i = 0; i < total; i++) {
		const struct dom_entry *e = dom_table_at(p->table, i);

		if (dom_tracker_samples(e->tracker) == 0) {
			pending++;
			continue;
		}
		/* Counted among those the frame can hold, as it lists them. */
		if (++n <= SM_WIRE_MAX_DOMAINS && e->refreshed_gen != p->frame_gen)
			stale++;
	}
	if (n > SM_WIRE_MAX_DOMAINS) {
		sm_complain(&p->frame_complaint, SM_LOG_WARNING,
			    "%zu domains: only %d fit in a frame", n, SM_WIRE_MAX_DOMAINS);
		n = SM_WIRE_MAX_DOMAINS;
	}
	hs.domains_stale = (uint32_t)(stale + pending);
	fill_header(p, &h, SM_KIND_STATS, ++p->seq_stats, p->frame_wall);
	msgpack_sbuffer_clear(&p->frame);
	sm_wire_pack_stats_begin(&p->pk, &h, p->interval, &hs, n);
	for (size_t i = 0, packed = 0; i < total && packed < n; i++) {
		struct dom_entry *e = dom_table_at(p->table, i);
		struct sm_domain_stats rec = *dom_tracker_stats(e->tracker);

		if (dom_tracker_samples(e->tracker) == 0)
			continue;
		packed++;
		if (e->refreshed_gen != p->frame_gen)
			rec.flags |= SM_DOM_STALE;
		if (e->brief == NULL)
			e->brief = dom_brief_new(); /* NULL (no memory): listed in full */
		if (e->brief != NULL)
			dom_brief_pack(e->brief, &p->pk, &rec, dom_tracker_sample_ns(e->tracker),
				       p->tick_ns, p->full_every_ns, all_full);
		else
			sm_wire_pack_domain(&p->pk, &rec);
	}
	dom_table_framed(p->table, p->frame_gen);
	dom_table_unlock(p->table);

	send_events(p, evs, nev, p->frame_wall);
	p->frame_pending = false;
	if (late)
		p->late_frames++;
	if (p->frame.size > p->max_frame) {
		sm_complain(&p->frame_complaint, SM_LOG_ERR,
			    "stats frame of %zu bytes is over max_frame (%zu): not sent",
			    p->frame.size, p->max_frame);
		return;
	}
	send_body(p, p->topic_stats, p->topic_stats_len, p->frame.data, p->frame.size);
	p->frames++;
}

void publisher_tick(struct publisher *p, int64_t now_ns)
{
	if (p->frame_pending)
		send_frame(p, now_ns, true);
	p->frame_gen = sampler_kick(p->sampler);
	p->frame_pending = true;
	p->frame_deadline_ns = now_ns + frame_deadline_budget_ns(&p->deadline);
	p->frame_wall = sm_clock_wall();
	p->tick_ns = now_ns;
	p->pass_timed = false;
}

int publisher_timeout_ms(const struct publisher *p, int64_t now_ns)
{
	int64_t left;

	if (!p->frame_pending)
		return -1;
	left = p->frame_deadline_ns - now_ns;
	return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

bool publisher_pass_done(struct publisher *p)
{
	return sampler_pass_done(p->sampler);
}

int publisher_service(struct publisher *p, int64_t now_ns)
{
	const struct sm_domain_event *evs;
	size_t nev;
	bool done;

	sampler_fd_clear(p->sampler);
	done = publisher_pass_done(p);
	/* How long libvirt took, also when the frame did not wait for it. */
	if (done && !p->pass_timed) {
		frame_deadline_pass(&p->deadline, now_ns - p->tick_ns);
		p->pass_timed = true;
	}
	if (p->frame_pending && (done || now_ns >= p->frame_deadline_ns)) {
		send_frame(p, now_ns, !done);
		return 1;
	}
	/* Events go out at once. One learnt while a frame is pending belongs
	 * to that frame's pass and carries its time: the pass may yet sample
	 * the domain it starts (a quick pass after the event), and the frame
	 * listing it must not be older than its "started". */
	nev = dom_table_take_events_now(p->table, &evs);
	send_events(p, evs, nev, p->frame_pending ? p->frame_wall : sm_clock_wall());
	return 0;
}

void publisher_refresh(struct publisher *p)
{
	sampler_refresh(p->sampler);
}

void publisher_last_frame(const struct publisher *p, const void **body, size_t *len)
{
	*body = p->frame.data;
	*len = p->frame.size;
}

void publisher_counters(const struct publisher *p, struct publisher_counters *c)
{
	struct sampler_counters sc;

	sampler_counters(p->sampler, &sc);
	memset(c, 0, sizeof(*c));
	c->frames = p->frames;
	c->events = p->events_sent;
	c->send_drops = p->send_drops;
	c->late_frames = p->late_frames;
	c->passes = sc.passes;
	c->reconnects = sc.reconnects;
	c->domains = dom_table_size(p->table);
	c->last_frame_size = p->frame.size;
	c->bulk = sc.bulk;
	c->connected = sc.connected;
}
