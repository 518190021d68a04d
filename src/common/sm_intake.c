/*
 * sm_intake — decodes, accounts and applies what a subscription receives
 * (see sm_intake.h). The order is the protocol's: the envelope (two frames),
 * the decoder's checks of every field, then loss accounting on the valid
 * header, then the sink. Nothing of a refused message reaches the sink.
 */
#include "sm_intake.h"

#include <stdio.h>
#include <stdlib.h>

#include "sm_brief.h"
#include "sm_clock.h"
#include "sm_daemon.h"
#include "sm_log.h"
#include "sm_loss.h"
#include "sm_sock.h"
#include "sm_sockwatch.h"

#define LOSS_SENDERS	65536  /* (host, kind) streams followed at once */
#define LOSS_EXPIRY_S	3600.0 /* a sender silent this long is forgotten */
#define SENDER_TEXT_MAX 40     /* bytes of an unparsable topic shown in the log */

struct sm_intake {
	struct sm_intake_sink sink;
	struct sm_sockwatch *watch; /* borrowed, may be NULL */
	size_t max_frame;
	struct loss_table *loss; /* seq gaps by sender */
	struct sm_brief *brief;	 /* each sender's full records, for its brief ones */
	struct sm_intake_counters c;
	struct sm_complaint bad; /* refused messages, logged with rate limiting */
};

struct sm_intake *sm_intake_new(const struct sm_intake_sink *sink, size_t max_frame,
				struct sm_sockwatch *watch)
{
	struct sm_intake *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->sink = *sink;
	in->watch = watch;
	in->max_frame = max_frame;
	in->loss = loss_table_new(LOSS_SENDERS, LOSS_EXPIRY_S);
	/* Bounded by the protocol's own limits: the domains of each sender's
	 * latest frame, for as many senders as a collector follows. */
	in->brief = sm_brief_new(SM_WIRE_MAX_PUBLISHERS, SM_WIRE_MAX_DOMAINS);
	if (!in->loss || !in->brief) {
		sm_intake_destroy(&in);
		return NULL;
	}
	return in;
}

void sm_intake_destroy(struct sm_intake **inp)
{
	struct sm_intake *in = inp ? *inp : NULL;

	if (!in)
		return;
	loss_table_destroy(&in->loss);
	sm_brief_free(&in->brief);
	free(in);
	*inp = NULL;
}

const char *sm_intake_reason_name(size_t reason)
{
	if (reason == SM_INTAKE_E_PARTS)
		return "parts";
	return sm_wire_code_name((enum sm_wire_code)reason);
}

const struct sm_intake_counters *sm_intake_counters(const struct sm_intake *in)
{
	return &in->c;
}

/* Who sent a message, for the log: the topic's host, else its printable start. */
static void sender_of(const void *topic, size_t len, char *buf, size_t buflen)
{
	const char *t = topic;
	char host[SM_HOST_MAX + 1];
	enum sm_msg_kind kind;
	size_t k = 0;

	if (topic && sm_wire_topic_parse(topic, len, &kind, host, NULL) == 0) {
		snprintf(buf, buflen, "%s", host);
		return;
	}
	for (size_t i = 0; t && i < len && k + 1 < buflen && i < SENDER_TEXT_MAX; i++)
		buf[k++] = (t[i] >= 0x20 && t[i] < 0x7f) ? t[i] : '?';
	buf[k] = '\0';
	if (k == 0)
		snprintf(buf, buflen, "(empty topic)");
}

static void refuse(struct sm_intake *in, size_t reason, const void *topic, size_t topic_len,
		   const char *detail)
{
	char sender[SM_HOST_MAX + 1];

	in->c.errors[reason]++;
	sender_of(topic, topic_len, sender, sizeof(sender));
	sm_complain(&in->bad, SM_LOG_WARNING, "dropped a bad message from %s: %s (%s)", sender,
		    sm_intake_reason_name(reason), detail);
}

/* Makes the brief records of a stats message whole (docs/PROTOCOL.md,
 * "Brief records"). Returns whether the frame is complete: none of its
 * records was left out. */
static bool expand(struct sm_intake *in, struct sm_message *m)
{
	struct sm_brief_result br = {0};
	int rc = sm_brief_expand(in->brief, m, &br);

	if (rc < 0)
		sm_complain(&in->bad, SM_LOG_ERR,
			    "out of memory expanding a frame of %s: its brief records are left"
			    " out until their next full records",
			    m->hdr.host);
	in->c.brief_expanded += br.expanded;
	/* A late start or a lost frame: normal, and over by the monitor's
	 * next full record of each domain. */
	in->c.brief_waiting += br.no_base;
	in->c.brief_refused += br.mismatch + br.no_room;
	if (br.mismatch + br.no_room > 0)
		sm_complain(&in->bad, SM_LOG_WARNING,
			    "left out %zu brief records of %s that contradict its full records"
			    " and %zu past the domains a frame may hold",
			    br.mismatch, m->hdr.host, br.no_room);
	return rc == 0 && br.no_base + br.mismatch + br.no_room == 0;
}

int sm_intake_message(struct sm_intake *in, int parts, const void *topic, size_t topic_len,
		      const void *body, size_t body_len, int64_t now_ns)
{
	struct sm_wire_error err = {0};
	struct sm_message m;
	char detail[64];
	uint64_t lost;

	if (parts != 2) {
		snprintf(detail, sizeof(detail), "%d frames, expected topic and body", parts);
		refuse(in, SM_INTAKE_E_PARTS, topic, topic_len, detail);
		return -1;
	}
	if (sm_wire_decode_frames(topic, topic_len, body, body_len, in->max_frame, &m, &err) < 0) {
		refuse(in,
		       (size_t)err.code < SM_WIRE_CODE_COUNT ? (size_t)err.code : SM_WIRE_E_GARBAGE,
		       topic, topic_len, err.msg);
		return -1;
	}
	in->c.frames[m.hdr.kind]++;
	in->c.bytes += body_len;
	lost = loss_table_note(in->loss, &m.hdr, now_ns);
	in->c.lost += lost;
	if (in->sink.lost)
		in->sink.lost(in->sink.ctx, &m.hdr, lost);
	switch (m.hdr.kind) {
	case SM_KIND_STATS:
		/* Brief records made whole before anything reads the frame. */
		{
			bool complete = expand(in, &m);

			if (in->sink.stats)
				in->sink.stats(in->sink.ctx, &m, now_ns, complete);
		}
		break;
	case SM_KIND_EVENT:
		if (in->sink.event)
			in->sink.event(in->sink.ctx, &m);
		break;
	case SM_KIND_HEARTBEAT: /* only for the collector's max_frame */
		if (in->watch)
			sm_sockwatch_note_heartbeat(in->watch, &m, in->max_frame);
		break;
	case SM_KIND_COLLECTOR:
		break;
	}
	sm_message_clear(&m);
	sm_complaint_release(&in->bad, "messages decode again");
	return 0;
}

size_t sm_intake_drain(struct sm_intake *in, void *sub, pthread_mutex_t *lock)
{
	int64_t start = sm_clock_mono_ns();
	size_t n = 0;

	while (n < SM_INTAKE_DRAIN_BUDGET && !sm_daemon_quit_requested()) {
		struct sm_frames f;
		int64_t now;

		if (sm_sock_recv2(sub, &f, ZMQ_DONTWAIT) < 0)
			break;
		n++;
		now = sm_clock_mono_ns();
		if (lock)
			pthread_mutex_lock(lock);
		sm_intake_message(in, f.parts, zmq_msg_data(&f.topic), zmq_msg_size(&f.topic),
				  zmq_msg_data(&f.body), zmq_msg_size(&f.body), now);
		if (lock)
			pthread_mutex_unlock(lock);
		sm_frames_close(&f);
		if (now - start > (int64_t)SM_INTAKE_DRAIN_MAX_MS * 1000000)
			break;
	}
	return n;
}
