/*
 * dash — what every page of stackmon.cgi shares for one request: the
 * configuration, the requester and what they may read, the open index, the
 * validated query, and the buffer the page body is written into. main.c
 * fills it; the page_* functions (page.h) read it and write the body.
 */
#ifndef DASH_H
#define DASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "access.h"
#include "index.h"
#include "query.h"
#include "snapshot.h"

/* Most query keys any route accepts. */
#define DASH_MAX_KEYS 8

struct dash {
	/* configuration */
	const char *data_dir;	/* aggregator's data directory */
	const char *index_path; /* its index */
	const char *alert_dir;	/* stackmon-alert's data directory (its firing file); NULL = none */
	const char *title;	/* page title */
	double stale_after;	/* seconds after which a latest point is stale */
	/* requester */
	struct access *access; /* the access list */
	const char *user;      /* REMOTE_USER, or NULL when anonymous */
	bool admin;	       /* the user is an administrator */
	const char **projects; /* projects given to the user by name (access_projects) */
	size_t nprojects;
	char **project_names; /* their names in the index (NULL each when unknown) */
	/* request */
	const char *script;	      /* SCRIPT_NAME: the base of every link */
	const char *path;	      /* PATH_INFO of the route ("/", "/instance", …) */
	const struct query_key *keys; /* the route's query keys */
	size_t nkeys;
	char *q[DASH_MAX_KEYS]; /* query values by the route's key order; NULL = absent */
	double now;		/* wall clock at the start of the request */
	/* data */
	struct agg_index *idx; /* read-only: the request's one connection to the index */
	/* response */
	FILE *body; /* the body, in memory until the status is known */
	const char *content_type;
	char message[512]; /* error text for a non-200 answer */
};

/* Sets the message and returns `status`, for `return dash_fail(d, 404, …)`.
 * The message is shown to the requester: it must not reveal whether the
 * object exists. */
int dash_fail(struct dash *d, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs a refused request to stderr (the web server's error log) with the
 * user, the route and the reason, and returns dash_fail(d, status, what). */
int dash_deny(struct dash *d, int status, const char *what, const char *reason_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The validated value of query parameter `name`, or NULL when absent. */
const char *dash_param(const struct dash *d, const char *name);

/* True if the requester may read project `project_id` (NULL: instances
 * without a project, administrators only). */
bool dash_may_read(const struct dash *d, const char *project_id);

#endif
