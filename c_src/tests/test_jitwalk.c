/* bf_jitwalk: the Erlang chain through JIT frames on recorded stack snapshots, with the
 * prologue and epilogue fix-ups. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../unwind/bf_jitwalk.h"
#include "../unwind/bf_perfmap.h"

#define BASE 0x7ff000001000ULL
/* JIT code lives in [0x5000, 0x9000); 0x1234 is C code */
static int is_jit(void *ctx, uint64_t pc)
{
    (void)ctx;
    return pc >= 0x5000 && pc < 0x9000;
}

static int in_perfmap(void *ctx, uint64_t pc)
{
    return bf_perfmap_lookup(ctx, pc, NULL) != NULL;
}

static uint64_t words[64];
static bf_stack_snap snap(void)
{
    return (bf_stack_snap){BASE, (const uint8_t *)words, sizeof(words)};
}

/* A stack: c (frame at BASE+0x40) called by b (frame at BASE+0x80) called by a (frame at
 * BASE+0xc0), called from C at 0x1234. Frame layout: [fp] = caller's fp, [fp+8] = return
 * address. */
static void build(void)
{
    memset(words, 0, sizeof(words));
    words[0x40 / 8] = BASE + 0x80; words[0x48 / 8] = 0x6100; /* c's frame: back into b */
    words[0x80 / 8] = BASE + 0xc0; words[0x88 / 8] = 0x7100; /* b's frame: back into a */
    words[0xc0 / 8] = BASE + 0x100; words[0xc8 / 8] = 0x1234; /* a's frame: back to C */
}

Test(jitwalk, frame_pointer_chain_to_the_c_caller)
{
    build();
    bf_stack_snap s = snap();
    uint64_t pcs[16], exit_ret;
    const uint8_t body[] = {0x8b, 0x45, 0x10};
    size_t n = bf_jit_walk(&s, 0x5050, BASE + 0x10, BASE + 0x40, body, 3, is_jit, NULL, pcs, 16,
                           &exit_ret, NULL);
    cr_assert_eq(n, 3);
    cr_assert_eq(pcs[0], 0x5050);
    cr_assert_eq(pcs[1], 0x6100);
    cr_assert_eq(pcs[2], 0x7100);
    cr_assert_eq(exit_ret, 0x1234);
}

Test(jitwalk, sample_at_push_rbp_reads_the_return_address_at_rsp)
{
    build();
    /* a new function d was just called by c: its return address (into c) is at [rsp];
     * rbp is still c's frame */
    words[0x08 / 8] = 0x5060;
    bf_stack_snap s = snap();
    uint64_t pcs[16], exit_ret;
    const uint8_t push[] = {0x55, 0x48, 0x89, 0xe5};
    size_t n = bf_jit_walk(&s, 0x8000, BASE + 0x08, BASE + 0x40, push, 4, is_jit, NULL, pcs, 16,
                           &exit_ret, NULL);
    cr_assert_eq(n, 4); /* d, c, b, a */
    cr_assert_eq(pcs[1], 0x5060);
    cr_assert_eq(pcs[2], 0x6100);
    cr_assert_eq(pcs[3], 0x7100);
}

Test(jitwalk, sample_at_mov_rbp_rsp_reads_the_saved_rbp)
{
    build();
    /* d pushed rbp (c's frame pointer) at [rsp]; its return address is at [rsp+8] */
    words[0x00 / 8] = BASE + 0x40;
    words[0x08 / 8] = 0x5060;
    bf_stack_snap s = snap();
    uint64_t pcs[16], exit_ret;
    const uint8_t mov[] = {0x48, 0x89, 0xe5};
    size_t n = bf_jit_walk(&s, 0x8001, BASE + 0x00, 0xdead, mov, 3, is_jit, NULL, pcs, 16,
                           &exit_ret, NULL);
    cr_assert_eq(n, 4);
    cr_assert_eq(pcs[1], 0x5060);
    cr_assert_eq(pcs[3], 0x7100);
}

Test(jitwalk, sample_at_ret_after_leave)
{
    build();
    /* c executed leave: rbp is b's frame again, c's return address is at [rsp] */
    words[0x48 / 8] = 0x6100;
    bf_stack_snap s = snap();
    uint64_t pcs[16], exit_ret;
    const uint8_t ret[] = {0xc3};
    size_t n = bf_jit_walk(&s, 0x5090, BASE + 0x48, BASE + 0x80, ret, 1, is_jit, NULL, pcs, 16,
                           &exit_ret, NULL);
    cr_assert_eq(n, 3); /* c, b, a */
    cr_assert_eq(pcs[1], 0x6100);
    cr_assert_eq(pcs[2], 0x7100);
    cr_assert_eq(exit_ret, 0x1234);
}

Test(jitwalk, bad_chains_end_the_walk)
{
    build();
    words[0x80 / 8] = BASE + 0x40; /* b's saved rbp points down the stack: a loop */
    bf_stack_snap s = snap();
    uint64_t pcs[16], exit_ret;
    size_t n = bf_jit_walk(&s, 0x5050, BASE, BASE + 0x40, NULL, 0, is_jit, NULL, pcs, 16,
                           &exit_ret, NULL);
    cr_assert_eq(n, 2);
    /* rbp outside the copy */
    n = bf_jit_walk(&s, 0x5050, BASE, BASE + 0x10000, NULL, 0, is_jit, NULL, pcs, 16, &exit_ret, NULL);
    cr_assert_eq(n, 1);
    /* max frames */
    build();
    n = bf_jit_walk(&s, 0x5050, BASE, BASE + 0x40, NULL, 0, is_jit, NULL, pcs, 2, &exit_ret, NULL);
    cr_assert_eq(n, 2);
}

Test(jitwalk, a_zero_saved_rbp_is_the_process_bottom)
{
    build();
    words[0xc0 / 8] = 0;      /* a is the process's first frame */
    words[0xc8 / 8] = 0x8800; /* and returns to normal_exit (JIT) */
    bf_stack_snap s = snap();
    uint64_t pcs[16], exit_ret;
    int bottom = -1;
    size_t n = bf_jit_walk(&s, 0x5050, BASE, BASE + 0x40, NULL, 0, is_jit, NULL, pcs, 16,
                           &exit_ret, &bottom);
    cr_assert_eq(n, 3);
    cr_assert_eq(pcs[2], 0x7100);
    cr_assert_eq(bottom, 1);
    cr_assert_eq(exit_ret, 0);
    /* a chain cut by the snapshot's end is not complete */
    build();
    n = bf_jit_walk(&s, 0x5050, BASE, BASE + 0x40, NULL, 0, is_jit, NULL, pcs, 16, &exit_ret,
                    &bottom);
    cr_assert_eq(bottom, 0);
}

/* A recorded snapshot: a scheduler thread of a `+JPperf map` node stopped in
 * bf_nativework:c2/1, 60 levels into c/1 <-> c2/1 under b/0, a/0 and the process's loop
 * (test/bf_nativework.erl), written by `BF_NATIVE_SNAPSHOT=FILE beamflame_native`: its
 * registers, the bytes at its pc, its stack from rsp to the process's first frame, and the
 * perf map's lines for those functions. */
static uint8_t rec_stack[8192];

Test(jitwalk, a_recorded_scheduler_stack_walks_to_the_process_bottom)
{
    FILE *f = fopen("snapshots/jit_chain.txt", "r");
    cr_assert_not_null(f);
    unsigned long long pc, sp, fp, base;
    unsigned code4;
    size_t len;
    cr_assert_eq(fscanf(f, "pc %llx sp %llx fp %llx code %8x\n", &pc, &sp, &fp, &code4), 4);
    bf_perfmap *pm = bf_perfmap_new();
    char line[512];
    long pos = ftell(f);
    while (fgets(line, sizeof(line), f) && !strncmp(line, "map ", 4)) {
        cr_assert_eq(bf_perfmap_feed(pm, line + 4, strlen(line + 4)), 0);
        pos = ftell(f);
    }
    fseek(f, pos, SEEK_SET);
    cr_assert_eq(fscanf(f, "stack %llx %zu\n", &base, &len), 2);
    cr_assert_leq(len, sizeof(rec_stack));
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(fscanf(f, "%2hhx", &rec_stack[i]), 1);
    fclose(f);
    uint8_t code[4] = {(uint8_t)(code4 >> 24), (uint8_t)(code4 >> 16), (uint8_t)(code4 >> 8),
                       (uint8_t)code4};
    bf_stack_snap s = {base, rec_stack, len};
    uint64_t pcs[256], exit_ret;
    int bottom = 0;
    size_t n = bf_jit_walk(&s, pc, sp, fp, code, 4, in_perfmap, pm, pcs, 256, &exit_ret,
                           &bottom);
    cr_assert_eq(bottom, 1);
    cr_assert_eq(exit_ret, 0);
    /* innermost first: c2/1 (where it stopped), c/1 and c2/1 alternating, b, a, the loop */
    const char *names[256];
    for (size_t i = 0; i < n; i++) {
        names[i] = bf_perfmap_lookup(pm, i ? pcs[i] - 1 : pcs[i], NULL);
        cr_assert_not_null(names[i], "frame %zu unnamed", i);
    }
    cr_assert_gt(n, 10);
    cr_assert_str_eq(names[0], "bf_nativework:c2/1");
    cr_assert_str_eq(names[n - 1], "bf_nativework:loop_a/0");
    cr_assert_str_eq(names[n - 2], "bf_nativework:a/0");
    cr_assert_str_eq(names[n - 3], "bf_nativework:b/0");
    for (size_t i = 1; i < n - 3; i++)
        cr_assert(!strcmp(names[i], "bf_nativework:c/1") || !strcmp(names[i], "bf_nativework:c2/1"),
                  "frame %zu is %s", i, names[i]);
    bf_perfmap_free(pm);
}
