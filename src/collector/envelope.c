/*
 * envelope — see envelope.h. The order of the checks is chosen so the cheap
 * ones come first and a frame is charged to the most specific reason: size
 * before anything is read, the version before structure errors (peek
 * reports it first), and topic agreement last.
 */
#include "envelope.h"

#include <stdio.h>
#include <string.h>

static int refuse(enum sm_drop_reason why, enum sm_wire_code code, enum sm_drop_reason *reason,
		  struct sm_wire_error *err, const char *msg)
{
	*reason = why;
	err->code = code;
	snprintf(err->msg, sizeof(err->msg), "%s", msg);
	return -1;
}

int envelope_check(int parts, const void *topic, size_t topic_len, const void *body,
		   size_t body_len, size_t max_frame, bool whole_body, struct sm_header *h,
		   enum sm_drop_reason *reason, struct sm_wire_error *err)
{
	enum sm_msg_kind kind;
	char host[SM_HOST_MAX + 1];
	char msg[sizeof(err->msg)];

	if (parts != 2) {
		snprintf(msg, sizeof(msg), "%d frames, expected 2 (topic, body)", parts);
		return refuse(SM_DROP_MALFORMED, SM_WIRE_E_GARBAGE, reason, err, msg);
	}
	if (max_frame == 0)
		max_frame = SM_WIRE_FRAME_MAX_DEFAULT;
	if (body_len > max_frame) {
		snprintf(msg, sizeof(msg), "body of %zu bytes, limit %zu", body_len, max_frame);
		return refuse(SM_DROP_TOO_BIG, SM_WIRE_E_TOO_BIG, reason, err, msg);
	}
	if (sm_wire_topic_parse(topic, topic_len, &kind, host, err) < 0) {
		*reason = SM_DROP_MALFORMED;
		return -1;
	}
	if ((whole_body ? sm_wire_peek_header : sm_wire_peek_envelope)(body, body_len, max_frame,
									 h, err) < 0) {
		*reason = err->code == SM_WIRE_E_VERSION   ? SM_DROP_VERSION
			  : err->code == SM_WIRE_E_TOO_BIG ? SM_DROP_TOO_BIG
							   : SM_DROP_MALFORMED;
		return -1;
	}
	if (h->kind != kind || strcmp(h->host, host) != 0) {
		snprintf(msg, sizeof(msg), "topic says %s from %.60s, body says %s from %.60s",
			 sm_wire_kind_name(kind), host, sm_wire_kind_name(h->kind), h->host);
		return refuse(SM_DROP_MALFORMED, SM_WIRE_E_TOPIC, reason, err, msg);
	}
	if (kind == SM_KIND_HEARTBEAT)
		return refuse(
		    SM_DROP_MALFORMED, SM_WIRE_E_KIND, reason, err,
		    "heartbeat on a fan-in: heartbeats stay on their collector's fan-out");
	err->code = SM_WIRE_OK;
	err->msg[0] = '\0';
	return 0;
}

int envelope_origin(int parts, const void *origin, size_t len, bool may_relay, char *id,
		    enum sm_drop_reason *reason, struct sm_wire_error *err)
{
	char msg[sizeof(err->msg)];

	id[0] = '\0';
	if (parts != 3) {
		snprintf(msg, sizeof(msg), "%d frames, expected 2 (topic, body) or 3 (and origin)",
			 parts);
		return refuse(SM_DROP_MALFORMED, SM_WIRE_E_GARBAGE, reason, err, msg);
	}
	if (!may_relay)
		return refuse(SM_DROP_MALFORMED, SM_WIRE_E_GARBAGE, reason, err,
			      "origin frame from a key without role = relay");
	if (len == 0 || len > SM_HOST_MAX) {
		snprintf(msg, sizeof(msg), "origin identity of %zu bytes, want 1..%d", len,
			 SM_HOST_MAX);
		return refuse(SM_DROP_MALFORMED, SM_WIRE_E_GARBAGE, reason, err, msg);
	}
	memcpy(id, origin, len);
	id[len] = '\0';
	/* A NUL inside the frame ends the copy early: the lengths disagree. */
	if (strlen(id) != len || !sm_wire_host_valid(id)) {
		id[0] = '\0';
		return refuse(SM_DROP_MALFORMED, SM_WIRE_E_GARBAGE, reason, err,
			      "origin identity is not [A-Za-z0-9._-]");
	}
	err->code = SM_WIRE_OK;
	err->msg[0] = '\0';
	return 0;
}

void envelope_topic_printable(const void *topic, size_t len, char *buf, size_t bufsize)
{
	const unsigned char *p = topic;
	size_t n = len < bufsize - 1 ? len : bufsize - 1;

	for (size_t i = 0; i < n; i++)
		buf[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	buf[n] = '\0';
}
