/*
 * sm_wire_fields.h — the one list of every wire record's fields. The
 * encoder (sm_wire.c), the decoder (sm_wire_decode.c) and the JSON printer
 * (sm_wire_json.c) are generated from these lists, so adding a field is one
 * line here (and a member in sm_wire.h); docs/PROTOCOL.md tells how. Only
 * the header every body starts with is written out by hand (it is the
 * envelope: its version is the build's, and its JSON leads with "kind").
 *
 * Each list is an X-macro, called with a macro X that receives, per field
 * and in wire order (map records: the order keys are sent; positional
 * records: the position):
 *
 *   X(type, member, key, json, lo, hi, presence, unit)
 *
 *   type      how the field travels and is printed, one of the types below
 *   member    the struct member that holds it (see SM_WIRE_ARG_<type>)
 *   key       its map key; for positional records its name in error messages
 *   json      its name in stackmon-sub's and the monitor's JSON
 *   lo, hi    what a decoder accepts: numbers in [lo, hi]; TEXT at most hi
 *             bytes; U32/U64 at most hi (SM_WIRE_UNBOUNDED: any); lists at
 *             most hi elements; else 0
 *   presence  REQ: a map without it is refused; a positional record must
 *             hold every REQ field (its OPT fields come last and may be cut
 *             off, as version 1 senders do with gen and since_us). OPT: may
 *             be absent (reads as 0, or unknown for F32), is always sent.
 *             OMIT0: optional, and neither sent nor printed when 0
 *   unit      the unit docs/PROTOCOL.md gives, "" for none: for catalogues of
 *             metrics built from these lists outside src/common
 *
 * Types (C member → wire → JSON):
 *   U32, U64   uint32_t / uint64_t → uint → number
 *   F32        double → float32, nil when NaN (unknown) → number or null
 *   F64        double → float64, never nil → number
 *   BOOL       bool → bool → true/false
 *   TEXT       char[hi + 1] → str of valid UTF-8 (sanitised when sent) → string
 *   UUID       uint8_t[16] → bin 16 → "xxxxxxxx-xxxx-…" text
 *   LOAD       double[3] → array[3+] of F32 → array
 *   DOM_FLAGS  uint32_t enum sm_domain_flags → uint → bool, bit SM_DOM_STALE
 *   MEM_BASIS  uint32_t enum sm_mem_basis → uint → its name ("guest_usable")
 *   KIND       enum sm_msg_kind → str kind name → string
 *   EVENT      enum sm_event_type → str "started"/"stopped" → string
 *   IDENTITY   bool has_<member> + struct sm_identity <member>
 *              → nil or positional SM_WIRE_IDENTITY_FIELDS → null or object
 *   NODE       struct sm_host_stats → map of SM_WIRE_NODE_FIELDS → object
 *   DROPPED    uint64_t[SM_DROP_COUNT] → map reason name → uint → object
 *   DISKS, NICS, LOSS, DOMAINS
 *              size_t n<member> + T *<member> → array of positional
 *              SM_WIRE_DISK/NIC/LOSS/DOMAIN_FIELDS records → array of objects
 */
#ifndef SM_WIRE_FIELDS_H
#define SM_WIRE_FIELDS_H

#include <stdint.h>

#include "sm_wire.h"

/* hi of an integer field that takes any uint64: 2^64, as UINT64_MAX has no
 * exact double. */
#define SM_WIRE_UNBOUNDED 18446744073709551616.0
#define SM_WIRE_RATE_MAX 1e18 /* no device moves an exabyte per second */
#define SM_WIRE_LOAD_MAX 1e9
#define SM_WIRE_INTERVAL_MAX 86400 /* seconds */

/* ---- positional records -------------------------------------------------- */

/* struct sm_identity: Nova metadata; nil on the wire when has_identity is false. */
#define SM_WIRE_IDENTITY_FIELDS(X) \
	X(TEXT, display_name, "display_name", "display_name", 0, SM_NAME_MAX, REQ, "") \
	X(TEXT, project_id, "project_id", "project_id", 0, SM_ID_MAX, REQ, "") \
	X(TEXT, project_name, "project_name", "project_name", 0, SM_NAME_MAX, REQ, "") \
	X(TEXT, user_id, "user_id", "user_id", 0, SM_ID_MAX, REQ, "") \
	X(TEXT, user_name, "user_name", "user_name", 0, SM_NAME_MAX, REQ, "") \
	X(TEXT, flavor, "flavor", "flavor", 0, SM_NAME_MAX, REQ, "")

/* struct sm_disk_stats: Disk, array[10+]. */
#define SM_WIRE_DISK_FIELDS(X) \
	X(TEXT, name, "name", "name", 0, SM_DEV_MAX, REQ, "") \
	X(U64, rd_req, "rd_req", "rd_req", 0, SM_WIRE_UNBOUNDED, REQ, "requests") \
	X(U64, rd_bytes, "rd_bytes", "rd_bytes", 0, SM_WIRE_UNBOUNDED, REQ, "bytes") \
	X(U64, wr_req, "wr_req", "wr_req", 0, SM_WIRE_UNBOUNDED, REQ, "requests") \
	X(U64, wr_bytes, "wr_bytes", "wr_bytes", 0, SM_WIRE_UNBOUNDED, REQ, "bytes") \
	X(U64, errors, "errors", "errors", 0, SM_WIRE_UNBOUNDED, REQ, "errors") \
	X(F32, rd_req_ps, "rd_req_ps", "rd_req_ps", 0, SM_WIRE_RATE_MAX, REQ, "requests/s") \
	X(F32, rd_bytes_ps, "rd_bytes_ps", "rd_bytes_ps", 0, SM_WIRE_RATE_MAX, REQ, "bytes/s") \
	X(F32, wr_req_ps, "wr_req_ps", "wr_req_ps", 0, SM_WIRE_RATE_MAX, REQ, "requests/s") \
	X(F32, wr_bytes_ps, "wr_bytes_ps", "wr_bytes_ps", 0, SM_WIRE_RATE_MAX, REQ, "bytes/s")

/* struct sm_nic_stats: Nic, array[13+]. */
#define SM_WIRE_NIC_FIELDS(X) \
	X(TEXT, name, "name", "name", 0, SM_DEV_MAX, REQ, "") \
	X(U64, rx_bytes, "rx_bytes", "rx_bytes", 0, SM_WIRE_UNBOUNDED, REQ, "bytes") \
	X(U64, rx_packets, "rx_packets", "rx_packets", 0, SM_WIRE_UNBOUNDED, REQ, "packets") \
	X(U64, rx_errors, "rx_errors", "rx_errors", 0, SM_WIRE_UNBOUNDED, REQ, "packets") \
	X(U64, rx_drops, "rx_drops", "rx_drops", 0, SM_WIRE_UNBOUNDED, REQ, "packets") \
	X(U64, tx_bytes, "tx_bytes", "tx_bytes", 0, SM_WIRE_UNBOUNDED, REQ, "bytes") \
	X(U64, tx_packets, "tx_packets", "tx_packets", 0, SM_WIRE_UNBOUNDED, REQ, "packets") \
	X(U64, tx_errors, "tx_errors", "tx_errors", 0, SM_WIRE_UNBOUNDED, REQ, "packets") \
	X(U64, tx_drops, "tx_drops", "tx_drops", 0, SM_WIRE_UNBOUNDED, REQ, "packets") \
	X(F32, rx_bytes_ps, "rx_bytes_ps", "rx_bytes_ps", 0, SM_WIRE_RATE_MAX, REQ, "bytes/s") \
	X(F32, rx_packets_ps, "rx_packets_ps", "rx_packets_ps", 0, SM_WIRE_RATE_MAX, REQ, \
	  "packets/s") \
	X(F32, tx_bytes_ps, "tx_bytes_ps", "tx_bytes_ps", 0, SM_WIRE_RATE_MAX, REQ, "bytes/s") \
	X(F32, tx_packets_ps, "tx_packets_ps", "tx_packets_ps", 0, SM_WIRE_RATE_MAX, REQ, \
	  "packets/s")

/* Fields of a brief Disk / Nic record (docs/PROTOCOL.md "Brief records"):
 * the name (nil) and the counters, the list's prefix before the rates. */
#define SM_WIRE_DISK_BRIEF_FIELDS 6
#define SM_WIRE_NIC_BRIEF_FIELDS 9

/* struct sm_domain_stats: DomainStats, array[16+] (version 1), array[18+]
 * (version 2: gen and since_us). */
#define SM_WIRE_DOMAIN_FIELDS(X) \
	X(UUID, uuid, "uuid", "uuid", 0, 0, REQ, "") \
	X(TEXT, name, "name", "name", 0, SM_NAME_MAX, REQ, "") \
	X(U32, state, "state", "state", 0, 255, REQ, "") \
	X(DOM_FLAGS, flags, "flags", "stale", 0, UINT32_MAX, REQ, "") \
	X(IDENTITY, identity, "identity", "identity", 0, 0, REQ, "") \
	X(U32, vcpus, "vcpus", "vcpus", 0, 65536, REQ, "vCPUs") \
	X(U64, cpu_time_ns, "cpu_time_ns", "cpu_time_ns", 0, SM_WIRE_UNBOUNDED, REQ, "ns") \
	X(F32, cpu_pct, "cpu_pct", "cpu_pct", 0, 100, REQ, "%") \
	X(F32, steal_pct, "steal_pct", "steal_pct", 0, 100, REQ, "%") \
	X(LOAD, load, "load", "load", 0, SM_WIRE_LOAD_MAX, REQ, "vCPUs") \
	X(MEM_BASIS, mem_basis, "mem_basis", "mem_basis", 0, 255, REQ, "") \
	X(U64, mem_total_kib, "mem_total_kib", "mem_total_kib", 0, SM_WIRE_UNBOUNDED, REQ, "KiB") \
	X(U64, mem_used_kib, "mem_used_kib", "mem_used_kib", 0, SM_WIRE_UNBOUNDED, REQ, "KiB") \
	X(F32, mem_pct, "mem_pct", "mem_pct", 0, 100, REQ, "%") \
	X(DISKS, disks, "disks", "disks", 0, SM_WIRE_MAX_DEVICES, REQ, "") \
	X(NICS, nics, "nics", "nics", 0, SM_WIRE_MAX_DEVICES, REQ, "") \
	X(U32, gen, "gen", "gen", 0, 255, OPT, "") \
	X(U64, since_us, "since_us", "since_us", 0, SM_WIRE_UNBOUNDED, OPT, "us")

/* struct sm_publisher_loss: one row of a collector's "loss", array[4+]. */
#define SM_WIRE_LOSS_FIELDS(X) \
	X(TEXT, host, "host", "host", 0, SM_HOST_MAX, REQ, "") \
	X(KIND, kind, "kind", "kind", 0, 0, REQ, "") \
	X(U64, received, "received", "received", 0, SM_WIRE_UNBOUNDED, REQ, "messages") \
	X(U64, lost, "lost", "lost", 0, SM_WIRE_UNBOUNDED, REQ, "messages")

/* ---- map records ------------------------------------------------------------ */

/* struct sm_host_stats: a stats body's "node". */
#define SM_WIRE_NODE_FIELDS(X) \
	X(U32, ncpus, "ncpus", "ncpus", 0, 1u << 20, REQ, "CPUs") \
	X(F32, cpu_pct, "cpu_pct", "cpu_pct", 0, 100, REQ, "%") \
	X(LOAD, load, "load", "load", 0, SM_WIRE_LOAD_MAX, REQ, "") \
	X(U64, mem_total_kib, "mem_total_kib", "mem_total_kib", 0, SM_WIRE_UNBOUNDED, REQ, "KiB") \
	X(U64, mem_used_kib, "mem_used_kib", "mem_used_kib", 0, SM_WIRE_UNBOUNDED, REQ, "KiB") \
	X(F32, mem_pct, "mem_pct", "mem_pct", 0, 100, REQ, "%") \
	X(BOOL, libvirt_ok, "libvirt_ok", "libvirt_ok", 0, 0, REQ, "") \
	X(F32, libvirt_latency_ms, "libvirt_latency_ms", "libvirt_latency_ms", 0, 1e9, OPT, "ms") \
	X(U32, domains_stale, "domains_stale", "domains_stale", 0, SM_WIRE_MAX_DOMAINS, OPT, \
	  "domains")

/* struct sm_aggregate_domain_stats: a stats body after the header. */
#define SM_WIRE_STATS_FIELDS(X) \
	X(F64, interval, "interval", "interval", 0, SM_WIRE_INTERVAL_MAX, REQ, "s") \
	X(NODE, host, "node", "node", 0, 0, REQ, "") \
	X(DOMAINS, domains, "domains", "domains", 0, SM_WIRE_MAX_DOMAINS, REQ, "")

/* struct sm_domain_event: an event body after the header. */
#define SM_WIRE_EVENT_FIELDS(X) \
	X(EVENT, type, "event", "event", 0, 0, REQ, "") \
	X(UUID, uuid, "uuid", "uuid", 0, 0, REQ, "") \
	X(TEXT, name, "name", "name", 0, SM_NAME_MAX, REQ, "") \
	X(IDENTITY, identity, "identity", "identity", 0, 0, OPT, "") \
	X(TEXT, reason, "reason", "reason", 0, SM_REASON_MAX, OPT, "")

/* struct sm_heartbeat: an hb body after the header. */
#define SM_WIRE_HEARTBEAT_FIELDS(X) \
	X(F64, interval, "interval", "interval", 0, SM_WIRE_INTERVAL_MAX, REQ, "s") \
	X(U64, max_frame, "max_frame", "max_frame", 0, SM_WIRE_UNBOUNDED, OMIT0, "bytes") \
	X(U64, resync, "resync", "resync", 0, SM_WIRE_UNBOUNDED, OMIT0, "")

/* struct sm_collector_stats: a collector body after the header. */
#define SM_WIRE_COLLECTOR_FIELDS(X) \
	X(F64, interval, "interval", "interval", 0, SM_WIRE_INTERVAL_MAX, REQ, "s") \
	X(U64, frames_in, "frames_in", "frames_in", 0, SM_WIRE_UNBOUNDED, OPT, "messages") \
	X(U64, bytes_in, "bytes_in", "bytes_in", 0, SM_WIRE_UNBOUNDED, OPT, "bytes") \
	X(U64, frames_out, "frames_out", "frames_out", 0, SM_WIRE_UNBOUNDED, OPT, "messages") \
	X(U64, bytes_out, "bytes_out", "bytes_out", 0, SM_WIRE_UNBOUNDED, OPT, "bytes") \
	X(U64, frames_up, "frames_up", "frames_up", 0, SM_WIRE_UNBOUNDED, OPT, "messages") \
	X(DROPPED, dropped, "dropped", "dropped", 0, 0, OPT, "messages") \
	X(U64, lost, "lost", "lost", 0, SM_WIRE_UNBOUNDED, OPT, "messages") \
	X(U64, origin_unknown, "origin_unknown", "origin_unknown", 0, SM_WIRE_UNBOUNDED, OPT, \
	  "messages") \
	X(U32, publishers, "publishers", "publishers", 0, UINT32_MAX, OPT, "senders") \
	X(TEXT, upstream, "upstream", "upstream", 0, SM_ENDPOINT_MAX, OPT, "") \
	X(LOSS, loss, "loss", "loss", 0, SM_WIRE_MAX_PUBLISHERS, OPT, "")

/* ---- reaching a field ------------------------------------------------------ */

/* SM_WIRE_ARG_<type>(rec, member): the argument list that hands a field of
 * *rec to a function for its type: its address, preceded by the address of
 * its presence flag (IDENTITY) or element count (lists). */
#define SM_WIRE_ARG_U32(rec, m) &(rec)->m
#define SM_WIRE_ARG_U64(rec, m) &(rec)->m
#define SM_WIRE_ARG_F32(rec, m) &(rec)->m
#define SM_WIRE_ARG_F64(rec, m) &(rec)->m
#define SM_WIRE_ARG_BOOL(rec, m) &(rec)->m
#define SM_WIRE_ARG_TEXT(rec, m) (rec)->m
#define SM_WIRE_ARG_UUID(rec, m) (rec)->m
#define SM_WIRE_ARG_LOAD(rec, m) (rec)->m
#define SM_WIRE_ARG_DOM_FLAGS(rec, m) &(rec)->m
#define SM_WIRE_ARG_MEM_BASIS(rec, m) &(rec)->m
#define SM_WIRE_ARG_KIND(rec, m) &(rec)->m
#define SM_WIRE_ARG_EVENT(rec, m) &(rec)->m
#define SM_WIRE_ARG_IDENTITY(rec, m) &(rec)->has_##m, &(rec)->m
#define SM_WIRE_ARG_NODE(rec, m) &(rec)->m
#define SM_WIRE_ARG_DROPPED(rec, m) (rec)->m
#define SM_WIRE_ARG_DISKS(rec, m) &(rec)->n##m, &(rec)->m
#define SM_WIRE_ARG_NICS(rec, m) &(rec)->n##m, &(rec)->m
#define SM_WIRE_ARG_LOSS(rec, m) &(rec)->n##m, &(rec)->m
#define SM_WIRE_ARG_DOMAINS(rec, m) &(rec)->n##m, &(rec)->m

/* SM_WIRE_COUNT(list): how many fields a list has (a positional record's N). */
#define SM_WIRE_COUNT_ONE(T, m, key, json, lo, hi, pres, unit) +1
#define SM_WIRE_COUNT(list) (0 list(SM_WIRE_COUNT_ONE))

#endif
