/*
 * sm_err — the caller-supplied error buffer: functions that can fail for a
 * reason worth showing (a config line, a query parameter) take
 * `char *err, size_t errlen` and fill it through sm_err_set.
 */
#ifndef SM_ERR_H
#define SM_ERR_H

#include <stddef.h>

#include "sm_log.h" /* SM_PRINTF */

/* Formats the message into err (size errlen), truncated to fit and always
 * NUL-terminated. A NULL err or a zero errlen means the caller wants no
 * message: nothing is written. */
void sm_err_set(char *err, size_t errlen, const char *fmt, ...) SM_PRINTF(3, 4);

#endif
