/*
 * firing — see firing.h. A line is "F", then the fields of firing_row in
 * its order; the since and value as %.17g (NaN as "nan").
 */
#include "firing.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sm_err.h"

#define LINE_MAX_BYTES 16384
#define NFIELDS	       13

int afile_open(struct afile *a, const char *path, char *err, size_t errlen)
{
	int fd;

	snprintf(a->path, sizeof(a->path), "%s", path);
	snprintf(a->tmp, sizeof(a->tmp), "%s.tmp", path);
	fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	a->f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!a->f) {
		sm_err_set(err, errlen, "%s: %s", a->tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return 0;
}

int afile_commit(struct afile *a, char *err, size_t errlen)
{
	int rc = 0;

	if (fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0) {
		sm_err_set(err, errlen, "%s: %s", a->tmp, strerror(errno ? errno : EIO));
		rc = -1;
	}
	if (fclose(a->f) != 0 && rc == 0) {
		sm_err_set(err, errlen, "%s: %s", a->tmp, strerror(errno));
		rc = -1;
	}
	a->f = NULL;
	if (rc == 0 && rename(a->tmp, a->path) != 0) {
		sm_err_set(err, errlen, "rename %s: %s", a->path, strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		unlink(a->tmp);
	return rc;
}

void afile_abort(struct afile *a)
{
	if (a->f)
		fclose(a->f);
	a->f = NULL;
	unlink(a->tmp);
}

void firing_put_field(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '%')
			fprintf(f, "%%%02X", c);
		else
			fputc(c, f);
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Unescapes s in place; a bad escape is kept as written. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		int hi, lo;

		if (*s == '%' && (hi = hexval(s[1])) >= 0 && (lo = hexval(s[2])) >= 0 &&
		    (hi || lo)) {
			*w++ = (char)(hi * 16 + lo);
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

size_t firing_split(char *line, char **fields, size_t max)
{
	size_t n = 0;

	while (n < max) {
		char *tab = strchr(line, '\t');

		fields[n++] = line;
		if (!tab)
			break;
		*tab = '\0';
		line = tab + 1;
	}
	for (size_t i = 0; i < n; i++)
		unescape(fields[i]);
	return n;
}

void firing_put_row(FILE *f, const struct firing_row *r)
{
	const char *text[] = {r->rule,	 r->severity, r->host,	 r->uuid, r->project_id,
			      r->domain, r->name,     r->device, r->expr, r->summary};

	fputc('F', f);
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		fputc('\t', f);
		firing_put_field(f, text[i]);
	}
	fprintf(f, "\t%.17g\t%.17g\n", r->since, r->value);
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src);
}

long firing_read(const char *path, void (*fn)(void *ctx, const struct firing_row *r), void *ctx)
{
	FILE *f = fopen(path, "re");
	char *line = malloc(LINE_MAX_BYTES);
	long count = 0;

	if (!f || !line) {
		free(line);
		if (f)
			fclose(f);
		return -1;
	}
	while (fgets(line, LINE_MAX_BYTES, f)) {
		char *fld[NFIELDS + 1];
		struct firing_row r;
		char *end1, *end2;

		line[strcspn(line, "\n")] = '\0';
		if (firing_split(line, fld, NFIELDS + 1) != NFIELDS || strcmp(fld[0], "F") != 0)
			continue;
		memset(&r, 0, sizeof(r));
		copy(r.rule, sizeof(r.rule), fld[1]);
		copy(r.severity, sizeof(r.severity), fld[2]);
		copy(r.host, sizeof(r.host), fld[3]);
		copy(r.uuid, sizeof(r.uuid), fld[4]);
		copy(r.project_id, sizeof(r.project_id), fld[5]);
		copy(r.domain, sizeof(r.domain), fld[6]);
		copy(r.name, sizeof(r.name), fld[7]);
		copy(r.device, sizeof(r.device), fld[8]);
		copy(r.expr, sizeof(r.expr), fld[9]);
		copy(r.summary, sizeof(r.summary), fld[10]);
		r.since = strtod(fld[11], &end1);
		r.value = strtod(fld[12], &end2);
		if (*end1 || *end2 || !isfinite(r.since))
			continue;
		fn(ctx, &r);
		count++;
	}
	free(line);
	fclose(f);
	return count;
}
