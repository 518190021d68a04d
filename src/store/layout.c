/*
 * layout — see layout.h. Paths are built with snprintf into caller buffers
 * and refused, not cut, when they would not fit: a truncated path could name
 * another file.
 */
#include "layout.h"

#include <stdio.h>
#include <string.h>

#include "sm_uuid.h"
#include "sm_wire.h"

static bool device_byte_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

void layout_device_name(const char *raw, size_t len, char out[LAYOUT_DEVICE_MAX + 1])
{
	size_t n = 0;

	for (size_t i = 0; raw && i < len && raw[i] && n < LAYOUT_DEVICE_MAX; i++)
		out[n++] = device_byte_ok((unsigned char)raw[i]) ? raw[i] : '_';
	if (n == 0)
		out[n++] = '_';
	out[n] = '\0';
}

bool layout_host_ok(const char *host)
{
	/* sm_wire_host_valid: 1..253 bytes of [A-Za-z0-9._-]. A leading dot
	 * would give ".", ".." or a hidden directory. */
	return host && host[0] != '.' && sm_wire_host_valid(host);
}

/* snprintf that refuses to truncate: the length, or -1. */
static int fit(int n, size_t len)
{
	return (n < 0 || (size_t)n >= len) ? -1 : n;
}

int layout_domain_dir(const uint8_t uuid[16], char *buf, size_t len)
{
	char text[37];

	sm_uuid_format(uuid, text);
	return fit(snprintf(buf, len, LAYOUT_DOMAINS_DIR "/%.2s/%s", text, text), len);
}

int layout_host_dir(const char *host, char *buf, size_t len)
{
	if (!layout_host_ok(host))
		return -1;
	return fit(snprintf(buf, len, LAYOUT_HOSTS_DIR "/%s", host), len);
}

int layout_metric_path(const char *dir, const char *metric, char *buf, size_t len)
{
	if (!dir || !metric || !metric[0] || metric[0] == '.' || strchr(metric, '/') ||
	    strlen(metric) > LAYOUT_METRIC_MAX)
		return -1;
	return fit(snprintf(buf, len, "%s/%s" LAYOUT_FILE_SUFFIX, dir, metric), len);
}

int layout_device_metric(const char *kind, const char *dev, const char *suffix, char *buf,
			 size_t len)
{
	if (!kind || !dev || !suffix || !dev[0] || strlen(dev) > LAYOUT_DEVICE_MAX)
		return -1;
	for (const char *p = dev; *p; p++)
		if (!device_byte_ok((unsigned char)*p))
			return -1;
	return fit(snprintf(buf, len, "%s.%s.%s", kind, dev, suffix), len);
}

int layout_quarantine_path(const char *relpath, time_t when, char *buf, size_t len)
{
	char stamp[32];
	struct tm tm;
	int n;

	if (!relpath || !relpath[0] || gmtime_r(&when, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
		return -1;
	n = fit(snprintf(buf, len, LAYOUT_QUARANTINE_DIR "/%s.%s", relpath, stamp), len);
	if (n < 0)
		return -1;
	/* Flat: one directory, the former place readable in the name. */
	for (char *p = buf + strlen(LAYOUT_QUARANTINE_DIR "/"); *p; p++)
		if (*p == '/')
			*p = '+';
	return n;
}
