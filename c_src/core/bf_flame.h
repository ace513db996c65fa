/* bf_flame: turns a stack table into flame graph frames.
 *
 * The walk visits stacks in bf_st_sorted() order and merges each with the previous one
 * the way flamegraph.pl's flow() does: frames shared with the previous stack continue,
 * the others close (a node is reported) and new ones open. The frame set and the counts
 * are therefore exactly flamegraph.pl's, including its habit of showing a frame twice
 * when a sibling's name sorts between its leaf line and its child lines (for example
 * `m:f/1`, `m:f/10`, `m:f/1;g`). Nodes are reported as they close, deepest first, then
 * the root (depth 0, "all"). Memory: one open frame per depth level.
 */
#ifndef BF_FLAME_H
#define BF_FLAME_H

#include "bf_stack_table.h"

#define BF_FLAME_ROOT UINT32_MAX /* name of the root node */

typedef struct bf_flame_node {
    uint32_t name;  /* frame id, or BF_FLAME_ROOT */
    uint32_t depth; /* 0 for the root; a stack's first frame is at depth 1 */
    uint64_t start; /* cumulative weight where the frame starts */
    uint64_t end;   /* ... and ends; width = end - start */
    double delta;   /* differential graphs: summed change of the stacks through it */
} bf_flame_node;

/* Return non-zero to stop the walk (that value is returned). */
typedef int (*bf_flame_cb)(const bf_flame_node *node, void *ctx);

/* order: bf_st_sorted(st) (or any permutation: flamechart order later). Returns 0, the
 * callback's non-zero value, or -1 on allocation failure. An empty table reports only
 * the root, with width 0. */
int bf_flame_walk(const bf_stack_table *st, const uint32_t *order, bf_flame_cb cb, void *ctx);
/* The same walk; delta (indexed by stack id, may be NULL) is summed into every frame a
 * stack passes through, so node.delta is the frame's inclusive change. */
int bf_flame_walk_delta(const bf_stack_table *st, const uint32_t *order, const double *delta,
                        bf_flame_cb cb, void *ctx);

/* The same walk, for a reader that ignores frames narrower than min_weight: the frames a
 * stack shares with neither of its neighbours in order (its own, as wide as its weight)
 * are, when its weight is below min_weight, not reported but added to *skipped (may be
 * NULL). Every frame reported is reported as by bf_flame_walk_delta. */
int bf_flame_walk_pruned(const bf_stack_table *st, const uint32_t *order, const double *delta,
                         double min_weight, uint64_t *skipped, bf_flame_cb cb, void *ctx);

#endif
