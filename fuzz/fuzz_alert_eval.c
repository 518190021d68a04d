/*
 * fuzz_alert_eval.c — libFuzzer target for stackmon-alert's receive path
 * after the socket: a message handed to the shared intake as the daemon
 * hands it (topic, body), into the real evaluator with rules of every kind
 * (metrics, rate, devices, staleness, libvirt down, frame loss), a pass
 * per input as the fuzzer's clock advances a second, and every few inputs
 * the state file written and read back into a second evaluator.
 *
 * Input layout (shared with the other targets, so one corpus seeds all):
 * byte 0 is where the rest splits into topic and body.
 * Checked beyond "no crash, no leak": every transition names a rule of
 * the set and a valid host; firing alerts never outnumber the pairs; the
 * state file restores every pair it holds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval.h"
#include "sm_intake.h"
#include "sm_log.h"
#include "statefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_FRAME 65536

static const char rules_text[] = "rule hot\n when domain cpu_pct > 90 for 2s clear 80\n"
				 "rule mem\n when domain mem_pct >= 50\n scope project p1\n"
				 "rule errs\n when domain rate(disk.*.errors) > 0\n"
				 "rule drops\n when domain nic.*.rx_drops > 1 for 1s\n"
				 "rule ds\n when domain stale for 3s\n"
				 "rule down\n when node stale for 5s\n"
				 "rule lv\n when node libvirt_down\n"
				 "rule loss\n when node frame_loss > 10 clear 1\n"
				 "rule load\n when node load1 < 0.5 for 1s\n";

struct harness {
	struct eval *eval;
	struct sm_intake *intake;
	double now;
	unsigned long inputs;
	char state[64];
};

static struct harness *current;

static void check(void *ctx, const struct alert_info *a)
{
	const struct rule_set *rs = eval_rules(((struct harness *)ctx)->eval);

	if (a->rule < rs->rules || a->rule >= rs->rules + rs->n || !sm_wire_host_valid(a->host))
		abort();
}

static void sink_stats(void *ctx, const struct sm_message *m, int64_t now_ns, bool complete)
{
	struct harness *h = ctx;

	(void)now_ns;
	eval_apply_stats(h->eval, m, h->now, complete, check, h);
}

static void sink_event(void *ctx, const struct sm_message *m)
{
	struct harness *h = ctx;

	eval_apply_event(h->eval, m, check, h);
}

static void sink_lost(void *ctx, const struct sm_header *hdr, uint64_t lost)
{
	struct harness *h = ctx;

	if (hdr->kind == SM_KIND_STATS)
		eval_note_frame(h->eval, hdr->host, lost);
}

static void harness_end(void)
{
	if (!current)
		return;
	sm_intake_destroy(&current->intake);
	eval_destroy(&current->eval);
	unlink(current->state);
}

static struct harness *harness_get(void)
{
	static struct harness h;
	char err[256];
	struct rule_set *rules;
	struct sm_intake_sink sink = {
	    .ctx = &h, .stats = sink_stats, .event = sink_event, .lost = sink_lost};

	if (current)
		return current;
	sm_log_open("fuzz_alert_eval", SM_LOG_ERR, false);
	rules = rules_parse("fuzz", rules_text, err, sizeof(err));
	h.eval = rules ? eval_new(&rules) : NULL;
	h.intake = h.eval ? sm_intake_new(&sink, FUZZ_MAX_FRAME, NULL) : NULL;
	if (!h.intake)
		abort();
	h.now = 1e9;
	snprintf(h.state, sizeof(h.state), "/tmp/fuzz-alert-state-%d", (int)getpid());
	current = &h;
	atexit(harness_end);
	return current;
}

/* The state file written and read back: every pair it holds restores. */
static void round_trip(struct harness *h)
{
	char err[512], text[256];
	struct rule_set *rules = rules_parse("fuzz", rules_text, text, sizeof(text));
	struct eval *e2 = rules ? eval_new(&rules) : NULL;
	struct statefile_result res;
	struct eval_stats a, b;

	if (!e2 || statefile_save(h->eval, h->state, err, sizeof(err)) < 0 ||
	    statefile_load(e2, h->state, h->now, &res, err, sizeof(err)) < 0)
		abort();
	eval_get_stats(h->eval, &a);
	if (res.skipped != 0 || res.pairs != a.pending + a.firing)
		abort();
	eval_tick(e2, h->now, 0, NULL, NULL); /* nothing restored may notify at once */
	eval_get_stats(e2, &b);
	if (b.fired != 0)
		abort();
	eval_destroy(&e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness *h = harness_get();
	struct eval_stats st;
	size_t split;

	if (size < 1)
		return 0;
	split = data[0] < size ? data[0] : size - 1;
	data++;
	size--;
	split = split < size ? split : size;

	sm_intake_message(h->intake, 2, data, split, data + split, size - split, 0);
	eval_tick(h->eval, h->now, 30, check, h);
	h->now += 1;
	eval_get_stats(h->eval, &st);
	if (st.firing + st.pending > st.pairs)
		abort();
	if (++h->inputs % 8 == 0)
		round_trip(h);
	return 0;
}
