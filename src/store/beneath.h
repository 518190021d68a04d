/*
 * beneath — opens, makes and splits paths below a directory descriptor so
 * that nothing outside that directory can be reached: no absolute path, no
 * "..", and no symbolic link anywhere on the way (a link planted in the
 * data directory would otherwise take a write, a rename or a delete to
 * wherever it points). openat2(2) with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS
 * where the kernel has it; a walk of O_NOFOLLOW openat calls, one component
 * at a time, where it returns ENOSYS. A refusal is -ELOOP (a link) or
 * -EXDEV (a path that would leave the directory).
 */
#ifndef STORE_BENEATH_H
#define STORE_BENEATH_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * openat(dirfd, relpath, flags, mode) resolved beneath dirfd without
 * following any link, the last component included. O_CLOEXEC is added.
 * Returns the new descriptor, or -errno: -ELOOP for a link met, -EXDEV for
 * an absolute path or a ".." component.
 */
int beneath_open(int dirfd, const char *relpath, int flags, mode_t mode);

/*
 * Opens the directory holding relpath's last component (beneath, no link
 * followed) and points *last at that component inside relpath. A relpath
 * without '/' gives a duplicate of dirfd. The last component must be a
 * plain name (-EXDEV for "", "." or ".."). Returns the descriptor or -errno.
 */
int beneath_open_parent(int dirfd, const char *relpath, const char **last);

/* mkdir -p of reldir beneath dirfd (mode for the directories it makes),
 * refusing links exactly like beneath_open. 0 or -errno. */
int beneath_mkdirs(int dirfd, const char *reldir, mode_t mode);

/* True for the codes above that mean "a link or an escape was refused". */
bool beneath_refused(int code);

/* Tests only: true makes every call use the component walk, as on a
 * kernel without openat2. */
void beneath_set_walk_only(bool on);

#endif
