/*
 * datadir — see datadir.h. Holds an O_DIRECTORY descriptor of the data
 * directory and does everything relative to it, resolved by beneath.h (no
 * symbolic link followed, no way out): a rename or unlink opens the parent
 * that way and acts on the last component only (renameat2, unlinkat), so a
 * link planted anywhere inside can neither redirect nor receive anything.
 * A rename into quarantine/ is atomic and never replaces a file.
 */
#define _GNU_SOURCE /* renameat2, RENAME_NOREPLACE */
#include "datadir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "layout.h"
#include "sm_log.h"

struct datadir {
	char *path;  /* absolute, as resolved at open */
	int dirfd;   /* O_DIRECTORY descriptor of path */
	int lock_fd; /* LAYOUT_LOCK_FILE, flock'ed exclusively while open */
};

/* mkdir -p of an absolute or relative path (from the current directory). */
static int mkdirs_abs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Proves that files can be created: the only test root cannot pass by
 * privilege (access(2) says yes to root on a chmod'ed directory). */
static int probe_write(int dirfd)
{
	char name[40];
	int fd, e;

	snprintf(name, sizeof(name), ".write-probe-%ld", (long)getpid());
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	e = write(fd, "x", 1) == 1 ? 0 : -errno;
	close(fd);
	unlinkat(dirfd, name, 0);
	return e;
}

struct datadir *datadir_open(const char *path, char *err, size_t errlen)
{
	static const char *const subdirs[] = {LAYOUT_DOMAINS_DIR, LAYOUT_HOSTS_DIR,
					      LAYOUT_QUARANTINE_DIR};
	struct datadir *self = calloc(1, sizeof(*self));
	struct statvfs vfs;
	char *real = NULL;
	int rc;

	if (!self) {
		snprintf(err, errlen, "data directory %s: out of memory", path);
		return NULL;
	}
	self->dirfd = self->lock_fd = -1;
	if (!path || !path[0]) {
		snprintf(err, errlen, "no data directory given (data_dir)");
		goto fail;
	}
	rc = mkdirs_abs(path);
	if (rc < 0) {
		snprintf(err, errlen, "data directory %s: cannot create it: %s", path,
			 strerror(-rc));
		goto fail;
	}
	real = realpath(path, NULL);
	self->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!real || self->dirfd < 0) {
		snprintf(err, errlen, "data directory %s: cannot open it: %s", path,
			 strerror(errno));
		goto fail;
	}
	self->path = real;
	real = NULL;
	if (fstatvfs(self->dirfd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
		snprintf(err, errlen,
			 "data directory %s is on a read-only filesystem: the aggregator must"
			 " write there",
			 self->path);
		goto fail;
	}
	rc = probe_write(self->dirfd);
	if (rc < 0) {
		snprintf(err, errlen, "data directory %s is not writable: %s", self->path,
			 strerror(-rc));
		goto fail;
	}
	self->lock_fd =
	    openat(self->dirfd, LAYOUT_LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (self->lock_fd < 0) {
		snprintf(err, errlen, "data directory %s: cannot create %s: %s", self->path,
			 LAYOUT_LOCK_FILE, strerror(errno));
		goto fail;
	}
	if (flock(self->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen,
			 errno == EWOULDBLOCK
			     ? "data directory %s is in use by another stackmon-aggregator (%s)"
			     : "data directory %s: cannot lock %s",
			 self->path, LAYOUT_LOCK_FILE);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (mkdirat(self->dirfd, subdirs[i], 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "data directory %s: cannot make %s/: %s", self->path,
				 subdirs[i], strerror(errno));
			goto fail;
		}
	}
	return self;
fail:
	free(real);
	datadir_close(&self);
	return NULL;
}

void datadir_close(struct datadir **self_p)
{
	struct datadir *self;

	if (!self_p || !*self_p)
		return;
	self = *self_p;
	if (self->lock_fd >= 0)
		close(self->lock_fd); /* releases the flock */
	if (self->dirfd >= 0)
		close(self->dirfd);
	free(self->path);
	free(self);
	*self_p = NULL;
}

const char *datadir_path(const struct datadir *self)
{
	return self->path;
}

int datadir_abs(const struct datadir *self, const char *relpath, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", self->path, relpath);

	return (n < 0 || (size_t)n >= len) ? -1 : n;
}

int datadir_fd(const struct datadir *self)
{
	return self->dirfd;
}

int datadir_mkdirs(const struct datadir *self, const char *reldir)
{
	if (strlen(reldir) >= LAYOUT_PATH_MAX)
		return -ENAMETOOLONG;
	return beneath_mkdirs(self->dirfd, reldir, 0755);
}

int datadir_quarantine(const struct datadir *self, const char *relpath, const char *reason,
		       char *moved_to, size_t moved_len)
{
	char dest[LAYOUT_PATH_MAX + 16];
	int n = layout_quarantine_path(relpath, time(NULL), dest, LAYOUT_PATH_MAX);
	const char *name, *dest_name;
	int from = -1, to = -1, rc = -EEXIST;

	if (n < 0)
		return -ENAMETOOLONG;
	from = beneath_open_parent(self->dirfd, relpath, &name);
	to = beneath_open_parent(self->dirfd, dest, &dest_name);
	if (from < 0 || to < 0) {
		rc = from < 0 ? from : to;
		goto out;
	}
	for (int i = 0; i < 1000 && rc == -EEXIST; i++) {
		if (i > 0)
			snprintf(dest + n, sizeof(dest) - (size_t)n, "-%d", i);
		rc = renameat2(from, name, to, dest_name, RENAME_NOREPLACE) < 0 ? -errno : 0;
	}
out:
	if (from >= 0)
		close(from);
	if (to >= 0)
		close(to);
	if (rc < 0) {
		/* A refused link is the caller's to report, once. */
		if (!beneath_refused(rc))
			sm_log_err("data %s/%s is unusable (%s) and could not be moved aside: %s",
				   self->path, relpath, reason, strerror(-rc));
		return rc;
	}
	sm_log_warnx("data %s/%s is unusable (%s): moved aside to %s; a new file replaces it",
		     self->path, relpath, reason, dest);
	if (moved_to)
		snprintf(moved_to, moved_len, "%s", dest);
	return 0;
}

/* Removes the empty directory relpath (its parent opened beneath). */
static int rmdir_beneath(const struct datadir *self, const char *relpath)
{
	const char *name;
	int parent = beneath_open_parent(self->dirfd, relpath, &name);
	int rc = 0;

	if (parent < 0)
		return parent;
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0)
		rc = -errno;
	close(parent);
	return rc;
}

int datadir_remove_dir(const struct datadir *self, const char *reldir, struct datadir_usage *freed)
{
	int fd = beneath_open(self->dirfd, reldir, O_RDONLY | O_DIRECTORY, 0);
	char parent[LAYOUT_PATH_MAX];
	struct dirent *e;
	char *slash;
	DIR *dir;
	int first = 0, rc;

	if (freed)
		*freed = (struct datadir_usage){0};
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	dir = fdopendir(fd);
	if (!dir) {
		first = -errno;
		close(fd);
		return first;
	}
	while ((e = readdir(dir)) != NULL) {
		struct stat st;
		bool sized;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		sized =
		    fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
		/* unlinkat never follows: a link in here goes, not its target. */
		if (unlinkat(fd, e->d_name, 0) < 0) {
			if (errno != ENOENT && first == 0)
				first = -errno;
		} else if (sized && freed) {
			freed->files++;
			freed->bytes += (uint64_t)st.st_size;
		}
	}
	closedir(dir);
	if (first < 0)
		return first;
	rc = rmdir_beneath(self, reldir);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	/* The two-hex level holds other domains too: only an empty one goes. */
	snprintf(parent, sizeof(parent), "%s", reldir);
	slash = strrchr(parent, '/');
	if (slash) {
		*slash = '\0';
		if (strchr(parent, '/'))
			rmdir_beneath(self, parent);
	}
	return 0;
}

int datadir_sweep_tmp(const struct datadir *self, const char *reldir)
{
	int fd = beneath_open(self->dirfd, reldir, O_RDONLY | O_DIRECTORY, 0);
	struct dirent *e;
	DIR *dir;
	int n = 0;

	if (fd < 0)
		return 0;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return 0;
	}
	while ((e = readdir(dir)) != NULL) {
		if (strstr(e->d_name, LAYOUT_FILE_SUFFIX ".tmp-") &&
		    unlinkat(fd, e->d_name, 0) == 0)
			n++;
	}
	closedir(dir);
	if (n > 0)
		sm_log_notice("data %s/%s: removed %d unfinished file(s) left by a crash",
			      self->path, reldir, n);
	return n;
}

/* Adds the Whisper files of directory fd to *u; with depth > 0 descends
 * that many more levels. Never follows a link (O_NOFOLLOW, lstat). */
static void usage_scan(int fd, int depth, struct datadir_usage *u)
{
	DIR *dir = fdopendir(fd);
	struct dirent *e;

	if (!dir) {
		close(fd);
		return;
	}
	while ((e = readdir(dir)) != NULL) {
		size_t len = strlen(e->d_name);
		struct stat st;

		if (e->d_name[0] == '.' || fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (depth > 0 && S_ISDIR(st.st_mode)) {
			int sub =
			    openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				usage_scan(sub, depth - 1, u);
		} else if (S_ISREG(st.st_mode) && len > strlen(LAYOUT_FILE_SUFFIX) &&
			   strcmp(e->d_name + len - strlen(LAYOUT_FILE_SUFFIX),
				  LAYOUT_FILE_SUFFIX) == 0) {
			u->files++;
			u->bytes += (uint64_t)st.st_size;
		}
	}
	closedir(dir);
}

void datadir_usage(const struct datadir *self, struct datadir_usage *out)
{
	int fd;

	*out = (struct datadir_usage){0};
	fd = beneath_open(self->dirfd, LAYOUT_DOMAINS_DIR, O_RDONLY | O_DIRECTORY, 0);
	if (fd >= 0)
		usage_scan(fd, 2, out); /* domains/<2 hex>/<uuid>/<metric>.wsp */
	fd = beneath_open(self->dirfd, LAYOUT_HOSTS_DIR, O_RDONLY | O_DIRECTORY, 0);
	if (fd >= 0)
		usage_scan(fd, 1, out); /* hosts/<host>/<metric>.wsp */
}

bool datadir_is_space_error(int code)
{
	return code == -ENOSPC || code == -EDQUOT || code == -EFBIG || code == -EROFS ||
	       code == -EACCES || code == -EPERM;
}
