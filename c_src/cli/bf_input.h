/* bf_input: reads a folded input (a file, or standard input) into a stack table for the
 * command line's svg and diff. A regular file is read through a window mapped over it
 * (page-cache pages in place, no copy) that moves along it, so memory is one window plus
 * the table; a large one is read in two parts at once, each into its own table, the
 * second merged into the first (bf_st_merge: the same table as reading it whole). Pipes
 * and anything that cannot be mapped are read in chunks. */
#ifndef BF_INPUT_H
#define BF_INPUT_H

#include "../core/bf_folded.h"

/* Files from this size on are read in two parts when two CPUs are online. */
#define BF_INPUT_SPLIT_MIN (32u << 20)

/* What reading found besides the stacks: malformed lines as the folded reader reports
 * them, numbered in the whole input. */
typedef struct bf_input_report {
    uint64_t lines;
    uint64_t malformed;
    bf_folded_error reported[BF_FOLDED_MAX_REPORTED];
    size_t nreported;
    int parts; /* read in this many parts at once (1, or 2) */
} bf_input_report;

/* Reads path (NULL or "-": standard input) into st; a regular file of split_min bytes or
 * more in two parts when it can. BF_EXIT_OK, BF_EXIT_IO (err says why: cannot open, cannot
 * read, truncated while read) or BF_EXIT_NOMEM. */
int bf_input_read(const char *path, bf_stack_table *st, uint64_t split_min,
                  bf_input_report *rep, char *err, size_t errlen);

#endif
