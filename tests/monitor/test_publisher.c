/*
 * Tests of the publisher (LibvirtDomainStatPublisher's tick and frames),
 * without an upstream (frames are kept for publisher_last_frame, as --once
 * does) and decoded with the wire decoder: frames built from the domains
 * the sampler put in its table, contiguous sequence numbers, the deadline
 * of half an interval capped at 2 s, and a late frame with stale or no
 * domains when the pass has not ended.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "publisher.h"
#include "sm_clock.h"
#include "sm_wire.h"

#define MS (1000 * 1000LL)


static struct publisher *make(const char *uri, double interval)
{
	struct publisher_config cfg = {.uri = uri, .host = "cn-test", .interval = interval};
	struct publisher *p = publisher_new(&cfg, NULL);

	assert_non_null(p);
	return p;
}

static void decode_last(struct publisher *p, struct sm_message *m)
{
	const void *body;
	size_t len;
	struct sm_wire_error err;

	publisher_last_frame(p, &body, &len);
	assert_true(len > 0);
	assert_int_equal(sm_wire_decode(body, len, 0, m, &err), 0);
	assert_int_equal(m->hdr.kind, SM_KIND_STATS);
	assert_string_equal(m->hdr.host, "cn-test");
}

/* Ticks, then services as main does until the frame goes out. */
static void tick_and_send(struct publisher *p)
{
	struct pollfd pfd = {.fd = publisher_fd(p), .events = POLLIN};
	int sent = 0;

	publisher_tick(p, sm_clock_mono_ns());
	for (int i = 0; i < 100 && !sent; i++) {
		int64_t now = sm_clock_mono_ns();

		poll(&pfd, 1, publisher_timeout_ms(p, now));
		sent = publisher_service(p, sm_clock_mono_ns());
	}
	assert_int_equal(sent, 1);
}

static void publisher_refuses_bad_host_or_interval(void **state)
{
	struct publisher_config cfg = {.host = "bad host", .interval = 1};

	assert_null(publisher_new(&cfg, NULL));
	cfg.host = "ok";
	cfg.interval = 0;
	assert_null(publisher_new(&cfg, NULL));
	publisher_destroy(NULL);
}

static void publisher_frames_list_the_tables_domains_with_contiguous_seq(void **state)
{
	/* A 4 s interval gives the pass the longest deadline (2 s), so a busy
	 * machine does not turn the domain stale. */
	struct publisher *p = make("test:///default", 4);
	struct publisher_counters c;
	struct sm_message m;

	assert_int_equal(publisher_start(p), 0);
	tick_and_send(p);
	decode_last(p, &m);
	assert_int_equal(m.hdr.seq, 1);
	assert_true(m.u.stats.host.libvirt_ok);
	assert_int_equal(m.u.stats.ndomains, 1);
	assert_string_equal(m.u.stats.domains[0].name, "test");
	assert_false(m.u.stats.domains[0].flags & SM_DOM_STALE);
	assert_int_equal(m.u.stats.host.domains_stale, 0);
	sm_message_clear(&m);

	tick_and_send(p);
	decode_last(p, &m);
	assert_int_equal(m.hdr.seq, 2);
	assert_int_equal(m.u.stats.ndomains, 1);
	sm_message_clear(&m);

	publisher_counters(p, &c);
	assert_int_equal(c.frames, 2);
	assert_int_equal(c.events, 1); /* "started", once */
	assert_int_equal(c.late_frames, 0);
	assert_int_equal(c.domains, 1);
	assert_true(c.connected);
	publisher_destroy(&p);
	assert_null(p);
}

static void publisher_deadline_is_half_an_interval_at_most_2s(void **state)
{
	struct publisher *p = make("test:///default", 1);
	struct publisher *slow = make("test:///default", 60);

	assert_int_equal(publisher_timeout_ms(p, 0), -1); /* nothing pending */
	publisher_tick(p, 0);
	assert_int_equal(publisher_timeout_ms(p, 0), 500);
	assert_int_equal(publisher_timeout_ms(p, 499 * MS + 1), 1);
	assert_int_equal(publisher_timeout_ms(p, 500 * MS), 0);
	publisher_tick(slow, 0);
	assert_int_equal(publisher_timeout_ms(slow, 0), 2000);
	publisher_destroy(&p);
	publisher_destroy(&slow);
}

/* No sampler thread runs here, so the pass never ends: the frame waits for
 * its deadline, then goes out late with what is known. */
static void publisher_sends_at_the_deadline_when_the_pass_hangs(void **state)
{
	struct publisher *p = make("test:///default", 1);
	struct publisher_counters c;
	struct sm_message m;

	publisher_tick(p, 0);
	assert_int_equal(publisher_service(p, 499 * MS), 0);
	assert_int_equal(publisher_service(p, 500 * MS), 1);
	assert_int_equal(publisher_timeout_ms(p, 500 * MS), -1);
	decode_last(p, &m);
	assert_int_equal(m.hdr.seq, 1);
	assert_false(m.u.stats.host.libvirt_ok);
	assert_int_equal(m.u.stats.ndomains, 0);
	sm_message_clear(&m);

	/* A tick with its frame still pending sends that one first. */
	publisher_tick(p, 1000 * MS);
	publisher_tick(p, 2000 * MS);
	decode_last(p, &m);
	assert_int_equal(m.hdr.seq, 2);
	sm_message_clear(&m);
	publisher_counters(p, &c);
	assert_int_equal(c.frames, 2);
	assert_int_equal(c.late_frames, 2);
	assert_int_equal(c.passes, 0);
	publisher_destroy(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(publisher_refuses_bad_host_or_interval),
		cmocka_unit_test(publisher_frames_list_the_tables_domains_with_contiguous_seq),
		cmocka_unit_test(publisher_deadline_is_half_an_interval_at_most_2s),
		cmocka_unit_test(publisher_sends_at_the_deadline_when_the_pass_hangs),
	};
	/* No event loop thread: the sampler runs libvirt's loop itself. */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
