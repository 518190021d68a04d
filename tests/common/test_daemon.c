/*
 * Tests of sm_daemon: real signals raised at the process (quit ones in a
 * forked child, since the quit flag cannot be cleared), SIGPIPE ignored,
 * and the systemd notify protocol against real AF_UNIX datagram sockets,
 * both a path in a temp dir and an abstract '@' name. The open-file limit
 * is changed in forked children only: a lowered hard limit stays lowered.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sm_daemon.h"

/* Runs fn in a child; returns its exit status (or 100 + signal). */
static int in_child(int (*fn)(void))
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static int child_quit_on(int sig)
{
	if (sm_daemon_install_signals() < 0)
		return 2;
	if (sm_daemon_quit_requested())
		return 3;
	raise(sig); /* would kill the child if the handler were missing */
	return sm_daemon_quit_requested() ? 0 : 4;
}

static int child_sigterm(void)
{
	return child_quit_on(SIGTERM);
}

static int child_sigint(void)
{
	return child_quit_on(SIGINT);
}

static int child_request_quit(void)
{
	if (sm_daemon_quit_requested())
		return 3;
	sm_daemon_request_quit();
	return sm_daemon_quit_requested() ? 0 : 4;
}

static void daemon_sigterm_sets_quit_flag(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_sigterm), 0);
}

static void daemon_sigint_sets_quit_flag(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_sigint), 0);
}

static void daemon_request_quit_sets_quit_flag(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_request_quit), 0);
}

static void daemon_sighup_sets_reload_once(void **state)
{
	(void)state;
	assert_int_equal(sm_daemon_install_signals(), 0);
	assert_false(sm_daemon_take_reload());
	raise(SIGHUP);
	raise(SIGHUP); /* two before a take: one reload covers both */
	assert_true(sm_daemon_take_reload());
	assert_false(sm_daemon_take_reload());
	assert_false(sm_daemon_quit_requested());
}

static void daemon_sigpipe_is_ignored_write_gets_epipe(void **state)
{
	int sv[2];

	(void)state;
	assert_int_equal(sm_daemon_install_signals(), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	raise(SIGPIPE);
	errno = 0;
	assert_int_equal(write(sv[0], "x", 1), -1); /* plain write: SIGPIPE would be sent */
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
}

static void daemon_sighup_interrupts_blocking_call(void **state)
{
	/* No SA_RESTART: a blocking read must come back with EINTR so the
	 * loop sees a SIGHUP promptly. A child sends the signal while we block
	 * on a pipe (which SA_RESTART would resume), and writes a byte 10 s
	 * later so that a restarted read ends instead of hanging. */
	int fds[2], status;
	pid_t parent = getpid(), pid;
	char c;

	(void)state;
	assert_int_equal(sm_daemon_install_signals(), 0);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		usleep(100000);
		kill(parent, SIGHUP);
		sleep(10);
		_exit(write(fds[1], "x", 1) == 1 ? 0 : 1);
	}
	errno = 0;
	assert_int_equal(read(fds[0], &c, 1), -1);
	assert_int_equal(errno, EINTR);
	assert_true(sm_daemon_take_reload());
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fds[0]);
	close(fds[1]);
}

/* A bound datagram socket standing in for systemd. */
struct notify_peer {
	int fd;
	char dir[64];
	char path[96];
};

static void peer_recv(struct notify_peer *p, char *buf, size_t size)
{
	struct timeval tv = {10, 0}; /* generous: never hang the suite */
	ssize_t n;

	setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(p->fd, buf, size - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
}

static void daemon_notify_without_socket_is_noop(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(sm_daemon_notify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(sm_daemon_notify("READY=1"), 0);
	unsetenv("NOTIFY_SOCKET");
}

static void daemon_notify_sends_datagram_to_path_socket(void **state)
{
	struct notify_peer p;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char buf[256];

	(void)state;
	snprintf(p.dir, sizeof(p.dir), "/tmp/sm-test-notify-XXXXXX");
	assert_non_null(mkdtemp(p.dir));
	snprintf(p.path, sizeof(p.path), "%s/notify", p.dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", p.path);
	p.fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(p.fd >= 0);
	assert_int_equal(bind(p.fd, (struct sockaddr *)&sun, sizeof(sun)), 0);

	setenv("NOTIFY_SOCKET", p.path, 1);
	assert_int_equal(sm_daemon_notify("READY=1"), 0);
	peer_recv(&p, buf, sizeof(buf));
	assert_string_equal(buf, "READY=1");
	assert_int_equal(sm_daemon_notify("STATUS=polling 3 domains\nWATCHDOG=1"), 0);
	peer_recv(&p, buf, sizeof(buf));
	assert_string_equal(buf, "STATUS=polling 3 domains\nWATCHDOG=1");

	/* Nobody listening any more: an error, not a crash or a hang. */
	close(p.fd);
	unlink(p.path);
	errno = 0;
	assert_int_equal(sm_daemon_notify("STOPPING=1"), -1);
	assert_true(errno == ENOENT || errno == ECONNREFUSED);
	rmdir(p.dir);
	unsetenv("NOTIFY_SOCKET");
}

static void daemon_notify_sends_datagram_to_abstract_socket(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct notify_peer p;
	char name[64], env[80], buf[256];
	socklen_t len;

	(void)state;
	snprintf(name, sizeof(name), "sm-test-notify-%d-%ld", (int)getpid(), (long)random());
	memcpy(sun.sun_path + 1, name, strlen(name)); /* sun_path[0] = 0: abstract */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	p.fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(p.fd >= 0);
	assert_int_equal(bind(p.fd, (struct sockaddr *)&sun, len), 0);

	snprintf(env, sizeof(env), "@%s", name);
	setenv("NOTIFY_SOCKET", env, 1);
	assert_int_equal(sm_daemon_notify("READY=1"), 0);
	peer_recv(&p, buf, sizeof(buf));
	assert_string_equal(buf, "READY=1");
	close(p.fd);
	unsetenv("NOTIFY_SOCKET");
}

static void daemon_notify_rejects_bad_socket_values(void **state)
{
	char longpath[200];

	(void)state;
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(sm_daemon_notify("READY=1"), -1);
	assert_int_equal(errno, EAFNOSUPPORT);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longpath, 1);
	assert_int_equal(sm_daemon_notify("READY=1"), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	unsetenv("NOTIFY_SOCKET");
}

/* ---- open-file limit ---- */

/* Sets the soft (and, unless 0, the hard) RLIMIT_NOFILE; 0 or -1. */
static int nofile_set(rlim_t soft, rlim_t hard)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	rl.rlim_cur = soft;
	if (hard)
		rl.rlim_max = hard;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

static long nofile_soft(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -2;
	return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur;
}

/* Exit statuses of the children: 0 = as expected, else which check failed. */
static int child_raise_to_hard(void)
{
	long got;

	if (nofile_set(64, 256) < 0)
		return 1;
	got = sm_daemon_raise_fd_limit(0);
	if (got != 256)
		return 2;
	return nofile_soft() == 256 ? 0 : 3;
}

static int child_raise_to_want_only(void)
{
	if (nofile_set(64, 256) < 0)
		return 1;
	if (sm_daemon_raise_fd_limit(100) != 100)
		return 2;
	return nofile_soft() == 100 ? 0 : 3;
}

static int child_never_lowers(void)
{
	if (nofile_set(200, 256) < 0)
		return 1;
	if (sm_daemon_raise_fd_limit(100) != 200)
		return 2;
	if (sm_daemon_raise_fd_limit(200) != 200)
		return 3;
	return nofile_soft() == 200 ? 0 : 4;
}

/* Past the hard limit: a process allowed to (CAP_SYS_RESOURCE) raises
 * both, any other gets the hard one, having been refused the rest. */
static int child_past_hard_limit(void)
{
	long got;

	if (nofile_set(64, 256) < 0)
		return 1;
	got = sm_daemon_raise_fd_limit(300);
	if (got != 300 && got != 256)
		return 2;
	if (nofile_soft() != got)
		return 3;
	if (got == 256 && nofile_set(300, 300) == 0)
		return 4; /* it could have had 300 */
	return 0;
}

static void daemon_fd_limit_raised_to_hard_limit(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_raise_to_hard), 0);
}

static void daemon_fd_limit_raised_to_want_only(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_raise_to_want_only), 0);
}

static void daemon_fd_limit_never_lowered(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_never_lowers), 0);
}

static void daemon_fd_limit_past_hard_limit_settles_for_it(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_past_hard_limit), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(daemon_sigterm_sets_quit_flag),
	    cmocka_unit_test(daemon_sigint_sets_quit_flag),
	    cmocka_unit_test(daemon_request_quit_sets_quit_flag),
	    cmocka_unit_test(daemon_sighup_sets_reload_once),
	    cmocka_unit_test(daemon_sigpipe_is_ignored_write_gets_epipe),
	    cmocka_unit_test(daemon_sighup_interrupts_blocking_call),
	    cmocka_unit_test(daemon_notify_without_socket_is_noop),
	    cmocka_unit_test(daemon_notify_sends_datagram_to_path_socket),
	    cmocka_unit_test(daemon_notify_sends_datagram_to_abstract_socket),
	    cmocka_unit_test(daemon_notify_rejects_bad_socket_values),
	    cmocka_unit_test(daemon_fd_limit_raised_to_hard_limit),
	    cmocka_unit_test(daemon_fd_limit_raised_to_want_only),
	    cmocka_unit_test(daemon_fd_limit_never_lowered),
	    cmocka_unit_test(daemon_fd_limit_past_hard_limit_settles_for_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
