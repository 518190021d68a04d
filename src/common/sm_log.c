/*
 * sm_log — see sm_log.h. One line per event, written with a single write(2)
 * so concurrent lines never interleave. The stderr line carries no
 * timestamp ("ident: level: message"): journald and syslog add their own,
 * and a fixed format keeps lines easy to grep and to test. The message text
 * is passed through sm_utf8_sanitize so an untrusted name cannot forge lines.
 */
#define _GNU_SOURCE /* program_invocation_short_name */
#include "sm_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "sm_clock.h"
#include "sm_utf8.h"

#define LOG_LINE_MAX 4096 /* a longer message is cut, ending in "..." */

#define COMPLAINT_FIRST_NS (60 * SM_NS_PER_SEC)
#define COMPLAINT_MAX_NS   (3600 * SM_NS_PER_SEC)

/* Process-wide state: one destination per process, as for syslog itself. */
static char log_ident[64];			  /* copied: openlog keeps the pointer */
static enum sm_log_level log_level = SM_LOG_INFO; /* most verbose level written */
static bool log_to_syslog;			  /* else stderr */

static const char *const level_names[] = {
    [SM_LOG_ERR] = "error", [SM_LOG_WARNING] = "warning", [SM_LOG_NOTICE] = "notice",
    [SM_LOG_INFO] = "info", [SM_LOG_DEBUG] = "debug",
};

static const char *log_ident_get(void)
{
	return log_ident[0] ? log_ident : program_invocation_short_name;
}

/* -q given thrice must not hide errors, nor -vvv ask for a level below debug. */
static enum sm_log_level level_clamp(int level)
{
	return level < SM_LOG_ERR ? SM_LOG_ERR : level > SM_LOG_DEBUG ? SM_LOG_DEBUG : level;
}

void sm_log_open(const char *ident, enum sm_log_level level, bool use_syslog)
{
	if (log_to_syslog)
		closelog();
	snprintf(log_ident, sizeof(log_ident), "%s", ident ? ident : "");
	log_level = level_clamp(level);
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog(log_ident_get(), LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void sm_log_close(void)
{
	if (log_to_syslog)
		closelog();
	log_to_syslog = false;
}

void sm_log_set_level(enum sm_log_level level)
{
	log_level = level_clamp(level);
}

bool sm_log_enabled(enum sm_log_level level)
{
	return level <= log_level;
}

int sm_log_level_parse(const char *name)
{
	static const struct {
		const char *name;
		enum sm_log_level level;
	} names[] = {
	    {"err", SM_LOG_ERR},      {"error", SM_LOG_ERR},	 {"warning", SM_LOG_WARNING},
	    {"warn", SM_LOG_WARNING}, {"notice", SM_LOG_NOTICE}, {"info", SM_LOG_INFO},
	    {"debug", SM_LOG_DEBUG},
	};

	for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i].name) == 0)
			return (int)names[i].level;
	return -1;
}

/* Writes all of buf to stderr, retrying on EINTR and short writes. */
static void write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere left to report it */
		buf += n;
		len -= (size_t)n;
	}
}

/* Formats fmt + suffix and writes one line. The caller tested the level. */
static void log_vemit(enum sm_log_level level, const char *suffix, const char *fmt, va_list ap)
	SM_PRINTF(3, 0);

static void log_vemit(enum sm_log_level level, const char *suffix, const char *fmt, va_list ap)
{
	char raw[LOG_LINE_MAX];
	char line[LOG_LINE_MAX + 128];
	size_t len;
	int n;

	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		snprintf(raw, sizeof(raw), "(bad log format: %s)", fmt);
	else if ((size_t)n >= sizeof(raw))
		memcpy(raw + sizeof(raw) - 4, "...", 4);
	if (suffix && *suffix) {
		len = strlen(raw);
		snprintf(raw + len, sizeof(raw) - len, "%s", suffix);
	}

	if (log_to_syslog) {
		sm_utf8_sanitize(line, sizeof(line), raw, strlen(raw));
		syslog(LOG_DAEMON | (int)level, "%s", line);
		return;
	}
	n = snprintf(line, sizeof(line), "%s: %s: ", log_ident_get(), level_names[level]);
	len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	len += sm_utf8_sanitize(line + len, sizeof(line) - len - 1, raw, strlen(raw));
	line[len++] = '\n';
	write_all(line, len);
}

void sm_log(enum sm_log_level level, const char *fmt, ...)
{
	int saved = errno; /* logging never changes errno for the caller */
	va_list ap;

	if (level < SM_LOG_ERR)
		level = SM_LOG_ERR;
	if (level > SM_LOG_DEBUG)
		level = SM_LOG_DEBUG;
	if (sm_log_enabled(level)) {
		va_start(ap, fmt);
		log_vemit(level, NULL, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}

void sm_log_warn(const char *fmt, ...)
{
	int saved = errno; /* read before any call can change it */
	char suffix[256];
	va_list ap;

	if (sm_log_enabled(SM_LOG_WARNING)) {
		snprintf(suffix, sizeof(suffix), ": %s", strerror(saved));
		va_start(ap, fmt);
		log_vemit(SM_LOG_WARNING, suffix, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}

void sm_log_warnx(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (sm_log_enabled(SM_LOG_WARNING)) {
		va_start(ap, fmt);
		log_vemit(SM_LOG_WARNING, NULL, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}

/* " (N repeats suppressed)" when N > 0, else "". */
static void suppressed_suffix(char *buf, size_t size, uint64_t n)
{
	buf[0] = '\0';
	if (n > 0)
		snprintf(buf, size, " (%llu repeat%s suppressed)", (unsigned long long)n,
			 n == 1 ? "" : "s");
}

void sm_complain(struct sm_complaint *c, enum sm_log_level level, const char *fmt, ...)
{
	int saved = errno;
	int64_t now = sm_clock_mono_ns();
	char suffix[64];
	va_list ap;

	if (!c->active) {
		c->active = true;
		c->interval_ns = COMPLAINT_FIRST_NS;
		c->suppressed = 0;
	} else if (now < c->next_ns) {
		c->suppressed++;
		goto out;
	} else {
		/* Another line is due: the silence before the next one doubles. */
		c->interval_ns = c->interval_ns * 2;
		if (c->interval_ns > COMPLAINT_MAX_NS || c->interval_ns <= 0)
			c->interval_ns = COMPLAINT_MAX_NS;
	}
	c->next_ns = now + c->interval_ns;
	if (level < SM_LOG_ERR)
		level = SM_LOG_ERR;
	if (level > SM_LOG_DEBUG)
		level = SM_LOG_DEBUG;
	if (sm_log_enabled(level)) {
		suppressed_suffix(suffix, sizeof(suffix), c->suppressed);
		va_start(ap, fmt);
		log_vemit(level, suffix, fmt, ap);
		va_end(ap);
	}
	c->suppressed = 0;
out:
	errno = saved;
}

void sm_complaint_release(struct sm_complaint *c, const char *fmt, ...)
{
	int saved = errno;
	char suffix[64];
	va_list ap;

	if (!c->active)
		goto out;
	if (sm_log_enabled(SM_LOG_NOTICE)) {
		suppressed_suffix(suffix, sizeof(suffix), c->suppressed);
		va_start(ap, fmt);
		log_vemit(SM_LOG_NOTICE, suffix, fmt, ap);
		va_end(ap);
	}
	*c = (struct sm_complaint)SM_COMPLAINT_INIT;
out:
	errno = saved;
}
