/*
 * pyset — the order in which CPython (3.11) iterates set(list_of_ints).
 * python-whisper's update_many propagates "for interval in set(...)", and the
 * first propagation into an empty coarse archive decides which interval
 * lands in slot 0. Replaying CPython's open-addressing table here keeps our
 * files byte-identical to python-whisper's, not merely equivalent.
 */
#ifndef PYSET_H
#define PYSET_H

#include <stddef.h>
#include <stdint.h>

/*
 * Writes to `out` (room for n keys) the distinct values of keys[0..n) in
 * the order `list(set(keys))` gives in CPython 3.11, and their number to
 * *out_n. Keys are non-negative ints below 2^61 (their hash is the value).
 * Returns 0 or -ENOMEM.
 */
int pyset_order(const uint32_t *keys, size_t n, uint32_t *out, size_t *out_n);

#endif
