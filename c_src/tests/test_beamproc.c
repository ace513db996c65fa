/* bf_beamproc: thread names of OTP 25-29, +JPperf from the argument vector, and the JIT
 * descriptor's shape. */
#include <criterion/criterion.h>
#include <string.h>

#include "../unwind/bf_beamproc.h"

Test(beamproc, thread_names_of_every_release)
{
    /* OTP 25-26 */
    cr_assert_eq(bf_thread_kind_of("1_scheduler"), BF_THREAD_SCHEDULER);
    cr_assert_eq(bf_thread_kind_of("12_scheduler"), BF_THREAD_SCHEDULER);
    cr_assert_eq(bf_thread_kind_of("1_dirty_cpu_sch"), BF_THREAD_DIRTY_CPU);
    cr_assert_eq(bf_thread_kind_of("3_dirty_io_sche"), BF_THREAD_DIRTY_IO);
    /* OTP 27+ */
    cr_assert_eq(bf_thread_kind_of("erts_sched_1"), BF_THREAD_SCHEDULER);
    cr_assert_eq(bf_thread_kind_of("erts_sched_128"), BF_THREAD_SCHEDULER);
    cr_assert_eq(bf_thread_kind_of("erts_dcpus_2"), BF_THREAD_DIRTY_CPU);
    cr_assert_eq(bf_thread_kind_of("erts_dios_10"), BF_THREAD_DIRTY_IO);
    /* neither */
    const char *other[] = {"1_aux", "0_poller", "async_1", "sys_sig_dispatc", "erts_aux_1",
                           "erts_poll_0", "erts_ssig_disp", "beam.smp", "erts_sched_",
                           "_scheduler", "x_scheduler", "erts_sched_1x", ""};
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        cr_assert_eq(bf_thread_kind_of(other[i]), BF_THREAD_OTHER, "%s", other[i]);
}

#define ARGS(s) (s), sizeof(s) /* a literal with its NULs, as /proc gives it */

Test(beamproc, frame_pointers_from_the_argument_vector)
{
    cr_assert_eq(bf_cmdline_frame_pointers(ARGS("/usr/lib/erlang/erts-17/bin/beam.smp\0--\0-root\0/usr/lib/erlang")), 0);
    cr_assert_eq(bf_cmdline_frame_pointers(ARGS("beam.smp\0-JPperf\0map\0--\0-root\0x")), 1);
    cr_assert_eq(bf_cmdline_frame_pointers(ARGS("beam.smp\0-JPperf\0true\0--")), 1);
    cr_assert_eq(bf_cmdline_frame_pointers(ARGS("beam.smp\0-JPperf\0fp\0--")), 1);
    cr_assert_eq(bf_cmdline_frame_pointers(ARGS("beam.smp\0-JPperffp\0--")), 1);
    cr_assert_eq(bf_cmdline_frame_pointers(ARGS("beam.smp\0-JPperf\0dump\0--")), 0);
    cr_assert_eq(bf_cmdline_frame_pointers(ARGS("beam.smp\0-JPperf\0map\0-JPperf\0no_fp\0--")), 0);
    cr_assert_eq(bf_cmdline_frame_pointers(ARGS("beam.smp\0-JPperf\0fp\0-JPperf\0dump\0--")), 1);
    /* after `--' the arguments are init's (a user's -extra), not the emulator's */
    cr_assert_eq(bf_cmdline_frame_pointers(ARGS("beam.smp\0--\0-extra\0-JPperf\0map")), 0);
    /* a flag cut off at the end of the buffer */
    cr_assert_eq(bf_cmdline_frame_pointers("beam.smp\0-JPperf", 16), 0);
    cr_assert_eq(bf_cmdline_frame_pointers("beam.smp\0-JPperf\0ma", 19), 0);
    cr_assert_eq(bf_cmdline_frame_pointers("", 0), 0);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

Test(beamproc, jit_descriptor_candidates)
{
    uint8_t mem[128];
    memset(mem, 0, sizeof(mem));
    uint64_t first = 0;
    cr_assert_eq(bf_jit_descriptor_candidate(mem, sizeof(mem), 0, &first), -1);
    /* version 1 with a bad action, then one with a misaligned entry: both refused */
    put32(mem + 8, 1), put32(mem + 12, 7), put64(mem + 24, 0x1000);
    put32(mem + 40, 1), put32(mem + 44, 1), put64(mem + 56, 0x1003);
    cr_assert_eq(bf_jit_descriptor_candidate(mem, sizeof(mem), 0, &first), -1);
    /* a good one at 72 */
    put32(mem + 72, 1), put32(mem + 76, 1), put64(mem + 80, 0x7f0000001000), put64(mem + 88, 0x7f0000002000);
    cr_assert_eq(bf_jit_descriptor_candidate(mem, sizeof(mem), 0, &first), 72);
    cr_assert_eq(first, 0x7f0000002000);
    cr_assert_eq(bf_jit_descriptor_candidate(mem, sizeof(mem), 73, &first), -1);
    /* never read past the end: a candidate whose pointers do not fit is not one */
    cr_assert_eq(bf_jit_descriptor_candidate(mem, 90, 0, &first), -1);
    cr_assert_eq(bf_jit_descriptor_candidate(mem, 5, 0, &first), -1);
}

/* A refused ptrace names the rule that refused it. */
Test(beamproc, ptrace_refusals_name_their_rule)
{
    char out[512];
    bf_ptrace_facts f = {0, 1000, 1000, 0, 4242};
    bf_ptrace_why(&f, 77, out, sizeof(out));
    cr_expect(strstr(out, "already traced by pid 4242") != NULL, "%s", out);
    f = (bf_ptrace_facts){3, 0, 1000, 1, 0};
    bf_ptrace_why(&f, 77, out, sizeof(out));
    cr_expect(strstr(out, "ptrace_scope is 3") != NULL, "%s", out);
    f = (bf_ptrace_facts){2, 1000, 1000, 0, 0};
    bf_ptrace_why(&f, 77, out, sizeof(out));
    cr_expect(strstr(out, "ptrace_scope is 2") != NULL, "%s", out);
    f = (bf_ptrace_facts){2, 1000, 1000, 1, 0}; /* the capability passes scope 2 */
    bf_ptrace_why(&f, 77, out, sizeof(out));
    cr_expect(strstr(out, "ptrace_scope is 2") == NULL, "%s", out);
    f = (bf_ptrace_facts){0, 1001, 1000, 0, 0};
    bf_ptrace_why(&f, 77, out, sizeof(out));
    cr_expect(strstr(out, "runs as uid 1000 and the sampler as uid 1001") != NULL, "%s", out);
    f = (bf_ptrace_facts){1, 1000, 1000, 0, 0};
    bf_ptrace_why(&f, 77, out, sizeof(out));
    cr_expect(strstr(out, "ptrace_scope is 1") != NULL, "%s", out);
    f = (bf_ptrace_facts){-1, 1000, 1000, 0, 0};
    bf_ptrace_why(&f, 77, out, sizeof(out));
    cr_expect(strstr(out, "seccomp") != NULL, "%s", out);
}

Test(beamproc, proc_status_fields)
{
    const char *st = "Name:\tbeam.smp\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t10\n"
                     "TracerPid:\t0\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\n"
                     "CapInh:\t0000000000000000\nCapEff:\t0000000000080000\n";
    long uid = -1, tracer = -1;
    cr_expect_eq(bf_proc_status_ids(st, &uid, &tracer), 0);
    cr_expect_eq(uid, 1000);
    cr_expect_eq(tracer, 0);
    cr_expect_eq(bf_proc_status_cap_ptrace(st), 1);
    cr_expect_eq(bf_proc_status_cap_ptrace("Name:\tx\nCapEff:\t0000000000000000\n"), 0);
    cr_expect_eq(bf_proc_status_ids("Name:\tx\n", &uid, &tracer), -1);
}

Test(beamproc, proc_stat_starttime)
{
    unsigned long long t = 0;
    /* a name with spaces and a parenthesis, as a thread may have */
    const char *st = "4242 (beam.smp (x) y) S 1 4242 4242 0 -1 4194560 2000 0 0 0 30 5 0 0 "
                     "20 0 12 0 987654 2000000000 5000 18446744073709551615\n";
    cr_expect_eq(bf_proc_stat_starttime(st, &t), 0);
    cr_expect_eq(t, 987654ULL);
    cr_expect_eq(bf_proc_stat_starttime("4242 (beam.smp) S 1 2 3\n", &t), -1);
    cr_expect_eq(bf_proc_stat_starttime("no name here", &t), -1);
}
