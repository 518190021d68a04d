/*
 * rules — the rules file's parser (see rules.h). Line by line: a line is
 * split into words, quoted strings and the operators > >= < <= =, a "#"
 * outside quotes starts a comment. The first error stops the parse and is
 * reported with its file and line; nothing of a bad file is used.
 */
#include "rules.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_err.h"
#include "sm_uuid.h"

#define MAX_TOKENS 32
#define TOKEN_MAX  (RULE_TEXT_MAX + 1)
#define FILE_MAX   (4u << 20) /* a rules file larger than this is refused */

struct token {
	char text[TOKEN_MAX + 1];
	bool quoted;
};

struct parser {
	const char *path;
	int line;
	char *err;
	size_t errlen;
	struct rule_set *set;
	struct rule *cur; /* the rule being filled, NULL before the first */
	bool cur_has_when;
};

/* Labels the alerter sets itself: a rule may not override them. */
static const char *const reserved_labels[] = {"alertname",  "severity", "uuid", "name",	  "domain",
					      "project_id", "project",	"host", "device", "rule"};

/* Copies a checked word into a field, cut to fit (the checks made it fit). */
static void set_text(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int fail(struct parser *p, const char *fmt, ...) SM_PRINTF(2, 3);
static int fail(struct parser *p, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sm_err_set(p->err, p->errlen, "%s:%d: %s", p->path, p->line, msg);
	return -1;
}

/* Splits one line into tokens. Returns the count, or -1 (error set). */
static int tokenize(struct parser *p, const char *s, struct token *t, int max)
{
	int n = 0;

	while (*s) {
		size_t k = 0;

		if (isspace((unsigned char)*s)) {
			s++;
			continue;
		}
		if (*s == '#')
			break;
		if (n == max)
			return fail(p, "too many words on one line (at most %d)", max);
		t[n].quoted = false;
		if (*s == '"') {
			s++;
			while (*s && *s != '"') {
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				if ((unsigned char)*s < 0x20)
					return fail(p, "a control character in a quoted string");
				if (k == TOKEN_MAX)
					return fail(p, "a quoted string longer than %d bytes",
						    TOKEN_MAX);
				t[n].text[k++] = *s++;
			}
			if (*s != '"')
				return fail(p, "a quoted string without its closing quote");
			s++;
			t[n].quoted = true;
		} else if (strchr("<>=!", *s)) {
			t[n].text[k++] = *s++;
			if (*s == '=')
				t[n].text[k++] = *s++;
		} else {
			while (*s && !isspace((unsigned char)*s) && !strchr("<>=!\"#", *s)) {
				if (k == TOKEN_MAX)
					return fail(p, "a word longer than %d bytes", TOKEN_MAX);
				t[n].text[k++] = *s++;
			}
		}
		t[n].text[k] = '\0';
		n++;
	}
	return n;
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

static bool key_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RULE_KEY_MAX || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

/* A finite number. */
static int parse_number(struct parser *p, const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(*out))
		return fail(p, "'%s' is not a number", s);
	return 0;
}

/* A duration: a number with s, m, h or d (none = seconds). */
static int parse_duration(struct parser *p, const char *s, double *out)
{
	static const struct {
		char unit;
		double seconds;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	char *end;
	double mul = 1;

	errno = 0;
	*out = strtod(s, &end);
	if (end != s && *end && !end[1]) {
		mul = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (*end == units[i].unit)
				mul = units[i].seconds;
		end += mul > 0;
	}
	if (end == s || *end || errno || !isfinite(*out) || *out < 0 || mul == 0 ||
	    *out * mul > 365 * 86400.0)
		return fail(p, "'%s' is not a duration (like 30s, 5m, 2h; at most 365d)", s);
	*out *= mul;
	return 0;
}

static int parse_op(struct parser *p, const char *s, enum rule_op *op)
{
	static const char *const ops[] = {
	    [RULE_GT] = ">", [RULE_GE] = ">=", [RULE_LT] = "<", [RULE_LE] = "<="};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(s, ops[i]) == 0) {
			*op = (enum rule_op)i;
			return 0;
		}
	return fail(p, "'%s' is not a comparison (>, >=, <, <=)", s);
}

const char *rule_op_text(enum rule_op op)
{
	switch (op) {
	case RULE_GT:
		return ">";
	case RULE_GE:
		return ">=";
	case RULE_LT:
		return "<";
	case RULE_LE:
		return "<=";
	}
	return "?";
}

/* The metric of a domain ("cpu_pct", "disk.vda.errors", "nic.*.rx_drops")
 * or of a node ("load1"), possibly as rate(...). */
static int parse_metric(struct parser *p, struct rule *r, bool node, const char *text)
{
	char buf[TOKEN_MAX + 1];
	const char *name = buf;
	const struct metric_def *def;
	const struct metric_def *table;
	size_t len = strlen(text);

	if (strncmp(text, "rate(", 5) == 0 && len > 6 && text[len - 1] == ')') {
		r->rate = true;
		snprintf(buf, sizeof(buf), "%.*s", (int)(len - 6), text + 5);
	} else {
		snprintf(buf, sizeof(buf), "%s", text);
	}
	r->record = node ? METRIC_OF_HOST : METRIC_OF_DOMAIN;
	if (!node && (strncmp(buf, METRIC_DISK_PREFIX ".", 5) == 0 ||
		      strncmp(buf, METRIC_NIC_PREFIX ".", 4) == 0)) {
		bool disk = buf[0] == 'd';
		char *dev = buf + (disk ? 5 : 4);
		char *dot = strrchr(dev, '.');

		if (!dot || dot == dev)
			return fail(p, "'%s': a device metric is %s.<device>.<name>", buf,
				    disk ? "disk" : "nic");
		*dot = '\0';
		name = dot + 1;
		if (strcmp(dev, "*") != 0) {
			if (!name_ok(dev, SM_DEV_MAX))
				return fail(p, "'%s' is not a device name", dev);
			memcpy(r->device, dev, strlen(dev) + 1); /* name_ok: it fits */
		}
		r->record = disk ? METRIC_OF_DISK : METRIC_OF_NIC;
	}
	def = catalogue_find(r->record, name);
	if (!def)
		return fail(p,
			    "'%s' is not a %s metric of the catalogue (docs/ALERTS.md lists them)",
			    text, node ? "node" : "domain");
	table = r->record == METRIC_OF_DOMAIN ? metric_domain
		: r->record == METRIC_OF_DISK ? metric_disk
		: r->record == METRIC_OF_NIC  ? metric_nic
					      : metric_host;
	r->metric = (int)(def - table);
	return 0;
}

/* when domain|node WHAT [for DURATION] [clear NUMBER] */
static int parse_when(struct parser *p, struct rule *r, struct token *t, int n)
{
	bool node;
	int i = 2;
	size_t off = 0;

	if (p->cur_has_when)
		return fail(p, "rule %s has a second \"when\"", r->name);
	if (n < 3 || (strcmp(t[1].text, "domain") != 0 && strcmp(t[1].text, "node") != 0))
		return fail(p, "\"when\" is followed by domain or node, then what to watch");
	node = t[1].text[0] == 'n';
	for (int k = 1; k < n && off < sizeof(r->expr); k++)
		off += (size_t)snprintf(r->expr + off, sizeof(r->expr) - off, "%s%s",
					k > 1 ? " " : "", t[k].text);
	if (strcmp(t[2].text, "stale") == 0) {
		r->kind = RULE_STALE;
		i = 3;
	} else if (node && strcmp(t[2].text, "libvirt_down") == 0) {
		r->kind = RULE_LIBVIRT_DOWN;
		i = 3;
	} else {
		if (n < 5)
			return fail(p, "\"when %s %s\" needs a comparison and a threshold",
				    t[1].text, t[2].text);
		if (node && strcmp(t[2].text, "frame_loss") == 0)
			r->kind = RULE_FRAME_LOSS;
		else if (parse_metric(p, r, node, t[2].text) < 0)
			return -1;
		if (parse_op(p, t[3].text, &r->op) < 0 ||
		    parse_number(p, t[4].text, &r->threshold) < 0)
			return -1;
		i = 5;
	}
	r->record = node && r->kind != RULE_METRIC ? METRIC_OF_HOST : r->record;
	for (; i < n; i += 2) {
		if (i + 1 >= n)
			return fail(p, "'%s' needs a value", t[i].text);
		if (strcmp(t[i].text, "for") == 0) {
			if (parse_duration(p, t[i + 1].text, &r->for_s) < 0)
				return -1;
		} else if (strcmp(t[i].text, "clear") == 0) {
			if (r->kind != RULE_METRIC && r->kind != RULE_FRAME_LOSS)
				return fail(p, "\"clear\" goes with a comparison only");
			if (parse_number(p, t[i + 1].text, &r->clear) < 0)
				return -1;
			r->has_clear = true;
		} else {
			return fail(p, "unexpected '%s' (expected \"for\" or \"clear\")",
				    t[i].text);
		}
	}
	if (r->kind == RULE_STALE && r->for_s <= 0)
		return fail(p, "\"stale\" needs \"for DURATION\": how long a silence is");
	if (r->has_clear) {
		bool above = r->op == RULE_GT || r->op == RULE_GE;

		if (above ? r->clear > r->threshold : r->clear < r->threshold)
			return fail(p,
				    "clear %g is on the firing side of %s %g: it would never"
				    " clear",
				    r->clear, rule_op_text(r->op), r->threshold);
	}
	p->cur_has_when = true;
	return 0;
}

static int parse_scope(struct parser *p, struct rule *r, struct token *t, int n)
{
	const char *what = t[1].text;

	if (n == 2 && strcmp(what, "all") == 0) {
		r->scope = SCOPE_ALL;
		return 0;
	}
	if (n != 3)
		return fail(p, "scope is one of: all, project ID, host NAME, instance UUID");
	if (strcmp(what, "project") == 0) {
		if (strlen(t[2].text) > SM_ID_MAX)
			return fail(p, "a project id longer than %d bytes", SM_ID_MAX);
		r->scope = SCOPE_PROJECT;
	} else if (strcmp(what, "host") == 0) {
		if (!sm_wire_host_valid(t[2].text))
			return fail(p, "'%s' is not a host name", t[2].text);
		r->scope = SCOPE_HOST;
	} else if (strcmp(what, "instance") == 0) {
		if (sm_uuid_parse(t[2].text, r->scope_uuid) < 0)
			return fail(p, "'%s' is not a UUID", t[2].text);
		r->scope = SCOPE_INSTANCE;
	} else {
		return fail(p, "scope is one of: all, project ID, host NAME, instance UUID");
	}
	set_text(r->scope_value, sizeof(r->scope_value), t[2].text);
	return 0;
}

/* label KEY = VALUE, annotation KEY = VALUE */
static int parse_kv(struct parser *p, struct rule *r, struct token *t, int n, bool label)
{
	struct rule_kv *kv = label ? r->labels : r->annotations;
	size_t *count = label ? &r->nlabels : &r->nannotations;

	if (n != 4 || strcmp(t[2].text, "=") != 0)
		return fail(p, "%s KEY = VALUE", t[0].text);
	if (!key_ok(t[1].text))
		return fail(p, "'%s' is not a %s name ([A-Za-z_][A-Za-z0-9_]*, at most %d)",
			    t[1].text, t[0].text, RULE_KEY_MAX);
	if (strlen(t[3].text) > RULE_TEXT_MAX)
		return fail(p, "a %s value longer than %d bytes", t[0].text, RULE_TEXT_MAX);
	for (size_t i = 0; label && i < sizeof(reserved_labels) / sizeof(reserved_labels[0]); i++)
		if (strcmp(t[1].text, reserved_labels[i]) == 0)
			return fail(p, "label '%s' is set by stackmon-alert itself", t[1].text);
	for (size_t i = 0; i < *count; i++)
		if (strcmp(kv[i].key, t[1].text) == 0)
			return fail(p, "%s '%s' given twice", t[0].text, t[1].text);
	if (*count == RULE_MAX_KV)
		return fail(p, "more than %d %ss", RULE_MAX_KV, t[0].text);
	set_text(kv[*count].key, sizeof(kv[*count].key), t[1].text);
	set_text(kv[*count].value, sizeof(kv[*count].value), t[3].text);
	(*count)++;
	return 0;
}

/* The rule just finished, checked. */
static int end_rule(struct parser *p, int line)
{
	if (p->cur && !p->cur_has_when) {
		p->line = line;
		return fail(p, "rule %s has no \"when\" line", p->cur->name);
	}
	return 0;
}

static int start_rule(struct parser *p, struct token *t, int n)
{
	struct rule *grown;

	if (n != 2 || t[1].quoted)
		return fail(p, "rule NAME (one word)");
	if (!name_ok(t[1].text, RULE_NAME_MAX))
		return fail(p, "'%s' is not a rule name ([A-Za-z0-9_.-], 1 to %d)", t[1].text,
			    RULE_NAME_MAX);
	for (size_t i = 0; i < p->set->n; i++)
		if (strcmp(p->set->rules[i].name, t[1].text) == 0)
			return fail(p, "rule %s given twice (first at line %d)", t[1].text,
				    p->set->rules[i].line);
	if (p->set->n == RULE_MAX_RULES)
		return fail(p, "more than %d rules", RULE_MAX_RULES);
	grown = realloc(p->set->rules, (p->set->n + 1) * sizeof(*grown));
	if (!grown)
		return fail(p, "out of memory");
	p->set->rules = grown;
	p->cur = &grown[p->set->n++];
	memset(p->cur, 0, sizeof(*p->cur));
	set_text(p->cur->name, sizeof(p->cur->name), t[1].text);
	snprintf(p->cur->severity, sizeof(p->cur->severity), "warning");
	p->cur->line = p->line;
	p->cur_has_when = false;
	return 0;
}

static int parse_line(struct parser *p, const char *line)
{
	struct token t[MAX_TOKENS];
	int n = tokenize(p, line, t, MAX_TOKENS);
	const char *kw;

	if (n <= 0)
		return n;
	kw = t[0].text;
	if (t[0].quoted)
		return fail(p, "a line starts with a keyword, not a quoted string");
	if (strcmp(kw, "rule") == 0)
		return end_rule(p, p->line) < 0 ? -1 : start_rule(p, t, n);
	if (!p->cur)
		return fail(p, "'%s' before the first \"rule NAME\"", kw);
	if (strcmp(kw, "when") == 0)
		return parse_when(p, p->cur, t, n);
	if (strcmp(kw, "scope") == 0)
		return n >= 2
			   ? parse_scope(p, p->cur, t, n)
			   : fail(p, "scope is one of: all, project ID, host NAME, instance UUID");
	if (strcmp(kw, "severity") == 0) {
		if (n != 2 || !name_ok(t[1].text, RULE_SEVERITY_MAX))
			return fail(p, "severity WORD ([A-Za-z0-9_.-], at most %d)",
				    RULE_SEVERITY_MAX);
		set_text(p->cur->severity, sizeof(p->cur->severity), t[1].text);
		return 0;
	}
	if (strcmp(kw, "label") == 0 || strcmp(kw, "annotation") == 0)
		return parse_kv(p, p->cur, t, n, kw[0] == 'l');
	return fail(p, "unknown keyword '%s' (rule, when, scope, severity, label, annotation)", kw);
}

struct rule_set *rules_parse(const char *path, const char *text, char *err, size_t errlen)
{
	struct rule_set *set = calloc(1, sizeof(*set));
	struct parser p = {.path = path, .err = err, .errlen = errlen, .set = set};
	const char *s = text;
	int rc = 0;

	if (!set) {
		sm_err_set(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	snprintf(set->path, sizeof(set->path), "%s", path);
	while (*s && rc == 0) {
		const char *eol = strchr(s, '\n');
		size_t len = eol ? (size_t)(eol - s) : strlen(s);
		char line[4096];

		p.line++;
		if (len >= sizeof(line)) {
			rc = fail(&p, "a line longer than %zu bytes", sizeof(line) - 1);
			break;
		}
		memcpy(line, s, len);
		line[len] = '\0';
		if (memchr(line, '\0', len) || strchr(line, '\r'))
			line[strcspn(line, "\r")] = '\0';
		rc = parse_line(&p, line);
		s += len + (eol != NULL);
	}
	if (rc == 0)
		rc = end_rule(&p, p.line);
	if (rc < 0)
		rules_free(&set);
	return set;
}

struct rule_set *rules_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	struct rule_set *set = NULL;
	char *text = NULL;
	size_t n = 0;

	if (!f) {
		sm_err_set(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	text = malloc(FILE_MAX + 1);
	if (!text) {
		sm_err_set(err, errlen, "%s: out of memory", path);
		goto out;
	}
	n = fread(text, 1, FILE_MAX + 1, f);
	if (ferror(f)) {
		sm_err_set(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (n > FILE_MAX) {
		sm_err_set(err, errlen, "%s: larger than %u bytes", path, FILE_MAX);
		goto out;
	}
	text[n] = '\0';
	if (strlen(text) != n) {
		sm_err_set(err, errlen, "%s: holds a NUL byte: not a text file", path);
		goto out;
	}
	set = rules_parse(path, text, err, errlen);
out:
	free(text);
	fclose(f);
	return set;
}

void rules_free(struct rule_set **setp)
{
	struct rule_set *set = setp ? *setp : NULL;

	if (!set)
		return;
	free(set->rules);
	free(set);
	*setp = NULL;
}

bool rule_is_node(const struct rule *r)
{
	return r->record == METRIC_OF_HOST;
}

bool rule_holds(const struct rule *r, double v, bool firing)
{
	double t = firing && r->has_clear ? r->clear : r->threshold;

	if (isnan(v))
		return false;
	switch (r->op) {
	case RULE_GT:
		return v > t;
	case RULE_GE:
		return v >= t;
	case RULE_LT:
		return v < t;
	case RULE_LE:
		return v <= t;
	}
	return false;
}
