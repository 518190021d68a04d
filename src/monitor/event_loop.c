/*
 * event_loop — libvirt's default event loop, registered once, and run in
 * its own thread for programs that want that (see event_loop.h).
 * virEventRunDefaultImpl blocks in poll(); to stop it, a
 * zero-delay timer is added, which interrupts the poll, and the thread sees
 * the quit flag on its way round.
 */
#include "event_loop.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "sm_log.h"

struct event_loop {
	pthread_t thread;  /* runs virEventRunDefaultImpl */
	atomic_bool quit;  /* set by event_loop_stop */
};

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int register_rc = -1;

static void register_impl(void)
{
	register_rc = virEventRegisterDefaultImpl();
}

static void *run(void *arg)
{
	struct event_loop *el = arg;

	while (!atomic_load(&el->quit)) {
		if (virEventRunDefaultImpl() < 0) {
			sm_log_warnx("libvirt event loop: %s", virGetLastErrorMessage());
			break;
		}
	}
	return NULL;
}

static void wake(int timer, void *opaque)
{
}

int event_loop_register(void)
{
	pthread_once(&register_once, register_impl);
	if (register_rc < 0) {
		sm_log_err("cannot register libvirt's event loop: %s", virGetLastErrorMessage());
		return -1;
	}
	return 0;
}

struct event_loop *event_loop_start(void)
{
	struct event_loop *el;

	if (event_loop_register() < 0)
		return NULL;
	el = calloc(1, sizeof(*el));
	if (!el)
		return NULL;
	atomic_init(&el->quit, false);
	if (pthread_create(&el->thread, NULL, run, el) != 0) {
		sm_log_err("cannot start the libvirt event thread");
		free(el);
		return NULL;
	}
	return el;
}

void event_loop_stop(struct event_loop **elp)
{
	struct event_loop *el;
	int timer;

	if (!elp || !*elp)
		return;
	el = *elp;
	atomic_store(&el->quit, true);
	timer = virEventAddTimeout(0, wake, NULL, NULL);
	pthread_join(el->thread, NULL);
	if (timer >= 0)
		virEventRemoveTimeout(timer);
	free(el);
	*elp = NULL;
}
