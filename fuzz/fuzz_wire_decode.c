/*
 * fuzz_wire_decode.c — libFuzzer target for everything that reads frames
 * from the network: topic parsing, header peeking and full decoding. The
 * first byte chooses how the rest is split into topic and body. Beyond "no
 * crash, no leak", it checks two properties: peek accepts whatever decode
 * accepts, and a decoded message re-encodes into a body that decodes again.
 * It also expands the message's brief records twice (the second time with
 * the full records of the first remembered), which must leave none.
 * Built with clang -fsanitize=fuzzer (STACKMON_FUZZ=ON); replay_main.c runs
 * the same function over the checked-in corpus in every test build.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_brief.h"
#include "sm_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void expand_twice(const uint8_t *data, size_t size)
{
	struct sm_brief *b = sm_brief_new(2, 64);
	struct sm_wire_error err;

	if (b == NULL)
		abort();
	for (int pass = 0; pass < 2; pass++) {
		struct sm_message m;
		struct sm_brief_result res;

		if (sm_wire_decode(data, size, 0, &m, &err) != 0)
			abort(); /* decoded a moment ago */
		if (sm_brief_expand(b, &m, &res) != 0)
			abort();
		for (size_t i = 0; m.hdr.kind == SM_KIND_STATS && i < m.u.stats.ndomains; i++) {
			if (m.u.stats.domains[i].flags & SM_DOM_BRIEF)
				abort(); /* every brief record expanded or left out */
		}
		sm_message_clear(&m);
	}
	sm_brief_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sm_message m;
	struct sm_header h;
	struct sm_wire_error err;
	size_t split;

	if (size < 1)
		return 0;
	split = data[0] < size ? data[0] : size - 1;
	data++;
	size--;
	split = split < size ? split : size;

	if (sm_wire_decode_frames(data, split, data + split, size - split, 0, &m, &err) == 0)
		sm_message_clear(&m);
	if (sm_wire_decode(data, size, 0, &m, &err) == 0) {
		msgpack_sbuffer buf;
		struct sm_message again;
		FILE *null = fopen("/dev/null", "w");

		struct sm_header env;

		if (sm_wire_peek_header(data, size, 0, &h, &err) != 0)
			abort(); /* peek must accept what decode accepts */
		/* ... and a relay's envelope check too, reading the same header */
		if (sm_wire_peek_envelope(data, size, 0, &env, &err) != 0 ||
		    memcmp(&env, &h, sizeof(h)) != 0)
			abort();
		if (null != NULL) {
			sm_wire_print_json(&m, null);
			fclose(null);
		}
		msgpack_sbuffer_init(&buf);
		if (sm_wire_encode(&m, &buf) != 0 ||
		    sm_wire_decode(buf.data, buf.size, 0, &again, &err) != 0)
			abort(); /* what we accept, we can re-send */
		sm_message_clear(&again);
		msgpack_sbuffer_destroy(&buf);
		sm_message_clear(&m);
		expand_twice(data, size);
	}
	(void)sm_wire_peek_header(data, size, 64, &h, &err);
	(void)sm_wire_peek_envelope(data, size, 0, &h, &err);
	return 0;
}
