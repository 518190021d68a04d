/*
 * query — the CGI query string, validated before any page sees it. A page
 * names the keys it accepts and, for each, which characters and how many
 * bytes its value may have; anything else (unknown key, repeated key, bad
 * percent-encoding, a value outside its class, too long a string) refuses
 * the whole request with a reason, so pages only ever handle known, bounded
 * text.
 */
#ifndef DASH_QUERY_H
#define DASH_QUERY_H

#include <stddef.h>

/* Longest QUERY_STRING accepted, and most key=value pairs. */
#define QUERY_MAX_LEN	2048
#define QUERY_MAX_PAIRS 16

/* What a value may contain (after percent-decoding). */
enum query_class {
	QUERY_WORD,   /* [A-Za-z0-9_-]: sort keys, windows, orders */
	QUERY_ID,     /* [A-Za-z0-9._:@+-]: project ids, host names, metric names */
	QUERY_UUID,   /* 32 hex digits, or 36 with dashes at 8-13-18-23 */
	QUERY_NUMBER, /* [0-9]{1,9} */
};

/* One key a page accepts. */
struct query_key {
	const char *name;	/* exact, case-sensitive */
	enum query_class class; /* allowed characters */
	size_t max_len;		/* bytes after decoding, >= 1 */
};

/*
 * Parses `qs` (NULL or "" = no parameters) against keys[0..nkeys):
 * values[i] receives the decoded value of keys[i], or NULL when absent.
 * Values are malloc'd (free with query_free). Returns 0, or -1 with the
 * reason in `why` (values all NULL then). An empty value ("a=") counts as
 * a bad value, and "a" alone (no '=') as malformed.
 */
int query_parse(const char *qs, const struct query_key *keys, size_t nkeys, char **values,
		char *why, size_t whylen);

/* Frees values[0..nkeys) and sets them to NULL. */
void query_free(char **values, size_t nkeys);

#endif
