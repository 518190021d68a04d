/*
 * Tests of dom_watcher (ActiveDomainWatcher) against libvirt's in-process
 * test driver with its real event machinery: appear/disappear reported once
 * each, by list and by event, restarts, metadata changes, detach.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dom_watcher.h"
#include "event_loop.h"

#define MAX_CALLS 64

struct call {
	char kind; /* 'a'ppeared, 'd'isappeared, 'c'hanged */
	uint8_t uuid[16];
	char reason[32];
	unsigned what;
};

struct fixture {
	virConnectPtr conn;
	struct dom_watcher *w;
	struct call calls[MAX_CALLS];
	size_t ncalls;
	atomic_int wakeups;
};

static struct event_loop *loop;

static void record(struct fixture *f, char kind, const uint8_t uuid[16], const char *reason,
		   unsigned what)
{
	struct call *c;

	assert_true(f->ncalls < MAX_CALLS);
	c = &f->calls[f->ncalls++];
	c->kind = kind;
	memcpy(c->uuid, uuid, 16);
	snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "");
	c->what = what;
}

static void on_appeared(void *arg, virDomainPtr dom, const uint8_t uuid[16], const char *reason)
{
	uint8_t check[16];

	/* The domain handle is usable inside the callback. */
	assert_int_equal(virDomainGetUUID(dom, check), 0);
	assert_memory_equal(check, uuid, 16);
	record(arg, 'a', uuid, reason, 0);
}

static void on_disappeared(void *arg, const uint8_t uuid[16], const char *reason)
{
	record(arg, 'd', uuid, reason, 0);
}

static void on_changed(void *arg, virDomainPtr dom, const uint8_t uuid[16], unsigned what)
{
	record(arg, 'c', uuid, NULL, what);
}

static void on_wakeup(void *arg)
{
	struct fixture *f = arg;

	atomic_fetch_add(&f->wakeups, 1);
}

static const struct dom_watcher_ops ops = {on_appeared, on_disappeared, on_changed};

static void quiet(void *opaque, virErrorPtr err)
{
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	/* test:///default is shared inside a process while a connection to it
	 * is open; teardown puts it back as it was. */
	f->conn = virConnectOpen("test:///default");
	assert_non_null(f->conn);
	f->w = dom_watcher_new(&ops, f, on_wakeup);
	assert_non_null(f->w);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	virDomainPtr *doms = NULL;
	int n;

	dom_watcher_destroy(&f->w);
	/* Leave test:///default as it was: only "test" running. */
	n = virConnectListAllDomains(f->conn, &doms, 0);
	for (int i = 0; i < n; i++) {
		if (strcmp(virDomainGetName(doms[i]), "test") != 0) {
			virDomainDestroy(doms[i]);
			virDomainUndefine(doms[i]);
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	virConnectClose(f->conn);
	free(f);
	return 0;
}

/* An update with the active domains plus `extra` (a domain libvirt has
 * defined but not started: the list of a node where QEMU is still starting
 * it), or without any domain named `skip`; both may be NULL. */
static void update_with(struct fixture *f, virDomainPtr extra, const char *skip)
{
	virDomainPtr *doms = NULL, list[16];
	int n = virConnectListAllDomains(f->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	size_t k = 0;

	assert_true(n >= 0 && n < 15);
	for (int i = 0; i < n; i++)
		if (!skip || strcmp(virDomainGetName(doms[i]), skip) != 0)
			list[k++] = doms[i];
	if (extra)
		list[k++] = extra;
	assert_int_equal(dom_watcher_update(f->w, list, NULL, k), 0);
	for (int i = 0; i < n; i++)
		virDomainFree(doms[i]);
	free(doms);
}

/* Lists the active domains and runs an update. */
static void update(struct fixture *f)
{
	update_with(f, NULL, NULL);
}

/* Waits (generously) until events are queued. */
static void wait_pending(struct fixture *f)
{
	for (int i = 0; i < 2000 && !dom_watcher_pending(f->w); i++)
		usleep(10000);
	assert_true(dom_watcher_pending(f->w));
}

/* A test-driver domain, started (create) or only defined (define). */
static virDomainPtr make_domain(struct fixture *f, const char *name, const char *uuid,
				bool start)
{
	char xml[512];
	virDomainPtr d;

	snprintf(xml, sizeof(xml),
		 "<domain type='test'><name>%s</name><uuid>%s</uuid><memory>65536</memory>"
		 "<vcpu>1</vcpu><os><type>hvm</type></os></domain>",
		 name, uuid);
	d = start ? virDomainCreateXML(f->conn, xml, 0) : virDomainDefineXML(f->conn, xml);
	assert_non_null(d);
	return d;
}

static virDomainPtr create(struct fixture *f, const char *name, const char *uuid)
{
	return make_domain(f, name, uuid, true);
}

static virDomainPtr define(struct fixture *f, const char *name, const char *uuid)
{
	return make_domain(f, name, uuid, false);
}

static void watcher_reports_existing_domains_once(void **state)
{
	struct fixture *f = *state;

	update(f);
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->calls[0].kind, 'a');
	assert_string_equal(f->calls[0].reason, "first-seen");
	assert_int_equal(dom_watcher_count(f->w), 1);
	update(f);
	update(f);
	assert_int_equal(f->ncalls, 1);
}

static void watcher_sees_start_by_event_with_reason(void **state)
{
	struct fixture *f = *state;
	virDomainPtr d;

	assert_int_equal(dom_watcher_attach(f->w, f->conn), 0);
	update(f);
	f->ncalls = 0;
	d = create(f, "smtest-w1", "11111111-2222-3333-4444-555555555551");
	wait_pending(f);
	assert_true(atomic_load(&f->wakeups) >= 1);
	update(f);
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->calls[0].kind, 'a');
	assert_string_equal(f->calls[0].reason, "booted");
	assert_int_equal(dom_watcher_count(f->w), 2);
	assert_true(dom_watcher_events(f->w) >= 1);
	virDomainFree(d);
}

/* The list shows a domain while QEMU is still starting it, before libvirt's
 * start event: it is reported when the event comes, as "booted", not
 * earlier as "first-seen". */
static void watcher_waits_for_the_start_event_of_a_new_domain(void **state)
{
	struct fixture *f = *state;
	virDomainPtr d;

	assert_int_equal(dom_watcher_attach(f->w, f->conn), 0);
	update(f);
	f->ncalls = 0;
	d = define(f, "smtest-w9", "11111111-2222-3333-4444-555555555559");
	update_with(f, d, NULL);
	update_with(f, d, NULL);
	assert_int_equal(f->ncalls, 0);
	assert_int_equal(dom_watcher_waiting(f->w), 1);
	assert_int_equal(virDomainCreate(d), 0);
	wait_pending(f);
	update(f);
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->calls[0].kind, 'a');
	assert_string_equal(f->calls[0].reason, "booted");
	assert_int_equal(dom_watcher_waiting(f->w), 0);
	virDomainFree(d);
}

/* No start event within the wait: reported anyway, as "first-seen". In the
 * first update after attaching, a listed domain started before we listened
 * and is reported at once. */
static void watcher_reports_first_seen_when_no_start_event_comes(void **state)
{
	struct fixture *f = *state;
	virDomainPtr d = define(f, "smtest-w10", "11111111-2222-3333-4444-555555555560");

	assert_int_equal(dom_watcher_attach(f->w, f->conn), 0);
	dom_watcher_set_start_wait(f->w, 0.3);
	update(f);
	f->ncalls = 0;
	update_with(f, d, NULL);
	assert_int_equal(f->ncalls, 0);
	usleep(400 * 1000);
	update_with(f, d, NULL);
	assert_int_equal(f->ncalls, 1);
	assert_string_equal(f->calls[0].reason, "first-seen");

	/* Reattached: what is listed then is reported at once. */
	f->ncalls = 0;
	assert_int_equal(dom_watcher_attach(f->w, f->conn), 0);
	update(f); /* d is not active: gone, "vanished" */
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->calls[0].kind, 'd');
	assert_int_equal(dom_watcher_attach(f->w, f->conn), 0);
	update_with(f, d, NULL);
	assert_int_equal(f->ncalls, 2);
	assert_string_equal(f->calls[1].reason, "first-seen");
	virDomainFree(d);
}

/* The start event can come before the list shows the domain (it started
 * between the listing and the update): its reason is kept for the update
 * that lists it. */
static void watcher_keeps_the_reason_of_an_early_start_event(void **state)
{
	struct fixture *f = *state;
	virDomainPtr d;

	assert_int_equal(dom_watcher_attach(f->w, f->conn), 0);
	update(f);
	f->ncalls = 0;
	d = create(f, "smtest-w11", "11111111-2222-3333-4444-555555555561");
	wait_pending(f);
	update_with(f, NULL, "smtest-w11");
	assert_int_equal(f->ncalls, 0);
	update(f);
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->calls[0].kind, 'a');
	assert_string_equal(f->calls[0].reason, "booted");
	virDomainFree(d);
}

static void watcher_reports_removed_domain_once(void **state)
{
	struct fixture *f = *state;
	virDomainPtr d;
	uint8_t uuid[16];

	assert_int_equal(dom_watcher_attach(f->w, f->conn), 0);
	d = create(f, "smtest-w2", "11111111-2222-3333-4444-555555555552");
	virDomainGetUUID(d, uuid);
	wait_pending(f); /* the start event */
	update(f);
	f->ncalls = 0;
	update(f);
	assert_int_equal(f->ncalls, 0);

	assert_int_equal(virDomainDestroy(d), 0);
	wait_pending(f);
	update(f);
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->calls[0].kind, 'd');
	assert_memory_equal(f->calls[0].uuid, uuid, 16);
	assert_string_equal(f->calls[0].reason, "destroyed");
	update(f);
	update(f);
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(dom_watcher_count(f->w), 1);
	virDomainFree(d);
}

static void watcher_reports_vanished_without_event(void **state)
{
	struct fixture *f = *state;
	virDomainPtr d = create(f, "smtest-w3", "11111111-2222-3333-4444-555555555553");

	/* No events attached: only the list tells. */
	update(f);
	assert_int_equal(f->ncalls, 2);
	assert_int_equal(virDomainDestroy(d), 0);
	update(f);
	assert_int_equal(f->ncalls, 3);
	assert_int_equal(f->calls[2].kind, 'd');
	assert_string_equal(f->calls[2].reason, "vanished");
	virDomainFree(d);
}

static void watcher_restart_between_updates_is_stop_then_start(void **state)
{
	struct fixture *f = *state;
	const char *uuid = "11111111-2222-3333-4444-555555555554";
	virDomainPtr d;

	assert_int_equal(dom_watcher_attach(f->w, f->conn), 0);
	d = create(f, "smtest-w4", uuid);
	wait_pending(f);
	update(f);
	f->ncalls = 0;
	assert_int_equal(virDomainDestroy(d), 0);
	virDomainFree(d);
	d = create(f, "smtest-w4-renamed", uuid); /* same UUID, new name */
	/* Both events must be queued before the update. */
	for (int i = 0; i < 2000 && dom_watcher_events(f->w) < 3; i++)
		usleep(10000);
	update(f);
	assert_int_equal(f->ncalls, 2);
	assert_int_equal(f->calls[0].kind, 'd');
	assert_string_equal(f->calls[0].reason, "destroyed");
	assert_int_equal(f->calls[1].kind, 'a');
	assert_string_equal(f->calls[1].reason, "booted");
	assert_memory_equal(f->calls[0].uuid, f->calls[1].uuid, 16);
	virDomainFree(d);
}

static void watcher_stop_event_wins_over_stale_list(void **state)
{
	struct fixture *f = *state;
	virDomainPtr *doms = NULL;
	virDomainPtr d;
	int n;

	assert_int_equal(dom_watcher_attach(f->w, f->conn), 0);
	d = create(f, "smtest-w5", "11111111-2222-3333-4444-555555555555");
	wait_pending(f);
	update(f);
	f->ncalls = 0;
	/* A list taken before the stop, applied after the stop event arrived:
	 * the domain is reported gone, and not re-appeared from the old list. */
	n = virConnectListAllDomains(f->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	assert_int_equal(n, 2);
	assert_int_equal(virDomainDestroy(d), 0);
	wait_pending(f);
	assert_int_equal(dom_watcher_update(f->w, doms, NULL, (size_t)n), 0);
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->calls[0].kind, 'd');
	update(f);
	assert_int_equal(f->ncalls, 1);
	for (int i = 0; i < n; i++)
		virDomainFree(doms[i]);
	free(doms);
	virDomainFree(d);
}

static void watcher_reports_metadata_change(void **state)
{
	struct fixture *f = *state;
	virDomainPtr d = virDomainLookupByName(f->conn, "test");

	assert_non_null(d);
	assert_int_equal(dom_watcher_attach(f->w, f->conn), 0);
	update(f);
	f->ncalls = 0;
	assert_int_equal(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT,
					      "<instance><name>x</name></instance>", "nova",
					      "http://openstack.org/xmlns/libvirt/nova/1.1",
					      VIR_DOMAIN_AFFECT_LIVE),
			 0);
	wait_pending(f);
	update(f);
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->calls[0].kind, 'c');
	assert_true(f->calls[0].what & DOM_CHANGE_METADATA);
	virDomainFree(d);
}

static void watcher_detach_keeps_known_domains(void **state)
{
	struct fixture *f = *state;
	virDomainPtr d;

	assert_int_equal(dom_watcher_attach(f->w, f->conn), 0);
	update(f);
	dom_watcher_detach(f->w);
	d = create(f, "smtest-w6", "11111111-2222-3333-4444-555555555556");
	usleep(100000);
	assert_false(dom_watcher_pending(f->w)); /* no longer listening */
	f->ncalls = 0;
	update(f); /* same known set: only the new domain is news */
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->calls[0].kind, 'a');
	assert_string_equal(f->calls[0].reason, "first-seen");
	dom_watcher_detach(f->w); /* twice is harmless */
	virDomainFree(d);
}

static void watcher_update_with_empty_list_reports_all_gone(void **state)
{
	struct fixture *f = *state;

	update(f);
	f->ncalls = 0;
	assert_int_equal(dom_watcher_update(f->w, NULL, NULL, 0), 0);
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->calls[0].kind, 'd');
	assert_int_equal(dom_watcher_count(f->w), 0);
}

static void watcher_reason_words(void **state)
{
	assert_string_equal(dom_watcher_reason(VIR_DOMAIN_EVENT_STARTED,
					       VIR_DOMAIN_EVENT_STARTED_MIGRATED),
			    "migrated");
	assert_string_equal(dom_watcher_reason(VIR_DOMAIN_EVENT_STOPPED,
					       VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN),
			    "shutdown");
	assert_string_equal(dom_watcher_reason(VIR_DOMAIN_EVENT_STOPPED,
					       VIR_DOMAIN_EVENT_STOPPED_CRASHED),
			    "crashed");
	assert_string_equal(dom_watcher_reason(VIR_DOMAIN_EVENT_STOPPED, 999), "stopped");
	assert_null(dom_watcher_reason(VIR_DOMAIN_EVENT_SUSPENDED, 0));
	assert_null(dom_watcher_reason(12345, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(watcher_reports_existing_domains_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(watcher_sees_start_by_event_with_reason, setup,
						teardown),
		cmocka_unit_test_setup_teardown(watcher_reports_removed_domain_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(watcher_reports_vanished_without_event, setup,
						teardown),
		cmocka_unit_test_setup_teardown(watcher_restart_between_updates_is_stop_then_start,
						setup, teardown),
		cmocka_unit_test_setup_teardown(watcher_stop_event_wins_over_stale_list, setup,
						teardown),
		cmocka_unit_test_setup_teardown(watcher_reports_metadata_change, setup, teardown),
		cmocka_unit_test_setup_teardown(watcher_detach_keeps_known_domains, setup,
						teardown),
		cmocka_unit_test_setup_teardown(watcher_update_with_empty_list_reports_all_gone,
						setup, teardown),
		cmocka_unit_test_setup_teardown(watcher_waits_for_the_start_event_of_a_new_domain,
						setup, teardown),
		cmocka_unit_test_setup_teardown(watcher_reports_first_seen_when_no_start_event_comes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(watcher_keeps_the_reason_of_an_early_start_event,
						setup, teardown),
		cmocka_unit_test(watcher_reason_words),
	};
	int rc;

	virSetErrorFunc(NULL, quiet);
	loop = event_loop_start();
	assert_non_null(loop);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	event_loop_stop(&loop);
	return rc;
}
