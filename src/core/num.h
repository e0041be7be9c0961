/*
 * num.h — integers from text that people and operators give (query parameters, flags):
 * the whole text, in range, or an error. Integers PostgreSQL formatted itself are read with
 * atoll where they come back.
 */
#ifndef SK_NUM_H
#define SK_NUM_H

/* Parse text as a decimal integer in [min, max]: optional sign, digits, nothing else (no
 * spaces, no suffix). Returns 0 and sets *out, or -1 leaving *out alone. */
int num_parse(const char *text, long long min, long long max, long long *out);

#endif
