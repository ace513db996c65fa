/* bf_palette: frame colours. `hot' is flamegraph.pl's default look (colour from a hash
 * of the name, so identical input gives identical output). `beam' colours a frame by what
 * it is, which no other flame graph tool does for BEAM stacks:
 *   user code            warm orange-red (the default: anything not recognised below)
 *   Erlang/OTP stdlib    blue       (lists:, gen_server:, proc_lib:, ... see the list)
 *   Elixir stdlib        purple     (Enum., GenServer., Kernel., ...)
 *   BIFs and NIFs        yellow     (erlang:, erts_internal:, ets:, prim_*:, ...)
 *   native C             green      (no module and no /arity: process_main, beam.smp+0x..)
 *   JIT glue             teal       (global::..., module::codeHeader)
 *   garbage collection   brown      (names with garbage_collect / erts_garbage_collect)
 *   idle / sleep         light grey ([idle], [sleep], SLEEP, sleep)
 *   pseudo frames        dark grey  ([truncated], [dropped], other [bracketed] names)
 * The shade within a class comes from a hash of the name. */
#ifndef BF_PALETTE_H
#define BF_PALETTE_H

#include <stddef.h>

typedef enum bf_palette { BF_PALETTE_HOT = 0, BF_PALETTE_BEAM } bf_palette;

typedef enum bf_frame_class {
    BF_CLASS_USER = 0,
    BF_CLASS_OTP,
    BF_CLASS_ELIXIR,
    BF_CLASS_BIF,
    BF_CLASS_NATIVE,
    BF_CLASS_JIT,
    BF_CLASS_GC,
    BF_CLASS_IDLE,
    BF_CLASS_PSEUDO,
    BF_CLASS_COUNT
} bf_frame_class;

bf_frame_class bf_classify(const char *name, size_t len);
const char *bf_class_label(bf_frame_class c);
/* rgb[0..2] for the frame; the class's mid tone when name is NULL (for legends). */
void bf_palette_color(bf_palette p, bf_frame_class c, const char *name, size_t len, int rgb[3]);
/* "hot" or "beam" -> palette; -1 if unknown. */
int bf_palette_parse(const char *s);

#endif
