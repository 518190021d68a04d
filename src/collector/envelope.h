/*
 * envelope — what a collector checks on every inbound message before it
 * relays it, without decoding the body: exactly two frames, a well-formed
 * topic, the size limit, a header of a protocol version we speak that agrees
 * with the topic, and (unless told to look at the header only) a body that
 * is structurally valid msgpack throughout; and, on the
 * upstream hop with CurveZMQ, the optional third frame naming the frame's
 * origin identity. Pure functions: no sockets, no allocation, so they are
 * tested on their own.
 */
#ifndef ENVELOPE_H
#define ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "sm_wire.h"

/*
 * Checks one message of `parts` frames whose first two are topic and body.
 * With `whole_body` the body's structure is walked to its end
 * (sm_wire_peek_header), a cost that grows with the body; without, only up
 * to the header (sm_wire_peek_envelope), for a collector whose publishers
 * are collectors that walked it already (docs/COLLECTOR.md "check_body").
 * Returns 0 and fills *h (the body's header) when it may be relayed.
 * Otherwise returns -1, sets *reason (SM_DROP_MALFORMED, SM_DROP_VERSION or
 * SM_DROP_TOO_BIG) and fills *err with the wire code and a one-line detail.
 * Heartbeats are refused: a collector's heartbeats belong on its own
 * fan-out only, and relaying them would make a dead collector look alive.
 */
int envelope_check(int parts, const void *topic, size_t topic_len, const void *body,
		   size_t body_len, size_t max_frame, bool whole_body, struct sm_header *h,
		   enum sm_drop_reason *reason, struct sm_wire_error *err);

/*
 * Checks the third frame a collector below may add on the upstream hop
 * (docs/PROTOCOL.md, "Origin identity"), with CurveZMQ on. `parts` must be
 * exactly 3, the connection's own key must have the relay right
 * (`may_relay`), and the frame must be an identity of 1..SM_HOST_MAX
 * characters of [A-Za-z0-9._-] (a key file's name). Returns 0 and copies it
 * NUL-terminated into id[SM_HOST_MAX + 1]; otherwise -1 with *reason
 * SM_DROP_MALFORMED and *err filled. Pure, like envelope_check, which the
 * caller then runs on topic and body as a two-frame message.
 */
int envelope_origin(int parts, const void *origin, size_t len, bool may_relay, char *id,
		    enum sm_drop_reason *reason, struct sm_wire_error *err);

/* Copies at most `len` bytes of an untrusted topic into buf (size >= 2) for a
 * log line, replacing anything not printable ASCII with '?'. */
void envelope_topic_printable(const void *topic, size_t len, char *buf, size_t bufsize);

#endif
