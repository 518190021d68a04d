/*
 * sm_uuid — see sm_uuid.h. Both answers go through sm_uuid_parse, so what
 * the dashboard lets through and what the index and the wire accept are
 * one rule.
 */
#include "sm_uuid.h"

#include <stdint.h>

#include "sm_wire.h"

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
