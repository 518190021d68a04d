/*
 * sm_json — the one way StackMon writes a number into JSON: stackmon-sub,
 * `stackmon-monitor --once` and the dashboard's API all print through it,
 * so the same value reads the same everywhere (docs/PROTOCOL.md, "Numbers
 * in JSON").
 *
 * Integral values below 2^53 print as integers ("42", no ".0", no
 * exponent); a value a float32 holds exactly (the wire's rates,
 * percentages and loads) prints in the fewest digits (6 to 9) that read
 * back as the same float; other finite values print in the fewest (15 to
 * 17) that read back as the same double, so no digit is invented and none
 * the value carried is lost; NaN and infinities, which JSON cannot hold,
 * print as null (they mean "unknown" on the wire).
 */
#ifndef SM_JSON_H
#define SM_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Enough for any output of sm_json_number, with its NUL. */
#define SM_JSON_NUMBER_MAX 32

/* Writes v into buf (NUL-terminated, truncated to n - 1 bytes if n is too
 * small); returns the length of the full text. */
size_t sm_json_number(char *buf, size_t n, double v);

/* Writes v to out in the same format. */
void sm_json_put_number(FILE *out, double v);

#endif
