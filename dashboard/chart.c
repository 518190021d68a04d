/*
 * chart — see chart.h. Geometry is fixed (viewBox 568 x 172, the page's
 * CSS scales it) and each bucket is exactly 2 px wide, so x positions are
 * integers and the SVG stays small: about 14 bytes per drawn bucket. The
 * gutter left of the plot holds the widest y label the formats below can
 * give, "1000 MiB/s" (56 px in DejaVu Sans at the labels' 10 px).
 */
#include "chart.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "esc.h"

#define VIEW_W	 568
#define VIEW_H	 172
#define PLOT_X0	 64  /* left edge of the plot area; y labels end 4 px before it */
#define PLOT_Y0	 6   /* top */
#define PLOT_H	 144 /* height: bottom at 150 */
#define BUCKET_W 2   /* px per bucket: PLOT_W = CHART_BUCKETS * BUCKET_W = 496 */
#define PLOT_W	 (CHART_BUCKETS * BUCKET_W)

double chart_nice_max(double max, enum metric_unit u, int *divisions)
{
	double scale = 1, f, e, nf;

	*divisions = 5;
	if (!isfinite(max) || max <= 0)
		return u == UNIT_PCT ? 100 : 1;
	/* Byte sizes get nice numbers of their binary unit (5 MiB, not 5.24 MB). */
	if (u == UNIT_BYTES_PS || u == UNIT_KIB)
		while (max / scale >= 1024)
			scale *= 1024;
	max /= scale;
	e = pow(10, floor(log10(max)));
	f = max / e;
	if (f <= 1)
		nf = 1;
	else if (f <= 2)
		nf = 2, *divisions = 4;
	else if (f <= 2.5)
		nf = 2.5;
	else if (f <= 5)
		nf = 5;
	else
		nf = 10;
	return nf * e * scale;
}

void chart_si(double v, char *buf, size_t len)
{
	static const char prefix[] = "kMGTPE";
	double a = fabs(v);
	int k = -1; /* index in prefix, -1 for none */

	if (len == 0)
		return;
	if (!isfinite(v)) {
		buf[0] = '\0';
		return;
	}
	if (v == 0) {
		snprintf(buf, len, "0"); /* never "-0" */
		return;
	}
	/* 999.5 and up print as 1e+03 with three digits: take the next prefix. */
	while (a >= 999.5 && k + 1 < (int)sizeof(prefix) - 1) {
		a /= 1000;
		k++;
	}
	if (k < 0)
		snprintf(buf, len, "%.3g", v);
	else
		snprintf(buf, len, "%.3g%c", v < 0 ? -a : a, prefix[k]);
}

static double ypos(double v, double ymax)
{
	double y = PLOT_Y0 + PLOT_H - v / ymax * PLOT_H;

	if (y < PLOT_Y0)
		y = PLOT_Y0;
	if (y > PLOT_Y0 + PLOT_H)
		y = PLOT_Y0 + PLOT_H;
	return y;
}

static int xpos(size_t bucket)
{
	return PLOT_X0 + (int)bucket * BUCKET_W + BUCKET_W / 2;
}

/* Summary of one series for the legend. */
struct stats {
	double last, max, mean;
};

static struct stats series_stats(const struct buckets *b)
{
	struct stats s = {NAN, NAN, NAN};
	double sum = 0;
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++) {
		if (!isfinite(b->mean[i]))
			continue;
		s.last = b->mean[i];
		if (!(b->max[i] <= s.max))
			s.max = b->max[i];
		sum += b->mean[i];
		n++;
	}
	if (n)
		s.mean = sum / (double)n;
	return s;
}

static void write_legend(FILE *out, const struct chart *c)
{
	fputs("<ul class=\"legend\">", out);
	for (size_t i = 0; i < c->nseries; i++) {
		const struct chart_series *s = &c->series[i];
		size_t k = i < CHART_COLOURS ? i : CHART_COLOURS - 1;
		char last[48], max[48], mean[48];

		fprintf(out, "<li><i class=\"k%zu\"></i>", k);
		esc_html(out, s->label);
		if (s->b.points == 0) {
			fputs(" <span class=\"st nodata\">no data", out);
			if (s->why) {
				fputs(": ", out);
				esc_html(out, s->why);
			}
			fputs("</span></li>", out);
			continue;
		}
		struct stats st = series_stats(&s->b);

		unit_format(c->unit, st.last, true, last, sizeof(last));
		unit_format(c->unit, st.mean, true, mean, sizeof(mean));
		unit_format(c->unit, st.max, true, max, sizeof(max));
		fprintf(out, " <span class=\"st\">last %s \u00b7 avg %s \u00b7 max %s</span></li>",
			last, mean, max);
	}
	fputs("</ul>", out);
}

/* A y-axis label: byte sizes with their binary unit and as many decimals
 * as the grid step needs (0.5 MiB/s, 1.0 MiB/s), other values with an SI
 * prefix (0, 20, 40; 200M, 400M — never 1000000000, which the gutter would
 * cut). */
static void axis_label(enum metric_unit u, double v, double step, char *buf, size_t len)
{
	int decimals = 0;

	static const char *const prefix[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double scale = 1;
	size_t k = 0;

	if (u != UNIT_BYTES_PS && u != UNIT_KIB) {
		chart_si(v, buf, len);
		return;
	}
	if (u == UNIT_KIB) {
		v *= 1024;
		step *= 1024;
	}
	/* One prefix for the whole axis, chosen by its step. */
	while (step / scale >= 1024 / 4.0 && k + 1 < sizeof(prefix) / sizeof(prefix[0])) {
		scale *= 1024;
		k++;
	}
	v /= scale;
	step /= scale;
	while (decimals < 6 &&
	       fabs(step * pow(10, decimals) - round(step * pow(10, decimals))) > 1e-6)
		decimals++;
	snprintf(buf, len, "%.*f %s%s", decimals, v, prefix[k], u == UNIT_KIB ? "" : "/s");
}

static void write_axes(FILE *out, const struct chart *c, double ymax, int div, bool labels)
{
	double span = (double)(c->until - c->from);
	struct tm tm;
	time_t t0 = (time_t)c->from;
	int64_t off, t;
	bool days = c->tick >= 86400;

	fputs("<g class=\"grid\">", out);
	for (int i = 0; i <= div; i++) {
		double v = ymax * i / div;
		double y = ypos(v, ymax);
		char label[48];

		fprintf(out, "<path d=\"M%d %.1fh%d\"/>", PLOT_X0, y, PLOT_W);
		if (!labels)
			continue; /* no data: a scale would only mislead */
		axis_label(c->unit, v, ymax / div, label, sizeof(label));
		fprintf(out, "<text class=\"yl\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
			PLOT_X0 - 4, y + 3.5, label);
	}
	/* Time ticks on local boundaries of the tick length (midnight for days). */
	localtime_r(&t0, &tm);
	off = tm.tm_gmtoff;
	t = c->from + ((c->tick - (c->from + off) % c->tick) % c->tick);
	for (; c->tick > 0 && t <= c->until; t += c->tick) {
		double x = PLOT_X0 + (double)(t - c->from) / span * PLOT_W;
		time_t tt = (time_t)t;
		char label[32];

		localtime_r(&tt, &tm);
		if (days)
			strftime(label, sizeof(label), "%a %d", &tm);
		else
			strftime(label, sizeof(label), "%H:%M", &tm);
		fprintf(out, "<path class=\"tick\" d=\"M%.1f %dv%d\"/>", x, PLOT_Y0, PLOT_H + 4);
		/* A label cut by the edge of the picture is left out. */
		if (x < PLOT_X0 + 14 || x > PLOT_X0 + PLOT_W - 16)
			continue;
		fprintf(out,
			"<text class=\"xl\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>",
			x, PLOT_Y0 + PLOT_H + 16, label);
	}
	fputs("</g>", out);
}

/* The min-max band of one series: one closed shape per run of buckets
 * with data. Skipped when every bucket holds a single point. */
static void write_band(FILE *out, const struct buckets *b, double ymax, size_t k)
{
	bool spread = false;

	for (size_t i = 0; i < b->n && !spread; i++)
		spread = b->max[i] > b->min[i];
	if (!spread)
		return;
	fprintf(out, "<path class=\"b%zu\" d=\"", k);
	for (size_t i = 0; i < b->n;) {
		size_t j;

		if (!isfinite(b->mean[i])) {
			i++;
			continue;
		}
		for (j = i; j < b->n && isfinite(b->mean[j]); j++)
			fprintf(out, "%c%d %.1f", j == i ? 'M' : 'L', xpos(j),
				ypos(b->max[j], ymax));
		for (size_t r = j; r-- > i;)
			fprintf(out, "L%d %.1f", xpos(r), ypos(b->min[r], ymax));
		fputc('Z', out);
		i = j;
	}
	fputs("\"/>", out);
}

/* The mean line: a new sub-path after every gap; a lone bucket becomes a
 * short dash so it stays visible. */
static void write_line(FILE *out, const struct buckets *b, double ymax, size_t k)
{
	fprintf(out, "<path class=\"s%zu\" d=\"", k);
	for (size_t i = 0; i < b->n; i++) {
		bool prev, next;

		if (!isfinite(b->mean[i]))
			continue;
		prev = i > 0 && isfinite(b->mean[i - 1]);
		next = i + 1 < b->n && isfinite(b->mean[i + 1]);
		if (!prev)
			fprintf(out, "M%d %.1f%s", xpos(i), ypos(b->mean[i], ymax),
				next ? "" : "h1");
		else
			fprintf(out, "L%d %.1f", xpos(i), ypos(b->mean[i], ymax));
	}
	fputs("\"/>", out);
}

void chart_write(FILE *out, const struct chart *c)
{
	double top = -INFINITY, ymax;
	size_t with_data = 0;
	int div;

	for (size_t i = 0; i < c->nseries; i++) {
		const struct buckets *b = &c->series[i].b;

		for (size_t j = 0; j < b->n; j++)
			if (b->max[j] > top)
				top = b->max[j];
		with_data += b->points > 0;
	}
	ymax = chart_nice_max(top, c->unit, &div);

	fputs("<figure class=\"chart\"><figcaption><span class=\"ct\">", out);
	esc_html(out, c->title);
	fputs("</span>", out);
	write_legend(out, c);
	fputs("</figcaption>", out);
	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" role=\"img\" "
		"aria-label=\"",
		VIEW_W, VIEW_H);
	esc_html(out, c->title);
	fputs("\"><title>", out);
	esc_html(out, c->title);
	fputs("</title>", out);
	fprintf(out, "<rect class=\"plot\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>", PLOT_X0,
		PLOT_Y0, PLOT_W, PLOT_H);
	write_axes(out, c, ymax, div, with_data > 0);
	for (size_t i = 0; i < c->nseries; i++) {
		size_t k = i < CHART_COLOURS ? i : CHART_COLOURS - 1;

		if (c->series[i].b.points == 0)
			continue;
		write_band(out, &c->series[i].b, ymax, k);
		write_line(out, &c->series[i].b, ymax, k);
	}
	if (with_data == 0)
		fprintf(out,
			"<text class=\"nodata\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
			"no data in this window</text>",
			PLOT_X0 + PLOT_W / 2, PLOT_Y0 + PLOT_H / 2);
	fputs("</svg></figure>\n", out);
}
