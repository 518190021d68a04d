/*
 * Tests of the dashboard's access list (dashboard/access.c) on real files
 * in a temp dir: who reads which project, administrators, anonymous rules,
 * that any error in the file refuses it whole, naming file and line, and
 * that a file or line without end is refused while it is read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "access.h"

static char path[64];

static int setup(void **state)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/sm-test-access-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	return 0;
}

static struct access *load_text(const char *text, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return access_load(path, err, errlen);
}

static void access_users_read_only_their_projects(void **state)
{
	char err[256];
	struct access *a = load_text("# comment\n\nadmin root ops # two admins\n"
				     "user alice proj-a\nuser bob proj-b proj-c\n"
				     "user alice proj-c\n",
				     err, sizeof(err));

	assert_non_null(a);
	assert_true(access_may_read(a, "alice", "proj-a"));
	assert_true(access_may_read(a, "alice", "proj-c")); /* lines add up */
	assert_false(access_may_read(a, "alice", "proj-b"));
	assert_true(access_may_read(a, "bob", "proj-b"));
	assert_false(access_may_read(a, "bob", "proj-a"));
	assert_false(access_may_read(a, "mallory", "proj-a"));
	assert_false(access_may_read(a, NULL, "proj-a"));
	assert_false(access_may_read(a, "Alice", "proj-a")); /* names are exact */
	assert_false(access_may_read(a, "alice", "PROJ-A"));
	assert_false(access_may_read(a, "alice", NULL));
	assert_false(access_anonymous_allowed(a));
	access_destroy(&a);
	assert_null(a);
	access_destroy(&a); /* NULL-safe */
}

static void access_admins_read_everything(void **state)
{
	char err[256];
	struct access *a = load_text("admin root ops\nuser alice proj-a\n", err, sizeof(err));

	assert_non_null(a);
	assert_true(access_is_admin(a, "root"));
	assert_true(access_is_admin(a, "ops"));
	assert_false(access_is_admin(a, "alice"));
	assert_false(access_is_admin(a, NULL));
	assert_true(access_may_read(a, "ops", "anything-at-all"));
	access_destroy(&a);
}

static void access_anonymous_rules_open_projects_to_everyone(void **state)
{
	char err[256];
	const char **list;
	struct access *a =
	    load_text("anonymous proj-pub\nuser alice proj-a proj-pub\n", err, sizeof(err));

	assert_non_null(a);
	assert_true(access_anonymous_allowed(a));
	assert_true(access_may_read(a, NULL, "proj-pub"));
	assert_false(access_may_read(a, NULL, "proj-a"));
	assert_true(access_may_read(a, "stranger", "proj-pub"));
	/* Own projects first, anonymous ones after, no repeats. */
	assert_int_equal(access_projects(a, "alice", &list), 2);
	assert_string_equal(list[0], "proj-a");
	assert_string_equal(list[1], "proj-pub");
	free(list);
	assert_int_equal(access_projects(a, NULL, &list), 1);
	assert_string_equal(list[0], "proj-pub");
	free(list);
	access_destroy(&a);
}

static void access_projects_of_unknown_user_is_empty(void **state)
{
	char err[256];
	const char **list = (const char **)&err;
	struct access *a = load_text("user alice proj-a\n", err, sizeof(err));

	assert_int_equal(access_projects(a, "bob", &list), 0);
	assert_null(list);
	assert_int_equal(access_projects(a, NULL, &list), 0);
	access_destroy(&a);
}

/* Each bad file is refused whole, and the error names file and line. */
static void access_errors_refuse_the_whole_file(void **state)
{
	static const struct {
		const char *text;
		const char *line;
	} bad[] = {
	    {"admin root\nsuperuser eve\n", ":2:"},
	    {"user alice\n", ":1:"}, /* no project */
	    {"admin\n", ":1:"},
	    {"anonymous\n", ":1:"},
	    {"user alice ../etc\n", ":1:"}, /* bad project id */
	    {"user alice proj/a\n", ":1:"},
	    {"\n\nuser al\x01ice proj-a\n", ":3:"},	       /* control byte in a name */
	    {"user alice proj-a\nadmin r\xc3\xa9mi\n", ":2:"}, /* non-ASCII name */
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct access *a = load_text(bad[i].text, err, sizeof(err));

		assert_null(a);
		assert_non_null(strstr(err, path));
		assert_non_null(strstr(err, bad[i].line));
	}
}

static void access_refuses_a_nul_byte_and_a_missing_file(void **state)
{
	char err[256];
	FILE *f = fopen(path, "w");

	fwrite("user alice proj-a\0admin eve\n", 1, 28, f);
	fclose(f);
	assert_null(access_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "NUL"));
	assert_null(access_load("/nonexistent/access.list", err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	assert_null(access_load(NULL, err, sizeof(err)));
}

/* The limits hold while reading: a file without end or a line without end
 * is refused at once, naming file and line, not read whole into memory. */
static void access_refuses_endless_long_and_oversized_files(void **state)
{
	char err[256], *text;
	struct access *a;
	size_t at;
	FILE *f;

	assert_null(access_load("/dev/zero", err, sizeof(err)));
	assert_non_null(strstr(err, "/dev/zero:1: NUL byte"));

	/* Valid words, but one line longer than the limit: the blanks would
	 * be read into memory without end otherwise. */
	text = malloc(ACCESS_LINE_MAX + 64);
	assert_non_null(text);
	at = (size_t)sprintf(text, "admin root\nuser alice proj-a");
	memset(text + at, ' ', ACCESS_LINE_MAX);
	strcpy(text + at + ACCESS_LINE_MAX, "\n");
	assert_null(load_text(text, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, ":2: line longer than"));
	/* At the limit exactly it is a line like any other. */
	strcpy(text + ACCESS_LINE_MAX, "\n");
	a = load_text(text, err, sizeof(err));
	assert_non_null(a);
	assert_true(access_may_read(a, "alice", "proj-a"));
	access_destroy(&a);
	free(text);

	/* Short lines, more of them than the size limit allows. */
	f = fopen(path, "w");
	assert_non_null(f);
	for (size_t n = 0; n <= ACCESS_FILE_MAX; n += 16)
		fputs("# padding lines\n", f); /* 16 bytes */
	fclose(f);
	assert_null(access_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "larger than"));

	/* A directory opens but cannot be read. */
	assert_null(access_load("/tmp", err, sizeof(err)));
	assert_non_null(strstr(err, "/tmp: read error: Is a directory"));
}

static void access_name_checks(void **state)
{
	char longname[ACCESS_USER_MAX + 2];

	assert_true(access_user_valid("alice@example.org"));
	assert_true(access_user_valid("DOMAIN\\alice"));
	assert_false(access_user_valid(""));
	assert_false(access_user_valid("al ice"));
	assert_false(access_user_valid("al#ice"));
	assert_false(access_user_valid("al\tice"));
	assert_false(access_user_valid(NULL));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(access_user_valid(longname));
	longname[ACCESS_USER_MAX] = '\0';
	assert_true(access_user_valid(longname));
	assert_true(access_project_valid("4f1c2e0a9b7d4e58a3c6d1b2e9f08a71"));
	assert_false(access_project_valid("a:b"));
	assert_false(access_project_valid(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(access_users_read_only_their_projects, setup, teardown),
	    cmocka_unit_test_setup_teardown(access_admins_read_everything, setup, teardown),
	    cmocka_unit_test_setup_teardown(access_anonymous_rules_open_projects_to_everyone, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(access_projects_of_unknown_user_is_empty, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(access_errors_refuse_the_whole_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(access_refuses_a_nul_byte_and_a_missing_file, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(access_refuses_endless_long_and_oversized_files, setup,
					    teardown),
	    cmocka_unit_test(access_name_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
