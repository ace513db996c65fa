/* The pipeline's stages as text, for golden files: shared by the Criterion test that
 * compares them (test_golden.c) and the tool that regenerates them (golden_dump.c, run
 * by scripts/regen-stage-goldens.sh). */
#ifndef BF_STAGES_H
#define BF_STAGES_H

#include "../core/bf_buf.h"

/* Stages: "merged" (folded text out: merged, sorted, escaped), "frames" (every frame
 * after the merge: depth, start, end, name), "pruned" (the frames kept at the default
 * minimum width and frame budget), "svg" (the default SVG). Returns 0, or -1 for an
 * unknown stage or a failure. */
int bf_stage(const char *stage, const char *input, size_t len, bf_buf *out);

#endif
