/*
 * render — StackMon's families in the text format (see render.h). Names
 * follow Prometheus' conventions: the stackmon_ prefix, base units
 * (seconds, bytes, ratios 0-1), _total on counters. A domain's label text
 * is the store's, made once; a device adds device="NAME". Each table below
 * is the one list of its record's families: its length is what
 * RENDER_PER_* counts, checked at compile time.
 */
#include "render.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "sm_clock.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define KIB	 1024.0
#define PCT	 100.0

/* A float32 figure of the wire (a percentage, a latency) scaled to base
 * units, kept at float32 precision: 0.0099502486, not the
 * 0.00995024859905243 the scaled float's double would print. NaN stays NaN. */
static double scaled32(double v, double divisor)
{
	return (double)(float)(v / divisor);
}

/* ---- domains ----------------------------------------------------------- */

enum dom_value {
	DV_STATE,
	DV_STALE,
	DV_VCPUS,
	DV_CPU_SECONDS,
	DV_STEAL,
	DV_LOAD1,
	DV_LOAD5,
	DV_LOAD15,
	DV_MEM_TOTAL,
	DV_MEM_USED,
};

struct family {
	const char *name, *type, *help;
	int value; /* enum dom_value / host_value, or an offsetof for devices */
};

static const struct family dom_families[] = {
    {"stackmon_domain_state", "gauge",
     "libvirt virDomainState: 1 running, 2 blocked, 3 paused, 4 shutdown, 5 shutoff, 6 crashed,"
     " 7 pmsuspended",
     DV_STATE},
    {"stackmon_domain_stale", "gauge",
     "1 when libvirt did not answer for the domain in its host's last interval (the values"
     " repeat the last known)",
     DV_STALE},
    {"stackmon_domain_vcpus", "gauge", "Virtual CPUs of the domain", DV_VCPUS},
    {"stackmon_domain_cpu_seconds_total", "counter",
     "CPU time of the domain as libvirt counts it (on QEMU the whole QEMU process), seconds",
     DV_CPU_SECONDS},
    {"stackmon_domain_cpu_steal_ratio", "gauge",
     "Share of vCPU time spent runnable but waiting for a host CPU over the last interval, 0-1",
     DV_STEAL},
    {"stackmon_domain_load1", "gauge", "vCPU load average over 1 minute, in vCPUs busy or waiting",
     DV_LOAD1},
    {"stackmon_domain_load5", "gauge", "vCPU load average over 5 minutes", DV_LOAD5},
    {"stackmon_domain_load15", "gauge", "vCPU load average over 15 minutes", DV_LOAD15},
    {"stackmon_domain_memory_total_bytes", "gauge",
     "Memory the used figure is a share of, bytes; label basis says how it was measured",
     DV_MEM_TOTAL},
    {"stackmon_domain_memory_used_bytes", "gauge",
     "Memory in use, bytes, by the method in label basis (guest_usable, guest_unused: the"
     " guest's view; host_rss, host_alloc: the host's); absent when nothing is known",
     DV_MEM_USED},
};
/* ... and stackmon_domain_info, written apart: its labels differ. */
_Static_assert(NELEM(dom_families) + 1 == RENDER_PER_DOMAIN, "RENDER_PER_DOMAIN");

static const char *const basis_names[] = {"none", "guest_usable", "guest_unused", "host_rss",
					  "host_alloc"};

static double dom_value(const struct sm_domain_stats *st, enum dom_value v)
{
	switch (v) {
	case DV_STATE:
		return st->state;
	case DV_STALE:
		return (st->flags & SM_DOM_STALE) ? 1 : 0;
	case DV_VCPUS:
		return st->vcpus;
	case DV_CPU_SECONDS:
		return (double)st->cpu_time_ns / 1e9;
	case DV_STEAL:
		return scaled32(st->steal_pct, PCT);
	case DV_LOAD1:
		return st->load[0];
	case DV_LOAD5:
		return st->load[1];
	case DV_LOAD15:
		return st->load[2];
	case DV_MEM_TOTAL:
		return (double)st->mem_total_kib * KIB;
	case DV_MEM_USED:
		return st->mem_basis == SM_MEM_NONE ? NAN : (double)st->mem_used_kib * KIB;
	}
	return NAN;
}

/* labels + extra `name="value"` into b (cleared first); returns b's text. */
static const char *labels_with(struct expo_buf *b, const char *labels, const char *name,
			       const char *value)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
	expo_puts(b, labels ? labels : "");
	expo_label(b, !labels || !labels[0], name, value);
	return b->data ? b->data : "";
}

static void render_domain_info(struct expo_buf *b, const struct store *s, struct expo_buf *tmp)
{
	expo_family(b, "stackmon_domain_info", "gauge",
		    "Always 1: a domain exported now, with its identity and flavor as labels");
	for (const struct store_host *h = store_first_host(s); h; h = h->next)
		for (const struct store_domain *d = h->first; d; d = d->next) {
			const char *flavor =
			    d->stats.has_identity ? d->stats.identity.flavor : NULL;

			expo_sample(b, "stackmon_domain_info",
				    labels_with(tmp, d->labels, "flavor", flavor), 1);
		}
}

static void render_domains(struct expo_buf *b, const struct store *s, struct expo_buf *tmp)
{
	render_domain_info(b, s, tmp);
	for (size_t f = 0; f < NELEM(dom_families); f++) {
		const struct family *fam = &dom_families[f];
		bool with_basis = fam->value == DV_MEM_TOTAL || fam->value == DV_MEM_USED;

		expo_family(b, fam->name, fam->type, fam->help);
		for (const struct store_host *h = store_first_host(s); h; h = h->next)
			for (const struct store_domain *d = h->first; d; d = d->next) {
				const char *labels = d->labels;
				uint32_t basis = d->stats.mem_basis;

				if (with_basis)
					labels = labels_with(tmp, d->labels, "basis",
							     basis < NELEM(basis_names)
								 ? basis_names[basis]
								 : "unknown");
				expo_sample(b, fam->name, labels,
					    dom_value(&d->stats, (enum dom_value)fam->value));
			}
	}
}

/* ---- devices ----------------------------------------------------------- */

static const struct family disk_families[] = {
    {"stackmon_domain_block_read_requests_total", "counter", "Read requests of a block device",
     offsetof(struct sm_disk_stats, rd_req)},
    {"stackmon_domain_block_read_bytes_total", "counter", "Bytes read from a block device",
     offsetof(struct sm_disk_stats, rd_bytes)},
    {"stackmon_domain_block_write_requests_total", "counter", "Write requests of a block device",
     offsetof(struct sm_disk_stats, wr_req)},
    {"stackmon_domain_block_write_bytes_total", "counter", "Bytes written to a block device",
     offsetof(struct sm_disk_stats, wr_bytes)},
    {"stackmon_domain_block_errors_total", "counter", "I/O errors of a block device",
     offsetof(struct sm_disk_stats, errors)},
};
_Static_assert(NELEM(disk_families) == RENDER_PER_DISK, "RENDER_PER_DISK");

static const struct family nic_families[] = {
    {"stackmon_domain_interface_receive_bytes_total", "counter",
     "Bytes the guest received on an interface", offsetof(struct sm_nic_stats, rx_bytes)},
    {"stackmon_domain_interface_receive_packets_total", "counter",
     "Packets the guest received on an interface", offsetof(struct sm_nic_stats, rx_packets)},
    {"stackmon_domain_interface_receive_errors_total", "counter", "Receive errors of an interface",
     offsetof(struct sm_nic_stats, rx_errors)},
    {"stackmon_domain_interface_receive_drops_total", "counter",
     "Received packets dropped on an interface", offsetof(struct sm_nic_stats, rx_drops)},
    {"stackmon_domain_interface_transmit_bytes_total", "counter",
     "Bytes the guest sent on an interface", offsetof(struct sm_nic_stats, tx_bytes)},
    {"stackmon_domain_interface_transmit_packets_total", "counter",
     "Packets the guest sent on an interface", offsetof(struct sm_nic_stats, tx_packets)},
    {"stackmon_domain_interface_transmit_errors_total", "counter",
     "Transmit errors of an interface", offsetof(struct sm_nic_stats, tx_errors)},
    {"stackmon_domain_interface_transmit_drops_total", "counter",
     "Packets to send dropped on an interface", offsetof(struct sm_nic_stats, tx_drops)},
};
_Static_assert(NELEM(nic_families) == RENDER_PER_NIC, "RENDER_PER_NIC");

static uint64_t field_u64(const void *record, int offset)
{
	const uint64_t *p = (const uint64_t *)((const char *)record + offset);

	return *p;
}

static void render_devices(struct expo_buf *b, const struct store *s, struct expo_buf *tmp)
{
	for (size_t f = 0; f < NELEM(disk_families); f++) {
		const struct family *fam = &disk_families[f];

		expo_family(b, fam->name, fam->type, fam->help);
		for (const struct store_host *h = store_first_host(s); h; h = h->next)
			for (const struct store_domain *d = h->first; d; d = d->next)
				for (size_t i = 0; i < d->stats.ndisks; i++) {
					const struct sm_disk_stats *k = &d->stats.disks[i];

					expo_sample_u64(
					    b, fam->name,
					    labels_with(tmp, d->labels, "device", k->name),
					    field_u64(k, fam->value));
				}
	}
	for (size_t f = 0; f < NELEM(nic_families); f++) {
		const struct family *fam = &nic_families[f];

		expo_family(b, fam->name, fam->type, fam->help);
		for (const struct store_host *h = store_first_host(s); h; h = h->next)
			for (const struct store_domain *d = h->first; d; d = d->next)
				for (size_t i = 0; i < d->stats.nnics; i++) {
					const struct sm_nic_stats *n = &d->stats.nics[i];

					expo_sample_u64(
					    b, fam->name,
					    labels_with(tmp, d->labels, "device", n->name),
					    field_u64(n, fam->value));
				}
	}
}

/* ---- nodes ------------------------------------------------------------- */

enum host_value {
	HV_CPUS,
	HV_CPU_BUSY,
	HV_LOAD1,
	HV_LOAD5,
	HV_LOAD15,
	HV_MEM_TOTAL,
	HV_MEM_USED,
	HV_LIBVIRT_UP,
	HV_LIBVIRT_LATENCY,
	HV_DOMAINS,
	HV_DOMAINS_STALE,
	HV_INTERVAL,
	HV_FRAME_TIME,
	HV_FRAME_AGE,
};

static const struct family host_families[] = {
    {"stackmon_node_cpus", "gauge", "Online CPUs of the compute node", HV_CPUS},
    {"stackmon_node_cpu_busy_ratio", "gauge",
     "Share of all the node's CPUs busy over the monitor's last interval, 0-1", HV_CPU_BUSY},
    {"stackmon_node_load1", "gauge", "Load average of the node over 1 minute", HV_LOAD1},
    {"stackmon_node_load5", "gauge", "Load average of the node over 5 minutes", HV_LOAD5},
    {"stackmon_node_load15", "gauge", "Load average of the node over 15 minutes", HV_LOAD15},
    {"stackmon_node_memory_total_bytes", "gauge", "Memory of the node, bytes", HV_MEM_TOTAL},
    {"stackmon_node_memory_used_bytes", "gauge",
     "Memory of the node in use (total less MemAvailable), bytes", HV_MEM_USED},
    {"stackmon_node_libvirt_up", "gauge", "1 when the monitor's libvirt connection is up",
     HV_LIBVIRT_UP},
    {"stackmon_node_libvirt_latency_seconds", "gauge",
     "The slowest libvirt call of the monitor's last interval, seconds", HV_LIBVIRT_LATENCY},
    {"stackmon_node_domains", "gauge", "Domains the node's last frame listed (and exported)",
     HV_DOMAINS},
    {"stackmon_node_domains_stale", "gauge",
     "Domains libvirt did not answer for in the node's last interval", HV_DOMAINS_STALE},
    {"stackmon_node_interval_seconds", "gauge", "Seconds between two reports of the node's monitor",
     HV_INTERVAL},
    {"stackmon_node_last_frame_timestamp_seconds", "gauge",
     "Time the node's last frame was sampled (its own clock), seconds since the epoch",
     HV_FRAME_TIME},
    {"stackmon_exporter_last_frame_age_seconds", "gauge",
     "Seconds since the exporter received the node's last frame", HV_FRAME_AGE},
};
_Static_assert(NELEM(host_families) == RENDER_PER_HOST, "RENDER_PER_HOST");

static double host_value(const struct store_host *h, enum host_value v, int64_t now_ns)
{
	const struct sm_host_stats *n = &h->node;

	switch (v) {
	case HV_CPUS:
		return n->ncpus;
	case HV_CPU_BUSY:
		return scaled32(n->cpu_pct, PCT);
	case HV_LOAD1:
		return n->load[0];
	case HV_LOAD5:
		return n->load[1];
	case HV_LOAD15:
		return n->load[2];
	case HV_MEM_TOTAL:
		return (double)n->mem_total_kib * KIB;
	case HV_MEM_USED:
		return (double)n->mem_used_kib * KIB;
	case HV_LIBVIRT_UP:
		return n->libvirt_ok ? 1 : 0;
	case HV_LIBVIRT_LATENCY:
		return scaled32(n->libvirt_latency_ms, 1000.0);
	case HV_DOMAINS:
		return (double)h->ndomains;
	case HV_DOMAINS_STALE:
		return n->domains_stale;
	case HV_INTERVAL:
		return h->interval;
	case HV_FRAME_TIME:
		return h->frame_time;
	case HV_FRAME_AGE:
		return (double)(now_ns - h->received_ns) / (double)SM_NS_PER_SEC;
	}
	return NAN;
}

static void render_hosts(struct expo_buf *b, const struct store *s, int64_t now_ns)
{
	for (size_t f = 0; f < NELEM(host_families); f++) {
		const struct family *fam = &host_families[f];

		expo_family(b, fam->name, fam->type, fam->help);
		for (const struct store_host *h = store_first_host(s); h; h = h->next)
			expo_sample(b, fam->name, h->labels,
				    host_value(h, (enum host_value)fam->value, now_ns));
	}
}

/* ---- the exporter itself ----------------------------------------------- */

static void render_health(struct expo_buf *b, const struct store *s,
			  const struct sm_intake_counters *in, const struct render_health *hl,
			  struct expo_buf *tmp)
{
	static const char *const removal[STORE_GONE_COUNT] = {"stopped", "absent", "stale"};
	const struct store_counters *sc = store_counters(s);

	expo_family(b, "stackmon_exporter_frames_total", "counter",
		    "Valid messages received, by kind");
	for (int k = SM_KIND_STATS; k <= SM_KIND_COLLECTOR; k++)
		expo_sample_u64(b, "stackmon_exporter_frames_total",
				labels_with(tmp, NULL, "kind", sm_wire_kind_name(k)),
				in->frames[k]);
	expo_family(b, "stackmon_exporter_decode_errors_total", "counter",
		    "Messages refused, by reason (the decoder's code names; parts: not topic and"
		    " body)");
	for (size_t r = 1; r < SM_INTAKE_NREASONS; r++)
		expo_sample_u64(b, "stackmon_exporter_decode_errors_total",
				labels_with(tmp, NULL, "reason", sm_intake_reason_name(r)),
				in->errors[r]);
	expo_family(b, "stackmon_exporter_brief_records_total", "counter",
		    "Brief domain records received, by outcome: expanded, waiting (left out until"
		    " their full record comes), refused (contradicting it)");
	expo_sample_u64(b, "stackmon_exporter_brief_records_total",
			labels_with(tmp, NULL, "outcome", "expanded"), in->brief_expanded);
	expo_sample_u64(b, "stackmon_exporter_brief_records_total",
			labels_with(tmp, NULL, "outcome", "waiting"), in->brief_waiting);
	expo_sample_u64(b, "stackmon_exporter_brief_records_total",
			labels_with(tmp, NULL, "outcome", "refused"), in->brief_refused);
	expo_family(b, "stackmon_exporter_frames_lost_total", "counter",
		    "Messages missing from the senders' sequence numbers (the whole path from each"
		    " sender)");
	expo_sample_u64(b, "stackmon_exporter_frames_lost_total", NULL, in->lost);
	expo_family(b, "stackmon_exporter_received_bytes_total", "counter",
		    "Body bytes of the valid messages received");
	expo_sample_u64(b, "stackmon_exporter_received_bytes_total", NULL, in->bytes);
	expo_family(b, "stackmon_exporter_series", "gauge",
		    "Series of domains and nodes held now (at most, per record)");
	expo_sample_u64(b, "stackmon_exporter_series", NULL, store_series(s));
	expo_family(b, "stackmon_exporter_max_series", "gauge", "The max_series bound (0: none)");
	expo_sample_u64(b, "stackmon_exporter_max_series", NULL, hl->max_series);
	expo_family(b, "stackmon_exporter_series_dropped_total", "counter",
		    "Series left out because max_series was reached, counted in every frame that"
		    " carried them");
	expo_sample_u64(b, "stackmon_exporter_series_dropped_total", NULL, sc->series_dropped);
	expo_family(b, "stackmon_exporter_hosts", "gauge", "Compute nodes exported now");
	expo_sample_u64(b, "stackmon_exporter_hosts", NULL, store_hosts(s));
	expo_family(b, "stackmon_exporter_domains", "gauge", "Domains exported now");
	expo_sample_u64(b, "stackmon_exporter_domains", NULL, store_domains(s));
	expo_family(b, "stackmon_exporter_domains_removed_total", "counter",
		    "Domains no longer exported, by reason (stopped event, absent from its host's"
		    " frame, host stale)");
	for (int r = 0; r < STORE_GONE_COUNT; r++)
		expo_sample_u64(b, "stackmon_exporter_domains_removed_total",
				labels_with(tmp, NULL, "reason", removal[r]),
				sc->domains_removed[r]);
	expo_family(b, "stackmon_exporter_hosts_expired_total", "counter",
		    "Hosts dropped after stale_after seconds without a frame");
	expo_sample_u64(b, "stackmon_exporter_hosts_expired_total", NULL, sc->hosts_expired);
	expo_family(b, "stackmon_exporter_subscription_disconnects_total", "counter",
		    "Connections to collectors' fan-outs lost (made again by themselves)");
	expo_sample_u64(b, "stackmon_exporter_subscription_disconnects_total", NULL,
			hl->disconnects);
	expo_family(b, "stackmon_exporter_scrapes_total", "counter",
		    "Scrapes of /metrics served, this one included");
	expo_sample_u64(b, "stackmon_exporter_scrapes_total", NULL, hl->scrapes + 1);
	expo_family(b, "stackmon_exporter_start_time_seconds", "gauge",
		    "When the exporter started, seconds since the epoch");
	expo_sample(b, "stackmon_exporter_start_time_seconds", NULL, hl->start_time);
	expo_family(b, "stackmon_exporter_build_info", "gauge", "Always 1; label version");
	expo_sample(b, "stackmon_exporter_build_info",
		    labels_with(tmp, NULL, "version", STACKMON_VERSION), 1);
	/* Last, so that it covers the rendering of everything above. */
	expo_family(b, "stackmon_exporter_scrape_duration_seconds", "gauge",
		    "Seconds this scrape took to render, up to this line");
	expo_sample(b, "stackmon_exporter_scrape_duration_seconds", NULL,
		    (double)(sm_clock_mono_ns() - hl->started_ns) / (double)SM_NS_PER_SEC);
}

void render_sizes(struct store_sizes *sizes)
{
	*sizes = (struct store_sizes){.per_host = RENDER_PER_HOST,
				      .per_domain = RENDER_PER_DOMAIN,
				      .per_disk = RENDER_PER_DISK,
				      .per_nic = RENDER_PER_NIC};
}

void render_metrics(struct expo_buf *b, const struct store *s, const struct sm_intake_counters *in,
		    const struct render_health *h, int64_t now_ns)
{
	struct expo_buf tmp = {0};

	render_domains(b, s, &tmp);
	render_devices(b, s, &tmp);
	render_hosts(b, s, now_ns);
	render_health(b, s, in, h, &tmp);
	if (tmp.failed)
		b->failed = true;
	expo_buf_free(&tmp);
}
