/*
 * fuzz_aggregator_writer.c — libFuzzer target for the aggregator's receive
 * path after the socket: the frame decoded as the daemon decodes it, then
 * written by the real writer into a real data directory (Whisper files,
 * sqlite index), with housekeeping (stale marks, purges) running as the
 * fuzzer's clock advances a second per input.
 *
 * Input layout (shared with the other targets, so one corpus seeds all):
 * byte 0 is where the rest splits into topic and body.
 * Checked beyond "no crash, no leak": whatever the frames say, the limits
 * hold — never more hosts, domains or files than configured — and what the
 * writer counts as written never exceeds what it was given.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH|FTW_PHYS */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datadir.h"
#include "index.h"
#include "layout.h"
#include "sm_brief.h"
#include "sm_log.h"
#include "sm_wire.h"
#include "whisper.h"
#include "writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_FRAME 65536
/* Small limits, so the fuzzer meets every one of them quickly. */
#define FUZZ_MAX_HOSTS 4
#define FUZZ_MAX_DOMAINS_PER_HOST 8
#define FUZZ_MAX_FILES 400

struct harness {
	char dir[64];
	struct datadir *datadir;
	struct agg_index *index;
	struct whisper_retention archives[2];
	size_t narchives;
	struct writer *writer;
	struct sm_brief *brief; /* as the aggregator: brief records expanded first */
	double now; /* the fuzzer's clock: a second per input */
	unsigned long inputs;
};

static struct harness *current;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* The data directory lives for the process: removed at exit. */
static void harness_end(void)
{
	if (!current)
		return;
	writer_destroy(&current->writer);
	sm_brief_free(&current->brief);
	index_close(&current->index);
	datadir_close(&current->datadir);
	nftw(current->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct harness *harness_get(void)
{
	static struct harness h;
	struct whisper_err werr;
	enum index_error ierr = INDEX_OK;
	char err[4400], path[4200];

	if (current)
		return current;
	sm_log_open("fuzz_aggregator_writer", SM_LOG_ERR, false);
	snprintf(h.dir, sizeof(h.dir), "/tmp/sm-fuzz-agg-XXXXXX");
	if (!mkdtemp(h.dir))
		abort();
	h.datadir = datadir_open(h.dir, err, sizeof(err));
	if (!h.datadir) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	if (datadir_abs(h.datadir, LAYOUT_INDEX_FILE, path, sizeof(path)) < 0 ||
	    !(h.index = index_open(path, INDEX_READ_WRITE, &ierr)))
		abort();
	/* Tiny files: a minute of seconds, an hour of minutes. */
	if (whisper_retention_parse("1s:1m,1m:1h", h.archives, 2, &h.narchives, &werr) != 0)
		abort();
	{
		struct writer_config wc = {
			.dir = h.datadir,
			.index = h.index,
			.archives = h.archives,
			.narchives = h.narchives,
			.xff = 0.5,
			.preallocate = false,
			.grace_s = 0,
			.stale_s = 5,
			.max_open_files = 32,
			.flush_interval = 2,
			.future_tolerance_s = 5,
			.allow_project_change = false,
			.limits =
				{
					.max_hosts = FUZZ_MAX_HOSTS,
					.max_domains_per_host = FUZZ_MAX_DOMAINS_PER_HOST,
					.max_new_domains_per_min = 16,
					.max_data_files = FUZZ_MAX_FILES,
					.max_data_bytes = 64ull << 20,
				},
		};

		h.writer = writer_new(&wc);
	}
	h.brief = sm_brief_new(FUZZ_MAX_HOSTS, FUZZ_MAX_DOMAINS_PER_HOST);
	if (!h.writer || !h.brief)
		abort();
	current = &h;
	atexit(harness_end);
	return current;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness *h = harness_get();
	struct sm_message m;
	struct sm_wire_error err;
	struct writer_counters c;
	size_t split;

	if (size < 1)
		return 0;
	split = data[0] < size ? data[0] : size - 1;
	data++;
	size--;
	split = split < size ? split : size;

	if (sm_wire_decode_frames(data, split, data + split, size - split, FUZZ_MAX_FRAME, &m, &err) ==
	    0) {
		/* The clock starts at the first frame's time, so the seed
		 * corpus lands inside the retention; then one second an input. */
		if (h->now == 0)
			h->now = m.hdr.time;
		struct sm_brief_result br;

		if (sm_brief_expand(h->brief, &m, &br) < 0)
			abort(); /* no allocation fails here */
		for (size_t i = 0; m.hdr.kind == SM_KIND_STATS && i < m.u.stats.ndomains; i++) {
			if (m.u.stats.domains[i].flags & SM_DOM_BRIEF)
				abort(); /* the writer sees full records only */
		}
		if (m.hdr.kind == SM_KIND_STATS || m.hdr.kind == SM_KIND_EVENT)
			writer_frame(h->writer, &m, h->now);
		sm_message_clear(&m);
	}
	if (h->now != 0)
		h->now += 1;
	if (++h->inputs % 16 == 0)
		writer_housekeeping(h->writer, h->now);
	writer_counters(h->writer, &c);
	if (c.data_files > FUZZ_MAX_FILES)
		abort(); /* the file budget held */
	if (c.domains > (uint64_t)FUZZ_MAX_HOSTS * FUZZ_MAX_DOMAINS_PER_HOST)
		abort(); /* domains per host and hosts in all held */
	return 0;
}
