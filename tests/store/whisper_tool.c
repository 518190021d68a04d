/*
 * whisper_tool — drives the C whisper module from text, so
 * whisper_crosscheck.py can feed it and python-whisper the same calls and
 * compare files, results and fetches. Test helper only, not installed.
 *
 *   whisper_tool run SCRIPT      apply "create/update/many/snap" lines, one result per line
 *   whisper_tool fetch FILE Q    one fetch per line of Q: "from until now step" (step 0 = auto)
 *   whisper_tool info FILE       header as text
 *   whisper_tool pyset           per stdin line of ints, their CPython set order
 *
 * Values travel as the 16 hex digits of their IEEE-754 bits ("nan" for any
 * NaN), so nothing is lost to decimal formatting.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyset.h"
#include "whisper.h"

static double bits_to_double(const char *s)
{
	uint64_t bits = strtoull(s, NULL, 16);
	double v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

static void print_value(FILE *f, double v)
{
	uint64_t bits;

	if (isnan(v)) {
		fputs(" nan", f);
		return;
	}
	memcpy(&bits, &v, sizeof(bits));
	fprintf(f, " %016" PRIx64, bits);
}

/* Result names shared with the python side. */
static const char *result_name(int rc)
{
	switch (rc) {
	case 0:
		return "ok";
	case WHISPER_ENOTCOVERED:
		return "notcovered";
	case -ERANGE:
		return "range";
	default:
		return whisper_strerror(rc);
	}
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char b[65536];
	size_t n;
	int rc = (in != NULL && out != NULL) ? 0 : -1;

	while (rc == 0 && (n = fread(b, 1, sizeof(b), in)) > 0)
		if (fwrite(b, 1, n, out) != n)
			rc = -1;
	if (in != NULL)
		fclose(in);
	if (out != NULL && fclose(out) != 0)
		rc = -1;
	return rc;
}

/* "create PATH RETENTION METHOD XFF fallocate|sparse|zero [cache|nocache|defer[,nocache]]" */
static struct whisper *tool_create(char **save)
{
	char *path = strtok_r(NULL, " \n", save);
	char *ret = strtok_r(NULL, " \n", save);
	char *agg = strtok_r(NULL, " \n", save);
	char *xff = strtok_r(NULL, " \n", save);
	char *mode = strtok_r(NULL, " \n", save);
	char *open_mode = strtok_r(NULL, " \n", save);
	struct whisper_retention arch[WHISPER_MAX_ARCHIVES];
	struct whisper_err err = {0};
	unsigned flags = WHISPER_CREATE_NOSYNC, oflags = 0;
	struct whisper *w = NULL;
	size_t n;

	if (mode != NULL && strcmp(mode, "sparse") == 0)
		flags |= WHISPER_CREATE_SPARSE;
	else if (mode != NULL && strcmp(mode, "zero") == 0)
		flags |= WHISPER_CREATE_ZEROFILL;
	if (open_mode != NULL && strstr(open_mode, "nocache") != NULL)
		oflags |= WHISPER_OPEN_NOCACHE;
	if (open_mode != NULL && strstr(open_mode, "defer") != NULL)
		oflags |= WHISPER_OPEN_DEFER;
	if (whisper_retention_parse(ret, arch, WHISPER_MAX_ARCHIVES, &n, &err) == 0 &&
	    whisper_create(path, arch, n, whisper_aggregation_parse(agg), strtod(xff, NULL), flags,
			   &err) == 0)
		w = whisper_open(path, oflags, &err);
	if (w == NULL)
		fprintf(stderr, "create: %s\n", err.msg);
	return w;
}

static int cmd_run(const char *script)
{
	FILE *f = fopen(script, "r");
	struct whisper *w = NULL;
	struct whisper_point *pts = NULL;
	size_t cap = 0;
	char *line = NULL;
	size_t len = 0;
	int rc = 1;

	if (f == NULL) {
		perror(script);
		return 1;
	}
	while (getline(&line, &len, f) > 0) {
		char *save = NULL, *op = strtok_r(line, " \n", &save);

		if (op == NULL)
			continue;
		if (strcmp(op, "create") == 0) {
			w = tool_create(&save);
			if (w == NULL)
				goto out;
			printf("ok\n");
		} else if (strcmp(op, "update") == 0) {
			int64_t ts = strtoll(strtok_r(NULL, " \n", &save), NULL, 10);
			double v = bits_to_double(strtok_r(NULL, " \n", &save));
			int64_t now = strtoll(strtok_r(NULL, " \n", &save), NULL, 10);

			printf("%s\n", result_name(whisper_update(w, ts, v, now)));
		} else if (strcmp(op, "many") == 0) {
			int64_t now = strtoll(strtok_r(NULL, " \n", &save), NULL, 10);
			size_t n = 0;
			char *t;

			while ((t = strtok_r(NULL, " \n", &save)) != NULL) {
				if (n == cap) {
					cap = cap ? cap * 2 : 64;
					pts = realloc(pts, cap * sizeof(*pts));
					if (pts == NULL)
						goto out;
				}
				pts[n].ts = strtoll(t, NULL, 10);
				pts[n].value = bits_to_double(strtok_r(NULL, " \n", &save));
				n++;
			}
			printf("%s\n", result_name(whisper_update_many(w, pts, n, now)));
		} else if (strcmp(op, "snap") == 0) {
			/* flush, then copy the file: its bytes must be python's by now */
			const char *to = strtok_r(NULL, " \n", &save);
			int r = whisper_flush(w);

			if (r < 0 || copy_file(whisper_path(w), to) < 0) {
				fprintf(stderr, "snap %s: %s\n", to, whisper_strerror(r));
				goto out;
			}
			printf("ok\n");
		} else {
			fprintf(stderr, "unknown op %s\n", op);
			goto out;
		}
	}
	rc = 0;
out:
	whisper_close(&w);
	free(pts);
	free(line);
	fclose(f);
	return rc;
}

static int cmd_fetch(const char *path, const char *queries)
{
	struct whisper_err err;
	struct whisper *w = whisper_open(path, WHISPER_OPEN_RDONLY, &err);
	FILE *f = fopen(queries, "r");
	long long from, until, now;
	unsigned step;
	int rc = 1;

	if (w == NULL || f == NULL) {
		fprintf(stderr, "fetch: %s\n", w == NULL ? err.msg : queries);
		goto out;
	}
	while (fscanf(f, "%lld %lld %lld %u", &from, &until, &now, &step) == 4) {
		struct whisper_series *s = NULL;
		int r = step ? whisper_fetch_step(w, from, until, now, step, &s)
			     : whisper_fetch(w, from, until, now, &s);

		if (r < 0) {
			printf("error %s\n", r == -EINVAL ? "invalid" : whisper_strerror(r));
			continue;
		}
		if (s == NULL) {
			printf("none\n");
			continue;
		}
		printf("%" PRId64 " %" PRId64 " %" PRIu32 " %zu", s->from, s->until, s->step,
		       s->count);
		for (size_t i = 0; i < s->count; i++)
			print_value(stdout, s->values[i]);
		printf("\n");
		whisper_series_destroy(&s);
	}
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	whisper_close(&w);
	return rc;
}

static int cmd_info(const char *path)
{
	struct whisper_err err;
	struct whisper *w = whisper_open(path, WHISPER_OPEN_RDONLY, &err);
	const struct whisper_header *h;
	uint32_t xbits;

	if (w == NULL) {
		printf("error %s\n", whisper_err_is_corrupt(err.code) ? "corrupt" : "other");
		fprintf(stderr, "%s\n", err.msg);
		return 0;
	}
	h = whisper_info(w);
	memcpy(&xbits, &h->xff, sizeof(xbits));
	printf("%s %" PRIu32 " %08" PRIx32 " %" PRIu32 "\n",
	       whisper_aggregation_name(h->aggregation), h->max_retention, xbits, h->archive_count);
	for (uint32_t i = 0; i < h->archive_count; i++)
		printf("%" PRIu32 " %" PRIu32 " %" PRIu32 "\n", h->archives[i].offset,
		       h->archives[i].seconds_per_point, h->archives[i].points);
	whisper_close(&w);
	return 0;
}

static int cmd_pyset(void)
{
	char *line = NULL;
	size_t len = 0;
	uint32_t keys[4096], order[4096];

	while (getline(&line, &len, stdin) > 0) {
		char *save = NULL, *t = strtok_r(line, " \n", &save);
		size_t n = 0, m = 0;

		for (; t != NULL && n < 4096; t = strtok_r(NULL, " \n", &save))
			keys[n++] = (uint32_t)strtoul(t, NULL, 10);
		if (pyset_order(keys, n, order, &m) < 0)
			return 1;
		for (size_t i = 0; i < m; i++)
			printf(i ? " %" PRIu32 : "%" PRIu32, order[i]);
		printf("\n");
	}
	free(line);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "run") == 0)
		return cmd_run(argv[2]);
	if (argc == 4 && strcmp(argv[1], "fetch") == 0)
		return cmd_fetch(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "info") == 0)
		return cmd_info(argv[2]);
	if (argc == 2 && strcmp(argv[1], "pyset") == 0)
		return cmd_pyset();
	fprintf(stderr,
		"usage: whisper_tool run SCRIPT | fetch FILE QUERIES | info FILE | pyset\n");
	return 2;
}
