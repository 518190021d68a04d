/*
 * sm_daemon — see sm_daemon.h. The handlers only store to volatile
 * sig_atomic_t flags; the main loop polls them. sm_daemon_notify speaks
 * systemd's notify protocol directly (one datagram to $NOTIFY_SOCKET) so
 * the daemons need no libsystemd.
 */
#include "sm_daemon.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sm_log.h"

static volatile sig_atomic_t quit_flag;	  /* SIGTERM/SIGINT seen, or requested */
static volatile sig_atomic_t reload_flag; /* SIGHUP seen since last take */

static void on_quit(int sig)
{
	(void)sig;
	quit_flag = 1;
}

static void on_reload(int sig)
{
	(void)sig;
	reload_flag = 1;
}

int sm_daemon_install_signals(void)
{
	struct sigaction sa;
	int rc = -1;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking poll/zmq_poll must return EINTR so the loop
	 * sees the flag at once instead of at its next timeout. */
	sa.sa_flags = 0;
	sa.sa_handler = on_quit;
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		goto out;
	sa.sa_handler = on_reload;
	if (sigaction(SIGHUP, &sa, NULL) < 0)
		goto out;
	/* A peer that goes away must show up as EPIPE, not kill the daemon. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		goto out;
	rc = 0;
out:
	return rc;
}

bool sm_daemon_quit_requested(void)
{
	return quit_flag != 0;
}

void sm_daemon_request_quit(void)
{
	quit_flag = 1;
}

bool sm_daemon_take_reload(void)
{
	/* A SIGHUP landing between the test and the clear merges with the one
	 * being taken: one reload covers both. */
	if (!reload_flag)
		return false;
	reload_flag = 0;
	return true;
}

int sm_daemon_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t addrlen;
	size_t plen;
	int fd = -1, rc = -1, saved;

	if (!path || !*path)
		return 0; /* not started by systemd with Type=notify */
	if (!state) {
		errno = EINVAL;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	plen = strlen(path);
	if (path[0] != '/' && path[0] != '@') {
		errno = EAFNOSUPPORT; /* e.g. systemd's vsock: form, unused on our hosts */
		goto out;
	}
	if (plen >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		goto out;
	}
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0'; /* Linux abstract namespace: length-delimited */
	addrlen =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + (path[0] == '/' ? 1 : 0));

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto out;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, addrlen) < 0)
		goto out;
	rc = 0;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
	return rc;
}

long sm_daemon_raise_fd_limit(long want)
{
	struct rlimit rl, nl;
	rlim_t target;
	long limit = -1;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		sm_log_warn("getrlimit(RLIMIT_NOFILE)");
		goto out;
	}
	target = want > 0 ? (rlim_t)want : rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < target) {
		nl = rl;
		nl.rlim_cur = target;
		if (nl.rlim_max != RLIM_INFINITY && nl.rlim_max < target)
			nl.rlim_max = target; /* only root may: else the fall-back below */
		if (setrlimit(RLIMIT_NOFILE, &nl) < 0 && rl.rlim_max > rl.rlim_cur) {
			nl = rl;
			nl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &nl) < 0)
				sm_log_warn("setrlimit(RLIMIT_NOFILE, %llu)",
					    (unsigned long long)nl.rlim_cur);
		}
		if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
			sm_log_warn("getrlimit(RLIMIT_NOFILE)");
			goto out;
		}
	}
	limit =
	    rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > LONG_MAX ? LONG_MAX : (long)rl.rlim_cur;
out:
	return limit;
}
