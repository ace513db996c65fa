/* bf_trace: exact call stacks from call-trace events, time-weighted.
 *
 * Fed by the NIF tracer (erl_tracer callbacks) one event at a time: `call` (with the
 * calling function from the match spec's {caller}), `return_to`, scheduling out/in, and
 * process exit. Each traced process has two things:
 *  - its logical call stack, exact at any depth: an array of levels (function, shown node,
 *    repetitions), where consecutive calls that show as one node share a level, so a
 *    recursion 500,000 deep costs one level. Up to 2^18 levels a process (6 MiB); past it
 *    calls are shown but no longer followed (levels_dropped, procs_lost);
 *  - its position in a calling-context tree whose nodes are the stacks of an underlying
 *    bf_stack_table (node id = stack id): time and calls are credited to nodes, so memory
 *    grows with the number of *distinct shown* stacks, never with events or depth.
 *
 * Stack rules (what makes the stacks exact):
 *  - call F from caller C: the nearest level of C from the top is where F is called from.
 *    A tail call reports the caller's caller, so with tail_calls drop (the VM's view) the
 *    levels above C are popped: tail recursion stays flat. With tail_calls keep they stay
 *    shown under F, unless F is one of them (a loop re-entered): back to that level, so a
 *    cycle of tail calls stays bounded. A caller not on the stack (an untraced function)
 *    pops nothing; the caller of the process's first traced call means the outermost level.
 *  - return_to F: the top level (one repetition of it) returned: pop to the nearest level
 *    of F below; F being the caller of the first traced call means back at the root; any
 *    other F not on the stack means the process returned above what we saw: F becomes the
 *    new outermost frame.
 *  - what a level shows: with recursion fold, F already on the shown path (direct or
 *    mutual recursion) shows as that node again (the first repeat); else F's child of the
 *    node below, up to max_depth - 1 frames, then one [truncated] frame for everything
 *    deeper (depth_capped counts those calls).
 *  - time between two events of a process is credited to its shown node at the first of
 *    them, in nanoseconds; while it is scheduled out, to a SLEEP child of that node.
 * The root of each process's stacks is a frame naming the process (its pid).
 *
 * Not thread-safe: the NIF holds the session's mutex around every call.
 */
#ifndef BF_TRACE_H
#define BF_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "bf_stack_table.h"

#define BF_TRACE_NONE UINT32_MAX    /* no frame (e.g. no caller known) */
#define BF_TRACE_SLEEP_FRAME "sleep" /* eflambe's name for descheduled time */
#define BF_TRACE_CAPPED_FRAME "[truncated]" /* shown where a stack passed max_depth */

typedef struct bf_trace bf_trace;

typedef struct bf_trace_stats {
    uint64_t events;        /* events applied */
    uint64_t procs;         /* processes seen */
    uint64_t procs_dropped; /* events of processes past max_procs, dropped */
    uint64_t depth_capped;  /* calls past max_depth (shown under a [truncated] frame) */
    uint64_t nodes_dropped; /* calls refused by a table cap (time credited to the parent) */
    uint64_t levels_dropped; /* calls past a process's logical-stack cap (not followed) */
    uint64_t procs_lost;     /* processes whose stacks stopped being exact that way */
} bf_trace_stats;

/* caps bound the table (stacks, depth >= 2, bytes); max_procs bounds the process map.
 * NULL on allocation failure. Starts with recursion folded and the VM's tail calls. */
bf_trace *bf_trace_new(const bf_st_caps *caps, uint32_t max_procs);
void bf_trace_free(bf_trace *tr);

/* How stacks are shown (set before the first event).
 * fold (default 1): a function already on the shown stack (direct or mutual recursion)
 *   shows as that frame again, the first repeat, as eflambe draws it: output and memory
 *   follow distinct logical stacks. 0 (keep): every level, up to max_depth.
 * keep_tail (default 0): a frame that tail-called stays shown under its callee (a logical
 *   call tree); a tail-recursive loop stays one frame and a cycle of tail calls closes at
 *   its first repeat. 0: the VM's view, the tail-calling frame is gone. */
void bf_trace_set_modes(bf_trace *tr, int fold, int keep_tail);

/* Frames, keyed by three words (the NIF uses the module and function atoms' terms and the
 * arity). find: the frame id or -1; add: interns name for the key, returns its id or -1
 * (bytes cap). */
int64_t bf_trace_frame_find(const bf_trace *tr, uint64_t k1, uint64_t k2, uint64_t k3);
int64_t bf_trace_frame_add(bf_trace *tr, uint64_t k1, uint64_t k2, uint64_t k3,
                           const char *name, size_t len);

/* Whether the process (key: any unique word, e.g. its pid term) is known. */
int bf_trace_has_proc(const bf_trace *tr, uint64_t proc);
/* Starts a process at now_ns with root frame root (its name) and optional seed frames
 * (root-most first: where it already is). -1 past max_procs or out of memory. */
int bf_trace_begin(bf_trace *tr, uint64_t proc, uint32_t root, const uint32_t *seed, size_t n,
                   uint64_t now_ns);

/* Events of a known process (unknown ones are ignored: return -1). */
int bf_trace_call(bf_trace *tr, uint64_t proc, uint32_t frame, uint32_t caller, uint64_t now_ns);
int bf_trace_return_to(bf_trace *tr, uint64_t proc, uint32_t frame, uint64_t now_ns);
int bf_trace_out(bf_trace *tr, uint64_t proc, uint64_t now_ns);
int bf_trace_in(bf_trace *tr, uint64_t proc, uint64_t now_ns);
/* Credits the process's time up to now_ns and forgets it. */
int bf_trace_end(bf_trace *tr, uint64_t proc, uint64_t now_ns);
/* Credits every process's time up to now_ns (at the end of a run). */
void bf_trace_flush(bf_trace *tr, uint64_t now_ns);
/* The depth of the process's current stack (root frame included), 0 if unknown. */
uint32_t bf_trace_depth(const bf_trace *tr, uint64_t proc);

typedef enum bf_trace_weight {
    BF_TRACE_TIME = 0, /* microseconds of wall time (rounded; under half a us: left out) */
    BF_TRACE_CALLS     /* calls that entered the stack (its leaf called from its parent) */
} bf_trace_weight;

/* The result: a new table of the stacks with their weight, in the order they first
 * occurred. NULL on allocation failure. The tracer stays usable. */
bf_stack_table *bf_trace_result(const bf_trace *tr, const bf_st_caps *caps, bf_trace_weight w);
void bf_trace_get_stats(const bf_trace *tr, bf_trace_stats *out);
size_t bf_trace_bytes(const bf_trace *tr);

#endif
