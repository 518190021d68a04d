/*
 * hook — see hook.h. A run is fork + execve with a pipe on its stdin; the
 * parent writes the JSON without blocking and the rest on later polls, so
 * a hook that does not read cannot stall the alerter.
 */
#define _GNU_SOURCE /* pipe2 */
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alert_json.h"
#include "sm_clock.h"
#include "sm_log.h"

#define MAX_ARGS   32
#define QUEUE_MAX  1024 /* transitions waiting for a free slot */
#define KILL_GRACE 1.0	/* seconds between SIGTERM and SIGKILL */
#define NENV	   12

/* A transition waiting, or a run in progress. */
struct job {
	char *json;
	size_t len, written;
	char *env[NENV + 1]; /* "NAME=value", NULL-terminated */
	pid_t pid;
	int fd; /* write end of its stdin, -1 when done */
	int64_t deadline_ns;
	bool termed;
	struct job *next;
};

struct hook {
	char *argv_buf;
	char *argv[MAX_ARGS + 1];
	double timeout_s;
	size_t max_running, running, queued;
	struct job *queue_head, *queue_tail; /* waiting, in order */
	struct job *runs;		     /* in progress */
	struct hook_counters c;
	struct sm_complaint bad;
};

static void job_free(struct job *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->json);
	for (size_t i = 0; i < NENV && j->env[i]; i++)
		free(j->env[i]);
	free(j);
}

struct hook *hook_new(const char *command, double timeout_s, size_t max_running, char *err,
		      size_t errlen)
{
	struct hook *h = calloc(1, sizeof(*h));
	size_t n = 0;
	char *save = NULL;
	struct stat st;

	if (!h || !(h->argv_buf = strdup(command))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (char *w = strtok_r(h->argv_buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n == MAX_ARGS) {
			snprintf(err, errlen, "hook: more than %d words", MAX_ARGS);
			goto fail;
		}
		h->argv[n++] = w;
	}
	if (n == 0 || h->argv[0][0] != '/') {
		snprintf(err, errlen,
			 "hook: '%s' does not start with an absolute path (no shell"
			 " runs it, so no PATH search either)",
			 command);
		goto fail;
	}
	if (stat(h->argv[0], &st) != 0 || !S_ISREG(st.st_mode) || access(h->argv[0], X_OK) != 0) {
		snprintf(err, errlen, "hook: %s is not an executable file", h->argv[0]);
		goto fail;
	}
	h->timeout_s = timeout_s;
	h->max_running = max_running ? max_running : 1;
	return h;
fail:
	if (h)
		free(h->argv_buf);
	free(h);
	return NULL;
}

void hook_destroy(struct hook **hp)
{
	struct hook *h = hp ? *hp : NULL;

	if (!h)
		return;
	for (struct job *j = h->runs, *next; j; j = next) {
		next = j->next;
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		job_free(j);
	}
	for (struct job *j = h->queue_head, *next; j; j = next) {
		next = j->next;
		job_free(j);
	}
	free(h->argv_buf);
	free(h);
	*hp = NULL;
}

const struct hook_counters *hook_counters(const struct hook *h)
{
	return &h->c;
}

size_t hook_busy(const struct hook *h)
{
	return h->running + h->queued;
}

static char *env_entry(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 2;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s=%s", name, value);
	return s;
}

void hook_note(struct hook *h, const struct alert_info *a, double now)
{
	struct job *j;
	struct jbuf b = {0};
	char value[64];
	size_t k = 0;
	bool ok = true;

	if (h->queued >= QUEUE_MAX) {
		h->c.dropped++;
		sm_complain(&h->bad, SM_LOG_WARNING,
			    "hook: %d transitions wait already; %s on %s"
			    " dropped",
			    QUEUE_MAX, a->rule->name, a->host);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->fd = -1;
	alert_json(&b, a, now, 0, true);
	jbuf_raw(&b, "\n");
	if (b.failed) {
		jbuf_free(&b);
		free(j);
		return;
	}
	j->json = b.p;
	j->len = b.len;
	snprintf(value, sizeof(value), "%.17g", a->value);
	{
		const struct {
			const char *name, *value;
		} env[] = {
		    {"STACKMON_ALERT_STATUS", a->state == ALERT_FIRING ? "firing" : "resolved"},
		    {"STACKMON_ALERT_RULE", a->rule->name},
		    {"STACKMON_ALERT_SEVERITY", a->rule->severity},
		    {"STACKMON_ALERT_HOST", a->host},
		    {"STACKMON_ALERT_UUID", a->uuid},
		    {"STACKMON_ALERT_DOMAIN", a->domain},
		    {"STACKMON_ALERT_NAME", a->display_name},
		    {"STACKMON_ALERT_PROJECT_ID", a->project_id},
		    {"STACKMON_ALERT_DEVICE", a->device},
		    {"STACKMON_ALERT_VALUE", value},
		    {"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"},
		};

		for (size_t i = 0; i < sizeof(env) / sizeof(env[0]) && k < NENV; i++) {
			j->env[k] = env_entry(env[i].name, env[i].value);
			ok = ok && j->env[k++] != NULL;
		}
	}
	if (!ok) {
		job_free(j);
		return;
	}
	if (h->queue_tail)
		h->queue_tail->next = j;
	else
		h->queue_head = j;
	h->queue_tail = j;
	h->queued++;
}

/* Starts j: fork, the child's stdin from a pipe, execve. 0 or -1. */
static int start(struct hook *h, struct job *j)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		/* The child: only async-signal-safe calls until execve. */
		dup2(fds[0], STDIN_FILENO);
		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO); /* its stderr stays ours: the journal */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		execve(h->argv[0], h->argv, j->env);
		_exit(127);
	}
	setpgid(pid, pid); /* as the child does: no window where a kill misses it */
	close(fds[0]);
	j->pid = pid;
	j->fd = fds[1];
	fcntl(j->fd, F_SETFL, O_NONBLOCK);
	j->deadline_ns = sm_clock_mono_ns() + (int64_t)(h->timeout_s * 1e9);
	h->c.runs++;
	return 0;
}

/* Writes what the pipe takes of j's JSON; closes it when all is written
 * or the reader went. */
static void feed(struct job *j)
{
	while (j->fd >= 0 && j->written < j->len) {
		ssize_t n = write(j->fd, j->json + j->written, j->len - j->written);

		if (n > 0) {
			j->written += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			if (n < 0 && errno == EAGAIN)
				return;
			break;
		}
	}
	if (j->fd >= 0) {
		close(j->fd);
		j->fd = -1;
	}
}

void hook_poll(struct hook *h)
{
	int64_t now = sm_clock_mono_ns();

	for (struct job **pp = &h->runs; *pp;) {
		struct job *j = *pp;
		int status;
		pid_t r;

		feed(j);
		r = waitpid(j->pid, &status, WNOHANG);
		if (r == j->pid) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !j->termed) {
				h->c.ok++;
			} else if (!j->termed) {
				h->c.failed++;
				sm_complain(&h->bad, SM_LOG_WARNING, "hook %s for an alert: %s %d",
					    h->argv[0],
					    WIFEXITED(status) ? "exit status" : "killed by signal",
					    WIFEXITED(status) ? WEXITSTATUS(status)
							      : WTERMSIG(status));
			}
			*pp = j->next;
			job_free(j);
			h->running--;
			continue;
		}
		if (now > j->deadline_ns) {
			if (!j->termed) {
				h->c.timed_out++;
				sm_complain(&h->bad, SM_LOG_WARNING,
					    "hook %s still runs after %.1f s: killed", h->argv[0],
					    h->timeout_s);
				kill(-j->pid, SIGTERM);
				j->termed = true;
				j->deadline_ns = now + (int64_t)(KILL_GRACE * 1e9);
			} else {
				kill(-j->pid, SIGKILL);
			}
		}
		pp = &j->next;
	}
	while (h->queue_head && h->running < h->max_running) {
		struct job *j = h->queue_head;

		h->queue_head = j->next;
		if (!h->queue_head)
			h->queue_tail = NULL;
		h->queued--;
		j->next = NULL;
		if (start(h, j) < 0) {
			h->c.failed++;
			sm_complain(&h->bad, SM_LOG_WARNING, "hook %s: cannot start: %s",
				    h->argv[0], strerror(errno));
			job_free(j);
			continue;
		}
		feed(j);
		j->next = h->runs;
		h->runs = j;
		h->running++;
	}
}
