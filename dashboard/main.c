/*
 * stackmon.cgi — the dashboard (docs/DASHBOARD.md; paper §3.2, §4.2): one
 * CGI process per request. Reads top to bottom: method → configuration →
 * route and query → access list and requester → index (read-only) → the
 * page → status, security headers and body. The body is built in memory,
 * so a failure half-way still answers with a clean error page; nothing is
 * ever written to disk, and no failure ends in a crash or an empty reply.
 */
#define _GNU_SOURCE /* fopencookie */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "dash.h"
#include "index.h"
#include "page.h"
#include "sm_clock.h"
#include "sm_config.h"
#include "sm_log.h"

#define DEFAULT_CONF "/etc/stackmon/dashboard.conf"

static const struct sm_config_key dash_keys[] = {
    {"data_dir", SM_CFG_STRING, 0, 0, NULL,
     "the aggregator's data directory (its Whisper files and index)"},
    {"index", SM_CFG_STRING, 0, 0, NULL, "the aggregator's index; unset: DATA_DIR/index.sqlite"},
    {"access_list", SM_CFG_STRING, 0, 0, "/etc/stackmon/access.list",
     "who may see which project (docs/DASHBOARD.md)"},
    {"alert_dir", SM_CFG_STRING, 0, 0, NULL,
     "stackmon-alert's data directory: its firing alerts shown on the tenant and instance"
     " pages; unset = no alerts shown"},
    {"stale_after", SM_CFG_DOUBLE, 0.1, 86400, "5",
     "seconds after which an instance's latest point is shown as stale"},
    {"title", SM_CFG_STRING, 0, 0, "StackMon", "title of every page"},
};

/* The body, kept in memory until the status is known. A stream of our own
 * rather than open_memstream: that one zeroes and copies its buffer at
 * every doubling, a tenth of the CPU time of a 500 KB page. This one starts
 * at BODY_START bytes and grows by realloc (mremap at these sizes). */
#define BODY_START (256u << 10)

struct body {
	char *data;
	size_t len, cap;
};

static ssize_t body_write(void *cookie, const char *buf, size_t n)
{
	struct body *b = cookie;

	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : BODY_START;
		char *d;

		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (d == NULL)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, buf, n);
	b->len += n;
	return (ssize_t)n;
}

/* What one response needs beyond the body. */
struct reply {
	int status;
	bool json;
	bool head; /* HEAD: headers only */
};

static const struct page_route *route_find(const char *path)
{
	for (const struct page_route *r = page_routes; r->path; r++)
		if (strcmp(r->path, path) == 0)
			return r;
	return NULL;
}

static int name_cb(void *arg, const struct index_project *p)
{
	struct dash *d = arg;

	for (size_t i = 0; i < d->nprojects; i++)
		if (d->project_names[i] == NULL && p->project_name &&
		    strcmp(d->projects[i], p->project_id) == 0)
			d->project_names[i] = strdup(p->project_name);
	return 0;
}

/* The names of the requester's projects, for the tabs (missing ones stay
 * NULL and show as ids). */
static void load_project_names(struct dash *d)
{
	if (d->nprojects == 0)
		return;
	d->project_names = calloc(d->nprojects, sizeof(*d->project_names));
	if (d->project_names)
		index_list_projects(d->idx, name_cb, d);
}

/* Appends the name of group `gid` (its number if it has none) to buf. */
static void add_group(char *buf, size_t len, const char *sep, gid_t gid)
{
	struct group *gr = getgrgid(gid);
	size_t o = strlen(buf);

	if (gr)
		snprintf(buf + o, len - o, "%s%s", sep, gr->gr_name);
	else
		snprintf(buf + o, len - o, "%s%ld", sep, (long)gid);
}

/* "user www-data, groups www-data adm": who this process runs as, with
 * the groups the web server started it with (a user added to a group
 * since has it only in processes started after). */
static void who_am_i(char *buf, size_t len)
{
	struct passwd *pw = getpwuid(geteuid());
	gid_t groups[64];
	int n = getgroups(64, groups);

	if (pw)
		snprintf(buf, len, "user %s, groups ", pw->pw_name);
	else
		snprintf(buf, len, "uid %ld, groups ", (long)geteuid());
	add_group(buf, len, "", getegid());
	for (int i = 0; i < n; i++)
		if (groups[i] != getegid())
			add_group(buf, len, " ", groups[i]);
}

/* Appends "; WHAT is OWNER:GROUP MODE" for the file at `path` to buf. */
static void add_owner(char *buf, size_t len, const char *what, const char *path)
{
	struct stat st;
	struct passwd *pw;
	size_t o = strlen(buf);

	if (stat(path, &st) < 0)
		return;
	pw = getpwuid(st.st_uid);
	if (pw)
		snprintf(buf + o, len - o, "; %s is %s:", what, pw->pw_name);
	else
		snprintf(buf + o, len - o, "; %s is %ld:", what, (long)st.st_uid);
	add_group(buf, len, "", st.st_gid);
	o = strlen(buf);
	snprintf(buf + o, len - o, " %04o", (unsigned)(st.st_mode & 07777));
}

/* Answers 503 for an index that cannot be opened, telling apart the cases
 * whose remedy differs: no file yet (start the aggregator), no permission
 * on the index or its -wal or -shm file (the web server's user and
 * groups), anything else as the index module reports it (index_open has
 * logged the details). */
static int index_unavailable(struct dash *d, enum index_error ierr)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char path[4300], who[256] = "", owner[256] = "";

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		int fd, e;

		snprintf(path, sizeof(path), "%s%s", d->index_path, suffix[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		e = errno;
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (e == ENOENT && i == 0)
			return dash_fail(d, 503,
					 "The aggregator's index %s does not exist: is the "
					 "aggregator running?",
					 path);
		if (e != EACCES && e != EPERM)
			continue;
		who_am_i(who, sizeof(who));
		add_owner(owner, sizeof(owner), "the file", path);
		if (owner[0] == '\0')
			add_owner(owner, sizeof(owner), "the data directory", d->data_dir);
		sm_log_err("index %s: %s as %s%s", path, strerror(e), who, owner);
		return dash_fail(d, 503,
				 "Permission denied reading the aggregator's index %s as %s%s. "
				 "Give that user read access, e.g. through the file's group, and "
				 "restart the web server: it gets a new group only when it "
				 "starts.",
				 path, who, owner);
	}
	return dash_fail(d, 503, "The aggregator's index cannot be read (%s).",
			 index_error_name(ierr));
}

/* Everything before the page runs; returns 200 to go on, or the status. */
static int prepare(struct dash *d, struct sm_config **cfg, const struct page_route **route,
		   struct reply *rep)
{
	const char *conf = getenv("STACKMON_DASHBOARD_CONF");
	const char *method = getenv("REQUEST_METHOD");
	const char *pathinfo = getenv("PATH_INFO");
	const char *user = getenv("REMOTE_USER");
	static char index_buf[4200];
	char err[512], why[160];
	enum index_error ierr;

	d->script = getenv("SCRIPT_NAME");
	if (d->script == NULL || strlen(d->script) > 1024)
		d->script = "";
	d->path = pathinfo && *pathinfo ? pathinfo : "/";
	*route = route_find(d->path);
	rep->json = (*route && (*route)->json) || strncmp(d->path, "/api/", 5) == 0;
	if (strlen(d->path) > 64)
		d->path = "(long path)"; /* only ever logged from here on */

	rep->head = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !rep->head)
		return dash_fail(d, 405, "Only GET and HEAD are served.");

	/* Configuration: any problem is the operator's, answered 500 and logged. */
	if (conf == NULL || *conf == '\0')
		conf = DEFAULT_CONF;
	*cfg = sm_config_new(dash_keys, sizeof(dash_keys) / sizeof(dash_keys[0]));
	if (*cfg == NULL)
		return dash_fail(d, 500, "Out of memory.");
	if (sm_config_load_file(*cfg, conf, false, err, sizeof(err)) < 0) {
		sm_log_err("configuration: %s", err);
		return dash_fail(d, 500, "The dashboard's configuration cannot be used: %s", err);
	}
	d->data_dir = sm_config_string(*cfg, "data_dir");
	d->alert_dir = sm_config_string(*cfg, "alert_dir");
	if (d->data_dir == NULL) {
		sm_log_err("configuration %s: data_dir is not set", conf);
		return dash_fail(d, 500,
				 "The dashboard's configuration (%s) does not set data_dir.", conf);
	}
	d->index_path = sm_config_string(*cfg, "index");
	if (d->index_path == NULL) {
		snprintf(index_buf, sizeof(index_buf), "%s/index.sqlite", d->data_dir);
		d->index_path = index_buf;
	}
	d->stale_after = sm_config_double(*cfg, "stale_after");
	d->title = sm_config_string(*cfg, "title");
	if (d->title == NULL)
		d->title = "StackMon";

	if (*route == NULL)
		return dash_fail(d, 404, "No such page.");
	d->keys = (*route)->keys;
	d->nkeys = (*route)->nkeys;
	if (query_parse(getenv("QUERY_STRING"), d->keys, d->nkeys, d->q, why, sizeof(why)) < 0)
		return dash_fail(d, 400, "Bad query: %s.", why);

	/* The requester. The access list fails closed. */
	d->access = access_load(sm_config_string(*cfg, "access_list"), err, sizeof(err));
	if (d->access == NULL) {
		sm_log_err("access list: %s", err);
		return dash_fail(d, 500,
				 "The access list cannot be used (see the server's error "
				 "log).");
	}
	d->user = user && *user ? user : NULL;
	if (d->user == NULL && !access_anonymous_allowed(d->access))
		return dash_deny(d, 401, "Sign in to see the dashboard.", "no authenticated user");
	if (d->user && !access_user_valid(d->user)) {
		d->user = NULL; /* not a name the list can hold; logged as anonymous */
		return dash_deny(d, 403, "Your user name is not allowed here.",
				 "REMOTE_USER not a valid access-list name");
	}
	d->admin = access_is_admin(d->access, d->user);
	d->nprojects = access_projects(d->access, d->user, &d->projects);
	if (!d->admin && d->nprojects == 0)
		return dash_deny(d, 403, "You have no projects to see.", "not in the access list");

	if ((*route)->needs_index) {
		d->idx = index_open(d->index_path, INDEX_READ_ONLY, &ierr);
		if (d->idx == NULL)
			return index_unavailable(d, ierr);
		load_project_names(d);
	}
	return 200;
}

static void write_headers(const struct reply *rep, size_t length)
{
	printf("Status: %d %s\r\n", rep->status, page_status_text(rep->status));
	printf("Content-Type: %s\r\n",
	       rep->json ? "application/json; charset=utf-8" : "text/html; charset=utf-8");
	printf("Content-Length: %zu\r\n", length);
	/* Pages hold tenants' data and change every second: never stored. */
	fputs("Cache-Control: no-store\r\n", stdout);
	printf("Content-Security-Policy: default-src 'none'; style-src %s; img-src 'self' data:; "
	       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'\r\n",
	       dash_style_csp());
	fputs("X-Content-Type-Options: nosniff\r\n"
	      "X-Frame-Options: DENY\r\n"
	      "Referrer-Policy: no-referrer\r\n"
	      "Cross-Origin-Resource-Policy: same-origin\r\n",
	      stdout);
	if (rep->status == 401)
		fputs("WWW-Authenticate: Basic realm=\"StackMon\", charset=\"UTF-8\"\r\n", stdout);
	if (rep->status == 405)
		fputs("Allow: GET, HEAD\r\n", stdout);
	fputs("\r\n", stdout);
}

static void usage(FILE *out)
{
	fputs("Usage: stackmon.cgi            (run by a web server, as a CGI program)\n"
	      "       stackmon.cgi --help | --version\n"
	      "StackMon's dashboard: each tenant's instances, now and over time.\n"
	      "Environment: REQUEST_METHOD, PATH_INFO, QUERY_STRING, SCRIPT_NAME, REMOTE_USER\n"
	      "(from the web server), STACKMON_DASHBOARD_CONF (default " DEFAULT_CONF ").\n"
	      "See docs/DASHBOARD.md and stackmon.cgi(8).\n",
	      out);
}

int main(int argc, char **argv)
{
	struct dash d = {0};
	struct sm_config *cfg = NULL;
	const struct page_route *route = NULL;
	struct reply rep = {500, false, false};
	struct body body = {NULL, 0, 0};
	cookie_io_functions_t io = {NULL, body_write, NULL, NULL};
	int ret = 0;

	sm_log_open("stackmon.cgi", SM_LOG_INFO, false);
	if (argc > 1) {
		/* Run by hand: the conventions of every StackMon program. */
		if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
			printf("stackmon.cgi %s\n", STACKMON_VERSION);
			return 0;
		}
		if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	if (getenv("REQUEST_METHOD") == NULL) {
		fprintf(stderr,
			"stackmon.cgi %s: a CGI program; run it from a web server "
			"(docs/DASHBOARD.md). REQUEST_METHOD is not set.\n",
			STACKMON_VERSION);
		return 2;
	}
	d.now = sm_clock_wall();
	d.body = fopencookie(&body, "w", io);
	if (d.body == NULL || setvbuf(d.body, NULL, _IOFBF, 64u << 10) != 0) {
		fputs("Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\n"
		      "out of memory\n",
		      stdout);
		return 1;
	}
	rep.status = prepare(&d, &cfg, &route, &rep);
	if (rep.status == 200)
		rep.status = route->handler(&d);
	if (rep.status != 200) {
		/* Whatever the page wrote is dropped: the error page replaces it. */
		fflush(d.body);
		body.len = 0;
		if (rep.json)
			api_error(&d, rep.status);
		else
			page_error(&d, rep.status);
	}
	if (fflush(d.body) != 0) {
		/* Out of memory while writing: a short error rather than half a page. */
		body.len = 0;
		rep.status = 500;
		rep.json = false;
	}
	write_headers(&rep, body.len);
	if (!rep.head && body.len)
		fwrite(body.data, 1, body.len, stdout);
	if (fflush(stdout) != 0)
		ret = 1; /* the client went away: nothing to do about it */

	fclose(d.body);
	free(body.data);
	query_free(d.q, DASH_MAX_KEYS);
	index_close(&d.idx);
	for (size_t i = 0; d.project_names && i < d.nprojects; i++)
		free(d.project_names[i]);
	free(d.project_names);
	free(d.projects);
	access_destroy(&d.access);
	sm_config_destroy(&cfg);
	return ret;
}
