/*
 * beneath — see beneath.h. The walk is the fallback and the reference: it
 * opens each directory with O_DIRECTORY|O_NOFOLLOW from the previous one,
 * so a link anywhere stops it. openat2 does the same in one syscall, and
 * also refuses a link swapped in while it resolves (the walk cannot race
 * either: every step holds the previous directory's descriptor).
 */
#define _GNU_SOURCE
#include "beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define COMPONENT_MAX 255 /* NAME_MAX */

static bool walk_only;	/* tests: pretend openat2 is missing */
static bool no_openat2; /* learnt once: this kernel returned ENOSYS */

void beneath_set_walk_only(bool on)
{
	walk_only = on;
}

bool beneath_refused(int code)
{
	return code == -ELOOP || code == -EXDEV;
}

/* -ELOOP when `name` in `dirfd` is a link: O_NOFOLLOW|O_DIRECTORY on a
 * link may say ENOTDIR instead, which would hide why it was refused. */
static int why_not(int dirfd, const char *name, int code)
{
	struct stat st;

	if (code == -ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return -ELOOP;
	return code;
}

/* Copies the component of `p` up to the next '/' into `name`; returns
 * where the next one starts, NULL for a bad component. */
static const char *next_component(const char *p, char name[COMPONENT_MAX + 1], bool *last)
{
	const char *slash = strchr(p, '/');
	size_t n = slash ? (size_t)(slash - p) : strlen(p);

	if (n == 0 || n > COMPONENT_MAX)
		return NULL;
	memcpy(name, p, n);
	name[n] = '\0';
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return NULL;
	*last = slash == NULL;
	return slash ? slash + 1 : p + n;
}

/* The walk: every directory opened O_NOFOLLOW from its parent's fd; with
 * `mkdir_mode` (non-zero) each missing directory is made first. */
static int walk(int dirfd, const char *relpath, int flags, mode_t mode, mode_t mkdir_mode)
{
	char name[COMPONENT_MAX + 1];
	const char *p = relpath;
	int cur = dirfd, fd = -EXDEV;
	bool last = false;

	if (relpath[0] == '/')
		return -EXDEV;
	while (!last) {
		p = next_component(p, name, &last);
		if (!p) {
			fd = -EXDEV;
			break;
		}
		if (mkdir_mode && mkdirat(cur, name, mkdir_mode) < 0 && errno != EEXIST) {
			fd = -errno;
			break;
		}
		if (last && !mkdir_mode)
			fd = openat(cur, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
		else
			fd = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		fd = fd < 0 ? why_not(cur, name, -errno) : fd;
		if (cur != dirfd)
			close(cur);
		cur = dirfd; /* closed: nothing left to close below */
		if (fd < 0)
			break;
		cur = fd;
	}
	if (fd < 0 && cur != dirfd)
		close(cur);
	return fd;
}

int beneath_open(int dirfd, const char *relpath, int flags, mode_t mode)
{
	if (!walk_only && !no_openat2) {
		struct open_how how = {
		    .flags = (uint64_t)(flags | O_CLOEXEC),
		    .mode = (flags & O_CREAT) ? mode : 0,
		    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
		};
		long fd = syscall(SYS_openat2, dirfd, relpath, &how, sizeof(how));

		if (fd >= 0)
			return (int)fd;
		if (errno != ENOSYS)
			return -errno;
		no_openat2 = true;
	}
	return walk(dirfd, relpath, flags, mode, 0);
}

int beneath_open_parent(int dirfd, const char *relpath, const char **last)
{
	const char *slash = strrchr(relpath, '/');
	char dir[4096];
	size_t n;
	int fd;

	*last = slash ? slash + 1 : relpath;
	if (!**last || strcmp(*last, ".") == 0 || strcmp(*last, "..") == 0)
		return -EXDEV;
	if (!slash) {
		fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	n = (size_t)(slash - relpath);
	if (n == 0)
		return -EXDEV; /* "/name": absolute */
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, relpath, n);
	dir[n] = '\0';
	return beneath_open(dirfd, dir, O_RDONLY | O_DIRECTORY, 0);
}

int beneath_mkdirs(int dirfd, const char *reldir, mode_t mode)
{
	/* mkdirat needs each parent anyway: the walk is the natural way, and
	 * it is as strict as openat2 here. */
	int fd = walk(dirfd, reldir, 0, 0, mode ? mode : 0755);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}
