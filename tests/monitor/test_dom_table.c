/*
 * Tests of dom_table: entries kept in UUID order, one "started" and one
 * "stopped" event per domain taken in order, samples marking their
 * generation, the event queue's bound, and the lock really excluding the
 * sampler's writes while main reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dom_table.h"
#include "dom_tracker.h"

static void uuid_of(unsigned n, uint8_t uuid[16])
{
	memset(uuid, 0, 16);
	uuid[12] = (uint8_t)(n >> 24);
	uuid[13] = (uint8_t)(n >> 16);
	uuid[14] = (uint8_t)(n >> 8);
	uuid[15] = (uint8_t)n;
}

static struct dom_entry *add(struct dom_table *t, unsigned n, const char *name)
{
	uint8_t uuid[16];
	struct dom_tracker *tr;
	struct dom_entry *e;

	uuid_of(n, uuid);
	tr = dom_tracker_new(uuid, name);
	assert_non_null(tr);
	e = dom_table_add(t, uuid, &tr, "booted");
	assert_non_null(e);
	assert_null(tr); /* the table took it */
	return e;
}

static void table_keeps_entries_in_uuid_order(void **state)
{
	struct dom_table *t = dom_table_new();
	uint8_t uuid[16];

	add(t, 30, "c");
	add(t, 10, "a");
	add(t, 20, "b");
	assert_int_equal(dom_table_count(t), 3);
	assert_int_equal(dom_table_size(t), 3);
	for (size_t i = 0; i < 3; i++) {
		uuid_of((unsigned)(i + 1) * 10, uuid);
		assert_memory_equal(dom_table_at(t, i)->uuid, uuid, 16);
	}
	uuid_of(20, uuid);
	assert_ptr_equal(dom_table_find(t, uuid), dom_table_at(t, 1));
	uuid_of(25, uuid);
	assert_null(dom_table_find(t, uuid));
	dom_table_destroy(&t);
	assert_null(t);
	dom_table_destroy(&t); /* NULL-safe */
}

static void table_new_entry_needs_identity_and_devices(void **state)
{
	struct dom_table *t = dom_table_new();
	struct dom_entry *e = add(t, 1, "a");

	assert_true(e->need_identity);
	assert_true(e->need_devices);
	assert_int_equal(e->refreshed_gen, 0);
	dom_table_destroy(&t);
}

static void table_queues_started_then_stopped_once(void **state)
{
	struct dom_table *t = dom_table_new();
	const struct sm_domain_event *evs;
	uint8_t uuid[16];
	size_t n;

	add(t, 1, "web-1");
	uuid_of(1, uuid);
	assert_true(dom_table_remove(t, uuid, "destroyed\n"));
	assert_false(dom_table_remove(t, uuid, "again"));
	assert_int_equal(dom_table_count(t), 0);
	assert_int_equal(dom_table_size(t), 0);

	/* As a frame takes them: under the lock it holds while packing. */
	dom_table_lock(t);
	n = dom_table_take_events(t, &evs);
	dom_table_unlock(t);
	assert_int_equal(n, 2);
	assert_int_equal(evs[0].type, SM_EVENT_STARTED);
	assert_string_equal(evs[0].name, "web-1");
	assert_string_equal(evs[0].reason, "booted");
	assert_memory_equal(evs[0].uuid, uuid, 16);
	assert_int_equal(evs[1].type, SM_EVENT_STOPPED);
	/* The reason comes from libvirt: sanitised before it reaches the wire. */
	assert_null(strchr(evs[1].reason, '\n'));
	dom_table_events_sent(t);
	assert_int_equal(dom_table_take_events_now(t, &evs), 0);
	dom_table_destroy(&t);
}

static void table_event_carries_identity_set_before_add(void **state)
{
	struct dom_table *t = dom_table_new();
	const struct sm_domain_event *evs;
	struct sm_identity id;
	struct dom_tracker *tr;
	uint8_t uuid[16];

	memset(&id, 0, sizeof(id));
	snprintf(id.display_name, sizeof(id.display_name), "%s", "shop");
	uuid_of(7, uuid);
	tr = dom_tracker_new(uuid, "instance-7");
	dom_tracker_set_identity(tr, &id);
	assert_non_null(dom_table_add(t, uuid, &tr, "booted"));
	assert_int_equal(dom_table_take_events_now(t, &evs), 1);
	assert_true(evs[0].has_identity);
	assert_string_equal(evs[0].identity.display_name, "shop");
	dom_table_destroy(&t);
}

static void table_apply_marks_the_generation(void **state)
{
	struct dom_table *t = dom_table_new();
	struct dom_entry *e = add(t, 1, "old-name");
	struct dom_sample s = {.mono_ns = 1000000000, .state = 1, .vcpus = 1, .has_cpu = true};

	dom_table_apply(t, e, "new-name", &s, 5);
	assert_int_equal(e->refreshed_gen, 5);
	assert_string_equal(dom_tracker_stats(e->tracker)->name, "new-name");
	s.mono_ns += 1000000000;
	s.cpu_time_ns = 500000000;
	dom_table_apply(t, e, NULL, &s, 6);
	assert_int_equal(e->refreshed_gen, 6);
	assert_string_equal(dom_tracker_stats(e->tracker)->name, "new-name");
	dom_table_set_identity(t, e, NULL);
	assert_false(dom_tracker_stats(e->tracker)->has_identity);
	dom_table_destroy(&t);
}

/* A main thread that does not take events for a long while costs events,
 * never unbounded memory. */
static void table_event_queue_is_bounded(void **state)
{
	struct dom_table *t = dom_table_new();
	const struct sm_domain_event *evs;

	for (unsigned i = 0; i < SM_WIRE_MAX_DOMAINS + 10; i++)
		add(t, i, "d");
	assert_int_equal(dom_table_count(t), SM_WIRE_MAX_DOMAINS + 10);
	assert_int_equal(dom_table_take_events_now(t, &evs), SM_WIRE_MAX_DOMAINS);
	dom_table_events_sent(t);
	/* Taken: the queue accepts again. */
	add(t, SM_WIRE_MAX_DOMAINS + 20, "late");
	assert_int_equal(dom_table_take_events_now(t, &evs), 1);
	assert_string_equal(evs[0].name, "late");
	dom_table_events_sent(t);
	dom_table_destroy(&t);
}

struct writer {
	struct dom_table *t;
	struct dom_entry *e;
	atomic_bool done;
};

static void *apply_in_thread(void *arg)
{
	struct writer *w = arg;
	struct dom_sample s = {.mono_ns = 1, .state = 1};

	dom_table_apply(w->t, w->e, NULL, &s, 9);
	atomic_store(&w->done, true);
	return NULL;
}

/* While main holds the lock (building a frame), the sampler's sample waits. */
static void table_lock_holds_off_the_sampler(void **state)
{
	struct writer w = {.t = dom_table_new()};
	struct timespec pause = {0, 50 * 1000 * 1000};
	pthread_t th;

	w.e = add(w.t, 1, "a");
	atomic_init(&w.done, false);
	dom_table_lock(w.t);
	assert_int_equal(pthread_create(&th, NULL, apply_in_thread, &w), 0);
	nanosleep(&pause, NULL);
	assert_false(atomic_load(&w.done));
	assert_int_equal(w.e->refreshed_gen, 0);
	dom_table_unlock(w.t);
	pthread_join(th, NULL);
	assert_true(atomic_load(&w.done));
	assert_int_equal(w.e->refreshed_gen, 9);
	dom_table_destroy(&w.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_keeps_entries_in_uuid_order),
		cmocka_unit_test(table_new_entry_needs_identity_and_devices),
		cmocka_unit_test(table_queues_started_then_stopped_once),
		cmocka_unit_test(table_event_carries_identity_set_before_add),
		cmocka_unit_test(table_apply_marks_the_generation),
		cmocka_unit_test(table_event_queue_is_bounded),
		cmocka_unit_test(table_lock_holds_off_the_sampler),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
