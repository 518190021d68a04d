/*
 * sm_config — see sm_config.h. Every value, whether a default, a file line
 * or an option, goes through one parser (config_assign), so the table's
 * types and bounds are enforced the same way everywhere. Values remember
 * which source wrote them: that is how a LIST knows whether to replace
 * (new source) or append (the same source again, i.e. a repeated option).
 */
#include "sm_config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sm_err.h"
#include "sm_utf8.h"

#define CONFIG_LINE_MAX 4095 /* bytes in one file line or one value, without newline */

/* Sources of a value. Each file load and each non-option sm_config_set call
 * gets a fresh serial; every option shares SERIAL_CLI so repeats append. */
enum {
	SERIAL_DEFAULT = 0,
	SERIAL_CLI = 1,
	SERIAL_FIRST_FREE = 2,
};

/* The effective value of one key; the table row says which field is used. */
struct config_value {
	bool set;	    /* a value is present (an empty STRING counts as unset) */
	char *str;	    /* STRING: owned copy */
	char **items;	    /* LIST: owned array of owned copies */
	size_t nitems;	    /* LIST: entries in items */
	long long i;	    /* INT */
	double d;	    /* DOUBLE */
	bool b;		    /* BOOL */
	unsigned serial;    /* source that last wrote the value */
	unsigned file_line; /* line in the file load `serial` names, for duplicate errors */
};

struct sm_config {
	const struct sm_config_key *keys; /* caller's table, or owned_keys */
	struct sm_config_key *owned_keys; /* a joined table we copied, or NULL */
	size_t nkeys;			  /* rows in keys and vals */
	struct config_value *vals;	  /* one per key, same index */
	unsigned next_serial;		  /* next free source serial */
};

static long config_find(const struct sm_config *cfg, const char *key)
{
	for (size_t i = 0; key && i < cfg->nkeys; i++)
		if (strcmp(cfg->keys[i].name, key) == 0)
			return (long)i;
	return -1;
}

static void list_free(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

static void value_clear(struct config_value *v)
{
	free(v->str);
	list_free(v->items, v->nitems);
	v->str = NULL;
	v->items = NULL;
	v->nitems = 0;
	v->set = false;
}

/* Bounds of the key, or false when it has none (min == max == 0 means
 * "unbounded": a key that only allowed 0 would be pointless). */
static bool key_bounded(const struct sm_config_key *k)
{
	return !(k->min == 0 && k->max == 0);
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Splits s on commas and/or blanks into new owned strings, appended to
 * *items. Returns 0 or -1 (allocation failure, *items unchanged in count). */
static int list_append_split(char ***items, size_t *n, const char *s)
{
	while (*s) {
		size_t len;
		char **grown, *item;

		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		len = strcspn(s, ", \t\r\n\v\f");
		if (len == 0)
			break;
		item = strndup(s, len);
		grown = item ? realloc(*items, (*n + 1) * sizeof(**items)) : NULL;
		if (!grown) {
			free(item);
			return -1;
		}
		grown[(*n)++] = item;
		*items = grown;
		s += len;
	}
	return 0;
}

/*
 * Parses `text` for key `idx` and stores it. `where` prefixes error messages
 * ("file.conf:3: fan_in", "--fan-in"). For a LIST, a value from the source
 * that wrote the current list appends; any other source replaces it.
 */
static int config_assign(struct sm_config *cfg, size_t idx, const char *text, unsigned serial,
			 const char *where, char *err, size_t errlen)
{
	const struct sm_config_key *k = &cfg->keys[idx];
	struct config_value *v = &cfg->vals[idx];
	size_t len = strlen(text);
	char *end = NULL;
	long long ival;
	double dval;
	bool bval;

	if (len > CONFIG_LINE_MAX) {
		sm_err_set(err, errlen, "%s: value too long (max %d bytes)", where,
			   CONFIG_LINE_MAX);
		return -1;
	}
	if (!sm_utf8_valid(text, len)) {
		sm_err_set(err, errlen, "%s: value is not valid UTF-8", where);
		return -1;
	}

	switch (k->type) {
	case SM_CFG_STRING: {
		char *copy = NULL;

		if (len > 0 && !(copy = strdup(text)))
			goto nomem;
		value_clear(v);
		v->str = copy;
		v->set = copy != NULL;
		break;
	}
	case SM_CFG_LIST: {
		char **items = NULL;
		size_t n = 0;

		if (list_append_split(&items, &n, text) < 0) {
			list_free(items, n);
			goto nomem;
		}
		if (v->serial == serial && v->set) {
			char **grown = realloc(v->items, (v->nitems + n) * sizeof(*grown));

			if (!grown && v->nitems + n > 0) {
				list_free(items, n);
				goto nomem;
			}
			if (n)
				memcpy(grown + v->nitems, items, n * sizeof(*items));
			v->items = grown;
			v->nitems += n;
			free(items); /* the strings now belong to v */
		} else {
			value_clear(v);
			v->items = items;
			v->nitems = n;
		}
		v->set = true;
		break;
	}
	case SM_CFG_INT:
		errno = 0;
		ival = strtoll(text, &end, 10);
		if (len == 0 || errno == ERANGE || *end != '\0' || isspace((unsigned char)*text)) {
			sm_err_set(err, errlen, "%s: '%s' is not an integer", where, text);
			return -1;
		}
		if (key_bounded(k) && ((long double)ival < (long double)k->min ||
				       (long double)ival > (long double)k->max)) {
			sm_err_set(err, errlen, "%s: %lld is out of range [%.0f, %.0f]", where,
				   ival, k->min, k->max);
			return -1;
		}
		v->i = ival;
		v->set = true;
		break;
	case SM_CFG_DOUBLE:
		errno = 0;
		dval = strtod(text, &end);
		if (len == 0 || errno == ERANGE || *end != '\0' || !isfinite(dval) ||
		    isspace((unsigned char)*text)) {
			sm_err_set(err, errlen, "%s: '%s' is not a finite number", where, text);
			return -1;
		}
		if (key_bounded(k) && (dval < k->min || dval > k->max)) {
			sm_err_set(err, errlen, "%s: %g is out of range [%g, %g]", where, dval,
				   k->min, k->max);
			return -1;
		}
		v->d = dval;
		v->set = true;
		break;
	case SM_CFG_BOOL:
		if (!parse_bool(text, &bval)) {
			sm_err_set(err, errlen,
				   "%s: '%s' is not a boolean (yes/no, true/false, on/off, 1/0)",
				   where, text);
			return -1;
		}
		v->b = bval;
		v->set = true;
		break;
	}
	v->serial = serial;
	return 0;
nomem:
	sm_err_set(err, errlen, "%s: out of memory", where);
	return -1;
}

struct sm_config *sm_config_new(const struct sm_config_key *keys, size_t nkeys)
{
	struct sm_config *cfg = calloc(1, sizeof(*cfg));
	char err[256];

	if (!cfg)
		return NULL;
	cfg->keys = keys;
	cfg->nkeys = nkeys;
	cfg->next_serial = SERIAL_FIRST_FREE;
	cfg->vals = calloc(nkeys ? nkeys : 1, sizeof(*cfg->vals));
	if (!cfg->vals)
		goto fail;
	for (size_t i = 0; i < nkeys; i++) {
		assert(keys[i].name && config_find(cfg, keys[i].name) == (long)i); /* unique */
		if (!keys[i].default_value)
			continue;
		if (config_assign(cfg, i, keys[i].default_value, SERIAL_DEFAULT, keys[i].name, err,
				  sizeof(err)) < 0) {
			/* A bad default is a bug in the program's table, not user input. */
			fprintf(stderr, "sm_config: bad default: %s\n", err);
			assert(!"config table default does not parse");
			goto fail;
		}
	}
	return cfg;
fail:
	sm_config_destroy(&cfg);
	return NULL;
}

struct sm_config *sm_config_new_joined(const struct sm_config_key *own, size_t nown,
				       const struct sm_config_key *shared, size_t nshared)
{
	struct sm_config_key *keys = calloc(nown + nshared ? nown + nshared : 1, sizeof(*keys));
	struct sm_config *cfg;

	if (!keys)
		return NULL;
	if (nown)
		memcpy(keys, own, nown * sizeof(*keys));
	if (nshared)
		memcpy(keys + nown, shared, nshared * sizeof(*keys));
	cfg = sm_config_new(keys, nown + nshared);
	if (!cfg) {
		free(keys);
		return NULL;
	}
	cfg->owned_keys = keys;
	return cfg;
}

const char **sm_config_list_array(const struct sm_config *cfg, const char *key, size_t *n)
{
	size_t count = sm_config_list_count(cfg, key);
	const char **v = calloc(count + 1, sizeof(*v));

	for (size_t i = 0; v && i < count; i++)
		v[i] = sm_config_list_item(cfg, key, i);
	*n = v ? count : 0;
	return v;
}

void sm_config_destroy(struct sm_config **cfgp)
{
	struct sm_config *cfg = cfgp ? *cfgp : NULL;

	if (!cfg)
		return;
	for (size_t i = 0; cfg->vals && i < cfg->nkeys; i++)
		value_clear(&cfg->vals[i]);
	free(cfg->vals);
	free(cfg->owned_keys);
	free(cfg);
	*cfgp = NULL;
}

static char *trim_right(char *s, char *end)
{
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/*
 * Splits one file line in place. Returns 1 with *key and *value set, 0 for a
 * blank or comment line, -1 with *why set. Syntax: `key = value`, the value
 * optionally in double quotes (\" and \\ escape inside), a '#' after
 * whitespace starting a trailing comment.
 */
static int parse_line(char *line, char **key, char **value, const char **why)
{
	char *p = line, *eq, *v, *q;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	eq = strchr(p, '=');
	if (!eq) {
		*why = "expected 'key = value'";
		return -1;
	}
	*key = trim_right(p, eq);
	if (**key == '\0') {
		*why = "missing key before '='";
		return -1;
	}
	v = eq + 1;
	while (isspace((unsigned char)*v))
		v++;
	if (*v == '"') {
		char *w = v, *r = v + 1;

		while (*r && *r != '"') {
			if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
				r++;
			*w++ = *r++;
		}
		if (*r != '"') {
			*why = "unterminated quoted value";
			return -1;
		}
		*w = '\0';
		for (r++; isspace((unsigned char)*r); r++)
			;
		if (*r != '\0' && *r != '#') {
			*why = "unexpected text after closing quote";
			return -1;
		}
		*value = v;
		return 1;
	}
	for (q = v; *q; q++) {
		if (*q == '#' && isspace((unsigned char)q[-1])) {
			*q = '\0';
			break;
		}
	}
	*value = trim_right(v, v + strlen(v));
	return 1;
}

int sm_config_load_file(struct sm_config *cfg, const char *path, bool missing_ok, char *err,
			size_t errlen)
{
	FILE *f;
	char *line = NULL, where[512];
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0, serial;
	int rc = -1;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && missing_ok)
			return 0;
		sm_err_set(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	serial = cfg->next_serial++;
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *key, *value;
		const char *why = NULL;
		long idx;
		int kind;

		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n > CONFIG_LINE_MAX) {
			sm_err_set(err, errlen, "%s:%u: line too long (max %d bytes)", path, lineno,
				   CONFIG_LINE_MAX);
			goto out;
		}
		if (strlen(line) != (size_t)n) {
			sm_err_set(err, errlen, "%s:%u: NUL byte in line", path, lineno);
			goto out;
		}
		kind = parse_line(line, &key, &value, &why);
		if (kind < 0) {
			sm_err_set(err, errlen, "%s:%u: %s", path, lineno, why);
			goto out;
		}
		if (kind == 0)
			continue;
		idx = config_find(cfg, key);
		if (idx < 0) {
			sm_err_set(err, errlen, "%s:%u: unknown key '%s'", path, lineno, key);
			goto out;
		}
		if (cfg->vals[idx].serial == serial) {
			sm_err_set(err, errlen, "%s:%u: duplicate key '%s' (first set on line %u)",
				   path, lineno, key, cfg->vals[idx].file_line);
			goto out;
		}
		snprintf(where, sizeof(where), "%s:%u: %s", path, lineno, key);
		if (config_assign(cfg, (size_t)idx, value, serial, where, err, errlen) < 0)
			goto out;
		cfg->vals[idx].file_line = lineno;
	}
	if (ferror(f)) {
		sm_err_set(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	return rc;
}

int sm_config_set(struct sm_config *cfg, const char *key, const char *value, const char *origin,
		  char *err, size_t errlen)
{
	char where[512];
	unsigned serial;
	long idx;

	if (!origin)
		origin = "(set)";
	idx = config_find(cfg, key);
	if (idx < 0) {
		sm_err_set(err, errlen, "%s: unknown key '%s'", origin, key ? key : "(null)");
		return -1;
	}
	if (!value) {
		sm_err_set(err, errlen, "%s: missing value", origin);
		return -1;
	}
	/* An option ("--x") already names the key; any other origin does not. */
	if (origin[0] == '-') {
		serial = SERIAL_CLI;
		snprintf(where, sizeof(where), "%s", origin);
	} else {
		serial = cfg->next_serial++;
		snprintf(where, sizeof(where), "%s: %s", origin, key);
	}
	return config_assign(cfg, (size_t)idx, value, serial, where, err, errlen);
}

/* The value of `key`, which must exist with `type` (a caller bug otherwise). */
static const struct config_value *config_get(const struct sm_config *cfg, const char *key,
					     enum sm_config_type type)
{
	long idx = config_find(cfg, key);

	assert(idx >= 0 && "unknown config key");
	assert((idx < 0 || cfg->keys[idx].type == type) && "config key read as the wrong type");
	if (idx < 0 || cfg->keys[idx].type != type || !cfg->vals[idx].set)
		return NULL;
	return &cfg->vals[idx];
}

const char *sm_config_string(const struct sm_config *cfg, const char *key)
{
	const struct config_value *v = config_get(cfg, key, SM_CFG_STRING);

	return v ? v->str : NULL;
}

long long sm_config_int(const struct sm_config *cfg, const char *key)
{
	const struct config_value *v = config_get(cfg, key, SM_CFG_INT);

	return v ? v->i : 0;
}

double sm_config_double(const struct sm_config *cfg, const char *key)
{
	const struct config_value *v = config_get(cfg, key, SM_CFG_DOUBLE);

	return v ? v->d : 0.0;
}

bool sm_config_bool(const struct sm_config *cfg, const char *key)
{
	const struct config_value *v = config_get(cfg, key, SM_CFG_BOOL);

	return v ? v->b : false;
}

size_t sm_config_list_count(const struct sm_config *cfg, const char *key)
{
	const struct config_value *v = config_get(cfg, key, SM_CFG_LIST);

	return v ? v->nitems : 0;
}

const char *sm_config_list_item(const struct sm_config *cfg, const char *key, size_t i)
{
	const struct config_value *v = config_get(cfg, key, SM_CFG_LIST);

	return v && i < v->nitems ? v->items[i] : NULL;
}

/* Writes s so that the file parser reads it back unchanged. */
static void dump_string(FILE *out, const char *s)
{
	size_t len = strlen(s);
	bool quote = len == 0 || isspace((unsigned char)s[0]) ||
		     isspace((unsigned char)s[len - 1]) || s[0] == '"' || strchr(s, '#');

	if (!quote) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

void sm_config_dump(const struct sm_config *cfg, FILE *out)
{
	for (size_t i = 0; i < cfg->nkeys; i++) {
		const struct sm_config_key *k = &cfg->keys[i];
		const struct config_value *v = &cfg->vals[i];
		char num[64];

		if (!v->set && k->type != SM_CFG_STRING && k->type != SM_CFG_LIST) {
			fprintf(out, "# %s is unset\n", k->name);
			continue;
		}
		fprintf(out, "%s =", k->name);
		switch (k->type) {
		case SM_CFG_STRING:
			if (v->set) {
				fputc(' ', out);
				dump_string(out, v->str);
			}
			break;
		case SM_CFG_LIST:
			for (size_t j = 0; j < v->nitems; j++)
				fprintf(out, "%s%s", j ? ", " : " ", v->items[j]);
			break;
		case SM_CFG_INT:
			fprintf(out, " %lld", v->i);
			break;
		case SM_CFG_DOUBLE:
			/* Shortest text that reads back as the same double. */
			snprintf(num, sizeof(num), "%.15g", v->d);
			if (strtod(num, NULL) != v->d)
				snprintf(num, sizeof(num), "%.17g", v->d);
			fprintf(out, " %s", num);
			break;
		case SM_CFG_BOOL:
			fputs(v->b ? " yes" : " no", out);
			break;
		}
		fputc('\n', out);
	}
}

const struct sm_config_key *sm_config_table(const struct sm_config *cfg, size_t *nkeys)
{
	*nkeys = cfg->nkeys;
	return cfg->keys;
}
