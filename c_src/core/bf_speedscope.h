/* bf_speedscope: a stack table as speedscope's JSON file format. Sampled: one sample per
 * distinct stack, weighted by its count, in flamegraph.pl's order. Evented: the stacks in
 * the order they were added (time order, for traced runs) as open/close events, each
 * stack lasting its weight. Frame names become JSON strings: quotes, backslashes and
 * control characters escaped, invalid UTF-8 as U+FFFD, so the output is valid JSON for
 * any name. */
#ifndef BF_SPEEDSCOPE_H
#define BF_SPEEDSCOPE_H

#include "bf_buf.h"
#include "bf_stack_table.h"
#include "bf_svg.h"

/* name: the profile's name (UTF-8). unit: "none" for samples, "microseconds" for traced
 * weights. Returns 0, 1 for an empty table (nothing written), -1 on allocation failure. */
int bf_speedscope_write(const bf_stack_table *st, const char *name, const char *unit,
                        bf_buf *out);
/* The evented form; same return values. */
int bf_speedscope_write_evented(const bf_stack_table *st, const char *name, const char *unit,
                                bf_buf *out);
/* The speedscope output for the renderers' options: named by the title, evented when
 * `flamechart' is set (time order), sampled otherwise; the unit is "microseconds" when
 * the count name says so ("us", "µs", "microseconds"), else "none". Returns BF_SVG_OK,
 * BF_SVG_EMPTY or BF_SVG_NOMEM, like the other renderers. */
bf_svg_status bf_speedscope_render(const bf_stack_table *st, const bf_svg_opts *o, bf_buf *out);

/* Appends s[0..n) as a JSON string literal, quotes included. */
void bf_json_string(bf_buf *out, const char *s, size_t n);

#endif
