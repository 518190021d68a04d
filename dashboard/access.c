/*
 * access — see access.h. The file is small and read once per process, so
 * rules are kept as flat arrays and searched linearly; a deployment with
 * thousands of users costs microseconds. Words are checked as strictly as
 * the query string is, so a rule can never name something a request could
 * not ask for.
 */
#include "access.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_err.h"
#include "sm_log.h"

/* One grant: user may read project. user NULL = anonymous. */
struct grant {
	char *user;
	char *project;
};

struct access {
	char **admins; /* administrator user names */
	size_t nadmins;
	struct grant *grants; /* user and anonymous grants, in file order */
	size_t ngrants;
};

bool access_user_valid(const char *user)
{
	size_t n = 0;

	if (user == NULL)
		return false;
	for (const unsigned char *p = (const unsigned char *)user; *p; p++, n++)
		if (*p <= ' ' || *p >= 0x7f || *p == '#' || n >= ACCESS_USER_MAX)
			return false;
	return n > 0;
}

bool access_project_valid(const char *id)
{
	size_t n = 0;

	if (id == NULL)
		return false;
	for (const char *p = id; *p; p++, n++) {
		char c = *p;

		if (n >= ACCESS_PROJECT_MAX ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

void access_destroy(struct access **self_p)
{
	struct access *self;

	if (self_p == NULL || *self_p == NULL)
		return;
	self = *self_p;
	for (size_t i = 0; i < self->nadmins; i++)
		free(self->admins[i]);
	for (size_t i = 0; i < self->ngrants; i++) {
		free(self->grants[i].user);
		free(self->grants[i].project);
	}
	free(self->admins);
	free(self->grants);
	free(self);
	*self_p = NULL;
}

static int add_admin(struct access *self, const char *user)
{
	char **a = realloc(self->admins, (self->nadmins + 1) * sizeof(*a));

	if (a == NULL)
		return -1;
	self->admins = a;
	if ((a[self->nadmins] = strdup(user)) == NULL)
		return -1;
	self->nadmins++;
	return 0;
}

static int add_grant(struct access *self, const char *user, const char *project)
{
	struct grant *g = realloc(self->grants, (self->ngrants + 1) * sizeof(*g));

	if (g == NULL)
		return -1;
	self->grants = g;
	g += self->ngrants;
	g->user = user ? strdup(user) : NULL;
	g->project = strdup(project);
	if ((user && g->user == NULL) || g->project == NULL) {
		free(g->user);
		free(g->project);
		return -1;
	}
	self->ngrants++;
	return 0;
}

/* Applies one line, already cut into words. Returns 0, or -1 with err set
 * to what is wrong (without the file/line prefix). */
static int apply_line(struct access *self, char **w, size_t n, char *err, size_t errlen)
{
	size_t first;
	const char *user = NULL;

	if (strcmp(w[0], "admin") == 0) {
		if (n < 2) {
			sm_err_set(err, errlen, "'admin' needs at least one user");
			return -1;
		}
		for (size_t i = 1; i < n; i++) {
			if (!access_user_valid(w[i])) {
				sm_err_set(err, errlen,
					"bad user name (printable ASCII, no '#', "
					"at most %d bytes)",
					ACCESS_USER_MAX);
				return -1;
			}
			if (add_admin(self, w[i]) < 0)
				goto oom;
		}
		return 0;
	}
	if (strcmp(w[0], "user") == 0) {
		if (n < 3) {
			sm_err_set(err, errlen, "'user' needs a user and at least one project id");
			return -1;
		}
		if (!access_user_valid(w[1])) {
			sm_err_set(err, errlen,
				"bad user name (printable ASCII, no '#', at most %d bytes)",
				ACCESS_USER_MAX);
			return -1;
		}
		user = w[1];
		first = 2;
	} else if (strcmp(w[0], "anonymous") == 0) {
		if (n < 2) {
			sm_err_set(err, errlen, "'anonymous' needs at least one project id");
			return -1;
		}
		first = 1;
	} else {
		sm_err_set(err, errlen, "unknown rule '%.32s' (admin, user or anonymous)", w[0]);
		return -1;
	}
	for (size_t i = first; i < n; i++) {
		if (!access_project_valid(w[i])) {
			sm_err_set(err, errlen, "bad project id ([A-Za-z0-9._-], at most %d bytes)",
				ACCESS_PROJECT_MAX);
			return -1;
		}
		if (add_grant(self, user, w[i]) < 0)
			goto oom;
	}
	return 0;
oom:
	sm_err_set(err, errlen, "out of memory");
	return -1;
}

/* Why read_line stopped. */
enum line_status {
	LINE_OK,    /* a line is in the buffer */
	LINE_EOF,   /* end of file, nothing read */
	LINE_NUL,   /* a NUL byte */
	LINE_LONG,  /* more than ACCESS_LINE_MAX bytes without a newline */
	LINE_BIG,   /* more than ACCESS_FILE_MAX bytes in all */
	LINE_ERROR, /* read error (errno set) */
};

/* Reads one line without its newline into buf, NUL-terminated, adding the
 * bytes read to *total. Stops at the first byte over a limit, so neither a
 * line nor a file without end is ever read whole. A last line without a
 * newline counts as a line. */
static enum line_status read_line(FILE *f, char buf[ACCESS_LINE_MAX + 1], size_t *total)
{
	size_t n = 0;
	int c;

	for (;;) {
		c = getc_unlocked(f);
		if (c == EOF) {
			if (ferror(f))
				return LINE_ERROR;
			if (n == 0)
				return LINE_EOF;
			break;
		}
		if (++*total > ACCESS_FILE_MAX)
			return LINE_BIG;
		if (c == '\n')
			break;
		if (c == '\0')
			return LINE_NUL;
		if (n == ACCESS_LINE_MAX)
			return LINE_LONG;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return LINE_OK;
}

struct access *access_load(const char *path, char *err, size_t errlen)
{
	struct access *self = NULL;
	FILE *f = NULL;
	char *line = NULL, why[160];
	size_t total = 0;
	unsigned lineno = 0;
	enum line_status st;

	if (path == NULL) {
		sm_err_set(err, errlen, "no access list configured (access_list)");
		goto fail;
	}
	f = fopen(path, "re");
	if (f == NULL) {
		sm_err_set(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	self = calloc(1, sizeof(*self));
	line = malloc(ACCESS_LINE_MAX + 1);
	if (self == NULL || line == NULL) {
		sm_err_set(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	while ((st = read_line(f, line, &total)) == LINE_OK) {
		char *words[256], *save = NULL, *w, *hash;
		size_t n = 0;

		lineno++;
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		for (w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
			if (n == sizeof(words) / sizeof(words[0])) {
				sm_err_set(err, errlen, "%s:%u: more than %zu words: split the line",
					path, lineno, n);
				goto fail;
			}
			words[n++] = w;
		}
		if (n == 0)
			continue;
		if (apply_line(self, words, n, why, sizeof(why)) < 0) {
			sm_err_set(err, errlen, "%s:%u: %s", path, lineno, why);
			goto fail;
		}
	}
	switch (st) {
	case LINE_EOF:
		break;
	case LINE_NUL:
		sm_err_set(err, errlen, "%s:%u: NUL byte in line", path, lineno + 1);
		goto fail;
	case LINE_LONG:
		sm_err_set(err, errlen, "%s:%u: line longer than %u bytes: split the line", path,
			lineno + 1, ACCESS_LINE_MAX);
		goto fail;
	case LINE_BIG:
		sm_err_set(err, errlen, "%s: larger than %u bytes", path, ACCESS_FILE_MAX);
		goto fail;
	case LINE_ERROR:
	case LINE_OK:
		sm_err_set(err, errlen, "%s: read error: %s", path, strerror(errno));
		goto fail;
	}
	free(line);
	fclose(f);
	return self;

fail:
	free(line);
	if (f)
		fclose(f);
	access_destroy(&self);
	return NULL;
}

bool access_is_admin(const struct access *self, const char *user)
{
	if (self == NULL || user == NULL)
		return false;
	for (size_t i = 0; i < self->nadmins; i++)
		if (strcmp(self->admins[i], user) == 0)
			return true;
	return false;
}

/* True if grant g is for `user` (NULL: anonymous grants only). Anonymous
 * grants apply to everyone. */
static bool grant_applies(const struct grant *g, const char *user)
{
	return g->user == NULL || (user != NULL && strcmp(g->user, user) == 0);
}

bool access_may_read(const struct access *self, const char *user, const char *project_id)
{
	if (self == NULL || project_id == NULL)
		return false;
	if (access_is_admin(self, user))
		return true;
	for (size_t i = 0; i < self->ngrants; i++)
		if (grant_applies(&self->grants[i], user) &&
		    strcmp(self->grants[i].project, project_id) == 0)
			return true;
	return false;
}

size_t access_projects(const struct access *self, const char *user, const char ***list)
{
	const char **out;
	size_t n = 0;

	*list = NULL;
	if (self == NULL || self->ngrants == 0)
		return 0;
	out = calloc(self->ngrants, sizeof(*out));
	if (out == NULL)
		return 0;
	/* Two passes: the user's own grants first, then the anonymous ones. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < self->ngrants; i++) {
			const struct grant *g = &self->grants[i];
			bool dup = false;

			if (pass == 0 ? (user == NULL || g->user == NULL || strcmp(g->user, user))
				      : g->user != NULL)
				continue;
			for (size_t j = 0; j < n && !dup; j++)
				dup = strcmp(out[j], g->project) == 0;
			if (!dup)
				out[n++] = g->project;
		}
	}
	if (n == 0) {
		free(out);
		out = NULL;
	}
	*list = out;
	return n;
}

bool access_anonymous_allowed(const struct access *self)
{
	for (size_t i = 0; self && i < self->ngrants; i++)
		if (self->grants[i].user == NULL)
			return true;
	return false;
}
