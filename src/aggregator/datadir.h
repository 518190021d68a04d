/*
 * datadir — the aggregator's data directory on disk: checked and locked at
 * start (one aggregator per directory; a read-only or unwritable directory
 * is a clear error naming it), subdirectories made on demand, bad files
 * moved into quarantine/, a purged domain's files deleted. Paths given here
 * are relative ones built by layout.h; every call works through a
 * descriptor of the directory, so nothing outside it is ever touched.
 */
#ifndef AGG_DATADIR_H
#define AGG_DATADIR_H

#include <stdbool.h>
#include <stddef.h>

struct datadir;

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

/* Makes directory `reldir` and its missing parents (mode 0755). 0 or -errno. */
int datadir_mkdirs(const struct datadir *self, const char *reldir);

/* Moves the file `relpath` into quarantine/ under a name that is never
 * taken (layout_quarantine_path, "-N" added if needed), logs one warning
 * with both paths and `reason`, and writes the new relative path to
 * `moved_to` (optional). 0, or -errno (the file then stays where it is). */
int datadir_quarantine(const struct datadir *self, const char *relpath, const char *reason,
		       char *moved_to, size_t moved_len);

/* Deletes the files of directory `reldir` (one level: a domain's), then the
 * directory, then its parent if that is now empty (the "domains/ab" level).
 * A missing directory is success. 0 or -errno of the first failure. */
int datadir_remove_dir(const struct datadir *self, const char *reldir);

/* Deletes leftovers of Whisper creates cut short by a crash
 * ("*.wsp.tmp-XXXXXX") in `reldir`. Returns how many. */
int datadir_sweep_tmp(const struct datadir *self, const char *reldir);

/* True for the errors that mean "cannot write here now" and should be
 * handled like a full disk: -ENOSPC, -EDQUOT, -EFBIG, -EROFS, -EACCES, -EPERM. */
bool datadir_is_space_error(int code);

#endif
