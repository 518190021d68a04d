/*
 * sm_config — one `key = value` file per daemon, parsed once through a table
 * of {name, type, bounds, default}. Unknown keys and bad values are errors
 * that name the file and line. Command-line long options are generated from
 * the same table (key "fan_in" is option --fan-in) and override the file.
 */
#ifndef SM_CONFIG_H
#define SM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum sm_config_type {
	SM_CFG_STRING, /* any UTF-8 text up to 4095 bytes; empty = unset (NULL) */
	SM_CFG_LIST,   /* one or more strings, separated by commas or spaces in the
	                  file, or given by repeating the option */
	SM_CFG_INT,    /* integer within [min, max] */
	SM_CFG_DOUBLE, /* finite number within [min, max] */
	SM_CFG_BOOL,   /* yes/no, true/false, on/off, 1/0 */
};

/* One row of a daemon's configuration table. */
struct sm_config_key {
	const char *name;          /* key in the file; option is "--" + name with '_' -> '-' */
	enum sm_config_type type;  /* how the value is parsed and checked */
	double min, max;           /* bounds for INT and DOUBLE (inclusive); 0, 0 = none */
	const char *default_value; /* textual default, parsed like a file value; NULL = unset */
	const char *help;          /* one line for --help and the commented sample config */
};

struct sm_config; /* opaque: values for one table */

/* A config over `keys[0..nkeys)`; the table must outlive it. Defaults are
 * applied. Returns NULL on allocation failure. */
struct sm_config *sm_config_new(const struct sm_config_key *keys, size_t nkeys);
/* A config over a program's own keys followed by a shared table (such as
 * sm_sock_config_keys); both are copied, so neither needs to outlive it. */
struct sm_config *sm_config_new_joined(const struct sm_config_key *own, size_t nown,
				       const struct sm_config_key *shared, size_t nshared);
void sm_config_destroy(struct sm_config **cfg);

/* Reads `path`. On error returns -1 and writes "PATH:LINE: what" into err.
 * A missing file is an error unless missing_ok (then returns 0, no change). */
int sm_config_load_file(struct sm_config *cfg, const char *path, bool missing_ok, char *err,
			size_t errlen);
/* Sets `key` from text; `origin` ("--uri", "file.conf:12") is used in errors.
 * For a LIST key, the first value from a new origin kind replaces the file's
 * list and later ones append (so repeated options build a list). */
int sm_config_set(struct sm_config *cfg, const char *key, const char *value, const char *origin,
		  char *err, size_t errlen);

const char *sm_config_string(const struct sm_config *cfg, const char *key); /* NULL if unset */
long long sm_config_int(const struct sm_config *cfg, const char *key);
double sm_config_double(const struct sm_config *cfg, const char *key);
bool sm_config_bool(const struct sm_config *cfg, const char *key);
size_t sm_config_list_count(const struct sm_config *cfg, const char *key);
const char *sm_config_list_item(const struct sm_config *cfg, const char *key, size_t i);
/* A LIST key's items as a NULL-terminated array of strings borrowed from cfg;
 * *n receives the count. The caller frees the array (not the strings).
 * NULL (and *n = 0) when out of memory. */
const char **sm_config_list_array(const struct sm_config *cfg, const char *key, size_t *n);
/* Writes every key with its effective value, "key = value", one per line. */
void sm_config_dump(const struct sm_config *cfg, FILE *out);
/* The table cfg was made with; *nkeys receives its row count (for --help,
 * generated options and sample configs). */
const struct sm_config_key *sm_config_table(const struct sm_config *cfg, size_t *nkeys);

#endif
