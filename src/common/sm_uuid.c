/*
 * sm_uuid — see sm_uuid.h. Both answers go through sm_uuid_parse, so what
 * the dashboard lets through and what the index and the wire accept are
 * one rule.
 */
#include "sm_uuid.h"

#include <stdint.h>
#include <string.h>

#include "sm_hex.h"

bool sm_uuid_valid(const char *text)
{
	uint8_t bin[16];

	return text != NULL && sm_uuid_parse(text, bin) == 0;
}

int sm_uuid_canonical(const char *text, char out[37])
{
	uint8_t bin[16];

	if (text == NULL || sm_uuid_parse(text, bin) < 0)
		return -1;
	sm_uuid_format(bin, out);
	return 0;
}

void sm_uuid_format(const uint8_t uuid[16], char buf[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[o++] = '-';
		buf[o++] = hex[uuid[i] >> 4];
		buf[o++] = hex[uuid[i] & 15];
	}
	buf[o] = '\0';
}

int sm_uuid_parse(const char *text, uint8_t uuid[16])
{
	size_t len = strlen(text);
	int n = 0;

	if (len != 36 && len != 32)
		return -1;
	for (size_t i = 0; i < len;) {
		int hi, lo;

		if (len == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (text[i] != '-')
				return -1;
			i++;
			continue;
		}
		hi = sm_hex_value(text[i]);
		lo = sm_hex_value(text[i + 1]);
		if (hi < 0 || lo < 0 || n >= 16)
			return -1;
		uuid[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return n == 16 ? 0 : -1;
}
