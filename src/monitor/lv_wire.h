/*
 * lv_wire — the few messages of libvirt's remote protocol that the stats
 * client (lv_rpc) exchanges with libvirtd: calls encoded, replies decoded.
 *
 * The protocol is ONC XDR over a stream socket (libvirt's remote_protocol.x
 * and virnetprotocol.x, stable on the wire: clients and daemons of other
 * versions talk to each other). Each message is a 4-byte big-endian length
 * (itself included), a header of six 32-bit words and an XDR body. Only the
 * read-only statistics calls of the per-domain path are here; everything
 * else the monitor asks of libvirt goes through libvirt's own library.
 *
 * Pure: no I/O. Every decoder checks lengths against what it was given, so
 * a reply that is cut short or lies about its sizes is refused, never read
 * past its end.
 */
#ifndef LV_WIRE_H
#define LV_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LV_WIRE_PROGRAM		 0x20008086u /* REMOTE_PROGRAM */
#define LV_WIRE_VERSION		 1u
#define LV_WIRE_HEADER_LEN	 28    /* length word + prog, vers, proc, type, serial, status */
#define LV_WIRE_MAX_REPLY	 65536 /* the largest reply of these calls is ~12 KiB */
#define LV_WIRE_MAX_MEMORY_STATS 32    /* stats asked of virDomainMemoryStats; libvirt has 16 */

enum lv_wire_proc {
	LV_PROC_CONNECT_OPEN = 1,
	LV_PROC_DOMAIN_GET_INFO = 16,
	LV_PROC_DOMAIN_BLOCK_STATS = 64,
	LV_PROC_DOMAIN_INTERFACE_STATS = 65,
	LV_PROC_AUTH_LIST = 66,
	LV_PROC_DOMAIN_MEMORY_STATS = 159,
};

enum lv_wire_type { LV_TYPE_CALL = 0, LV_TYPE_REPLY = 1, LV_TYPE_MESSAGE = 2 };
enum lv_wire_status { LV_STATUS_OK = 0, LV_STATUS_ERROR = 1 };

#define LV_WIRE_AUTH_NONE  0 /* REMOTE_AUTH_NONE */
#define LV_WIRE_CONNECT_RO 1 /* VIR_CONNECT_RO */

/* A domain as the protocol names it (remote_nonnull_domain). */
struct lv_wire_domain {
	const char *name;
	const uint8_t *uuid; /* 16 bytes */
	int id;
};

/* ---- Calls ---- */

/* Each encoder writes one whole message (length word included) into
 * out[0..cap) and returns its length, or 0 when it does not fit or a string
 * is longer than the protocol allows. */
size_t lv_wire_auth_list(uint8_t *out, size_t cap, uint32_t serial);
size_t lv_wire_connect_open(uint8_t *out, size_t cap, uint32_t serial, const char *name,
			    uint32_t flags);
size_t lv_wire_get_info(uint8_t *out, size_t cap, uint32_t serial,
			const struct lv_wire_domain *dom);
/* proc: LV_PROC_DOMAIN_BLOCK_STATS or LV_PROC_DOMAIN_INTERFACE_STATS. */
size_t lv_wire_device_stats(uint8_t *out, size_t cap, uint32_t serial, int proc,
			    const struct lv_wire_domain *dom, const char *device);
size_t lv_wire_memory_stats(uint8_t *out, size_t cap, uint32_t serial,
			    const struct lv_wire_domain *dom, uint32_t max_stats);

/* ---- Replies ---- */

struct lv_wire_header {
	uint32_t length; /* whole message, length word included */
	uint32_t prog, vers;
	int32_t proc, type;
	uint32_t serial;
	int32_t status;
};

/* The length a message announces in its first 4 bytes (p has at least 4). */
uint32_t lv_wire_length(const uint8_t *p);

/* Parses the header of the whole message msg[0..len); 0, or -1 when it is
 * shorter than a header or its length word does not say len. */
int lv_wire_header_parse(const uint8_t *msg, size_t len, struct lv_wire_header *h);

/* Bodies: body[0..len) is what follows the header. Each returns 0, or -1
 * when the body is malformed (short, overlong, counts out of range). */
struct lv_wire_info {
	uint32_t state, nr_virt_cpu;
	uint64_t max_mem_kib, memory_kib, cpu_time_ns;
};
int lv_wire_info_parse(const uint8_t *body, size_t len, struct lv_wire_info *out);

struct lv_wire_block {
	int64_t rd_req, rd_bytes, wr_req, wr_bytes, errs;
};
int lv_wire_block_parse(const uint8_t *body, size_t len, struct lv_wire_block *out);

struct lv_wire_iface {
	int64_t rx_bytes, rx_packets, rx_errs, rx_drop, tx_bytes, tx_packets, tx_errs, tx_drop;
};
int lv_wire_iface_parse(const uint8_t *body, size_t len, struct lv_wire_iface *out);

struct lv_wire_memory {
	unsigned n;
	struct {
		int32_t tag;
		uint64_t val;
	} stat[LV_WIRE_MAX_MEMORY_STATS];
};
int lv_wire_memory_parse(const uint8_t *body, size_t len, struct lv_wire_memory *out);

/* AUTH_LIST's reply: whether REMOTE_AUTH_NONE is offered (or nothing is:
 * the daemon then needs no authentication step). */
int lv_wire_auth_none_parse(const uint8_t *body, size_t len, bool *none_ok);

/* An error reply (remote_error): libvirt's error code (virErrorNumber) and
 * its message, cut to fit msg[0..size) ("" when it has none; msg may be
 * NULL when size is 0). */
int lv_wire_error_parse(const uint8_t *body, size_t len, int *code, char *msg, size_t size);

#endif
