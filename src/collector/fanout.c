/*
 * fanout — see fanout.h. Subscriptions are a small table of prefixes with
 * reference counts (subscribers often share one, "" or "stats/"); a frame is
 * heard when some prefix with a count is a prefix of its topic. Waiting
 * messages are an sm_msgq, as in sm_upstream's hold.
 *
 * Why everything waits, not only events: libzmq takes a subscriber whose
 * queue refused a lossy send out of the matching set until it reads again,
 * and ZMQ_XPUB_NODROP's check then no longer sees it: an event sent after a
 * stats frame had filled the queue would vanish for that subscriber. So the
 * socket is NODROP all along and a full queue holds every message back here
 * (order kept). That same libzmq behaviour is what ends a stall: one lossy
 * send sets the stalled subscriber aside, and the NODROP check then waits
 * only for the others, with no burst they could not take.
 */
#include "fanout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sm_clock.h"
#include "sm_config.h" /* sm_sock.h wants struct sm_config_key complete */
#include "sm_log.h"
#include "sm_msgq.h"
#include "sm_sock.h"

/* Subscription messages read per service call, so a subscriber flooding
 * subscriptions cannot starve the relay. */
#define SUBS_DRAIN_MAX 1024

struct prefix {
	unsigned char bytes[FANOUT_PREFIX_LEN_MAX];
	size_t len;
	long count; /* subscriptions of this prefix now */
};


struct fanout {
	void *sock; /* XPUB, VERBOSER, NODROP but for one send at a stall */
	struct sm_ipc_file *files;
	size_t nfiles;
	struct prefix *prefixes; /* nprefixes used, FANOUT_PREFIXES_MAX at most */
	size_t nprefixes;
	bool untracked; /* the table overflowed: every frame counts as heard */
	struct sm_msgq *wait; /* messages that found no room, in order */
	uint64_t delayed, forced;
	struct sm_complaint stall;
	uint64_t data_joins; /* subscriptions for frames made, ever */
};

struct fanout *fanout_new(void *zctx, const char *const *endpoints, size_t n,
			  const struct sm_sock_opts *opts)
{
	struct fanout *f = calloc(1, sizeof(*f));
	int one = 1;

	if (!f || !(f->files = calloc(n ? n : 1, sizeof(*f->files))) ||
	    !(f->prefixes = calloc(FANOUT_PREFIXES_MAX, sizeof(*f->prefixes))) ||
	    !(f->wait = sm_msgq_new())) {
		sm_log_err("fan-out: out of memory");
		goto fail;
	}
	f->sock = sm_sock_new(zctx, ZMQ_XPUB, opts);
	if (!f->sock)
		goto fail;
	if (zmq_setsockopt(f->sock, ZMQ_XPUB_VERBOSER, &one, sizeof(one)) < 0 ||
	    zmq_setsockopt(f->sock, ZMQ_XPUB_NODROP, &one, sizeof(one)) < 0) {
		sm_log_err("fan-out: XPUB options: %s", zmq_strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if (sm_sock_bind(f->sock, endpoints[i]) < 0)
			goto fail;
		sm_ipc_file_note(&f->files[f->nfiles++], endpoints[i]);
	}
	return f;
fail:
	fanout_destroy(&f);
	return NULL;
}

void fanout_destroy(struct fanout **fp)
{
	struct fanout *f = fp ? *fp : NULL;

	if (!f)
		return;
	sm_msgq_destroy(&f->wait);
	sm_sock_close(&f->sock);
	for (size_t i = 0; i < f->nfiles; i++)
		sm_ipc_file_remove(&f->files[i]);
	free(f->files);
	free(f->prefixes);
	free(f);
	*fp = NULL;
}

zmq_pollitem_t fanout_pollitem(const struct fanout *f)
{
	return (zmq_pollitem_t){.socket = f->sock, .events = ZMQ_POLLIN};
}

int fanout_timeout_ms(const struct fanout *f, int timeout_ms)
{
	/* The XPUB cannot wake us when a queue drains (its POLLOUT is always
	 * set), so waiting messages are retried every few ms. */
	if (sm_msgq_count(f->wait) > 0 && (timeout_ms < 0 || timeout_ms > 5))
		return 5;
	return timeout_ms;
}

/* ---- subscriptions ---- */

static struct prefix *prefix_find(struct fanout *f, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < f->nprefixes; i++)
		if (f->prefixes[i].len == len && memcmp(f->prefixes[i].bytes, p, len) == 0)
			return &f->prefixes[i];
	return NULL;
}

/* Whether a subscription prefix can match a stats or event topic. */
static bool prefix_takes_data(const unsigned char *p, size_t len)
{
	static const char *const kinds[] = {"stats/", "event/"};

	for (size_t k = 0; k < 2; k++) {
		size_t kl = strlen(kinds[k]);

		if (memcmp(p, kinds[k], len < kl ? len : kl) == 0)
			return true;
	}
	return false;
}

static void subscription(struct fanout *f, const unsigned char *msg, size_t size)
{
	const unsigned char *p = msg + 1;
	size_t len = size - 1;
	struct prefix *e;

	if (len > FANOUT_PREFIX_LEN_MAX)
		len = FANOUT_PREFIX_LEN_MAX;
	/* A new reader of frames has seen none of the monitors' full records:
	 * the heartbeats tell them (fanout_data_joins). */
	if (msg[0] == 1 && prefix_takes_data(p, len))
		f->data_joins++;
	e = prefix_find(f, p, len);
	if (msg[0] == 1) {
		if (!e) {
			/* Reuse a slot nobody holds any more before taking a new one. */
			for (size_t i = 0; i < f->nprefixes && !e; i++)
				if (f->prefixes[i].count <= 0)
					e = &f->prefixes[i];
			if (!e && f->nprefixes < FANOUT_PREFIXES_MAX)
				e = &f->prefixes[f->nprefixes++];
			if (!e) {
				if (!f->untracked)
					sm_log_warnx("fan-out: more than %d different subscription "
						     "prefixes; frames nobody hears are no longer "
						     "counted (no_subscriber)",
						     FANOUT_PREFIXES_MAX);
				f->untracked = true;
				return;
			}
			memcpy(e->bytes, p, len);
			e->len = len;
			e->count = 0;
		}
		e->count++;
	} else if (e && e->count > 0) {
		e->count--;
	}
}

static void read_subscriptions(struct fanout *f)
{
	zmq_msg_t m;

	zmq_msg_init(&m);
	for (int i = 0; i < SUBS_DRAIN_MAX; i++) {
		if (zmq_msg_recv(&m, f->sock, ZMQ_DONTWAIT) < 0)
			break;
		/* 1 or 0, then the prefix; anything else is not a subscription. */
		if (zmq_msg_size(&m) >= 1 && !zmq_msg_more(&m)) {
			const unsigned char *d = zmq_msg_data(&m);

			if (d[0] == 0 || d[0] == 1)
				subscription(f, d, zmq_msg_size(&m));
		}
		while (zmq_msg_more(&m) && zmq_msg_recv(&m, f->sock, ZMQ_DONTWAIT) >= 0)
			;
	}
	zmq_msg_close(&m);
}

static bool heard(const struct fanout *f, const void *topic, size_t len)
{
	if (f->untracked)
		return true;
	for (size_t i = 0; i < f->nprefixes; i++) {
		const struct prefix *e = &f->prefixes[i];

		if (e->count > 0 && e->len <= len && memcmp(e->bytes, topic, e->len) == 0)
			return true;
	}
	return false;
}

static bool takes_data(const struct prefix *e)
{
	return prefix_takes_data(e->bytes, e->len);
}

uint64_t fanout_data_joins(const struct fanout *f)
{
	return f->data_joins;
}

size_t fanout_data_subscriptions(const struct fanout *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nprefixes; i++)
		if (f->prefixes[i].count > 0 && takes_data(&f->prefixes[i]))
			n += (size_t)f->prefixes[i].count;
	return n;
}

/* ---- sending ---- */

static int set_nodrop(struct fanout *f, int on)
{
	return zmq_setsockopt(f->sock, ZMQ_XPUB_NODROP, &on, sizeof(on));
}

/* Sends both frames; content taken on success. NODROP: EAGAIN on the first
 * frame means nothing was queued (libzmq checks room per message). */
static int send_both(struct fanout *f, zmq_msg_t *topic, zmq_msg_t *body)
{
	if (zmq_msg_send(topic, f->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -1;
	return zmq_msg_send(body, f->sock, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

/* Queues a message that found no room; stats may fill the hold to 3/4 of
 * its bounds only, the rest is kept for control messages. */
static int wait_add(struct fanout *f, zmq_msg_t *topic, zmq_msg_t *body, bool control,
		    int64_t now_ns)
{
	size_t size = zmq_msg_size(topic) + zmq_msg_size(body);
	size_t max_n = control ? FANOUT_HOLD_MAX : FANOUT_HOLD_MAX / 4 * 3;
	size_t max_bytes = control ? FANOUT_HOLD_BYTES : FANOUT_HOLD_BYTES / 4 * 3;

	if (sm_msgq_count(f->wait) >= max_n || sm_msgq_bytes(f->wait) + size > max_bytes ||
	    sm_msgq_push(f->wait, topic, body, NULL, now_ns) < 0)
		return -1;
	f->delayed++;
	return 0;
}

/* Sends the oldest waiting message the lossy way: a subscriber whose queue
 * is still full loses it, and libzmq sets that subscriber aside until it
 * reads again; the others, who have had the whole wait to make room, get
 * it. Logged once per episode. */
static void end_stall(struct fanout *f, int64_t now_ns)
{
	struct sm_msgq_item *w = sm_msgq_front(f->wait);

	sm_complain(&f->stall, SM_LOG_WARNING,
		    "fan-out: a subscriber's queue stayed full for %.1f s: it is passed over "
		    "until it reads again (it loses what does not reach it; %zu message(s) "
		    "were waiting)",
		    (double)(now_ns - w->since_ns) / 1e9, sm_msgq_count(f->wait));
	if (set_nodrop(f, 0) == 0) {
		if (send_both(f, &w->topic, &w->body) == 0)
			f->forced++;
		set_nodrop(f, 1);
	}
	sm_msgq_pop(f->wait);
}

/* Sends what waits, in order, while there is room; a message that has
 * waited too long means a stalled subscriber (end_stall). A message ZeroMQ
 * refuses for another reason is dropped: nothing more can be tried for it. */
static void wait_flush(struct fanout *f, int64_t now_ns)
{
	struct sm_msgq_item *w;

	while ((w = sm_msgq_front(f->wait))) {
		if (send_both(f, &w->topic, &w->body) < 0 && errno == EAGAIN) {
			if (now_ns - w->since_ns < (int64_t)FANOUT_WAIT_MS * 1000000)
				break; /* no room yet: the rest waits too */
			end_stall(f, now_ns);
			continue;
		}
		sm_msgq_pop(f->wait);
	}
}

void fanout_service(struct fanout *f, int64_t now_ns)
{
	read_subscriptions(f);
	wait_flush(f, now_ns);
	if (sm_msgq_count(f->wait) == 0)
		sm_complaint_release(&f->stall, "fan-out: every subscriber takes messages again");
}

enum fanout_result fanout_send(struct fanout *f, zmq_msg_t *topic, zmq_msg_t *body, bool control,
			       int64_t now_ns)
{
	if (!heard(f, zmq_msg_data(topic), zmq_msg_size(topic)))
		return FANOUT_UNHEARD;
	/* Behind waiting ones, a message waits too: order is kept. */
	if (sm_msgq_count(f->wait) == 0) {
		if (send_both(f, topic, body) == 0)
			return FANOUT_SENT;
		if (errno != EAGAIN)
			return FANOUT_DROPPED;
	}
	if (wait_add(f, topic, body, control, now_ns) < 0)
		return FANOUT_DROPPED;
	wait_flush(f, now_ns);
	return sm_msgq_count(f->wait) == 0 ? FANOUT_SENT : FANOUT_HELD;
}

size_t fanout_waiting(const struct fanout *f)
{
	return sm_msgq_count(f->wait);
}

uint64_t fanout_delayed(const struct fanout *f)
{
	return f->delayed;
}

uint64_t fanout_forced(const struct fanout *f)
{
	return f->forced;
}
