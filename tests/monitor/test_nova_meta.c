/*
 * Unit tests of nova_meta: parsing Nova's <instance> metadata (1.1 and 1.0
 * namespaces, any prefix), refusing look-alikes and malformed XML, and
 * bounding/sanitising hostile names; then reading it back through libvirt's
 * in-process test driver (test:///default), which stores metadata for real.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nova_meta.h"
#include "sm_utf8.h"

#define INSTANCE_1_1                                                                           \
	"<nova:instance xmlns:nova=\"http://openstack.org/xmlns/libvirt/nova/1.1\">"          \
	"<nova:package version=\"27.0.0\"/>"                                                   \
	"<nova:name>web-01</nova:name>"                                                        \
	"<nova:creationTime>2024-01-01 00:00:00</nova:creationTime>"                           \
	"<nova:flavor name=\"m1.small\"><nova:memory>2048</nova:memory>"                      \
	"<nova:vcpus>1</nova:vcpus></nova:flavor>"                                             \
	"<nova:owner>"                                                                         \
	"<nova:user uuid=\"5f2e0a1b9c8d4e7f8a6b5c4d3e2f1a0b\">alice</nova:user>"               \
	"<nova:project uuid=\"0123456789abcdef0123456789abcdef\">acme</nova:project>"          \
	"</nova:owner>"                                                                        \
	"<nova:root type=\"image\" uuid=\"x\"/>"                                               \
	"</nova:instance>"

static void nova_parses_full_instance_1_1(void **state)
{
	struct sm_identity id;

	assert_int_equal(nova_meta_parse(INSTANCE_1_1, strlen(INSTANCE_1_1), NOVA_NS_1_1, &id), 0);
	assert_string_equal(id.display_name, "web-01");
	assert_string_equal(id.flavor, "m1.small");
	assert_string_equal(id.user_id, "5f2e0a1b9c8d4e7f8a6b5c4d3e2f1a0b");
	assert_string_equal(id.user_name, "alice");
	assert_string_equal(id.project_id, "0123456789abcdef0123456789abcdef");
	assert_string_equal(id.project_name, "acme");
}

static void nova_parses_1_0_namespace_and_any_prefix(void **state)
{
	const char *xml = "<instance xmlns=\"http://openstack.org/xmlns/libvirt/nova/1.0\">"
			  "<name>old-cloud</name><owner><project uuid=\"p0\">legacy</project>"
			  "</owner></instance>";
	const char *prefixed = "<x:instance xmlns:x=\"http://openstack.org/xmlns/libvirt/nova/1.1\">"
			       "<x:name>other-prefix</x:name></x:instance>";
	struct sm_identity id;

	assert_int_equal(nova_meta_parse(xml, strlen(xml), NOVA_NS_1_0, &id), 0);
	assert_string_equal(id.display_name, "old-cloud");
	assert_string_equal(id.project_id, "p0");
	assert_string_equal(id.project_name, "legacy");
	/* 1.0 text is not 1.1. */
	assert_int_equal(nova_meta_parse(xml, strlen(xml), NOVA_NS_1_1, &id), -1);
	assert_int_equal(nova_meta_parse(prefixed, strlen(prefixed), NOVA_NS_1_1, &id), 0);
	assert_string_equal(id.display_name, "other-prefix");
}

static void nova_parses_unqualified_element_as_libvirt_returns_it(void **state)
{
	/* virDomainGetMetadata strips the namespace it selected on. */
	const char *xml = "<instance>\n  <name>plain</name>\n  <owner>\n    <user uuid=\"u\">bob"
			  "</user>\n  </owner>\n</instance>";
	struct sm_identity id;

	assert_int_equal(nova_meta_parse(xml, strlen(xml), NOVA_NS_1_1, &id), 0);
	assert_string_equal(id.display_name, "plain");
	assert_string_equal(id.user_id, "u");
	assert_string_equal(id.user_name, "bob");
	assert_int_equal(nova_meta_parse("<domain/>", 9, NOVA_NS_1_1, &id), -1);
}

static void nova_missing_fields_stay_empty(void **state)
{
	const char *xml = "<nova:instance xmlns:nova=\"http://openstack.org/xmlns/libvirt/nova/1.1\">"
			  "<nova:owner><nova:user>bob</nova:user></nova:owner>"
			  "<nova:flavor/></nova:instance>";
	struct sm_identity id;

	assert_int_equal(nova_meta_parse(xml, strlen(xml), NOVA_NS_1_1, &id), 0);
	assert_string_equal(id.display_name, "");
	assert_string_equal(id.user_name, "bob");
	assert_string_equal(id.user_id, "");
	assert_string_equal(id.project_id, "");
	assert_string_equal(id.project_name, "");
	assert_string_equal(id.flavor, "");
}

static void nova_ignores_look_alike_elements(void **state)
{
	/* Right names, wrong namespace, at the root and inside. */
	const char *wrong_root = "<nova:instance xmlns:nova=\"http://example.com/nova/1.1\">"
				 "<nova:name>fake</nova:name></nova:instance>";
	const char *mixed = "<nova:instance xmlns:nova=\"http://openstack.org/xmlns/libvirt/nova/1.1\""
			    " xmlns:e=\"urn:evil\"><e:name>evil</e:name>"
			    "<nova:name>real</nova:name><e:owner><nova:project uuid=\"no\">no"
			    "</nova:project></e:owner><nova:user uuid=\"misplaced\">x</nova:user>"
			    "</nova:instance>";
	struct sm_identity id;

	assert_int_equal(nova_meta_parse(wrong_root, strlen(wrong_root), NOVA_NS_1_1, &id), -1);
	assert_string_equal(id.display_name, "");
	assert_int_equal(nova_meta_parse(mixed, strlen(mixed), NOVA_NS_1_1, &id), 0);
	assert_string_equal(id.display_name, "real");
	assert_string_equal(id.project_id, "");
	assert_string_equal(id.user_id, "");
}

static void nova_rejects_malformed_and_dtd(void **state)
{
	const char *bad[] = {
		"",
		"<nova:instance xmlns:nova=\"http://openstack.org/xmlns/libvirt/nova/1.1\">",
		"<nova:instance xmlns:nova=\"http://openstack.org/xmlns/libvirt/nova/1.1\">"
		"<nova:name>&undefined;</nova:name></nova:instance>",
		"<?xml version=\"1.0\"?><!DOCTYPE lol [<!ENTITY a \"aaaaaaaaaa\">"
		"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
		"<nova:instance xmlns:nova=\"http://openstack.org/xmlns/libvirt/nova/1.1\">"
		"<nova:name>&b;</nova:name></nova:instance>",
		"<?xml version=\"1.0\"?><!DOCTYPE x SYSTEM \"http://127.0.0.1:1/x.dtd\">"
		"<nova:instance xmlns:nova=\"http://openstack.org/xmlns/libvirt/nova/1.1\"/>",
		"not xml at all",
		"<nova:instance xmlns:nova=\"http://openstack.org/xmlns/libvirt/nova/1.1\">"
		"<nova:name>\xff\xfe</nova:name></nova:instance>",
	};
	struct sm_identity id;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&id, 'x', sizeof(id));
		assert_int_equal(nova_meta_parse(bad[i], strlen(bad[i]), NOVA_NS_1_1, &id), -1);
		assert_string_equal(id.display_name, "");
	}
	assert_int_equal(nova_meta_parse(NULL, 0, NOVA_NS_1_1, &id), -1);
}

static void nova_hostile_names_bounded_and_sanitised(void **state)
{
	/* 10,000 'é' (2 bytes each) with a newline, tab and CR in front; an
	 * overlong project id; markup and quotes that must stay text. */
	size_t cap = 64 * 1024;
	char *xml = malloc(cap);
	size_t n = 0;
	struct sm_identity id;

	assert_non_null(xml);
	n += (size_t)snprintf(xml + n, cap - n,
			      "<nova:instance xmlns:nova=\"%s\"><nova:name>line1&#10;\t&#13;",
			      NOVA_NS_1_1);
	for (int i = 0; i < 10000; i++)
		n += (size_t)snprintf(xml + n, cap - n, "\xc3\xa9");
	n += (size_t)snprintf(xml + n, cap - n,
			      "</nova:name><nova:owner><nova:project uuid=\"%0100d\">"
			      "&lt;script&gt;\"';DROP</nova:project></nova:owner>"
			      "<nova:flavor name=\"a&#x7f;b\"/></nova:instance>",
			      7);
	assert_int_equal(nova_meta_parse(xml, n, NOVA_NS_1_1, &id), 0);
	assert_true(strlen(id.display_name) <= SM_NAME_MAX);
	assert_true(strlen(id.display_name) >= SM_NAME_MAX - 1);
	assert_true(sm_utf8_valid(id.display_name, strlen(id.display_name)));
	assert_int_equal(strncmp(id.display_name, "line1???\xc3\xa9", 10), 0);
	assert_int_equal(strlen(id.project_id), SM_ID_MAX);
	assert_string_equal(id.project_name, "<script>\"';DROP");
	assert_string_equal(id.flavor, "a?b");
	free(xml);
}

/* libvirt prints errors to stderr by default; the monitor silences them. */
static void quiet(void *opaque, virErrorPtr err)
{
}

static void nova_reads_metadata_through_libvirt(void **state)
{
	virConnectPtr conn;
	virDomainPtr dom;
	struct sm_identity id;
	const char *body_1_0 = "<instance><name>from-1.0</name></instance>";
	const char *body_1_1 = "<instance><name>from-1.1</name><owner><project uuid=\"pid\">proj"
			       "</project></owner></instance>";

	virSetErrorFunc(NULL, quiet);
	conn = virConnectOpen("test:///default");
	assert_non_null(conn);
	dom = virDomainLookupByName(conn, "test");
	assert_non_null(dom);

	/* Not an OpenStack domain: "none", not an error. */
	assert_int_equal(nova_meta_read(dom, &id), 0);
	assert_string_equal(id.display_name, "");

	assert_int_equal(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, body_1_0, "nova",
					      NOVA_NS_1_0, VIR_DOMAIN_AFFECT_LIVE),
			 0);
	assert_int_equal(nova_meta_read(dom, &id), 1);
	assert_string_equal(id.display_name, "from-1.0");

	/* 1.1 wins over 1.0 when both exist. */
	assert_int_equal(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, body_1_1, "nova",
					      NOVA_NS_1_1, VIR_DOMAIN_AFFECT_LIVE),
			 0);
	assert_int_equal(nova_meta_read(dom, &id), 1);
	assert_string_equal(id.display_name, "from-1.1");
	assert_string_equal(id.project_id, "pid");
	assert_string_equal(id.project_name, "proj");

	/* A domain that is gone is a libvirt failure, not "no metadata". */
	assert_int_equal(virDomainUndefine(dom), 0);
	assert_int_equal(virDomainDestroy(dom), 0);
	assert_int_equal(nova_meta_read(dom, &id), -1);

	virDomainFree(dom);
	virConnectClose(conn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nova_parses_full_instance_1_1),
		cmocka_unit_test(nova_parses_1_0_namespace_and_any_prefix),
		cmocka_unit_test(nova_parses_unqualified_element_as_libvirt_returns_it),
		cmocka_unit_test(nova_missing_fields_stay_empty),
		cmocka_unit_test(nova_ignores_look_alike_elements),
		cmocka_unit_test(nova_rejects_malformed_and_dtd),
		cmocka_unit_test(nova_hostile_names_bounded_and_sanitised),
		cmocka_unit_test(nova_reads_metadata_through_libvirt),
	};
	int rc;

	nova_meta_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	nova_meta_cleanup();
	return rc;
}
