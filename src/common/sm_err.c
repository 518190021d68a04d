/*
 * sm_err — see sm_err.h. One vsnprintf behind the NULL/zero-size check
 * that every `char *err, size_t errlen` function needs.
 */
#include "sm_err.h"

#include <stdarg.h>
#include <stdio.h>

void sm_err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
