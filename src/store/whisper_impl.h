/*
 * whisper_impl — helpers shared by the whisper module's source files, not
 * part of its API: error reporting into struct whisper_err.
 */
#ifndef WHISPER_IMPL_H
#define WHISPER_IMPL_H

#include "whisper.h"

#define WHISPER_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))

/* Fills *err (when not NULL) with `code` and a formatted message; returns
 * `code` so callers can `return whisper_err_set(err, ...)`. */
int whisper_err_set(struct whisper_err *err, int code, const char *fmt, ...) WHISPER_PRINTF(3, 4);

#endif
