/*
 * host_loss — see host_loss.h. Every figure is a number the dashboard
 * formats itself; the host name, the one string, is never printed here.
 */
#include "host_loss.h"

#include <math.h>
#include <time.h>

#include "page.h"

static int add_minute(void *arg, const struct index_loss_minute *m)
{
	struct host_loss *l = arg;

	if (l->n >= HOST_LOSS_MAX_MINUTES)
		return 1;
	l->m[l->n++] = (struct host_loss_minute){m->minute, m->received, m->lost};
	l->received += m->received;
	l->lost += m->lost;
	return 0;
}

int host_loss_load(struct dash *d, const char *host, struct host_loss *out)
{
	*out = (struct host_loss){0};
	/* Minutes that started inside the window: the oldest one may reach a
	 * little before it, never a whole minute. */
	return index_list_loss_minutes(d->idx, host, d->now - HOST_LOSS_WINDOW_S, add_minute, out) <
		       0
		   ? -1
		   : 0;
}

/* lost / (received + lost), in percent; NAN when nothing was expected. */
static double loss_pct(uint64_t received, uint64_t lost)
{
	return received + lost ? 100.0 * (double)lost / (double)(received + lost) : NAN;
}

static void minute_text(int64_t minute, char *buf, size_t len)
{
	time_t t = (time_t)minute;
	struct tm tm;

	localtime_r(&t, &tm);
	if (strftime(buf, len, "%Y-%m-%d %H:%M %Z", &tm) == 0)
		buf[0] = '\0';
}

void host_loss_html(struct dash *d, const struct host_loss *l)
{
	FILE *o = d->body;
	size_t lossy = 0;

	fputs("<h2>Frame loss, last hour</h2>\n", o);
	if (l->received + l->lost == 0) {
		fputs("<p class=\"empty\">No frame received from this node in the last hour.</p>\n",
		      o);
		return;
	}
	for (size_t i = 0; i < l->n; i++)
		lossy += l->m[i].lost > 0;
	fprintf(
	    o,
	    "<div class=\"tiles\" id=\"loss-1h\"><div class=\"tile\"><span>frames received</span>"
	    "<b>%llu</b></div><div class=\"tile\"><span>frames lost</span><b>%llu</b></div>"
	    "<div class=\"tile\"><span>loss</span><b>%.3g %%</b></div>"
	    "<div class=\"tile\"><span>minutes with loss</span><b>%zu of %zu</b></div></div>\n",
	    (unsigned long long)l->received, (unsigned long long)l->lost,
	    loss_pct(l->received, l->lost), lossy, l->n);
	if (lossy == 0) {
		fputs("<p class=\"empty\">No frame lost in the last hour.</p>\n", o);
		return;
	}
	fputs("<div class=\"tw\"><table id=\"loss-minutes\"><thead><tr><th class=\"l\">minute</th>"
	      "<th>received</th><th>lost</th><th>loss</th></tr></thead><tbody>\n",
	      o);
	for (size_t i = 0; i < l->n; i++) {
		char when[64];

		if (l->m[i].lost == 0)
			continue;
		minute_text(l->m[i].minute, when, sizeof(when));
		fprintf(
		    o,
		    "<tr><td class=\"l\">%s</td><td>%llu</td><td>%llu</td><td>%.3g %%</td></tr>\n",
		    when, (unsigned long long)l->m[i].received, (unsigned long long)l->m[i].lost,
		    loss_pct(l->m[i].received, l->m[i].lost));
	}
	fputs("</tbody></table></div>\n"
	      "<p class=\"sub\">Counted by the aggregator from the monitor's sequence numbers: "
	      "frames lost anywhere between the node and the aggregator, in the minute the gap "
	      "was found.</p>\n",
	      o);
}

void host_loss_json(struct dash *d, const struct host_loss *l)
{
	FILE *o = d->body;
	bool first = true;

	fprintf(o, "\"loss_1h\":{\"received\":%llu,\"lost\":%llu,\"loss_pct\":",
		(unsigned long long)l->received, (unsigned long long)l->lost);
	json_num(o, loss_pct(l->received, l->lost));
	fputs(",\"minutes_with_loss\":[", o);
	for (size_t i = 0; i < l->n; i++) {
		if (l->m[i].lost == 0)
			continue;
		fprintf(o, "%s{\"minute\":%lld,\"received\":%llu,\"lost\":%llu}", first ? "" : ",",
			(long long)l->m[i].minute, (unsigned long long)l->m[i].received,
			(unsigned long long)l->m[i].lost);
		first = false;
	}
	fputs("]}", o);
}
