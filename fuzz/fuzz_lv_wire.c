/*
 * fuzz_lv_wire.c — libFuzzer target for the replies the monitor's pipelined
 * libvirt client reads from libvirtd's socket (src/monitor/lv_wire.c). The
 * first byte chooses the decoder; the rest is the body (or, for the header,
 * the whole message). Beyond "no crash, no read past the end" (ASan), it
 * checks that a decoder that accepts a body used all of it, and that an
 * error message is a terminated string without control characters.
 * replay_main.c runs it over the checked-in corpus in every test build.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lv_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lv_wire_header h;
	struct lv_wire_info info;
	struct lv_wire_block block;
	struct lv_wire_iface iface;
	struct lv_wire_memory mem;
	char msg[64];
	bool none_ok;
	int code;

	if (size < 1)
		return 0;
	const uint8_t *body = data + 1;
	size_t len = size - 1;

	switch (data[0] % 7) {
	case 0:
		if (lv_wire_header_parse(body, len, &h) == 0 &&
		    (len < LV_WIRE_HEADER_LEN || h.length != len))
			abort();
		break;
	case 1:
		if (lv_wire_info_parse(body, len, &info) == 0 && len != 32)
			abort();
		break;
	case 2:
		if (lv_wire_block_parse(body, len, &block) == 0 && len != 40)
			abort();
		break;
	case 3:
		if (lv_wire_iface_parse(body, len, &iface) == 0 && len != 64)
			abort();
		break;
	case 4:
		if (lv_wire_memory_parse(body, len, &mem) == 0 &&
		    (mem.n > LV_WIRE_MAX_MEMORY_STATS || len != 4 + 12 * (size_t)mem.n))
			abort();
		break;
	case 5:
		if (lv_wire_auth_none_parse(body, len, &none_ok) == 0 && len % 4 != 0)
			abort();
		break;
	case 6:
		if (lv_wire_error_parse(body, len, &code, msg, sizeof(msg)) == 0) {
			size_t n = strnlen(msg, sizeof(msg));

			if (n == sizeof(msg))
				abort();
			for (size_t i = 0; i < n; i++)
				if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
					abort();
		}
		break;
	}
	return 0;
}
