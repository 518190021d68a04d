/*
 * whisper_retention — archive lists for Whisper files: parsing carbon's
 * retention text ("1s:3h,1m:7d,10m:1y"), python-whisper's validation rules,
 * aggregation method names and error texts. Pure functions, no I/O: a list
 * that passes here is one python-whisper's create() would accept too.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "whisper_impl.h"

int whisper_err_set(struct whisper_err *err, int code, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;

		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

/* python-whisper's UnitMultipliers; a unit is any prefix of these names, the
 * first match in this order winning ("m" is minutes, "mo" is nothing). */
static const struct {
	const char *name;
	uint32_t seconds;
} units[] = {
    {"seconds", 1},  {"minutes", 60},	   {"hours", 3600},
    {"days", 86400}, {"weeks", 86400 * 7}, {"years", 86400 * 365},
};

/* Parses "123" or "123unit" (python's isdigit() / ^(\d+)([a-z]+)$) from the
 * `len` bytes at `s`. Sets *number and *unit_seconds (0 when there is no
 * unit). Returns 0, or -1 when the text has another shape or is too large. */
static int parse_quantity(const char *s, size_t len, uint64_t *number, uint32_t *unit_seconds)
{
	size_t i = 0;
	uint64_t v = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return -1; /* no archive that large fits the format anyway */
		i++;
	}
	if (i == 0)
		return -1;
	*number = v;
	*unit_seconds = 0;
	if (i == len)
		return 0;
	size_t ulen = len - i;
	for (size_t j = i; j < len; j++)
		if (s[j] < 'a' || s[j] > 'z')
			return -1;
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (ulen <= strlen(units[u].name) && strncmp(units[u].name, s + i, ulen) == 0) {
			*unit_seconds = units[u].seconds;
			return 0;
		}
	}
	return -1;
}

/* Parses one "PRECISION:POINTS" definition of `len` bytes (already trimmed). */
static int parse_one(const char *s, size_t len, struct whisper_retention *out,
		     struct whisper_err *err)
{
	const char *colon = memchr(s, ':', len);
	uint64_t num, precision, points;
	uint32_t unit;

	if (colon == NULL)
		return whisper_err_set(
		    err, WHISPER_ECONFIG,
		    "invalid retention definition '%.*s': expected PRECISION:POINTS", (int)len, s);
	size_t plen = (size_t)(colon - s);
	if (parse_quantity(s, plen, &num, &unit) < 0)
		return whisper_err_set(err, WHISPER_ECONFIG,
				       "invalid precision '%.*s' in '%.*s': expected seconds or "
				       "a number with a unit (s, min, h, d, w, y)",
				       (int)plen, s, (int)len, s);
	precision = unit ? num * unit : num;
	if (precision == 0 || precision > UINT32_MAX)
		return whisper_err_set(
		    err, WHISPER_ECONFIG,
		    "invalid precision '%.*s' in '%.*s': must be 1 s to 2^32-1 s", (int)plen, s,
		    (int)len, s);

	const char *p = colon + 1;
	size_t rlen = len - plen - 1;
	if (parse_quantity(p, rlen, &num, &unit) < 0)
		return whisper_err_set(err, WHISPER_ECONFIG,
				       "invalid retention '%.*s' in '%.*s': expected a number of "
				       "points or a duration with a unit (s, min, h, d, w, y)",
				       (int)rlen, p, (int)len, s);
	points = unit ? num * unit / precision : num; /* python: int * mult // precision */
	if (points == 0 || points > UINT32_MAX)
		return whisper_err_set(
		    err, WHISPER_ECONFIG,
		    "retention '%.*s' in '%.*s' gives %llu points: must be at least "
		    "one point and below 2^32",
		    (int)rlen, p, (int)len, s, (unsigned long long)points);
	out->seconds_per_point = (uint32_t)precision;
	out->points = (uint32_t)points;
	return 0;
}

int whisper_retention_parse(const char *text, struct whisper_retention *out, size_t max, size_t *n,
			    struct whisper_err *err)
{
	size_t count = 0;
	const char *s = text;
	int rc;

	*n = 0;
	if (text == NULL)
		return whisper_err_set(err, WHISPER_ECONFIG, "no retention definition given");
	for (;;) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		const char *b = s, *e = s + len;

		/* python strips each definition; carbon splits on ',' only */
		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		if (count == max)
			return whisper_err_set(err, WHISPER_ECONFIG,
					       "retention '%s' has more than %zu archives", text,
					       max);
		rc = parse_one(b, (size_t)(e - b), &out[count], err);
		if (rc < 0)
			return rc;
		count++;
		if (end == NULL)
			break;
		s = end + 1;
	}
	rc = whisper_retention_validate(out, count, err);
	if (rc < 0)
		return rc;
	*n = count;
	return 0;
}

int whisper_retention_validate(struct whisper_retention *list, size_t n, struct whisper_err *err)
{
	if (n == 0)
		return whisper_err_set(err, WHISPER_ECONFIG,
				       "no archives: a Whisper file needs at least one");
	/* Stable insertion sort by precision, like python's list.sort (n is tiny). */
	for (size_t i = 1; i < n; i++) {
		struct whisper_retention r = list[i];
		size_t j = i;

		while (j > 0 && list[j - 1].seconds_per_point > r.seconds_per_point) {
			list[j] = list[j - 1];
			j--;
		}
		list[j] = r;
	}
	for (size_t i = 0; i < n; i++) {
		const struct whisper_retention *a = &list[i];
		uint64_t ret = (uint64_t)a->seconds_per_point * a->points;

		if (a->seconds_per_point == 0 || a->points == 0)
			return whisper_err_set(
			    err, WHISPER_ECONFIG,
			    "archive %zu (%u s per point, %u points): precision and "
			    "points must both be at least 1",
			    i, a->seconds_per_point, a->points);
		if (ret > UINT32_MAX)
			return whisper_err_set(
			    err, WHISPER_ECONFIG,
			    "archive %zu (%u s per point, %u points) retains %llu s, "
			    "more than the format's 2^32-1 s",
			    i, a->seconds_per_point, a->points, (unsigned long long)ret);
		if (i + 1 == n)
			break;
		const struct whisper_retention *b = &list[i + 1];
		uint64_t next_ret = (uint64_t)b->seconds_per_point * b->points;
		if (a->seconds_per_point == b->seconds_per_point)
			return whisper_err_set(
			    err, WHISPER_ECONFIG,
			    "archives %zu and %zu have the same precision (%u s per "
			    "point)",
			    i, i + 1, a->seconds_per_point);
		if (b->seconds_per_point % a->seconds_per_point != 0)
			return whisper_err_set(
			    err, WHISPER_ECONFIG,
			    "archive %zu's precision (%u s) is not a multiple of "
			    "archive %zu's (%u s)",
			    i + 1, b->seconds_per_point, i, a->seconds_per_point);
		if (!(next_ret > ret))
			return whisper_err_set(
			    err, WHISPER_ECONFIG,
			    "archive %zu covers %llu s, not more than archive %zu's "
			    "%llu s: coarser archives must cover longer times",
			    i + 1, (unsigned long long)next_ret, i, (unsigned long long)ret);
		uint32_t ratio = b->seconds_per_point / a->seconds_per_point;
		if (a->points < ratio)
			return whisper_err_set(
			    err, WHISPER_ECONFIG,
			    "archive %zu has %u points but archive %zu consolidates "
			    "%u of them into each of its points",
			    i, a->points, i + 1, ratio);
	}
	return 0;
}

static const char *const agg_names[] = {
    NULL, "average", "sum", "last", "max", "min", "avg_zero", "absmax", "absmin",
};

int whisper_aggregation_parse(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 1; i <= 8; i++)
		if (strcmp(name, agg_names[i]) == 0)
			return i;
	return -1;
}

const char *whisper_aggregation_name(int method)
{
	return method >= 1 && method <= 8 ? agg_names[method] : "unknown";
}

const char *whisper_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
	case WHISPER_ECORRUPT:
		return "not a valid Whisper file (bad header)";
	case WHISPER_ESIZE:
		return "Whisper file size differs from its header (truncated?)";
	case WHISPER_ENOTCOVERED:
		return "timestamp not covered by any archive";
	case WHISPER_ECONFIG:
		return "invalid Whisper archive configuration";
	default:
		return code < 0 ? strerror(-code) : "unknown error";
	}
}

bool whisper_err_is_corrupt(int code)
{
	return code == WHISPER_ECORRUPT || code == WHISPER_ESIZE;
}
