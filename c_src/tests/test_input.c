/* The command line's folded input: a file read in two parts at once (mapped windows, a
 * second table merged into the first) gives what reading it whole gives, reports
 * included; a pipe is read in chunks; a missing file says so. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cli/bf_cli_args.h"
#include "../cli/bf_input.h"
#include "bf_test_util.h"

static uint64_t x = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    return bf_test_rand(&x);
}

/* About 12 MB: more than two of the reader's 4 MiB windows per part, lines crossing
 * window edges, a malformed line now and then in both halves, escapes in some frames. */
static char *write_input(void)
{
    static char path[] = "/tmp/bf_test_input_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < 60000; i++) {
        if (i % 9973 == 17) {
            fputs("no count here\n", f);
            continue;
        }
        int depth = 5 + (int)(rnd() % 30);
        for (int d = 0; d < depth; d++)
            fprintf(f, "%smod_%03u:fun_%04u/%u%s", d ? ";" : "", (unsigned)(rnd() % 50),
                    (unsigned)(rnd() % (d < 3 ? 10 : 3000)), (unsigned)(rnd() % 4),
                    rnd() % 500 == 0 ? "\\;x" : "");
        fprintf(f, " %u\n", (unsigned)(1 + rnd() % 100));
    }
    fclose(f);
    return path;
}

static bf_stack_table *table(void)
{
    bf_st_caps caps;
    bf_st_default_caps(&caps);
    caps.max_stacks = UINT32_MAX - 1;
    return bf_st_new(&caps);
}

Test(input, two_parts_read_as_one)
{
    char *path = write_input();
    bf_stack_table *whole = table(), *parts = table();
    bf_input_report rw, rp;
    char err[512];
    cr_assert_eq(bf_input_read(path, whole, UINT64_MAX, &rw, err, sizeof(err)), BF_EXIT_OK);
    cr_assert_eq(bf_input_read(path, parts, 0, &rp, err, sizeof(err)), BF_EXIT_OK);
    cr_assert_eq(rw.parts, 1);
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2)
        cr_assert_eq(rp.parts, 2);
    const char *diff = bf_test_table_diff(whole, parts);
    cr_assert_null(diff, "%s", diff);
    cr_assert_eq(rw.lines, rp.lines);
    cr_assert_eq(rw.malformed, 7);
    cr_assert_eq(rp.malformed, rw.malformed);
    cr_assert_eq(rp.nreported, rw.nreported);
    for (size_t i = 0; i < rw.nreported; i++)
        cr_assert(rp.reported[i].line == rw.reported[i].line &&
                      rp.reported[i].code == rw.reported[i].code,
                  "report %zu: line %llu, want %llu", i,
                  (unsigned long long)rp.reported[i].line,
                  (unsigned long long)rw.reported[i].line);
    unlink(path);
    bf_st_free(whole);
    bf_st_free(parts);
}

Test(input, a_pipe_is_read_in_chunks_and_a_missing_file_is_named)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    const char *text = "a;b 3\nbad\na;c 4\n";
    cr_assert_eq(write(fds[1], text, strlen(text)), (ssize_t)strlen(text));
    close(fds[1]);
    int saved = dup(0);
    dup2(fds[0], 0);
    close(fds[0]);
    bf_stack_table *st = table();
    bf_input_report rep;
    char err[512];
    int rc = bf_input_read("-", st, 0, &rep, err, sizeof(err));
    dup2(saved, 0);
    close(saved);
    cr_assert_eq(rc, BF_EXIT_OK);
    cr_assert_eq(rep.parts, 1);
    cr_assert_eq(bf_st_stack_count(st), 2);
    cr_assert_eq(rep.malformed, 1);
    cr_assert_eq(rep.reported[0].line, 2);
    bf_st_free(st);

    st = table();
    cr_assert_eq(bf_input_read("/nonexistent/in.folded", st, 0, &rep, err, sizeof(err)),
                 BF_EXIT_IO);
    cr_assert(strstr(err, "cannot open /nonexistent/in.folded: No such file"), "%s", err);
    bf_st_free(st);
}
