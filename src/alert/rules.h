/*
 * rules — the alert rules file (/etc/stackmon/alert.rules), parsed and
 * checked in one pass. A rule is a block that starts with "rule NAME" and
 * holds a "when" line (what is watched, the comparison, how long it must
 * hold, the clear threshold), and optionally "scope", "severity", "label"
 * and "annotation" lines (docs/ALERTS.md "Rules" is the contract). Metric
 * names are the store catalogue's (catalogue_list.h): the dashboard, the
 * Whisper files and the rules speak one vocabulary. Errors name file:line.
 */
#ifndef ALERT_RULES_H
#define ALERT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"
#include "sm_wire.h"

#define RULE_NAME_MAX	  63  /* [A-Za-z0-9_.-] */
#define RULE_TEXT_MAX	  511 /* a label or annotation value */
#define RULE_KEY_MAX	  63  /* a label or annotation name: [A-Za-z_][A-Za-z0-9_]* */
#define RULE_MAX_KV	  32  /* labels, and annotations, of one rule */
#define RULE_MAX_RULES	  4096
#define RULE_SEVERITY_MAX 31

/* What a rule watches. */
enum rule_kind {
	RULE_METRIC,	   /* a catalogue metric compared with a threshold */
	RULE_STALE,	   /* a domain or node that stopped reporting for `for_s` */
	RULE_LIBVIRT_DOWN, /* node: its monitor's libvirt connection is down */
	RULE_FRAME_LOSS,   /* node: % of its frames lost, compared with a threshold */
};

enum rule_op { RULE_GT, RULE_GE, RULE_LT, RULE_LE };

enum rule_scope {
	SCOPE_ALL,
	SCOPE_PROJECT,	/* domains of one project (tenant) id */
	SCOPE_HOST,	/* domains on, or the node, of one compute node */
	SCOPE_INSTANCE, /* one domain, by UUID */
};

/* A label or annotation: name = value. */
struct rule_kv {
	char key[RULE_KEY_MAX + 1];
	char value[RULE_TEXT_MAX + 1];
};

/* One rule, plain data. */
struct rule {
	char name[RULE_NAME_MAX + 1];
	int line; /* where its "rule" line is in the file */
	enum rule_kind kind;
	enum metric_record record;   /* METRIC_OF_DOMAIN/DISK/NIC for domains, _HOST for nodes */
	int metric;		     /* RULE_METRIC: index in the record's catalogue table */
	bool rate;		     /* rate(METRIC): per-second growth between two frames */
	char device[SM_DEV_MAX + 1]; /* disk/nic: the device, "" = every device ("*") */
	char expr[160];		     /* the "when" line as written after "when", for labels */
	enum rule_op op;
	double threshold;
	bool has_clear;
	double clear; /* a firing alert resolves when `value op clear` no longer holds */
	double for_s; /* seconds the condition must hold (RULE_STALE: the silence) */
	enum rule_scope scope;
	char scope_value[SM_NAME_MAX + 1]; /* project id or host name */
	uint8_t scope_uuid[16];		   /* SCOPE_INSTANCE */
	char severity[RULE_SEVERITY_MAX + 1];
	size_t nlabels, nannotations;
	struct rule_kv labels[RULE_MAX_KV];
	struct rule_kv annotations[RULE_MAX_KV];
};

/* A parsed file: its rules in file order. */
struct rule_set {
	char path[4096];
	size_t n;
	struct rule *rules;
};

/* Parses the rules in `path`. On success returns a set (free with
 * rules_free); on the first error returns NULL and writes "path:line:
 * what" (or "path: what") into err. */
struct rule_set *rules_load(const char *path, char *err, size_t errlen);
/* The same for text already in memory, named `path` in errors. */
struct rule_set *rules_parse(const char *path, const char *text, char *err, size_t errlen);
/* Frees the set and nulls *set; NULL-safe. */
void rules_free(struct rule_set **set);

/* Whether `value` meets the rule's condition (firing: its clear one).
 * NaN never does. */
bool rule_holds(const struct rule *r, double value, bool firing);
/* "domain", "node": what the rule's instances are. */
bool rule_is_node(const struct rule *r);
/* The metric's catalogue name as written ("cpu_pct", "disk.vda.errors"). */
const char *rule_op_text(enum rule_op op);

#endif
