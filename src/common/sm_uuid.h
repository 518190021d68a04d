/*
 * sm_uuid — domain UUIDs given as text by someone else (a query string, a
 * caller of the index): checked, and put in the one canonical form that
 * paths and index rows use, 36 lowercase characters with dashes; and the
 * 16-byte form the wire carries, with its text in and out.
 */
#ifndef SM_UUID_H
#define SM_UUID_H

#include <stdbool.h>
#include <stdint.h>

/* True if text is a UUID sm_uuid_parse accepts: 32 hex digits, or 36
 * characters with dashes at 8, 13, 18 and 23; either case. False for NULL. */
bool sm_uuid_valid(const char *text);

/* Writes the canonical text of the UUID in text (any case, with or
 * without dashes) into out. Returns 0, or -1 (out untouched) when text is
 * NULL or not a UUID. */
int sm_uuid_canonical(const char *text, char out[37]);

/* UUID as 36-char lowercase text (buf >= 37). */
void sm_uuid_format(const uint8_t uuid[16], char buf[37]);
/* Parses 36-char text (with dashes) or 32 hex digits; 0 or -1. */
int sm_uuid_parse(const char *text, uint8_t uuid[16]);

#endif
