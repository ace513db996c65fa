/* bf_flame: the flamegraph.pl-compatible merge of sorted stacks. See bf_flame.h. */
#include "bf_flame.h"

#include <stdlib.h>

typedef struct bf_open {
    uint32_t name;
    uint64_t start;
    double delta;
} bf_open;

/* Closes the open frames deeper than `keep` at time t, deepest first, reporting each.
 * Returns the callback's first non-zero value, else 0. */
static int bf_flame_close(bf_open *open, size_t *open_depth, size_t keep, uint64_t t,
                          bf_flame_cb cb, void *ctx)
{
    int rc = 0;
    bf_flame_node node;
    while (*open_depth > keep && rc == 0) {
        (*open_depth)--;
        node.name = open[*open_depth].name;
        node.depth = (uint32_t)*open_depth + 1;
        node.start = open[*open_depth].start;
        node.end = t;
        node.delta = open[*open_depth].delta;
        rc = cb(&node, ctx);
    }
    return rc;
}

int bf_flame_walk(const bf_stack_table *st, const uint32_t *order, bf_flame_cb cb, void *ctx)
{
    return bf_flame_walk_delta(st, order, NULL, cb, ctx);
}

int bf_flame_walk_delta(const bf_stack_table *st, const uint32_t *order, const double *delta,
                        bf_flame_cb cb, void *ctx)
{
    return bf_flame_walk_pruned(st, order, delta, 0, NULL, cb, ctx);
}

/* Frames shared with the previous stack in order continue; the frames a stack shares
 * with neither neighbour are its own, opened and closed around its weight alone: when
 * that weight is below min_weight they are only counted. */
int bf_flame_walk_pruned(const bf_stack_table *st, const uint32_t *order, const double *delta,
                         double min_weight, uint64_t *skipped, bf_flame_cb cb, void *ctx)
{
    uint32_t n = bf_st_stack_count(st);
    size_t max_depth = bf_st_get_caps(st)->max_depth;
    bf_open *open = malloc((max_depth + 1) * sizeof(bf_open));
    if (!open)
        return -1;
    size_t open_depth = 0; /* frames open, excluding the root */
    uint64_t t = 0;
    double total_delta = 0;
    int rc = 0;
    bf_flame_node node;
    size_t depth = 0, next_depth = 0;
    uint64_t weight = 0, next_weight = 0;
    const uint32_t *ids = NULL;
    const uint32_t *next = n ? bf_st_stack(st, order[0], &next_depth, &next_weight) : NULL;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        ids = next;
        depth = next_depth;
        weight = next_weight;
        size_t same = 0;
        while (same < open_depth && same < depth && open[same].name == ids[same])
            same++;
        rc = bf_flame_close(open, &open_depth, same, t, cb, ctx);
        size_t upto = depth;
        if ((double)weight < min_weight) {
            size_t shared = same;
            if (i + 1 < n) {
                next = bf_st_stack(st, order[i + 1], &next_depth, &next_weight);
                size_t k = 0;
                while (k < depth && k < next_depth && ids[k] == next[k])
                    k++;
                if (k > shared)
                    shared = k;
            }
            upto = shared;
            if (skipped)
                *skipped += depth - shared;
        } else if (i + 1 < n) {
            next = bf_st_stack(st, order[i + 1], &next_depth, &next_weight);
        }
        for (; open_depth < upto; open_depth++) {
            open[open_depth].name = ids[open_depth];
            open[open_depth].start = t;
            open[open_depth].delta = 0;
        }
        if (delta) {
            total_delta += delta[order[i]];
            for (size_t d = 0; d < open_depth; d++)
                open[d].delta += delta[order[i]];
        }
        t = (t > UINT64_MAX - weight) ? UINT64_MAX : t + weight;
    }
    if (rc == 0)
        rc = bf_flame_close(open, &open_depth, 0, t, cb, ctx);
    if (rc == 0) {
        node.name = BF_FLAME_ROOT;
        node.depth = 0;
        node.start = 0;
        node.end = t;
        node.delta = total_delta;
        rc = cb(&node, ctx);
    }
    free(open);
    return rc;
}
