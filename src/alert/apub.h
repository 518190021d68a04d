/*
 * apub — every alert transition as an "alert/<host>/" message on the
 * alerter's own fan-out (a PUB socket it binds), for the dashboard's
 * scripts and anyone else: the same two frames as the protocol's other
 * kinds, a topic and a msgpack map whose header (v, kind, host, time, seq,
 * epoch) is the protocol's, with the alert's fields after it
 * (docs/ALERTS.md "Alert frames"). With curve the socket is a CURVE
 * server: the process's ZAP handler (sm_zap, publish_allow_dir) must be
 * running before apub_new binds it, and admits only the allowed
 * subscribers' keys; without curve it is plain ZeroMQ.
 */
#ifndef ALERT_APUB_H
#define ALERT_APUB_H

#include <stdint.h>

#include "eval.h"
#include "sm_sock.h"

struct apub; /* opaque */

/* A publisher bound to endpoint with opts (with curve: the own key pair,
 * as a CURVE server). NULL (logged) when it cannot bind. */
struct apub *apub_new(void *zctx, const char *endpoint, const struct sm_sock_opts *opts);
/* Closes the socket and removes its ipc:// file. NULL-safe. */
void apub_destroy(struct apub **p);

/* Publishes one transition (never blocks: a full queue drops, counted). */
int apub_send(struct apub *p, const struct alert_info *a, double now);

uint64_t apub_sent(const struct apub *p);
uint64_t apub_dropped(const struct apub *p);

#endif
