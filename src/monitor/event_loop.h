/*
 * event_loop — libvirt's default event loop. libvirt delivers domain
 * lifecycle events and connection keepalive through it. The monitor's
 * sampler runs it itself between passes (event_loop_register only); a
 * program that makes no libvirt calls of its own can run it in a
 * dedicated thread (event_loop_start). The callbacks it runs only queue
 * work under a mutex, so it never blocks on anything but poll().
 */
#ifndef EVENT_LOOP_H
#define EVENT_LOOP_H

struct event_loop; /* opaque */

/* Registers libvirt's default event implementation, once per process; it
 * must precede the first virConnectOpen. Returns 0, or -1 and logs. */
int event_loop_register(void);

/* Registers (event_loop_register) and starts a thread that runs the loop.
 * Returns NULL and logs on failure. */
struct event_loop *event_loop_start(void);

/* Wakes and joins the thread; nulls *el. NULL-safe. Close every libvirt
 * connection first: closing one needs the loop to unregister its handles. */
void event_loop_stop(struct event_loop **el);

#endif
