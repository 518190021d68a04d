/*
 * exp_bench — the exporter's two costs, in-process: applying a stats frame
 * of N domains to the store (the intake's share of the lock), and
 * rendering the whole exposition (a scrape's share), with the size of the
 * text and of its gzip at the level http.c uses. Realistic frames
 * (tests/collector/fake_stats.c: full identity, two disks and two
 * interfaces a domain), each domain with a UUID of its own.
 * Usage: exp_bench DOMAINS [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "expo.h"
#include "fake_stats.h"
#include "sm_intake.h"
#include "render.h"
#include "sm_clock.h"
#include "sm_log.h"
#include "store.h"

static double ms_since(int64_t t0)
{
	return (double)(sm_clock_mono_ns() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	struct sm_intake_counters in = {0};
	struct store_sizes sizes;
	struct sm_message m;
	struct store *s;
	double apply_ms = 0, render_ms = 0, gzip_ms = 0;
	size_t text = 0, gz = 0, last_len = 0;

	sm_log_open("exp_bench", SM_LOG_ERR, false);
	render_sizes(&sizes);
	s = store_new(&sizes, 0);
	if (!s || n == 0 || rounds <= 0 || fake_stats_fill(&m, "cn-bench", n, 1, 1) < 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		m.u.stats.domains[i].uuid[13] = (uint8_t)(i >> 16);
		m.u.stats.domains[i].uuid[14] = (uint8_t)(i >> 8);
		m.u.stats.domains[i].uuid[15] = (uint8_t)i;
	}
	store_apply_stats(s, &m, sm_clock_mono_ns(), true); /* first frame: every domain new */
	for (int r = 0; r < rounds; r++) {
		struct render_health h = {.started_ns = sm_clock_mono_ns()};
		struct expo_buf b = {0};
		int64_t t0 = sm_clock_mono_ns();
		z_stream zs = {0};
		unsigned char *out;
		size_t bound;

		for (size_t i = 0; i < n; i++)
			m.u.stats.domains[i].cpu_time_ns += 1000000;
		store_apply_stats(s, &m, sm_clock_mono_ns(), true);
		apply_ms += ms_since(t0);
		t0 = sm_clock_mono_ns();
		expo_reserve(&b, last_len + last_len / 8); /* as the daemon does */
		render_metrics(&b, s, &in, &h, sm_clock_mono_ns());
		last_len = b.len;
		render_ms += ms_since(t0);
		text = b.len;
		t0 = sm_clock_mono_ns();
		deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
		bound = deflateBound(&zs, (uLong)b.len);
		out = malloc(bound);
		zs.next_in = (Bytef *)b.data;
		zs.avail_in = (uInt)b.len;
		zs.next_out = out;
		zs.avail_out = (uInt)bound;
		deflate(&zs, Z_FINISH);
		gz = zs.total_out;
		deflateEnd(&zs);
		gzip_ms += ms_since(t0);
		free(out);
		expo_buf_free(&b);
	}
	printf("domains %zu, series %zu: apply a frame %.2f ms (%.2f us a domain); render %.1f ms"
	       " (%.3f us a series), %zu bytes (%.0f a series); gzip level 1 %.1f ms, %zu bytes"
	       " (%.1fx); mean of %d rounds\n",
	       n, store_series(s), apply_ms / rounds, apply_ms / rounds * 1000 / (double)n,
	       render_ms / rounds, render_ms / rounds * 1000 / (double)store_series(s), text,
	       (double)text / (double)store_series(s), gzip_ms / rounds, gz,
	       (double)text / (double)gz, rounds);
	fake_stats_free(&m);
	store_destroy(&s);
	return 0;
}
