/*
 * whisper — Whisper 1.1 files: create, open/validate, update, update_many,
 * fetch, quarantine. Every rule here mirrors python-whisper 1.1.4
 * (/usr/lib/python3/dist-packages/whisper.py) so the bytes we write are the
 * bytes it would write. The handle caches the header and, per archive, the
 * slot-0 timestamp once it is known: that timestamp only ever moves by whole
 * laps of the archive, so the timestamp -> slot mapping it defines never
 * changes, and the hot path needs no reads but the k finer points of a
 * propagation.
 */
#define _GNU_SOURCE /* renameat2, mkostemp, asprintf */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

struct whisper {
	int fd;				  /* open on the file */
	bool rdonly;			  /* opened WHISPER_OPEN_RDONLY */
	char *path;			  /* as given to whisper_open */
	struct whisper_header hdr;	  /* validated header; hdr.archives -> archives */
	struct whisper_archive *archives; /* hdr.archive_count entries, finest first */
	uint32_t *base;			  /* per archive: slot-0 timestamp, 0 = not known yet */
	uint8_t *buf;			  /* scratch: packed points to write or just read */
	size_t buf_cap;			  /* bytes */
	struct batch_point *batch;	  /* scratch of update_many: sorted copy of the points */
	struct run *runs;		  /* scratch of update_many: runs of one archive */
	uint32_t *keys;			  /* scratch of update_many: coarse intervals touched */
	uint32_t *order;		  /* ... and their distinct values in CPython set order */
	size_t batch_cap;		  /* entries in each of batch, runs, keys, order */
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

/* Grows a scratch array to hold `need` elements of `size` bytes. */
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

static int grow_buf(struct whisper *self, size_t points)
{
	if (points > SIZE_MAX / WHISPER_POINT_SIZE)
		return -ENOMEM;
	return grow((void **)&self->buf, &self->buf_cap, points * WHISPER_POINT_SIZE, 1);
}

static int grow_batch(struct whisper *self, size_t n)
{
	size_t cap = self->batch_cap;
	int rc;

	if (n <= cap)
		return 0;
	/* All four arrays share one capacity; grow each before recording it. */
	size_t c1 = cap, c2 = cap, c3 = cap, c4 = cap;
	rc = grow((void **)&self->batch, &c1, n, sizeof(*self->batch));
	if (rc == 0)
		rc = grow((void **)&self->runs, &c2, n, sizeof(*self->runs));
	if (rc == 0)
		rc = grow((void **)&self->keys, &c3, n, sizeof(*self->keys));
	if (rc == 0)
		rc = grow((void **)&self->order, &c4, n, sizeof(*self->order));
	if (rc == 0)
		self->batch_cap = n;
	return rc;
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
	if (rc < 0 && done % WHISPER_POINT_SIZE != 0) {
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

/* The slot-0 timestamp of archive a (python's "base"): 0 when the archive
 * was never written. Cached once non-zero and aligned, as from then on it
 * only changes by whole laps, which map every interval to the same slot;
 * note_slot0 keeps the cache equal to what we write there. */
static int get_base(struct whisper *self, size_t a, uint32_t *base)
{
	uint8_t b[4];
	int rc;

	if (self->base[a] != 0) {
		*base = self->base[a];
		return 0;
	}
	rc = io_pread(self, b, sizeof(b), self->archives[a].offset);
	if (rc < 0)
		return rc;
	*base = get_be32(b);
	if (*base != 0 && *base % self->archives[a].seconds_per_point == 0)
		self->base[a] = *base;
	return 0;
}

/* Records that slot 0 of archive a now holds timestamp ts. Normally ts is
 * base plus whole laps and nothing changes; but python's update_many can
 * place a point off its slot (a run glued after interval 0), and an
 * interval 0 in slot 0 reads as "empty": mirror the disk exactly. */
static void note_slot0(struct whisper *self, size_t a, uint32_t ts)
{
	self->base[a] = ts % self->archives[a].seconds_per_point == 0 ? ts : 0;
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

/* Writes one point at its slot: slot 0 when the archive is empty (python's
 * "first update"), which then becomes the archive's base. */
static int write_point(struct whisper *self, size_t a, int64_t interval, double value)
{
	const struct whisper_archive *ar = &self->archives[a];
	uint8_t p[WHISPER_POINT_SIZE];
	uint32_t base;
	size_t slot;
	int rc;

	rc = get_base(self, a, &base);
	if (rc < 0)
		return rc;
	slot = base == 0 ? 0 : slot_of(ar, base, interval);
	put_point(p, (uint32_t)interval, value);
	rc = io_pwrite(self, p, sizeof(p), slot_offset(ar, slot));
	if (rc == 0 && slot == 0)
		note_slot0(self, a, (uint32_t)interval);
	return rc;
}

/* Reads `count` points of archive a starting at `slot`, wrapping at the end,
 * into self->buf: one pread, two when the range wraps. */
static int read_points(struct whisper *self, size_t a, size_t slot, size_t count)
{
	const struct whisper_archive *ar = &self->archives[a];
	size_t n1 = count < ar->points - slot ? count : ar->points - slot;
	int rc;

	rc = grow_buf(self, count);
	if (rc < 0)
		return rc;
	rc = io_pread(self, self->buf, n1 * WHISPER_POINT_SIZE, slot_offset(ar, slot));
	if (rc == 0 && count > n1)
		rc = io_pread(self, self->buf + n1 * WHISPER_POINT_SIZE,
			      (count - n1) * WHISPER_POINT_SIZE, ar->offset);
	return rc;
}

/*
 * python's __propagate: consolidates the k points of archive `hi` that make
 * up the interval of archive `lo` containing `ts`, and writes the aggregate
 * to `lo` if the fraction of them present is >= xff. Returns 1 if written,
 * 0 if not (no point present, or xff not met), or an error.
 */
static int propagate(struct whisper *self, int64_t ts, size_t hi, size_t lo)
{
	const struct whisper_archive *H = &self->archives[hi];
	const struct whisper_archive *L = &self->archives[lo];
	int64_t start = ts - floor_mod(ts, L->seconds_per_point);
	uint32_t k = L->seconds_per_point / H->seconds_per_point;
	uint32_t hbase, known = 0;
	double acc = 0.0, pick = 0.0;
	size_t first;
	int rc;

	rc = get_base(self, hi, &hbase);
	if (rc < 0)
		return rc;
	first = hbase == 0 ? 0 : slot_of(H, hbase, start);
	rc = read_points(self, hi, first, k);
	if (rc < 0)
		return rc;

	/* One pass in time order. Sums are plain left-to-right additions from
	 * 0.0, like CPython 3.11's sum(); max/min keep the first of equals and
	 * never replace with NaN, like max()/min() (which only replace on >/<). */
	for (uint32_t j = 0; j < k; j++) {
		const uint8_t *p = self->buf + (size_t)j * WHISPER_POINT_SIZE;
		double v;

		if ((int64_t)get_be32(p) != start + (int64_t)j * H->seconds_per_point)
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
		pick = acc / (double)known;
		break;
	case WHISPER_AGG_SUM:
		pick = acc;
		break;
	case WHISPER_AGG_AVG_ZERO:
		pick = acc / (double)k;
		break;
	default:
		break;
	}
	rc = write_point(self, lo, start, pick);
	return rc < 0 ? rc : 1;
}

/* ---- update ---- */

int whisper_update(struct whisper *self, int64_t ts, double value, int64_t now)
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
		if ((int64_t)self->archives[a].seconds_per_point * self->archives[a].points >= diff)
			break;
	interval = ts - floor_mod(ts, self->archives[a].seconds_per_point);
	if (interval < 0 || interval > UINT32_MAX)
		return -ERANGE;
	rc = write_point(self, a, interval, value);
	if (rc < 0)
		return rc;
	for (size_t lo = a + 1; lo < h->archive_count; lo++) {
		rc = propagate(self, interval, lo - 1, lo);
		if (rc <= 0)
			return rc;
	}
	return 0;
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

/* Writes `count` packed points (self->buf from index `first`) at `slot` of
 * archive a, wrapping at the archive's end. */
static int write_run(struct whisper *self, size_t a, size_t first, size_t count, size_t slot)
{
	const struct whisper_archive *ar = &self->archives[a];
	size_t n1 = count < ar->points - slot ? count : ar->points - slot;
	const uint8_t *p = self->buf + first * WHISPER_POINT_SIZE;
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

/* Propagates the points batch[lo..hi) just written to archive a into every
 * coarser archive, as python's __archive_update_many does: once per distinct
 * coarse interval, in CPython's set order, going one level coarser only if
 * at least one propagation at this level wrote. */
static int propagate_batch(struct whisper *self, size_t a, size_t lo, size_t hi)
{
	size_t higher = a;
	size_t n = hi - lo, distinct;
	int rc;

	for (size_t l = a + 1; l < self->hdr.archive_count; l++) {
		uint32_t spp = self->archives[l].seconds_per_point;
		bool all_same = true, any = false;

		for (size_t i = 0; i < n; i++) {
			int64_t t = self->batch[lo + i].ts;

			self->keys[i] = (uint32_t)(t - floor_mod(t, spp));
			all_same = all_same && self->keys[i] == self->keys[0];
		}
		if (all_same) {
			self->order[0] = self->keys[0];
			distinct = 1;
		} else {
			rc = pyset_order(self->keys, n, self->order, &distinct);
			if (rc < 0)
				return rc;
		}
		for (size_t i = 0; i < distinct; i++) {
			rc = propagate(self, self->order[i], higher, l);
			if (rc < 0)
				return rc;
			any = any || rc > 0;
		}
		if (!any)
			break;
		higher = l;
	}
	return 0;
}

/* python's __archive_update_many for the chronological points batch[lo..hi). */
static int archive_update(struct whisper *self, size_t a, size_t lo, size_t hi)
{
	const struct whisper_archive *ar = &self->archives[a];
	uint32_t step = ar->seconds_per_point;
	size_t nruns = 0, packed = 0;
	int64_t prev = 0;
	bool have_prev = false;
	uint32_t base;
	int64_t anchor;
	int rc;

	/* python's struct.pack fails on intervals outside uint32: check them all
	 * before writing any, so the group is written whole or not at all. */
	for (size_t i = lo; i < hi; i++) {
		int64_t t = self->batch[i].ts;
		int64_t interval = t - floor_mod(t, step);

		if (interval < 0 || interval > UINT32_MAX)
			return -ERANGE;
	}
	rc = grow_buf(self, hi - lo);
	if (rc < 0)
		return rc;
	for (size_t i = lo; i < hi; i++) {
		int64_t interval = self->batch[i].ts - floor_mod(self->batch[i].ts, step);

		/* Of several points in one interval the chronologically last wins. */
		if (i + 1 < hi) {
			int64_t t = self->batch[i + 1].ts;
			if (t - floor_mod(t, step) == interval)
				continue;
		}
		/* python tests "not previousInterval", so a previous interval of 0
		 * (possible only for timestamps below one step) continues a run. */
		if (!have_prev || prev == 0 || interval == prev + step) {
			if (nruns == 0) {
				self->runs[0].first = packed;
				self->runs[0].count = 0;
				nruns = 1;
			}
		} else {
			struct run *r = &self->runs[nruns - 1];
			r->start = prev - (int64_t)step * (int64_t)(r->count - 1);
			self->runs[nruns].first = packed;
			self->runs[nruns].count = 0;
			nruns++;
		}
		put_point(self->buf + packed * WHISPER_POINT_SIZE, (uint32_t)interval,
			  self->batch[i].value);
		packed++;
		self->runs[nruns - 1].count++;
		prev = interval;
		have_prev = true;
	}
	if (nruns > 0) {
		struct run *r = &self->runs[nruns - 1];
		r->start = prev - (int64_t)step * (int64_t)(r->count - 1);
	}

	rc = get_base(self, a, &base);
	if (rc < 0)
		return rc;
	anchor = base != 0 ? base : self->runs[0].start; /* empty archive: first run at slot 0 */
	for (size_t r = 0; r < nruns; r++) {
		size_t first = self->runs[r].first, count = self->runs[r].count;
		int64_t start = self->runs[r].start;

		/* A run longer than the archive (only possible with future points)
		 * would make python write past the archive's end; we keep its
		 * newest lap, which is what python leaves when it stays inside. */
		if (count > ar->points) {
			size_t skip = count - ar->points;
			first += skip;
			start += (int64_t)skip * step;
			count = ar->points;
		}
		rc = write_run(self, a, first, count,
			       (size_t)floor_mod(floor_div(start - anchor, step), ar->points));
		if (rc < 0)
			return rc;
	}
	return propagate_batch(self, a, lo, hi);
}

int whisper_update_many(struct whisper *self, const struct whisper_point *points, size_t n,
			int64_t now)
{
	const struct whisper_header *h = &self->hdr;
	bool sorted = true;
	size_t a = 0, hi;
	int rc;

	if (self->rdonly)
		return -EBADF;
	if (n == 0)
		return 0;
	rc = grow_batch(self, n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		self->batch[i].ts = points[i].ts;
		self->batch[i].value = points[i].value;
		self->batch[i].idx = i;
		if (i > 0 && points[i].ts <= points[i - 1].ts)
			sorted = false;
	}
	if (!sorted)
		qsort(self->batch, n, sizeof(*self->batch), batch_cmp);

	/* Newest to oldest: a point goes to the finest archive whose retention
	 * covers its age; each group is committed when the walk moves past it. */
	hi = n;
	for (size_t i = n; i-- > 0;) {
		int64_t age;

		if (__builtin_sub_overflow(now, self->batch[i].ts, &age))
			age = INT64_MAX;
		while ((int64_t)self->archives[a].seconds_per_point * self->archives[a].points <
		       age) {
			if (hi > i + 1) {
				rc = archive_update(self, a, i + 1, hi);
				if (rc < 0)
					return rc;
			}
			hi = i + 1;
			if (++a == h->archive_count)
				return 0; /* this point and all older ones fit no archive */
		}
	}
	if (hi > 0)
		rc = archive_update(self, a, 0, hi);
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
		rc = read_points(self, a, from_slot, count);
		if (rc < 0) {
			free(s);
			return rc;
		}
		for (size_t i = 0; i < count; i++) {
			const uint8_t *p = self->buf + i * WHISPER_POINT_SIZE;

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
	int64_t oldest = now - (int64_t)h->max_retention;
	size_t a;

	*out = NULL;
	/* bounds keep the arithmetic below free of overflow for any input */
	if (from > until || from < -WHISPER_TIME_LIMIT || until > WHISPER_TIME_LIMIT ||
	    now < -WHISPER_TIME_LIMIT || now > WHISPER_TIME_LIMIT)
		return -EINVAL;
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

struct whisper *whisper_open(const char *path, unsigned flags, struct whisper_err *err)
{
	struct whisper *self = NULL;
	uint8_t meta[WHISPER_METADATA_SIZE];
	uint8_t *table = NULL;
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
		goto fail;
	}
	self->fd = -1;
	self->rdonly = (flags & WHISPER_OPEN_RDONLY) != 0;
	self->path = strdup(path);
	if (self->path == NULL) {
		whisper_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	self->fd = open(path, (self->rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
	if (self->fd < 0) {
		rc = -errno;
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
	rc = io_pread(self, meta, sizeof(meta), 0);
	if (rc < 0) {
		whisper_err_set(err, rc, "%s: reading the header: %s", path, whisper_strerror(rc));
		goto fail;
	}
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
	table = malloc((size_t)count * WHISPER_ARCHIVE_INFO_SIZE);
	self->archives = calloc(count, sizeof(*self->archives));
	self->base = calloc(count, sizeof(*self->base));
	if (table == NULL || self->archives == NULL || self->base == NULL) {
		whisper_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	rc =
	    io_pread(self, table, (size_t)count * WHISPER_ARCHIVE_INFO_SIZE, WHISPER_METADATA_SIZE);
	if (rc < 0) {
		whisper_err_set(err, rc, "%s: reading the archive table: %s", path,
				whisper_strerror(rc));
		goto fail;
	}
	rc = check_header(path, meta, table, count, (uint64_t)st.st_size, self->archives, err);
	if (rc < 0)
		goto fail;

	uint32_t xbits = get_be32(meta + 8);
	memcpy(&self->hdr.xff, &xbits, sizeof(self->hdr.xff));
	self->hdr.aggregation = (enum whisper_aggregation)get_be32(meta);
	self->hdr.max_retention = get_be32(meta + 4);
	self->hdr.archive_count = count;
	self->hdr.archives = self->archives;
	self->hdr.file_size = (uint64_t)st.st_size;
	free(table);
	return self;
fail:
	free(table);
	whisper_close(&self);
	return NULL;
}

void whisper_close(struct whisper **self_p)
{
	struct whisper *self;

	if (self_p == NULL || *self_p == NULL)
		return;
	self = *self_p;
	if (self->fd >= 0)
		close(self->fd);
	free(self->path);
	free(self->archives);
	free(self->base);
	free(self->buf);
	free(self->batch);
	free(self->runs);
	free(self->keys);
	free(self->order);
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

/* Makes a rename or link in `path`'s directory durable. */
static int sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, rc = 0;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

/* Renames from -> to unless `to` exists (-EEXIST). renameat2(NOREPLACE) where
 * the filesystem has it; link + unlink otherwise, also atomic. */
static int rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -errno;
	if (link(from, to) < 0)
		return -errno;
	unlink(from);
	return 0;
}

int whisper_create(const char *path, const struct whisper_retention *archives, size_t n,
		   enum whisper_aggregation aggregation, double xff, unsigned flags,
		   struct whisper_err *err)
{
	struct whisper_retention sorted[WHISPER_MAX_ARCHIVES];
	uint8_t header[WHISPER_METADATA_SIZE + WHISPER_MAX_ARCHIVES * WHISPER_ARCHIVE_INFO_SIZE];
	size_t hsize = WHISPER_METADATA_SIZE + n * WHISPER_ARCHIVE_INFO_SIZE;
	char *tmp = NULL;
	uint64_t off, data;
	struct stat st;
	int fd = -1, rc;
	float xf;
	uint32_t xbits;

	if (err != NULL) {
		err->code = 0;
		err->msg[0] = '\0';
	}
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
	off = hsize;
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
	data = off - hsize;
	xf = (float)xff; /* python: struct.pack("!f"), round to nearest */
	memcpy(&xbits, &xf, sizeof(xbits));
	put_be32(header, (uint32_t)aggregation);
	/* sorted by precision with strictly increasing retention: the last is longest */
	put_be32(header + 4, sorted[n - 1].seconds_per_point * sorted[n - 1].points);
	put_be32(header + 8, xbits);
	put_be32(header + 12, (uint32_t)n);

	if (lstat(path, &st) == 0)
		return whisper_err_set(err, -EEXIST, "%s: file already exists", path);
	if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0) {
		tmp = NULL;
		rc = whisper_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		free(tmp);
		tmp = NULL; /* nothing to unlink */
		whisper_err_set(err, rc, "%s: creating a temporary file: %s", path, strerror(-rc));
		goto out;
	}
	/* mkostemp makes 0600; graphite-web and the dashboard read as other users */
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
	rc = rename_noreplace(tmp, path);
	if (rc < 0) {
		whisper_err_set(err, rc, "%s: %s", path,
				rc == -EEXIST ? "file already exists" : strerror(-rc));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if (!(flags & WHISPER_CREATE_NOSYNC)) {
		rc = sync_dir(path);
		if (rc < 0) /* the file is complete and in place; only durability is in doubt */
			whisper_err_set(err, rc, "%s: fsync of its directory: %s", path,
					strerror(-rc));
	}
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	return rc;
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
