/* bf_nname: names of native mode's frames, from what the port program read of the target
 * (its memory map, beam.smp's symbols, the JIT's perf map or debugger list). Pure: the one
 * piece of I/O, re-reading the perf map for JIT code loaded since, is the caller's
 * callback. */
#ifndef BF_NNAME_H
#define BF_NNAME_H

#include <stddef.h>
#include <stdint.h>

#include "../unwind/bf_beamproc.h"
#include "../unwind/bf_elfsym.h"
#include "../unwind/bf_perfmap.h"

typedef struct bf_namer {
    const bf_map *maps;
    size_t nmaps;
    const bf_elfsym *beam; /* beam.smp's symbols, or NULL */
    uint64_t beam_bias;    /* its load bias */
    bf_perfmap *pm;        /* the JIT's names */
    int jit_names;         /* pm holds names (perf map, or the debugger list) */
    /* asked once per miss in unnamed JIT memory: 0 when pm was re-read (the perf map,
     * or the debugger list, grows as code loads); NULL when names cannot grow */
    int (*reread)(void *ctx);
    void *ctx;
} bf_namer;

/* Whether pc is JIT code: named by the JIT, or executable memory that is no file. */
int bf_namer_is_jit(const bf_namer *nm, uint64_t pc);
/* pc's frame name into out: the JIT's name, beam.smp's symbol, else file+offset, else
 * [jit 0x...] or [unknown 0x...]. 1 when the JIT's names gave it. */
int bf_name_pc(const bf_namer *nm, uint64_t pc, char *out, size_t len);
/* What a profile can show, as info's `capability` text (its fix included). */
const char *bf_capability(int perf_map, int debugger_list, int frame_pointers);

#endif
