/* bf_jitwalk: frame-pointer walk through JIT frames on a stack copy. See bf_jitwalk.h. */
#include "bf_jitwalk.h"

#include <string.h>

int bf_snap_word(const bf_stack_snap *s, uint64_t addr, uint64_t *out)
{
    if (addr < s->base || addr - s->base > s->len || s->len - (addr - s->base) < 8)
        return -1;
    memcpy(out, s->bytes + (addr - s->base), 8);
    return 0;
}

enum { BF_STEP_OK, BF_STEP_BOTTOM, BF_STEP_END };

/* One frame up the chain: the return address at [fp+8], the caller's frame at [fp]. The
 * process's first frame saved rbp 0; any other frame must lie above this one. */
static int bf_step(const bf_stack_snap *s, uint64_t *fp, uint64_t *ret)
{
    uint64_t up;
    if (bf_snap_word(s, *fp + 8, ret) != 0 || bf_snap_word(s, *fp, &up) != 0)
        return BF_STEP_END;
    if (up == 0)
        return BF_STEP_BOTTOM;
    if (up <= *fp)
        return BF_STEP_END; /* the chain must climb the stack */
    *fp = up;
    return BF_STEP_OK;
}

size_t bf_jit_walk(const bf_stack_snap *s, uint64_t pc, uint64_t sp, uint64_t fp,
                   const uint8_t *code, size_t ncode, bf_is_jit_fn is_jit, void *ctx,
                   uint64_t *pcs, size_t max, uint64_t *exit_ret, int *bottom)
{
    size_t n = 0;
    uint64_t ret = 0;
    int dummy, step;
    if (!bottom)
        bottom = &dummy;
    *exit_ret = 0;
    *bottom = 0;
    if (max == 0)
        return 0;
    pcs[n++] = pc;
    /* frame 0's caller: fix-ups where rbp is not this function's frame */
    if (ncode >= 1 && code[0] == 0x55) {
        if (bf_snap_word(s, sp, &ret) != 0)
            return n;
    } else if (ncode >= 3 && code[0] == 0x48 && code[1] == 0x89 && code[2] == 0xe5) {
        if (bf_snap_word(s, sp, &fp) != 0 || bf_snap_word(s, sp + 8, &ret) != 0)
            return n;
    } else if (ncode >= 1 && code[0] == 0xc3) {
        if (bf_snap_word(s, sp, &ret) != 0)
            return n;
    } else if ((step = bf_step(s, &fp, &ret)) != BF_STEP_OK) {
        *bottom = step == BF_STEP_BOTTOM; /* frame 0 may be the process's first frame */
        return n;
    }
    while (n < max) {
        if (ret == 0)
            return n;
        if (!is_jit(ctx, ret)) {
            *exit_ret = ret;
            return n;
        }
        pcs[n++] = ret;
        if ((step = bf_step(s, &fp, &ret)) != BF_STEP_OK) {
            *bottom = step == BF_STEP_BOTTOM;
            return n;
        }
    }
    return n;
}
