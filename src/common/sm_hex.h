/*
 * sm_hex — hexadecimal digits in untrusted text (URL escapes, UUIDs).
 */
#ifndef SM_HEX_H
#define SM_HEX_H

/* The value 0-15 of hex digit c, either case; -1 for any other char. */
int sm_hex_value(char c);

#endif
