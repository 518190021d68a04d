/*
 * sm_cert — see sm_cert.h. The reader accepts the subset of ZPL (ZeroMQ
 * RFC 4) that certificates use: '#' comment lines, unindented section names,
 * indented `name = value` lines with the value bare or quoted. A key that is
 * not 40 characters of valid Z85, or a secret key whose public half is not
 * the file's public key, makes the file malformed: a daemon must refuse to
 * start on it rather than run with a key the operator did not mean.
 */
#include "sm_cert.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "sm_log.h"

/* A certificate is a few hundred bytes; anything this big is not one. */
#define CERT_FILE_MAX 65536

int sm_cert_generate(struct sm_cert *c)
{
	sm_cert_clear(c);
	if (zmq_curve_keypair(c->public_key, c->secret_key) < 0) {
		sm_log_err("zmq_curve_keypair: %s (libzmq built without CURVE?)",
			   zmq_strerror(errno));
		return -1;
	}
	return 0;
}

int sm_cert_add_host(struct sm_cert *c, const char *host)
{
	char **grown;
	char *copy;

	if (!host || !*host || strpbrk(host, "\"'#\n\r"))
		return -1;
	copy = strdup(host);
	grown = copy ? realloc(c->hosts, (c->nhosts + 1) * sizeof(*grown)) : NULL;
	if (!grown) {
		free(copy);
		return -1;
	}
	c->hosts = grown;
	c->hosts[c->nhosts++] = copy;
	return 0;
}

void sm_cert_clear(struct sm_cert *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nhosts; i++)
		free(c->hosts[i]);
	free(c->hosts);
	memset(c, 0, sizeof(*c));
}

bool sm_cert_speaks_for(const struct sm_cert *c, const char *host)
{
	for (size_t i = 0; i < c->nhosts; i++) {
		if (fnmatch(c->hosts[i], host, 0) == 0)
			return true;
	}
	return false;
}

/* Writes one certificate file with exactly `mode`; O_EXCL unless force. */
static int write_file(const char *path, mode_t mode, bool force, const struct sm_cert *c,
		      bool with_secret, char *err, size_t errlen)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL),
		  mode);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* The umask may have taken bits away, and an existing file (--force)
	 * keeps its old mode: set the one we mean. */
	if (fchmod(fd, mode) < 0) {
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	f = fdopen(fd, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(f, "#   ****  Generated on %s by stackmon-keygen  ****\n", stamp);
	if (with_secret)
		fprintf(f, "#   ZeroMQ CURVE **Secret** Certificate\n"
			   "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its "
			   "permissions.\n\n");
	else
		fprintf(f, "#   ZeroMQ CURVE Public Certificate\n"
			   "#   Exchange securely, or use a secure mechanism to verify the "
			   "contents\n#   of this file after exchange.\n\n");
	fprintf(f, "metadata\n");
	for (size_t i = 0; i < c->nhosts; i++)
		fprintf(f, "    host = \"%s\"\n", c->hosts[i]);
	if (c->relay)
		fprintf(f, "    role = \"%s\"\n", SM_CERT_ROLE_RELAY);
	fprintf(f, "curve\n    public-key = \"%s\"\n", c->public_key);
	if (with_secret)
		fprintf(f, "    secret-key = \"%s\"\n", c->secret_key);
	if (fflush(f) == EOF || fsync(fileno(f)) < 0 || ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fclose(f);
		return -1;
	}
	if (fclose(f) == EOF) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int sm_cert_save(const struct sm_cert *c, const char *dir, const char *name, bool force, char *err,
		 size_t errlen)
{
	char pub[4096], sec[4096];
	struct stat st;

	if (snprintf(pub, sizeof(pub), "%s/%s.key", dir, name) >= (int)sizeof(pub) ||
	    snprintf(sec, sizeof(sec), "%s/%s.key_secret", dir, name) >= (int)sizeof(sec)) {
		snprintf(err, errlen, "%s/%s: path too long", dir, name);
		return -1;
	}
	/* Check both before writing either, so a refusal leaves nothing half
	 * done (a new public key beside an old secret one). */
	if (!force) {
		if (lstat(pub, &st) == 0 || lstat(sec, &st) == 0) {
			snprintf(err, errlen, "%s exists; use --force to replace the key pair",
				 lstat(sec, &st) == 0 ? sec : pub);
			return -1;
		}
	}
	/* Secret first: a public key without its secret half is useless. */
	if (write_file(sec, 0600, force, c, true, err, errlen) < 0)
		return -1;
	if (write_file(pub, 0644, force, c, false, err, errlen) < 0)
		return -1;
	return 0;
}

/* The value after '=': quoted (up to the same quote) or bare (up to a '#'
 * comment), trimmed. Modifies s; NULL on an unterminated quote. */
static char *parse_value(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '"' || *s == '\'') {
		end = strchr(s + 1, *s);
		if (!end)
			return NULL;
		*end = '\0';
		return s + 1;
	}
	end = strchr(s, '#');
	if (end)
		*end = '\0';
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static bool z85_key_valid(const char *key)
{
	uint8_t raw[32];

	return strlen(key) == SM_CURVE_KEY_Z85 && zmq_z85_decode(raw, key) != NULL;
}

/* Reads the whole (small) file; NULL with err set. */
static char *read_text(int fd, const char *path, char *err, size_t errlen)
{
	char *buf = malloc(CERT_FILE_MAX + 1);
	size_t len = 0;
	ssize_t n;

	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	while ((n = read(fd, buf + len, CERT_FILE_MAX + 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0 || len > CERT_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path,
			 n < 0 ? strerror(errno) : "too big for a certificate");
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* Fills c from the text; -1 with err naming path:line. */
static int parse_cert(char *text, const char *path, struct sm_cert *c, char *err, size_t errlen)
{
	char section[32] = "";
	int lineno = 0;

	for (char *line = text, *next; line; line = next) {
		char *eq, *name, *value, *end;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		end = line + strlen(line);
		if (end > line && end[-1] == '\r')
			end[-1] = '\0';
		name = line + strspn(line, " \t");
		if (!*name || *name == '#')
			continue;
		if (name == line) { /* unindented: a section */
			snprintf(section, sizeof(section), "%.*s", (int)strcspn(name, " \t#="),
				 name);
			continue;
		}
		eq = strchr(name, '=');
		value = eq ? parse_value(eq + 1) : NULL;
		if (!value) {
			snprintf(err, errlen, "%s:%d: malformed line (want name = \"value\")", path,
				 lineno);
			return -1;
		}
		*eq = '\0';
		end = name + strcspn(name, " \t");
		*end = '\0';
		if (strcmp(section, "curve") == 0 && strcmp(name, "public-key") == 0) {
			snprintf(c->public_key, sizeof(c->public_key), "%s", value);
			if (!z85_key_valid(value))
				goto bad_key;
		} else if (strcmp(section, "curve") == 0 && strcmp(name, "secret-key") == 0) {
			snprintf(c->secret_key, sizeof(c->secret_key), "%s", value);
			if (!z85_key_valid(value))
				goto bad_key;
		} else if (strcmp(section, "metadata") == 0 && strcmp(name, "host") == 0) {
			if (sm_cert_add_host(c, value) < 0) {
				snprintf(err, errlen, "%s:%d: unusable host '%s'", path, lineno,
					 value);
				return -1;
			}
		} else if (strcmp(section, "metadata") == 0 && strcmp(name, "role") == 0) {
			if (strcmp(value, SM_CERT_ROLE_RELAY) != 0) {
				snprintf(err, errlen, "%s:%d: unknown role '%.40s' (only '%s')",
					 path, lineno, value, SM_CERT_ROLE_RELAY);
				return -1;
			}
			c->relay = true;
		}
		continue;
bad_key:
		snprintf(err, errlen, "%s:%d: %s is not a 40-character Z85 key", path, lineno,
			 name);
		return -1;
	}
	return 0;
}

int sm_cert_load(const char *path, bool secret, struct sm_cert *c, char *err, size_t errlen)
{
	char derived[SM_CURVE_KEY_Z85 + 1];
	struct stat st;
	char *text = NULL;
	int fd, rc = -1;

	sm_cert_clear(c);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (secret && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		snprintf(err, errlen,
			 "%s: secret key file is accessible by group or others (mode %04o); "
			 "chmod 600 it",
			 path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	text = read_text(fd, path, err, errlen);
	if (!text || parse_cert(text, path, c, err, errlen) < 0)
		goto out;
	if (!c->public_key[0]) {
		snprintf(err, errlen, "%s: no curve public-key (not a certificate?)", path);
		goto out;
	}
	if (secret) {
		if (!c->secret_key[0]) {
			snprintf(err, errlen, "%s: no curve secret-key (a public key file?)", path);
			goto out;
		}
		if (zmq_curve_public(derived, c->secret_key) < 0 ||
		    strcmp(derived, c->public_key) != 0) {
			snprintf(err, errlen, "%s: secret-key does not belong to public-key", path);
			goto out;
		}
	} else {
		/* Never keep a secret that was not asked for. */
		memset(c->secret_key, 0, sizeof(c->secret_key));
	}
	rc = 0;
out:
	if (text) {
		memset(text, 0, strlen(text));
		free(text);
	}
	close(fd);
	if (rc < 0)
		sm_cert_clear(c);
	return rc;
}
