/* `beamflame top`'s numbers from cumulative folded snapshots. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../core/bf_top.h"

static void feed(bf_top *t, const char *s, int roots)
{
    cr_assert_eq(bf_top_update(t, s, strlen(s), roots), 0);
}

Test(top, own_and_total_per_interval_and_since_start)
{
    bf_top *t = bf_top_new();
    feed(t, "a;b;c 3\na;b 1\na;d 6\n", 0);
    bf_top_row r[8];
    size_t n = bf_top_rows(t, 0, 1, r, 8);
    cr_assert_eq(n, 4);
    cr_expect_str_eq(r[0].name, "a");
    cr_expect_eq(r[0].total, 10);
    cr_expect_eq(r[0].own, 0);
    n = bf_top_rows(t, 0, 0, r, 8);
    cr_expect_str_eq(r[0].name, "d");
    cr_expect_eq(r[0].own, 6);
    /* the next snapshot is cumulative: the interval is the difference */
    feed(t, "a;b;c 13\na;b 1\na;d 6\n", 0);
    n = bf_top_rows(t, 0, 0, r, 8);
    cr_expect_str_eq(r[0].name, "c");
    cr_expect_eq(r[0].own, 10);
    cr_expect_eq(r[0].own_all, 13);
    uint64_t iv, all;
    bf_top_samples(t, &iv, &all);
    cr_expect_eq(iv, 10);
    cr_expect_eq(all, 20);
    bf_top_free(t);
}

Test(top, recursion_counts_once_in_total)
{
    bf_top *t = bf_top_new();
    feed(t, "main;f;f;f 4\n", 0);
    bf_top_row r[4];
    size_t n = bf_top_rows(t, 0, 1, r, 4);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(r[0].name, "f");
    cr_expect_eq(r[0].total, 4);
    cr_expect_eq(r[0].own, 4);
    bf_top_free(t);
}

Test(top, roots_are_processes_not_functions)
{
    bf_top *t = bf_top_new();
    feed(t, "my_server;gen_server:loop/7;work/1 5\n<0.9.0>;x:y/0 2\nmy_server;other/0 1\n", 1);
    bf_top_row r[4];
    size_t n = bf_top_rows(t, 1, 0, r, 4);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(r[0].name, "my_server");
    cr_expect_eq(r[0].own, 6);
    n = bf_top_rows(t, 0, 1, r, 4);
    for (size_t i = 0; i < n; i++)
        cr_expect(strcmp(r[i].name, "my_server") && strcmp(r[i].name, "<0.9.0>"));
    bf_top_free(t);
}

Test(top, malformed_lines_and_many_names)
{
    bf_top *t = bf_top_new();
    feed(t, "no count here\n;;; 3\nx 0\n", 0);
    char big[64 * 1024];
    size_t len = 0;
    for (int i = 0; i < 3000; i++)
        len += (size_t)snprintf(big + len, sizeof(big) - len, "m:f%d/0 1\n", i);
    cr_assert_eq(bf_top_update(t, big, len, 0), 0);
    bf_top_row r[5];
    cr_expect_eq(bf_top_rows(t, 0, 0, r, 5), 5);
    uint64_t iv, all;
    bf_top_samples(t, &iv, &all);
    cr_expect_eq(all, 3000);
    bf_top_free(t);
}

Test(top, intervals_added_one_by_one)
{
    bf_top *t = bf_top_new();
    cr_assert_eq(bf_top_add_interval(t, "s;a 2\n", 5, 1), 0);
    cr_assert_eq(bf_top_add_interval(t, "s;a 3\ns;b 1\n", 12, 1), 0);
    bf_top_row r[4];
    size_t n = bf_top_rows(t, 0, 0, r, 4);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(r[0].name, "a");
    cr_expect_eq(r[0].own, 3);
    cr_expect_eq(r[0].own_all, 5);
    uint64_t iv, all;
    bf_top_samples(t, &iv, &all);
    cr_expect_eq(iv, 4);
    cr_expect_eq(all, 6);
    bf_top_free(t);
}
