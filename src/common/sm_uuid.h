/*
 * sm_uuid — domain UUIDs given as text by someone else (a query string, a
 * caller of the index): checked, and put in the one canonical form that
 * paths and index rows use, 36 lowercase characters with dashes. The
 * binary form and its parse/format are the wire's (sm_wire.h).
 */
#ifndef SM_UUID_H
#define SM_UUID_H

#include <stdbool.h>

/* True if text is a UUID sm_uuid_parse accepts: 32 hex digits, or 36
 * characters with dashes at 8, 13, 18 and 23; either case. False for NULL. */
bool sm_uuid_valid(const char *text);

/* Writes the canonical text of the UUID in text (any case, with or
 * without dashes) into out. Returns 0, or -1 (out untouched) when text is
 * NULL or not a UUID. */
int sm_uuid_canonical(const char *text, char out[37]);

#endif
