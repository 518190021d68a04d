/*
 * frame_loss — see frame_loss.h. The loss table keeps the sequences; an
 * account per host (a chained hash table, bounded) keeps what the table
 * does not: the open minute's counts, a closed minute's counts not saved
 * yet, and the host's log window.
 */
#include "frame_loss.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_clock.h"
#include "sm_log.h"
#include "sm_loss.h"

#define NBUCKETS     4096 /* accounts chained per bucket: 16 at the 65,536 bound */
#define LOG_WINDOW_S 60.0 /* one gap line per host per this long */
#define PRUNE_S	     60.0 /* delete old minutes once per this long */

/* One host's counts and log window. */
struct account {
	char host[SM_HOST_MAX + 1];
	uint32_t hash;
	struct account *chain;	 /* next in the bucket */
	struct account *next;	 /* every account, for saves */
	int64_t minute;		 /* the open minute (its start) */
	uint64_t received, lost; /* of the open minute, not saved yet */
	int64_t closed_minute;	 /* a minute that ended before it was saved */
	uint64_t closed_received, closed_lost;
	bool closed;	       /* closed_* hold counts */
	double window_from;    /* start of the log window; a line was logged then */
	uint64_t quiet_gaps;   /* gaps of this window not logged on their own */
	uint64_t quiet_frames; /* their frames */
};

struct frame_loss {
	struct loss_table *table;
	struct account *buckets[NBUCKETS];
	struct account *all; /* every account */
	size_t naccounts, max;
	bool minute_closed; /* a host's minute ended: save at the next chance */
	bool waiting;	    /* counts wait to be saved */
	double next_save;   /* wall time of the next due save */
	double next_prune;  /* wall time of the next prune */
	struct frame_loss_counters c;
};

static void window_close(struct frame_loss *self, struct account *a);

static uint32_t hash_host(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a, as the loss table */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

struct frame_loss *frame_loss_new(size_t max_hosts)
{
	struct frame_loss *self = calloc(1, sizeof(*self));

	if (!self)
		return NULL;
	self->max = max_hosts == 0 || max_hosts > SM_WIRE_MAX_PUBLISHERS ? SM_WIRE_MAX_PUBLISHERS
									 : max_hosts;
	/* A host silent for a day is forgotten: its next frame starts its
	 * count afresh, as after our own restart. */
	self->table = loss_table_new(self->max, FRAME_LOSS_KEEP_S);
	if (!self->table) {
		free(self);
		return NULL;
	}
	return self;
}

void frame_loss_destroy(struct frame_loss **self_p)
{
	struct frame_loss *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	for (struct account *a = self->all, *next; a; a = next) {
		next = a->next;
		window_close(self, a); /* what the rate limit held back is told now */
		free(a);
	}
	loss_table_destroy(&self->table);
	free(self);
	*self_p = NULL;
}

/* The account of `host`, made if new and the bound allows; NULL if not. */
static struct account *account_get(struct frame_loss *self, const char *host)
{
	uint32_t hash = hash_host(host);
	struct account **b = &self->buckets[hash % NBUCKETS], *a;

	for (a = *b; a; a = a->chain)
		if (a->hash == hash && strcmp(a->host, host) == 0)
			return a;
	if (self->naccounts >= self->max)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	snprintf(a->host, sizeof(a->host), "%s", host);
	a->hash = hash;
	a->chain = *b;
	*b = a;
	a->next = self->all;
	self->all = a;
	a->window_from = -INFINITY;
	self->naccounts++;
	return a;
}

/* Moves the counts of a minute that ended aside, to be saved. */
static void account_roll(struct frame_loss *self, struct account *a, int64_t minute)
{
	if (a->minute == minute)
		return;
	if (a->received || a->lost) {
		if (a->closed && a->closed_minute != a->minute) {
			/* Two minutes ended with no save between (a loop that
			 * stalled, a clock that stepped): the older one's counts
			 * join the newer rather than vanish. */
			a->closed_minute = a->minute;
		} else if (!a->closed) {
			a->closed_minute = a->minute;
			a->closed_received = a->closed_lost = 0;
		}
		a->closed_received += a->received;
		a->closed_lost += a->lost;
		a->closed = true;
		self->minute_closed = true;
	}
	a->minute = minute;
	a->received = a->lost = 0;
}

/* Logs what the rate limit held back in the window that is over. */
static void window_close(struct frame_loss *self, struct account *a)
{
	if (a->quiet_gaps == 0)
		return;
	sm_log_warnx("gaps from host %s: %llu more in the minute after the last line (%llu frames"
		     " missing), not logged one by one",
		     a->host, (unsigned long long)a->quiet_gaps,
		     (unsigned long long)a->quiet_frames);
	self->c.quiet_gaps += a->quiet_gaps;
	a->quiet_gaps = a->quiet_frames = 0;
}

/* True (and a new window opened) when `a` may log a line of its own now. */
static bool may_log(struct frame_loss *self, struct account *a, double now, uint64_t frames)
{
	if (now - a->window_from >= LOG_WINDOW_S) {
		window_close(self, a);
		a->window_from = now;
		return true;
	}
	a->quiet_gaps++;
	a->quiet_frames += frames;
	return false;
}

uint64_t frame_loss_note(struct frame_loss *self, const struct sm_header *h, double now)
{
	const char *kind = sm_wire_kind_name(h->kind);
	int64_t minute = (int64_t)floor(now / 60.0) * 60;
	struct loss_note n;
	struct account *a;

	loss_table_note_frame(self->table, h, (int64_t)(now * (double)SM_NS_PER_SEC), &n);
	if (n.untracked)
		return 0;
	self->c.received++;
	self->c.lost += n.lost;
	self->c.gaps += n.lost > 0;
	self->c.leaps += n.jumped > 0;
	self->c.duplicates += n.duplicate;
	self->c.restarts += n.restart;
	a = account_get(self, h->host);
	if (!a) {
		self->c.unbucketed++;
	} else {
		account_roll(self, a, minute);
		a->received++;
		a->lost += n.lost;
		self->waiting = true;
	}
	if (n.lost > 0 && (!a || may_log(self, a, now, n.lost))) {
		if (n.lost == 1)
			sm_log_warnx("gap from host %s (%s): seq %llu missing (1 frame)", h->host,
				     kind ? kind : "?", (unsigned long long)n.first_missing);
		else
			sm_log_warnx(
			    "gap from host %s (%s): seq %llu-%llu missing (%llu frames)", h->host,
			    kind ? kind : "?", (unsigned long long)n.first_missing,
			    (unsigned long long)n.last_missing, (unsigned long long)n.lost);
	}
	if (n.jumped > 0 && (!a || may_log(self, a, now, 0)))
		sm_log_warnx("seq from host %s (%s) leapt to %llu, %llu frames ahead: not believed,"
			     " not counted as loss (a bug or a forged frame?)",
			     h->host, kind ? kind : "?", (unsigned long long)h->seq,
			     (unsigned long long)n.jumped);
	if (n.restart)
		sm_log_info("host %s (%s) restarted (new epoch): its seq counts from %llu", h->host,
			    kind ? kind : "?", (unsigned long long)h->seq);
	return n.lost;
}

bool frame_loss_save_due(const struct frame_loss *self, double now)
{
	return self->minute_closed || (self->waiting && now >= self->next_save) ||
	       now >= self->next_prune;
}

int frame_loss_save(struct frame_loss *self, struct agg_index *idx, double now)
{
	struct index_loss_minute *v;
	size_t n = 0;
	int rc = 0;

	v = calloc(2 * self->naccounts + 1, sizeof(*v));
	if (!v)
		return -1; /* kept for the next save */
	for (struct account *a = self->all; a; a = a->next) {
		account_roll(self, a, (int64_t)floor(now / 60.0) * 60);
		if (a->closed)
			v[n++] = (struct index_loss_minute){.host = a->host,
							    .minute = a->closed_minute,
							    .received = a->closed_received,
							    .lost = a->closed_lost};
		if (a->received || a->lost)
			v[n++] = (struct index_loss_minute){.host = a->host,
							    .minute = a->minute,
							    .received = a->received,
							    .lost = a->lost};
		if (a->quiet_gaps && now - a->window_from >= LOG_WINDOW_S)
			window_close(self, a);
	}
	if (n > 0 && index_add_loss_minutes(idx, v, n, now) < 0)
		rc = -1;
	/* Handed over: the counts of a failed transaction are not retried
	 * (a frame's own writes are not either). */
	for (struct account *a = self->all; a; a = a->next) {
		a->closed = false;
		a->received = a->lost = 0;
	}
	free(v);
	self->waiting = false;
	self->minute_closed = false;
	self->next_save = now + FRAME_LOSS_SAVE_S;
	if (now >= self->next_prune) {
		if (index_prune_loss_minutes(idx, now - FRAME_LOSS_KEEP_S) < 0)
			rc = -1;
		self->next_prune = now + PRUNE_S;
	}
	return rc;
}

void frame_loss_counters(const struct frame_loss *self, struct frame_loss_counters *out)
{
	*out = self->c;
	out->quiet_gaps = self->c.quiet_gaps;
}
