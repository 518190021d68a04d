/*
 * test_sub_filter.c — stackmon-sub's selection: topic prefixes from kinds
 * and hosts, and tenant/domain filtering inside decoded frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sub_filter.h"

static void filter_prefixes_cross_kinds_and_hosts(void **state)
{
	const char *kinds[] = {"stats", "event"};
	const char *hosts[] = {"cn1", "cn2"};
	struct sub_filter f = {kinds, 2, hosts, 2, NULL, NULL};
	char buf[64];

	(void)state;
	assert_int_equal(sub_filter_prefix_count(&f), 4);
	sub_filter_prefix(&f, 0, buf, sizeof(buf));
	assert_string_equal(buf, "stats/cn1/");
	sub_filter_prefix(&f, 3, buf, sizeof(buf));
	assert_string_equal(buf, "event/cn2/");
	f.nhosts = 0;
	assert_int_equal(sub_filter_prefix_count(&f), 2);
	sub_filter_prefix(&f, 1, buf, sizeof(buf));
	assert_string_equal(buf, "event/");
	/* A host alone means every kind from that host. */
	f.nkinds = 0;
	f.nhosts = 1;
	assert_int_equal(sub_filter_prefix_count(&f), 4);
	sub_filter_prefix(&f, 2, buf, sizeof(buf));
	assert_string_equal(buf, "hb/cn1/");
	f.nhosts = 0;
	assert_int_equal(sub_filter_prefix_count(&f), 1);
	sub_filter_prefix(&f, 0, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static void filter_check_rejects_unknown_kind_and_bad_host(void **state)
{
	const char *kinds[] = {"stats", "metrics"};
	const char *hosts[] = {"cn/1"};
	struct sub_filter f = {kinds, 2, NULL, 0, NULL, NULL};
	char err[128];

	(void)state;
	assert_int_equal(sub_filter_check(&f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "metrics"));
	f.nkinds = 1;
	assert_int_equal(sub_filter_check(&f, err, sizeof(err)), 0);
	f.hosts = hosts;
	f.nhosts = 1;
	assert_int_equal(sub_filter_check(&f, err, sizeof(err)), -1);
}

/* A decoded-looking stats message with heap-owned devices, as the decoder
 * makes them, so that dropping domains must free exactly the right ones
 * (ASan checks). */
static void make_stats(struct sm_message *m)
{
	memset(m, 0, sizeof(*m));
	m->hdr.kind = SM_KIND_STATS;
	m->u.stats.ndomains = 3;
	m->u.stats.domains = calloc(3, sizeof(struct sm_domain_stats));
	for (int i = 0; i < 3; i++) {
		struct sm_domain_stats *d = &m->u.stats.domains[i];

		d->uuid[15] = (uint8_t)i;
		snprintf(d->name, sizeof(d->name), "vm%d", i);
		d->ndisks = 1;
		d->disks = calloc(1, sizeof(struct sm_disk_stats));
		d->nnics = 1;
		d->nics = calloc(1, sizeof(struct sm_nic_stats));
	}
	m->u.stats.domains[0].has_identity = true;
	strcpy(m->u.stats.domains[0].identity.project_name, "acme");
	strcpy(m->u.stats.domains[0].identity.project_id, "p-acme");
	m->u.stats.domains[2].has_identity = true;
	strcpy(m->u.stats.domains[2].identity.project_name, "globex");
	strcpy(m->u.stats.domains[2].identity.display_name, "db-1");
}

static void filter_tenant_keeps_only_its_domains(void **state)
{
	struct sub_filter f = {0};
	struct sm_message m;

	(void)state;
	make_stats(&m);
	f.tenant = "acme";
	assert_true(sub_filter_apply(&f, &m));
	assert_int_equal(m.u.stats.ndomains, 1);
	assert_string_equal(m.u.stats.domains[0].name, "vm0");
	sm_message_clear(&m);

	make_stats(&m);
	f.tenant = "p-acme"; /* by id too */
	assert_true(sub_filter_apply(&f, &m));
	assert_int_equal(m.u.stats.ndomains, 1);
	sm_message_clear(&m);

	make_stats(&m);
	f.tenant = "initech";
	assert_false(sub_filter_apply(&f, &m));
	assert_int_equal(m.u.stats.ndomains, 0);
	sm_message_clear(&m);
}

static void filter_domain_matches_uuid_name_or_display_name(void **state)
{
	struct sub_filter f = {0};
	struct sm_message m;

	(void)state;
	make_stats(&m);
	f.domain = "db-1";
	assert_true(sub_filter_apply(&f, &m));
	assert_int_equal(m.u.stats.ndomains, 1);
	assert_string_equal(m.u.stats.domains[0].name, "vm2");
	sm_message_clear(&m);

	make_stats(&m);
	f.domain = "00000000-0000-0000-0000-000000000001";
	assert_true(sub_filter_apply(&f, &m));
	assert_string_equal(m.u.stats.domains[0].name, "vm1");
	sm_message_clear(&m);

	/* Heartbeats carry no tenant: a tenant filter hides them. */
	memset(&m, 0, sizeof(m));
	m.hdr.kind = SM_KIND_HEARTBEAT;
	assert_false(sub_filter_apply(&f, &m));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(filter_prefixes_cross_kinds_and_hosts),
		cmocka_unit_test(filter_check_rejects_unknown_kind_and_bad_host),
		cmocka_unit_test(filter_tenant_keeps_only_its_domains),
		cmocka_unit_test(filter_domain_matches_uuid_name_or_display_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
