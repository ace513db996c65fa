/* bf_nname: see bf_nname.h. */
#include "bf_nname.h"

#include <stdio.h>
#include <string.h>

int bf_namer_is_jit(const bf_namer *nm, uint64_t pc)
{
    if (nm->jit_names && bf_perfmap_lookup(nm->pm, pc, NULL))
        return 1;
    const bf_map *m = bf_map_find(nm->maps, nm->nmaps, pc);
    return m && m->exec && !m->path[0];
}

int bf_name_pc(const bf_namer *nm, uint64_t pc, char *out, size_t len)
{
    const bf_map *m = bf_map_find(nm->maps, nm->nmaps, pc);
    if (nm->jit_names) {
        const char *s = bf_perfmap_lookup(nm->pm, pc, NULL);
        /* JIT memory the names do not cover yet: code loaded since the last read. Only
         * there is a re-read worth its I/O (C frames in files never are in the map). */
        if (!s && nm->reread && m && m->exec && !m->path[0] && nm->reread(nm->ctx) == 0)
            s = bf_perfmap_lookup(nm->pm, pc, NULL);
        if (s) {
            snprintf(out, len, "%s", s);
            return 1;
        }
    }
    if (m && nm->beam && bf_map_is_beam_file(m)) {
        bf_elfsym_name(nm->beam, pc - nm->beam_bias, out, len);
    } else if (m && m->path[0]) {
        const char *base = strrchr(m->path, '/');
        snprintf(out, len, "%s+0x%llx", base ? base + 1 : m->path,
                 (unsigned long long)(pc - m->start + m->offset));
    } else {
        snprintf(out, len, m ? "[jit 0x%llx]" : "[unknown 0x%llx]", (unsigned long long)pc);
    }
    return 0;
}

const char *bf_capability(int perf_map, int debugger_list, int frame_pointers)
{
    if (perf_map && frame_pointers)
        return "full: C frames and the Erlang call chain (perf map, frame pointers)";
    if (debugger_list && frame_pointers)
        return "full: C frames and the Erlang call chain (the JIT's debugger list, frame "
               "pointers)";
    if (perf_map || debugger_list)
        return "reduced: C frames and the innermost JIT frame (named from the JIT's debugger "
               "list), no Erlang callers; start the node with +JPperf map for whole chains";
    return "reduced: C frames only, JIT code unnamed; start the node with +JPperf map for "
           "Erlang frames";
}
