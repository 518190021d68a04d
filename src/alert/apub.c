/*
 * apub — see apub.h.
 */
#include "apub.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <zmq.h>

#include "alert_json.h"

struct apub {
	void *sock;
	struct sm_ipc_file file;
	uint64_t epoch, seq;
	uint64_t sent, dropped;
	msgpack_sbuffer buf;
};

struct apub *apub_new(void *zctx, const char *endpoint, const struct sm_sock_opts *opts)
{
	struct apub *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->sock = sm_sock_new(zctx, ZMQ_PUB, opts);
	if (!p->sock || sm_sock_bind(p->sock, endpoint) < 0) {
		sm_sock_close(&p->sock);
		free(p);
		return NULL;
	}
	sm_ipc_file_note(&p->file, endpoint);
	if (getrandom(&p->epoch, sizeof(p->epoch), 0) != sizeof(p->epoch))
		p->epoch = (uint64_t)time(NULL);
	msgpack_sbuffer_init(&p->buf);
	return p;
}

void apub_destroy(struct apub **pp)
{
	struct apub *p = pp ? *pp : NULL;

	if (!p)
		return;
	sm_sock_close(&p->sock);
	sm_ipc_file_remove(&p->file);
	msgpack_sbuffer_destroy(&p->buf);
	free(p);
	*pp = NULL;
}

uint64_t apub_sent(const struct apub *p)
{
	return p->sent;
}

uint64_t apub_dropped(const struct apub *p)
{
	return p->dropped;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pack_kv(msgpack_packer *pk, const char *k, const char *v)
{
	pack_str(pk, k);
	pack_str(pk, v);
}

static void count_label(void *ctx, const char *name, const char *value)
{
	(void)name;
	(void)value;
	(*(size_t *)ctx)++;
}

static void pack_label(void *ctx, const char *name, const char *value)
{
	pack_kv(ctx, name, value);
}

int apub_send(struct apub *p, const struct alert_info *a, double now)
{
	msgpack_packer pk;
	char topic[SM_TOPIC_MAX];
	bool firing = a->state == ALERT_FIRING;
	size_t nlabels = 0;
	int n;

	n = snprintf(topic, sizeof(topic), "alert/%s/", a->host);
	msgpack_sbuffer_clear(&p->buf);
	msgpack_packer_init(&pk, &p->buf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 15);
	pack_str(&pk, "v");
	msgpack_pack_uint32(&pk, SM_WIRE_VERSION);
	pack_kv(&pk, "kind", "alert");
	pack_kv(&pk, "host", a->host);
	pack_str(&pk, "time");
	msgpack_pack_double(&pk, now);
	pack_str(&pk, "seq");
	msgpack_pack_uint64(&pk, ++p->seq);
	pack_str(&pk, "epoch");
	msgpack_pack_uint64(&pk, p->epoch);
	pack_kv(&pk, "status", firing ? "firing" : "resolved");
	pack_kv(&pk, "rule", a->rule->name);
	pack_kv(&pk, "severity", a->rule->severity);
	pack_kv(&pk, "expr", a->rule->expr);
	pack_str(&pk, "value");
	if (a->value == a->value)
		msgpack_pack_double(&pk, a->value);
	else
		msgpack_pack_nil(&pk);
	pack_str(&pk, "since");
	msgpack_pack_double(&pk, a->since);
	pack_str(&pk, "ends_at");
	if (firing)
		msgpack_pack_nil(&pk);
	else
		msgpack_pack_double(&pk, a->ends_at);
	pack_str(&pk, "labels");
	alert_labels(a, count_label, &nlabels);
	msgpack_pack_map(&pk, nlabels);
	alert_labels(a, pack_label, &pk);
	pack_str(&pk, "annotations");
	msgpack_pack_map(&pk, a->rule->nannotations);
	for (size_t i = 0; i < a->rule->nannotations; i++)
		pack_kv(&pk, a->rule->annotations[i].key, a->rule->annotations[i].value);
	if (sm_sock_send2(p->sock, topic, (size_t)n, p->buf.data, p->buf.size, ZMQ_DONTWAIT) < 0) {
		p->dropped++;
		return -1;
	}
	p->sent++;
	return 0;
}
