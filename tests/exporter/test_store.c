/*
 * Tests of the exporter's store: a frame's domains held with their labels,
 * a domain gone when its host's next frame leaves it out, on "stopped"
 * from its own host only, moved with a migration, new domains refused past
 * max_series (and counted), and silent hosts expired with their domains.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_stats.h"
#include "render.h"
#include "sm_clock.h"
#include "sm_log.h"
#include "store.h"

#define SEC SM_NS_PER_SEC

static struct store *new_store(size_t max_series)
{
	struct store_sizes sizes;

	render_sizes(&sizes);
	return store_new(&sizes, max_series);
}

/* Applies a stats frame of n domains from host at time t (s). */
static size_t apply(struct store *s, const char *host, size_t n, int64_t t)
{
	struct sm_message m;
	size_t dropped;

	assert_int_equal(fake_stats_fill(&m, host, n, 1, 1), 0);
	dropped = store_apply_stats(s, &m, t * SEC, true);
	fake_stats_free(&m);
	return dropped;
}

/* The same with uuids of their own (tag in the last byte): other hosts'
 * frames never list these. */
static void apply_tagged(struct store *s, const char *host, size_t n, int64_t t, uint8_t tag)
{
	struct sm_message m;

	assert_int_equal(fake_stats_fill(&m, host, n, 1, 1), 0);
	for (size_t i = 0; i < n; i++)
		m.u.stats.domains[i].uuid[15] = tag;
	store_apply_stats(s, &m, t * SEC, true);
	fake_stats_free(&m);
}

static void uuid_of(unsigned i, uint8_t uuid[16])
{
	for (int j = 0; j < 16; j++)
		uuid[j] = (uint8_t)(i * 7 + (unsigned)j);
}

static void store_holds_the_domains_of_a_frame(void **state)
{
	struct store *s = new_store(0);
	const struct store_domain *d;
	uint8_t u[16];
	size_t per_domain = RENDER_PER_DOMAIN + 2 * RENDER_PER_DISK + 2 * RENDER_PER_NIC;

	assert_int_equal(apply(s, "cn1", 3, 0), 0);
	assert_int_equal(store_hosts(s), 1);
	assert_int_equal(store_domains(s), 3);
	assert_int_equal(store_series(s), RENDER_PER_HOST + 3 * per_domain);
	uuid_of(1, u);
	d = store_find_domain(s, u);
	assert_non_null(d);
	assert_string_equal(d->host->name, "cn1");
	assert_int_equal(d->stats.ndisks, 2);
	assert_non_null(strstr(d->labels, "host=\"cn1\",uuid=\""));
	assert_non_null(strstr(d->labels, ",name=\"web-frontend-1\",project_id=\""));
	assert_non_null(strstr(d->labels, ",user=\"user-1\""));
	assert_int_equal(store_first_host(s)->ndomains, 3);
	store_destroy(&s);
	assert_null(s);
}

static void store_drops_a_domain_absent_from_its_hosts_next_frame(void **state)
{
	struct store *s = new_store(0);
	uint8_t u[16];

	apply(s, "cn1", 3, 0);
	apply(s, "cn1", 2, 1);
	assert_int_equal(store_domains(s), 2);
	uuid_of(2, u);
	assert_null(store_find_domain(s, u));
	assert_int_equal(store_counters(s)->domains_removed[STORE_GONE_ABSENT], 1);
	/* Another host's frame leaves cn1's domains alone. */
	apply(s, "cn2", 0, 1);
	assert_int_equal(store_domains(s), 2);
	store_destroy(&s);
}

static void store_keeps_absent_domains_when_a_frame_is_incomplete(void **state)
{
	struct store *s = new_store(0);
	struct sm_message m;

	apply(s, "cn1", 3, 0);
	assert_int_equal(fake_stats_fill(&m, "cn1", 1, 1, 2), 0);
	store_apply_stats(s, &m, SEC, false); /* records were left out on the way in */
	fake_stats_free(&m);
	assert_int_equal(store_domains(s), 3);
	apply(s, "cn1", 1, 2); /* a complete frame decides */
	assert_int_equal(store_domains(s), 1);
	store_destroy(&s);
}

static void store_drops_a_domain_on_stopped_from_its_own_host_only(void **state)
{
	struct store *s = new_store(0);
	struct sm_message ev;

	apply(s, "cn1", 2, 0);
	fake_event_fill(&ev, "cn2", SM_EVENT_STOPPED, 1, 1, 1);
	assert_false(store_apply_event(s, &ev));
	assert_int_equal(store_domains(s), 2);
	fake_event_fill(&ev, "cn1", SM_EVENT_STARTED, 1, 1, 2);
	assert_false(store_apply_event(s, &ev));
	fake_event_fill(&ev, "cn1", SM_EVENT_STOPPED, 1, 1, 3);
	assert_true(store_apply_event(s, &ev));
	assert_int_equal(store_domains(s), 1);
	assert_int_equal(store_counters(s)->domains_removed[STORE_GONE_STOPPED], 1);
	assert_false(store_apply_event(s, &ev)); /* once */
	store_destroy(&s);
}

static void store_moves_a_migrated_domain_to_its_new_host(void **state)
{
	struct store *s = new_store(0);
	const struct store_domain *d;
	struct sm_message ev;
	uint8_t u[16];

	apply(s, "cn1", 1, 0);
	apply(s, "cn2", 1, 1); /* the same uuid now listed by cn2 */
	uuid_of(0, u);
	d = store_find_domain(s, u);
	assert_non_null(d);
	assert_string_equal(d->host->name, "cn2");
	assert_non_null(strstr(d->labels, "host=\"cn2\""));
	assert_int_equal(store_domains(s), 1);
	/* The source's late "stopped" leaves the target's domain alone. */
	fake_event_fill(&ev, "cn1", SM_EVENT_STOPPED, 0, 1, 1);
	assert_false(store_apply_event(s, &ev));
	/* cn1's next frame, without it, does not remove it either. */
	apply(s, "cn1", 0, 2);
	assert_non_null(store_find_domain(s, u));
	store_destroy(&s);
}

static void store_refuses_new_domains_beyond_max_series_and_counts_them(void **state)
{
	size_t per_domain = RENDER_PER_DOMAIN + 2 * RENDER_PER_DISK + 2 * RENDER_PER_NIC;
	struct store *s = new_store(RENDER_PER_HOST + 2 * per_domain);

	assert_int_equal(apply(s, "cn1", 5, 0), 3 * per_domain);
	assert_int_equal(store_domains(s), 2);
	assert_true(store_series(s) <= RENDER_PER_HOST + 2 * per_domain);
	assert_int_equal(store_counters(s)->series_dropped, 3 * per_domain);
	/* Known domains keep being updated; a new host does not fit. */
	assert_int_equal(apply(s, "cn1", 2, 1), 0);
	assert_int_equal(apply(s, "cn2", 1, 1), RENDER_PER_HOST);
	assert_int_equal(store_hosts(s), 1);
	/* Room made by a domain that went is taken by the next new one. */
	apply(s, "cn1", 1, 2);
	assert_int_equal(store_domains(s), 1);
	assert_int_equal(apply(s, "cn1", 2, 3), 0);
	assert_int_equal(store_domains(s), 2);
	store_destroy(&s);
}

static void store_expires_a_silent_host_with_its_domains(void **state)
{
	struct store *s = new_store(0);

	apply(s, "cn1", 2, 0);
	apply_tagged(s, "cn2", 1, 0, 0xee);
	apply_tagged(s, "cn2", 1, 9, 0xee);
	assert_int_equal(store_expire(s, 9 * SEC, 10.0), 0);
	assert_int_equal(store_expire(s, 11 * SEC, 10.0), 1);
	assert_int_equal(store_hosts(s), 1);
	assert_int_equal(store_domains(s), 1);
	assert_string_equal(store_first_host(s)->name, "cn2");
	assert_int_equal(store_counters(s)->domains_removed[STORE_GONE_STALE], 2);
	assert_int_equal(store_counters(s)->hosts_expired, 1);
	assert_int_equal(store_series(s), RENDER_PER_HOST + RENDER_PER_DOMAIN +
					      2 * RENDER_PER_DISK + 2 * RENDER_PER_NIC);
	store_destroy(&s);
}

static void store_stale_after_zero_means_three_intervals(void **state)
{
	struct store *s = new_store(0);

	apply(s, "cn1", 1, 100); /* fake frames say interval 1 s: 3 s, the minimum */
	assert_int_equal(store_expire(s, 103 * SEC, 0), 0);
	assert_int_equal(store_expire(s, 103 * SEC + SEC / 10, 0), 1);
	assert_int_equal(store_hosts(s), 0);
	assert_int_equal(store_series(s), 0);
	store_destroy(&s);
}

static void store_holds_many_hosts_and_domains(void **state)
{
	struct store *s = new_store(0);
	char host[16];

	/* Past the first table sizes: the tables grow and still find all. */
	for (int h = 0; h < 200; h++) {
		struct sm_message m;

		snprintf(host, sizeof(host), "cn%d", h);
		assert_int_equal(fake_stats_fill(&m, host, 20, 1, 1), 0);
		for (size_t i = 0; i < 20; i++) {
			m.u.stats.domains[i].uuid[0] = (uint8_t)h;
			m.u.stats.domains[i].uuid[15] = (uint8_t)(h >> 8);
		}
		store_apply_stats(s, &m, 0, true);
		fake_stats_free(&m);
	}
	assert_int_equal(store_hosts(s), 200);
	assert_int_equal(store_domains(s), 4000);
	for (int h = 0; h < 200; h += 2) {
		snprintf(host, sizeof(host), "cn%d", h);
		apply(s, host, 0, 1); /* their domains leave */
	}
	assert_int_equal(store_hosts(s), 200);
	assert_int_equal(store_domains(s), 2000);
	store_destroy(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(store_holds_the_domains_of_a_frame),
	    cmocka_unit_test(store_drops_a_domain_absent_from_its_hosts_next_frame),
	    cmocka_unit_test(store_keeps_absent_domains_when_a_frame_is_incomplete),
	    cmocka_unit_test(store_drops_a_domain_on_stopped_from_its_own_host_only),
	    cmocka_unit_test(store_moves_a_migrated_domain_to_its_new_host),
	    cmocka_unit_test(store_refuses_new_domains_beyond_max_series_and_counts_them),
	    cmocka_unit_test(store_expires_a_silent_host_with_its_domains),
	    cmocka_unit_test(store_stale_after_zero_means_three_intervals),
	    cmocka_unit_test(store_holds_many_hosts_and_domains),
	};

	sm_log_open("test_store", SM_LOG_ERR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
