/*
 * sub_table.c — fixed-width lines for `stackmon-sub --table`. Tenant names
 * are printed through a filter that shows every character
 * sm_utf8_is_terminal_unsafe names (controls, C1 CSI, bidi overrides,
 * invisible format characters) as U+FFFD, so a hostile instance name cannot
 * move the cursor, forge extra lines or reorder what the operator reads.
 */
#include "sub_table.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "sm_utf8.h"

/*
 * Writes s then a space. With width > 0, writes at most `width` characters
 * (never a split one) padded with spaces to `width`; with 0, all of s.
 * Unsafe characters and ill-formed bytes are written as U+FFFD: visible,
 * one column wide (so the columns stay aligned), and never a control.
 */
static void cell(FILE *out, const char *s, int width)
{
	size_t len = strlen(s);
	int n = 0;

	for (size_t i = 0; i < len && (width == 0 || n < width); n++) {
		uint32_t cp;
		size_t k = sm_utf8_decode(s + i, len - i, &cp);

		if (cp == 0xFFFD || sm_utf8_is_terminal_unsafe(cp))
			fputs("\xEF\xBF\xBD", out); /* U+FFFD REPLACEMENT CHARACTER */
		else
			fwrite(s + i, 1, k, out);
		i += k;
	}
	for (; n < width; n++)
		fputc(' ', out);
	fputc(' ', out);
}

static void num(FILE *out, double v, int width)
{
	if (isfinite(v))
		fprintf(out, "%*.1f ", width, v);
	else
		fprintf(out, "%*s ", width, "-");
}

/* Bytes per second with a unit, 7 columns. */
static void rate(FILE *out, double v)
{
	static const char *const units[] = {"B", "K", "M", "G", "T"};
	int u = 0;

	if (!isfinite(v)) {
		fprintf(out, "%7s ", "-");
		return;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	fprintf(out, "%6.1f%s ", v, units[u]);
}

static void clock_cell(FILE *out, double t)
{
	time_t secs = (time_t)t;
	struct tm tm;
	char buf[16];

	gmtime_r(&secs, &tm);
	strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
	fprintf(out, "%s ", buf);
}

void sub_table_header(FILE *out)
{
	fprintf(out, "%-8s %-12s %-20s %-12s %6s %6s %7s %7s %7s %7s %s\n", "TIME(UTC)", "HOST",
		"INSTANCE", "PROJECT", "CPU%", "MEM%", "DISK-RD", "DISK-WR", "NET-RX", "NET-TX",
		"LOAD1");
}

void sub_table_print(FILE *out, const struct sm_message *m)
{
	switch (m->hdr.kind) {
	case SM_KIND_STATS:
		for (size_t i = 0; i < m->u.stats.ndomains; i++) {
			const struct sm_domain_stats *d = &m->u.stats.domains[i];
			double rd = 0, wr = 0, rx = 0, tx = 0;

			for (size_t j = 0; j < d->ndisks; j++) {
				rd += d->disks[j].rd_bytes_ps;
				wr += d->disks[j].wr_bytes_ps;
			}
			for (size_t j = 0; j < d->nnics; j++) {
				rx += d->nics[j].rx_bytes_ps;
				tx += d->nics[j].tx_bytes_ps;
			}
			clock_cell(out, m->hdr.time);
			cell(out, m->hdr.host, 12);
			cell(out, d->has_identity && d->identity.display_name[0]
					  ? d->identity.display_name
					  : d->name,
			     20);
			cell(out, d->has_identity ? d->identity.project_name : "-", 12);
			num(out, d->cpu_pct, 6);
			num(out, d->mem_pct, 6);
			rate(out, rd);
			rate(out, wr);
			rate(out, rx);
			rate(out, tx);
			num(out, d->load[0], 5);
			fputs((d->flags & SM_DOM_STALE) ? "STALE\n" : "\n", out);
		}
		break;
	case SM_KIND_EVENT:
		clock_cell(out, m->hdr.time);
		cell(out, m->hdr.host, 12);
		cell(out, m->u.event.has_identity && m->u.event.identity.display_name[0]
				  ? m->u.event.identity.display_name
				  : m->u.event.name,
		     20);
		fprintf(out, "domain %s (", m->u.event.type == SM_EVENT_STARTED ? "started" : "stopped");
		cell(out, m->u.event.reason, 0);
		fputs(")\n", out);
		break;
	case SM_KIND_HEARTBEAT:
		clock_cell(out, m->hdr.time);
		cell(out, m->hdr.host, 12);
		fprintf(out, "heartbeat (every %.1f s)\n", m->u.hb.interval);
		break;
	case SM_KIND_COLLECTOR: {
		const struct sm_collector_stats *c = &m->u.collector;
		uint64_t dropped = 0;

		for (int i = 0; i < SM_DROP_COUNT; i++)
			dropped += c->dropped[i];
		clock_cell(out, m->hdr.time);
		cell(out, m->hdr.host, 12);
		fprintf(out, "collector: in %llu out %llu up %llu dropped %llu lost %llu publishers %u\n",
			(unsigned long long)c->frames_in, (unsigned long long)c->frames_out,
			(unsigned long long)c->frames_up, (unsigned long long)dropped,
			(unsigned long long)c->lost, c->publishers);
		break;
	}
	}
}
