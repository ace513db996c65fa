/* bf_trace: shadow stacks from call-trace events (the rules in bf_trace.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../core/bf_buf.h"
#include "../core/bf_folded.h"
#include "../core/bf_trace.h"
#include "bf_test_util.h"

#define P 1 /* the process key */

static bf_trace *tr;
static bf_trace_weight weight = BF_TRACE_TIME;
static uint32_t fr(const char *name)
{
    uint64_t h = 5381; /* the frame key: a hash of the name (the NIF uses atom terms) */
    for (const char *c = name; *c; c++)
        h = h * 33 + (unsigned char)*c;
    int64_t id = bf_trace_frame_find(tr, h, 0, 0);
    if (id < 0)
        id = bf_trace_frame_add(tr, h, 0, 0, name, strlen(name));
    cr_assert_geq(id, 0);
    return (uint32_t)id;
}

/* The result as folded text. */
static char *folded(void)
{
    bf_st_caps caps;
    bf_st_default_caps(&caps);
    bf_stack_table *st = bf_trace_result(tr, &caps, weight);
    cr_assert_not_null(st);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    bf_buf out;
    bf_buf_init(&out, f);
    cr_assert_eq(bf_folded_write(st, &out), 0);
    bf_buf_flush(&out);
    bf_buf_free(&out);
    fclose(f);
    bf_st_free(st);
    return text;
}

static void setup(void)
{
    bf_st_caps caps;
    bf_st_default_caps(&caps);
    tr = bf_trace_new(&caps, 16);
    cr_assert_not_null(tr);
    bf_trace_set_modes(tr, 0, 0); /* every level, the VM's tail calls (fold: below) */
}

static void teardown(void)
{
    bf_trace_free(tr);
}

TestSuite(trace, .init = setup, .fini = teardown);

Test(trace, body_recursion_grows_tail_recursion_stays_flat)
{
    uint32_t pid = fr("<0.1.0>"), run = fr("t:run/0"), fib = fr("t:fib/1"),
             loop = fr("t:loop/1"), top = fr("t:wrapper/0");
    cr_assert_eq(bf_trace_begin(tr, P, pid, NULL, 0, 0), 0);
    uint64_t t = 0;
    bf_trace_call(tr, P, run, top, t);             /* run, called from the wrapper */
    bf_trace_call(tr, P, fib, run, t += 1000);     /* 1 us in run */
    bf_trace_call(tr, P, fib, fib, t += 2000);     /* 2 us in fib */
    bf_trace_return_to(tr, P, fib, t += 3000);     /* 3 us in fib;fib */
    bf_trace_return_to(tr, P, run, t += 4000);     /* 4 us in fib */
    bf_trace_call(tr, P, loop, run, t += 1000);    /* 1 us in run */
    bf_trace_call(tr, P, loop, run, t += 5000);    /* tail call: caller is still run */
    bf_trace_call(tr, P, loop, run, t += 5000);
    cr_assert_eq(bf_trace_depth(tr, P), 3);        /* pid;run;loop */
    bf_trace_return_to(tr, P, run, t += 5000);
    bf_trace_flush(tr, t += 1000);
    char *text = folded();
    cr_assert_str_eq(text, "<0.1.0>;t:run/0 3\n"
                           "<0.1.0>;t:run/0;t:fib/1 6\n"
                           "<0.1.0>;t:run/0;t:fib/1;t:fib/1 3\n"
                           "<0.1.0>;t:run/0;t:loop/1 15\n");
    free(text);
    weight = BF_TRACE_CALLS; /* the same run counted in calls */
    text = folded();
    weight = BF_TRACE_TIME;
    cr_assert_str_eq(text, "<0.1.0>;t:run/0 1\n"
                           "<0.1.0>;t:run/0;t:fib/1 1\n"
                           "<0.1.0>;t:run/0;t:fib/1;t:fib/1 1\n"
                           "<0.1.0>;t:run/0;t:loop/1 3\n");
    free(text);
}

Test(trace, tail_call_at_the_root_replaces_the_root_frame)
{
    uint32_t pid = fr("<0.2.0>"), a = fr("m:a/0"), b = fr("m:b/0"), top = fr("m:top/0");
    bf_trace_begin(tr, P, pid, NULL, 0, 0);
    bf_trace_call(tr, P, a, top, 0);
    bf_trace_call(tr, P, b, top, 1000); /* a tail-calls b: b's caller is a's caller */
    bf_trace_flush(tr, 3000);
    char *text = folded();
    cr_assert_str_eq(text, "<0.2.0>;m:a/0 1\n<0.2.0>;m:b/0 2\n");
    free(text);
}

Test(trace, unknown_caller_pushes_and_return_above_resets)
{
    uint32_t pid = fr("<0.3.0>"), a = fr("m:a/0"), f = fr("m:f/1"), ext = fr("lists:map/2"),
             up = fr("m:up/0");
    uint32_t seed[] = {up, a};
    bf_trace_begin(tr, P, pid, seed, 2, 0);
    bf_trace_call(tr, P, f, ext, 1000);   /* called by an untraced function: pushed */
    cr_assert_eq(bf_trace_depth(tr, P), 4);
    bf_trace_return_to(tr, P, a, 2000);
    bf_trace_return_to(tr, P, fr("m:outer/0"), 3000); /* above the seed */
    bf_trace_flush(tr, 4000);
    char *text = folded();
    cr_assert_str_eq(text, "<0.3.0>;m:outer/0 1\n<0.3.0>;m:up/0;m:a/0 2\n"
                           "<0.3.0>;m:up/0;m:a/0;m:f/1 1\n");
    free(text);
}

Test(trace, descheduled_time_is_a_sleep_frame)
{
    uint32_t pid = fr("<0.4.0>"), a = fr("m:wait/0");
    bf_trace_begin(tr, P, pid, NULL, 0, 0);
    bf_trace_call(tr, P, a, BF_TRACE_NONE, 0);
    bf_trace_out(tr, P, 1000);
    bf_trace_in(tr, P, 9000);
    bf_trace_end(tr, P, 10000);
    cr_assert_not(bf_trace_has_proc(tr, P));
    char *text = folded();
    cr_assert_str_eq(text, "<0.4.0>;m:wait/0 2\n<0.4.0>;m:wait/0;sleep 8\n");
    free(text);
}

Test(trace, depth_cap_and_process_cap_are_counted)
{
    bf_trace_free(tr);
    bf_st_caps caps;
    bf_st_default_caps(&caps);
    caps.max_depth = 4;
    tr = bf_trace_new(&caps, 1);
    bf_trace_set_modes(tr, 0, 0);
    uint32_t pid = fr("<0.5.0>"), f = fr("m:f/0"), top = fr("m:top/0");
    bf_trace_begin(tr, P, pid, NULL, 0, 0);
    bf_trace_call(tr, P, f, top, 0);
    for (int i = 1; i < 10; i++)
        bf_trace_call(tr, P, f, f, (uint64_t)i * 1000);
    /* pid;f;f shown, then the marker: a capped stack says so */
    cr_assert_eq(bf_trace_depth(tr, P), 4);
    /* past the cap the frames are still followed: calls made from below, and returns */
    uint32_t g = fr("m:g/0"), h = fr("m:h/0");
    bf_trace_call(tr, P, g, f, 20000);  /* g pushed past the cap */
    bf_trace_call(tr, P, h, g, 21000);  /* called by g: found past the cap */
    bf_trace_return_to(tr, P, g, 22000);
    bf_trace_return_to(tr, P, f, 23000);
    for (int i = 0; i < 7; i++)         /* 7 of the 8 f calls past the cap return */
        bf_trace_return_to(tr, P, f, 24000 + (uint64_t)i);
    cr_assert_eq(bf_trace_depth(tr, P), 4); /* the first past the cap: still the marker */
    bf_trace_return_to(tr, P, f, 29000);
    cr_assert_eq(bf_trace_depth(tr, P), 3); /* into the tree */
    bf_trace_return_to(tr, P, f, 30000);
    cr_assert_eq(bf_trace_depth(tr, P), 2);
    bf_trace_return_to(tr, P, top, 31000); /* back where it started: the root */
    cr_assert_eq(bf_trace_depth(tr, P), 1);
    cr_assert_eq(bf_trace_begin(tr, 2, pid, NULL, 0, 0), -1); /* max_procs is 1 */
    bf_trace_stats s;
    bf_trace_get_stats(tr, &s);
    cr_assert_eq(s.depth_capped, 10); /* 8 f calls and g, h past the cap */
    cr_assert_eq(s.procs_dropped, 1);
    cr_assert_eq(bf_trace_call(tr, 2, f, f, 0), -1); /* unknown process: ignored */
    bf_trace_flush(tr, 32000);
    char *text = folded();
    cr_assert(strstr(text, "<0.5.0>;m:f/0;m:f/0;[truncated] "), "%s", text);
    free(text);
}

Test(trace, memory_follows_distinct_stacks_not_events)
{
    uint32_t pid = fr("<0.6.0>"), a = fr("m:a/0"), b = fr("m:b/0");
    bf_trace_begin(tr, P, pid, NULL, 0, 0);
    bf_trace_call(tr, P, a, BF_TRACE_NONE, 0);
    bf_trace_call(tr, P, b, a, 1);
    bf_trace_return_to(tr, P, a, 2);
    size_t before = bf_trace_bytes(tr);
    for (uint64_t i = 1; i < 1000000; i++) {
        bf_trace_call(tr, P, b, a, 2 * i + 1);
        bf_trace_return_to(tr, P, a, 2 * i + 2);
    }
    cr_assert_eq(bf_trace_bytes(tr), before, "memory grew with events");
    bf_trace_stats s;
    bf_trace_get_stats(tr, &s);
    cr_assert_eq(s.events, 2000001);
}

/* Exact at any depth: a body recursion 500,000 deep, then the returns, then a call from
 * the outermost function: it lands under that function, not under the pid. Memory stays
 * that of one level (the recursion is one run of repetitions). */
Test(trace, exact_at_any_depth)
{
    uint32_t pid = fr("<0.7.0>"), outer = fr("m:outer/0"), lc = fr("m:'-crunch/1-lc$^0/1-0-'/1"),
             after = fr("m:after/0"), top = fr("m:top/0");
    for (int fold = 0; fold <= 1; fold++) {
        bf_trace_free(tr);
        bf_st_caps caps;
        bf_st_default_caps(&caps);
        tr = bf_trace_new(&caps, 16);
        bf_trace_set_modes(tr, fold, 0);
        fr("<0.7.0>"), fr("m:outer/0"), fr("m:'-crunch/1-lc$^0/1-0-'/1"), fr("m:after/0"),
            fr("m:top/0");
        bf_trace_begin(tr, P, pid, NULL, 0, 0);
        uint64_t t = 0;
        bf_trace_call(tr, P, outer, top, t++);
        bf_trace_call(tr, P, lc, outer, t++);
        size_t bytes = bf_trace_bytes(tr);
        for (int i = 1; i < 500000; i++)
            bf_trace_call(tr, P, lc, lc, t++);
        for (int i = 1; i < 500000; i++)
            bf_trace_return_to(tr, P, lc, t++);
        bf_trace_return_to(tr, P, outer, t++);
        cr_assert_eq(bf_trace_depth(tr, P), 2, "fold %d", fold);
        bf_trace_call(tr, P, after, outer, t++);
        cr_assert_eq(bf_trace_depth(tr, P), 3);
        bf_trace_flush(tr, t + 1000);
        char *text = folded();
        cr_assert(strstr(text, "<0.7.0>;m:outer/0;m:after/0 "), "fold %d: %.300s", fold, text);
        cr_assert_null(strstr(text, "<0.7.0>;m:after/0"), "fold %d", fold);
        if (fold) {
            /* one frame for the whole recursion; no more memory than a few stacks */
            cr_assert(strstr(text, "<0.7.0>;m:outer/0;m:'-crunch/1-lc$^0/1-0-'/1 "));
            cr_assert_null(strstr(text, "lc$^0/1-0-'/1;m:'-crunch"));
            cr_assert_lt(bf_trace_bytes(tr), bytes + 65536);
        } else {
            cr_assert(strstr(text, ";[truncated] "), "keep: the capped stack says so");
        }
        free(text);
    }
}

/* fold: direct recursion is one frame, mutual recursion folds at the first repeat, and
 * returns still land where they should. */
Test(trace, fold_recursion)
{
    bf_trace_set_modes(tr, 1, 0);
    uint32_t pid = fr("<0.8.0>"), a = fr("m:a/1"), b = fr("m:b/1"), c = fr("m:c/0"),
             top = fr("m:top/0");
    bf_trace_begin(tr, P, pid, NULL, 0, 0);
    uint64_t t = 0;
    weight = BF_TRACE_CALLS;
    bf_trace_call(tr, P, a, top, t++);       /* a */
    bf_trace_call(tr, P, a, a, t++);         /* a;a -> a */
    bf_trace_call(tr, P, b, a, t++);         /* a;b */
    bf_trace_call(tr, P, a, b, t++);         /* a;b;a -> a */
    bf_trace_call(tr, P, b, a, t++);         /* ...;b -> a;b */
    bf_trace_call(tr, P, c, b, t++);         /* a;b;c */
    cr_assert_eq(bf_trace_depth(tr, P), 4);  /* pid;a;b;c */
    bf_trace_return_to(tr, P, b, t++);       /* c returned to the inner b */
    bf_trace_return_to(tr, P, a, t++);       /* to the inner a: shown as a */
    cr_assert_eq(bf_trace_depth(tr, P), 2);
    bf_trace_return_to(tr, P, b, t++);       /* to the outer b */
    cr_assert_eq(bf_trace_depth(tr, P), 3);
    bf_trace_call(tr, P, c, b, t++);         /* the outer b calls c */
    bf_trace_return_to(tr, P, b, t++);
    bf_trace_return_to(tr, P, a, t++);       /* the inner a (of the first two) */
    bf_trace_return_to(tr, P, a, t++);       /* the outer a */
    bf_trace_return_to(tr, P, top, t++);     /* gone */
    cr_assert_eq(bf_trace_depth(tr, P), 1);
    char *text = folded();
    weight = BF_TRACE_TIME;
    cr_assert_str_eq(text, "<0.8.0>;m:a/1 3\n<0.8.0>;m:a/1;m:b/1 2\n<0.8.0>;m:a/1;m:b/1;m:c/0 2\n");
    free(text);
}

/* tail_calls keep: handle_call tail-calls do_work, which stays under it; a tail-recursive
 * loop stays one frame; a cycle of tail calls (loop -> handle -> loop) closes at its first
 * repeat. The VM's view of the same events drops the tail-calling frames. */
Test(trace, tail_calls_keep_or_drop)
{
    for (int keep = 0; keep <= 1; keep++) {
        bf_trace_free(tr);
        bf_st_caps caps;
        bf_st_default_caps(&caps);
        tr = bf_trace_new(&caps, 16);
        bf_trace_set_modes(tr, 1, keep);
        uint32_t pid = fr("<0.9.0>"), loop = fr("s:loop/1"), handle = fr("s:handle_call/3"),
                 work = fr("s:do_work/1"), leaf = fr("s:leaf/0"), init = fr("proc_lib:init/1");
        bf_trace_begin(tr, P, pid, NULL, 0, 0);
        weight = BF_TRACE_CALLS;
        uint64_t t = 0;
        bf_trace_call(tr, P, loop, init, t++);
        for (int i = 0; i < 3; i++) {
            bf_trace_call(tr, P, handle, init, t++); /* loop tail-calls handle_call */
            bf_trace_call(tr, P, work, init, t++);   /* handle_call tail-calls do_work */
            bf_trace_call(tr, P, leaf, work, t++);   /* a body call */
            bf_trace_return_to(tr, P, work, t++);
            bf_trace_call(tr, P, loop, init, t++);   /* do_work tail-calls loop */
            bf_trace_call(tr, P, loop, init, t++);   /* loop tail-recurses */
        }
        cr_assert_eq(bf_trace_depth(tr, P), 2, "keep %d: bounded", keep);
        char *text = folded();
        weight = BF_TRACE_TIME;
        if (keep)
            cr_assert_str_eq(text, "<0.9.0>;s:loop/1 7\n"
                                   "<0.9.0>;s:loop/1;s:handle_call/3 3\n"
                                   "<0.9.0>;s:loop/1;s:handle_call/3;s:do_work/1 3\n"
                                   "<0.9.0>;s:loop/1;s:handle_call/3;s:do_work/1;s:leaf/0 3\n");
        else
            cr_assert_str_eq(text, "<0.9.0>;s:do_work/1 3\n<0.9.0>;s:do_work/1;s:leaf/0 3\n"
                                   "<0.9.0>;s:handle_call/3 3\n<0.9.0>;s:loop/1 7\n");
        free(text);
    }
}
