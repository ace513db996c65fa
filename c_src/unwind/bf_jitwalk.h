/* bf_jitwalk: the Erlang call chain through JIT-compiled code (x86-64, OTP 25 with
 * `+JPperf map|true`: every JIT function starts `push rbp; mov rbp,rsp` and ends with
 * `leave`), walked on a copy of a thread's stack taken while it was stopped.
 *
 * Frame 0 is the sampled pc. Its caller is found by the frame-pointer chain, fixed up when
 * the sample landed where rbp is not (yet, or any more) the function's frame:
 *   at `push rbp` (55):          return address at [rsp], rbp still the caller's;
 *   at `mov rbp,rsp` (48 89 e5): saved rbp at [rsp], return address at [rsp+8];
 *   at `ret` (c3, after leave):  return address at [rsp], rbp already the caller's.
 * Then each frame's return address is at [rbp+8] and the caller's rbp at [rbp], as long
 * as the addresses are JIT code (a callback says) and rbp climbs the stack.
 *
 * Pure: reads only the snapshot. Any address outside it ends the walk.
 */
#ifndef BF_JITWALK_H
#define BF_JITWALK_H

#include <stddef.h>
#include <stdint.h>

typedef struct bf_stack_snap {
    uint64_t base;        /* target address of bytes[0] (the thread's rsp when copied) */
    const uint8_t *bytes; /* the copy */
    size_t len;
} bf_stack_snap;

/* The 8-byte word at target address addr: 0, or -1 when outside the snapshot. */
int bf_snap_word(const bf_stack_snap *s, uint64_t addr, uint64_t *out);

/* Whether pc is JIT code (the perf map knows it, or it lies in the JIT's memory). */
typedef int (*bf_is_jit_fn)(void *ctx, uint64_t pc);

/* Walks from (pc, sp, fp); code holds the first bytes at pc (ncode may be 0: no fix-up).
 * Writes up to max addresses (pc, then return addresses) into pcs and returns how many.
 * *exit_ret receives the first return address that is not JIT code (where the chain
 * left the JIT, e.g. into the C scheduler loop), 0 if the chain just ended. *bottom (may
 * be NULL) is set to 1 when the walk reached the process's first frame, whose saved rbp
 * is 0: the chain is complete (its last return address, `erts_beamasm:normal_exit/0`, is
 * where a process ends and is not written). */
size_t bf_jit_walk(const bf_stack_snap *s, uint64_t pc, uint64_t sp, uint64_t fp,
                   const uint8_t *code, size_t ncode, bf_is_jit_fn is_jit, void *ctx,
                   uint64_t *pcs, size_t max, uint64_t *exit_ret, int *bottom);

#endif
