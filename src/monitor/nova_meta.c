/*
 * nova_meta — Nova identity from libvirt metadata (see nova_meta.h).
 * libxml2 is used rather than string matching because the element is
 * identified by namespace URI, not by prefix: Nova writes "nova:", but any
 * prefix (or a default namespace) means the same, and a look-alike element
 * in another namespace must not be taken for it.
 */
#include "nova_meta.h"

#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sm_utf8.h"

void nova_meta_init(void)
{
	xmlInitParser();
}

void nova_meta_cleanup(void)
{
	xmlCleanupParser();
}

/* True if `node` is an element named `name` in namespace `ns`, or in no
 * namespace: virDomainGetMetadata selects the element by namespace and then
 * returns it with the namespace stripped. An element in any other namespace
 * is a look-alike and never matches. */
static bool is_elem(const xmlNode *node, const char *ns, const char *name)
{
	if (node->type != XML_ELEMENT_NODE || strcmp((const char *)node->name, name) != 0)
		return false;
	return !node->ns || (node->ns->href && strcmp((const char *)node->ns->href, ns) == 0);
}

/* First child element of `parent` named `name` in `ns`, or NULL. */
static const xmlNode *child(const xmlNode *parent, const char *ns, const char *name)
{
	for (const xmlNode *c = parent->children; c; c = c->next)
		if (is_elem(c, ns, name))
			return c;
	return NULL;
}

/* Copies untrusted xmlChar text into a bounded, sanitised buffer. */
static void copy_text(char *dst, size_t size, const xmlChar *text)
{
	const char *s = text ? (const char *)text : "";

	sm_utf8_sanitize(dst, size, s, strlen(s));
}

/* The text content of `node` (NULL-safe) into dst. */
static void copy_content(char *dst, size_t size, const xmlNode *node)
{
	xmlChar *text;

	if (!node)
		return;
	text = xmlNodeGetContent(node);
	copy_text(dst, size, text);
	xmlFree(text);
}

/* An attribute of `node` (NULL-safe; unqualified, as Nova writes them) into dst. */
static void copy_attr(char *dst, size_t size, const xmlNode *node, const char *attr)
{
	xmlChar *text;

	if (!node)
		return;
	text = xmlGetNoNsProp(node, (const xmlChar *)attr);
	copy_text(dst, size, text);
	xmlFree(text);
}

int nova_meta_parse(const char *xml, size_t len, const char *ns, struct sm_identity *id)
{
	/* NONET: never fetch anything; no NOENT/DTDLOAD: entities are never
	 * substituted; errors are ours to report, not libxml2's to print. */
	const int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
	xmlDoc *doc = NULL;
	const xmlNode *root, *owner;
	int rc = -1;

	memset(id, 0, sizeof(*id));
	if (!xml || len == 0 || len > (size_t)INT32_MAX)
		goto out;
	doc = xmlReadMemory(xml, (int)len, "nova.xml", "UTF-8", opts);
	if (!doc || doc->intSubset || doc->extSubset)
		goto out;
	root = xmlDocGetRootElement(doc);
	if (!root || !is_elem(root, ns, "instance"))
		goto out;

	copy_content(id->display_name, sizeof(id->display_name), child(root, ns, "name"));
	copy_attr(id->flavor, sizeof(id->flavor), child(root, ns, "flavor"), "name");
	owner = child(root, ns, "owner");
	if (owner) {
		const xmlNode *user = child(owner, ns, "user");
		const xmlNode *project = child(owner, ns, "project");

		copy_attr(id->user_id, sizeof(id->user_id), user, "uuid");
		copy_content(id->user_name, sizeof(id->user_name), user);
		copy_attr(id->project_id, sizeof(id->project_id), project, "uuid");
		copy_content(id->project_name, sizeof(id->project_name), project);
	}
	rc = 0;
out:
	xmlFreeDoc(doc);
	return rc;
}

int nova_meta_read(virDomainPtr dom, struct sm_identity *id)
{
	static const char *const namespaces[] = {NOVA_NS_1_1, NOVA_NS_1_0};
	int rc = 0;

	memset(id, 0, sizeof(*id));
	for (size_t i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++) {
		char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, namespaces[i], 0);

		if (!xml) {
			/* "No metadata in this namespace" is the normal answer for a
			 * domain that OpenStack did not create; anything else is a
			 * failure of libvirt or of the connection. */
			if (virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_METADATA) {
				rc = -1;
				break;
			}
			continue;
		}
		rc = nova_meta_parse(xml, strlen(xml), namespaces[i], id) == 0 ? 1 : 0;
		free(xml);
		if (rc == 1)
			break;
	}
	virResetLastError();
	return rc;
}
