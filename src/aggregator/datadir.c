/*
 * datadir — see datadir.h. Holds an O_DIRECTORY descriptor of the data
 * directory and does everything relative to it (mkdirat, renameat2,
 * unlinkat): a relative path can then only name something inside, and a
 * rename into quarantine/ is atomic and never replaces a file.
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
	self->lock_fd = openat(self->dirfd, LAYOUT_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
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

int datadir_mkdirs(const struct datadir *self, const char *reldir)
{
	char buf[LAYOUT_PATH_MAX];
	size_t n = strlen(reldir);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, reldir, n + 1);
	for (char *p = buf; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdirat(self->dirfd, buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdirat(self->dirfd, buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int datadir_quarantine(const struct datadir *self, const char *relpath, const char *reason,
		       char *moved_to, size_t moved_len)
{
	char dest[LAYOUT_PATH_MAX + 16];
	int n = layout_quarantine_path(relpath, time(NULL), dest, LAYOUT_PATH_MAX);
	int rc = -EEXIST;

	if (n < 0)
		return -ENAMETOOLONG;
	for (int i = 0; i < 1000 && rc == -EEXIST; i++) {
		if (i > 0)
			snprintf(dest + n, sizeof(dest) - (size_t)n, "-%d", i);
		rc = renameat2(self->dirfd, relpath, self->dirfd, dest, RENAME_NOREPLACE) < 0
			 ? -errno
			 : 0;
	}
	if (rc < 0) {
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

int datadir_remove_dir(const struct datadir *self, const char *reldir)
{
	int fd = openat(self->dirfd, reldir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char parent[LAYOUT_PATH_MAX];
	struct dirent *e;
	char *slash;
	DIR *dir;
	int first = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	dir = fdopendir(fd);
	if (!dir) {
		first = -errno;
		close(fd);
		return first;
	}
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, e->d_name, 0) < 0 && errno != ENOENT && first == 0)
			first = -errno;
	}
	closedir(dir);
	if (first < 0)
		return first;
	if (unlinkat(self->dirfd, reldir, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	/* The two-hex level holds other domains too: only an empty one goes. */
	snprintf(parent, sizeof(parent), "%s", reldir);
	slash = strrchr(parent, '/');
	if (slash) {
		*slash = '\0';
		if (strchr(parent, '/'))
			unlinkat(self->dirfd, parent, AT_REMOVEDIR);
	}
	return 0;
}

int datadir_sweep_tmp(const struct datadir *self, const char *reldir)
{
	int fd = openat(self->dirfd, reldir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
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

bool datadir_is_space_error(int code)
{
	return code == -ENOSPC || code == -EDQUOT || code == -EFBIG || code == -EROFS ||
	       code == -EACCES || code == -EPERM;
}
