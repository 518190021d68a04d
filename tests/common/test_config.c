/*
 * Tests of sm_config: a small table of every type, real files in a temp
 * dir, and every error the parser reports (each must name file and line),
 * plus defaults, bounds, the LIST replace-then-append rule and a dump that
 * reads back to the same values.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sm_config.h"

static const struct sm_config_key keys[] = {
    {"uri", SM_CFG_STRING, 0, 0, "qemu:///system", "libvirt connection URI"},
    {"upstream", SM_CFG_STRING, 0, 0, NULL, "next collector up (none by default)"},
    {"fan_in", SM_CFG_INT, 1, 1000, "16", "monitors per collector"},
    {"offset", SM_CFG_INT, 0, 0, "0", "unbounded integer"},
    {"interval", SM_CFG_DOUBLE, 0.1, 3600, "1.0", "polling interval in seconds"},
    {"tcp_keepalive", SM_CFG_BOOL, 0, 0, "yes", "TCP keepalive"},
    {"endpoints", SM_CFG_LIST, 0, 0, "tcp://127.0.0.1:5555", "collectors to publish to"},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Per-test fixture: a config and a temp dir for its files. */
struct fixture {
	struct sm_config *cfg;
	char dir[64];
	char path[128];
	char err[512];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sm-test-config-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/test.conf", fx->dir);
	fx->cfg = sm_config_new(keys, NKEYS);
	if (!fx->cfg)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char other[160];

	sm_config_destroy(&fx->cfg);
	unlink(fx->path);
	snprintf(other, sizeof(other), "%s/dump.conf", fx->dir);
	unlink(other);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* Writes `len` bytes of text to the fixture's file. */
static void write_file_n(struct fixture *fx, const char *text, size_t len)
{
	FILE *f = fopen(fx->path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void write_file(struct fixture *fx, const char *text)
{
	write_file_n(fx, text, strlen(text));
}

/* Loads the file expecting failure, and checks the message is exactly
 * "PATH:" followed by `tail`. */
static void assert_load_error(struct fixture *fx, const char *tail)
{
	char expected[768];

	fx->err[0] = '\0';
	assert_int_equal(sm_config_load_file(fx->cfg, fx->path, false, fx->err, sizeof(fx->err)),
			 -1);
	snprintf(expected, sizeof(expected), "%s:%s", fx->path, tail);
	assert_string_equal(fx->err, expected);
}

static void config_defaults_apply_before_any_file(void **state)
{
	struct fixture *fx = *state;

	assert_string_equal(sm_config_string(fx->cfg, "uri"), "qemu:///system");
	assert_null(sm_config_string(fx->cfg, "upstream"));
	assert_int_equal(sm_config_int(fx->cfg, "fan_in"), 16);
	assert_true(sm_config_double(fx->cfg, "interval") == 1.0);
	assert_true(sm_config_bool(fx->cfg, "tcp_keepalive"));
	assert_int_equal(sm_config_list_count(fx->cfg, "endpoints"), 1);
	assert_string_equal(sm_config_list_item(fx->cfg, "endpoints", 0), "tcp://127.0.0.1:5555");
	assert_null(sm_config_list_item(fx->cfg, "endpoints", 1));
}

static void config_file_syntax_comments_quotes_and_whitespace(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "# a comment line\n"
		       "\n"
		       "   \t\n"
		       "  uri\t=   test:///default   # trailing comment\n"
		       "upstream = \"tcp://[::1]:5556 # not a comment\"  # but this is\n"
		       "fan_in=42\r\n"
		       "interval = 0.25\n"
		       "tcp_keepalive = Off\n"
		       "endpoints = tcp://a:1, tcp://b:2 ,tcp://c:3\ttcp://d:4,,\n"
		       "offset = -123456789012\n");
	assert_int_equal(sm_config_load_file(fx->cfg, fx->path, false, fx->err, sizeof(fx->err)),
			 0);
	assert_string_equal(sm_config_string(fx->cfg, "uri"), "test:///default");
	assert_string_equal(sm_config_string(fx->cfg, "upstream"),
			    "tcp://[::1]:5556 # not a comment");
	assert_int_equal(sm_config_int(fx->cfg, "fan_in"), 42);
	assert_int_equal(sm_config_int(fx->cfg, "offset"), -123456789012LL);
	assert_true(sm_config_double(fx->cfg, "interval") == 0.25);
	assert_false(sm_config_bool(fx->cfg, "tcp_keepalive"));
	assert_int_equal(sm_config_list_count(fx->cfg, "endpoints"), 4);
	assert_string_equal(sm_config_list_item(fx->cfg, "endpoints", 0), "tcp://a:1");
	assert_string_equal(sm_config_list_item(fx->cfg, "endpoints", 1), "tcp://b:2");
	assert_string_equal(sm_config_list_item(fx->cfg, "endpoints", 2), "tcp://c:3");
	assert_string_equal(sm_config_list_item(fx->cfg, "endpoints", 3), "tcp://d:4");
}

static void config_hash_without_space_before_is_part_of_value(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "uri = test:///x#frag\n"
		       "upstream = \"a \\\"quoted\\\" \\\\ word\"\n");
	assert_int_equal(sm_config_load_file(fx->cfg, fx->path, false, fx->err, sizeof(fx->err)),
			 0);
	assert_string_equal(sm_config_string(fx->cfg, "uri"), "test:///x#frag");
	assert_string_equal(sm_config_string(fx->cfg, "upstream"), "a \"quoted\" \\ word");
}

static void config_empty_string_value_unsets_key(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "uri =\nendpoints = \"\"\n");
	assert_int_equal(sm_config_load_file(fx->cfg, fx->path, false, fx->err, sizeof(fx->err)),
			 0);
	assert_null(sm_config_string(fx->cfg, "uri"));
	assert_int_equal(sm_config_list_count(fx->cfg, "endpoints"), 0);
}

static void config_unknown_key_names_file_and_line(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "uri = x\n\n# c\nfan_inn = 3\n");
	assert_load_error(fx, "4: unknown key 'fan_inn'");
}

static void config_missing_equals_names_file_and_line(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "fan_in = 3\nfan_in 4\n");
	assert_load_error(fx, "2: expected 'key = value'");
	write_file(fx, " = 4\n");
	assert_load_error(fx, "1: missing key before '='");
}

static void config_bad_int_names_file_line_and_key(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "fan_in = 12abc\n");
	assert_load_error(fx, "1: fan_in: '12abc' is not an integer");
	write_file(fx, "fan_in = \n");
	assert_load_error(fx, "1: fan_in: '' is not an integer");
	write_file(fx, "offset = 99999999999999999999\n");
	assert_load_error(fx, "1: offset: '99999999999999999999' is not an integer");
	write_file(fx, "fan_in = 1.5\n");
	assert_load_error(fx, "1: fan_in: '1.5' is not an integer");
}

static void config_bad_double_and_bool_name_file_and_line(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "interval = fast\n");
	assert_load_error(fx, "1: interval: 'fast' is not a finite number");
	write_file(fx, "interval = nan\n");
	assert_load_error(fx, "1: interval: 'nan' is not a finite number");
	write_file(fx, "interval = inf\n");
	assert_load_error(fx, "1: interval: 'inf' is not a finite number");
	write_file(fx, "\ntcp_keepalive = maybe\n");
	assert_load_error(
	    fx, "2: tcp_keepalive: 'maybe' is not a boolean (yes/no, true/false, on/off, 1/0)");
}

static void config_out_of_bounds_says_the_bounds(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "fan_in = 0\n");
	assert_load_error(fx, "1: fan_in: 0 is out of range [1, 1000]");
	write_file(fx, "fan_in = 1001\n");
	assert_load_error(fx, "1: fan_in: 1001 is out of range [1, 1000]");
	write_file(fx, "interval = 0.05\n");
	assert_load_error(fx, "1: interval: 0.05 is out of range [0.1, 3600]");
	/* Inclusive bounds. */
	write_file(fx, "fan_in = 1000\ninterval = 0.1\n");
	assert_int_equal(sm_config_load_file(fx->cfg, fx->path, false, fx->err, sizeof(fx->err)),
			 0);
	assert_int_equal(sm_config_int(fx->cfg, "fan_in"), 1000);
}

static void config_duplicate_key_in_one_file_is_error(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "fan_in = 3\nuri = a\nfan_in = 4\n");
	assert_load_error(fx, "3: duplicate key 'fan_in' (first set on line 1)");
	/* The same key in a second load of a file is fine: it replaces. */
	write_file(fx, "fan_in = 5\n");
	assert_int_equal(sm_config_load_file(fx->cfg, fx->path, false, fx->err, sizeof(fx->err)),
			 0);
	write_file(fx, "fan_in = 6\n");
	assert_int_equal(sm_config_load_file(fx->cfg, fx->path, false, fx->err, sizeof(fx->err)),
			 0);
	assert_int_equal(sm_config_int(fx->cfg, "fan_in"), 6);
}

static void config_overlong_line_is_error(void **state)
{
	struct fixture *fx = *state;
	size_t n = 6 + 4096 + 1;
	char *text = malloc(n + 32);

	assert_non_null(text);
	/* 4095 bytes is the limit: a line of exactly that is fine. */
	memcpy(text, "uri = ", 6);
	memset(text + 6, 'a', 4095 - 6);
	memcpy(text + 4095, "\n", 2);
	write_file(fx, text);
	assert_int_equal(sm_config_load_file(fx->cfg, fx->path, false, fx->err, sizeof(fx->err)),
			 0);
	assert_int_equal(strlen(sm_config_string(fx->cfg, "uri")), 4095 - 6);
	/* One more byte on the second line is not. */
	memcpy(text, "# x\nuri = ", 10);
	memset(text + 10, 'b', 4096 - 6);
	memcpy(text + 4 + 4096, "\n", 2);
	write_file(fx, text);
	assert_load_error(fx, "2: line too long (max 4095 bytes)");
	free(text);
}

static void config_bad_quotes_nul_and_utf8_are_errors(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "uri = \"open\n");
	assert_load_error(fx, "1: unterminated quoted value");
	write_file(fx, "uri = \"a\" b\n");
	assert_load_error(fx, "1: unexpected text after closing quote");
	write_file_n(fx, "uri = a\0b\n", 10);
	assert_load_error(fx, "1: NUL byte in line");
	write_file(fx, "uri = caf\xC3\n");
	assert_load_error(fx, "1: uri: value is not valid UTF-8");
}

static void config_missing_file_error_unless_missing_ok(void **state)
{
	struct fixture *fx = *state;
	char expected[256];

	assert_int_equal(sm_config_load_file(fx->cfg, fx->path, true, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(sm_config_int(fx->cfg, "fan_in"), 16);
	assert_int_equal(sm_config_load_file(fx->cfg, fx->path, false, fx->err, sizeof(fx->err)),
			 -1);
	snprintf(expected, sizeof(expected), "%s: %s", fx->path, strerror(ENOENT));
	assert_string_equal(fx->err, expected);
	/* A directory is an error even with missing_ok. */
	assert_int_equal(sm_config_load_file(fx->cfg, fx->dir, true, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, fx->dir));
}

static void config_set_from_option_replaces_file_list_then_appends(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "endpoints = tcp://f1:1 tcp://f2:2\n");
	assert_int_equal(sm_config_load_file(fx->cfg, fx->path, false, fx->err, sizeof(fx->err)),
			 0);
	assert_int_equal(sm_config_list_count(fx->cfg, "endpoints"), 2);
	assert_int_equal(sm_config_set(fx->cfg, "endpoints", "tcp://o1:1", "--endpoints", fx->err,
				       sizeof(fx->err)),
			 0);
	assert_int_equal(sm_config_list_count(fx->cfg, "endpoints"), 1);
	assert_int_equal(sm_config_set(fx->cfg, "endpoints", "tcp://o2:2,tcp://o3:3", "--endpoints",
				       fx->err, sizeof(fx->err)),
			 0);
	assert_int_equal(sm_config_list_count(fx->cfg, "endpoints"), 3);
	assert_string_equal(sm_config_list_item(fx->cfg, "endpoints", 0), "tcp://o1:1");
	assert_string_equal(sm_config_list_item(fx->cfg, "endpoints", 2), "tcp://o3:3");
	/* A non-option origin (another file line) replaces the list whole. */
	assert_int_equal(sm_config_set(fx->cfg, "endpoints", "tcp://x:1", "other.conf:7", fx->err,
				       sizeof(fx->err)),
			 0);
	assert_int_equal(sm_config_list_count(fx->cfg, "endpoints"), 1);
	/* The default list is replaced by a first option as well. */
	sm_config_destroy(&fx->cfg);
	fx->cfg = sm_config_new(keys, NKEYS);
	assert_int_equal(sm_config_set(fx->cfg, "endpoints", "tcp://o:1", "--endpoints", fx->err,
				       sizeof(fx->err)),
			 0);
	assert_int_equal(sm_config_list_count(fx->cfg, "endpoints"), 1);
	assert_string_equal(sm_config_list_item(fx->cfg, "endpoints", 0), "tcp://o:1");
}

static void config_set_errors_name_the_origin(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(
	    sm_config_set(fx->cfg, "fan_in", "x", "--fan-in", fx->err, sizeof(fx->err)), -1);
	assert_string_equal(fx->err, "--fan-in: 'x' is not an integer");
	assert_int_equal(
	    sm_config_set(fx->cfg, "fan_in", "5000", "env.conf:3", fx->err, sizeof(fx->err)), -1);
	assert_string_equal(fx->err, "env.conf:3: fan_in: 5000 is out of range [1, 1000]");
	assert_int_equal(sm_config_set(fx->cfg, "nope", "1", "--nope", fx->err, sizeof(fx->err)),
			 -1);
	assert_string_equal(fx->err, "--nope: unknown key 'nope'");
	assert_int_equal(
	    sm_config_set(fx->cfg, "fan_in", " 5", "--fan-in", fx->err, sizeof(fx->err)), -1);
	/* A failed set leaves the old value. */
	assert_int_equal(sm_config_int(fx->cfg, "fan_in"), 16);
	/* err may be NULL. */
	assert_int_equal(sm_config_set(fx->cfg, "fan_in", "x", "--fan-in", NULL, 0), -1);
}

static void config_dump_reads_back_to_same_values(void **state)
{
	struct fixture *fx = *state;
	struct sm_config *again = sm_config_new(keys, NKEYS);
	char dump_path[160], *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	FILE *f, *ma, *mb;

	assert_non_null(again);
	write_file(fx, "uri = \" spaced # value\"\nfan_in = 7\ninterval = 0.1\n"
		       "tcp_keepalive = no\nendpoints = a b c\n");
	assert_int_equal(sm_config_load_file(fx->cfg, fx->path, false, fx->err, sizeof(fx->err)),
			 0);
	snprintf(dump_path, sizeof(dump_path), "%s/dump.conf", fx->dir);
	f = fopen(dump_path, "w");
	assert_non_null(f);
	sm_config_dump(fx->cfg, f);
	fclose(f);
	assert_int_equal(sm_config_load_file(again, dump_path, false, fx->err, sizeof(fx->err)), 0);
	ma = open_memstream(&a, &alen);
	mb = open_memstream(&b, &blen);
	sm_config_dump(fx->cfg, ma);
	sm_config_dump(again, mb);
	fclose(ma);
	fclose(mb);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "fan_in = 7\n"));
	assert_non_null(strstr(a, "uri = \" spaced # value\"\n"));
	assert_non_null(strstr(a, "endpoints = a, b, c\n"));
	assert_non_null(strstr(a, "tcp_keepalive = no\n"));
	assert_non_null(strstr(a, "interval = 0.1\n"));
	assert_non_null(strstr(a, "upstream =\n"));
	free(a);
	free(b);
	sm_config_destroy(&again);
	assert_null(again);
	sm_config_destroy(&again); /* NULL-safe */
}

/* A joined config copies both tables: it still works when the caller's own
 * copy of the rows is gone, and keys of both tables are found. */
static void config_joined_tables_are_copied_and_both_found(void **state)
{
	static const struct sm_config_key shared[] = {
	    {"sndhwm", SM_CFG_INT, 0, 1000000, "1000", "send queue, messages"},
	    {"peers", SM_CFG_LIST, 0, 0, "a,b", "peer list"},
	};
	struct fixture *fx = *state;
	struct sm_config_key *own = malloc(sizeof(keys));
	struct sm_config *joined;
	size_t nkeys = 0, n = 99;
	const char **items;

	assert_non_null(own);
	memcpy(own, keys, sizeof(keys));
	joined = sm_config_new_joined(own, NKEYS, shared, 2);
	assert_non_null(joined);
	memset(own, 0, sizeof(keys)); /* the joined config must not read these rows */
	free(own);
	assert_non_null(sm_config_table(joined, &nkeys));
	assert_int_equal(nkeys, NKEYS + 2);
	assert_int_equal(sm_config_int(joined, "fan_in"), 16);
	assert_int_equal(sm_config_int(joined, "sndhwm"), 1000);
	write_file(fx, "sndhwm = 5\nfan_in = 3\npeers = x y z\n");
	assert_int_equal(sm_config_load_file(joined, fx->path, false, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(sm_config_int(joined, "sndhwm"), 5);
	assert_int_equal(sm_config_int(joined, "fan_in"), 3);
	items = sm_config_list_array(joined, "peers", &n);
	assert_non_null(items);
	assert_int_equal(n, 3);
	assert_string_equal(items[0], "x");
	assert_string_equal(items[2], "z");
	assert_null(items[3]);
	free(items);
	/* An empty list is an empty, still terminated array. */
	assert_int_equal(sm_config_set(joined, "peers", "", "--peers", fx->err, sizeof(fx->err)), 0);
	items = sm_config_list_array(joined, "peers", &n);
	assert_non_null(items);
	assert_int_equal(n, 0);
	assert_null(items[0]);
	free(items);
	sm_config_destroy(&joined);
	assert_null(joined);
	/* Either table may be empty. */
	joined = sm_config_new_joined(NULL, 0, shared, 2);
	assert_non_null(joined);
	assert_int_equal(sm_config_int(joined, "sndhwm"), 1000);
	sm_config_destroy(&joined);
}

static void config_getter_on_unknown_key_is_caller_bug(void **state)
{
#ifdef NDEBUG
	(void)state;
	skip();
#else
	struct fixture *fx = *state;
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* assert() prints its message on stderr: keep the test log quiet. */
		freopen("/dev/null", "w", stderr);
		(void)sm_config_int(fx->cfg, "no_such_key");
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		(void)sm_config_int(fx->cfg, "uri"); /* a STRING read as INT */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
#endif
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(config_defaults_apply_before_any_file),
	    T(config_file_syntax_comments_quotes_and_whitespace),
	    T(config_hash_without_space_before_is_part_of_value),
	    T(config_empty_string_value_unsets_key),
	    T(config_unknown_key_names_file_and_line),
	    T(config_missing_equals_names_file_and_line),
	    T(config_bad_int_names_file_line_and_key),
	    T(config_bad_double_and_bool_name_file_and_line),
	    T(config_out_of_bounds_says_the_bounds),
	    T(config_duplicate_key_in_one_file_is_error),
	    T(config_overlong_line_is_error),
	    T(config_bad_quotes_nul_and_utf8_are_errors),
	    T(config_missing_file_error_unless_missing_ok),
	    T(config_set_from_option_replaces_file_list_then_appends),
	    T(config_set_errors_name_the_origin),
	    T(config_dump_reads_back_to_same_values),
	    T(config_joined_tables_are_copied_and_both_found),
	    T(config_getter_on_unknown_key_is_caller_bug),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
