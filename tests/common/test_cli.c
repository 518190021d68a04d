/*
 * Tests of sm_cli_parse: argv arrays against temp config files. Options
 * must win over the file whatever their order, -c needs an existing file
 * while the default may be missing, and every error names the option or
 * the file and line. stdout/stderr are captured through their fds.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sm_cli.h"
#include "sm_config.h"
#include "sm_log.h"

static const struct sm_config_key keys[] = {
    {"uri", SM_CFG_STRING, 0, 0, "qemu:///system", "libvirt connection URI"},
    {"fan_in", SM_CFG_INT, 1, 1000, "16", "monitors per collector"},
    {"interval", SM_CFG_DOUBLE, 0.1, 3600, "1", "polling interval in seconds"},
    {"tcp_keepalive", SM_CFG_BOOL, 0, 0, "yes", "TCP keepalive probes"},
    {"endpoints", SM_CFG_LIST, 0, 0, "tcp://127.0.0.1:5555", "collectors to publish to"},
    {"upstream", SM_CFG_STRING, 0, 0, NULL, "next collector up"},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Per-test fixture: config, cli, one extra flag, a temp dir, captured fds. */
struct fixture {
	struct sm_config *cfg;
	struct sm_cli cli;
	bool once;
	struct sm_cli_flag flags[1];
	char dir[64];
	char conf[128];	   /* a config file path in dir (written by tests) */
	char missing[128]; /* a path in dir that never exists */
	char out_path[128], err_path[128];
	int saved_out, saved_err; /* -1 when not capturing */
	char *out, *err;	  /* what was captured, after capture_stop */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sm-test-cli-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->conf, sizeof(fx->conf), "%s/test.conf", fx->dir);
	snprintf(fx->missing, sizeof(fx->missing), "%s/missing.conf", fx->dir);
	snprintf(fx->out_path, sizeof(fx->out_path), "%s/stdout", fx->dir);
	snprintf(fx->err_path, sizeof(fx->err_path), "%s/stderr", fx->dir);
	fx->cfg = sm_config_new(keys, NKEYS);
	fx->cli.program = "stackmon-test";
	fx->cli.summary = "Test program for the shared command line.";
	fx->cli.default_config = fx->missing;
	fx->flags[0] = (struct sm_cli_flag){"once", "poll once and exit", &fx->once};
	fx->saved_out = fx->saved_err = -1;
	*state = fx;
	return fx->cfg ? 0 : -1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);
	size_t n;

	if (f && buf) {
		n = fread(buf, 1, (1 << 16) - 1, f);
		buf[n] = '\0';
	}
	if (f)
		fclose(f);
	return buf;
}

static void capture_start(struct fixture *fx)
{
	FILE *o = fopen(fx->out_path, "w"), *e = fopen(fx->err_path, "w");

	assert_non_null(o);
	assert_non_null(e);
	fflush(stdout);
	fflush(stderr);
	fx->saved_out = dup(STDOUT_FILENO);
	fx->saved_err = dup(STDERR_FILENO);
	dup2(fileno(o), STDOUT_FILENO);
	dup2(fileno(e), STDERR_FILENO);
	fclose(o);
	fclose(e);
}

static void capture_stop(struct fixture *fx)
{
	if (fx->saved_out < 0)
		return;
	fflush(stdout);
	fflush(stderr);
	dup2(fx->saved_out, STDOUT_FILENO);
	dup2(fx->saved_err, STDERR_FILENO);
	close(fx->saved_out);
	close(fx->saved_err);
	fx->saved_out = fx->saved_err = -1;
	free(fx->out);
	free(fx->err);
	fx->out = slurp(fx->out_path);
	fx->err = slurp(fx->err_path);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	capture_stop(fx);
	sm_config_destroy(&fx->cfg);
	unlink(fx->conf);
	unlink(fx->out_path);
	unlink(fx->err_path);
	rmdir(fx->dir);
	free(fx->out);
	free(fx->err);
	free(fx);
	return 0;
}

static void write_conf(struct fixture *fx, const char *text)
{
	FILE *f = fopen(fx->conf, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Runs fn (sm_cli_parse or sm_cli_start) on a NULL-terminated argv with
 * output captured; its result as an int. */
#define CALL(fx, fn, ...)                                                                          \
	({                                                                                         \
		char *argv_[] = {"stackmon-test", __VA_ARGS__, NULL};                              \
		int r_;                                                                            \
		capture_start(fx);                                                                 \
		r_ = (int)fn(&(fx)->cli, (fx)->cfg, (fx)->flags, 1,                                \
			     (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_);                  \
		capture_stop(fx);                                                                  \
		r_;                                                                                \
	})
#define PARSE(fx, ...) ((enum sm_cli_result)CALL(fx, sm_cli_parse, __VA_ARGS__))
/* An exit status, or SM_CLI_CONTINUE. */
#define START(fx, ...) CALL(fx, sm_cli_start, __VA_ARGS__)

static void cli_options_override_file_whatever_their_order(void **state)
{
	struct fixture *fx = *state;

	write_conf(fx, "fan_in = 5\nuri = test:///file\ninterval = 2\n");
	/* The option comes before -c on the line, yet wins over the file. */
	assert_int_equal(PARSE(fx, "--fan-in", "7", "-c", fx->conf, "--interval=0.5"), SM_CLI_RUN);
	assert_int_equal(sm_config_int(fx->cfg, "fan_in"), 7);
	assert_true(sm_config_double(fx->cfg, "interval") == 0.5);
	assert_string_equal(sm_config_string(fx->cfg, "uri"), "test:///file");
	assert_string_equal(fx->cli.config_path, fx->conf);
	assert_string_equal(fx->err, "");
}

static void cli_default_config_may_be_missing(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(PARSE(fx, "-v"), SM_CLI_RUN);
	assert_null(fx->cli.config_path);
	assert_int_equal(sm_config_int(fx->cfg, "fan_in"), 16);
	assert_string_equal(fx->err, "");
}

static void cli_default_config_is_read_when_present(void **state)
{
	struct fixture *fx = *state;

	write_conf(fx, "fan_in = 9\n");
	fx->cli.default_config = fx->conf;
	assert_int_equal(PARSE(fx, "--uri", "test:///default"), SM_CLI_RUN);
	assert_string_equal(fx->cli.config_path, fx->conf);
	assert_int_equal(sm_config_int(fx->cfg, "fan_in"), 9);
	assert_string_equal(sm_config_string(fx->cfg, "uri"), "test:///default");
}

static void cli_named_config_must_exist(void **state)
{
	struct fixture *fx = *state;
	char expected[512];

	assert_int_equal(PARSE(fx, "-c", fx->missing), SM_CLI_EXIT_USAGE);
	snprintf(expected, sizeof(expected), "stackmon-test: %s: No such file or directory\n",
		 fx->missing);
	assert_string_equal(fx->err, expected);
	assert_int_equal(PARSE(fx, "--config", fx->missing), SM_CLI_EXIT_USAGE);
	assert_int_equal(PARSE(fx, "--config=/nonexistent/dir/x.conf"), SM_CLI_EXIT_USAGE);
}

static void cli_config_error_names_file_and_line(void **state)
{
	struct fixture *fx = *state;
	char expected[512];

	write_conf(fx, "fan_in = 3\n# ok\nbogus = 1\n");
	assert_int_equal(PARSE(fx, "-c", fx->conf), SM_CLI_EXIT_USAGE);
	snprintf(expected, sizeof(expected), "stackmon-test: %s:3: unknown key 'bogus'\n",
		 fx->conf);
	assert_string_equal(fx->err, expected);
}

static void cli_unknown_option_is_usage_error(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(PARSE(fx, "--bogus"), SM_CLI_EXIT_USAGE);
	assert_string_equal(fx->err, "stackmon-test: unknown option '--bogus'\n"
				     "Try 'stackmon-test --help' for more information.\n");
	assert_int_equal(PARSE(fx, "-x"), SM_CLI_EXIT_USAGE);
	assert_non_null(strstr(fx->err, "unknown option '-x'"));
	assert_int_equal(PARSE(fx, "stray"), SM_CLI_EXIT_USAGE);
	assert_non_null(strstr(fx->err, "unexpected argument 'stray'"));
	assert_int_equal(PARSE(fx, "--check=yes"), SM_CLI_EXIT_USAGE);
	assert_non_null(strstr(fx->err, "option '--check' takes no value\n"));
}

static void cli_missing_option_value_names_option(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(PARSE(fx, "--fan-in"), SM_CLI_EXIT_USAGE);
	assert_non_null(strstr(fx->err, "stackmon-test: option '--fan-in' needs a value\n"));
	assert_int_equal(PARSE(fx, "-c"), SM_CLI_EXIT_USAGE);
	assert_non_null(strstr(fx->err, "option '-c' needs a value"));
}

static void cli_bad_value_message_names_option(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(PARSE(fx, "--fan-in=abc"), SM_CLI_EXIT_USAGE);
	assert_string_equal(fx->err, "stackmon-test: --fan-in: 'abc' is not an integer\n");
	assert_int_equal(PARSE(fx, "--fan-in", "0"), SM_CLI_EXIT_USAGE);
	assert_string_equal(fx->err, "stackmon-test: --fan-in: 0 is out of range [1, 1000]\n");
	assert_int_equal(PARSE(fx, "--tcp-keepalive", "perhaps"), SM_CLI_EXIT_USAGE);
	assert_non_null(strstr(fx->err, "--tcp-keepalive: 'perhaps' is not a boolean"));
}

static void cli_bool_key_option_takes_a_value(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(PARSE(fx, "--tcp-keepalive=no"), SM_CLI_RUN);
	assert_false(sm_config_bool(fx->cfg, "tcp_keepalive"));
	assert_int_equal(PARSE(fx, "--tcp-keepalive", "on"), SM_CLI_RUN);
	assert_true(sm_config_bool(fx->cfg, "tcp_keepalive"));
}

static void cli_repeated_list_options_replace_file_then_append(void **state)
{
	struct fixture *fx = *state;

	write_conf(fx, "endpoints = tcp://file:1, tcp://file:2\n");
	assert_int_equal(PARSE(fx, "--endpoints", "tcp://a:1", "-c", fx->conf, "--endpoints",
			       "tcp://b:2,tcp://c:3"),
			 SM_CLI_RUN);
	assert_int_equal(sm_config_list_count(fx->cfg, "endpoints"), 3);
	assert_string_equal(sm_config_list_item(fx->cfg, "endpoints", 0), "tcp://a:1");
	assert_string_equal(sm_config_list_item(fx->cfg, "endpoints", 1), "tcp://b:2");
	assert_string_equal(sm_config_list_item(fx->cfg, "endpoints", 2), "tcp://c:3");
}

static void cli_common_flags_and_program_flags(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(PARSE(fx, "-vv", "-q", "--verbose", "-n", "--syslog", "--once"),
			 SM_CLI_RUN);
	assert_int_equal(fx->cli.verbosity, 2);
	assert_true(fx->cli.check_only);
	assert_true(fx->cli.use_syslog);
	assert_true(fx->once);
	/* Results are reset by each parse; program flags are only ever set. */
	assert_int_equal(PARSE(fx, "--quiet"), SM_CLI_RUN);
	assert_int_equal(fx->cli.verbosity, -1);
	assert_false(fx->cli.check_only);
	assert_false(fx->cli.use_syslog);
}

static void cli_help_lists_every_key_default_and_help(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(PARSE(fx, "--fan-in=3", "-h", "--bogus"), SM_CLI_EXIT_OK);
	assert_string_equal(fx->err, "");
	assert_non_null(strstr(fx->out, "Usage: stackmon-test [OPTION]...\n"));
	assert_non_null(strstr(fx->out, "Test program for the shared command line."));
	for (size_t i = 0; i < NKEYS; i++)
		assert_non_null(strstr(fx->out, keys[i].help));
	assert_non_null(strstr(fx->out, "--fan-in=N"));
	assert_non_null(strstr(fx->out, "monitors per collector (default: 16)"));
	assert_non_null(strstr(fx->out, "--tcp-keepalive=yes|no"));
	assert_non_null(strstr(fx->out, "--endpoints=LIST"));
	assert_non_null(strstr(fx->out, "next collector up (default: none)"));
	assert_non_null(strstr(fx->out, "--once"));
	assert_non_null(strstr(fx->out, "poll once and exit"));
	assert_non_null(strstr(fx->out, "--config=FILE"));
	assert_non_null(strstr(fx->out, fx->missing)); /* the default config path */
}

static void cli_version_prints_program_and_version(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(PARSE(fx, "-V"), SM_CLI_EXIT_OK);
	assert_string_equal(fx->out, "stackmon-test " STACKMON_VERSION "\n");
	assert_int_equal(PARSE(fx, "--version"), SM_CLI_EXIT_OK);
	assert_string_equal(fx->out, "stackmon-test " STACKMON_VERSION "\n");
}

/* sm_cli_start maps each outcome to the status main() exits with, and opens
 * the log at NOTICE moved by -v and -q (never above debug nor below err). */
static void cli_start_gives_exit_status_and_log_level(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(START(fx, "--help"), 0);
	assert_non_null(strstr(fx->out, "Usage: stackmon-test"));
	assert_int_equal(START(fx, "--version"), 0);
	assert_int_equal(START(fx, "--no-such-option"), 2);
	assert_int_equal(START(fx, "-c", fx->missing), 2);
	assert_non_null(strstr(fx->err, "missing.conf"));

	assert_int_equal(START(fx, "--fan-in", "7"), SM_CLI_CONTINUE);
	assert_int_equal(sm_config_int(fx->cfg, "fan_in"), 7);
	assert_true(sm_log_enabled(SM_LOG_NOTICE));
	assert_false(sm_log_enabled(SM_LOG_INFO));
	assert_int_equal(START(fx, "-v"), SM_CLI_CONTINUE);
	assert_true(sm_log_enabled(SM_LOG_INFO));
	assert_false(sm_log_enabled(SM_LOG_DEBUG));
	assert_int_equal(START(fx, "-q"), SM_CLI_CONTINUE);
	assert_false(sm_log_enabled(SM_LOG_NOTICE));
	assert_true(sm_log_enabled(SM_LOG_WARNING));
	assert_int_equal(START(fx, "-q", "-q", "-q", "-q"), SM_CLI_CONTINUE);
	assert_true(sm_log_enabled(SM_LOG_ERR));
	assert_false(sm_log_enabled(SM_LOG_WARNING));
	assert_int_equal(START(fx, "-v", "-v", "-v", "-v"), SM_CLI_CONTINUE);
	assert_true(sm_log_enabled(SM_LOG_DEBUG));
}

/* sm_cli_ready: -n stops start-up with "configuration OK" and status 0;
 * otherwise the daemon goes on with its signal handlers in place. */
static void cli_ready_checks_only_or_installs_signals(void **state)
{
	struct fixture *fx = *state;
	struct sigaction sa;
	int r;

	assert_int_equal(PARSE(fx, "-n"), SM_CLI_RUN);
	assert_true(fx->cli.check_only);
	capture_start(fx);
	r = sm_cli_ready(&fx->cli);
	capture_stop(fx);
	assert_int_equal(r, 0);
	assert_string_equal(fx->out, "configuration OK\n");
	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_true(sa.sa_handler != SIG_IGN); /* -n installs nothing */

	assert_int_equal(PARSE(fx, "-v"), SM_CLI_RUN);
	assert_false(fx->cli.check_only);
	capture_start(fx);
	r = sm_cli_ready(&fx->cli);
	capture_stop(fx);
	assert_int_equal(r, SM_CLI_CONTINUE);
	assert_string_equal(fx->out, "");
	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_IGN);
	signal(SIGPIPE, SIG_DFL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(cli_options_override_file_whatever_their_order),
	    T(cli_default_config_may_be_missing),
	    T(cli_default_config_is_read_when_present),
	    T(cli_named_config_must_exist),
	    T(cli_config_error_names_file_and_line),
	    T(cli_unknown_option_is_usage_error),
	    T(cli_missing_option_value_names_option),
	    T(cli_bad_value_message_names_option),
	    T(cli_bool_key_option_takes_a_value),
	    T(cli_repeated_list_options_replace_file_then_append),
	    T(cli_common_flags_and_program_flags),
	    T(cli_help_lists_every_key_default_and_help),
	    T(cli_version_prints_program_and_version),
	    T(cli_start_gives_exit_status_and_log_level),
	    T(cli_ready_checks_only_or_installs_signals),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
