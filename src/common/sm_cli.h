/*
 * sm_cli — the command line every daemon shares, and the start-up steps
 * around it that every main() repeats. Long options come from the
 * daemon's config table (sm_config), so the file and the line agree.
 */
#ifndef SM_CLI_H
#define SM_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "sm_config.h"

/*
 * Command line shared by every daemon: -c/--config FILE, -n/--check (parse
 * the config and exit), -v/--verbose (repeatable), -q/--quiet, --syslog,
 * -h/--help, -V/--version, plus one long option per table key (every key,
 * BOOL too, takes a value: --tcp-keepalive=no), and the program's own
 * boolean flags (struct sm_cli_flag).
 */
struct sm_cli {
	const char *program;	    /* e.g. "stackmon-monitor" */
	const char *summary;	    /* one line for --help */
	const char *default_config; /* e.g. "/etc/stackmon/monitor.conf" */
	/* results */
	const char *config_path; /* the file that was read (or NULL) */
	bool check_only;	 /* -n given */
	bool use_syslog;	 /* --syslog given */
	int verbosity;		 /* +1 per -v, -1 per -q */
};

/* Flags for sm_cli_parse's return value. */
enum sm_cli_result {
	SM_CLI_RUN = 0,	  /* go on */
	SM_CLI_EXIT_OK,	  /* --help or --version printed; exit 0 */
	SM_CLI_EXIT_USAGE /* bad usage or bad config; message printed; exit 2 (EX_USAGE-like) */
};

/* Extra boolean flag that a program adds (e.g. --once). */
struct sm_cli_flag {
	const char *name; /* long option name */
	const char *help; /* one line for --help */
	bool *value;	  /* set to true when given */
};

/* Parses argv: reads the config file (the default one may be missing; one
 * named with -c may not), then applies long options on top. Prints errors
 * to stderr naming the file/line or option. */
enum sm_cli_result sm_cli_parse(struct sm_cli *cli, struct sm_config *cfg,
				const struct sm_cli_flag *flags, size_t nflags, int argc,
				char **argv);

/* For main(): sm_cli_parse, then, when the program is to run, the log opened
 * as cli->program at NOTICE, one level more per -v and one less per -q (to
 * syslog with --syslog). Returns SM_CLI_CONTINUE when the program should go
 * on, else the status to exit with: 0 after --help or --version, 2 after bad
 * usage (already explained on stderr). */
enum { SM_CLI_CONTINUE = -1 };
int sm_cli_start(struct sm_cli *cli, struct sm_config *cfg, const struct sm_cli_flag *flags,
		 size_t nflags, int argc, char **argv);

/* For main(), once it has checked its configuration: the end of start-up
 * every daemon shares. With -n, prints "configuration OK" and returns 0;
 * else installs the signal handlers (sm_daemon_install_signals) and
 * returns SM_CLI_CONTINUE, or logs one line and returns 1 when they cannot
 * be installed (a daemon that cannot hear SIGTERM must not run). The
 * returned value other than SM_CLI_CONTINUE is the status to exit with. */
int sm_cli_ready(const struct sm_cli *cli);

#endif
