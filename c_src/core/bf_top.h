/* bf_top: the numbers of `beamflame top`, from folded stacks: per function its own count
 * (stacks where it is the leaf) and total count (stacks it is in, once per stack), for
 * the last interval and since the start; per root frame (a process, when the sampler
 * groups by process) its samples. Fed the cumulative folded text of a live profile at each
 * refresh: an interval is the difference between two refreshes (own and total add up over
 * stacks, so functions' differences are the interval's). Pure: no I/O.
 */
#ifndef BF_TOP_H
#define BF_TOP_H

#include <stddef.h>
#include <stdint.h>

typedef struct bf_top bf_top;

typedef struct bf_top_row {
    const char *name;             /* valid until the next bf_top_update */
    uint64_t own, total;          /* in the last interval */
    uint64_t own_all, total_all;  /* since the start */
} bf_top_row;

bf_top *bf_top_new(void);
void bf_top_free(bf_top *t);

/* A new cumulative snapshot (folded text: `frame;frame count` lines). With roots set, the
 * first frame of each stack is a root (a process) and not a function. 0, or -1 when out
 * of memory (the previous numbers are kept). */
int bf_top_update(bf_top *t, const char *folded, size_t len, int roots);

/* The same with the text of one interval only (native mode's runs, one per interval):
 * added to what came before. */
int bf_top_add_interval(bf_top *t, const char *folded, size_t len, int roots);

/* Samples in the last interval and since the start. */
void bf_top_samples(const bf_top *t, uint64_t *interval, uint64_t *all);

/* The functions (or the roots, with roots set) into rows, at most max, sorted by the
 * interval's total (by_total) or own count, then by name. Returns how many. */
size_t bf_top_rows(const bf_top *t, int roots, int by_total, bf_top_row *rows, size_t max);

#endif
