/*
 * dom_devices — disk and interface targets from domain XML (see
 * dom_devices.h). A disk without a <source> (an empty CD-ROM drive) is left
 * out: libvirt has no statistics for it, and asking every tick would fail
 * every tick.
 */
#include "dom_devices.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sm_utf8.h"

static bool named(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *child(const xmlNode *parent, const char *name)
{
	for (const xmlNode *c = parent->children; c; c = c->next)
		if (named(c, name))
			return c;
	return NULL;
}

/* Appends the target dev of `dev` (if any) to *arr; 0 or -1 on allocation failure. */
static int add_target(const xmlNode *dev, char (**arr)[SM_DEV_MAX + 1], size_t *n)
{
	const xmlNode *target = child(dev, "target");
	xmlChar *name;
	char(*grown)[SM_DEV_MAX + 1];

	if (!target || *n >= SM_WIRE_MAX_DEVICES)
		return 0;
	name = xmlGetNoNsProp(target, (const xmlChar *)"dev");
	if (!name || !*name) {
		xmlFree(name);
		return 0;
	}
	grown = realloc(*arr, (*n + 1) * sizeof(**arr));
	if (!grown) {
		xmlFree(name);
		return -1;
	}
	*arr = grown;
	sm_utf8_sanitize((*arr)[*n], SM_DEV_MAX + 1, (const char *)name, strlen((char *)name));
	(*n)++;
	xmlFree(name);
	return 0;
}

int dom_devices_parse(const char *xml, size_t len, struct dom_devices *d)
{
	const int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
	xmlDoc *doc = NULL;
	const xmlNode *root, *devices;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	if (!xml || len == 0 || len > (size_t)INT32_MAX)
		goto out;
	doc = xmlReadMemory(xml, (int)len, "domain.xml", "UTF-8", opts);
	if (!doc || doc->intSubset)
		goto out;
	root = xmlDocGetRootElement(doc);
	if (!root || !named(root, "domain"))
		goto out;
	devices = child(root, "devices");
	for (const xmlNode *c = devices ? devices->children : NULL; c; c = c->next) {
		if (named(c, "disk") && child(c, "source")) {
			if (add_target(c, &d->disks, &d->ndisks) < 0)
				goto out;
		} else if (named(c, "interface")) {
			if (add_target(c, &d->nics, &d->nnics) < 0)
				goto out;
		}
	}
	rc = 0;
out:
	if (rc < 0)
		dom_devices_clear(d);
	xmlFreeDoc(doc);
	return rc;
}

void dom_devices_clear(struct dom_devices *d)
{
	free(d->disks);
	free(d->nics);
	memset(d, 0, sizeof(*d));
}

void dom_devices_drop_disk(struct dom_devices *d, size_t i)
{
	if (i >= d->ndisks)
		return;
	memmove(d->disks[i], d->disks[i + 1], (d->ndisks - i - 1) * sizeof(*d->disks));
	d->ndisks--;
}

void dom_devices_drop_nic(struct dom_devices *d, size_t i)
{
	if (i >= d->nnics)
		return;
	memmove(d->nics[i], d->nics[i + 1], (d->nnics - i - 1) * sizeof(*d->nics));
	d->nnics--;
}
