/*
 * writer — see writer.h. Hot path per point: a hash
 * lookup of the domain (once per domain), a pointer to the metric's slot,
 * and an append to the slot's buffer (write-behind, as carbon-cache does).
 * When the domain's flush falls due (every flush_interval seconds, each
 * domain on its own phase so that every frame flushes an even share), one
 * whisper_update_many per file writes the run: one contiguous pwrite, and
 * propagation to coarser archives paid once per coarse interval. Syscalls
 * per point fall by the interval's length; a file's handle stays in the
 * bounded LRU cache for its next flush.
 * Opening, creating, registering in the index and moving a bad file aside
 * happen on that slow path only (slot_open).
 */
#include "writer.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beneath.h"
#include "fcache.h"
#include "frame_loss.h"
#include "layout.h"
#include "metric_map.h"
#include "sm_clock.h"
#include "sm_log.h"
#include "sm_uuid.h"

#define DEVICES_MAX	    512	    /* devices remembered per domain (hot-plug churn bound) */
#define SLOT_BUF_MAX	    64	    /* points waiting per file before it is flushed */
#define STALE_SWEEP_S	    10.0    /* seconds between two index_stop_stale sweeps */
#define PURGES_PER_CALL	    64	    /* domains purged per housekeeping call */
#define ENTITY_SLOTS	    8	    /* max(METRIC_DOMAIN_N, METRIC_HOST_N) */
#define INDEX_TOUCH_DEFAULT 10.0    /* see index_set_touch_interval */
#define WRITER_EBUDGET	    (-5000) /* a create refused by the budget (not an errno) */

_Static_assert(METRIC_DOMAIN_N <= ENTITY_SLOTS && METRIC_HOST_N <= ENTITY_SLOTS,
	       "ENTITY_SLOTS holds the biggest metric set");

/* One metric file: its handle (while open), the points waiting for it
 * (while closed), and whether the index knows it. */
struct slot {
	struct fcache_node node;   /* handle and LRU links */
	struct whisper_point *buf; /* waiting points, oldest first; empty while open */
	uint16_t nbuf, capbuf;
	uint8_t idx;	    /* index in its metric set */
	struct device *dev; /* its device, NULL for a domain's or host's own metric */
	bool registered;    /* its index row is committed */
	bool pending;	    /* registered in the open transaction */
	bool space_hit;	    /* its last write met a full disk: its next success
			     * proves space has returned */
};

/* One disk or interface of a domain. */
struct device {
	bool nic;			  /* an interface (else a disk): which metric set */
	char raw[SM_DEV_MAX + 1];	  /* name as on the wire: what frames are matched on */
	char name[LAYOUT_DEVICE_MAX + 1]; /* sanitised, as in the metric name */
	struct slot slots[METRIC_DEVICE_MAX_N];
};

/* A device list; devices are allocated one by one so slot addresses, which
 * the cache links, never move. */
struct device_list {
	struct device **v;
	size_t n, cap;
};

/* A directory of metric files: a domain's or a host's. */
struct entity {
	char dir[LAYOUT_PATH_MAX];     /* relative to the data directory */
	const char *uuid;	       /* a domain's canonical uuid, else NULL */
	const char *host;	       /* a host's name, else NULL */
	const struct metric_def *defs; /* its own metrics (domain or host set) */
	size_t ndefs;
	bool dir_ready;	   /* exists, and leftovers of crashed creates are swept */
	bool refused;	   /* a symbolic link was met on its path: no more writes */
	bool waiting;	   /* some slot holds points waiting for a flush */
	double phase;	   /* 0..flush_interval: spreads flushes over frames */
	double next_flush; /* frame time from which its waiting points are written */
	struct slot slots[ENTITY_SLOTS];
	struct device_list disks, nics;
};

struct dom {
	uint8_t uuid[16];
	char uuid_text[37];
	struct dom *hnext;	     /* hash chain */
	struct host *host;	     /* where it runs: counted in host->ndomains; NULL unknown */
	struct host *started_on;     /* a "started" event came from there: the next report
					from that host may change the project */
	char project[SM_ID_MAX + 1]; /* its tenant as known ("" none): a report naming
					another one is refused */
	bool project_logged;	     /* a refused change has been logged */
	struct entity e;
};

struct host {
	char name[SM_HOST_MAX + 1];
	struct host *next;
	size_t ndomains;  /* domains of the table on this host */
	double tokens;	  /* new domains it may start now (refilled per minute) */
	double tokens_at; /* wall time tokens was last refilled */
	struct sm_complaint limit_complaint; /* its limits: one line, then rate-limited */
	struct entity e;
};

/* Which kind of operation last hit a full or read-only disk: decides what
 * success proves that space has returned. */
enum space_fail { SPACE_OK, SPACE_CREATE, SPACE_WRITE };

struct writer {
	struct writer_config cfg;
	struct fcache *cache;
	struct frame_loss *loss; /* gaps by seq: logged, counted per host per minute */
	struct dom **buckets; /* domains by uuid; chained */
	size_t nbuckets;      /* power of two */
	size_t ndoms;
	struct host *hosts; /* few (max_hosts bounds them): a list */
	size_t nhosts;
	uint64_t file_bytes; /* size of a new file (the retention's), for the byte budget */

	/* Per frame. */
	struct slot **pending; /* slots registered in the open transaction */
	size_t npending, cap_pending;
	bool index_ok;	   /* the frame's transaction is open */
	bool no_create;	   /* a create hit a full disk: no more this frame */
	bool purge_now;	   /* a domain stopped with grace 0 */
	double next_stale; /* time of the next stale sweep */

	enum space_fail space_fail;
	struct sm_complaint space_complaint; /* full / read-only disk */
	struct sm_complaint io_complaint;    /* other file errors */
	struct sm_complaint purge_complaint; /* a purge that could not delete */
	struct sm_complaint future_complaint;
	struct sm_complaint hosts_complaint; /* new hosts past max_hosts */
	struct writer_counters c;
};

/* ---- the domain table ------------------------------------------------- */

static size_t uuid_hash(const uint8_t uuid[16])
{
	uint64_t a, b;

	memcpy(&a, uuid, 8);
	memcpy(&b, uuid + 8, 8);
	a ^= b * UINT64_C(0x9e3779b97f4a7c15);
	a ^= a >> 29;
	a *= UINT64_C(0xbf58476d1ce4e5b9);
	return (size_t)(a ^ (a >> 32));
}

static struct dom *dom_find(const struct writer *self, const uint8_t uuid[16])
{
	struct dom *d = self->buckets[uuid_hash(uuid) & (self->nbuckets - 1)];

	while (d && memcmp(d->uuid, uuid, 16) != 0)
		d = d->hnext;
	return d;
}

static void table_grow(struct writer *self)
{
	size_t n = self->nbuckets * 2;
	struct dom **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < self->nbuckets; i++) {
		struct dom *d = self->buckets[i], *next;

		for (; d; d = next) {
			size_t k = uuid_hash(d->uuid) & (n - 1);

			next = d->hnext;
			d->hnext = b[k];
			b[k] = d;
		}
	}
	free(self->buckets);
	self->buckets = b;
	self->nbuckets = n;
}

static struct dom *dom_get(struct writer *self, const uint8_t uuid[16])
{
	struct dom *d = dom_find(self, uuid);
	size_t k;

	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	memcpy(d->uuid, uuid, 16);
	sm_uuid_format(uuid, d->uuid_text);
	d->e.uuid = d->uuid_text;
	d->e.defs = metric_domain;
	d->e.ndefs = METRIC_DOMAIN_N;
	d->e.phase = (double)(uuid_hash(uuid) % 1000003) / 1000003.0;
	for (size_t i = 0; i < ENTITY_SLOTS; i++)
		d->e.slots[i].idx = (uint8_t)i;
	if (layout_domain_dir(uuid, d->e.dir, sizeof(d->e.dir)) < 0) {
		free(d);
		return NULL;
	}
	if (self->ndoms >= self->nbuckets)
		table_grow(self);
	k = uuid_hash(uuid) & (self->nbuckets - 1);
	d->hnext = self->buckets[k];
	self->buckets[k] = d;
	self->ndoms++;
	return d;
}

static void slot_free(struct writer *self, struct slot *s)
{
	fcache_close(self->cache, &s->node);
	free(s->buf);
	s->buf = NULL;
	s->nbuf = s->capbuf = 0;
}

static void devices_free(struct writer *self, struct device_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		for (size_t k = 0; k < METRIC_DEVICE_MAX_N; k++)
			slot_free(self, &l->v[i]->slots[k]);
		free(l->v[i]);
	}
	free(l->v);
	*l = (struct device_list){0};
}

/* Closes an entity's files (paying deferred propagation); keeps its slots. */
static void entity_close_files(struct writer *self, struct entity *e)
{
	for (size_t k = 0; k < ENTITY_SLOTS; k++)
		fcache_close(self->cache, &e->slots[k].node);
	for (size_t i = 0; i < e->disks.n; i++)
		for (size_t k = 0; k < METRIC_DEVICE_MAX_N; k++)
			fcache_close(self->cache, &e->disks.v[i]->slots[k].node);
	for (size_t i = 0; i < e->nics.n; i++)
		for (size_t k = 0; k < METRIC_DEVICE_MAX_N; k++)
			fcache_close(self->cache, &e->nics.v[i]->slots[k].node);
}

/* Forgets an entity's files and waiting points (its files are being
 * deleted, or the process ends after entity_flush). */
static void entity_free(struct writer *self, struct entity *e)
{
	for (size_t k = 0; k < ENTITY_SLOTS; k++)
		slot_free(self, &e->slots[k]);
	devices_free(self, &e->disks);
	devices_free(self, &e->nics);
}

/* Removes a domain from memory, closing its files. */
static void dom_forget(struct writer *self, const uint8_t uuid[16])
{
	struct dom **pp = &self->buckets[uuid_hash(uuid) & (self->nbuckets - 1)];

	while (*pp && memcmp((*pp)->uuid, uuid, 16) != 0)
		pp = &(*pp)->hnext;
	if (*pp) {
		struct dom *d = *pp;

		*pp = d->hnext;
		if (d->host)
			d->host->ndomains--;
		entity_free(self, &d->e);
		free(d);
		self->ndoms--;
	}
}

static struct host *host_find(const struct writer *self, const char *name)
{
	for (struct host *h = self->hosts; h; h = h->next)
		if (strcmp(h->name, name) == 0)
			return h;
	return NULL;
}

/* The host named so, added if new (no limit checked: host_admit does). */
static struct host *host_get(struct writer *self, const char *name)
{
	struct host *h = host_find(self, name);

	if (h)
		return h;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->e.host = h->name;
	h->e.defs = metric_host;
	h->e.ndefs = METRIC_HOST_N;
	h->e.phase = 0.5;
	for (size_t k = 0; k < ENTITY_SLOTS; k++)
		h->e.slots[k].idx = (uint8_t)k;
	/* ".hidden", "..": never a directory, so no host files; the host is
	 * still counted, so its domains meet the same limits. */
	if (layout_host_dir(name, h->e.dir, sizeof(h->e.dir)) < 0)
		h->e.dir[0] = '\0';
	h->tokens = (double)self->cfg.limits.max_new_domains_per_min;
	h->next = self->hosts;
	self->hosts = h;
	self->nhosts++;
	return h;
}

/* The host an entity's files are made for: itself, or its domain's host. */
static struct host *entity_host(const struct writer *self, struct entity *e)
{
	if (e->host)
		return host_find(self, e->host);
	return ((struct dom *)((char *)e - offsetof(struct dom, e)))->host;
}

/* Counts domain d on host h (moving it from its previous host). */
static void dom_attach(struct dom *d, struct host *h)
{
	if (d->host == h)
		return;
	if (d->host)
		d->host->ndomains--;
	d->host = h;
	if (h)
		h->ndomains++;
}

/* The device named `raw` of list `l`, added if new (NULL past DEVICES_MAX). */
static struct device *device_get(struct device_list *l, const char *raw, bool nic)
{
	struct device *dev;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i]->raw, raw) == 0)
			return l->v[i];
	if (l->n >= DEVICES_MAX)
		return NULL;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		struct device **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	snprintf(dev->raw, sizeof(dev->raw), "%s", raw);
	layout_device_name(raw, sizeof(dev->raw), dev->name);
	dev->nic = nic;
	for (size_t k = 0; k < METRIC_DEVICE_MAX_N; k++) {
		dev->slots[k].idx = (uint8_t)k;
		dev->slots[k].dev = dev;
	}
	l->v[l->n++] = dev;
	return dev;
}

/* ---- what a frame may make: limits ------------------------------------ */

/* used + add <= max, without overflow; max 0 means no limit. */
static bool fits(uint64_t used, uint64_t add, uint64_t max)
{
	return max == 0 || (used <= max && add <= max - used);
}

/* Room in the data directory's budget for `files` new files. */
static bool budget_has_room(const struct writer *self, uint64_t files)
{
	const struct writer_limits *l = &self->cfg.limits;
	uint64_t bytes = self->file_bytes && files > UINT64_MAX / self->file_bytes
			     ? UINT64_MAX
			     : files * self->file_bytes;

	return fits(self->c.data_files, files, l->max_data_files) &&
	       fits(self->c.data_bytes, bytes, l->max_data_bytes);
}

/* Names the host over a limit: once, then rate-limited per host (a
 * flood is one line, not one per frame). */
static void host_over(struct writer *self, struct host *h, const char *name, const char *why)
{
	sm_complain(h ? &h->limit_complaint : &self->hosts_complaint, SM_LOG_WARNING,
		    "host %s: %s: its new domains and files are refused and counted; its known"
		    " domains keep being written",
		    name, why);
}

/*
 * The host of a frame: known, or added if max_hosts allows. NULL with
 * *refused set past the limit (counted, logged); NULL alone when out of
 * memory (its known domains are still written, no new ones).
 */
static struct host *host_admit(struct writer *self, const char *name, bool *refused)
{
	struct host *h = host_find(self, name);
	uint64_t max = self->cfg.limits.max_hosts;

	*refused = false;
	if (h)
		return h;
	if (max && self->nhosts >= max) {
		*refused = true;
		self->c.hosts_refused++;
		sm_complain(&self->hosts_complaint, SM_LOG_WARNING,
			    "host %s is new and %zu hosts are known (max_hosts = %llu): its frames"
			    " are refused and counted",
			    name, self->nhosts, (unsigned long long)max);
		return NULL;
	}
	return host_get(self, name);
}

/* Refills host h's bucket of new domains (max_new_domains_per_min per
 * minute, never more than that in store) and takes one if it can. */
static bool take_token(struct writer *self, struct host *h, double now)
{
	double cap = (double)self->cfg.limits.max_new_domains_per_min;

	if (cap <= 0)
		return true;
	if (now > h->tokens_at) { /* a clock going back refills nothing */
		h->tokens += (now - h->tokens_at) * cap / 60.0;
		h->tokens_at = now;
	}
	if (h->tokens > cap)
		h->tokens = cap;
	if (h->tokens < 1.0)
		return false;
	h->tokens -= 1.0;
	return true;
}

/* May host h (named `name`) add a domain never seen? Counts and logs a
 * refusal. `now` is the receive time: a frame's own time is the sender's. */
static bool domain_admit(struct writer *self, struct host *h, const char *name, double now)
{
	const struct writer_limits *l = &self->cfg.limits;
	char why[160];

	if (!h)
		snprintf(why, sizeof(why), "out of memory");
	else if (l->max_domains_per_host && h->ndomains >= l->max_domains_per_host)
		snprintf(why, sizeof(why), "%zu domains known there (max_domains_per_host = %llu)",
			 h->ndomains, (unsigned long long)l->max_domains_per_host);
	else if (!budget_has_room(self, METRIC_DOMAIN_N))
		snprintf(
		    why, sizeof(why),
		    "the data directory's budget is spent (%llu files, %llu bytes;"
		    " max_data_files = %llu, max_data_bytes = %llu)",
		    (unsigned long long)self->c.data_files, (unsigned long long)self->c.data_bytes,
		    (unsigned long long)l->max_data_files, (unsigned long long)l->max_data_bytes);
	else if (!take_token(self, h, now))
		snprintf(why, sizeof(why), "more than max_new_domains_per_min = %llu new domains",
			 (unsigned long long)l->max_new_domains_per_min);
	else
		return true;
	self->c.domains_refused++;
	host_over(self, h, name, why);
	return false;
}

/*
 * May host h report known domain `dom` that is counted on another host (a
 * migration, or a claim)? Not into a host at max_domains_per_host: moves
 * would otherwise pile any number of domains, each admitted elsewhere,
 * onto one host. A legitimate host is far from the limit.
 */
static bool move_admit(struct writer *self, struct dom *dom, struct host *h, const char *name)
{
	uint64_t max = self->cfg.limits.max_domains_per_host;
	char why[200];

	if (!h || dom->host == h || !max || h->ndomains < max)
		return true;
	snprintf(why, sizeof(why),
		 "%zu domains known there (max_domains_per_host = %llu), domain %s not moved in",
		 h->ndomains, (unsigned long long)max, dom->uuid_text);
	self->c.domains_refused++;
	host_over(self, h, name, why);
	return false;
}

/*
 * May this report of known domain `dom` say `project`? A uuid's tenant is
 * fixed by Nova: a change is believed only after a "started" event for it
 * from the reporting host, or with allow_project_change. One exception: a
 * domain known without a project may gain one from the host it runs on
 * (its Nova metadata came late); that host's frames are its own to send,
 * and no tenant loses an instance. A refusal is counted and logged once
 * per domain.
 */
static bool project_allowed(struct writer *self, struct dom *dom, struct host *h, const char *host,
			    const char *project)
{
	bool started = h && dom->started_on == h;
	bool claimed = h && dom->host == h && dom->project[0] == '\0';

	if (h && dom->started_on == h)
		dom->started_on = NULL; /* one report after the event */
	if (strcmp(dom->project, project) == 0)
		return true;
	if (self->cfg.allow_project_change || started || claimed) {
		sm_log_notice("domain %s moved from project '%s' to '%s' (reported by %s; %s)",
			      dom->uuid_text, dom->project, project, host,
			      started	? "after its \"started\" event"
			      : claimed ? "its first project, from the host it runs on"
					: "allow_project_change");
		snprintf(dom->project, sizeof(dom->project), "%s", project);
		dom->project_logged = false;
		return true;
	}
	self->c.project_refused++;
	if (!dom->project_logged) {
		dom->project_logged = true;
		sm_log_warnx("host %s reported domain %s in project '%s' but it is in project '%s':"
			     " refused and counted (a change needs a \"started\" event from its"
			     " host, or allow_project_change = yes)",
			     host, dom->uuid_text, project, dom->project);
	}
	return false;
}

/* A report's project as the index stores it: "" for none. */
static const char *report_project(const struct sm_domain_stats *d)
{
	return d->has_identity ? d->identity.project_id : "";
}

/* ---- failures ---------------------------------------------------------- */

/* A full or read-only disk: logged once (then rate-limited), counted by the
 * caller. `then` says what happens to the data meanwhile. */
static void space_failed_then(struct writer *self, enum space_fail kind, const char *what,
			      const char *relpath, int code, const char *then)
{
	self->space_fail = kind;
	sm_complain(&self->space_complaint, SM_LOG_ERR, "data %s: cannot %s %s: %s; %s",
		    datadir_path(self->cfg.dir), what, relpath, whisper_strerror(code), then);
}

static void space_failed(struct writer *self, enum space_fail kind, const char *what,
			 const char *relpath, int code)
{
	space_failed_then(self, kind, what, relpath, code,
			  "points are dropped and counted until space returns");
}

/* Something worked again where space had failed. */
static void space_ok(struct writer *self, enum space_fail kind)
{
	if (self->space_fail == SPACE_OK || (kind == SPACE_WRITE && self->space_fail != kind))
		return;
	self->space_fail = SPACE_OK;
	sm_complaint_release(&self->space_complaint, "data %s: writing works again",
			     datadir_path(self->cfg.dir));
}

/* A symbolic link met on the way to an entity's file: whatever it points to
 * is never written, the entity gets no more writes in this run, and the
 * path is logged once (per entity: so one planted link is one line). */
static void refuse_link(struct writer *self, struct entity *e, const char *relpath, int code)
{
	if (e->refused)
		return;
	e->refused = true;
	self->c.symlinks_refused++;
	sm_log_err("data %s: %s: %s on the way (%s): refused, nothing outside the data directory"
		   " is touched; %s %s gets no more writes until restart",
		   datadir_path(self->cfg.dir), relpath,
		   code == -EXDEV ? "a path leaving the directory" : "a symbolic link",
		   whisper_strerror(code), e->uuid ? "domain" : "host",
		   e->uuid ? e->uuid : e->host);
}

/* ---- opening a metric's file (slow path) ------------------------------- */

/* A slot's metric name and consolidation method, from its place. */
static int slot_metric(const struct entity *e, const struct slot *s, char *buf, size_t len,
		       enum whisper_aggregation *agg)
{
	const struct metric_def *def;

	if (!s->dev) {
		if (s->idx >= e->ndefs)
			return -1;
		def = &e->defs[s->idx];
		*agg = def->aggregation;
		return snprintf(buf, len, "%s", def->name) < (int)len ? 0 : -1;
	}
	if (s->idx >= (s->dev->nic ? METRIC_NIC_N : METRIC_DISK_N))
		return -1;
	def = s->dev->nic ? &metric_nic[s->idx] : &metric_disk[s->idx];
	*agg = def->aggregation;
	return layout_device_metric(s->dev->nic ? METRIC_NIC_PREFIX : METRIC_DISK_PREFIX,
				    s->dev->name, def->name, buf, len) < 0
		   ? -1
		   : 0;
}

/* Makes the entity's directory once per run, and clears what a crash cut
 * short in it. */
static int entity_dir_ready(struct writer *self, struct entity *e)
{
	int rc;

	if (e->dir_ready)
		return 0;
	rc = datadir_mkdirs(self->cfg.dir, e->dir);
	if (beneath_refused(rc))
		refuse_link(self, e, e->dir, rc);
	if (rc < 0)
		return rc;
	datadir_sweep_tmp(self->cfg.dir, e->dir);
	e->dir_ready = true;
	return 0;
}

/* Creates the file (never replacing one) and opens it. */
static struct whisper *create_open(struct writer *self, struct entity *e, const char *relpath,
				   enum whisper_aggregation agg, int *code)
{
	unsigned flags = WHISPER_CREATE_NOSYNC;
	struct whisper_err err = {0};
	struct whisper *w;
	int rc;

	/* Not fsynced: a crash (kill -9) keeps the page cache, and a file cut
	 * by a power loss is found invalid at open and replaced. An fsync per
	 * file would make the first frame of 10,000 domains take minutes. */
	if (!self->cfg.preallocate)
		flags |= WHISPER_CREATE_SPARSE;
	if (self->no_create) {
		*code = -ENOSPC;
		return NULL;
	}
	if (!budget_has_room(self, 1)) {
		struct host *h = entity_host(self, e);

		*code = WRITER_EBUDGET;
		self->c.files_refused++;
		host_over(self, h, h ? h->name : "(unknown)",
			  "the data directory's budget is spent (max_data_files, max_data_bytes)");
		return NULL;
	}
	rc = entity_dir_ready(self, e);
	if (rc == 0)
		rc = whisper_createat(datadir_fd(self->cfg.dir), relpath, self->cfg.archives,
				      self->cfg.narchives, agg, self->cfg.xff, flags, &err);
	if (rc < 0 && rc != -EEXIST) {
		*code = rc;
		if (beneath_refused(rc)) {
			refuse_link(self, e, relpath, rc);
		} else if (datadir_is_space_error(rc)) {
			self->no_create = true;
			space_failed(self, SPACE_CREATE, "create", relpath, rc);
		} else {
			sm_complain(&self->io_complaint, SM_LOG_ERR,
				    "data %s: cannot create %s: %s", datadir_path(self->cfg.dir),
				    relpath, err.code ? err.msg : whisper_strerror(rc));
		}
		return NULL;
	}
	if (rc == 0) {
		self->c.files_created++;
		self->c.data_files++;
		self->c.data_bytes += self->file_bytes;
		space_ok(self, SPACE_CREATE);
	}
	w = whisper_openat(datadir_fd(self->cfg.dir), relpath, WHISPER_OPEN_DEFER, &err);
	if (!w) {
		*code = err.code;
		if (beneath_refused(err.code))
			refuse_link(self, e, relpath, err.code);
		else
			sm_complain(&self->io_complaint, SM_LOG_ERR, "data %s: cannot open %s: %s",
				    datadir_path(self->cfg.dir), relpath, err.msg);
	}
	return w;
}

/*
 * The open handle of a slot: from the cache, or opened now (created if
 * missing; moved aside and replaced if corrupt), registered in the index
 * inside the frame's transaction and cached if the cache has room (else the
 * caller closes it after use: s->node.w != the result). NULL with *code set
 * on failure.
 */
static struct whisper *slot_open(struct writer *self, struct entity *e, struct slot *s, double time,
				 int *code)
{
	char relpath[LAYOUT_PATH_MAX];
	char metric[LAYOUT_METRIC_MAX + 1];
	struct whisper_err err = {0};
	enum whisper_aggregation agg;
	struct whisper *w;

	if (s->node.w) {
		fcache_touch(self->cache, &s->node);
		return s->node.w;
	}
	if (e->refused) {
		*code = -ELOOP;
		return NULL;
	}
	if (slot_metric(e, s, metric, sizeof(metric), &agg) < 0 ||
	    layout_metric_path(e->dir, metric, relpath, sizeof(relpath)) < 0) {
		*code = -ENAMETOOLONG;
		return NULL;
	}
	w = whisper_openat(datadir_fd(self->cfg.dir), relpath, WHISPER_OPEN_DEFER, &err);
	if (!w && err.code == -ENOENT) {
		w = create_open(self, e, relpath, agg, code);
	} else if (!w && whisper_err_is_corrupt(err.code)) {
		/* Never overwritten in place: an operator may want it back. */
		int rc = datadir_quarantine(self->cfg.dir, relpath, err.msg, NULL, 0);

		if (rc == 0) {
			self->c.files_quarantined++;
			w = create_open(self, e, relpath, agg, code);
		} else {
			*code = err.code;
			if (beneath_refused(rc))
				refuse_link(self, e, LAYOUT_QUARANTINE_DIR, rc);
		}
	} else if (!w) {
		*code = err.code;
		if (beneath_refused(err.code)) {
			refuse_link(self, e, relpath, err.code);
		} else if (datadir_is_space_error(err.code)) {
			s->space_hit = true;
			space_failed(self, SPACE_WRITE, "open", relpath, err.code);
		} else {
			sm_complain(&self->io_complaint, SM_LOG_ERR, "data %s: cannot open %s: %s",
				    datadir_path(self->cfg.dir), relpath, err.msg);
		}
	}
	if (!w)
		return NULL;
	if (!e->dir_ready) {
		e->dir_ready = true;
		datadir_sweep_tmp(self->cfg.dir, e->dir);
	}
	if (!s->registered && !s->pending && self->index_ok &&
	    index_register_metric(self->cfg.index, e->uuid, e->host, metric, relpath, time) >= 0) {
		if (self->npending == self->cap_pending) {
			size_t cap = self->cap_pending ? self->cap_pending * 2 : 256;
			struct slot **v = realloc(self->pending, cap * sizeof(*v));

			if (v) {
				self->pending = v;
				self->cap_pending = cap;
			}
		}
		if (self->npending < self->cap_pending) {
			self->pending[self->npending++] = s;
			s->pending = true;
		}
	}
	/* A full cache keeps the files it has: every file is written once per
	 * flush interval, in turn, so evicting the least recent one would only
	 * evict the file needed next (LRU's worst case). The caller closes a
	 * handle that is not cached. */
	if (fcache_count(self->cache) < fcache_max(self->cache))
		fcache_add(self->cache, &s->node, w);
	else
		self->c.transient_opens++;
	return w;
}

/* ---- writing points ---------------------------------------------------- */

/* When the points of a frame are. */
struct point_time {
	double time; /* frame time (index) */
	int64_t ts;  /* point timestamp, whole seconds */
	int64_t now; /* for the archive choice: max(clock, ts) */
};

/* Counts n points lost for `code` (from an open or a write). */
static void count_lost(struct writer *self, int code, uint64_t n)
{
	if (code == WRITER_EBUDGET)
		self->c.dropped_limit += n;
	else if (code == WHISPER_ENOTCOVERED || code == -ERANGE)
		self->c.dropped_old += n;
	else if (datadir_is_space_error(code))
		self->c.dropped_space += n;
	else
		self->c.dropped_error += n;
}

/* Writes n points to the slot's open file: whisper_update for one,
 * whisper_update_many for several (one contiguous write per run). */
static void file_write(struct writer *self, struct slot *s, struct whisper *w,
		       const struct whisper_point *pts, size_t n, int64_t now)
{
	int rc = n == 1 ? whisper_update(w, pts[0].ts, pts[0].value, now)
			: whisper_update_many(w, pts, n, now);

	if (rc == 0) {
		int owed = whisper_owed_error(w);

		self->c.points += n;
		/* The points are on disk, but a full disk refused the coarse
		 * archives' share (a sparse file's page not yet allocated):
		 * whisper keeps it owed and retries it on every write. */
		if (owed != 0) {
			self->c.coarse_owed += n;
			s->space_hit = datadir_is_space_error(owed);
			if (s->space_hit)
				space_failed_then(
				    self, SPACE_WRITE, "update the coarse archives of",
				    whisper_path(w), owed,
				    "points are written, coarse ones caught up when space"
				    " returns");
			else
				sm_complain(&self->io_complaint, SM_LOG_ERR,
					    "data %s: cannot update the coarse archives of %s: %s",
					    datadir_path(self->cfg.dir), whisper_path(w),
					    whisper_strerror(owed));
			return;
		}
		/* Only a file that failed proves it: while some files still
		 * fail, others (their pages allocated) succeed. */
		if (s->space_hit && self->space_fail == SPACE_WRITE)
			space_ok(self, SPACE_WRITE);
		s->space_hit = false;
		return;
	}
	count_lost(self, rc, n);
	if (rc == WHISPER_ENOTCOVERED || rc == -ERANGE)
		return;
	if (datadir_is_space_error(rc)) {
		s->space_hit = true;
		space_failed(self, SPACE_WRITE, "write to", whisper_path(w), rc);
		return;
	}
	sm_complain(&self->io_complaint, SM_LOG_ERR, "data %s: cannot write to %s: %s",
		    datadir_path(self->cfg.dir), whisper_path(w), whisper_strerror(rc));
	/* Reopened (and checked) at its next point. */
	if (s->node.w == w)
		fcache_close(self->cache, &s->node);
}

/* Opens a slot's file if needed and writes its waiting points. */
static void slot_flush(struct writer *self, struct entity *e, struct slot *s,
		       const struct point_time *t)
{
	struct whisper *w;
	int code = 0;

	if (s->nbuf == 0)
		return;
	w = slot_open(self, e, s, t->time, &code);
	if (!w) {
		count_lost(self, code, s->nbuf);
	} else {
		file_write(self, s, w, s->buf, s->nbuf, t->now);
		if (s->node.w != w)
			whisper_close(&w); /* not cached: pays its propagation now */
	}
	s->nbuf = 0;
}

/* Writes every waiting point of an entity. */
static void entity_flush(struct writer *self, struct entity *e, const struct point_time *t)
{
	for (size_t k = 0; k < ENTITY_SLOTS; k++)
		slot_flush(self, e, &e->slots[k], t);
	for (size_t i = 0; i < e->disks.n; i++)
		for (size_t k = 0; k < METRIC_DEVICE_MAX_N; k++)
			slot_flush(self, e, &e->disks.v[i]->slots[k], t);
	for (size_t i = 0; i < e->nics.n; i++)
		for (size_t k = 0; k < METRIC_DEVICE_MAX_N; k++)
			slot_flush(self, e, &e->nics.v[i]->slots[k], t);
	e->waiting = false;
}

/* The first phase boundary of entity e after `time`: flushes of different
 * domains fall in different frames. */
static double flush_due(const struct writer *self, const struct entity *e, double time)
{
	double i = self->cfg.flush_interval;

	return (floor(time / i + e->phase) + 1 - e->phase) * i;
}

/* Queues a point of a closed file; false if it cannot wait. */
static bool slot_wait(struct slot *s, int64_t ts, double v)
{
	if (s->nbuf == s->capbuf) {
		unsigned cap = s->capbuf ? s->capbuf * 2u : 8u;
		struct whisper_point *b;

		if (cap > SLOT_BUF_MAX)
			return false;
		b = realloc(s->buf, cap * sizeof(*b));
		if (!b)
			return false;
		s->buf = b;
		s->capbuf = (uint16_t)cap;
	}
	s->buf[s->nbuf++] = (struct whisper_point){ts, v};
	return true;
}

/*
 * One point of one metric. It waits in its slot until its entity's flush
 * (every flush_interval seconds, on the entity's own phase) or until the
 * slot's buffer is full; then one whisper_update_many writes the run (one
 * contiguous pwrite, propagation paid once per coarse interval) through
 * the cached handle, or a handle opened then. With flush_interval 0 each
 * point is written at once.
 */
static void put_point(struct writer *self, struct entity *e, struct slot *s, double v,
		      const struct point_time *t)
{
	if (isnan(v)) {
		self->c.unknown++;
		return;
	}
	if (!slot_wait(s, t->ts, v)) {
		slot_flush(self, e, s, t); /* buffer full: these go now */
		if (!slot_wait(s, t->ts, v)) {
			self->c.dropped_error++;
			return;
		}
	}
	if (self->cfg.flush_interval <= 0) {
		slot_flush(self, e, s, t);
		return;
	}
	if (!e->waiting) {
		e->waiting = true;
		e->next_flush = flush_due(self, e, t->time);
	}
}

static void put_set(struct writer *self, struct entity *e, struct slot *slots, size_t n,
		    const double *v, const struct point_time *t)
{
	for (size_t i = 0; i < n; i++)
		put_point(self, e, &slots[i], v[i], t);
}

static void put_domain(struct writer *self, const struct point_time *t,
		       const struct sm_domain_stats *d, struct dom *dom)
{
	double v[METRIC_DEVICE_MAX_N > METRIC_DOMAIN_N ? METRIC_DEVICE_MAX_N : METRIC_DOMAIN_N];

	metric_domain_values(d, v);
	put_set(self, &dom->e, dom->e.slots, METRIC_DOMAIN_N, v, t);
	for (size_t i = 0; d->disks && i < d->ndisks; i++) {
		struct device *dev = device_get(&dom->e.disks, d->disks[i].name, false);

		if (!dev) {
			self->c.dropped_error += METRIC_DISK_N;
			continue;
		}
		metric_disk_values(&d->disks[i], v);
		put_set(self, &dom->e, dev->slots, METRIC_DISK_N, v, t);
	}
	for (size_t i = 0; d->nics && i < d->nnics; i++) {
		struct device *dev = device_get(&dom->e.nics, d->nics[i].name, true);

		if (!dev) {
			self->c.dropped_error += METRIC_NIC_N;
			continue;
		}
		metric_nic_values(&d->nics[i], v);
		put_set(self, &dom->e, dev->slots, METRIC_NIC_N, v, t);
	}
	if (dom->e.waiting && t->time >= dom->e.next_flush)
		entity_flush(self, &dom->e, t);
}

/* Points a report would have given: for the counters of reports not written. */
static uint64_t domain_points(const struct sm_domain_stats *d)
{
	return METRIC_DOMAIN_N + d->ndisks * METRIC_DISK_N + d->nnics * METRIC_NIC_N;
}

/* ---- frames ------------------------------------------------------------ */

/* Opens the frame's index transaction and accounts its sequence number;
 * the per-minute loss counts ride along when a save is due. */
static void frame_begin(struct writer *self, const struct sm_message *m, double now)
{
	struct index_frame_note note = {0};

	self->npending = 0;
	self->no_create = false;
	self->index_ok = index_begin(self->cfg.index) == 0;
	if (!self->index_ok)
		return; /* logged by the index; points are still written */
	if (index_note_frame(self->cfg.index, m->hdr.host, m->hdr.kind, m->hdr.epoch, m->hdr.seq,
			     m->hdr.time, &note) == 0) {
		self->c.duplicates += note.duplicate;
	}
	if (frame_loss_save_due(self->loss, now))
		frame_loss_save(self->loss, self->cfg.index, now);
}

/* Commits; files registered in a failed transaction are registered again
 * with a later frame. */
static bool frame_end(struct writer *self)
{
	bool ok = self->index_ok && index_commit(self->cfg.index) == 0;

	for (size_t i = 0; i < self->npending; i++) {
		self->pending[i]->pending = false;
		self->pending[i]->registered = ok;
	}
	self->npending = 0;
	if (!ok)
		self->c.index_failures++;
	self->index_ok = false;
	return ok;
}

static void frame_stats(struct writer *self, const struct sm_message *m, struct host *h, double now)
{
	const struct sm_aggregate_domain_stats *a = &m->u.stats;
	struct agg_index *idx = self->cfg.index;
	double hv[METRIC_HOST_N];
	struct point_time t = {
	    .time = m->hdr.time,
	    .ts = (int64_t)floor(m->hdr.time),
	};

	/* A monitor's clock a little ahead of ours must not push its points
	 * out as "future" (python-whisper's rule): now is at least the point. */
	t.now = (int64_t)floor(now) > t.ts ? (int64_t)floor(now) : t.ts;
	frame_begin(self, m, now);
	if (self->index_ok)
		index_put_host_latest(idx, m->hdr.host, &a->host, (uint32_t)a->ndomains,
				      m->hdr.time);
	if (h && h->e.dir[0]) {
		metric_host_values(&a->host, a->ndomains, hv);
		put_set(self, &h->e, h->e.slots, METRIC_HOST_N, hv, &t);
		if (h->e.waiting && t.time >= h->e.next_flush)
			entity_flush(self, &h->e, &t);
	} else {
		self->c.dropped_error += METRIC_HOST_N;
	}
	for (size_t i = 0; a->domains && i < a->ndomains; i++) {
		const struct sm_domain_stats *d = &a->domains[i];
		struct dom *dom = dom_find(self, d->uuid);
		int verdict = -1;

		/* Checked before the index sees it: a refused report leaves no
		 * row, no file and no memory behind. */
		if (!dom) {
			if (!domain_admit(self, h, m->hdr.host, now)) {
				self->c.dropped_limit += domain_points(d);
				continue;
			}
			dom = dom_get(self, d->uuid);
			if (!dom) {
				self->c.dropped_error += domain_points(d);
				continue;
			}
			snprintf(dom->project, sizeof(dom->project), "%s", report_project(d));
			dom_attach(dom, h);
		} else if (!move_admit(self, dom, h, m->hdr.host) ||
			   !project_allowed(self, dom, h, m->hdr.host, report_project(d))) {
			self->c.dropped_limit += domain_points(d);
			continue;
		}
		if (self->index_ok) {
			verdict = index_upsert_domain(idx, m->hdr.host, d, m->hdr.time);
			if (verdict == INDEX_IGNORED) {
				/* A late report, or the paused copy of a live migration:
				 * the running copy's points own these files. */
				self->c.ignored += domain_points(d);
				continue;
			}
			if (verdict >= 0)
				index_put_latest(idx, d, m->hdr.time);
			if (verdict >= 0 && h)
				dom_attach(dom, h); /* a move: now counted on its new host */
		}
		/* Stale: the monitor repeats the last known values. A gap is
		 * the truth; the latest row carries the stale flag. */
		if (d->flags & SM_DOM_STALE) {
			self->c.unknown += domain_points(d);
			continue;
		}
		put_domain(self, &t, d, dom);
	}
	frame_end(self);
	self->c.frames_stats++;
}

/* "now" for writes outside a stats frame: the wall clock. */
static struct point_time time_now(double now)
{
	struct point_time t = {.time = now, .ts = (int64_t)floor(now), .now = (int64_t)floor(now)};

	return t;
}

static void frame_event(struct writer *self, const struct sm_message *m, struct host *h, double now)
{
	const struct sm_domain_event *ev = &m->u.event;
	struct point_time t = time_now(now);
	struct dom *dom = dom_find(self, ev->uuid);
	char uuid[37];
	int stopped = 0;

	sm_uuid_format(ev->uuid, uuid);
	/* A (re)started instance may come back in another project: its
	 * host's next report says which (project_allowed). */
	if (ev->type == SM_EVENT_STARTED && dom && h)
		dom->started_on = h;
	frame_begin(self, m, now);
	if (self->index_ok && ev->type == SM_EVENT_STOPPED)
		stopped = index_domain_stopped(self->cfg.index, uuid, m->hdr.host, m->hdr.time,
					       self->cfg.grace_s);
	/* Its last points go to disk now, in this transaction (files it
	 * creates are registered with it). */
	if (stopped == 1 && dom && dom->e.waiting)
		entity_flush(self, &dom->e, &t);
	if (frame_end(self) && stopped == 1) {
		self->c.domains_stopped++;
		/* Its files are done with: give the descriptors back now. */
		if (dom)
			entity_close_files(self, &dom->e);
		if (self->cfg.grace_s <= 0)
			self->purge_now = true;
		sm_log_info("domain %s (%s) stopped on %s (%s): files kept %.0f s", uuid, ev->name,
			    m->hdr.host, ev->reason[0] ? ev->reason : "no reason",
			    self->cfg.grace_s);
	}
	self->c.frames_event++;
}

void writer_frame(struct writer *self, const struct sm_message *m, double now)
{
	struct sm_message clamped;
	struct host *h;
	bool refused;

	if (m->hdr.kind != SM_KIND_STATS && m->hdr.kind != SM_KIND_EVENT)
		return; /* not subscribed to */
	/* A time ahead of ours would stay ahead: later true reports would look
	 * late and be ignored. The receive time is what we know. (A shallow
	 * copy: the arrays stay the caller's.) */
	if (!(m->hdr.time <= now + self->cfg.future_tolerance_s)) {
		self->c.frames_future++;
		sm_complain(&self->future_complaint, SM_LOG_WARNING,
			    "frame from %s is timed %.0f s ahead of this host's clock (more than"
			    " future_tolerance = %.0f s): written at the time it was received"
			    " (is its clock wrong?)",
			    m->hdr.host, m->hdr.time - now, self->cfg.future_tolerance_s);
		clamped = *m;
		clamped.hdr.time = now;
		m = &clamped;
	}
	h = host_admit(self, m->hdr.host, &refused);
	if (refused) {
		if (m->hdr.kind == SM_KIND_STATS)
			self->c.dropped_limit += METRIC_HOST_N;
		return;
	}
	/* After admission: a refused host leaves no trace, not even a count. */
	frame_loss_note(self->loss, &m->hdr, now);
	switch (m->hdr.kind) {
	case SM_KIND_STATS:
		frame_stats(self, m, h, now);
		break;
	case SM_KIND_EVENT:
		frame_event(self, m, h, now);
		break;
	default:
		break; /* not subscribed to */
	}
	if (self->purge_now) {
		self->purge_now = false;
		writer_housekeeping(self, now);
	}
}

/* ---- lifecycle of stopped domains -------------------------------------- */

static int purge_one(void *arg, const char *uuid, double stopped_at)
{
	struct writer *self = arg;
	struct datadir_usage freed;
	char dir[LAYOUT_PATH_MAX];
	uint8_t bin[16];
	int rc;

	if (sm_uuid_parse(uuid, bin) < 0 || layout_domain_dir(bin, dir, sizeof(dir)) < 0)
		return 0;
	dom_forget(self, bin);
	rc = datadir_remove_dir(self->cfg.dir, dir, &freed);
	self->c.data_files -= freed.files < self->c.data_files ? freed.files : self->c.data_files;
	self->c.data_bytes -= freed.bytes < self->c.data_bytes ? freed.bytes : self->c.data_bytes;
	if (beneath_refused(rc)) {
		/* Not ours to delete, and retrying would change nothing: the
		 * rows go, whatever the link points to stays. */
		self->c.symlinks_refused++;
		sm_log_err("data %s: %s of stopped domain %s: %s on the way (%s): nothing deleted"
			   " there; its index rows are forgotten",
			   datadir_path(self->cfg.dir), dir, uuid,
			   rc == -EXDEV ? "a path leaving the directory" : "a symbolic link",
			   strerror(-rc));
		index_forget_domain(self->cfg.index, uuid);
		return 0;
	}
	if (rc < 0) {
		/* Kept in the index: retried at the next housekeeping. */
		sm_complain(&self->purge_complaint, SM_LOG_ERR,
			    "data %s: cannot delete %s of stopped domain %s: %s",
			    datadir_path(self->cfg.dir), dir, uuid, strerror(-rc));
		return 0;
	}
	if (index_forget_domain(self->cfg.index, uuid) < 0)
		return 0;
	self->c.domains_purged++;
	sm_log_info("domain %s purged: stopped %.0f s ago, its files and index rows deleted", uuid,
		    sm_clock_wall() - stopped_at);
	return 0;
}

/* Writes the waiting points of every entity (all), or of those whose flush
 * is overdue by a whole interval: their host has stopped sending frames. */
static void flush_waiting(struct writer *self, double now, bool all)
{
	struct point_time t = time_now(now);
	double late = now - self->cfg.flush_interval;
	bool begun = false;

	for (size_t i = 0; self->buckets && i < self->nbuckets; i++) {
		for (struct dom *d = self->buckets[i]; d; d = d->hnext) {
			if (!d->e.waiting || (!all && d->e.next_flush >= late))
				continue;
			if (!begun) {
				self->npending = 0;
				self->index_ok = index_begin(self->cfg.index) == 0;
				begun = true;
			}
			entity_flush(self, &d->e, &t);
		}
	}
	for (struct host *h = self->hosts; h; h = h->next) {
		if (!h->e.waiting || (!all && h->e.next_flush >= late))
			continue;
		if (!begun) {
			self->npending = 0;
			self->index_ok = index_begin(self->cfg.index) == 0;
			begun = true;
		}
		entity_flush(self, &h->e, &t);
	}
	if (begun)
		frame_end(self);
}

void writer_flush(struct writer *self, double now)
{
	flush_waiting(self, now, true);
}

int writer_housekeeping(struct writer *self, double now)
{
	uint64_t before = self->c.domains_purged;
	int n;

	flush_waiting(self, now, false);
	/* No frame came to carry the loss counts: a transaction of their own. */
	if (frame_loss_save_due(self->loss, now)) {
		bool own = index_begin(self->cfg.index) == 0;

		frame_loss_save(self->loss, self->cfg.index, now);
		if (own && index_commit(self->cfg.index) < 0)
			self->c.index_failures++;
	}
	if (now >= self->next_stale) {
		self->next_stale = now + STALE_SWEEP_S;
		n = index_stop_stale(self->cfg.index, now, self->cfg.stale_s, self->cfg.grace_s);
		if (n > 0)
			sm_log_info(
			    "%d domain(s) silent for %.0f s marked stopped; files kept %.0f s", n,
			    self->cfg.stale_s, self->cfg.grace_s);
	}
	index_next_purges(self->cfg.index, now, PURGES_PER_CALL, purge_one, self);
	return (int)(self->c.domains_purged - before);
}

/* ---- object ------------------------------------------------------------ */

static int preload_host(void *arg, const struct index_host *row)
{
	host_get(arg, row->name);
	return 0;
}

static int preload_domain(void *arg, const struct index_domain *row)
{
	struct writer *self = arg;
	uint8_t uuid[16];
	struct dom *d;

	if (sm_uuid_parse(row->uuid, uuid) < 0)
		return 0;
	d = dom_get(self, uuid);
	if (!d)
		return 0; /* out of memory: it is admitted again as new */
	snprintf(d->project, sizeof(d->project), "%s", row->project_id ? row->project_id : "");
	dom_attach(d, row->host ? host_get(self, row->host) : NULL);
	return 0;
}

/* What exists counts against the limits from the start: the hosts and
 * domains of the index (with their projects: a restart must not make a
 * forged change believable), the files on disk. */
static void preload(struct writer *self)
{
	struct datadir_usage u;

	index_list_hosts(self->cfg.index, preload_host, self);
	index_list_domains(self->cfg.index, NULL, INDEX_LIST_STOPPED, preload_domain, self);
	datadir_usage(self->cfg.dir, &u);
	self->c.data_files = u.files;
	self->c.data_bytes = u.bytes;
	if (self->nhosts || self->ndoms || u.files)
		sm_log_info("data %s: %zu hosts, %zu domains known; %llu files, %llu bytes",
			    datadir_path(self->cfg.dir), self->nhosts, self->ndoms,
			    (unsigned long long)u.files, (unsigned long long)u.bytes);
}

struct writer *writer_new(const struct writer_config *cfg)
{
	struct writer *self = calloc(1, sizeof(*self));

	if (!self)
		goto fail;
	self->cfg = *cfg;
	self->nbuckets = 1024;
	self->buckets = calloc(self->nbuckets, sizeof(*self->buckets));
	self->cache = fcache_new(cfg->max_open_files);
	self->loss = frame_loss_new((size_t)(cfg->limits.max_hosts < SM_WIRE_MAX_PUBLISHERS
						 ? cfg->limits.max_hosts
						 : SM_WIRE_MAX_PUBLISHERS));
	if (!self->buckets || !self->cache || !self->loss)
		goto fail;
	self->file_bytes = whisper_file_size(cfg->archives, cfg->narchives);
	preload(self);
	/* last_seen written once per touch interval: it must stay well under
	 * the silence that marks a domain stale. */
	index_set_touch_interval(cfg->index, cfg->stale_s / 3 < INDEX_TOUCH_DEFAULT
						 ? cfg->stale_s / 3
						 : INDEX_TOUCH_DEFAULT);
	return self;
fail:
	sm_log_err("aggregator: out of memory");
	writer_destroy(&self);
	return NULL;
}

void writer_destroy(struct writer **self_p)
{
	struct writer *self;

	if (!self_p || !*self_p)
		return;
	self = *self_p;
	if (self->cache)
		flush_waiting(self, sm_clock_wall(), true);
	if (self->loss) {
		bool own = index_begin(self->cfg.index) == 0;

		frame_loss_save(self->loss, self->cfg.index, sm_clock_wall());
		if (own)
			index_commit(self->cfg.index);
		frame_loss_destroy(&self->loss);
	}
	for (size_t i = 0; self->buckets && i < self->nbuckets; i++) {
		struct dom *d = self->buckets[i], *next;

		for (; d; d = next) {
			next = d->hnext;
			entity_free(self, &d->e);
			free(d);
		}
	}
	while (self->hosts) {
		struct host *h = self->hosts;

		self->hosts = h->next;
		entity_free(self, &h->e);
		free(h);
	}
	if (self->cache)
		fcache_destroy(&self->cache);
	free(self->buckets);
	free(self->pending);
	free(self);
	*self_p = NULL;
}

void writer_set_policy(struct writer *self, double grace_s, double stale_s, size_t max_open_files,
		       double flush_interval)
{
	self->cfg.flush_interval = flush_interval;
	self->cfg.grace_s = grace_s;
	self->cfg.stale_s = stale_s;
	self->cfg.max_open_files = max_open_files;
	fcache_set_max(self->cache, max_open_files);
	index_set_touch_interval(
	    self->cfg.index, stale_s / 3 < INDEX_TOUCH_DEFAULT ? stale_s / 3 : INDEX_TOUCH_DEFAULT);
}

void writer_set_limits(struct writer *self, const struct writer_limits *limits,
		       double future_tolerance_s, bool allow_project_change)
{
	self->cfg.limits = *limits;
	self->cfg.future_tolerance_s = future_tolerance_s;
	self->cfg.allow_project_change = allow_project_change;
}

void writer_counters(const struct writer *self, struct writer_counters *out)
{
	struct frame_loss_counters l;

	frame_loss_counters(self->loss, &l);
	*out = self->c;
	out->lost = l.lost;
	out->gaps = l.gaps;
	out->seq_leaps = l.leaps;
	out->files_open = fcache_count(self->cache);
	out->evictions = fcache_evictions(self->cache);
	out->domains = self->ndoms;
}
