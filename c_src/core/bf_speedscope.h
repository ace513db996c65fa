/* bf_speedscope: a stack table as speedscope's JSON file format (a "sampled" profile:
 * one sample per distinct stack, weighted by its count). Frame names become JSON strings:
 * quotes, backslashes and control characters escaped, invalid UTF-8 as U+FFFD, so the
 * output is valid JSON for any name. Evented (time-ordered) profiles for traced runs
 * come with the tracer. */
#ifndef BF_SPEEDSCOPE_H
#define BF_SPEEDSCOPE_H

#include "bf_buf.h"
#include "bf_stack_table.h"

/* name: the profile's name (UTF-8). unit: "none" for samples, "microseconds" for traced
 * weights. Returns 0, 1 for an empty table (nothing written), -1 on allocation failure. */
int bf_speedscope_write(const bf_stack_table *st, const char *name, const char *unit,
                        bf_buf *out);
/* Appends s[0..n) as a JSON string literal, quotes included. */
void bf_json_string(bf_buf *out, const char *s, size_t n);

#endif
