/*
 * index_schema — the index's versioned schema: an ordered list of
 * migrations, each applied in one transaction that also sets
 * PRAGMA user_version. Internal to the index and its tests: the tests open
 * an index with a list of their own to prove that an upgrade to a later
 * version works and that a failing one leaves the file as it was.
 */
#ifndef AGG_INDEX_SCHEMA_H
#define AGG_INDEX_SCHEMA_H

#include <stddef.h>

#include "index.h"

/* PRAGMA application_id of every StackMon index ("SMIX"): a file carrying
 * another id, or tables without it, is not ours and is never written. */
#define INDEX_APPLICATION_ID 0x534d4958

/* One step of the schema. */
struct index_migration {
	int version;	  /* user_version once applied: 1, 2, … strictly increasing */
	const char *what; /* one line for the log */
	const char *sql;  /* statements, run in the step's transaction */
};

/* This build's migrations, oldest first; the last one's version is
 * INDEX_SCHEMA_VERSION. */
extern const struct index_migration index_migrations[];
extern const size_t index_migrations_count;

/* index_open with another migration list (tests). The schema this open
 * knows is the list's last version. */
struct agg_index *index_open_with(const char *path, enum index_mode mode,
				  const struct index_migration *list, size_t n,
				  enum index_error *err);

struct sqlite3;
/* The connection underneath (tests: corrupt, lock or limit it on purpose). */
struct sqlite3 *index_sqlite(struct agg_index *self);

#endif
