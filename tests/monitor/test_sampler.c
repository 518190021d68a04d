/*
 * Tests of the sampler against libvirt's in-process test driver (no mocks):
 * a pass fills the dom_table with every active domain of a node file, marks
 * them with the kick's generation and queues their "started" events with
 * their Nova identity; the driver's missing bulk CPU time moves it to the
 * per-domain path; a URI that cannot be opened is tried again on every
 * kick and leaves the table empty; stop and destroy are safe at any point.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dom_table.h"
#include "dom_tracker.h"
#include "sampler.h"

struct fixture {
	struct dom_table *t;
	struct sampler *s;
};

static char *fixture_uri(void)
{
	const char *src = getenv("STACKMON_SOURCE_DIR");
	char *uri = malloc(4096);

	assert_non_null(src);
	snprintf(uri, 4096, "test://%s/tests/fixtures/node-small.xml", src);
	return uri;
}

static struct fixture *fixture_new_calls(const char *uri, unsigned calls)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->t = dom_table_new();
	assert_non_null(f->t);
	f->s = sampler_new(uri, f->t);
	assert_non_null(f->s);
	sampler_set_calls_in_flight(f->s, calls, 0);
	assert_int_equal(sampler_start(f->s), 0);
	return f;
}

static struct fixture *fixture_new(const char *uri)
{
	return fixture_new_calls(uri, 1);
}

static void fixture_free(struct fixture *f)
{
	assert_true(sampler_stop(f->s));
	sampler_destroy(&f->s);
	assert_null(f->s);
	dom_table_destroy(&f->t);
	free(f);
}

/* Kicks a pass and waits (on the sampler's fd, as main does) until it ends. */
static uint64_t kick_and_wait(struct sampler *s)
{
	uint64_t gen = sampler_kick(s);
	struct pollfd pfd = {.fd = sampler_fd(s), .events = POLLIN};

	/* Up to 10 s; the fd is also signalled once per new domain. */
	for (int i = 0; i < 10000 && !sampler_pass_done(s); i++) {
		poll(&pfd, 1, 100);
		sampler_fd_clear(s);
	}
	assert_true(sampler_pass_done(s));
	return gen;
}

static void sampler_tracks_every_active_domain_of_a_node(void **state)
{
	char *uri = fixture_uri();
	struct fixture *f = fixture_new(uri);
	const struct sm_domain_event *evs;
	struct sampler_counters c;
	uint64_t gen = kick_and_wait(f->s);
	bool saw_identity = false;
	size_t n;

	/* node-small.xml: 6 domains, one shut off. */
	assert_int_equal(dom_table_count(f->t), 5);
	for (size_t i = 0; i < 5; i++) {
		const struct dom_entry *e = dom_table_at(f->t, i);

		assert_int_equal(e->refreshed_gen, gen);
		assert_false(e->need_identity);
		assert_false(e->need_devices); /* read for the per-domain path */
		if (i)
			assert_true(memcmp(dom_table_at(f->t, i - 1)->uuid, e->uuid, 16) < 0);
	}
	n = dom_table_take_events_now(f->t, &evs);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(evs[i].type, SM_EVENT_STARTED);
		if (strcmp(evs[i].name, "instance-00000002") == 0) {
			assert_true(evs[i].has_identity);
			assert_string_equal(evs[i].identity.project_name, "beta");
			saw_identity = true;
		}
	}
	assert_true(saw_identity);
	dom_table_events_sent(f->t);

	sampler_counters(f->s, &c);
	assert_true(c.connected);
	assert_false(c.bulk); /* the test driver gives no CPU time in bulk */
	assert_int_equal(c.passes, 1);
	assert_int_equal(c.reconnects, 0);
	fixture_free(f);
	free(uri);
}

static void sampler_marks_each_kick_a_new_generation(void **state)
{
	struct fixture *f = fixture_new("test:///default");
	const struct sm_domain_event *evs;
	uint64_t g1 = kick_and_wait(f->s), g2;

	assert_int_equal(dom_table_count(f->t), 1);
	assert_int_equal(dom_table_at(f->t, 0)->refreshed_gen, g1);
	g2 = kick_and_wait(f->s);
	assert_true(g2 > g1);
	assert_int_equal(dom_table_at(f->t, 0)->refreshed_gen, g2);
	/* The second pass has rates: a baseline and a second sample. */
	assert_int_equal(dom_tracker_samples(dom_table_at(f->t, 0)->tracker), 2);
	/* Started once, not on every pass. */
	assert_int_equal(dom_table_take_events_now(f->t, &evs), 1);
	dom_table_events_sent(f->t);
	fixture_free(f);
}

static void sampler_latency_is_taken_once(void **state)
{
	struct fixture *f = fixture_new("test:///default");

	kick_and_wait(f->s);
	assert_true(sampler_take_latency_ns(f->s, 0) > 0);
	/* No call since: the next period starts at zero. */
	assert_int_equal(sampler_take_latency_ns(f->s, 0), 0);
	fixture_free(f);
}

static void sampler_refresh_reads_identity_again(void **state)
{
	struct fixture *f = fixture_new("test:///default");

	kick_and_wait(f->s);
	sampler_refresh(f->s);
	kick_and_wait(f->s);
	/* The refresh pass asked and was answered: no need left over. */
	assert_false(dom_table_at(f->t, 0)->need_identity);
	assert_false(dom_table_at(f->t, 0)->need_devices);
	fixture_free(f);
}

/* libvirt cannot open the URI: every kick tries once, the pass still ends
 * (so main is not kept waiting) and nothing is tracked. */
static void sampler_unreachable_libvirt_tries_on_every_kick(void **state)
{
	struct fixture *f = fixture_new("test:///nonexistent/stackmon/node.xml");
	struct sampler_counters c;

	kick_and_wait(f->s);
	kick_and_wait(f->s);
	sampler_counters(f->s, &c);
	assert_false(c.connected);
	assert_int_equal(c.passes, 0); /* no pass over libvirt was made */
	assert_int_equal(dom_table_count(f->t), 0);
	fixture_free(f);
}

/* A node file of n running domains, each with disks vda and vdb and one
 * NIC; returns its test:// URI (path in *path, to unlink). */
static char *write_node(size_t n, char **path)
{
	char tmpl[] = "/tmp/sm-test-sampler-XXXXXX";
	int fd = mkstemp(tmpl);
	FILE *f = fdopen(fd, "w");
	char *uri = malloc(4096);

	assert_non_null(f);
	fprintf(f, "<node><cpu><mhz>2400</mhz><model>x86_64</model><active>4</active>"
		   "<total>4</total><nodes>1</nodes><sockets>1</sockets><cores>4</cores>"
		   "<threads>1</threads></cpu><memory>67108864</memory>\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f,
			"<domain type='test'><name>share-%zu</name>"
			"<uuid>5a000000-0000-4000-8000-%012zx</uuid>"
			"<memory unit='MiB'>256</memory><vcpu>1</vcpu>"
			"<os><type arch='x86_64'>hvm</type></os><devices>"
			"<disk type='file' device='disk'><source file='/x/%zu-a'/>"
			"<target dev='vda' bus='virtio'/></disk>"
			"<disk type='file' device='disk'><source file='/x/%zu-b'/>"
			"<target dev='vdb' bus='virtio'/></disk>"
			"<interface type='ethernet'><mac address='fa:16:3e:00:%02zx:%02zx'/>"
			"<target dev='tap%zu'/></interface></devices></domain>\n",
			i, i, i, i, (i >> 8) & 0xff, i & 0xff, i);
	fprintf(f, "</node>\n");
	fclose(f);
	*path = strdup(tmpl);
	snprintf(uri, 4096, "test://%s", tmpl);
	return uri;
}

/* libvirt_calls: helper threads take a share of the per-domain pass, and
 * the table ends up the same as with the sampler thread alone: every
 * domain refreshed in the kick's generation, with both disks and the NIC
 * read. */
static void sampler_shares_the_per_domain_pass_among_threads(void **state)
{
	char *path;
	char *uri = write_node(400, &path);
	unsigned calls[] = {1, 4};

	for (size_t k = 0; k < 2; k++) {
		struct fixture *f = fixture_new_calls(uri, calls[k]);
		struct sampler_counters c;
		uint64_t gen;

		kick_and_wait(f->s); /* the first pass learns the devices */
		gen = kick_and_wait(f->s);
		assert_int_equal(dom_table_count(f->t), 400);
		for (size_t i = 0; i < 400; i++) {
			const struct dom_entry *e = dom_table_at(f->t, i);

			assert_int_equal(e->refreshed_gen, gen);
			assert_int_equal(e->devices.ndisks, 2);
			assert_int_equal(e->devices.nnics, 1);
		}
		sampler_counters(f->s, &c);
		assert_false(c.bulk);
		if (calls[k] == 1)
			assert_int_equal(c.helper_calls, 0);
		else
			assert_true(c.helper_calls > 0); /* they did take domains */
		fixture_free(f);
	}
	unlink(path);
	free(path);
	free(uri);
}

static void sampler_stop_and_destroy_are_safe_anytime(void **state)
{
	struct dom_table *t = dom_table_new();
	struct sampler *s = sampler_new("test:///default", t);

	assert_non_null(s);
	assert_true(sampler_stop(s)); /* never started */
	assert_int_equal(sampler_start(s), 0);
	assert_int_equal(sampler_start(s), 0); /* once */
	assert_true(sampler_stop(s));
	assert_true(sampler_stop(s));
	sampler_destroy(&s);
	assert_null(s);
	sampler_destroy(&s);
	dom_table_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sampler_tracks_every_active_domain_of_a_node),
		cmocka_unit_test(sampler_marks_each_kick_a_new_generation),
		cmocka_unit_test(sampler_latency_is_taken_once),
		cmocka_unit_test(sampler_refresh_reads_identity_again),
		cmocka_unit_test(sampler_unreachable_libvirt_tries_on_every_kick),
		cmocka_unit_test(sampler_stop_and_destroy_are_safe_anytime),
		cmocka_unit_test(sampler_shares_the_per_domain_pass_among_threads),
	};
	/* No event loop thread: the sampler runs libvirt's loop itself. */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
