/*
 * sm_wire — StackMon's wire protocol (docs/PROTOCOL.md is the contract; this
 * is its C implementation). Every ZeroMQ message is two frames: a topic
 * "<kind>/<host>/" and a msgpack body. The seed's DomainStats and
 * AggregateDomainStats are the plain structs below (sm_domain_stats,
 * sm_aggregate_domain_stats).
 *
 * Each record's fields are listed once, in sm_wire_fields.h; encoding,
 * decoding and JSON are generated from those lists. Encoding uses
 * msgpack-c's packer. Decoding uses our own bounds-checked reader
 * (sm_mpread): every length and count is checked against the bytes that
 * remain before anything is allocated, so a hostile frame can neither crash
 * a daemon nor make it allocate more than a small multiple of its own size.
 */
#ifndef SM_WIRE_H
#define SM_WIRE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SM_WIRE_VERSION 2 /* bumped only for incompatible changes */
/* The oldest version a decoder still takes: a version 1 body is a version 2
 * body whose domain records are all full (docs/PROTOCOL.md "Version 1"). */
#define SM_WIRE_VERSION_MIN 1

/* String limits, in bytes of UTF-8 (without the NUL). */
#define SM_HOST_MAX 253    /* host / collector name: [A-Za-z0-9._-] only */
#define SM_NAME_MAX 255    /* libvirt name, display name, project/user name, flavor */
#define SM_ID_MAX 64       /* project / user ids */
#define SM_DEV_MAX 63      /* disk target / interface name */
#define SM_REASON_MAX 63   /* event reason */
#define SM_ENDPOINT_MAX 255

/* Count limits: a decoder refuses more than these. */
#define SM_WIRE_MAX_DOMAINS 16384        /* domains in one stats frame */
#define SM_WIRE_MAX_DEVICES 256          /* disks, or interfaces, of one domain */
#define SM_WIRE_MAX_FRAME_DEVICES 65536  /* disks + interfaces in one frame */
#define SM_WIRE_MAX_PUBLISHERS 65536     /* rows in a collector's loss table */
#define SM_WIRE_MAX_DEPTH 16             /* nesting of msgpack containers */
#define SM_WIRE_FRAME_MAX_DEFAULT (8u << 20) /* default body size limit: 8 MiB */

enum sm_msg_kind {
	SM_KIND_STATS = 1,     /* AggregateDomainStats, once per monitor interval */
	SM_KIND_EVENT = 2,     /* domain lifecycle: started / stopped */
	SM_KIND_HEARTBEAT = 3, /* collector heartbeat */
	SM_KIND_COLLECTOR = 4, /* collector self-monitoring counters */
};

/* Common header of every body. */
struct sm_header {
	uint32_t version;          /* SM_WIRE_VERSION */
	enum sm_msg_kind kind;     /* must agree with the topic */
	char host[SM_HOST_MAX + 1]; /* sending monitor host / collector name */
	double time;               /* wall clock, seconds since epoch, sub-second */
	uint64_t seq;              /* per (publisher epoch, kind), +1 per message */
	uint64_t epoch;            /* random per publisher process start; a new epoch restarts seq */
};

/* Tenant and instance identity from OpenStack Nova metadata. */
struct sm_identity {
	char display_name[SM_NAME_MAX + 1]; /* instance display name */
	char project_id[SM_ID_MAX + 1];     /* tenant id */
	char project_name[SM_NAME_MAX + 1]; /* tenant name */
	char user_id[SM_ID_MAX + 1];
	char user_name[SM_NAME_MAX + 1];
	char flavor[SM_NAME_MAX + 1];
};

/* How mem_used was measured (docs/PROTOCOL.md "Memory basis"). */
enum sm_mem_basis {
	SM_MEM_NONE = 0,         /* nothing known: mem_pct is unknown */
	SM_MEM_GUEST_USABLE = 1, /* guest's view: available - usable (balloon stats) */
	SM_MEM_GUEST_UNUSED = 2, /* guest's view: available - unused (older guests) */
	SM_MEM_HOST_RSS = 3,     /* host's view: QEMU process RSS / current allocation */
	SM_MEM_HOST_ALLOC = 4,   /* host's view: current balloon / maximum (no better source) */
};

/* Flags of one domain in a stats frame. */
enum sm_domain_flags {
	SM_DOM_STALE = 1u << 0, /* libvirt did not answer this tick: values are the last known */
	SM_DOM_NOVA = 1u << 1,  /* identity came from Nova metadata */
	/* A brief record (docs/PROTOCOL.md "Brief records"): names and identity
	 * left out, counters as deltas since the domain's full record number
	 * `gen`, rates left for the receiver to compute (sm_brief_expand). */
	SM_DOM_BRIEF = 1u << 2,
};

/* One block device. Counters are cumulative since the device appeared;
 * *_ps are per-second rates over the last interval (NaN = unknown). */
struct sm_disk_stats {
	char name[SM_DEV_MAX + 1];
	uint64_t rd_req, rd_bytes, wr_req, wr_bytes, errors;
	double rd_req_ps, rd_bytes_ps, wr_req_ps, wr_bytes_ps;
};

/* One network interface. */
struct sm_nic_stats {
	char name[SM_DEV_MAX + 1];
	uint64_t rx_bytes, rx_packets, rx_errors, rx_drops;
	uint64_t tx_bytes, tx_packets, tx_errors, tx_drops;
	double rx_bytes_ps, rx_packets_ps, tx_bytes_ps, tx_packets_ps;
};

/*
 * DomainStats (seed): what one DomainStatTracker reports for one domain.
 * Floats use NaN for "unknown this tick" (sent as msgpack nil). The disks
 * and nics arrays belong to whoever filled the struct (decoder: freed by
 * sm_message_clear).
 */
struct sm_domain_stats {
	uint8_t uuid[16];              /* identity: stable across renames and hosts */
	char name[SM_NAME_MAX + 1];    /* libvirt domain name */
	uint32_t state;                /* virDomainState */
	uint32_t flags;                /* enum sm_domain_flags */
	bool has_identity;             /* identity is meaningful (Nova metadata found) */
	struct sm_identity identity;
	uint32_t vcpus;                /* number of vCPUs */
	uint64_t cpu_time_ns;          /* libvirt cpu.time: the whole QEMU process */
	double cpu_pct;                /* 0..100, share of the domain's own vCPUs */
	double steal_pct;              /* 0..100, vCPU time spent waiting for a host CPU */
	double load[3];                /* 1/5/15-min damped averages, in vCPUs busy or waiting */
	uint32_t mem_basis;            /* enum sm_mem_basis */
	uint64_t mem_total_kib;        /* denominator of mem_pct */
	uint64_t mem_used_kib;         /* numerator of mem_pct */
	double mem_pct;                /* 0..100 */
	size_t ndisks;
	struct sm_disk_stats *disks;
	size_t nnics;
	struct sm_nic_stats *nics;
	uint32_t gen;                  /* number (0-255) of the domain's full record this one is,
					* or (brief) refers to */
	uint64_t since_us;             /* brief: µs of samples since that full record; full: 0 */
};

/* The compute node itself (dom0 / hypervisor host). */
struct sm_host_stats {
	uint32_t ncpus;         /* online CPUs */
	double cpu_pct;         /* 0..100 of all CPUs */
	double load[3];         /* the node's own /proc/loadavg */
	uint64_t mem_total_kib;
	uint64_t mem_used_kib;  /* total - available */
	double mem_pct;         /* 0..100 */
	bool libvirt_ok;        /* connection to libvirt is up */
	double libvirt_latency_ms; /* slowest libvirt call this tick */
	uint32_t domains_stale; /* domains flagged SM_DOM_STALE */
};

/* AggregateDomainStats (seed): one monitor's report for one interval. */
struct sm_aggregate_domain_stats {
	double interval;          /* seconds between reports */
	struct sm_host_stats host;
	size_t ndomains;
	struct sm_domain_stats *domains; /* decoder-owned when decoded */
};

enum sm_event_type {
	SM_EVENT_STARTED = 1,
	SM_EVENT_STOPPED = 2,
};

/* Domain lifecycle control message. */
struct sm_domain_event {
	enum sm_event_type type;
	uint8_t uuid[16];
	char name[SM_NAME_MAX + 1];
	bool has_identity;
	struct sm_identity identity;
	char reason[SM_REASON_MAX + 1]; /* e.g. "booted", "destroyed", "shutdown", "crashed", "migrated", "vanished" */
};

/* Collector heartbeat. */
struct sm_heartbeat {
	double interval;    /* seconds until the next one */
	uint64_t max_frame; /* largest body the collector relays; 0 = not said (optional) */
	uint64_t resync;    /* changes when a subscriber for frames joins here or above
			       (docs/PROTOCOL.md "Brief records"); 0 = not said */
};

/* One sender seen by a collector, for loss accounting per hop. */
struct sm_publisher_loss {
	char host[SM_HOST_MAX + 1];
	enum sm_msg_kind kind;
	uint64_t received;
	uint64_t lost; /* gaps in seq */
};

/* Drop reasons a collector counts. */
enum sm_drop_reason {
	SM_DROP_MALFORMED = 0, /* envelope failed validation */
	SM_DROP_VERSION,       /* incompatible protocol version */
	SM_DROP_TOO_BIG,       /* over the size limit */
	SM_DROP_HWM_OUT,       /* fan-out queue full (slow consumer) */
	SM_DROP_HWM_UP,        /* upstream queue full */
	SM_DROP_HOST_MISMATCH, /* the sender's key may not speak for the frame's host */
	SM_DROP_REFUSED,       /* CURVE handshakes refused (connections, not frames) */
	SM_DROP_ORIGIN_MISMATCH, /* relayed with an origin identity that may not speak for the host */
	SM_DROP_NO_SUBSCRIBER,   /* relayed while no fan-out subscription matched: nobody got it */
	SM_DROP_COUNT
};

/* Key names of the collector's "dropped" map, indexed by sm_drop_reason. */
extern const char *const sm_drop_reason_names[SM_DROP_COUNT];

/* Collector self-monitoring counters. */
struct sm_collector_stats {
	double interval;
	uint64_t frames_in, bytes_in, frames_out, bytes_out, frames_up;
	uint64_t dropped[SM_DROP_COUNT];
	uint64_t lost; /* sum of seq gaps over all senders */
	uint64_t origin_unknown; /* relayed frames accepted whose origin identity is not in our allow list */
	uint32_t publishers; /* senders currently seen */
	char upstream[SM_ENDPOINT_MAX + 1]; /* endpoint in use, "" for a master */
	size_t nloss;
	struct sm_publisher_loss *loss; /* per sender; decoder-owned when decoded */
};

/* Any decoded message. */
struct sm_message {
	struct sm_header hdr;
	union {
		struct sm_aggregate_domain_stats stats;
		struct sm_domain_event event;
		struct sm_heartbeat hb;
		struct sm_collector_stats collector;
	} u;
};

/* Why a frame was refused. Values are stable: they appear in logs and counters. */
enum sm_wire_code {
	SM_WIRE_OK = 0,
	SM_WIRE_E_TOO_BIG,    /* body over the configured size limit */
	SM_WIRE_E_TRUNCATED,  /* msgpack ends before the object does */
	SM_WIRE_E_GARBAGE,    /* not msgpack, reserved byte, or bytes after the object */
	SM_WIRE_E_TYPE,       /* a field has the wrong msgpack type */
	SM_WIRE_E_MISSING,    /* a required field is absent */
	SM_WIRE_E_COUNT,      /* an array/map count over its limit or over the bytes left */
	SM_WIRE_E_STRING,     /* a string over its length limit */
	SM_WIRE_E_UTF8,       /* a string that is not valid UTF-8 */
	SM_WIRE_E_NOT_FINITE, /* NaN or infinity where a number is expected */
	SM_WIRE_E_RANGE,      /* a value outside its documented range */
	SM_WIRE_E_VERSION,    /* a protocol version this build does not speak */
	SM_WIRE_E_KIND,       /* unknown kind, or kind disagreeing with the topic */
	SM_WIRE_E_TOPIC,      /* topic malformed or disagreeing with the body */
	SM_WIRE_E_DEPTH,      /* containers nested too deep */
	SM_WIRE_E_NOMEM,      /* allocation failed */
	SM_WIRE_CODE_COUNT
};

/* Error detail: the code and a one-line message naming the field. */
struct sm_wire_error {
	enum sm_wire_code code;
	char msg[160];
};

/* Short stable name of a code ("too_big", "utf8", …), for logs and counters. */
const char *sm_wire_code_name(enum sm_wire_code code);
/* "stats", "event", "hb", "collector"; NULL for an unknown kind. */
const char *sm_wire_kind_name(enum sm_msg_kind kind);

/* ---- Topics ---------------------------------------------------------- */

#define SM_TOPIC_MAX (16 + SM_HOST_MAX)

/* True if `host` is usable on the wire: 1..SM_HOST_MAX bytes of [A-Za-z0-9._-]. */
bool sm_wire_host_valid(const char *host);
/* Writes "<kind>/<host>/" into buf; returns its length, or 0 if host is invalid. */
size_t sm_wire_topic(enum sm_msg_kind kind, const char *host, char *buf, size_t bufsize);
/* Parses a topic; on success fills kind and host (NUL-terminated). */
int sm_wire_topic_parse(const void *topic, size_t len, enum sm_msg_kind *kind,
			char host[SM_HOST_MAX + 1], struct sm_wire_error *err);

/* ---- Encoding -------------------------------------------------------- */

/* Encodes a whole message into `out` (cleared first). Strings longer than
 * their limit or not valid UTF-8 are sanitised (sm_utf8_sanitize), so the
 * output always decodes. Returns 0, or -1 on allocation failure. */
int sm_wire_encode(const struct sm_message *m, msgpack_sbuffer *out);

/* Streaming form for a publisher that does not hold all domains in one
 * array: begin writes the header and host stats and opens the domain array
 * of `ndomains` entries; then exactly ndomains calls to pack_domain. */
void sm_wire_pack_stats_begin(msgpack_packer *pk, const struct sm_header *h, double interval,
			      const struct sm_host_stats *host, size_t ndomains);
void sm_wire_pack_domain(msgpack_packer *pk, const struct sm_domain_stats *d);
/* The brief form of `d` (docs/PROTOCOL.md "Brief records"): `base` is the
 * domain's last full record as sent (its counters and devices), gen that
 * record's number and since_us the µs of samples from it to `d`. The caller
 * has checked that every counter of d is at least base's and that the
 * device lists have the same length. */
void sm_wire_pack_domain_brief(msgpack_packer *pk, const struct sm_domain_stats *d,
			       const struct sm_domain_stats *base, uint32_t gen, uint64_t since_us);

/* ---- Decoding -------------------------------------------------------- */

/* Decodes a body of `len` bytes. max_frame is the size limit (0 = default).
 * On success returns 0 and fills *m (release with sm_message_clear). On
 * failure returns -1, fills *err, and leaves *m cleared. */
int sm_wire_decode(const void *body, size_t len, size_t max_frame, struct sm_message *m,
		   struct sm_wire_error *err);
/* Validates the whole body's msgpack structure and reads only the header,
 * without allocating: what a collector needs to forward a frame. */
int sm_wire_peek_header(const void *body, size_t len, size_t max_frame, struct sm_header *h,
			struct sm_wire_error *err);
/* Reads the header only and stops once its six fields are in: a relay's
 * check, whose cost does not grow with the body when the header comes first
 * (as every StackMon encoder writes it). The body after the header is not
 * looked at: consumers decode it whole. Same errors as sm_wire_peek_header
 * for what it reads. */
int sm_wire_peek_envelope(const void *body, size_t len, size_t max_frame, struct sm_header *h,
			  struct sm_wire_error *err);
/* Decodes topic and body together and checks that they agree. */
int sm_wire_decode_frames(const void *topic, size_t topic_len, const void *body, size_t len,
			  size_t max_frame, struct sm_message *m, struct sm_wire_error *err);
/* Frees what the decoder allocated and zeroes *m. Safe on a zeroed message. */
void sm_message_clear(struct sm_message *m);

/* ---- JSON (monitor --once, stackmon-sub) ------------------------------ */

/* Writes the message as one JSON object on one line (no newline). */
void sm_wire_print_json(const struct sm_message *m, FILE *out);

#endif
