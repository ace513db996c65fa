/* bf_pprof: a stack table as a gzipped profile.proto, the format of Go's pprof (and of
 * Pyroscope's ingest, Parca, Google Cloud Profiler). Written here by hand: a profile is a
 * handful of message types, and no protobuf library is needed to write them.
 *
 * What is written: the string table (entry 0 is ""), one Function and one Location per
 * distinct frame (ids are the frame's id + 1; no mappings: the names are the functions'
 * own), one Sample per distinct stack, its locations leaf first, its values as the
 * options say, and optionally a label holding the stack's root frame (a process, node or
 * thread); the period, time and duration when known. gzip by zlib.
 */
#ifndef BF_PPROF_H
#define BF_PPROF_H

#include <stdint.h>

#include "bf_buf.h"
#include "bf_stack_table.h"

typedef struct bf_pprof_opts {
    /* value[0] of every sample: its type and unit ("samples", "count"); the stack's
     * weight, or (count_credits) how many times the stack was credited */
    const char *type, *unit;
    int count_credits;
    /* value[1], if set: the weight with its own type and unit ("wall", "microseconds") */
    const char *weight_type, *weight_unit;
    /* the sampling period (e.g. "cpu", "nanoseconds", 10101010 for 99 Hz); 0: none */
    const char *period_type, *period_unit;
    int64_t period;
    int64_t time_nanos, duration_nanos; /* 0: unknown */
    /* the label key under which each sample carries its root frame, or NULL */
    const char *root_label;
} bf_pprof_opts;

/* Writes the table as gzipped profile.proto into out. 0, or -1 (no memory, or zlib). */
int bf_pprof_write(const bf_stack_table *st, const bf_pprof_opts *o, bf_buf *out);

/* The protobuf, not gzipped (for tests that read it back). */
int bf_pprof_encode(const bf_stack_table *st, const bf_pprof_opts *o, bf_buf *out);

#endif
