/*
 * http — the exporter's HTTP side, on libmicrohttpd: GET /metrics in the
 * text format 0.0.4, a small page at /, 404 elsewhere, 405 for methods
 * other than GET and HEAD; optionally HTTP basic authentication against a
 * crypt(3) hash (openssl passwd -6) and TLS. libmicrohttpd serves from its
 * own thread; the page is made by the caller's render function, which
 * must take its own lock.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

struct expo_buf;
struct http_server; /* opaque */

/* Where and how to serve. Strings are borrowed for http_start only. */
struct http_config {
	const char *listen;	  /* "HOST:PORT", "[V6ADDR]:PORT", ":PORT" (every
				     address), or "unix:PATH" / an absolute PATH */
	const char *tls_cert;	  /* PEM certificate chain file, or NULL */
	const char *tls_key;	  /* its PEM private key file, or NULL */
	const char *auth_user;	  /* basic auth user, or NULL for none */
	const char *auth_hash;	  /* the user's crypt(3) hash ($6$...), with auth_user */
	unsigned max_connections; /* connections served at once */
	unsigned timeout_s;	  /* an idle connection is closed after this */
};

/* Renders /metrics into out (empty); returns 0, or -1 (the scrape gets a 500). */
typedef int (*http_render_fn)(void *arg, struct expo_buf *out);

/* Opens the listening socket and starts serving. NULL with a one-line
 * reason in err when the address, the files or the library refuse. */
struct http_server *http_start(const struct http_config *cfg, http_render_fn render, void *arg,
			       char *err, size_t errlen);
/* Stops serving (waits for the server thread), removes a unix socket file
 * it made, frees. NULL-safe; sets *s to NULL. */
void http_stop(struct http_server **s);
/* The address bound, as text ("127.0.0.1:7110", "[::1]:7110", "unix:PATH"):
 * with port 0 the port the system chose. */
const char *http_address(const struct http_server *s);

#endif
