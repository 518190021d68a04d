/*
 * hook — the command hook: for every transition, a program run with the
 * alert's JSON (alert_json's hook object) on its standard input and the
 * main fields in its environment (STACKMON_ALERT_*), never through a
 * shell: the configured command is split at spaces into the program and
 * its arguments and run with execv. Each run has a timeout after which it
 * is killed (SIGTERM, then SIGKILL a second later); at most max_running
 * run at once, and the transitions beyond wait in order (bounded). Runs
 * are asynchronous: hook_poll reaps and starts them from the main loop.
 */
#ifndef ALERT_HOOK_H
#define ALERT_HOOK_H

#include <stddef.h>
#include <stdint.h>

#include "eval.h"

struct hook; /* opaque */

struct hook_counters {
	uint64_t runs, ok, failed, timed_out, dropped;
};

/* A hook running `command` (an absolute path, then arguments separated by
 * spaces). NULL with err set when the command is unusable. */
struct hook *hook_new(const char *command, double timeout_s, size_t max_running, char *err,
		      size_t errlen);
/* Kills what still runs (SIGKILL) and reaps it. NULL-safe. */
void hook_destroy(struct hook **h);

/* Queues a run for this transition. */
void hook_note(struct hook *h, const struct alert_info *a, double now);
/* Reaps finished runs, kills late ones, starts queued ones. */
void hook_poll(struct hook *h);
/* Runs in progress plus queued. */
size_t hook_busy(const struct hook *h);

const struct hook_counters *hook_counters(const struct hook *h);

#endif
