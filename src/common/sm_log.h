/*
 * sm_log — StackMon's one logging module, shared by every daemon.
 * Messages go to stderr by default (systemd's journal takes them), or to
 * syslog on request. The level is tested before anything is formatted.
 * sm_complaint rate-limits a repeating failure: it is logged once, then at
 * growing intervals, and "recovered" once when it clears (cf. collectd).
 */
#ifndef SM_LOG_H
#define SM_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* Levels follow syslog's order: a lower value is more severe. */
enum sm_log_level {
	SM_LOG_ERR = 3,
	SM_LOG_WARNING = 4,
	SM_LOG_NOTICE = 5,
	SM_LOG_INFO = 6,
	SM_LOG_DEBUG = 7,
};

#define SM_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))

/* Starts logging as `ident` (program name) at `level`; to syslog (daemon
 * facility) when use_syslog, else stderr. Safe to call again to change
 * destination. Before any call, logs go to stderr at SM_LOG_INFO. A level
 * outside [SM_LOG_ERR, SM_LOG_DEBUG] (NOTICE plus many -q or -v) is taken
 * as the nearest end: errors are always written. */
void sm_log_open(const char *ident, enum sm_log_level level, bool use_syslog);
void sm_log_close(void);
void sm_log_set_level(enum sm_log_level level);
/* True when a message at `level` would be written: test it before costly formatting. */
bool sm_log_enabled(enum sm_log_level level);
/* Parses "err", "warning", "notice", "info", "debug"; -1 if unknown. */
int sm_log_level_parse(const char *name);

/* One line per call; a trailing newline is added. */
void sm_log(enum sm_log_level level, const char *fmt, ...) SM_PRINTF(2, 3);
/* Warning with ": strerror(errno)" appended (errno read on entry). */
void sm_log_warn(const char *fmt, ...) SM_PRINTF(1, 2);
/* Warning without errno text. */
void sm_log_warnx(const char *fmt, ...) SM_PRINTF(1, 2);
#define sm_log_err(...) sm_log(SM_LOG_ERR, __VA_ARGS__)
#define sm_log_notice(...) sm_log(SM_LOG_NOTICE, __VA_ARGS__)
#define sm_log_info(...) sm_log(SM_LOG_INFO, __VA_ARGS__)
#define sm_log_debug(...) sm_log(SM_LOG_DEBUG, __VA_ARGS__)

/*
 * A rate-limited complaint about one ongoing condition (libvirtd gone, a
 * collector unreachable, a disk full). Plain data so it can live inside any
 * object; zero-initialise it (or SM_COMPLAINT_INIT).
 */
struct sm_complaint {
	int64_t next_ns;     /* monotonic time before which repeats stay silent */
	int64_t interval_ns; /* current silence interval; doubles up to 1 hour */
	uint64_t suppressed; /* repeats not logged since the last line */
	bool active;         /* the condition is currently failing */
};
#define SM_COMPLAINT_INIT {0, 0, 0, false}

/* Logs at `level` the first time, then at most once per growing interval
 * (60 s, doubling to 1 h), noting how many repeats were suppressed. */
void sm_complain(struct sm_complaint *c, enum sm_log_level level, const char *fmt, ...)
	SM_PRINTF(3, 4);
/* If the condition was active, logs once at NOTICE ("recovered") and resets. */
void sm_complaint_release(struct sm_complaint *c, const char *fmt, ...) SM_PRINTF(2, 3);

#endif
