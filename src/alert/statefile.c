/*
 * statefile — see statefile.h. The format, one record a line, fields
 * separated by tabs and escaped as in the firing file:
 *   stackmon-alert-state 1
 *   H <host>
 *   A <rule> <when> <state> <since> <value> <host> <uuid> <device> <domain>
 *     <display name> <project id> <project name>
 */
#include "statefile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firing.h"
#include "sm_err.h"

#define MAGIC	   "stackmon-alert-state 1"
#define LINE_BYTES 16384
#define NFIELDS	   13

static void put_host(void *ctx, const char *host, double last)
{
	FILE *f = ctx;

	(void)last;
	fputs("H\t", f);
	firing_put_field(f, host);
	fputc('\n', f);
}

static void put_pair(void *ctx, const struct alert_info *a)
{
	FILE *f = ctx;
	const char *text[] = {a->host,	       a->uuid,	      a->device,      a->domain,
			      a->display_name, a->project_id, a->project_name};

	fputs("A\t", f);
	firing_put_field(f, a->rule->name);
	fputc('\t', f);
	firing_put_field(f, a->rule->expr);
	fprintf(f, "\t%d\t%.17g\t%.17g", (int)a->state, a->since, a->value);
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		fputc('\t', f);
		firing_put_field(f, text[i]);
	}
	fputc('\n', f);
}

int statefile_save(const struct eval *e, const char *path, char *err, size_t errlen)
{
	struct afile a;

	if (afile_open(&a, path, err, errlen) < 0)
		return -1;
	fputs(MAGIC "\n", a.f);
	eval_foreach_host(e, put_host, a.f);
	eval_foreach(e, put_pair, a.f);
	return afile_commit(&a, err, errlen);
}

static int restore_pair(struct eval *e, char **f, double now)
{
	struct rule r = {0};
	struct alert_info a = {.rule = &r};
	char *end1, *end2;
	long state = strtol(f[3], &end1, 10);

	snprintf(r.name, sizeof(r.name), "%s", f[1]);
	snprintf(r.expr, sizeof(r.expr), "%s", f[2]);
	if (*end1 || (state != ALERT_PENDING && state != ALERT_FIRING))
		return -1;
	a.state = (enum alert_state)state;
	a.since = strtod(f[4], &end1);
	a.value = strtod(f[5], &end2);
	if (*end1 || *end2 || strlen(f[7]) >= sizeof(a.uuid))
		return -1;
	a.host = f[6];
	snprintf(a.uuid, sizeof(a.uuid), "%s", f[7]);
	a.is_domain = a.uuid[0] != '\0';
	a.device = f[8];
	a.domain = f[9];
	a.display_name = f[10];
	a.project_id = f[11];
	a.project_name = f[12];
	return eval_restore_pair(e, &a, now);
}

int statefile_load(struct eval *e, const char *path, double now, struct statefile_result *res,
		   char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line;
	bool first = true;

	*res = (struct statefile_result){0};
	if (!f) {
		if (errno == ENOENT)
			return 0;
		sm_err_set(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	line = malloc(LINE_BYTES);
	if (!line) {
		fclose(f);
		sm_err_set(err, errlen, "%s: out of memory", path);
		return -1;
	}
	while (fgets(line, LINE_BYTES, f)) {
		char *fld[NFIELDS + 1];
		size_t n;

		line[strcspn(line, "\n")] = '\0';
		if (first) {
			first = false;
			if (strcmp(line, MAGIC) != 0) {
				sm_err_set(err, errlen, "%s: not a stackmon-alert state file",
					   path);
				free(line);
				fclose(f);
				return -1;
			}
			continue;
		}
		n = firing_split(line, fld, NFIELDS + 1);
		if (n == 2 && strcmp(fld[0], "H") == 0 && eval_restore_host(e, fld[1], now) == 0)
			res->hosts++;
		else if (n == NFIELDS && strcmp(fld[0], "A") == 0 && restore_pair(e, fld, now) == 0)
			res->pairs++;
		else
			res->skipped++;
	}
	free(line);
	fclose(f);
	return 0;
}
