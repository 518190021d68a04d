/*
 * nova_meta — a domain's tenant and instance identity, read from the Nova
 * metadata OpenStack writes into the libvirt domain XML (<nova:instance>,
 * namespace .../nova/1.1, older clouds .../nova/1.0). Everything in it is
 * untrusted tenant or operator input: every string comes out bounded to its
 * wire limit and valid UTF-8 without control characters.
 */
#ifndef NOVA_META_H
#define NOVA_META_H

#include <libvirt/libvirt.h>
#include <stddef.h>

#include "sm_wire.h"

#define NOVA_NS_1_1 "http://openstack.org/xmlns/libvirt/nova/1.1"
#define NOVA_NS_1_0 "http://openstack.org/xmlns/libvirt/nova/1.0"

/* Call once, from the main thread, before any thread parses (libxml2's
 * global state is not initialised lazily in a thread-safe way). */
void nova_meta_init(void);
/* Releases libxml2's global state at exit. */
void nova_meta_cleanup(void);

/*
 * Parses xml[0..len): an <instance> element as virDomainGetMetadata returns
 * it — unqualified (libvirt strips the namespace it selected on) or in
 * namespace `ns`; elements in any other namespace are ignored. On success fills *id (fields that are
 * absent stay empty) and returns 0. Returns -1, with *id zeroed, when the
 * text is not well-formed XML, has a DTD (entities are never expanded), or
 * its root is not such an <instance> element.
 */
int nova_meta_parse(const char *xml, size_t len, const char *ns, struct sm_identity *id);

/*
 * Reads the Nova identity of `dom` (borrowed): namespace 1.1, then 1.0.
 * Returns 1 and fills *id when found, 0 when the domain has no Nova
 * metadata (not an OpenStack instance; *id zeroed), -1 when libvirt failed
 * otherwise (the connection may be gone).
 */
int nova_meta_read(virDomainPtr dom, struct sm_identity *id);

#endif
