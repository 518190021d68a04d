/*
 * alert_bench — the evaluator's cost in-process: HOSTS nodes of DOMAINS
 * domains each (tests/collector/fake_stats.c: two disks and two interfaces
 * each, full identity), and the sample rules file's rules plus domain
 * rules until (rule, instance) pairs reach PAIRS; then PASSES evaluation
 * passes, each after one frame per node (as at 1 Hz), timed in CPU time of
 * this thread. Prints the pairs, the CPU time of a pass and of a frame's
 * intake (the values into the table; decoding is the intake's, measured
 * by bench/exporter), the share of one core at one pass a second, and
 * the cost of one write of the state file.
 * Usage: alert_bench HOSTS DOMAINS_PER_HOST DOMAIN_RULES PASSES
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval.h"
#include "fake_stats.h"
#include "statefile.h"
#include <unistd.h>

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t fired;

static void count(void *ctx, const struct alert_info *a)
{
	(void)ctx;
	fired += a->state == ALERT_FIRING;
}

int main(int argc, char **argv)
{
	size_t hosts = argc > 1 ? strtoul(argv[1], NULL, 10) : 100;
	size_t doms = argc > 2 ? strtoul(argv[2], NULL, 10) : 100;
	size_t nrules = argc > 3 ? strtoul(argv[3], NULL, 10) : 10;
	int passes = argc > 4 ? atoi(argv[4]) : 20;
	char *text = malloc(nrules * 160 + 1024), err[512];
	struct rule_set *rules;
	struct eval *e;
	struct eval_stats st;
	struct sm_message *m = calloc(hosts, sizeof(*m));
	double t0, intake = 0, eval = 0, worst = 0;
	size_t off = 0;

	if (!text || !m)
		return 1;
	/* Domain rules of each kind: thresholds with durations and hysteresis
	 * (some always true: fired alerts cost more than quiet ones). */
	for (size_t i = 0; i < nrules; i++) {
		static const char *const whens[] = {
		    "domain cpu_pct > 90 for 5m clear 80",
		    "domain mem_pct >= 95 for 10m clear 90",
		    "domain load1 > 4 for 1m",
		    "domain steal_pct > 20 for 2m",
		    "domain cpu_pct > 10",
		    "domain mem_used_kib > 100",
		};
		off += (size_t)sprintf(text + off, "rule r%zu\n when %s\n", i, whens[i % 6]);
	}
	off += (size_t)sprintf(text + off, "rule node_down\n when node stale for 30s\n"
					   "rule node_cpu\n when node cpu_pct > 95 for 1m\n");
	rules = rules_parse("bench", text, err, sizeof(err));
	if (!rules) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	e = eval_new(&rules);
	for (size_t h = 0; h < hosts; h++) {
		char name[32];

		snprintf(name, sizeof(name), "cn%05zu", h);
		if (fake_stats_fill(&m[h], name, doms, 1, 1) < 0)
			return 1;
		for (size_t d = 0; d < doms; d++) { /* distinct UUIDs on every node */
			m[h].u.stats.domains[d].uuid[14] = (uint8_t)(h >> 8);
			m[h].u.stats.domains[d].uuid[15] = (uint8_t)h;
		}
	}
	for (int p = 0; p <= passes; p++) {
		double now = 1e9 + p, t;

		t0 = cpu_now();
		for (size_t h = 0; h < hosts; h++) {
			m[h].hdr.time = now;
			eval_apply_stats(e, &m[h], now, true, count, NULL);
		}
		t = cpu_now();
		if (p > 0)
			intake += t - t0;
		t0 = t;
		eval_tick(e, now + 0.5, 0, count, NULL);
		t = cpu_now() - t0;
		if (p > 0) { /* the first pass creates the state */
			eval += t;
			worst = t > worst ? t : worst;
		}
	}
	eval_get_stats(e, &st);
	printf("alert_bench: %zu nodes x %zu domains, %zu domain rules + 2 node rules: %zu pairs"
	       " evaluated a pass, %zu firing\n",
	       hosts, doms, nrules, st.pairs, st.firing);
	printf(
	    "  evaluation pass: %.2f ms CPU (mean of %d, worst %.2f ms) = %.1f ns a pair; at 1 Hz"
	    " %.2f %% of one core\n",
	    eval / passes * 1e3, passes, worst * 1e3, eval / passes / (double)st.pairs * 1e9,
	    eval / passes * 100);
	printf("  intake of one frame per node: %.2f ms CPU a second (%.0f ns a domain); "
	       "evaluation + intake at 1 Hz: %.2f %% of one core\n",
	       intake / passes * 1e3, intake / passes / (double)(hosts * doms) * 1e9,
	       (eval + intake) / passes * 100);
	{
		char path[] = "/tmp/sm-alert-bench-XXXXXX";
		int fd = mkstemp(path);

		t0 = cpu_now();
		if (fd < 0 || statefile_save(e, path, err, sizeof(err)) < 0) {
			fprintf(stderr, "state file: %s\n", err);
			return 1;
		}
		printf("  state file with %zu firing alerts: %.2f ms CPU a write (written on a"
		       " transition, else every state_interval)\n",
		       st.firing, (cpu_now() - t0) * 1e3);
		close(fd);
		unlink(path);
	}
	for (size_t h = 0; h < hosts; h++)
		fake_stats_free(&m[h]);
	free(m);
	free(text);
	eval_destroy(&e);
	return 0;
}
