/*
 * fuzz_exporter_intake.c — libFuzzer target for the exporter's receive
 * path after the socket: a message handed to intake_message as the daemon
 * hands it (frame count, topic, body), into the real store, with silent
 * hosts expired as the fuzzer's clock advances, and the whole exposition
 * rendered every few inputs.
 *
 * Input layout (shared with the other targets, so one corpus seeds all):
 * byte 0 is where the rest splits into topic and body.
 * Checked beyond "no crash, no leak": new records never take the store
 * past max_series by more than one domain's devices can add, and every
 * rendered line is a comment or a sample whose label values are closed
 * and escaped as the text format wants, and whose value is a finite number.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expo.h"
#include "sm_intake.h"
#include "render.h"
#include "sm_log.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_FRAME	65536
#define FUZZ_MAX_SERIES 400 /* small, so the fuzzer meets the bound quickly */
/* What known domains may add past the bound: devices appearing later. */
#define FUZZ_SLACK (2 * SM_WIRE_MAX_DEVICES * (RENDER_PER_DISK + RENDER_PER_NIC))

struct harness {
	struct store *store;
	struct sm_intake *intake;
	int64_t now_ns; /* the fuzzer's clock: a second per input */
	unsigned long inputs;
};

static struct harness *current;

static void harness_end(void)
{
	if (!current)
		return;
	sm_intake_destroy(&current->intake);
	store_destroy(&current->store);
}

static struct harness *harness_get(void)
{
	static struct harness h;
	struct store_sizes sizes;

	if (current)
		return current;
	sm_log_open("fuzz_exporter_intake", SM_LOG_ERR, false);
	render_sizes(&sizes);
	h.store = store_new(&sizes, FUZZ_MAX_SERIES);
	if (h.store) {
		struct sm_intake_sink sink = store_intake_sink(h.store);

		h.intake = sm_intake_new(&sink, FUZZ_MAX_FRAME, NULL);
	}
	if (!h.intake)
		abort();
	current = &h;
	atexit(harness_end);
	return current;
}

/* A sample line: NAME, optionally {name="value",...}, a space, a value;
 * values closed, and a backslash only before \, " or n. */
static void check_sample(const char *line, size_t len)
{
	size_t i = strcspn(line, "{ ");
	char value[64], *end;
	double v;

	if (i == 0 || i >= len)
		abort();
	if (line[i] == '{') {
		for (i++; i < len && line[i] != '}';) {
			while (i < len && line[i] != '=')
				i++;
			if (i + 1 >= len || line[i + 1] != '"')
				abort();
			for (i += 2; i < len && line[i] != '"'; i++)
				if (line[i] == '\\' && (++i >= len || !strchr("\\\"n", line[i])))
					abort();
			if (i >= len)
				abort();
			i++;
			if (i < len && line[i] == ',')
				i++;
		}
		if (i >= len || line[i] != '}' || i + 1 >= len || line[i + 1] != ' ')
			abort();
		i++;
	}
	/* The value: a finite number, nothing after it. */
	if (len - i - 1 >= sizeof(value))
		abort();
	memcpy(value, line + i + 1, len - i - 1);
	value[len - i - 1] = '\0';
	v = strtod(value, &end);
	if (end == value || *end || !isfinite(v))
		abort();
}

static void check_exposition(const struct harness *h)
{
	struct sm_intake_counters in = *sm_intake_counters(h->intake);
	struct render_health rh = {.started_ns = h->now_ns};
	struct expo_buf b = {0};

	render_metrics(&b, h->store, &in, &rh, h->now_ns);
	if (b.failed)
		abort();
	for (const char *p = b.data; p && *p;) {
		const char *nl = strchr(p, '\n');

		if (!nl)
			abort(); /* every line ends */
		if (*p != '#')
			check_sample(p, (size_t)(nl - p));
		p = nl + 1;
	}
	expo_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness *h = harness_get();
	size_t split;

	if (size < 1)
		return 0;
	split = data[0] < size ? data[0] : size - 1;
	data++;
	size--;
	split = split < size ? split : size;

	sm_intake_message(h->intake, 2, data, split, data + split, size - split, h->now_ns);
	h->now_ns += 1000000000;
	store_expire(h->store, h->now_ns, 30);
	if (store_series(h->store) > FUZZ_MAX_SERIES + FUZZ_SLACK)
		abort(); /* the bound held */
	if (++h->inputs % 8 == 0)
		check_exposition(h);
	return 0;
}
