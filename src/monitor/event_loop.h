/*
 * event_loop — libvirt's default event loop, run in a dedicated thread.
 * libvirt delivers domain lifecycle events and connection keepalive
 * through it; the callbacks it runs only queue work under a mutex, so
 * this thread never blocks on anything but poll().
 */
#ifndef EVENT_LOOP_H
#define EVENT_LOOP_H

struct event_loop; /* opaque */

/* Registers libvirt's default event implementation (once per process; it
 * must precede the first virConnectOpen) and starts the thread that runs
 * it. Returns NULL and logs on failure. */
struct event_loop *event_loop_start(void);

/* Wakes and joins the thread; nulls *el. NULL-safe. Close every libvirt
 * connection first: closing one needs the loop to unregister its handles. */
void event_loop_stop(struct event_loop **el);

#endif
