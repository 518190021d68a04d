/*
 * whisper — Whisper 1.1 files: create, open/validate, update, update_many,
 * fetch, quarantine. Every rule here mirrors python-whisper 1.1.4
 * (/usr/lib/python3/dist-packages/whisper.py) so the bytes we write are the
 * bytes it would write. The handle caches the header, each archive's slot-0
 * timestamp and the finer points of the coarse interval being filled, so the
 * hot path is one pwrite per point plus the writes propagation must make.
 */
#define _GNU_SOURCE /* renameat2, mkostemp, asprintf */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "pyset.h"
#include "sm_log.h"
#include "whisper_impl.h"

/* One point of an update_many batch, with its position in the caller's array. */
struct batch_point {
	int64_t ts;
	double value;
	size_t idx; /* breaks ties: for equal timestamps python keeps the earliest */
};

/* A contiguous run of deduplicated points, packed in the scratch buffer. */
struct run {
	size_t first;  /* index of its first point in the packed buffer */
	size_t count;  /* points */
	int64_t start; /* interval of its first point, computed as python does */
};

/* A consolidated coarse point waiting to be written (batch propagation). */
struct result {
	uint32_t interval; /* coarse interval */
	uint32_t slot;	   /* its slot in the coarse archive */
	double value;	   /* aggregate */
};

/*
 * Working memory of update_many and fetch, shared by every handle of a
 * thread: sized by the largest batch seen, so thousands of open handles do
 * not each keep (and page-fault in) their own.
 */
struct scratch {
	struct batch_point *batch; /* sorted copy of the caller's points */
	struct run *runs;	   /* runs of one archive's group */
	uint32_t *ivs;		   /* interval of each point in its group's archive */
	uint32_t *keys;		   /* coarse intervals of a group, consecutive repeats dropped */
	uint32_t *order;	   /* distinct keys in CPython set order */
	struct result *results;	   /* consolidations to write */
	size_t cap;		   /* entries in each array above */
	uint8_t *buf;		   /* packed points to write, or points read by fetch */
	size_t buf_cap;		   /* bytes */
	uint8_t *pre;		   /* finer points prefetched for a batch propagation */
	size_t pre_cap;		   /* bytes */
};

/* A copy of a range of one archive's slots, byte for byte as on disk: the
 * finer points a propagation reads. Every write of ours that overlaps it
 * patches it, so it stays equal to the file while this handle is the only
 * writer, and a coarse interval's k finer points are read once, not on
 * every update that propagates into it. */
struct window {
	uint8_t *data;	/* room for k points (k = next.spp / spp) */
	uint32_t first; /* slot of data[0] */
	uint32_t len;	/* points held, <= k; 0 = nothing cached */
};

/* Points prefetched into scratch->pre for the duration of one batch
 * propagation level (longer than a window's k). */
struct view {
	bool valid;
	uint32_t archive; /* whose slots */
	uint32_t first;	  /* slot of pre[0] */
	uint32_t len;	  /* points */
};

struct whisper {
	int fd;				  /* open on the file */
	bool rdonly;			  /* WHISPER_OPEN_RDONLY */
	bool nocache;			  /* WHISPER_OPEN_NOCACHE: windows live one call */
	bool defer;			  /* WHISPER_OPEN_DEFER: propagation owed until flush */
	bool owed;			  /* propagation chains are owed (defer mode) */
	int64_t owed_first;		  /* ... for the finest-archive intervals from */
	int64_t owed_last;		  /* ... this one to this one (one chain per
					   * interval of archive 1), oldest paid first */
	int owed_err;			  /* the last failure paying them; 0 = none */
	char *path;			  /* as given to whisper_open */
	struct whisper_header hdr;	  /* validated header; hdr.archives -> archives */
	struct whisper_archive *archives; /* hdr.archive_count entries, finest first */
	uint32_t *base;			  /* per archive: slot-0 timestamp, when known */
	bool *known;			  /* per archive: base is known (0 = empty archive) */
	struct window *win;		  /* per archive but the last: cached finer points */
	struct view view;		  /* prefetched points, within one call */
	struct whisper_iostats io;	  /* syscall counters */
};

/* ---- small helpers ---- */

#define WHISPER_TIME_LIMIT (INT64_C(1) << 62) /* |time| accepted by fetch */

/* Python's // and % for a positive divisor: rounds toward -infinity, and the
 * remainder is never negative. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	int64_t r = a % b;

	return r < 0 ? r + b : r;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_point(uint8_t *p, uint32_t ts, double value)
{
	uint64_t bits;

	memcpy(&bits, &value, sizeof(bits)); /* bit copy: keeps -0.0 and NaN payloads */
	put_be32(p, ts);
	put_be32(p + 4, (uint32_t)(bits >> 32));
	put_be32(p + 8, (uint32_t)bits);
}

static double get_value(const uint8_t *p)
{
	uint64_t bits = (uint64_t)get_be32(p + 4) << 32 | get_be32(p + 8);
	double v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

static uint32_t archive_step(const struct whisper *self, size_t a)
{
	return self->archives[a].seconds_per_point;
}

static int64_t archive_retention(const struct whisper *self, size_t a)
{
	return (int64_t)self->archives[a].seconds_per_point * self->archives[a].points;
}

/* Grows an array to hold `need` elements of `size` bytes. */
static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	void *q;

	if (need <= *cap)
		return 0;
	if (need > SIZE_MAX / size)
		return -ENOMEM;
	q = realloc(*p, need * size);
	if (q == NULL)
		return -ENOMEM;
	*p = q;
	*cap = need;
	return 0;
}

/* ---- per-thread scratch ---- */

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_rc;

static void scratch_free(void *p)
{
	struct scratch *s = p;

	free(s->batch);
	free(s->runs);
	free(s->ivs);
	free(s->keys);
	free(s->order);
	free(s->results);
	free(s->buf);
	free(s->pre);
	free(s);
}

static void scratch_key_create(void)
{
	scratch_key_rc = pthread_key_create(&scratch_key, scratch_free);
}

/* This thread's scratch, with room for `n` batch entries and `points`
 * packed points in buf; NULL when out of memory. */
static struct scratch *scratch_get(size_t n, size_t points)
{
	struct scratch *s;

	pthread_once(&scratch_once, scratch_key_create);
	if (scratch_key_rc != 0)
		return NULL;
	s = pthread_getspecific(scratch_key);
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL || pthread_setspecific(scratch_key, s) != 0) {
			free(s);
			return NULL;
		}
	}
	if (n > s->cap) {
		/* all arrays share one capacity: grow each, then record it */
		size_t c1 = s->cap, c2 = s->cap, c3 = s->cap, c4 = s->cap, c5 = s->cap, c6 = s->cap;
		if (grow((void **)&s->batch, &c1, n, sizeof(*s->batch)) < 0 ||
		    grow((void **)&s->ivs, &c6, n, sizeof(*s->ivs)) < 0 ||
		    grow((void **)&s->runs, &c2, n, sizeof(*s->runs)) < 0 ||
		    grow((void **)&s->keys, &c3, n, sizeof(*s->keys)) < 0 ||
		    grow((void **)&s->order, &c4, n, sizeof(*s->order)) < 0 ||
		    grow((void **)&s->results, &c5, n, sizeof(*s->results)) < 0)
			return NULL;
		s->cap = n;
	}
	if (points > SIZE_MAX / WHISPER_POINT_SIZE ||
	    grow((void **)&s->buf, &s->buf_cap, points * WHISPER_POINT_SIZE, 1) < 0)
		return NULL;
	return s;
}

/* ---- I/O: full reads and writes, counted ---- */

/* Reads exactly len bytes at off. End of file first means the file shrank
 * under us (or its header lies): WHISPER_ESIZE. */
static int io_pread(struct whisper *self, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pread(self->fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));

		self->io.preads++;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return WHISPER_ESIZE;
		done += (size_t)r;
		self->io.bytes_read += (uint64_t)r;
	}
	return 0;
}

static void window_drop_all(struct whisper *self)
{
	for (uint32_t a = 0; a + 1 < self->hdr.archive_count; a++)
		self->win[a].len = 0;
	self->view.valid = false;
}

/* Copies the part of a write of whole points (len bytes at file offset off,
 * inside one archive, not wrapping) that falls in that archive's window. */
static void window_patch(struct whisper *self, uint64_t off, const void *buf, size_t len)
{
	for (uint32_t a = 0; a + 1 < self->hdr.archive_count; a++) {
		const struct whisper_archive *ar = &self->archives[a];
		struct window *w = &self->win[a];
		uint64_t end = (uint64_t)ar->offset + (uint64_t)ar->points * WHISPER_POINT_SIZE;

		if (off < ar->offset || off >= end)
			continue;
		if (self->view.valid && self->view.archive == a)
			self->view.valid = false; /* never happens today; stay safe */
		if (w->len == 0)
			return;
		uint64_t s = (off - ar->offset) / WHISPER_POINT_SIZE;
		uint64_t c = len / WHISPER_POINT_SIZE;
		/* the window as up to two straight slot ranges: [first, first+n1)
		 * at data index 0 and [0, len-n1) at data index n1 */
		uint64_t n1 = w->len < ar->points - w->first ? w->len : ar->points - w->first;
		uint64_t seg[2][3] = {{w->first, w->first + n1, 0}, {0, w->len - n1, n1}};

		for (int g = 0; g < 2; g++) {
			uint64_t lo = s > seg[g][0] ? s : seg[g][0];
			uint64_t hi = s + c < seg[g][1] ? s + c : seg[g][1];

			if (lo < hi)
				memcpy(w->data + (seg[g][2] + lo - seg[g][0]) * WHISPER_POINT_SIZE,
				       (const uint8_t *)buf + (lo - s) * WHISPER_POINT_SIZE,
				       (hi - lo) * WHISPER_POINT_SIZE);
		}
		return;
	}
}

/* Writes exactly len bytes of whole points at off (a point boundary). If the
 * write stops part-way through a point (a short write before ENOSPC, EFBIG or
 * EIO), that point would carry a new timestamp over part of an old value: we
 * zero its timestamp so readers see "no data" there, never a wrong value. */
static int io_pwrite(struct whisper *self, const void *buf, size_t len, uint64_t off)
{
	static const uint8_t zero_ts[4];
	size_t done = 0;
	int rc = 0;

	while (done < len) {
		ssize_t w =
		    pwrite(self->fd, (const uint8_t *)buf + done, len - done, (off_t)(off + done));

		self->io.pwrites++;
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (w == 0) {
			rc = -EIO;
			break;
		}
		done += (size_t)w;
		self->io.bytes_written += (uint64_t)w;
	}
	if (rc == 0) {
		window_patch(self, off, buf, len);
		return 0;
	}
	window_drop_all(self); /* what is on disk is uncertain now */
	if (done % WHISPER_POINT_SIZE != 0) {
		uint64_t torn = off + done - done % WHISPER_POINT_SIZE;

		/* Best effort: the bytes before the failure point are allocated, so
		 * this usually succeeds; after it, a hole reads as zero anyway. */
		self->io.pwrites++;
		if (pwrite(self->fd, zero_ts, sizeof(zero_ts), (off_t)torn) < 0)
			sm_log_warn(
			    "whisper: %s: cannot invalidate the point cut at offset %" PRIu64,
			    self->path, torn);
	}
	return rc;
}

/* ---- slots ---- */

/* Caches what slot 0 of archive a holds, as far as that stays true for any
 * Whisper writer: a non-zero aligned timestamp only ever changes by whole
 * laps, which map every interval to the same slot. "Empty" is not cached:
 * another writer could fill the archive, and a point we then put in slot 0
 * would be misplaced for good. */
static void set_base(struct whisper *self, size_t a, uint32_t ts)
{
	self->base[a] = ts;
	self->known[a] = ts != 0 && ts % archive_step(self, a) == 0;
}

/* The slot-0 timestamp of archive a (python's "base"): 0 when the archive
 * was never written. */
static int get_base(struct whisper *self, size_t a, uint32_t *base)
{
	uint8_t b[4];
	int rc;

	if (self->known[a]) {
		*base = self->base[a];
		return 0;
	}
	rc = io_pread(self, b, sizeof(b), self->archives[a].offset);
	if (rc < 0)
		return rc;
	*base = get_be32(b);
	set_base(self, a, *base);
	return 0;
}

/* Records that slot 0 of archive a now holds timestamp ts. Normally ts is
 * base plus whole laps and nothing changes; but python's update_many can
 * place a point off its slot (a run glued after interval 0), and an
 * interval 0 in slot 0 reads as "empty": mirror the disk exactly. */
static void note_slot0(struct whisper *self, size_t a, uint32_t ts)
{
	set_base(self, a, ts);
}

/* Slot of `interval` in an archive whose slot 0 holds `base` (non-zero). */
static size_t slot_of(const struct whisper_archive *ar, uint32_t base, int64_t interval)
{
	int64_t d = floor_div(interval - (int64_t)base, ar->seconds_per_point);

	return (size_t)floor_mod(d, ar->points);
}

static uint64_t slot_offset(const struct whisper_archive *ar, size_t slot)
{
	return (uint64_t)ar->offset + (uint64_t)slot * WHISPER_POINT_SIZE;
}

/* Writes `count` packed points at `slot` of archive a, wrapping at the
 * archive's end (two pwrites then). */
static int write_slots(struct whisper *self, size_t a, const uint8_t *p, size_t count, size_t slot)
{
	const struct whisper_archive *ar = &self->archives[a];
	size_t n1 = count < ar->points - slot ? count : ar->points - slot;
	int rc;

	rc = io_pwrite(self, p, n1 * WHISPER_POINT_SIZE, slot_offset(ar, slot));
	if (rc == 0 && slot == 0)
		note_slot0(self, a, get_be32(p));
	if (rc == 0 && count > n1) {
		rc = io_pwrite(self, p + n1 * WHISPER_POINT_SIZE, (count - n1) * WHISPER_POINT_SIZE,
			       ar->offset);
		if (rc == 0)
			note_slot0(self, a, get_be32(p + n1 * WHISPER_POINT_SIZE));
	}
	return rc;
}

/* Writes one point at its slot: slot 0 when the archive is empty (python's
 * "first update"), which then becomes the archive's base. */
static int write_point(struct whisper *self, size_t a, int64_t interval, double value)
{
	uint8_t p[WHISPER_POINT_SIZE];
	uint32_t base;
	int rc;

	rc = get_base(self, a, &base);
	if (rc < 0)
		return rc;
	put_point(p, (uint32_t)interval, value);
	return write_slots(self, a, p, 1,
			   base == 0 ? 0 : slot_of(&self->archives[a], base, interval));
}

/* Reads `count` points of archive a starting at `slot`, wrapping at the end,
 * into dst: one pread, two when the range wraps. */
static int read_slots(struct whisper *self, size_t a, size_t slot, size_t count, uint8_t *dst)
{
	const struct whisper_archive *ar = &self->archives[a];
	size_t n1 = count < ar->points - slot ? count : ar->points - slot;
	int rc;

	rc = io_pread(self, dst, n1 * WHISPER_POINT_SIZE, slot_offset(ar, slot));
	if (rc == 0 && count > n1)
		rc = io_pread(self, dst + n1 * WHISPER_POINT_SIZE,
			      (count - n1) * WHISPER_POINT_SIZE, ar->offset);
	return rc;
}

/* ---- consolidation ---- */

/* The k points of archive a from `first` (k = the next archive's ratio):
 * from the prefetched view, else the window, else read into the window. */
static int finer_points(struct whisper *self, size_t a, size_t first, size_t k, const uint8_t **pts)
{
	uint32_t n = self->archives[a].points;
	struct window *w = &self->win[a];
	size_t idx;
	int rc;

	if (self->view.valid && self->view.archive == a) {
		struct scratch *s = pthread_getspecific(scratch_key);

		idx = (first + n - self->view.first) % n;
		if (idx + k <= self->view.len) {
			*pts = s->pre + idx * WHISPER_POINT_SIZE;
			return 0;
		}
	}
	idx = (first + n - w->first) % n;
	if (w->len == 0 || idx + k > w->len) {
		w->len = 0;
		rc = read_slots(self, a, first, k, w->data);
		if (rc < 0)
			return rc;
		w->first = (uint32_t)first;
		w->len = (uint32_t)k;
		idx = 0;
	}
	*pts = w->data + idx * WHISPER_POINT_SIZE;
	return 0;
}

/*
 * python's __propagate, without the write: consolidates the k points of
 * archive hi that make up interval `start` of archive hi+1. Returns 1 with
 * *value when the fraction present is >= xff, 0 when not (or none is
 * present), or an error.
 */
static int consolidate(struct whisper *self, size_t hi, int64_t start, double *value)
{
	uint32_t step = archive_step(self, hi);
	uint32_t k = archive_step(self, hi + 1) / step;
	uint32_t hbase, known = 0;
	double acc = 0.0, pick = 0.0;
	const uint8_t *pts = NULL;
	int rc;

	rc = get_base(self, hi, &hbase);
	if (rc == 0)
		rc = finer_points(
		    self, hi, hbase == 0 ? 0 : slot_of(&self->archives[hi], hbase, start), k, &pts);
	if (rc < 0)
		return rc;

	/* One pass in time order. Sums are plain left-to-right additions from
	 * 0.0, like CPython 3.11's sum(); max/min keep the first of equals and
	 * never replace with NaN, like max()/min() (which only replace on >/<). */
	for (uint32_t j = 0; j < k; j++) {
		const uint8_t *p = pts + (size_t)j * WHISPER_POINT_SIZE;
		double v;

		if ((int64_t)get_be32(p) != start + (int64_t)j * step)
			continue;
		v = get_value(p);
		if (known == 0)
			pick = v;
		switch (self->hdr.aggregation) {
		case WHISPER_AGG_AVERAGE:
		case WHISPER_AGG_SUM:
		case WHISPER_AGG_AVG_ZERO: /* missing points add 0.0, which changes nothing */
			acc += v;
			break;
		case WHISPER_AGG_LAST:
			pick = v;
			break;
		case WHISPER_AGG_MAX:
			if (v > pick)
				pick = v;
			break;
		case WHISPER_AGG_MIN:
			if (v < pick)
				pick = v;
			break;
		case WHISPER_AGG_ABSMAX:
			if (fabs(v) > fabs(pick))
				pick = v;
			break;
		case WHISPER_AGG_ABSMIN:
			if (fabs(v) < fabs(pick))
				pick = v;
			break;
		}
		known++;
	}
	if (known == 0)
		return 0;
	/* xff is the stored float32 widened to double, as python compares it:
	 * 0.1f is 0.100000001490116..., so 6 of 60 does not reach it. */
	if (!((double)known / (double)k >= (double)self->hdr.xff))
		return 0;
	switch (self->hdr.aggregation) {
	case WHISPER_AGG_AVERAGE:
		*value = acc / (double)known;
		break;
	case WHISPER_AGG_SUM:
		*value = acc;
		break;
	case WHISPER_AGG_AVG_ZERO:
		*value = acc / (double)k;
		break;
	default:
		*value = pick;
		break;
	}
	return 1;
}

/* python's __propagate(ts, archive lo-1, archive lo): 1 if it wrote. */
static int propagate(struct whisper *self, int64_t ts, size_t lo)
{
	int64_t start = ts - floor_mod(ts, archive_step(self, lo));
	double v;
	int rc;

	rc = consolidate(self, lo - 1, start, &v);
	if (rc <= 0)
		return rc;
	rc = write_point(self, lo, start, v);
	return rc < 0 ? rc : 1;
}

/* python's propagation after update(): from archive a down, stopping at the
 * first archive whose propagation does not write. */
static int propagate_chain(struct whisper *self, int64_t interval, size_t a)
{
	for (size_t lo = a + 1; lo < self->hdr.archive_count; lo++) {
		int rc = propagate(self, interval, lo);
		if (rc <= 0)
			return rc;
	}
	return 0;
}

/* The start of the archive-1 interval holding finest-archive interval t. */
static int64_t align1(const struct whisper *self, int64_t t)
{
	return t - floor_mod(t, archive_step(self, 1));
}

/* Pays the propagation owed in WHISPER_OPEN_DEFER mode: python's chain for
 * each interval of archive 1 from owed_first's to owed_last's, oldest first
 * (normally one). Idempotent: it recomputes from the file, so after a
 * failure (kept in owed_err) a later call retries from the interval that
 * failed. */
static int pay_owed(struct whisper *self)
{
	uint32_t step1;
	int rc = 0;

	if (!self->owed)
		return 0;
	step1 = archive_step(self, 1);
	for (int64_t iv = align1(self, self->owed_first); rc == 0; iv += step1) {
		bool last = iv >= align1(self, self->owed_last);

		rc = propagate_chain(self, last ? self->owed_last : iv, 0);
		if (rc < 0)
			self->owed_first = iv;
		else if (last)
			break;
	}
	self->owed_err = rc;
	if (rc == 0)
		self->owed = false;
	return rc;
}

/* Adds the chains of finest-archive intervals [first, last] to the debt. A
 * chain reads its archive-1 interval's finest points, so the debt must never
 * span more than archive 0 holds: the points about to be written would
 * overwrite what its oldest chains read. Those (owed for a whole lap of
 * archive 0, by a disk full that long) are given up. */
static void owe(struct whisper *self, int64_t first, int64_t last)
{
	uint32_t step1 = archive_step(self, 1);
	int64_t lap = archive_retention(self, 0), oldest;

	if (!self->owed) {
		self->owed = true;
		self->owed_first = first;
		self->owed_last = last;
		return;
	}
	if (first < self->owed_first)
		self->owed_first = first;
	if (last > self->owed_last)
		self->owed_last = last;
	oldest = align1(self, self->owed_last) + step1 - lap;
	if (align1(self, self->owed_first) < oldest) /* no log: one per file would flood */
		self->owed_first = oldest + floor_mod(-oldest, step1);
}

/*
 * In defer mode, called before a write of finest-archive points [first,
 * last] (one interval of archive 1) whose propagation chain python would run
 * right after it. The chain of any later write within the same interval of
 * archive 1 supersedes it (it rewrites every archive this one would, from at
 * least as many points), so it is owed, and run only when a write for
 * another interval comes, or at flush/fetch/close. An older debt for another
 * interval is paid first, before the write changes what it reads.
 *
 * If paying fails (a full disk refusing a sparse file's coarse page), the
 * finest points are written all the same: the debt is kept, this write's
 * chain joins it, and every later write retries it (owed_err, which
 * whisper_owed_error reports). Writing the new points first changes no
 * owed chain's input: their archive-1 intervals differ and owe() keeps the
 * debt within one lap of archive 0.
 */
static void defer_chain(struct whisper *self, int64_t first, int64_t last)
{
	if (self->owed &&
	    (self->owed_err != 0 || align1(self, last) != align1(self, self->owed_last) ||
	     align1(self, self->owed_first) != align1(self, self->owed_last)))
		(void)pay_owed(self);
	if (self->owed_err == 0) {
		self->owed = true;
		self->owed_first = first;
		self->owed_last = last;
	} else {
		owe(self, first, last);
	}
}

/* ---- update ---- */

static int update(struct whisper *self, int64_t ts, double value, int64_t now)
{
	const struct whisper_header *h = &self->hdr;
	int64_t diff, interval;
	size_t a;
	int rc;

	if (self->rdonly)
		return -EBADF;
	if (__builtin_sub_overflow(now, ts, &diff) || diff < 0 || diff >= (int64_t)h->max_retention)
		return WHISPER_ENOTCOVERED;
	for (a = 0; a + 1 < h->archive_count; a++) /* diff < maxRetention: one always covers */
		if (archive_retention(self, a) >= diff)
			break;
	interval = ts - floor_mod(ts, archive_step(self, a));
	if (interval < 0 || interval > UINT32_MAX)
		return -ERANGE;
	if (self->defer && a == 0 && h->archive_count > 1) {
		defer_chain(self, interval, interval);
		return write_point(self, 0, interval, value);
	}
	rc = pay_owed(self);
	if (rc == 0)
		rc = write_point(self, a, interval, value);
	if (rc == 0)
		rc = propagate_chain(self, interval, a);
	return rc;
}

int whisper_update(struct whisper *self, int64_t ts, double value, int64_t now)
{
	int rc = update(self, ts, value, now);

	if (self->nocache)
		window_drop_all(self);
	return rc;
}

/* ---- update_many ---- */

/* Chronological order; equal timestamps latest-in-caller's-list first, the
 * order python reaches by a stable descending sort then a reverse. */
static int batch_cmp(const void *pa, const void *pb)
{
	const struct batch_point *a = pa, *b = pb;

	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return a->idx < b->idx ? 1 : (a->idx > b->idx ? -1 : 0);
}

static int result_cmp(const void *pa, const void *pb)
{
	const struct result *a = pa, *b = pb;

	return a->slot < b->slot ? -1 : (a->slot > b->slot ? 1 : 0);
}

/* Before consolidating several intervals (s->order[0..n)) of archive hi+1,
 * reads all their finer points with one pread (two if the range wraps)
 * instead of one per interval, when they lie within one lap. */
static int prefetch(struct whisper *self, struct scratch *s, size_t hi, size_t n)
{
	const struct whisper_archive *H = &self->archives[hi];
	uint32_t k = archive_step(self, hi + 1) / H->seconds_per_point;
	uint32_t min = s->order[0], max = s->order[0], hbase;
	uint64_t span;
	size_t first;
	int rc;

	self->view.valid = false;
	for (size_t i = 1; i < n; i++) {
		min = s->order[i] < min ? s->order[i] : min;
		max = s->order[i] > max ? s->order[i] : max;
	}
	span = (uint64_t)(max - min) / H->seconds_per_point + k;
	rc = get_base(self, hi, &hbase);
	if (rc < 0 || hbase == 0 || span > H->points)
		return rc; /* an empty archive or a long range: read per interval */
	rc = grow((void **)&s->pre, &s->pre_cap, (size_t)span * WHISPER_POINT_SIZE, 1);
	first = slot_of(H, hbase, min);
	if (rc == 0)
		rc = read_slots(self, hi, first, (size_t)span, s->pre);
	if (rc == 0)
		self->view = (struct view){true, (uint32_t)hi, (uint32_t)first, (uint32_t)span};
	return rc;
}

/*
 * One level of python's batch propagation: __propagate(L, lo-1, lo) for each
 * distinct interval L in s->order[0..n), in that (CPython set) order.
 * Returns 1 if any wrote, 0 if none did, or an error. All consolidations
 * only read archive lo-1, so they are computed first and their points
 * written afterwards in as few pwrites as contiguous slots allow, placed as
 * python's one-by-one writes would place them.
 */
static int propagate_level(struct whisper *self, struct scratch *s, size_t lo, size_t n)
{
	const struct whisper_archive *ar = &self->archives[lo];
	size_t m = 0, run;
	uint32_t lbase;
	int rc;

	rc = prefetch(self, s, lo - 1, n);
	for (size_t i = 0; rc >= 0 && i < n; i++) {
		rc = consolidate(self, lo - 1, s->order[i], &s->results[m].value);
		if (rc > 0)
			s->results[m++].interval = s->order[i];
	}
	self->view.valid = false;
	if (rc < 0)
		return rc;
	if (m == 0)
		return 0;
	rc = get_base(self, lo, &lbase);
	if (rc < 0)
		return rc;
	/* An empty archive takes the first result in slot 0, unless that is
	 * interval 0, which leaves it looking empty: then write one by one. */
	if (lbase == 0 && s->results[0].interval == 0)
		goto one_by_one;
	for (size_t i = 0; i < m; i++)
		s->results[i].slot = (uint32_t)slot_of(ar, lbase ? lbase : s->results[0].interval,
						       s->results[i].interval);
	qsort(s->results, m, sizeof(*s->results), result_cmp);
	for (size_t i = 1; i < m; i++)
		if (s->results[i].slot == s->results[i - 1].slot)
			goto unsorted; /* a lap apart (future points): order decides */
	for (size_t i = 0; i < m; i += run) {
		for (run = 1; i + run < m && s->results[i + run].slot == s->results[i].slot + run;
		     run++)
			put_point(s->buf + run * WHISPER_POINT_SIZE, s->results[i + run].interval,
				  s->results[i + run].value);
		put_point(s->buf, s->results[i].interval, s->results[i].value);
		rc = write_slots(self, lo, s->buf, run, s->results[i].slot);
		if (rc < 0)
			return rc;
	}
	return 1;
unsorted:
	/* recompute in set order: consolidation is deterministic and cheap */
	m = 0;
	for (size_t i = 0; i < n; i++) {
		rc = consolidate(self, lo - 1, s->order[i], &s->results[m].value);
		if (rc < 0)
			return rc;
		if (rc > 0)
			s->results[m++].interval = s->order[i];
	}
one_by_one:
	for (size_t i = 0; i < m; i++) {
		rc = write_point(self, lo, s->results[i].interval, s->results[i].value);
		if (rc < 0)
			return rc;
	}
	return 1;
}

/* Propagates the n points just written to archive a by write_group (their
 * intervals in s->ivs) into every coarser archive, as python's
 * __archive_update_many does: once per distinct coarse interval, in
 * CPython's set order, going one level coarser only if at least one
 * propagation at this level wrote. */
static int propagate_batch(struct whisper *self, struct scratch *s, size_t a, size_t n)
{
	size_t distinct;
	int rc;

	for (size_t l = a + 1; l < self->hdr.archive_count; l++) {
		uint32_t step = archive_step(self, l);
		size_t m = 0;
		uint64_t key = 0, next = 0;

		/* The coarse interval of each point in python's list order (the
		 * group's chronological order, so its intervals never decrease).
		 * Dropping consecutive repeats leaves the set's order unchanged,
		 * and saves a division per point. */
		for (size_t i = 0; i < n; i++) {
			uint32_t iv = s->ivs[i];

			if (m == 0 || iv >= next) {
				key = iv - iv % step;
				next = key + step;
				s->keys[m++] = (uint32_t)key;
			}
		}
		if (m == 1) {
			rc = propagate(self, s->keys[0], l);
		} else {
			rc = pyset_order(s->keys, m, s->order, &distinct);
			if (rc == 0)
				rc = propagate_level(self, s, l, distinct);
		}
		if (rc <= 0)
			return rc;
	}
	return 0;
}

/* Writes python's __archive_update_many runs for the chronological points
 * s->batch[lo..hi) into archive a (no propagation). */
static int write_group(struct whisper *self, struct scratch *s, size_t a, size_t lo, size_t hi)
{
	const struct whisper_archive *ar = &self->archives[a];
	uint32_t step = ar->seconds_per_point;
	size_t nruns = 0, packed = 0;
	int64_t prev = 0, anchor;
	bool have_prev = false;
	uint32_t base;
	int rc;

	/* python's struct.pack fails on intervals outside uint32: check them all
	 * before writing any, so the group is written whole or not at all. */
	for (size_t i = lo; i < hi; i++) {
		int64_t t = s->batch[i].ts;
		int64_t interval = step == 1 ? t : t - floor_mod(t, step);

		if (interval < 0 || interval > UINT32_MAX)
			return -ERANGE;
		s->ivs[i - lo] = (uint32_t)interval;
	}
	for (size_t i = lo; i < hi; i++) {
		int64_t interval = s->ivs[i - lo];

		/* Of several points in one interval the chronologically last wins. */
		if (i + 1 < hi && s->ivs[i + 1 - lo] == interval)
			continue;
		/* python tests "not previousInterval", so a previous interval of 0
		 * (possible only for timestamps below one step) continues a run. */
		if (!have_prev || prev == 0 || interval == prev + step) {
			if (nruns == 0) {
				s->runs[0].first = packed;
				s->runs[0].count = 0;
				nruns = 1;
			}
		} else {
			struct run *r = &s->runs[nruns - 1];
			r->start = prev - (int64_t)step * (int64_t)(r->count - 1);
			s->runs[nruns].first = packed;
			s->runs[nruns].count = 0;
			nruns++;
		}
		put_point(s->buf + packed * WHISPER_POINT_SIZE, (uint32_t)interval,
			  s->batch[i].value);
		packed++;
		s->runs[nruns - 1].count++;
		prev = interval;
		have_prev = true;
	}
	if (nruns > 0) {
		struct run *r = &s->runs[nruns - 1];
		r->start = prev - (int64_t)step * (int64_t)(r->count - 1);
	}

	rc = get_base(self, a, &base);
	if (rc < 0)
		return rc;
	anchor = base != 0 ? base : s->runs[0].start; /* empty archive: first run at slot 0 */
	for (size_t r = 0; r < nruns; r++) {
		size_t first = s->runs[r].first, count = s->runs[r].count;
		int64_t start = s->runs[r].start;

		/* A run longer than the archive (only possible with future points)
		 * would make python write past the archive's end; we keep its
		 * newest lap, which is what python leaves when it stays inside. */
		if (count > ar->points) {
			size_t skip = count - ar->points;
			first += skip;
			start += (int64_t)skip * step;
			count = ar->points;
		}
		rc = write_slots(self, a, s->buf + first * WHISPER_POINT_SIZE, count,
				 (size_t)floor_mod(floor_div(start - anchor, step), ar->points));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* In defer mode, true when a batch all of whose points fall in archive 0
 * also falls within one interval of archive 1: its propagation is one
 * chain, which can be owed like update()'s. */
static bool batch_is_one_chain(const struct whisper *self, const struct scratch *s, size_t n)
{
	uint32_t step1 = archive_step(self, 1);
	int64_t first = s->batch[0].ts, last = s->batch[n - 1].ts;

	return first - floor_mod(first, step1) == last - floor_mod(last, step1);
}

static int update_many(struct whisper *self, const struct whisper_point *points, size_t n,
		       int64_t now)
{
	const struct whisper_header *h = &self->hdr;
	struct scratch *s;
	bool sorted = true;
	size_t a = 0, hi;
	int64_t oldest_age;
	int rc = 0;

	if (self->rdonly)
		return -EBADF;
	if (n == 0)
		return 0;
	s = scratch_get(n, n);
	if (s == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		s->batch[i].ts = points[i].ts;
		s->batch[i].value = points[i].value;
		s->batch[i].idx = i;
		if (i > 0 && points[i].ts <= points[i - 1].ts)
			sorted = false;
	}
	if (!sorted)
		qsort(s->batch, n, sizeof(*s->batch), batch_cmp);

	if (__builtin_sub_overflow(now, s->batch[0].ts, &oldest_age))
		oldest_age = INT64_MAX;
	if (self->defer && h->archive_count > 1 && oldest_age <= archive_retention(self, 0)) {
		/* all in archive 0: its points are written even when paying the
		 * debt, or this batch's own propagation, fails (defer_chain) */
		int64_t t0 = s->batch[0].ts, t = s->batch[n - 1].ts;
		uint32_t step = archive_step(self, 0);
		int64_t first = t0 - floor_mod(t0, step), last = t - floor_mod(t, step);

		if (first < 0 || last > UINT32_MAX)
			return -ERANGE; /* python refuses it before writing anything */
		if (batch_is_one_chain(self, s, n)) {
			defer_chain(self, first, last);
			return write_group(self, s, 0, 0, n);
		}
		if (pay_owed(self) < 0) {
			owe(self, first, last);
			return write_group(self, s, 0, 0, n);
		}
		rc = write_group(self, s, 0, 0, n);
		if (rc == 0) {
			int prc = propagate_batch(self, s, 0, n);

			if (prc < 0) {
				owe(self, first, last);
				self->owed_err = prc;
			}
		}
		return rc;
	}
	rc = pay_owed(self);
	if (rc < 0)
		return rc;

	/* Newest to oldest: a point goes to the finest archive whose retention
	 * covers its age; each group is committed when the walk moves past it. */
	hi = n;
	for (size_t i = n; i-- > 0;) {
		int64_t age;

		if (__builtin_sub_overflow(now, s->batch[i].ts, &age))
			age = INT64_MAX;
		while (archive_retention(self, a) < age) {
			if (hi > i + 1) {
				rc = write_group(self, s, a, i + 1, hi);
				if (rc == 0)
					rc = propagate_batch(self, s, a, hi - i - 1);
				if (rc < 0)
					return rc;
			}
			hi = i + 1;
			if (++a == h->archive_count)
				return 0; /* this point and all older ones fit no archive */
		}
	}
	if (hi > 0) {
		rc = write_group(self, s, a, 0, hi);
		if (rc == 0)
			rc = propagate_batch(self, s, a, hi);
	}
	return rc;
}

int whisper_update_many(struct whisper *self, const struct whisper_point *points, size_t n,
			int64_t now)
{
	int rc = update_many(self, points, n, now);

	if (self->nocache)
		window_drop_all(self);
	return rc;
}

int whisper_owed_error(const struct whisper *self)
{
	return self->owed ? self->owed_err : 0;
}

int whisper_flush(struct whisper *self)
{
	int rc = pay_owed(self);

	if (self->nocache)
		window_drop_all(self);
	return rc;
}

/* ---- fetch ---- */

static int archive_fetch(struct whisper *self, size_t a, int64_t from, int64_t until,
			 struct whisper_series **out)
{
	const struct whisper_archive *ar = &self->archives[a];
	int64_t step = ar->seconds_per_point;
	int64_t from_i = from - floor_mod(from, step) + step;
	int64_t until_i = until - floor_mod(until, step) + step;
	struct whisper_series *s;
	size_t count, from_slot = 0;
	uint32_t base;
	int rc;

	if (from_i == until_i)
		until_i += step; /* zero-length range: python returns the next point */
	rc = get_base(self, a, &base);
	if (rc < 0)
		return rc;
	if (base == 0) {
		count = (size_t)((until_i - from_i) / step);
	} else {
		size_t until_slot = slot_of(ar, base, until_i);

		/* python reads from the "from" slot to the "until" slot, wrapping
		 * once: at most one lap of the archive. */
		from_slot = slot_of(ar, base, from_i);
		count = from_slot < until_slot ? until_slot - from_slot
					       : ar->points - from_slot + until_slot;
	}
	s = malloc(sizeof(*s) + count * sizeof(s->values[0]));
	if (s == NULL)
		return -ENOMEM;
	s->from = from_i;
	s->until = until_i;
	s->step = (uint32_t)step;
	s->count = count;
	if (base == 0) {
		for (size_t i = 0; i < count; i++)
			s->values[i] = NAN;
	} else {
		struct scratch *sc = scratch_get(0, count);

		rc = sc == NULL ? -ENOMEM : read_slots(self, a, from_slot, count, sc->buf);
		if (rc < 0) {
			free(s);
			return rc;
		}
		for (size_t i = 0; i < count; i++) {
			const uint8_t *p = sc->buf + i * WHISPER_POINT_SIZE;

			s->values[i] =
			    (int64_t)get_be32(p) == from_i + (int64_t)i * step ? get_value(p) : NAN;
		}
	}
	*out = s;
	return 0;
}

/* python's file_fetch; step 0 picks the archive by retention. */
static int fetch(struct whisper *self, int64_t from, int64_t until, int64_t now, uint32_t step,
		 struct whisper_series **out)
{
	const struct whisper_header *h = &self->hdr;
	int64_t oldest;
	size_t a;
	int rc;

	*out = NULL;
	/* bounds keep the arithmetic below free of overflow for any input */
	if (from > until || from < -WHISPER_TIME_LIMIT || until > WHISPER_TIME_LIMIT ||
	    now < -WHISPER_TIME_LIMIT || now > WHISPER_TIME_LIMIT)
		return -EINVAL;
	rc = pay_owed(self); /* read what python would have written by now */
	if (self->nocache)
		window_drop_all(self);
	if (rc < 0)
		return rc;
	oldest = now - (int64_t)h->max_retention;
	if (from > now || until < oldest)
		return 0; /* python: None */
	if (from < oldest)
		from = oldest;
	if (until > now)
		until = now;
	for (a = 0; a < h->archive_count; a++) {
		const struct whisper_archive *ar = &self->archives[a];

		if (step != 0 ? ar->seconds_per_point == step
			      : (int64_t)ar->seconds_per_point * ar->points >= now - from)
			break;
	}
	if (a == h->archive_count)
		return -EINVAL; /* only with an explicit step: from >= oldest otherwise */
	return archive_fetch(self, a, from, until, out);
}

int whisper_fetch(struct whisper *self, int64_t from, int64_t until, int64_t now,
		  struct whisper_series **out)
{
	return fetch(self, from, until, now, 0, out);
}

int whisper_fetch_step(struct whisper *self, int64_t from, int64_t until, int64_t now,
		       uint32_t step, struct whisper_series **out)
{
	if (step == 0) {
		*out = NULL;
		return -EINVAL;
	}
	return fetch(self, from, until, now, step, out);
}

void whisper_series_destroy(struct whisper_series **self_p)
{
	if (self_p == NULL)
		return;
	free(*self_p);
	*self_p = NULL;
}

/* ---- open ---- */

/* Checks the header fields and archive table read from a file of `size`
 * bytes against everything create() guarantees. */
static int check_header(const char *path, const uint8_t *meta, const uint8_t *table, uint32_t count,
			uint64_t size, struct whisper_archive *archives, struct whisper_err *err)
{
	uint32_t agg = get_be32(meta);
	uint32_t max_ret = get_be32(meta + 4);
	uint64_t expect = WHISPER_METADATA_SIZE + (uint64_t)count * WHISPER_ARCHIVE_INFO_SIZE;
	uint64_t longest = 0;
	float xff;
	uint32_t xbits = get_be32(meta + 8);

	memcpy(&xff, &xbits, sizeof(xff));
	if (agg < 1 || agg > 8)
		return whisper_err_set(err, WHISPER_ECORRUPT,
				       "%s: aggregation type %" PRIu32 " is not 1..8", path, agg);
	if (!(xff >= 0.0f && xff <= 1.0f))
		return whisper_err_set(err, WHISPER_ECORRUPT,
				       "%s: xFilesFactor %g is not in [0, 1]", path, (double)xff);
	for (uint32_t i = 0; i < count; i++) {
		struct whisper_archive *ar = &archives[i];
		const uint8_t *p = table + (size_t)i * WHISPER_ARCHIVE_INFO_SIZE;
		uint64_t ret;

		ar->offset = get_be32(p);
		ar->seconds_per_point = get_be32(p + 4);
		ar->points = get_be32(p + 8);
		ret = (uint64_t)ar->seconds_per_point * ar->points;
		if (ar->offset != expect)
			return whisper_err_set(err, WHISPER_ECORRUPT,
					       "%s: archive %" PRIu32 " starts at offset %" PRIu32
					       ", expected %" PRIu64,
					       path, i, ar->offset, expect);
		if (ar->seconds_per_point == 0 || ar->points == 0 || ret > UINT32_MAX)
			return whisper_err_set(err, WHISPER_ECORRUPT,
					       "%s: archive %" PRIu32 " has %" PRIu32
					       " s per point and %" PRIu32 " points",
					       path, i, ar->seconds_per_point, ar->points);
		if (i > 0) {
			const struct whisper_archive *pr = &archives[i - 1];

			if (ar->seconds_per_point <= pr->seconds_per_point ||
			    ar->seconds_per_point % pr->seconds_per_point != 0 || ret <= longest ||
			    pr->points < ar->seconds_per_point / pr->seconds_per_point)
				return whisper_err_set(
				    err, WHISPER_ECORRUPT,
				    "%s: archives %" PRIu32 " (%" PRIu32 "s:%" PRIu32
				    ") and %" PRIu32 " (%" PRIu32 "s:%" PRIu32
				    ") break the precision/retention rules",
				    path, i - 1, pr->seconds_per_point, pr->points, i,
				    ar->seconds_per_point, ar->points);
		}
		longest = ret;
		expect += (uint64_t)ar->points * WHISPER_POINT_SIZE;
	}
	if (max_ret != longest)
		return whisper_err_set(err, WHISPER_ECORRUPT,
				       "%s: maxRetention %" PRIu32 " s differs from the longest "
				       "archive's %" PRIu64 " s",
				       path, max_ret, longest);
	if (size != expect)
		return whisper_err_set(err, WHISPER_ESIZE,
				       "%s: file is %" PRIu64
				       " bytes but its archive table needs %" PRIu64
				       " (truncated by a crash, or not a Whisper file)",
				       path, size, expect);
	return 0;
}

/* whisper_open and whisper_openat: `fd` is the file opened by the caller
 * (or -errno), `path` the name for messages and whisper_path. Takes fd. */
static struct whisper *open_fd(int fd, const char *path, unsigned flags, struct whisper_err *err)
{
	struct whisper *self = NULL;
	uint8_t head[512];
	const uint8_t *meta, *table;
	uint8_t *table_mem = NULL;
	size_t head_len, table_len = 0;
	struct stat st;
	uint32_t count;
	int rc;

	if (err != NULL) {
		err->code = 0;
		err->msg[0] = '\0';
	}
	self = calloc(1, sizeof(*self));
	if (self == NULL) {
		whisper_err_set(err, -ENOMEM, "%s: out of memory", path);
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	self->rdonly = (flags & WHISPER_OPEN_RDONLY) != 0;
	self->nocache = (flags & WHISPER_OPEN_NOCACHE) != 0;
	self->defer = (flags & WHISPER_OPEN_DEFER) != 0;
	self->fd = fd;
	fd = -1;
	self->path = strdup(path);
	if (self->path == NULL) {
		whisper_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	if (self->fd < 0) {
		rc = self->fd;
		whisper_err_set(err, rc, "%s: open: %s", path, strerror(-rc));
		goto fail;
	}
	if (fstat(self->fd, &st) < 0) {
		rc = -errno;
		whisper_err_set(err, rc, "%s: fstat: %s", path, strerror(-rc));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		whisper_err_set(err, -EINVAL, "%s: not a regular file", path);
		goto fail;
	}
	if ((uint64_t)st.st_size < WHISPER_METADATA_SIZE) {
		whisper_err_set(err, WHISPER_ESIZE,
				"%s: file is %lld bytes, shorter than the 16-byte metadata "
				"(truncated by a crash?)",
				path, (long long)st.st_size);
		goto fail;
	}
	/* One pread gets the metadata, the archive table and archive 0's
	 * slot-0 timestamp of any usual file (they are contiguous). */
	head_len = (uint64_t)st.st_size < sizeof(head) ? (size_t)st.st_size : sizeof(head);
	rc = io_pread(self, head, head_len, 0);
	if (rc < 0) {
		whisper_err_set(err, rc, "%s: reading the header: %s", path, whisper_strerror(rc));
		goto fail;
	}
	meta = head;
	count = get_be32(meta + 12);
	if (count == 0) {
		whisper_err_set(err, WHISPER_ECORRUPT, "%s: archive count is 0", path);
		goto fail;
	}
	if ((uint64_t)count > ((uint64_t)st.st_size - WHISPER_METADATA_SIZE) /
				  (WHISPER_ARCHIVE_INFO_SIZE + WHISPER_POINT_SIZE)) {
		/* each archive needs its 12-byte entry and at least one point */
		whisper_err_set(err, WHISPER_ESIZE,
				"%s: file is %lld bytes, too short for %" PRIu32 " archives", path,
				(long long)st.st_size, count);
		goto fail;
	}
	self->hdr.archive_count = count; /* whisper_close walks the windows */
	self->archives = calloc(count, sizeof(*self->archives));
	self->base = calloc(count, sizeof(*self->base));
	self->known = calloc(count, sizeof(*self->known));
	self->win = calloc(count, sizeof(*self->win));
	if (self->archives == NULL || self->base == NULL || self->known == NULL ||
	    self->win == NULL) {
		whisper_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	table_len = (size_t)count * WHISPER_ARCHIVE_INFO_SIZE;
	if (WHISPER_METADATA_SIZE + table_len <= head_len) {
		table = head + WHISPER_METADATA_SIZE;
	} else {
		table_mem = malloc(table_len);
		rc = table_mem == NULL
			 ? -ENOMEM
			 : io_pread(self, table_mem, table_len, WHISPER_METADATA_SIZE);
		if (rc < 0) {
			whisper_err_set(err, rc, "%s: reading the archive table: %s", path,
					whisper_strerror(rc));
			goto fail;
		}
		table = table_mem;
	}
	rc = check_header(path, meta, table, count, (uint64_t)st.st_size, self->archives, err);
	if (rc < 0)
		goto fail;
	for (uint32_t a = 0; a + 1 < count; a++) {
		uint32_t k =
		    self->archives[a + 1].seconds_per_point / self->archives[a].seconds_per_point;

		self->win[a].data = malloc((size_t)k * WHISPER_POINT_SIZE);
		if (self->win[a].data == NULL) {
			whisper_err_set(err, -ENOMEM, "%s: out of memory", path);
			goto fail;
		}
	}

	uint32_t xbits = get_be32(meta + 8);
	memcpy(&self->hdr.xff, &xbits, sizeof(self->hdr.xff));
	self->hdr.aggregation = (enum whisper_aggregation)get_be32(meta);
	self->hdr.max_retention = get_be32(meta + 4);
	self->hdr.archive_count = count;
	self->hdr.archives = self->archives;
	self->hdr.file_size = (uint64_t)st.st_size;
	if (WHISPER_METADATA_SIZE + table_len + 4 <= head_len)
		set_base(self, 0, get_be32(head + WHISPER_METADATA_SIZE + table_len));
	free(table_mem);
	return self;
fail:
	free(table_mem);
	whisper_close(&self);
	return NULL;
}

struct whisper *whisper_open(const char *path, unsigned flags, struct whisper_err *err)
{
	int fd =
	    open(path, ((flags & WHISPER_OPEN_RDONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);

	return open_fd(fd < 0 ? -errno : fd, path, flags, err);
}

struct whisper *whisper_openat(int dirfd, const char *relpath, unsigned flags,
			       struct whisper_err *err)
{
	int fd = beneath_open(dirfd, relpath,
			      ((flags & WHISPER_OPEN_RDONLY) ? O_RDONLY : O_RDWR) | O_NOCTTY, 0);

	return open_fd(fd, relpath, flags, err);
}

void whisper_close(struct whisper **self_p)
{
	struct whisper *self;

	if (self_p == NULL || *self_p == NULL)
		return;
	self = *self_p;
	if (self->owed) {
		int rc = pay_owed(self);
		if (rc < 0)
			sm_log_warnx("whisper: %s: propagating the last points on close: %s",
				     self->path, whisper_strerror(rc));
	}
	if (self->fd >= 0)
		close(self->fd);
	free(self->path);
	free(self->archives);
	free(self->base);
	free(self->known);
	for (uint32_t a = 0; self->win != NULL && a < self->hdr.archive_count; a++)
		free(self->win[a].data);
	free(self->win);
	free(self);
	*self_p = NULL;
}

const struct whisper_header *whisper_info(const struct whisper *self)
{
	return &self->hdr;
}

const char *whisper_path(const struct whisper *self)
{
	return self->path;
}

struct whisper_iostats whisper_iostats(const struct whisper *self)
{
	return self->io;
}

/* ---- create ---- */

/* Writes all of buf at off on a plain fd (create has no handle yet). */
static int write_all(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = pwrite(fd, (const uint8_t *)buf + done, len - done, off + (off_t)done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		done += (size_t)w;
	}
	return 0;
}

/* Renames from -> to unless `to` exists (-EEXIST). renameat2(NOREPLACE) where
 * the filesystem has it; link + unlink otherwise, also atomic. */
static int rename_noreplace_at(int fromfd, const char *from, int tofd, const char *to)
{
	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -errno;
	if (linkat(fromfd, from, tofd, to, 0) < 0)
		return -errno;
	unlinkat(fromfd, from, 0);
	return 0;
}

static int rename_noreplace(const char *from, const char *to)
{
	return rename_noreplace_at(AT_FDCWD, from, AT_FDCWD, to);
}

/* Validates the archives and builds the header create writes; *hsize and
 * *size receive the header's and the whole file's size. 0 or WHISPER_ECONFIG. */
static int build_header(const char *path, const struct whisper_retention *archives, size_t n,
			enum whisper_aggregation aggregation, double xff, uint8_t *header,
			size_t *hsize, uint64_t *size, struct whisper_err *err)
{
	struct whisper_retention sorted[WHISPER_MAX_ARCHIVES];
	uint64_t off;
	float xf;
	uint32_t xbits;
	int rc;

	if (n > WHISPER_MAX_ARCHIVES)
		return whisper_err_set(err, WHISPER_ECONFIG, "%s: %zu archives, at most %d", path,
				       n, WHISPER_MAX_ARCHIVES);
	if (aggregation < 1 || aggregation > 8)
		return whisper_err_set(err, WHISPER_ECONFIG,
				       "%s: aggregation method %d is not 1..8", path,
				       (int)aggregation);
	if (!(xff >= 0.0 && xff <= 1.0))
		return whisper_err_set(err, WHISPER_ECONFIG, "%s: xFilesFactor %g is not in [0, 1]",
				       path, xff);
	if (n > 0)
		memcpy(sorted, archives, n * sizeof(*sorted));
	rc = whisper_retention_validate(sorted, n, err);
	if (rc < 0) {
		if (err != NULL) { /* prefix the path to the rule's message */
			char why[sizeof(err->msg)];
			memcpy(why, err->msg, sizeof(why));
			whisper_err_set(err, rc, "%s: %s", path, why);
		}
		return rc;
	}
	*hsize = WHISPER_METADATA_SIZE + n * WHISPER_ARCHIVE_INFO_SIZE;
	off = *hsize;
	for (size_t i = 0; i < n; i++) {
		if (off > UINT32_MAX)
			return whisper_err_set(err, WHISPER_ECONFIG,
					       "%s: archive %zu would start beyond 4 GiB", path, i);
		put_be32(header + WHISPER_METADATA_SIZE + i * WHISPER_ARCHIVE_INFO_SIZE,
			 (uint32_t)off);
		put_be32(header + WHISPER_METADATA_SIZE + i * WHISPER_ARCHIVE_INFO_SIZE + 4,
			 sorted[i].seconds_per_point);
		put_be32(header + WHISPER_METADATA_SIZE + i * WHISPER_ARCHIVE_INFO_SIZE + 8,
			 sorted[i].points);
		off += (uint64_t)sorted[i].points * WHISPER_POINT_SIZE;
	}
	*size = off;
	xf = (float)xff; /* python: struct.pack("!f"), round to nearest */
	memcpy(&xbits, &xf, sizeof(xbits));
	put_be32(header, (uint32_t)aggregation);
	/* sorted by precision with strictly increasing retention: the last is longest */
	put_be32(header + 4, sorted[n - 1].seconds_per_point * sorted[n - 1].points);
	put_be32(header + 8, xbits);
	put_be32(header + 12, (uint32_t)n);
	return 0;
}

/* A temporary file "<name>.tmp-XXXXXX" in dirfd, made with O_EXCL (so it
 * never opens an existing file or follows a link); its name into tmp. */
static int make_tmp(int dirfd, const char *name, char *tmp, size_t len)
{
	static const char chars[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	struct timespec ts;
	uint64_t x;

	clock_gettime(CLOCK_REALTIME, &ts);
	x = ((uint64_t)ts.tv_nsec << 16) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
	    (uint64_t)(uintptr_t)tmp;
	for (int attempt = 0; attempt < 100; attempt++) {
		char suffix[7];
		int fd;

		for (int i = 0; i < 6; i++) {
			x = x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
			suffix[i] = chars[(x >> 33) % (sizeof(chars) - 1)];
		}
		suffix[6] = '\0';
		if (snprintf(tmp, len, "%s.tmp-%s", name, suffix) >= (int)len)
			return -ENAMETOOLONG;
		fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

/* Creates `name` in directory dirfd from a built header (whisper_create's
 * contract); `path` names it in messages. */
static int create_in(int dirfd, const char *name, const char *path, const uint8_t *header,
		     size_t hsize, uint64_t off, unsigned flags, struct whisper_err *err)
{
	uint64_t data = off - hsize;
	char tmp[512];
	bool have_tmp = false;
	struct stat st;
	int fd = -1, rc;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return whisper_err_set(err, -EEXIST, "%s: file already exists", path);
	fd = make_tmp(dirfd, name, tmp, sizeof(tmp));
	if (fd < 0) {
		rc = fd;
		whisper_err_set(err, rc, "%s: creating a temporary file: %s", path, strerror(-rc));
		goto out;
	}
	have_tmp = true;
	/* the umask may have cut 0644; graphite-web and the dashboard read as other users */
	if (fchmod(fd, 0644) < 0) {
		rc = whisper_err_set(err, -errno, "%s: fchmod: %s", tmp, strerror(errno));
		goto out;
	}
	rc = write_all(fd, header, hsize, 0);
	if (rc < 0) {
		whisper_err_set(err, rc, "%s: writing the header: %s", tmp, strerror(-rc));
		goto out;
	}
	if (flags & WHISPER_CREATE_SPARSE) {
		if (ftruncate(fd, (off_t)off) < 0)
			rc = -errno;
	} else if (flags & WHISPER_CREATE_ZEROFILL) {
		static const uint8_t zeros[65536];
		for (uint64_t done = 0; rc == 0 && done < data;) {
			size_t len =
			    data - done < sizeof(zeros) ? (size_t)(data - done) : sizeof(zeros);
			rc = write_all(fd, zeros, len, (off_t)(hsize + done));
			done += len;
		}
	} else {
		/* Reserve every block now: later point writes then never need
		 * space, so a full disk fails this create, not a write. */
		int e = posix_fallocate(fd, (off_t)hsize, (off_t)data);
		if (e != 0)
			rc = -e;
	}
	if (rc < 0) {
		whisper_err_set(err, rc, "%s: allocating %" PRIu64 " bytes: %s", tmp, off,
				strerror(-rc));
		goto out;
	}
	if (!(flags & WHISPER_CREATE_NOSYNC) && fsync(fd) < 0) {
		rc = whisper_err_set(err, -errno, "%s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	rc = close(fd) < 0 ? -errno : 0;
	fd = -1;
	if (rc < 0) {
		whisper_err_set(err, rc, "%s: close: %s", tmp, strerror(-rc));
		goto out;
	}
	rc = rename_noreplace_at(dirfd, tmp, dirfd, name);
	if (rc < 0) {
		whisper_err_set(err, rc, "%s: %s", path,
				rc == -EEXIST ? "file already exists" : strerror(-rc));
		goto out;
	}
	have_tmp = false;
	/* Makes the rename durable. */
	if (!(flags & WHISPER_CREATE_NOSYNC) && fsync(dirfd) < 0) {
		rc = -errno; /* the file is complete and in place; only durability is in doubt */
		whisper_err_set(err, rc, "%s: fsync of its directory: %s", path, strerror(-rc));
	}
out:
	if (fd >= 0)
		close(fd);
	if (have_tmp)
		unlinkat(dirfd, tmp, 0);
	return rc;
}

int whisper_create(const char *path, const struct whisper_retention *archives, size_t n,
		   enum whisper_aggregation aggregation, double xff, unsigned flags,
		   struct whisper_err *err)
{
	uint8_t header[WHISPER_METADATA_SIZE + WHISPER_MAX_ARCHIVES * WHISPER_ARCHIVE_INFO_SIZE];
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	char *dir = NULL;
	uint64_t off = 0;
	size_t hsize = 0;
	int dfd, rc;

	if (err != NULL) {
		err->code = 0;
		err->msg[0] = '\0';
	}
	rc = build_header(path, archives, n, aggregation, xff, header, &hsize, &off, err);
	if (rc < 0)
		return rc;
	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return whisper_err_set(err, -ENOMEM, "%s: out of memory", path);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (dfd < 0)
		return whisper_err_set(err, -errno, "%s: opening its directory: %s", path,
				       strerror(errno));
	rc = create_in(dfd, name, path, header, hsize, off, flags, err);
	close(dfd);
	return rc;
}

int whisper_createat(int dirfd, const char *relpath, const struct whisper_retention *archives,
		     size_t n, enum whisper_aggregation aggregation, double xff, unsigned flags,
		     struct whisper_err *err)
{
	uint8_t header[WHISPER_METADATA_SIZE + WHISPER_MAX_ARCHIVES * WHISPER_ARCHIVE_INFO_SIZE];
	const char *name;
	uint64_t off = 0;
	size_t hsize = 0;
	int dfd, rc;

	if (err != NULL) {
		err->code = 0;
		err->msg[0] = '\0';
	}
	rc = build_header(relpath, archives, n, aggregation, xff, header, &hsize, &off, err);
	if (rc < 0)
		return rc;
	dfd = beneath_open_parent(dirfd, relpath, &name);
	if (dfd < 0)
		return whisper_err_set(err, dfd, "%s: opening its directory: %s", relpath,
				       strerror(-dfd));
	rc = create_in(dfd, name, relpath, header, hsize, off, flags, err);
	close(dfd);
	return rc;
}

uint64_t whisper_file_size(const struct whisper_retention *archives, size_t n)
{
	uint64_t size = WHISPER_METADATA_SIZE + (uint64_t)n * WHISPER_ARCHIVE_INFO_SIZE;

	for (size_t i = 0; i < n; i++)
		size += (uint64_t)archives[i].points * WHISPER_POINT_SIZE;
	return size;
}

/* ---- quarantine ---- */

int whisper_quarantine(const char *path, const char *reason, char *moved_to, size_t moved_len)
{
	char stamp[32], *dest = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int rc = -EEXIST;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
	for (int i = 0; i < 100 && rc == -EEXIST; i++) {
		free(dest);
		dest = NULL;
		if ((i == 0 ? asprintf(&dest, "%s.corrupt-%s", path, stamp)
			    : asprintf(&dest, "%s.corrupt-%s-%d", path, stamp, i)) < 0) {
			dest = NULL;
			rc = -ENOMEM;
			break;
		}
		rc = rename_noreplace(path, dest);
	}
	if (rc == 0) {
		sm_log(SM_LOG_WARNING, "whisper: %s: %s; moved aside to %s", path,
		       reason ? reason : "corrupt", dest);
		if (moved_to != NULL && moved_len > 0)
			snprintf(moved_to, moved_len, "%s", dest);
	} else {
		sm_log(SM_LOG_ERR, "whisper: %s: %s; cannot move it aside: %s", path,
		       reason ? reason : "corrupt", strerror(-rc));
	}
	free(dest);
	return rc;
}
