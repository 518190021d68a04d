/*
 * sm_cert — CurveZMQ key pairs in ZeroMQ's certificate format (the ZPL text
 * czmq's zcert writes): a `metadata` section of name = value lines and a
 * `curve` section with `public-key` and, in the secret file only,
 * `secret-key`, both 40-character Z85. NAME.key is the public half (safe to
 * copy anywhere), NAME.key_secret the pair (mode 0600, never leaves the host).
 * Metadata `host = PATTERN` lines say which hosts a key may speak for;
 * `role = relay` marks the key of a collector that passes on other keys'
 * frames, each with the identity that first sent it (docs/SECURITY.md).
 */
#ifndef SM_CERT_H
#define SM_CERT_H

#include <stdbool.h>
#include <stddef.h>

#define SM_CURVE_KEY_Z85 40 /* characters of a Z85-encoded 32-byte key */

/* One certificate. Plain data: zero-initialise, fill with sm_cert_generate
 * or sm_cert_load, release with sm_cert_clear (which owns `hosts`). */
struct sm_cert {
	char public_key[SM_CURVE_KEY_Z85 + 1]; /* Z85 */
	char secret_key[SM_CURVE_KEY_Z85 + 1]; /* Z85; "" for a public-only file */
	char **hosts;			       /* metadata `host` values (fnmatch patterns) */
	size_t nhosts;
	bool relay; /* metadata `role = relay`: may forward frames with their origin identity */
};

/* A fresh key pair (zmq_curve_keypair), no metadata. 0, or -1 (logged). */
int sm_cert_generate(struct sm_cert *c);
/* Adds one `host` metadata value (copied). 0, or -1 when out of memory or
 * when `host` is empty or holds a quote, newline or '#'. */
int sm_cert_add_host(struct sm_cert *c, const char *host);
/* Role values a certificate may carry: only "relay" today. Any other value
 * makes sm_cert_load refuse the file, so a typo never silently drops a right. */
#define SM_CERT_ROLE_RELAY "relay"
/* Frees the hosts and zeroes *c. NULL-safe. */
void sm_cert_clear(struct sm_cert *c);

/*
 * Writes DIR/NAME.key (0644, public key and metadata) and DIR/NAME.key_secret
 * (0600, both keys and metadata). Without `force` it refuses, writing
 * nothing, when either file exists. Returns 0, or -1 with a message naming
 * the file in err.
 */
int sm_cert_save(const struct sm_cert *c, const char *dir, const char *name, bool force, char *err,
		 size_t errlen);

/*
 * Reads a certificate file into *c (cleared first). With `secret` the file
 * must hold a secret key matching its public key, be a regular file and
 * grant no permission to group or others; without, only the public key is
 * read (a secret key present is ignored). Returns 0, or -1 with a message
 * naming the file in err (and *c cleared).
 */
int sm_cert_load(const char *path, bool secret, struct sm_cert *c, char *err, size_t errlen);

/* True when one of the cert's host patterns matches `host` (fnmatch). */
bool sm_cert_speaks_for(const struct sm_cert *c, const char *host);

#endif
