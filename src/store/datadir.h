/*
 * datadir — the aggregator's data directory on disk: checked and locked at
 * start (one aggregator per directory; a read-only or unwritable directory
 * is a clear error naming it), subdirectories made on demand, bad files
 * moved into quarantine/, a purged domain's files deleted. Paths given here
 * are relative ones built by layout.h; every call works through a
 * descriptor of the directory and resolves them with beneath.h: a symbolic
 * link met anywhere inside is refused (-ELOOP; -EXDEV for a way out), so
 * nothing outside the directory is ever touched.
 */
#ifndef STORE_DATADIR_H
#define STORE_DATADIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct datadir;

/* Whisper files and their bytes (apparent size). */
struct datadir_usage {
	uint64_t files;
	uint64_t bytes;
};

/*
 * Opens the data directory `path` (made, with its parents, if missing):
 * checks that a file can be created in it, takes an exclusive lock on
 * LAYOUT_LOCK_FILE (a second aggregator on the same directory is refused),
 * and makes domains/, hosts/ and quarantine/. Returns NULL with a one-line
 * reason naming the directory in `err`.
 */
struct datadir *datadir_open(const char *path, char *err, size_t errlen);
/* Releases the lock, frees, nulls *self_p; NULL-safe. */
void datadir_close(struct datadir **self_p);

/* The directory's absolute path. */
const char *datadir_path(const struct datadir *self);
/* "<absolute dir>/<relpath>" into buf: its length, or -1 if it does not fit. */
int datadir_abs(const struct datadir *self, const char *relpath, char *buf, size_t len);

/* The directory's descriptor (borrowed, for whisper_openat/createat:
 * relative paths below it, resolved without links). */
int datadir_fd(const struct datadir *self);

/* Makes directory `reldir` and its missing parents (mode 0755). 0 or -errno
 * (-ELOOP: a component is a link). */
int datadir_mkdirs(const struct datadir *self, const char *reldir);

/* Moves the file `relpath` into quarantine/ under a name that is never
 * taken (layout_quarantine_path, "-N" added if needed), logs one warning
 * with both paths and `reason`, and writes the new relative path to
 * `moved_to` (optional). 0, or -errno (the file then stays where it is;
 * -ELOOP/-EXDEV, a link on either side, is not logged: the caller's). */
int datadir_quarantine(const struct datadir *self, const char *relpath, const char *reason,
		       char *moved_to, size_t moved_len);

/* Deletes the files of directory `reldir` (one level: a domain's), then the
 * directory, then its parent if that is now empty (the "domains/ab" level),
 * adding what went to *freed (optional). A missing directory is success.
 * 0 or -errno of the first failure (-ELOOP/-EXDEV: a link on the way, and
 * nothing was deleted). */
int datadir_remove_dir(const struct datadir *self, const char *reldir, struct datadir_usage *freed);

/* Counts the Whisper files under domains/ and hosts/ and their bytes (a
 * scan at start: the seed of the disk budget). Links are not followed. */
void datadir_usage(const struct datadir *self, struct datadir_usage *out);

/* Deletes leftovers of Whisper creates cut short by a crash
 * ("*.wsp.tmp-XXXXXX") in `reldir`. Returns how many. */
int datadir_sweep_tmp(const struct datadir *self, const char *reldir);

/* True for the errors that mean "cannot write here now" and should be
 * handled like a full disk: -ENOSPC, -EDQUOT, -EFBIG, -EROFS, -EACCES, -EPERM. */
bool datadir_is_space_error(int code);

#endif
