/*
 * sm_cli — see sm_cli.h: the command line every daemon shares.
 * Long options are generated from the config table. Parsing runs in three
 * steps so options win over the file whatever their order on the line:
 * collect options, read the config file, then apply the options on top.
 */
#include <assert.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sm_cli.h"
#include "sm_config.h"
#include "sm_daemon.h"
#include "sm_log.h"

/* getopt_long's `val` for long-only options: above any short option char. */
enum {
	OPT_SYSLOG = 0x100,
	OPT_KEY_BASE = 0x1000,	/* + index of the config key */
	OPT_FLAG_BASE = 0x8000, /* + index of the extra flag */
};

/* One key option seen on the command line, applied after the file. */
struct cli_setting {
	size_t key;	   /* index into the config table */
	const char *value; /* points into argv */
};

/* "fan_in" -> "fan-in", in a new string. */
static char *option_name(const char *key)
{
	char *s = strdup(key);

	for (char *p = s; p && *p; p++)
		if (*p == '_')
			*p = '-';
	return s;
}

static const char *type_metavar(enum sm_config_type type)
{
	switch (type) {
	case SM_CFG_STRING:
		return "TEXT";
	case SM_CFG_LIST:
		return "LIST";
	case SM_CFG_INT:
		return "N";
	case SM_CFG_DOUBLE:
		return "X";
	case SM_CFG_BOOL:
		return "yes|no";
	}
	return "VALUE";
}

/* One help row: the option column padded to a fixed width, then the text. */
static void usage_row(FILE *out, const char *opt, const char *help, const char *dflt)
{
	int width = fprintf(out, "  %s", opt);

	if (width > 30) {
		fputc('\n', out);
		width = 0;
	}
	fprintf(out, "%*s%s", 32 - width, "", help ? help : "");
	if (dflt)
		fprintf(out, " (default: %s)", *dflt ? dflt : "none");
	fputc('\n', out);
}

static void print_usage(const struct sm_cli *cli, const struct sm_config_key *keys, size_t nkeys,
			const struct sm_cli_flag *flags, size_t nflags)
{
	FILE *out = stdout;
	char opt[256];

	fprintf(out, "Usage: %s [OPTION]...\n", cli->program);
	if (cli->summary)
		fprintf(out, "%s\n", cli->summary);
	fputs("\nOptions:\n", out);
	usage_row(out, "-c, --config=FILE", "configuration file",
		  cli->default_config ? cli->default_config : "");
	usage_row(out, "-n, --check", "check the configuration and exit", NULL);
	usage_row(out, "-v, --verbose", "log more (repeatable)", NULL);
	usage_row(out, "-q, --quiet", "log less (repeatable)", NULL);
	usage_row(out, "    --syslog", "log to syslog instead of stderr", NULL);
	usage_row(out, "-h, --help", "show this help and exit", NULL);
	usage_row(out, "-V, --version", "show the version and exit", NULL);
	for (size_t i = 0; i < nflags; i++) {
		snprintf(opt, sizeof(opt), "    --%s", flags[i].name);
		usage_row(out, opt, flags[i].help, NULL);
	}
	if (nkeys == 0)
		return;
	fputs("\nSettings (config file key, or the option; options override the file):\n", out);
	for (size_t i = 0; i < nkeys; i++) {
		char *name = option_name(keys[i].name);

		snprintf(opt, sizeof(opt), "    --%s=%s", name ? name : keys[i].name,
			 type_metavar(keys[i].type));
		free(name);
		usage_row(out, opt, keys[i].help,
			  keys[i].default_value ? keys[i].default_value : "");
	}
}

static bool is_long(char **argv, int index)
{
	return strncmp(argv[index], "--", 2) == 0;
}

/* Prints the option at argv[index] as the user typed it (without any
 * "=value"), or "-X" for a short option inside a cluster. */
static void option_print(FILE *out, char **argv, int index, int opt)
{
	if (is_long(argv, index))
		fprintf(out, "%.*s", (int)strcspn(argv[index], "="), argv[index]);
	else
		fprintf(out, "-%c", opt > 0 && opt < 0x100 ? opt : '?');
}

enum sm_cli_result sm_cli_parse(struct sm_cli *cli, struct sm_config *cfg,
				const struct sm_cli_flag *flags, size_t nflags, int argc,
				char **argv)
{
	static const struct option fixed[] = {
	    {"config", required_argument, NULL, 'c'},  {"check", no_argument, NULL, 'n'},
	    {"verbose", no_argument, NULL, 'v'},       {"quiet", no_argument, NULL, 'q'},
	    {"syslog", no_argument, NULL, OPT_SYSLOG}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	};
	const size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	const struct sm_config_key *keys;
	size_t nkeys, nopts, nset = 0;
	struct option *opts = NULL;
	struct cli_setting *set = NULL;
	const char *path;
	bool explicit_path = false;
	char err[1024], origin[300];
	enum sm_cli_result result = SM_CLI_EXIT_USAGE;
	int c;

	keys = sm_config_table(cfg, &nkeys);
	cli->config_path = NULL;
	cli->check_only = false;
	cli->use_syslog = false;
	cli->verbosity = 0;
	path = cli->default_config;

	nopts = nfixed + nkeys + nflags;
	opts = calloc(nopts + 1, sizeof(*opts));
	set = calloc((size_t)argc + 1, sizeof(*set));
	if (!opts || !set) {
		fprintf(stderr, "%s: out of memory\n", cli->program);
		goto out;
	}
	memcpy(opts, fixed, sizeof(fixed));
	for (size_t i = 0; i < nkeys; i++) {
		struct option *o = &opts[nfixed + i];

		o->name = option_name(keys[i].name);
		if (!o->name) {
			fprintf(stderr, "%s: out of memory\n", cli->program);
			goto out;
		}
		for (size_t j = 0; j < nfixed; j++)
			assert(strcmp(o->name, fixed[j].name) != 0 &&
			       "config key shadows an option");
		/* BOOL keys take a value too (--tcp-keepalive=no): the file and the
		 * command line then read the same way. */
		o->has_arg = required_argument;
		o->val = OPT_KEY_BASE + (int)i;
	}
	for (size_t i = 0; i < nflags; i++) {
		struct option *o = &opts[nfixed + nkeys + i];

		o->name = flags[i].name;
		o->has_arg = no_argument;
		o->val = OPT_FLAG_BASE + (int)i;
	}

	/* optind = 0 makes glibc reinitialise fully, so tests (and a program
	 * that parses twice) start clean. "+": no permutation (the daemons take
	 * no operands, so a stray word is an error); ":": we print the messages. */
	optind = 0;
	opterr = 0;
	for (;;) {
		int prev = optind ? optind : 1;

		c = getopt_long(argc, argv, "+:c:nvqhV", opts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'c':
			path = optarg;
			explicit_path = true;
			break;
		case 'n':
			cli->check_only = true;
			break;
		case 'v':
			cli->verbosity++;
			break;
		case 'q':
			cli->verbosity--;
			break;
		case OPT_SYSLOG:
			cli->use_syslog = true;
			break;
		case 'h':
			print_usage(cli, keys, nkeys, flags, nflags);
			result = SM_CLI_EXIT_OK;
			goto out;
		case 'V':
			printf("%s %s\n", cli->program, STACKMON_VERSION);
			result = SM_CLI_EXIT_OK;
			goto out;
		case ':':
			fprintf(stderr, "%s: option '", cli->program);
			option_print(stderr, argv, prev, optopt);
			fputs("' needs a value\n", stderr);
			goto usage;
		case '?':
			/* optopt is 0 for an unknown long option, and the option's
			 * val for a known one given a value it does not take. */
			fprintf(stderr, "%s: %s '", cli->program,
				optopt && is_long(argv, prev) ? "option" : "unknown option");
			option_print(stderr, argv, prev, optopt);
			fputs(optopt && is_long(argv, prev) ? "' takes no value\n" : "'\n", stderr);
			goto usage;
		default:
			if (c >= OPT_FLAG_BASE) {
				*flags[c - OPT_FLAG_BASE].value = true;
			} else if (c >= OPT_KEY_BASE) {
				set[nset].key = (size_t)(c - OPT_KEY_BASE);
				set[nset].value = optarg;
				nset++;
			}
			break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cli->program, argv[optind]);
		goto usage;
	}

	/* The default file may be absent (built-in defaults then apply); a
	 * file named with -c must exist. */
	if (path && (explicit_path || access(path, F_OK) == 0)) {
		if (sm_config_load_file(cfg, path, !explicit_path, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n", cli->program, err);
			goto out;
		}
		cli->config_path = path;
	}
	for (size_t i = 0; i < nset; i++) {
		snprintf(origin, sizeof(origin), "--%s", opts[nfixed + set[i].key].name);
		if (sm_config_set(cfg, keys[set[i].key].name, set[i].value, origin, err,
				  sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n", cli->program, err);
			goto out;
		}
	}
	result = SM_CLI_RUN;
	goto out;
usage:
	fprintf(stderr, "Try '%s --help' for more information.\n", cli->program);
out:
	for (size_t i = 0; opts && i < nkeys; i++)
		free((char *)opts[nfixed + i].name);
	free(opts);
	free(set);
	return result;
}

int sm_cli_start(struct sm_cli *cli, struct sm_config *cfg, const struct sm_cli_flag *flags,
		 size_t nflags, int argc, char **argv)
{
	switch (sm_cli_parse(cli, cfg, flags, nflags, argc, argv)) {
	case SM_CLI_RUN:
		break;
	case SM_CLI_EXIT_OK:
		return 0;
	case SM_CLI_EXIT_USAGE:
	default:
		return 2;
	}
	sm_log_open(cli->program, (enum sm_log_level)(SM_LOG_NOTICE + cli->verbosity),
		    cli->use_syslog);
	return SM_CLI_CONTINUE;
}

int sm_cli_ready(const struct sm_cli *cli)
{
	if (cli->check_only) {
		printf("configuration OK\n");
		return 0;
	}
	if (sm_daemon_install_signals() < 0) {
		sm_log_warn("cannot install signal handlers");
		return 1;
	}
	return SM_CLI_CONTINUE;
}
