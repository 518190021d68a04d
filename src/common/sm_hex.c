/*
 * sm_hex — see sm_hex.h. Explicit ranges rather than isxdigit(): the
 * answer must not depend on the locale.
 */
#include "sm_hex.h"

int sm_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
