/*
 * sm_zap — see sm_zap.h. The allow list is an array sorted by identity (the
 * key file's name), so the per-message check (sm_zap_speaks_for) is a binary
 * search; the per-handshake lookup by key is a scan, which is cheap next to
 * the handshake's own cryptography. Refusals are remembered in a small
 * fixed table so a client retrying every 100 ms is logged once, not ten
 * times a second.
 */
#include "sm_zap.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "sm_cert.h"
#include "sm_clock.h"
#include "sm_log.h"
#include "sm_sock.h"
#include "sm_wire.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_FRAMES_MAX 8 /* a request has 7 frames for CURVE; more is malformed */
/* Distinct (address, key) refusals remembered, so each is logged once. */
#define REFUSED_SLOTS 1024
/* New refusals logged per minute at most; the rest are counted. */
#define REFUSED_LOG_PER_MIN 10
#define PEER_MAX 64

/* One allowed key. */
struct allowed {
	char id[SM_HOST_MAX + 1]; /* identity: the file's NAME (User-Id) */
	struct sm_cert cert;	  /* public key and host patterns */
};

/* One remembered refusal. */
struct refusal {
	uint64_t hash;		       /* of address and key; 0 = empty */
	char peer[PEER_MAX];	       /* peer address as ZAP gave it */
	char key[SM_CURVE_KEY_Z85 + 1]; /* its public key, Z85 */
};

struct sm_zap {
	void *rep;		/* REP bound on ZAP_ENDPOINT */
	char *dir;		/* allow-list directory */
	struct allowed *keys;	/* sorted by id */
	size_t nkeys;
	uint64_t refused;	/* handshakes refused */
	struct refusal *seen;	/* REFUSED_SLOTS slots */
	int64_t window_ns;	/* start of the current logging minute */
	unsigned logged;	/* refusals logged in this minute */
	uint64_t unlogged;	/* new refusals not logged since the last line */
};

static void keys_free(struct allowed *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sm_cert_clear(&keys[i].cert);
	free(keys);
}

static int allowed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct allowed *)a)->id, ((const struct allowed *)b)->id);
}

/* Reads every NAME.key in dir; -1 (logged) when dir cannot be read. */
static int keys_load(const char *dir, struct allowed **out, size_t *nout)
{
	struct allowed *keys = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		sm_log_err("curve_allow_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char path[4096], err[4400], id[SM_HOST_MAX + 1];

		if (len <= 4 || strcmp(de->d_name + len - 4, ".key") != 0)
			continue;
		snprintf(id, sizeof(id), "%.*s", (int)(len - 4), de->d_name);
		if (!sm_wire_host_valid(id) || len - 4 > SM_HOST_MAX) {
			sm_log(SM_LOG_WARNING, "allow list: skipping %s/%s: name is not [A-Za-z0-9._-]", dir,
				    de->d_name);
			continue;
		}
		if (n == cap) {
			struct allowed *grown;

			cap = cap ? cap * 2 : 16;
			grown = realloc(keys, cap * sizeof(*grown));
			if (!grown) {
				sm_log_err("allow list: out of memory");
				closedir(d);
				keys_free(keys, n);
				return -1;
			}
			keys = grown;
		}
		memset(&keys[n], 0, sizeof(keys[n]));
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (sm_cert_load(path, false, &keys[n].cert, err, sizeof(err)) < 0) {
			sm_log(SM_LOG_WARNING, "allow list: skipping %s", err);
			continue;
		}
		memcpy(keys[n].id, id, sizeof(id));
		n++;
	}
	closedir(d);
	if (n)
		qsort(keys, n, sizeof(*keys), allowed_cmp);
	*out = keys;
	*nout = n;
	return 0;
}

struct sm_zap *sm_zap_new(void *zctx, const char *allow_dir)
{
	struct sm_zap *z = calloc(1, sizeof(*z));
	int linger = 0;

	if (!z || !(z->dir = strdup(allow_dir)) ||
	    !(z->seen = calloc(REFUSED_SLOTS, sizeof(*z->seen)))) {
		sm_log_err("zap: out of memory");
		goto fail;
	}
	if (keys_load(z->dir, &z->keys, &z->nkeys) < 0)
		goto fail;
	z->rep = zmq_socket(zctx, ZMQ_REP);
	if (!z->rep || zmq_setsockopt(z->rep, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
	    zmq_bind(z->rep, ZAP_ENDPOINT) < 0) {
		sm_log_err("zap: cannot bind %s: %s", ZAP_ENDPOINT, zmq_strerror(errno));
		goto fail;
	}
	sm_log_notice("allow list %s: %zu key(s)", z->dir, z->nkeys);
	return z;
fail:
	sm_zap_destroy(&z);
	return NULL;
}

void sm_zap_destroy(struct sm_zap **zp)
{
	struct sm_zap *z = zp ? *zp : NULL;

	if (!z)
		return;
	if (z->rep)
		zmq_close(z->rep);
	keys_free(z->keys, z->nkeys);
	free(z->seen);
	free(z->dir);
	free(z);
	*zp = NULL;
}

int sm_zap_reload(struct sm_zap *z)
{
	struct allowed *keys;
	size_t n;

	if (keys_load(z->dir, &keys, &n) < 0) {
		sm_log(SM_LOG_WARNING, "allow list %s: kept the %zu key(s) already loaded", z->dir, z->nkeys);
		return -1;
	}
	keys_free(z->keys, z->nkeys);
	z->keys = keys;
	z->nkeys = n;
	sm_log_notice("allow list %s reloaded: %zu key(s)", z->dir, n);
	return 0;
}

void *sm_zap_socket(const struct sm_zap *z)
{
	return z->rep;
}

static const struct allowed *find_key(const struct sm_zap *z, const char *z85)
{
	for (size_t i = 0; i < z->nkeys; i++) {
		if (strcmp(z->keys[i].cert.public_key, z85) == 0)
			return &z->keys[i];
	}
	return NULL;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (h * 1099511628211ull) | 1; /* never 0: 0 marks an empty slot */
}

/* Counts a refusal; logs it when (peer, key) is new and the minute's
 * budget allows. */
static void note_refusal(struct sm_zap *z, const char *peer, const char *key, const char *why)
{
	uint64_t h = fnv1a(fnv1a(14695981039346656037ull, peer), key);
	struct refusal *slot = &z->seen[h % REFUSED_SLOTS];
	int64_t now = sm_clock_mono_ns();

	z->refused++;
	if (slot->hash == h && strcmp(slot->peer, peer) == 0 && strcmp(slot->key, key) == 0)
		return; /* logged before */
	slot->hash = h;
	snprintf(slot->peer, sizeof(slot->peer), "%s", peer);
	snprintf(slot->key, sizeof(slot->key), "%s", key);
	if (now - z->window_ns >= 60 * SM_NS_PER_SEC) {
		z->window_ns = now;
		z->logged = 0;
	}
	if (z->logged >= REFUSED_LOG_PER_MIN) {
		z->unlogged++;
		return;
	}
	z->logged++;
	if (z->unlogged)
		sm_log(SM_LOG_WARNING, "refused connection from %s with key %s: %s (and %llu more refusals "
			    "not logged; %llu in all)",
			    peer[0] ? peer : "(local)", key, why, (unsigned long long)z->unlogged,
			    (unsigned long long)z->refused);
	else
		sm_log(SM_LOG_WARNING, "refused connection from %s with key %s: %s (%llu refused in all)",
			    peer[0] ? peer : "(local)", key, why, (unsigned long long)z->refused);
	z->unlogged = 0;
}

/* Sends the six reply frames; the REP socket needs a reply to every
 * request, even a malformed one. */
static void reply(struct sm_zap *z, const zmq_msg_t *request_id, const char *status,
		  const char *text, const char *user_id)
{
	zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(z->rep, zmq_msg_data((zmq_msg_t *)request_id), zmq_msg_size((zmq_msg_t *)request_id),
		 ZMQ_SNDMORE);
	zmq_send(z->rep, status, strlen(status), ZMQ_SNDMORE);
	zmq_send(z->rep, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(z->rep, user_id, strlen(user_id), ZMQ_SNDMORE);
	zmq_send(z->rep, "", 0, 0);
}

/* Reads one whole request (at most ZAP_FRAMES_MAX frames kept); -1 when
 * none waits. */
static int recv_request(void *rep, zmq_msg_t *f, int *nframes)
{
	int n = 0, more = 1;

	while (more) {
		zmq_msg_t part;

		zmq_msg_init(&part);
		if (zmq_msg_recv(&part, rep, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(&part);
			if (n == 0)
				return -1;
			break;
		}
		more = zmq_msg_more(&part);
		if (n < ZAP_FRAMES_MAX) {
			zmq_msg_init(&f[n]);
			zmq_msg_move(&f[n], &part);
			n++;
		} else {
			n++; /* counted, not kept */
		}
		zmq_msg_close(&part);
	}
	*nframes = n;
	return 0;
}

static bool frame_is(zmq_msg_t *m, const char *s)
{
	return zmq_msg_size(m) == strlen(s) && memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

static void handle(struct sm_zap *z, zmq_msg_t *f, int n)
{
	char peer[PEER_MAX] = "", key[SM_CURVE_KEY_Z85 + 1] = "";
	const struct allowed *a;
	zmq_msg_t empty;

	zmq_msg_init(&empty);
	if (n != 7 || !frame_is(&f[0], "1.0")) {
		/* Not a request we understand: answer so REP stays in step. */
		reply(z, n >= 2 ? &f[1] : &empty, "500", "malformed ZAP request", "");
		zmq_msg_close(&empty);
		return;
	}
	zmq_msg_close(&empty);
	snprintf(peer, sizeof(peer), "%.*s",
		 (int)(zmq_msg_size(&f[3]) < PEER_MAX - 1 ? zmq_msg_size(&f[3]) : PEER_MAX - 1),
		 (const char *)zmq_msg_data(&f[3]));
	for (char *p = peer; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	if (!frame_is(&f[5], "CURVE") || zmq_msg_size(&f[6]) != 32 ||
	    !zmq_z85_encode(key, zmq_msg_data(&f[6]), 32)) {
		note_refusal(z, peer, "(none)", "not a CURVE client");
		reply(z, &f[1], "400", "CURVE only", "");
		return;
	}
	if (!frame_is(&f[2], SM_ZAP_DOMAIN)) {
		note_refusal(z, peer, key, "unknown ZAP domain");
		reply(z, &f[1], "400", "unknown domain", "");
		return;
	}
	a = find_key(z, key);
	if (!a) {
		note_refusal(z, peer, key, "key not in the allow list");
		reply(z, &f[1], "400", "key not allowed", "");
		return;
	}
	reply(z, &f[1], "200", "OK", a->id);
}

size_t sm_zap_serve(struct sm_zap *z, size_t max)
{
	size_t served = 0;

	while (served < max) {
		zmq_msg_t f[ZAP_FRAMES_MAX];
		int n = 0;

		if (recv_request(z->rep, f, &n) < 0)
			break;
		handle(z, f, n);
		for (int i = 0; i < n && i < ZAP_FRAMES_MAX; i++)
			zmq_msg_close(&f[i]);
		served++;
	}
	return served;
}

/* The allowed key named `id`, or NULL. */
static const struct allowed *find_id(const struct sm_zap *z, const char *id)
{
	struct allowed probe;

	if (!id || strlen(id) > SM_HOST_MAX || z->nkeys == 0)
		return NULL;
	snprintf(probe.id, sizeof(probe.id), "%s", id);
	return bsearch(&probe, z->keys, z->nkeys, sizeof(*z->keys), allowed_cmp);
}

bool sm_zap_speaks_for(const struct sm_zap *z, const char *user_id, const char *host)
{
	const struct allowed *a = find_id(z, user_id);

	return a && sm_cert_speaks_for(&a->cert, host);
}

bool sm_zap_may_relay(const struct sm_zap *z, const char *user_id)
{
	const struct allowed *a = find_id(z, user_id);

	return a && a->cert.relay;
}

enum sm_zap_origin sm_zap_origin_check(const struct sm_zap *z, const char *origin,
				       const char *host)
{
	const struct allowed *a = find_id(z, origin);

	if (!a)
		return SM_ZAP_ORIGIN_UNKNOWN;
	return sm_cert_speaks_for(&a->cert, host) ? SM_ZAP_ORIGIN_MATCH : SM_ZAP_ORIGIN_MISMATCH;
}

uint64_t sm_zap_refused(const struct sm_zap *z)
{
	return z ? z->refused : 0;
}

size_t sm_zap_keys(const struct sm_zap *z)
{
	return z ? z->nkeys : 0;
}
