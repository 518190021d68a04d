/*
 * stackmon-keygen — makes the CurveZMQ key pair a StackMon process proves
 * itself with (docs/SECURITY.md): NAME.key_secret (0600, stays on the host)
 * and NAME.key (0644, copied into the allow-list directory of the collectors
 * it talks to, or given as the server key to those that connect to it).
 * Optional `host` metadata says which hosts' frames the key may send;
 * --relay marks a collector's key (`role = relay`), whose upstream may then
 * take the origin identity it sends along with relayed frames.
 *
 * Exit status: 0 written (or -n: arguments fine); 1 nothing written (files
 * exist without --force, or an I/O error); 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sm_cert.h"
#include "sm_cli.h"
#include "sm_config.h"
#include "sm_log.h"
#include "sm_wire.h"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static const struct sm_config_key keygen_keys[] = {
    {"name", SM_CFG_STRING, 0, 0, NULL,
     "key pair name: writes NAME.key and NAME.key_secret; unset: the host name"},
    {"dir", SM_CFG_STRING, 0, 0, ".", "directory to write the two files in"},
    {"host", SM_CFG_LIST, 0, 0, NULL,
     "host (or shell pattern) whose frames this key may send; repeatable"},
};

#define NKEYGEN_KEYS (sizeof(keygen_keys) / sizeof(keygen_keys[0]))

/* A name that makes one file name in `dir`, and reads well in logs. */
static bool name_usable(const char *name)
{
	return sm_wire_host_valid(name) && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int main(int argc, char **argv)
{
	struct sm_cli cli = {.program = "stackmon-keygen",
			     .summary = "Write a CurveZMQ key pair (ZeroMQ certificate format) "
					"for a StackMon process.",
			     .default_config = "/etc/stackmon/keygen.conf"};
	bool force = false, relay = false;
	const struct sm_cli_flag flags[] = {
	    {"force", "replace an existing key pair of that name", &force},
	    {"relay",
	     "a collector's key: it relays others' frames with their origin identity "
	     "(metadata role = relay)",
	     &relay}};
	struct sm_config *cfg = sm_config_new(keygen_keys, NKEYGEN_KEYS);
	struct sm_cert cert = {0};
	char hostname[SM_HOST_MAX + 2] = "", err[4400];
	const char *name, *dir;
	int status;

	if (!cfg)
		return EXIT_RUNTIME;
	status = sm_cli_start(&cli, cfg, flags, 2, argc, argv);
	if (status != SM_CLI_CONTINUE)
		goto out;
	status = EXIT_USAGE;
	name = sm_config_string(cfg, "name");
	if (!name) {
		if (gethostname(hostname, sizeof(hostname) - 1) < 0)
			hostname[0] = '\0';
		name = hostname;
	}
	dir = sm_config_string(cfg, "dir");
	if (!dir)
		dir = ".";
	if (!name_usable(name)) {
		fprintf(stderr, "stackmon-keygen: name '%s' is not usable (1-%d characters of "
				"[A-Za-z0-9._-]); set --name\n",
			name, SM_HOST_MAX);
		goto out;
	}
	for (size_t i = 0; i < sm_config_list_count(cfg, "host"); i++) {
		const char *h = sm_config_list_item(cfg, "host", i);

		if (sm_cert_add_host(&cert, h) < 0) {
			fprintf(stderr, "stackmon-keygen: --host '%s' is not usable\n", h);
			goto out;
		}
	}
	if (cli.check_only) {
		printf("configuration OK\n");
		status = 0;
		goto out;
	}
	status = EXIT_RUNTIME;
	{
		/* sm_cert_generate starts from a clean cert: keep the hosts. */
		char **hosts = cert.hosts;
		size_t nhosts = cert.nhosts;

		cert.hosts = NULL;
		cert.nhosts = 0;
		if (sm_cert_generate(&cert) < 0) {
			cert.hosts = hosts;
			cert.nhosts = nhosts;
			goto out;
		}
		cert.hosts = hosts;
		cert.nhosts = nhosts;
	}
	cert.relay = relay;
	if (sm_cert_save(&cert, dir, name, force, err, sizeof(err)) < 0) {
		fprintf(stderr, "stackmon-keygen: %s\n", err);
		goto out;
	}
	printf("%s/%s.key_secret (secret, mode 0600: keep on this host)\n"
	       "%s/%s.key (public, mode 0644: copy to peers)\npublic key %s\n",
	       dir, name, dir, name, cert.public_key);
	status = 0;
out:
	sm_cert_clear(&cert);
	sm_config_destroy(&cfg);
	sm_log_close();
	return status;
}
