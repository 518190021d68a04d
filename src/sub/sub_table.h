/*
 * sub_table — stackmon-sub's compact human-readable output (--table): one
 * line per domain of a stats frame, one line per other message. Columns are
 * fixed-width so that `watch` and terminals line them up.
 */
#ifndef SUB_TABLE_H
#define SUB_TABLE_H

#include <stdio.h>

#include "sm_wire.h"

/* Prints the column header line. */
void sub_table_header(FILE *out);
/* Prints the message's lines. */
void sub_table_print(FILE *out, const struct sm_message *m);

#endif
