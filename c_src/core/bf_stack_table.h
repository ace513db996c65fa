/* bf_stack_table: the aggregation structure every profiling mode feeds.
 *
 * Frame names are interned once (frame id = index, dense from 0). A stack is a sequence
 * of frame ids, root first, with a weight (samples, or microseconds for traced runs).
 * Adding a stack that is already present adds to its weight, so memory grows with the
 * number of *distinct* stacks, never with the number of samples.
 *
 * Caps bound everything: distinct stacks, frames per stack and total bytes allocated. A
 * stack deeper than max_depth keeps its root-most frames and ends in the pseudo-frame
 * BF_ST_TRUNCATED_FRAME (counted as truncated). An addition that would need memory past a
 * cap is refused and counted (dropped samples and dropped weight), never grown into.
 *
 * Not thread-safe: the NIF wraps each table in a mutex; the command line has one thread.
 */
#ifndef BF_STACK_TABLE_H
#define BF_STACK_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* Defaults, chosen so that a default sampling run on a large node stays within tens of
 * megabytes: 100k distinct stacks is far more than a flame graph can show. */
#define BF_ST_DEFAULT_MAX_STACKS 100000u
#define BF_ST_DEFAULT_MAX_DEPTH 256u
#define BF_ST_DEFAULT_MAX_BYTES (256u * 1024u * 1024u)
/* Hard limit on max_depth: deeper stacks are not readable as flame graphs anyway. */
#define BF_ST_MAX_DEPTH_LIMIT 4096u
/* Leaf frame that marks a stack cut at max_depth. */
#define BF_ST_TRUNCATED_FRAME "[truncated]"

typedef struct bf_st_caps {
    uint32_t max_stacks; /* distinct stacks; >= 1 */
    uint32_t max_depth;  /* frames per stack, 1..BF_ST_MAX_DEPTH_LIMIT */
    size_t max_bytes;    /* all allocations of the table together */
} bf_st_caps;

typedef struct bf_st_stats {
    uint64_t added_samples;    /* additions accepted (each may carry any weight) */
    uint64_t total_weight;     /* sum of weights held */
    uint64_t dropped_samples;  /* additions refused by a cap */
    uint64_t dropped_weight;   /* their weight */
    uint64_t dropped_by_stacks; /* ...of which refused for max_stacks */
    uint64_t dropped_by_bytes;  /* ...of which refused for max_bytes */
    uint64_t truncated;        /* additions cut to max_depth */
} bf_st_stats;

typedef struct bf_stack_table bf_stack_table;

typedef enum bf_st_result {
    BF_ST_OK = 0,
    BF_ST_DROPPED = 1,   /* refused by a cap; counted in stats */
    BF_ST_INVALID = -1,  /* bad argument (NULL, depth 0) */
} bf_st_result;

/* Fills caps with the defaults above. */
void bf_st_default_caps(bf_st_caps *caps);
/* NULL on allocation failure or caps out of range. */
bf_stack_table *bf_st_new(const bf_st_caps *caps);
void bf_st_free(bf_stack_table *st);

/* Interns a name (any bytes, length n). Returns its id, or -1 when the bytes cap forbids
 * a new name (counted by the caller's subsequent drop). */
int64_t bf_st_intern(bf_stack_table *st, const char *name, size_t n);

/* Interns names[0..n) (lengths lens[0..n)) into ids[0..n): the same as n calls of
 * bf_st_intern in order, but every name's lookup is started before the first is finished,
 * so that a large table's cache misses overlap instead of following one another. Returns
 * n, or the index of the first name the bytes cap refused (the ids before it are set). */
size_t bf_st_intern_many(bf_stack_table *st, const char *const *names, const size_t *lens,
                         size_t n, uint32_t *ids);

/* Adds weight to the stack `ids[0..depth)` (root first). On success *stack_id (may be NULL)
 * receives the stack's index, stable for the table's life. */
bf_st_result bf_st_add(bf_stack_table *st, const uint32_t *ids, size_t depth, uint64_t weight,
                       uint32_t *stack_id);
/* Starts fetching the memory bf_st_add(st, ids, depth, ...) will look at first. */
void bf_st_prefetch(const bf_stack_table *st, const uint32_t *ids, size_t depth);
/* Adds weight to an existing stack by index. BF_ST_INVALID if out of range. */
bf_st_result bf_st_add_weight(bf_stack_table *st, uint32_t stack_id, uint64_t weight);
/* The stack present in the table, uncredited: no sample, no weight (a stack carried over
 * into a new table, to be credited there later). Caps as for bf_st_add. */
bf_st_result bf_st_adopt(bf_stack_table *st, const uint32_t *ids, size_t depth,
                         uint32_t *stack_id);
/* Adds src to dst: every stack of src in src's order with its weight and credits, src's
 * names interned in src's order, and src's counts (samples added, drops, truncations).
 * A table filled from the first part of some input and merged with one filled from the
 * rest is the table filled from the whole (the same frame and stack ids), caps apart: a
 * stack dst's caps refuse is counted as dropped there. BF_ST_OK, BF_ST_DROPPED when
 * something was refused, BF_ST_INVALID for a NULL table. */
bf_st_result bf_st_merge(bf_stack_table *dst, const bf_stack_table *src);
/* Counts weight that a caller dropped before reaching the table (e.g. a name the bytes
 * cap refused), so every loss shows in one place. */
void bf_st_count_drop(bf_stack_table *st, uint64_t weight, int by_bytes);

/* Read access. Frame and stack indices are dense: 0..count-1. */
uint32_t bf_st_frame_count(const bf_stack_table *st);
const char *bf_st_frame_name(const bf_stack_table *st, uint32_t id, size_t *len);
uint32_t bf_st_stack_count(const bf_stack_table *st);
const uint32_t *bf_st_stack(const bf_stack_table *st, uint32_t idx, size_t *depth,
                            uint64_t *weight);
/* How many times stack idx was credited (samples added, or a trace's intervals). */
uint64_t bf_st_stack_credits(const bf_stack_table *st, uint32_t idx);
void bf_st_get_stats(const bf_stack_table *st, bf_st_stats *out);
size_t bf_st_bytes(const bf_stack_table *st);
const bf_st_caps *bf_st_get_caps(const bf_stack_table *st);

/* Stack indices ordered the way flamegraph.pl orders folded lines (byte order of
 * "f1;f2;...;fn " strings; a name holding a ';' orders as one frame: "a;b" then "c" is
 * after "a" then "c", where the raw bytes would say before). Returns a malloc'd array of bf_st_stack_count() entries, or
 * NULL on allocation failure (or an empty table). This order is what makes the flame
 * graph's merge deterministic and identical to flamegraph.pl's. */
uint32_t *bf_st_sorted(const bf_stack_table *st);

#endif
