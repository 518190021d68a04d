/*
 * sm_wire_json.c — one decoded message as one line of JSON, for
 * `stackmon-monitor --once` and `stackmon-sub`, generated from the field
 * lists (sm_wire_fields.h): the JSON names each positional field. Unknown
 * floats (NaN) are null; every string is escaped so that tenant-chosen
 * names can never break the line or the JSON.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sm_json.h"
#include "sm_utf8.h"
#include "sm_uuid.h"
#include "sm_wire.h"
#include "sm_wire_fields.h"

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

/* ---- one printer per field type (sm_wire_fields.h) --------------------- */

static void json_U32(FILE *out, const uint32_t *v)
{
	fprintf(out, "%u", *v);
}

static void json_U64(FILE *out, const uint64_t *v)
{
	fprintf(out, "%llu", (unsigned long long)*v);
}

static void json_F32(FILE *out, const double *v)
{
	sm_json_put_number(out, *v);
}

static void json_F64(FILE *out, const double *v)
{
	sm_json_put_number(out, *v);
}

static void json_BOOL(FILE *out, const bool *v)
{
	fputs(*v ? "true" : "false", out);
}

static void json_TEXT(FILE *out, const char *s)
{
	json_str(out, s);
}

static void json_UUID(FILE *out, const uint8_t uuid[16])
{
	char text[37];

	sm_uuid_format(uuid, text);
	fprintf(out, "\"%s\"", text);
}

static void json_LOAD(FILE *out, const double load[3])
{
	fputc('[', out);
	for (int i = 0; i < 3; i++) {
		if (i > 0)
			fputc(',', out);
		sm_json_put_number(out, load[i]);
	}
	fputc(']', out);
}

/* Of the flags, JSON shows what a reader needs: whether the values are stale. */
static void json_DOM_FLAGS(FILE *out, const uint32_t *flags)
{
	fputs((*flags & SM_DOM_STALE) ? "true" : "false", out);
}

static void json_MEM_BASIS(FILE *out, const uint32_t *b)
{
	static const char *const names[] = {"none", "guest_usable", "guest_unused", "host_rss",
					    "host_alloc"};

	fprintf(out, "\"%s\"", *b < sizeof(names) / sizeof(names[0]) ? names[*b] : "other");
}

static void json_KIND(FILE *out, const enum sm_msg_kind *k)
{
	const char *name = sm_wire_kind_name(*k);

	fprintf(out, "\"%s\"", name ? name : "?");
}

static void json_EVENT(FILE *out, const enum sm_event_type *t)
{
	fputs(*t == SM_EVENT_STARTED ? "\"started\"" : "\"stopped\"", out);
}

static void json_DROPPED(FILE *out, const uint64_t dropped[SM_DROP_COUNT])
{
	fputc('{', out);
	for (int i = 0; i < SM_DROP_COUNT; i++)
		fprintf(out, "%s\"%s\":%llu", i ? "," : "", sm_drop_reason_names[i],
			(unsigned long long)dropped[i]);
	fputc('}', out);
}

/* Fields of a record as `"json":value` pairs, each after `sep`. OMIT0
 * fields are left out when 0, as the encoder leaves them out. */
#define SHOWN_REQ(...) 1
#define SHOWN_OPT(...) 1
#define SHOWN_OMIT0(...) (*(__VA_ARGS__) != 0)
#define JSON_FIELD(T, m, key, json, lo, hi, pres, unit) \
	if (SHOWN_##pres(SM_WIRE_ARG_##T(rec, m))) { \
		fputs(sep, out); \
		sep = ","; \
		fputs("\"" json "\":", out); \
		json_##T(out, SM_WIRE_ARG_##T(rec, m)); \
	}

static void json_IDENTITY(FILE *out, const bool *has, const struct sm_identity *rec)
{
	const char *sep = "";

	if (!*has) {
		fputs("null", out);
		return;
	}
	fputc('{', out);
	SM_WIRE_IDENTITY_FIELDS(JSON_FIELD)
	fputc('}', out);
}

static void json_NODE(FILE *out, const struct sm_host_stats *rec)
{
	const char *sep = "";

	fputc('{', out);
	SM_WIRE_NODE_FIELDS(JSON_FIELD)
	fputc('}', out);
}

static void json_disk(FILE *out, const struct sm_disk_stats *rec)
{
	const char *sep = "";

	fputc('{', out);
	SM_WIRE_DISK_FIELDS(JSON_FIELD)
	fputc('}', out);
}

static void json_nic(FILE *out, const struct sm_nic_stats *rec)
{
	const char *sep = "";

	fputc('{', out);
	SM_WIRE_NIC_FIELDS(JSON_FIELD)
	fputc('}', out);
}

static void json_loss_row(FILE *out, const struct sm_publisher_loss *rec)
{
	const char *sep = "";

	fputc('{', out);
	SM_WIRE_LOSS_FIELDS(JSON_FIELD)
	fputc('}', out);
}

static void json_DISKS(FILE *out, const size_t *n, struct sm_disk_stats *const *a)
{
	fputc('[', out);
	for (size_t i = 0; i < *n; i++) {
		if (i > 0)
			fputc(',', out);
		json_disk(out, &(*a)[i]);
	}
	fputc(']', out);
}

static void json_NICS(FILE *out, const size_t *n, struct sm_nic_stats *const *a)
{
	fputc('[', out);
	for (size_t i = 0; i < *n; i++) {
		if (i > 0)
			fputc(',', out);
		json_nic(out, &(*a)[i]);
	}
	fputc(']', out);
}

static void json_LOSS(FILE *out, const size_t *n, struct sm_publisher_loss *const *a)
{
	fputc('[', out);
	for (size_t i = 0; i < *n; i++) {
		if (i > 0)
			fputc(',', out);
		json_loss_row(out, &(*a)[i]);
	}
	fputc(']', out);
}

static void json_domain(FILE *out, const struct sm_domain_stats *rec)
{
	const char *sep = "";

	fputc('{', out);
	SM_WIRE_DOMAIN_FIELDS(JSON_FIELD)
	fputc('}', out);
}

static void json_DOMAINS(FILE *out, const size_t *n, struct sm_domain_stats *const *a)
{
	fputc('[', out);
	for (size_t i = 0; i < *n; i++) {
		if (i > 0)
			fputc(',', out);
		json_domain(out, &(*a)[i]);
	}
	fputc(']', out);
}

/* Payloads continue the header's object. */
static void json_stats(FILE *out, const struct sm_aggregate_domain_stats *rec)
{
	const char *sep = ",";

	SM_WIRE_STATS_FIELDS(JSON_FIELD)
}

static void json_event(FILE *out, const struct sm_domain_event *rec)
{
	const char *sep = ",";

	SM_WIRE_EVENT_FIELDS(JSON_FIELD)
}

static void json_heartbeat(FILE *out, const struct sm_heartbeat *rec)
{
	const char *sep = ",";

	SM_WIRE_HEARTBEAT_FIELDS(JSON_FIELD)
}

static void json_collector(FILE *out, const struct sm_collector_stats *rec)
{
	const char *sep = ",";

	SM_WIRE_COLLECTOR_FIELDS(JSON_FIELD)
}

void sm_wire_print_json(const struct sm_message *m, FILE *out)
{
	const char *kind = sm_wire_kind_name(m->hdr.kind);

	fprintf(out, "{\"kind\":\"%s\",\"v\":%u,\"host\":", kind ? kind : "?", m->hdr.version);
	json_str(out, m->hdr.host);
	fprintf(out, ",\"time\":%.6f", m->hdr.time);
	fprintf(out, ",\"seq\":%llu,\"epoch\":%llu", (unsigned long long)m->hdr.seq,
		(unsigned long long)m->hdr.epoch);
	switch (m->hdr.kind) {
	case SM_KIND_STATS:
		json_stats(out, &m->u.stats);
		break;
	case SM_KIND_EVENT:
		json_event(out, &m->u.event);
		break;
	case SM_KIND_HEARTBEAT:
		json_heartbeat(out, &m->u.hb);
		break;
	case SM_KIND_COLLECTOR:
		json_collector(out, &m->u.collector);
		break;
	}
	fputc('}', out);
}
