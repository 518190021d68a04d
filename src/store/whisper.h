/*
 * whisper — Graphite Whisper 1.1 round-robin files, written and read natively
 * in C. The aggregator's file layer: byte-compatible both ways with Debian's
 * python3-whisper (docs/WHISPER.md, /work/shared/whisper-format.md). A handle
 * caches the header and each archive's slot-0 timestamp once known, so the
 * hot path is pwrite/pread of points only: the header is written once, at
 * create, and never again.
 */
#ifndef WHISPER_H
#define WHISPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* On-disk sizes (all fields big-endian, no padding). */
#define WHISPER_METADATA_SIZE	  16 /* aggregationType, maxRetention, xff (float32), archiveCount */
#define WHISPER_ARCHIVE_INFO_SIZE 12 /* offset, secondsPerPoint, points */
#define WHISPER_POINT_SIZE	  12 /* uint32 timestamp, float64 value */

/* Most archives whisper_retention_parse accepts in one definition. Files
 * with more (made elsewhere) still open. */
#define WHISPER_MAX_ARCHIVES 32

/* Consolidation method, with the numbers the file stores. */
enum whisper_aggregation {
	WHISPER_AGG_AVERAGE = 1,
	WHISPER_AGG_SUM = 2,
	WHISPER_AGG_LAST = 3,
	WHISPER_AGG_MAX = 4,
	WHISPER_AGG_MIN = 5,
	WHISPER_AGG_AVG_ZERO = 6, /* missing points count as 0 */
	WHISPER_AGG_ABSMAX = 7,	  /* value with the largest |v| */
	WHISPER_AGG_ABSMIN = 8,	  /* value with the smallest |v| */
};

/*
 * Error codes. Functions return 0 on success, a negative errno for a system
 * error (-ENOSPC, -EIO, -EFBIG, -EEXIST, -EINVAL for a caller mistake, ...)
 * or one of these, which lie outside errno's range.
 */
#define WHISPER_ECORRUPT    (-4097) /* header is not a valid Whisper header */
#define WHISPER_ESIZE	    (-4098) /* file size differs from what its header says */
#define WHISPER_ENOTCOVERED (-4099) /* timestamp in the future or older than maxRetention */
#define WHISPER_ECONFIG	    (-4100) /* invalid archive list, retention text or xff */

/* Error detail for the calls that can fail in several ways. Optional: pass
 * NULL when the code alone is enough. */
struct whisper_err {
	int code;      /* as returned; 0 when no error */
	char msg[256]; /* one line for a log, names the file and the reason */
};

/* One archive as a caller asks for it (seconds per point, number of points). */
struct whisper_retention {
	uint32_t seconds_per_point; /* > 0 */
	uint32_t points;	    /* > 0 */
};

/* One archive as the file's header describes it. */
struct whisper_archive {
	uint32_t offset;	    /* absolute file offset of the archive's slot 0 */
	uint32_t seconds_per_point; /* step */
	uint32_t points;	    /* slots */
};

/* The header, as cached in an open handle (whisper_info). */
struct whisper_header {
	enum whisper_aggregation aggregation;
	uint32_t max_retention;			/* seconds: largest spp * points */
	float xff;				/* xFilesFactor, exactly as stored (float32) */
	uint32_t archive_count;			/* >= 1 */
	const struct whisper_archive *archives; /* finest first; owned by the handle */
	uint64_t file_size;			/* bytes; equals what the table implies */
};

/* A point to write. Timestamps are whole seconds: a caller holding a
 * fractional time truncates it first, as python-whisper's int() does. */
struct whisper_point {
	int64_t ts;
	double value;
};

/* Result of a fetch: values for [from, until) at `step`; a slot with no
 * data for its interval (python's None) is NaN. Free with
 * whisper_series_destroy. */
struct whisper_series {
	int64_t from;	 /* first interval returned */
	int64_t until;	 /* end of the range (exclusive), as python's timeInfo */
	uint32_t step;	 /* seconds per point of the archive read */
	size_t count;	 /* number of values; (until - from) / step except in python's
			  * long-range quirk of whisper_fetch_step (docs/WHISPER.md) */
	double values[]; /* count values */
};

/* Syscall counters of a handle, for tests and the benchmark. */
struct whisper_iostats {
	uint64_t preads;
	uint64_t pwrites;
	uint64_t bytes_read;
	uint64_t bytes_written;
};

/* Flags of whisper_create. The default preallocates the data area with
 * posix_fallocate (so later point writes never need new blocks: a full disk
 * fails the create, not a write) and fsyncs the file and its directory
 * before returning. */
enum whisper_create_flags {
	WHISPER_CREATE_SPARSE = 1u << 0,   /* ftruncate only: no space reserved */
	WHISPER_CREATE_ZEROFILL = 1u << 1, /* write the zeros (python's default) */
	WHISPER_CREATE_NOSYNC = 1u << 2,   /* skip fsync (tests, bulk tooling) */
};

/* Flags of whisper_open. */
enum whisper_open_flags {
	WHISPER_OPEN_RDONLY = 1u << 0,	/* fetch and info only; updates return -EBADF */
	WHISPER_OPEN_NOCACHE = 1u << 1, /* keep no file data between calls (see whisper_open) */
	WHISPER_OPEN_DEFER = 1u << 2,	/* defer propagation until needed (see whisper_flush) */
};

struct whisper;

/* ---- archive lists, aggregation names, errors (whisper_retention.c) ---- */

/*
 * Parses a retention definition as carbon's storage-schemas writes it:
 * comma-separated "PRECISION:POINTS" where each side is a number of seconds
 * (precision) or points, or a number with a unit (s, min/m, h, d, w, y and any
 * prefix of seconds/minutes/hours/days/weeks/years): "1s:3h,1m:7d,10m:1y".
 * A duration in POINTS is divided by the precision, rounding down, as
 * python-whisper does. Stores at most `max` archives in `out`, sets *n, then
 * validates and sorts them (whisper_retention_validate). Returns 0, or
 * WHISPER_ECONFIG with a message saying which archive is wrong and why.
 */
int whisper_retention_parse(const char *text, struct whisper_retention *out, size_t max, size_t *n,
			    struct whisper_err *err);

/*
 * Sorts the list finest first and checks python-whisper's rules: at least one
 * archive; no zero precision or point count; precisions strictly increasing,
 * each dividing the next; retention (spp * points) strictly increasing and
 * below 2^32 s; each archive holds at least next.spp / spp points. Returns 0
 * or WHISPER_ECONFIG (message names the archives in sorted order).
 */
int whisper_retention_validate(struct whisper_retention *list, size_t n, struct whisper_err *err);

/* "average", "sum", "last", "max", "min", "avg_zero", "absmax", "absmin" ->
 * 1..8; -1 if unknown. */
int whisper_aggregation_parse(const char *name);
/* The name of method 1..8, or "unknown". */
const char *whisper_aggregation_name(int method);

/* Text for any code these functions return (errno text for -errno). */
const char *whisper_strerror(int code);
/* True for the codes that mean "this file is not a usable Whisper file"
 * (WHISPER_ECORRUPT, WHISPER_ESIZE): move it aside with whisper_quarantine. */
bool whisper_err_is_corrupt(int code);

/* ---- files (whisper.c) ---- */

/*
 * Creates a Whisper file at `path` with the given archives (any order: they
 * are validated and sorted like python-whisper's create), aggregation method
 * and xFilesFactor (0..1; stored as float32). The file is built under a
 * temporary name in the same directory ("<path>.tmp-XXXXXX", mode 0644) and
 * renamed into place without replacing anything, so `path` is either absent
 * or complete, even after a crash. Returns 0, -EEXIST if `path` exists,
 * WHISPER_ECONFIG, or -errno (-ENOSPC, -EFBIG, ...); on failure nothing is
 * left behind.
 */
int whisper_create(const char *path, const struct whisper_retention *archives, size_t n,
		   enum whisper_aggregation aggregation, double xff, unsigned flags,
		   struct whisper_err *err);

/*
 * whisper_create for `relpath` below the directory `dirfd`, resolved
 * without following any symbolic link and without leaving the directory
 * (beneath.h): a link on the way is refused with -ELOOP, a path leaving it
 * with -EXDEV; the temporary file is made with O_EXCL in the same parent.
 * The error messages name relpath.
 */
int whisper_createat(int dirfd, const char *relpath, const struct whisper_retention *archives,
		     size_t n, enum whisper_aggregation aggregation, double xff, unsigned flags,
		     struct whisper_err *err);

/* Bytes of a file whisper_create makes with these (validated) archives. */
uint64_t whisper_file_size(const struct whisper_retention *archives, size_t n);

/*
 * Opens and validates a Whisper file: aggregation type 1..8, xff in [0, 1],
 * an archive table that create() could have written (contiguous offsets
 * after the table, the validate rules, maxRetention = largest retention),
 * and a file size exactly as the table implies. Returns a new handle, or
 * NULL with err->code set: WHISPER_ECORRUPT / WHISPER_ESIZE for a bad file
 * (whisper_err_is_corrupt), -errno otherwise. Caller closes the handle.
 *
 * The handle caches the header, each archive's slot-0 timestamp and the
 * finer points of the coarse interval being filled; it keeps the cache
 * equal to the file by patching it on each of its own writes. So while it
 * is open it must be the file's only writer (as the aggregator is; a second
 * writer would make propagation use stale points): open with
 * WHISPER_OPEN_NOCACHE to keep only the header and slot-0 timestamps, which
 * any Whisper writer leaves valid. Not thread-safe: one thread per handle
 * at a time (handles in different threads are independent).
 */
struct whisper *whisper_open(const char *path, unsigned flags, struct whisper_err *err);

/* whisper_open of `relpath` below `dirfd`, never following a link (the
 * file itself included: -ELOOP) nor leaving the directory (-EXDEV).
 * whisper_path then returns relpath. */
struct whisper *whisper_openat(int dirfd, const char *relpath, unsigned flags,
			       struct whisper_err *err);

/*
 * WHISPER_OPEN_DEFER: python-whisper rewrites the coarse point of the
 * current interval on every update (three pwrites per point for three
 * archives). In this mode a write to the finest archive only records that
 * its propagation is owed; a later write in the same interval of archive 1
 * supersedes it (python's later propagation rewrites everything the earlier
 * one wrote), and it is paid when a write for another interval comes, or by
 * whisper_flush, whisper_fetch* and whisper_close. After any of those the
 * file is byte for byte what python-whisper would have written; until then
 * OTHER readers see the coarse archives lag by their current interval, and
 * a crash (kill -9) loses at most that interval's coarse points (the finest
 * points are written at once). Writes to coarser archives (old points) and
 * batches spanning several coarse intervals pay first and run as usual.
 * Returns 0 or an error (the debt stays, a later flush retries).
 *
 * Paying can fail where the finest points' writes do not: a sparse file
 * (WHISPER_CREATE_SPARSE) on a full disk has the finest archive's current
 * pages but not yet a coarse archive's. Then the finest points are written
 * all the same and the update returns 0: the debt is kept, grows with the
 * chains of the new points (never past one lap of archive 0: older chains
 * are then given up, with a warning) and every later update, flush, fetch
 * or close retries it, oldest first. whisper_owed_error says it is failing.
 */
int whisper_flush(struct whisper *self);

/* The error of the last failed attempt to pay the deferred propagation
 * (-ENOSPC, ...), or 0 when nothing owed is failing. */
int whisper_owed_error(const struct whisper *self);

/* Pays any deferred propagation (a failure is logged), closes the file and
 * frees the handle; NULL-safe; nulls *self_p. */
void whisper_close(struct whisper **self_p);

/* The cached header; valid while the handle is open. */
const struct whisper_header *whisper_info(const struct whisper *self);
/* The path the handle was opened with. */
const char *whisper_path(const struct whisper *self);
/* Syscalls this handle has made since it was opened. */
struct whisper_iostats whisper_iostats(const struct whisper *self);

/*
 * python-whisper's update(path, value, ts, now): rejects ts > now or
 * now - ts >= maxRetention (WHISPER_ENOTCOVERED); writes the point in the
 * finest archive that covers now - ts, then propagates to coarser archives
 * while each propagation meets xff. -ERANGE if the interval does not fit the
 * format's uint32 timestamp. On a write error (-ENOSPC, -EIO, ...) points
 * already on disk stay intact; a point cut by a short write is invalidated
 * (its timestamp zeroed) when possible rather than left half-written. With
 * WHISPER_OPEN_DEFER the propagation may be owed instead (whisper_flush);
 * an error paying an older debt then does not stop a point bound for the
 * finest archive, which is written and 0 returned (whisper_owed_error), but
 * is returned for a point bound for a coarser one, which is not written.
 */
int whisper_update(struct whisper *self, int64_t ts, double value, int64_t now);

/*
 * python-whisper's update_many(path, points, now): points are grouped by the
 * finest archive that covers their age (older than every archive: dropped,
 * not an error; future points go to the finest archive), each group is
 * aligned, deduplicated (the latest timestamp of an interval wins; for equal
 * timestamps, the one earliest in `points`), written in contiguous runs and
 * propagated once per coarse interval touched, in the order CPython would.
 * `points` need not be sorted and is not modified. Errors and
 * WHISPER_OPEN_DEFER as whisper_update (a batch within one interval of
 * archive 1 is owed like one point; a batch wholly in the finest archive is
 * written even if its propagation, or an older debt, fails: that
 * propagation is then owed).
 */
int whisper_update_many(struct whisper *self, const struct whisper_point *points, size_t n,
			int64_t now);

/*
 * python-whisper's fetch(path, from, until, now): clamps [from, until] to
 * [now - maxRetention, now], picks the finest archive whose retention covers
 * now - from, and returns the intervals after `from` up to and including
 * `until`'s. Returns 0 and *out (caller destroys), or 0 with *out = NULL when
 * python returns None (range wholly in the future or before the retention),
 * -EINVAL if from > until, -errno / WHISPER_ESIZE on a read error.
 */
int whisper_fetch(struct whisper *self, int64_t from, int64_t until, int64_t now,
		  struct whisper_series **out);

/* As whisper_fetch, from the archive whose step is `step` seconds (python's
 * archiveToSelect); -EINVAL if the file has no such archive. */
int whisper_fetch_step(struct whisper *self, int64_t from, int64_t until, int64_t now,
		       uint32_t step, struct whisper_series **out);

/* Frees a series; NULL-safe; nulls *self_p. */
void whisper_series_destroy(struct whisper_series **self_p);

/*
 * Moves a bad file aside to "<path>.corrupt-<UTC YYYYmmddTHHMMSSZ>" (adding
 * "-N" if that name is taken; never replacing a file) and logs a warning with
 * `reason`. Writes the new name to `moved_to` when it is not NULL. Returns 0
 * or -errno. Close any handle on the file first.
 */
int whisper_quarantine(const char *path, const char *reason, char *moved_to, size_t moved_len);

#endif
