/*
 * index_schema — the index's versioned schema: an ordered list of
 * migrations, each applied in one transaction that also sets
 * PRAGMA user_version. Internal to the index and its tests: the tests open
 * an index with a list of their own to prove that an upgrade to a later
 * version works and that a failing one leaves the file as it was.
 */
#ifndef STORE_INDEX_SCHEMA_H
#define STORE_INDEX_SCHEMA_H

#include <stddef.h>

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

#endif
