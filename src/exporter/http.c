/*
 * http — the exporter's HTTP side on libmicrohttpd (see http.h). The
 * listening socket is made here (TCP or a unix socket alike) and handed to
 * the library, which then runs one internal thread polling every
 * connection: a slow or vanished client costs a socket, never the thread
 * or the ZeroMQ intake, since each response is a finished buffer.
 */
#include "http.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zlib.h>

#include "expo.h"
#include "sm_err.h"
#include "sm_log.h"

#define LISTEN_BACKLOG 64
#define PEM_MAX	       (1 << 20) /* a certificate chain or key file larger than this is refused */
#define REALM	       "stackmon-exporter"
#define METRICS_TYPE   "text/plain; version=0.0.4; charset=utf-8"
/* Fastest deflate: the text repeats every label set, so even level 1 makes
 * it about ten times smaller, at a fraction of the cost of the default. */
#define GZIP_LEVEL 1
#define GZIP_MIN   1024 /* smaller bodies go as they are */

static const char index_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>StackMon exporter</title>"
    "</head>\n<body><h1>StackMon exporter</h1>\n<p>Metrics of StackMon's domains and nodes"
    " for Prometheus: <a href=\"metrics\">/metrics</a></p></body></html>\n";

struct http_server {
	struct MHD_Daemon *mhd;
	int fd; /* the listening socket until the daemon owns it (MHD_stop_daemon closes it) */
	http_render_fn render;
	void *arg;
	char *auth_user, *auth_hash;
	char *cert, *key; /* PEM text, kept while the daemon runs */
	char address[128 + sizeof(((struct sockaddr_un *)0)->sun_path)];
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t unix_dev;
	ino_t unix_ino;
	struct sm_complaint auth_failures; /* refused credentials, rate-limited */
};

/* ---- listening socket -------------------------------------------------- */

static int listen_unix(struct http_server *s, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		sm_err_set(err, errlen, "listen: unix socket path too long: %s", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* A socket file left by a previous run is ours to replace; anything
	 * else at that path is not. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		sm_err_set(err, errlen, "listen on unix:%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (stat(path, &st) == 0) {
		s->unix_dev = st.st_dev;
		s->unix_ino = st.st_ino;
		snprintf(s->unix_path, sizeof(s->unix_path), "%s", path);
	}
	snprintf(s->address, sizeof(s->address), "unix:%s", path);
	return fd;
}

/* Splits "HOST:PORT", "[V6]:PORT" or ":PORT" into host (NULL: every
 * address) and port. -1 when malformed. */
static int split_host_port(const char *spec, char *host, size_t hostlen, const char **port)
{
	const char *colon;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= hostlen)
			return -1;
		memcpy(host, spec + 1, (size_t)(end - spec - 1));
		host[end - spec - 1] = '\0';
		*port = end + 2;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= hostlen ||
		    memchr(spec, ':', (size_t)(colon - spec)))
			return -1;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		*port = colon + 1;
	}
	if (!(*port)[0] || strspn(*port, "0123456789") != strlen(*port) || strlen(*port) > 5)
		return -1;
	return 0;
}

static void address_text(struct http_server *s, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return;
	snprintf(s->address, sizeof(s->address), ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
		 host, port);
}

static int listen_tcp(struct http_server *s, const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
	char host[256];
	const char *port;
	int fd = -1, one = 1, zero = 0, rc;

	if (split_host_port(spec, host, sizeof(host), &port) < 0) {
		sm_err_set(err, errlen,
			   "listen: '%s' is not HOST:PORT, [ADDR]:PORT, :PORT or unix:PATH", spec);
		return -1;
	}
	hints.ai_family = host[0] && strcmp(host, "*") != 0 ? AF_UNSPEC : AF_INET6;
	rc = getaddrinfo(hints.ai_family == AF_INET6 && (!host[0] || !strcmp(host, "*")) ? NULL
											 : host,
			 port, &hints, &res);
	if (rc != 0) {
		sm_err_set(err, errlen, "listen: %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (res->ai_family == AF_INET6) /* ":PORT" serves IPv4 too */
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, host[0] ? &one : &zero,
				   sizeof(int));
	}
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		sm_err_set(err, errlen, "listen on %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	address_text(s, fd);
	return fd;
}

/* ---- files ------------------------------------------------------------- */

/* The whole of a small text file, NUL-terminated; NULL with err set. */
static char *read_small_file(const char *path, const char *what, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t n = 0;

	if (!f) {
		sm_err_set(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	text = malloc(PEM_MAX + 1);
	if (text)
		n = fread(text, 1, PEM_MAX + 1, f);
	if (!text || ferror(f) || n > PEM_MAX || n == 0) {
		sm_err_set(err, errlen, "%s %s: %s", what, path,
			   !text	 ? "out of memory"
			   : n > PEM_MAX ? "larger than 1 MiB"
					 : "empty or unreadable");
		free(text);
		fclose(f);
		return NULL;
	}
	fclose(f);
	text[n] = '\0';
	return text;
}

/* ---- requests ---------------------------------------------------------- */

/* A constant body (text) with its type; a 405 says which methods are. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     const char *text)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	return reply(c, status, "text/plain; charset=utf-8", text);
}

/* True when the client's Accept-Encoding takes gzip (a q of 0 refuses it). */
static bool accepts_gzip(struct MHD_Connection *c)
{
	const char *ae =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);

	while (ae && *ae) {
		size_t n = strcspn(ae, ",");
		const char *p = ae, *end = ae + n;
		size_t tok;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		tok = strcspn(p, ",; \t");
		if ((tok == 4 && strncasecmp(p, "gzip", 4) == 0) ||
		    (tok == 6 && strncasecmp(p, "x-gzip", 6) == 0)) {
			const char *q = memchr(p, ';', (size_t)(end - p));

			/* "q=0", "q=0.0", "q=0.000": refused; any other q takes it. */
			if (!q)
				return true;
			q++;
			while (q < end && *q == ' ')
				q++;
			if (end - q < 3 || strncasecmp(q, "q=", 2) != 0)
				return true;
			q += 2;
			if (*q != '0')
				return true;
			for (q++; q < end && (*q == '.' || *q == '0'); q++)
				;
			return q < end && *q >= '1' && *q <= '9';
		}
		ae = *end ? end + 1 : end;
	}
	return false;
}

/* The gzip of text[0..len) into *out (malloc'd); -1 when zlib or memory fails. */
static int gzip_text(const char *text, size_t len, char **out, size_t *outlen)
{
	z_stream zs = {0};
	size_t bound;
	int rc;

	/* 15 + 16: a gzip header and trailer around the deflate stream. */
	if (deflateInit2(&zs, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	bound = deflateBound(&zs, (uLong)len) + 32;
	*out = bound <= UINT_MAX && len <= UINT_MAX ? malloc(bound) : NULL;
	if (!*out) {
		deflateEnd(&zs);
		return -1;
	}
	zs.next_in = (Bytef *)text;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)*out;
	zs.avail_out = (uInt)bound;
	rc = deflate(&zs, Z_FINISH);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* /metrics: rendered (under the caller's lock, by render), then, when the
 * client takes it, compressed here, outside that lock. */
static enum MHD_Result reply_metrics(struct http_server *s, struct MHD_Connection *c)
{
	struct expo_buf b = {0};
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *body;
	size_t len;
	bool gzipped = false;

	if (s->render(s->arg, &b) < 0 || b.failed) {
		expo_buf_free(&b);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "out of memory while rendering\n");
	}
	body = b.data;
	len = b.len;
	if (len >= GZIP_MIN && accepts_gzip(c) && gzip_text(b.data, b.len, &body, &len) == 0) {
		expo_buf_free(&b);
		gzipped = true;
	} else {
		body = b.data; /* gzip_text leaves body NULL when it fails */
		len = b.len;
	}
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_TYPE);
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	if (gzipped)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* Constant-time comparison of two NUL-terminated strings' bytes. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

static bool authorised(struct http_server *s, struct MHD_Connection *c)
{
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(c, &pass);
	bool ok = false;

	if (user && pass) {
		struct crypt_data cd = {0};
		const char *h = crypt_r(pass, s->auth_hash, &cd);

		/* Both compared whatever the user: the time taken says nothing. */
		bool user_ok = same_secret(user, s->auth_user);
		bool hash_ok = h && same_secret(h, s->auth_hash);

		ok = user_ok && hash_ok;
		explicit_bzero(cd.output, sizeof(cd.output));
		explicit_bzero(pass, strlen(pass));
	}
	if (!ok && user)
		sm_complain(&s->auth_failures, SM_LOG_WARNING,
			    "http: refused credentials (user of %zu bytes) for basic auth",
			    strlen(user));
	if (user)
		MHD_free(user);
	if (pass)
		MHD_free(pass);
	return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (s->auth_user && !authorised(s, c)) {
		static const char denied[] = "authentication required\n";
		struct MHD_Response *r = MHD_create_response_from_buffer(
		    strlen(denied), (void *)denied, MHD_RESPMEM_PERSISTENT);
		enum MHD_Result ret;

		if (!r)
			return MHD_NO;
		ret = MHD_queue_basic_auth_fail_response(c, REALM, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (strcmp(url, "/metrics") == 0)
		return reply_metrics(s, c);
	if (strcmp(url, "/") == 0)
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", index_page);
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	sm_log(SM_LOG_INFO, "http: %s", line);
}

/* ---- lifecycle --------------------------------------------------------- */

struct http_server *http_start(const struct http_config *cfg, http_render_fn render, void *arg,
			       char *err, size_t errlen)
{
	struct http_server *s = calloc(1, sizeof(*s));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
	bool tls = cfg->tls_cert || cfg->tls_key;
	const char *spec = cfg->listen;

	if (!s) {
		sm_err_set(err, errlen, "out of memory");
		return NULL;
	}
	s->fd = -1;
	s->render = render;
	s->arg = arg;
	if (tls && (!cfg->tls_cert || !cfg->tls_key)) {
		sm_err_set(err, errlen, "tls_cert and tls_key go together: set both or neither");
		goto fail;
	}
	if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		sm_err_set(err, errlen, "this libmicrohttpd was built without TLS");
		goto fail;
	}
	if (tls && (!(s->cert = read_small_file(cfg->tls_cert, "tls_cert", err, errlen)) ||
		    !(s->key = read_small_file(cfg->tls_key, "tls_key", err, errlen))))
		goto fail;
	if (cfg->auth_user) {
		s->auth_user = strdup(cfg->auth_user);
		s->auth_hash = strdup(cfg->auth_hash ? cfg->auth_hash : "");
		if (!s->auth_user || !s->auth_hash) {
			sm_err_set(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (strncmp(spec, "unix:", 5) == 0 || spec[0] == '/')
		s->fd = listen_unix(s, spec[0] == '/' ? spec : spec + 5, err, errlen);
	else
		s->fd = listen_tcp(s, spec, err, errlen);
	if (s->fd < 0)
		goto fail;
	if (tls)
		flags |= MHD_USE_TLS;
	/* The logger first: the library's complaints about later options go
	 * through it. The TLS pair last, cut off by MHD_OPTION_END without TLS. */
	s->mhd =
	    MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
			     NULL, MHD_OPTION_LISTEN_SOCKET, s->fd, MHD_OPTION_CONNECTION_LIMIT,
			     cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s,
			     tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->cert,
			     MHD_OPTION_HTTPS_MEM_KEY, s->key, MHD_OPTION_END);
	if (!s->mhd) {
		sm_err_set(err, errlen, "libmicrohttpd would not start on %s%s (see above)",
			   s->address, tls ? " with the TLS certificate and key" : "");
		goto fail;
	}
	s->fd = -1; /* the daemon's now: MHD_stop_daemon closes it */
	return s;
fail:
	http_stop(&s);
	return NULL;
}

void http_stop(struct http_server **sp)
{
	struct http_server *s = sp ? *sp : NULL;
	struct stat st;

	if (!s)
		return;
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	if (s->fd >= 0)
		close(s->fd);
	/* Only the file we made: a successor may have bound the path since. */
	if (s->unix_path[0] && stat(s->unix_path, &st) == 0 && st.st_dev == s->unix_dev &&
	    st.st_ino == s->unix_ino)
		unlink(s->unix_path);
	if (s->key)
		explicit_bzero(s->key, strlen(s->key));
	free(s->key);
	free(s->cert);
	free(s->auth_user);
	if (s->auth_hash)
		explicit_bzero(s->auth_hash, strlen(s->auth_hash));
	free(s->auth_hash);
	free(s);
	*sp = NULL;
}

const char *http_address(const struct http_server *s)
{
	return s->address;
}
