/*
 * sm_daemon — process lifecycle shared by the daemons: signal handlers that
 * only set flags (the main loop acts on them), systemd readiness
 * notification, and the open-file limit. Daemons run in the foreground; systemd supervises them.
 */
#ifndef SM_DAEMON_H
#define SM_DAEMON_H

#include <stdbool.h>

/* SIGTERM/SIGINT request quit, SIGHUP requests reload, SIGPIPE is ignored.
 * Returns 0, or -1 with errno set. */
int sm_daemon_install_signals(void);
/* True once SIGTERM or SIGINT arrived (or sm_daemon_request_quit was called). */
bool sm_daemon_quit_requested(void);
/* Sets the quit flag from code (tests, fatal conditions in the loop). */
void sm_daemon_request_quit(void);
/* True if SIGHUP arrived since the last call; clears the flag. */
bool sm_daemon_take_reload(void);
/* Sends `state` (e.g. "READY=1", "STOPPING=1", "STATUS=...") to systemd when
 * NOTIFY_SOCKET is set (Type=notify); a no-op returning 0 otherwise. */
int sm_daemon_notify(const char *state);
/* Raises the soft limit on open descriptors (RLIMIT_NOFILE) to `want`, or
 * to the hard limit when want is 0; never lowers it. Past the hard limit it
 * raises both, which only root may; otherwise it settles for the hard
 * limit. Failures are logged as warnings. Returns the soft limit then in
 * effect (LONG_MAX when unlimited), or -1 when it cannot be read. */
long sm_daemon_raise_fd_limit(long want);

#endif
