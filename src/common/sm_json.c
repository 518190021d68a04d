/*
 * sm_json.c — JSON numbers (sm_json.h). Why shortest round-trip rather than
 * a fixed precision: a fixed %.7g loses digits of counters and byte rates
 * that a float64 carries, and a fixed %.17g prints 0.1 as
 * 0.10000000000000001; trying 15, 16 and then 17 digits gives the shortest
 * text that strtod turns back into exactly the same double.
 *
 * Why float32 values are printed as floats: rates, percentages and loads
 * travel as float32, and the monitor measured 12.3, not the
 * 12.300000190734863 its float becomes as a double. A value that a float
 * holds exactly (and is not a whole number, which prints exactly anyway)
 * prints in the fewest digits (6 to 9) that strtof reads back
 * as the same float: nothing the wire carried is lost, and no digit is
 * invented. A double computed by a reader (an average) is almost never
 * exactly a float, and keeps its double digits.
 */
#include "sm_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXACT_INT_LIMIT 9007199254740992.0 /* 2^53: every integer below is a double */

size_t sm_json_number(char *buf, size_t n, double v)
{
	char tmp[SM_JSON_NUMBER_MAX];
	int len = 0;

	if (!isfinite(v)) {
		len = snprintf(tmp, sizeof(tmp), "null");
	} else if (v == floor(v) && fabs(v) < EXACT_INT_LIMIT) {
		/* -0 prints as 0: JSON readers differ on "-0", and no value of
		 * ours is negative zero on purpose. */
		len = snprintf(tmp, sizeof(tmp), "%.0f", v == 0 ? 0.0 : v);
	} else if (v != floor(v) && (double)(float)v == v) {
		for (int digits = 6; digits <= 9; digits++) {
			len = snprintf(tmp, sizeof(tmp), "%.*g", digits, v);
			if (strtof(tmp, NULL) == (float)v)
				break;
		}
	} else {
		for (int digits = 15; digits <= 17; digits++) {
			len = snprintf(tmp, sizeof(tmp), "%.*g", digits, v);
			if (strtod(tmp, NULL) == v)
				break;
		}
	}
	if (n > 0)
		snprintf(buf, n, "%s", tmp);
	return len > 0 ? (size_t)len : 0;
}

void sm_json_put_number(FILE *out, double v)
{
	char buf[SM_JSON_NUMBER_MAX];

	sm_json_number(buf, sizeof(buf), v);
	fputs(buf, out);
}
