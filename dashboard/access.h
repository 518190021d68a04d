/*
 * access — who may see what: the dashboard's access-list file, read on every
 * request (a CGI process lives for one request, so an edit takes effect at
 * once). It maps web-server users (REMOTE_USER) to the project ids they may
 * read, names the administrators who see every project and the host pages,
 * and may open projects to requests without an authenticated user. Any
 * error in the file refuses every request: the list fails closed.
 *
 * Format (docs/DASHBOARD.md), one rule per line, '#' starts a comment:
 *   admin USER...            administrators
 *   user USER PROJECT...     USER may read these projects (lines add up)
 *   anonymous PROJECT...     anyone, signed in or not, may read these
 */
#ifndef DASH_ACCESS_H
#define DASH_ACCESS_H

#include <stdbool.h>
#include <stddef.h>

/* Limits of the file's words, lines and size. */
#define ACCESS_USER_MAX	   128	       /* bytes of printable ASCII, no space, no '#' */
#define ACCESS_PROJECT_MAX 64	       /* [A-Za-z0-9._-], as Keystone ids */
#define ACCESS_LINE_MAX	   (16u << 10) /* bytes of one line, without its newline */
#define ACCESS_FILE_MAX	   (4u << 20)  /* bytes of the whole file */

struct access; /* opaque */

/* Reads the list at `path`. Returns NULL on any error (missing or
 * unreadable file, bad line, word too long, a NUL byte, a line over
 * ACCESS_LINE_MAX, a file over ACCESS_FILE_MAX) with "PATH:LINE: what" or
 * "PATH: what" in err. The limits hold while reading: a file without end
 * (/dev/zero, a pipe) costs at most ACCESS_FILE_MAX bytes read and one
 * line's buffer, never the whole stream in memory. */
struct access *access_load(const char *path, char *err, size_t errlen);
/* Frees the list; NULL-safe; nulls *self_p. */
void access_destroy(struct access **self_p);

/* True if `user` (NULL = no authenticated user) is an administrator. */
bool access_is_admin(const struct access *self, const char *user);

/* True if `user` (NULL = anonymous) may read project `project_id`:
 * administrators read all, others their own and the anonymous ones. */
bool access_may_read(const struct access *self, const char *user, const char *project_id);

/* The projects `user` (NULL = anonymous) is given by name, in file order
 * without repeats: own ones first, then anonymous ones. Administrators get
 * only what is written for them too (they may read all others anyway).
 * Returns the count; (*list)[i] stays valid while the access list lives.
 * The array is malloc'd (caller frees it); *list = NULL when count is 0. */
size_t access_projects(const struct access *self, const char *user, const char ***list);

/* True if a request without an authenticated user may read anything. */
bool access_anonymous_allowed(const struct access *self);

/* True if `user` is a well-formed user name for the list (used on
 * REMOTE_USER before it is compared or logged as a name). */
bool access_user_valid(const char *user);
/* True if `id` is a well-formed project id. */
bool access_project_valid(const char *id);

#endif
