/*
 * Tests of sm_cert: key pairs written in ZeroMQ's certificate format with
 * the file modes a secret needs, read back strictly (a loose mode, a bad
 * key, a secret that is not the public key's are refused with the file
 * named), files written by other tools (pyzmq's layout) accepted, host
 * metadata matched as patterns, and the relay role written, read back and
 * strict about its value. Files live in a private temp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sm_cert.h"
#include "sm_log.h"

struct fixture {
	char dir[64];
	char err[4400];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sm-test-cert-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	sm_log_open("smtest", SM_LOG_ERR, false);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static char *path_of(struct fixture *fx, const char *name)
{
	static char path[2][256];
	static int which;

	which = !which;
	snprintf(path[which], sizeof(path[which]), "%s/%s", fx->dir, name);
	return path[which];
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void cert_save_writes_secret_0600_and_public_0644_whatever_the_umask(void **state)
{
	struct fixture *fx = *state;
	struct sm_cert c = {0}, back = {0};
	mode_t old = umask(0);

	assert_int_equal(sm_cert_generate(&c), 0);
	assert_int_equal(sm_cert_add_host(&c, "cn1"), 0);
	assert_int_equal(sm_cert_save(&c, fx->dir, "cn1", false, fx->err, sizeof(fx->err)), 0);
	umask(old);
	assert_int_equal(mode_of(path_of(fx, "cn1.key_secret")), 0600);
	assert_int_equal(mode_of(path_of(fx, "cn1.key")), 0644);

	assert_int_equal(
	    sm_cert_load(path_of(fx, "cn1.key_secret"), true, &back, fx->err, sizeof(fx->err)), 0);
	assert_string_equal(back.public_key, c.public_key);
	assert_string_equal(back.secret_key, c.secret_key);
	assert_int_equal(back.nhosts, 1);
	assert_string_equal(back.hosts[0], "cn1");
	/* The public file carries no secret, and reading it never yields one. */
	assert_int_equal(sm_cert_load(path_of(fx, "cn1.key"), false, &back, fx->err, sizeof(fx->err)),
			 0);
	assert_string_equal(back.public_key, c.public_key);
	assert_string_equal(back.secret_key, "");
	sm_cert_clear(&back);
	sm_cert_clear(&c);
}

static void cert_save_refuses_to_overwrite_without_force(void **state)
{
	struct fixture *fx = *state;
	struct sm_cert first = {0}, second = {0}, back = {0};

	assert_int_equal(sm_cert_generate(&first), 0);
	assert_int_equal(sm_cert_generate(&second), 0);
	assert_int_equal(sm_cert_save(&first, fx->dir, "k", false, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(sm_cert_save(&second, fx->dir, "k", false, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "k.key_secret exists"));
	assert_int_equal(sm_cert_load(path_of(fx, "k.key_secret"), true, &back, fx->err,
				      sizeof(fx->err)),
			 0);
	assert_string_equal(back.public_key, first.public_key);
	/* Only the public half left behind still blocks a new pair. */
	unlink(path_of(fx, "k.key_secret"));
	assert_int_equal(sm_cert_save(&second, fx->dir, "k", false, fx->err, sizeof(fx->err)), -1);
	assert_false(access(path_of(fx, "k.key_secret"), F_OK) == 0);

	assert_int_equal(sm_cert_save(&second, fx->dir, "k", true, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(sm_cert_load(path_of(fx, "k.key_secret"), true, &back, fx->err,
				      sizeof(fx->err)),
			 0);
	assert_string_equal(back.public_key, second.public_key);
	sm_cert_clear(&back);
	sm_cert_clear(&first);
	sm_cert_clear(&second);
}

static void cert_load_refuses_secret_readable_by_others(void **state)
{
	struct fixture *fx = *state;
	struct sm_cert c = {0};
	const char *sec = path_of(fx, "loose.key_secret");

	assert_int_equal(sm_cert_generate(&c), 0);
	assert_int_equal(sm_cert_save(&c, fx->dir, "loose", false, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(chmod(sec, 0644), 0);
	assert_int_equal(sm_cert_load(sec, true, &c, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, sec));
	assert_non_null(strstr(fx->err, "mode 0644"));
	assert_int_equal(chmod(sec, 0640), 0);
	assert_int_equal(sm_cert_load(sec, true, &c, fx->err, sizeof(fx->err)), -1);
	assert_int_equal(chmod(sec, 0600), 0);
	assert_int_equal(sm_cert_load(sec, true, &c, fx->err, sizeof(fx->err)), 0);
	sm_cert_clear(&c);
}

static void cert_load_refuses_missing_and_malformed_files(void **state)
{
	struct fixture *fx = *state;
	struct sm_cert c = {0};
	char text[512];
	const char *p = path_of(fx, "bad.key_secret");

	assert_int_equal(sm_cert_load(path_of(fx, "none"), true, &c, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "No such file"));

	write_text(p, "just some text\n", 0600);
	assert_int_equal(sm_cert_load(p, true, &c, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "no curve public-key"));

	write_text(p, "curve\n    public-key = \"tooshort\"\n", 0600);
	assert_int_equal(sm_cert_load(p, true, &c, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "bad.key_secret:2: public-key is not"));

	/* Two real keys, but not a pair. */
	{
		struct sm_cert a = {0}, b = {0};

		assert_int_equal(sm_cert_generate(&a), 0);
		assert_int_equal(sm_cert_generate(&b), 0);
		snprintf(text, sizeof(text),
			 "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n", a.public_key,
			 b.secret_key);
		write_text(p, text, 0600);
		assert_int_equal(sm_cert_load(p, true, &c, fx->err, sizeof(fx->err)), -1);
		assert_non_null(strstr(fx->err, "does not belong"));
		/* A public file where a secret one is wanted. */
		snprintf(text, sizeof(text), "curve\n    public-key = \"%s\"\n", a.public_key);
		write_text(p, text, 0600);
		assert_int_equal(sm_cert_load(p, true, &c, fx->err, sizeof(fx->err)), -1);
		assert_non_null(strstr(fx->err, "no curve secret-key"));
		write_text(p, "curve\n    public-key = \"unterminated\n", 0600);
		assert_int_equal(sm_cert_load(p, false, &c, fx->err, sizeof(fx->err)), -1);
		assert_non_null(strstr(fx->err, "bad.key_secret:2: malformed"));
		sm_cert_clear(&a);
		sm_cert_clear(&b);
	}
}

static void cert_load_reads_other_tools_layout(void **state)
{
	struct fixture *fx = *state;
	struct sm_cert c = {0};
	const char *p = path_of(fx, "py.key_secret");

	/* As pyzmq's zmq.auth writes them: empty metadata, CRLF tolerated,
	 * a '#' inside the quoted key is not a comment. */
	write_text(p,
		   "#   ****  Generated by pyzmq  ****\r\n\r\nmetadata\r\ncurve\r\n"
		   "    public-key = \"[iwSkl:s>b0)g4uzy)p/Ck8Io]1dWOo+a0(@!DnL\"\r\n"
		   "    secret-key = \"dS^{$<Vs8kJN%Ear74D)Q{wfdy79)p8aFAbq&W60\"\r\n",
		   0600);
	assert_int_equal(sm_cert_load(p, true, &c, fx->err, sizeof(fx->err)), 0);
	assert_string_equal(c.public_key, "[iwSkl:s>b0)g4uzy)p/Ck8Io]1dWOo+a0(@!DnL");
	assert_int_equal(c.nhosts, 0);
	write_text(p,
		   "metadata\n    host = cn7   # bare value\n    host = 'rack2-*'\ncurve\n"
		   "    public-key = \"PKXgO?*Z-EN(igS-NLYS1LjhjV&!#IOd>35)-kJ=\"\n",
		   0644);
	assert_int_equal(sm_cert_load(p, false, &c, fx->err, sizeof(fx->err)), 0);
	assert_string_equal(c.public_key, "PKXgO?*Z-EN(igS-NLYS1LjhjV&!#IOd>35)-kJ=");
	assert_int_equal(c.nhosts, 2);
	assert_string_equal(c.hosts[0], "cn7");
	sm_cert_clear(&c);
}

static void cert_speaks_for_matches_host_patterns_only(void **state)
{
	struct sm_cert c = {0};

	(void)state;
	assert_false(sm_cert_speaks_for(&c, "cn1"));
	assert_int_equal(sm_cert_add_host(&c, "cn1"), 0);
	assert_int_equal(sm_cert_add_host(&c, "rack2-*"), 0);
	assert_true(sm_cert_speaks_for(&c, "cn1"));
	assert_false(sm_cert_speaks_for(&c, "cn10"));
	assert_true(sm_cert_speaks_for(&c, "rack2-cn4"));
	assert_false(sm_cert_speaks_for(&c, "rack3-cn4"));
	assert_int_equal(sm_cert_add_host(&c, "bad\"quote"), -1);
	assert_int_equal(sm_cert_add_host(&c, ""), -1);
	sm_cert_clear(&c);
}

static void cert_relay_role_round_trips_and_unknown_roles_are_refused(void **state)
{
	struct fixture *fx = *state;
	struct sm_cert c = {0}, back = {0};
	char p[256], text[512];

	assert_int_equal(sm_cert_generate(&c), 0);
	assert_int_equal(sm_cert_add_host(&c, "cn*"), 0);
	snprintf(p, sizeof(p), "%s", path_of(fx, "role.key")); /* path_of's buffers rotate */
	c.relay = true;
	assert_int_equal(sm_cert_save(&c, fx->dir, "rack", false, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(sm_cert_load(path_of(fx, "rack.key"), false, &back, fx->err,
				      sizeof(fx->err)),
			 0);
	assert_true(back.relay);
	assert_true(sm_cert_speaks_for(&back, "cn4"));
	assert_int_equal(sm_cert_load(path_of(fx, "rack.key_secret"), true, &back, fx->err,
				      sizeof(fx->err)),
			 0);
	assert_true(back.relay);
	/* No role line: no relay right (every key written before roles). */
	snprintf(text, sizeof(text), "metadata\n    host = cn1\ncurve\n    public-key = \"%s\"\n",
		 c.public_key);
	write_text(p, text, 0644);
	assert_int_equal(sm_cert_load(p, false, &back, fx->err, sizeof(fx->err)), 0);
	assert_false(back.relay);
	/* A misspelt role is an error naming file and line, not "no role". */
	snprintf(text, sizeof(text),
		 "metadata\n    role = \"relais\"\ncurve\n    public-key = \"%s\"\n",
		 c.public_key);
	write_text(p, text, 0644);
	assert_int_equal(sm_cert_load(p, false, &back, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "role.key:2: unknown role 'relais'"));
	assert_false(back.relay);
	/* A role outside metadata is not metadata: ignored, like any unknown name. */
	snprintf(text, sizeof(text), "curve\n    role = relay\n    public-key = \"%s\"\n",
		 c.public_key);
	write_text(p, text, 0644);
	assert_int_equal(sm_cert_load(p, false, &back, fx->err, sizeof(fx->err)), 0);
	assert_false(back.relay);
	sm_cert_clear(&back);
	sm_cert_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cert_save_writes_secret_0600_and_public_0644_whatever_the_umask),
	    cmocka_unit_test(cert_save_refuses_to_overwrite_without_force),
	    cmocka_unit_test(cert_load_refuses_secret_readable_by_others),
	    cmocka_unit_test(cert_load_refuses_missing_and_malformed_files),
	    cmocka_unit_test(cert_load_reads_other_tools_layout),
	    cmocka_unit_test(cert_speaks_for_matches_host_patterns_only),
	    cmocka_unit_test(cert_relay_role_round_trips_and_unknown_roles_are_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
