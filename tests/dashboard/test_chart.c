/*
 * Tests of the dashboard's metric catalogue and SVG charts
 * (dashboard/metric.c, dashboard/chart.c): every metric name lands on a
 * chart with a unit, values read well, axis labels stay short enough for
 * the gutter, and a chart draws gaps as gaps, "no data" when there is
 * none, and escapes every label.
 */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chart.h"
#include "metric.h"

static void metric_classifies_domain_and_device_names(void **state)
{
	struct metric_class a, b;

	metric_classify("cpu_pct", false, &a);
	metric_classify("steal_pct", false, &b);
	assert_string_equal(a.chart, b.chart); /* one chart */
	assert_int_equal(a.unit, UNIT_PCT);
	assert_true(metric_class_cmp(&a, &b) < 0);

	metric_classify("disk.vda.rd_bytes_ps", false, &a);
	metric_classify("disk.vda.wr_bytes_ps", false, &b);
	assert_string_equal(a.chart, b.chart);
	assert_string_equal(a.dev, "vda");
	assert_string_equal(a.label, "read");
	assert_int_equal(a.unit, UNIT_BYTES_PS);
	assert_non_null(strstr(a.title, "vda"));
	metric_classify("disk.vdb.rd_bytes_ps", false, &b);
	assert_string_not_equal(a.chart, b.chart);
	assert_true(metric_class_cmp(&a, &b) < 0);

	metric_classify("nic.tap0.rx_drops", false, &a);
	assert_int_equal(a.unit, UNIT_COUNT);
	assert_string_equal(a.dev, "tap0");
	/* A device with a dot in its name keeps it whole. */
	metric_classify("nic.eth0.100.rx_bytes_ps", false, &a);
	assert_string_equal(a.dev, "eth0.100");
}

static void metric_host_names_and_unknown_names(void **state)
{
	struct metric_class a, b;

	metric_classify("libvirt_latency_ms", true, &a);
	assert_int_equal(a.unit, UNIT_MS);
	metric_classify("domains", true, &a);
	assert_int_equal(a.unit, UNIT_COUNT);
	/* A host name the catalogue does not know, or a domain-only name on a
	 * host, still gets a chart of its own, after the known ones. */
	metric_classify("libvirt_latency_ms", false, &a);
	metric_classify("cpu_pct", false, &b);
	assert_int_equal(a.unit, UNIT_NONE);
	assert_string_equal(a.title, "libvirt_latency_ms");
	assert_true(metric_class_cmp(&b, &a) < 0);
	metric_classify("disk.vda.something_new", false, &a);
	assert_string_equal(a.chart, "other:disk.vda.something_new");
	metric_classify("disk.", false, &a);
	assert_int_equal(a.unit, UNIT_NONE);
}

static void units_read_well(void **state)
{
	char buf[48];

	unit_format(UNIT_PCT, 12.345, true, buf, sizeof(buf));
	assert_string_equal(buf, "12.3 %");
	unit_format(UNIT_PCT, 12.345, false, buf, sizeof(buf));
	assert_string_equal(buf, "12.3");
	unit_format(UNIT_BYTES_PS, 512, false, buf, sizeof(buf));
	assert_string_equal(buf, "512 B/s");
	unit_format(UNIT_BYTES_PS, 1.5 * 1048576, false, buf, sizeof(buf));
	assert_string_equal(buf, "1.50 MiB/s");
	unit_format(UNIT_KIB, 4194304, true, buf, sizeof(buf));
	assert_string_equal(buf, "4.00 GiB");
	unit_format(UNIT_REQ_PS, 1234.4, true, buf, sizeof(buf));
	assert_string_equal(buf, "1234 req/s");
	unit_format(UNIT_LOAD, 0.4, true, buf, sizeof(buf));
	assert_string_equal(buf, "0.40");
	unit_format(UNIT_PCT, NAN, true, buf, sizeof(buf));
	assert_string_equal(buf, "\u2014");
	assert_string_equal(unit_name(UNIT_BYTES_PS), "bytes_per_second");
}

static void chart_nice_max_rounds_up_to_readable_tops(void **state)
{
	int div;

	assert_true(chart_nice_max(73, UNIT_PCT, &div) == 100);
	assert_true(chart_nice_max(0.37, UNIT_LOAD, &div) == 0.5);
	assert_true(chart_nice_max(1.7, UNIT_LOAD, &div) == 2);
	assert_int_equal(div, 4);
	assert_true(chart_nice_max(3 * 1048576.0, UNIT_BYTES_PS, &div) == 5 * 1048576.0);
	assert_true(chart_nice_max(NAN, UNIT_PCT, &div) == 100);
	assert_true(chart_nice_max(0, UNIT_REQ_PS, &div) == 1);
	assert_true(chart_nice_max(-3, UNIT_REQ_PS, &div) == 1);
}

static void chart_si_keeps_tick_labels_short(void **state)
{
	static const struct {
		double v;
		const char *text;
	} cases[] = {
	    {0, "0"},	     {-0.0, "0"},	  {0.25, "0.25"},   {0.001, "0.001"},
	    {12.5, "12.5"},  {100, "100"},	  {999, "999"},	    {999.4, "999"},
	    {999.5, "1k"}, /* rounds to 1,000: the next prefix, not "1e+03" */
	    {1000, "1k"},    {1500, "1.5k"},	  {-1500, "-1.5k"}, {-0.5, "-0.5"},
	    {200e6, "200M"}, {898265610, "898M"}, {999999, "1M"},   {2.5e9, "2.5G"},
	    {1e12, "1T"},    {-1e12, "-1T"},	  {1e15, "1P"},	    {1e18, "1E"},
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		chart_si(cases[i].v, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
	}
	chart_si(NAN, buf, sizeof(buf));
	assert_string_equal(buf, "");
	chart_si(INFINITY, buf, sizeof(buf));
	assert_string_equal(buf, "");
	chart_si(-INFINITY, buf, sizeof(buf));
	assert_string_equal(buf, "");
	chart_si(898265610, buf, 3); /* cut, never overrun */
	assert_string_equal(buf, "89");
}

/* Renders a chart of one or two series in `unit` into a string (caller
 * frees). */
static char *render_unit(struct chart_series *s, size_t n, const char *title, enum metric_unit unit)
{
	struct chart c = {title, unit, 0, 1000, 300, n, s};
	/* Static: the stream's buffer outlives this call (GCC's dangling-pointer
	 * check cannot see through open_memstream). */
	static char *buf;
	static size_t len;
	FILE *f = open_memstream(&buf, &len);

	chart_write(f, &c);
	fclose(f);
	return buf;
}

static char *render(struct chart_series *s, size_t n, const char *title)
{
	return render_unit(s, n, title, UNIT_PCT);
}

/* The y labels of an SVG chart, in order, into labels[] (at most max). */
static size_t y_labels(const char *svg, char labels[][32], size_t max)
{
	size_t n = 0;

	for (const char *p = svg; n < max && (p = strstr(p, "<text class=\"yl\"")) != NULL; n++) {
		const char *start = strchr(p, '>') + 1, *end = strstr(start, "</text>");

		snprintf(labels[n], sizeof(labels[n]), "%.*s", (int)(end - start), start);
		p = end;
	}
	return n;
}

/* One series whose every point is `v` (at least the lower bound of
 * a cumulative counter's range). */
static void constant_series(struct chart_series *s, double v)
{
	struct whisper_series *ws = calloc(1, sizeof(*ws) + 1000 * sizeof(double));

	ws->from = 0;
	ws->until = 1000;
	ws->step = 1;
	ws->count = 1000;
	for (size_t i = 0; i < 1000; i++)
		ws->values[i] = v + (double)i;
	assert_int_equal(buckets_fill(&s->b, ws, 0, 1000, CHART_BUCKETS), 0);
	free(ws);
}

/* A counter at 898,265,610 once had 1000000000 at the top of its axis, cut
 * to 00000000 by the gutter: labels carry SI prefixes now. */
static void chart_axis_of_large_values_uses_si_prefixes(void **state)
{
	static const char *const want[] = {"0", "200M", "400M", "600M", "800M", "1G"};
	struct chart_series s = {"errors", NULL, {0}};
	char labels[8][32], *svg;

	constant_series(&s, 898265610);
	svg = render_unit(&s, 1, "Disk vda: errors (cumulative)", UNIT_COUNT);
	assert_int_equal(y_labels(svg, labels, 8), 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(labels[i], want[i]);
	free(svg);
	buckets_clear(&s.b);

	/* Small and fractional values stay as they were. */
	constant_series(&s, 0.3);
	svg = render_unit(&s, 1, "load", UNIT_LOAD);
	assert_true(y_labels(svg, labels, 8) >= 2);
	assert_string_equal(labels[0], "0");
	free(svg);
	buckets_clear(&s.b);

	/* Byte rates keep their binary unit: the widest label the gutter holds. */
	constant_series(&s, 900 * 1048576.0);
	svg = render_unit(&s, 1, "Disk vda: throughput", UNIT_BYTES_PS);
	assert_int_equal(y_labels(svg, labels, 8), 6);
	assert_string_equal(labels[5], "1000 MiB/s");
	free(svg);
	buckets_clear(&s.b);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void chart_breaks_the_line_at_gaps(void **state)
{
	struct whisper_series *ws = calloc(1, sizeof(*ws) + 1000 * sizeof(double));
	struct chart_series s = {"used", NULL, {0}};
	char *svg, *line;

	ws->from = 0;
	ws->until = 1000;
	ws->step = 1;
	ws->count = 1000;
	for (size_t i = 0; i < 1000; i++)
		ws->values[i] = (i >= 400 && i < 600) ? NAN : (double)(i % 100);
	assert_int_equal(buckets_fill(&s.b, ws, 0, 1000, CHART_BUCKETS), 0);
	svg = render(&s, 1, "vCPU");
	line = strstr(svg, "<path class=\"s0\" d=\"");
	assert_non_null(line);
	/* Two runs of data: the mean line has exactly two sub-paths. */
	*strstr(line, "\"/>") = '\0';
	assert_int_equal(count(line, "M"), 2);
	assert_non_null(strstr(svg, "<path class=\"b0\"")); /* the min-max band */
	assert_null(strstr(svg, "no data"));
	buckets_clear(&s.b);
	free(svg);
	free(ws);
}

static void chart_without_points_says_no_data_and_why(void **state)
{
	struct chart_series s[2] = {{"read", "no file yet", {0}}, {"write", NULL, {0}}};
	char *svg;

	assert_int_equal(buckets_fill(&s[0].b, NULL, 0, 1000, CHART_BUCKETS), 0);
	assert_int_equal(buckets_fill(&s[1].b, NULL, 0, 1000, CHART_BUCKETS), 0);
	svg = render(s, 2, "Disk");
	assert_non_null(strstr(svg, "no data in this window"));
	assert_non_null(strstr(svg, "no data: no file yet"));
	assert_null(strstr(svg, "class=\"s0\""));
	buckets_clear(&s[0].b);
	buckets_clear(&s[1].b);
	free(svg);
}

static void chart_escapes_title_and_labels(void **state)
{
	struct chart_series s = {"<img src=x onerror=alert(1)>", "<b>why</b>", {0}};
	char *svg;

	assert_int_equal(buckets_fill(&s.b, NULL, 0, 1000, CHART_BUCKETS), 0);
	svg = render(&s, 1, "Disk <script>alert(1)</script>: \"x\"");
	assert_null(strstr(svg, "<script"));
	assert_null(strstr(svg, "<img"));
	assert_null(strstr(svg, "<b>"));
	assert_non_null(strstr(svg, "&lt;script&gt;alert(1)&lt;/script&gt;: &quot;x&quot;"));
	assert_non_null(strstr(svg, "aria-label=\"Disk &lt;script&gt;"));
	buckets_clear(&s.b);
	free(svg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(metric_classifies_domain_and_device_names),
	    cmocka_unit_test(metric_host_names_and_unknown_names),
	    cmocka_unit_test(units_read_well),
	    cmocka_unit_test(chart_nice_max_rounds_up_to_readable_tops),
	    cmocka_unit_test(chart_si_keeps_tick_labels_short),
	    cmocka_unit_test(chart_axis_of_large_values_uses_si_prefixes),
	    cmocka_unit_test(chart_breaks_the_line_at_gaps),
	    cmocka_unit_test(chart_without_points_says_no_data_and_why),
	    cmocka_unit_test(chart_escapes_title_and_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
