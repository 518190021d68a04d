/*
 * sm_wire_json.c — one decoded message as one line of JSON, for
 * `stackmon-monitor --once` and `stackmon-sub`. Field names follow
 * docs/PROTOCOL.md; unknown floats (NaN) are null; every string is escaped
 * so that tenant-chosen names can never break the line or the JSON.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sm_utf8.h"
#include "sm_wire.h"

/*
 * Writes s as a JSON string. Besides what JSON requires, every code point
 * sm_utf8_is_terminal_unsafe names (C1 controls such as CSI, bidi overrides,
 * invisible format characters) is written as a \uXXXX escape: the line is
 * then plain to a terminal, yet decodes to exactly the original string.
 * Ill-formed bytes, which a decoded message never holds, become \ufffd.
 */
static void json_str(FILE *out, const char *s)
{
	size_t len = strlen(s);

	fputc('"', out);
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = sm_utf8_decode(s + i, len - i, &cp);

		switch (cp) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		/* '<' and '>' escaped so the output is also safe inside HTML. */
		case '<': fputs("\\u003c", out); break;
		case '>': fputs("\\u003e", out); break;
		default:
			/* The rule names BMP code points only: one \uXXXX each. */
			if (cp == 0xFFFD || sm_utf8_is_terminal_unsafe(cp))
				fprintf(out, "\\u%04x", (unsigned)cp);
			else
				fwrite(s + i, 1, n, out);
		}
		i += n;
	}
	fputc('"', out);
}

static void json_num(FILE *out, double v)
{
	if (!isfinite(v))
		fputs("null", out);
	else
		fprintf(out, "%.10g", v);
}

static void json_key(FILE *out, const char *k)
{
	fprintf(out, ",\"%s\":", k);
}

static void json_u64(FILE *out, const char *k, uint64_t v)
{
	fprintf(out, ",\"%s\":%llu", k, (unsigned long long)v);
}

static void json_f(FILE *out, const char *k, double v)
{
	json_key(out, k);
	json_num(out, v);
}

static void json_load(FILE *out, const double load[3])
{
	fputs(",\"load\":[", out);
	for (int i = 0; i < 3; i++) {
		if (i > 0)
			fputc(',', out);
		json_num(out, load[i]);
	}
	fputc(']', out);
}

static void json_identity(FILE *out, bool has, const struct sm_identity *id)
{
	fputs(",\"identity\":", out);
	if (!has) {
		fputs("null", out);
		return;
	}
	fputs("{\"display_name\":", out);
	json_str(out, id->display_name);
	fputs(",\"project_id\":", out);
	json_str(out, id->project_id);
	fputs(",\"project_name\":", out);
	json_str(out, id->project_name);
	fputs(",\"user_id\":", out);
	json_str(out, id->user_id);
	fputs(",\"user_name\":", out);
	json_str(out, id->user_name);
	fputs(",\"flavor\":", out);
	json_str(out, id->flavor);
	fputc('}', out);
}

static const char *mem_basis_name(uint32_t b)
{
	static const char *const names[] = {"none", "guest_usable", "guest_unused", "host_rss",
					    "host_alloc"};

	return b < sizeof(names) / sizeof(names[0]) ? names[b] : "other";
}

static void json_domain(FILE *out, const struct sm_domain_stats *d)
{
	char uuid[37];

	sm_uuid_format(d->uuid, uuid);
	fprintf(out, "{\"uuid\":\"%s\",\"name\":", uuid);
	json_str(out, d->name);
	fprintf(out, ",\"state\":%u,\"stale\":%s", d->state,
		(d->flags & SM_DOM_STALE) ? "true" : "false");
	json_identity(out, d->has_identity, &d->identity);
	fprintf(out, ",\"vcpus\":%u", d->vcpus);
	json_u64(out, "cpu_time_ns", d->cpu_time_ns);
	json_f(out, "cpu_pct", d->cpu_pct);
	json_f(out, "steal_pct", d->steal_pct);
	json_load(out, d->load);
	fprintf(out, ",\"mem_basis\":\"%s\"", mem_basis_name(d->mem_basis));
	json_u64(out, "mem_total_kib", d->mem_total_kib);
	json_u64(out, "mem_used_kib", d->mem_used_kib);
	json_f(out, "mem_pct", d->mem_pct);
	fputs(",\"disks\":[", out);
	for (size_t i = 0; i < d->ndisks; i++) {
		const struct sm_disk_stats *k = &d->disks[i];

		fputs(i ? ",{\"name\":" : "{\"name\":", out);
		json_str(out, k->name);
		json_u64(out, "rd_req", k->rd_req);
		json_u64(out, "rd_bytes", k->rd_bytes);
		json_u64(out, "wr_req", k->wr_req);
		json_u64(out, "wr_bytes", k->wr_bytes);
		json_u64(out, "errors", k->errors);
		json_f(out, "rd_req_ps", k->rd_req_ps);
		json_f(out, "rd_bytes_ps", k->rd_bytes_ps);
		json_f(out, "wr_req_ps", k->wr_req_ps);
		json_f(out, "wr_bytes_ps", k->wr_bytes_ps);
		fputc('}', out);
	}
	fputs("],\"nics\":[", out);
	for (size_t i = 0; i < d->nnics; i++) {
		const struct sm_nic_stats *n = &d->nics[i];

		fputs(i ? ",{\"name\":" : "{\"name\":", out);
		json_str(out, n->name);
		json_u64(out, "rx_bytes", n->rx_bytes);
		json_u64(out, "rx_packets", n->rx_packets);
		json_u64(out, "rx_errors", n->rx_errors);
		json_u64(out, "rx_drops", n->rx_drops);
		json_u64(out, "tx_bytes", n->tx_bytes);
		json_u64(out, "tx_packets", n->tx_packets);
		json_u64(out, "tx_errors", n->tx_errors);
		json_u64(out, "tx_drops", n->tx_drops);
		json_f(out, "rx_bytes_ps", n->rx_bytes_ps);
		json_f(out, "rx_packets_ps", n->rx_packets_ps);
		json_f(out, "tx_bytes_ps", n->tx_bytes_ps);
		json_f(out, "tx_packets_ps", n->tx_packets_ps);
		fputc('}', out);
	}
	fputs("]}", out);
}

static void json_stats(FILE *out, const struct sm_aggregate_domain_stats *s)
{
	const struct sm_host_stats *h = &s->host;

	json_f(out, "interval", s->interval);
	fprintf(out, ",\"node\":{\"ncpus\":%u", h->ncpus);
	json_f(out, "cpu_pct", h->cpu_pct);
	json_load(out, h->load);
	json_u64(out, "mem_total_kib", h->mem_total_kib);
	json_u64(out, "mem_used_kib", h->mem_used_kib);
	json_f(out, "mem_pct", h->mem_pct);
	fprintf(out, ",\"libvirt_ok\":%s", h->libvirt_ok ? "true" : "false");
	json_f(out, "libvirt_latency_ms", h->libvirt_latency_ms);
	fprintf(out, ",\"domains_stale\":%u}", h->domains_stale);
	fputs(",\"domains\":[", out);
	for (size_t i = 0; i < s->ndomains; i++) {
		if (i > 0)
			fputc(',', out);
		json_domain(out, &s->domains[i]);
	}
	fputc(']', out);
}

static void json_collector(FILE *out, const struct sm_collector_stats *c)
{
	json_f(out, "interval", c->interval);
	json_u64(out, "frames_in", c->frames_in);
	json_u64(out, "bytes_in", c->bytes_in);
	json_u64(out, "frames_out", c->frames_out);
	json_u64(out, "bytes_out", c->bytes_out);
	json_u64(out, "frames_up", c->frames_up);
	fputs(",\"dropped\":{", out);
	for (int i = 0; i < SM_DROP_COUNT; i++)
		fprintf(out, "%s\"%s\":%llu", i ? "," : "", sm_drop_reason_names[i],
			(unsigned long long)c->dropped[i]);
	fputc('}', out);
	json_u64(out, "lost", c->lost);
	json_u64(out, "origin_unknown", c->origin_unknown);
	fprintf(out, ",\"publishers\":%u,\"upstream\":", c->publishers);
	json_str(out, c->upstream);
	fputs(",\"loss\":[", out);
	for (size_t i = 0; i < c->nloss; i++) {
		fputs(i ? ",{\"host\":" : "{\"host\":", out);
		json_str(out, c->loss[i].host);
		fprintf(out, ",\"kind\":\"%s\"", sm_wire_kind_name(c->loss[i].kind));
		json_u64(out, "received", c->loss[i].received);
		json_u64(out, "lost", c->loss[i].lost);
		fputc('}', out);
	}
	fputc(']', out);
}

void sm_wire_print_json(const struct sm_message *m, FILE *out)
{
	const char *kind = sm_wire_kind_name(m->hdr.kind);

	fprintf(out, "{\"kind\":\"%s\",\"v\":%u,\"host\":", kind ? kind : "?", m->hdr.version);
	json_str(out, m->hdr.host);
	fprintf(out, ",\"time\":%.6f", m->hdr.time);
	json_u64(out, "seq", m->hdr.seq);
	json_u64(out, "epoch", m->hdr.epoch);
	switch (m->hdr.kind) {
	case SM_KIND_STATS:
		json_stats(out, &m->u.stats);
		break;
	case SM_KIND_EVENT: {
		char uuid[37];

		sm_uuid_format(m->u.event.uuid, uuid);
		fprintf(out, ",\"event\":\"%s\",\"uuid\":\"%s\",\"name\":",
			m->u.event.type == SM_EVENT_STARTED ? "started" : "stopped", uuid);
		json_str(out, m->u.event.name);
		json_identity(out, m->u.event.has_identity, &m->u.event.identity);
		fputs(",\"reason\":", out);
		json_str(out, m->u.event.reason);
		break;
	}
	case SM_KIND_HEARTBEAT:
		json_f(out, "interval", m->u.hb.interval);
		if (m->u.hb.max_frame)
			json_u64(out, "max_frame", m->u.hb.max_frame);
		break;
	case SM_KIND_COLLECTOR:
		json_collector(out, &m->u.collector);
		break;
	}
	fputc('}', out);
}
