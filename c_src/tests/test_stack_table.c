/* Stack table: interning, merging, caps with counted drops, flamegraph.pl sort order. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../core/bf_stack_table.h"

static uint32_t intern(bf_stack_table *st, const char *s)
{
    int64_t id = bf_st_intern(st, s, strlen(s));
    cr_assert_geq(id, 0);
    return (uint32_t)id;
}

Test(stack_table, interns_each_name_once)
{
    bf_stack_table *st = bf_st_new(NULL);
    uint32_t a = intern(st, "a"), b = intern(st, "b");
    cr_assert_neq(a, b);
    cr_assert_eq(intern(st, "a"), a);
    cr_assert_eq(bf_st_frame_count(st), 2);
    /* Any bytes, including NUL, are a name. */
    int64_t z = bf_st_intern(st, "x\0y", 3);
    cr_assert_neq(z, bf_st_intern(st, "x", 1));
    size_t len;
    cr_assert_eq(memcmp(bf_st_frame_name(st, (uint32_t)z, &len), "x\0y", 3), 0);
    cr_assert_eq(len, 3);
    bf_st_free(st);
}

Test(stack_table, merges_identical_stacks_and_sums_weights)
{
    bf_stack_table *st = bf_st_new(NULL);
    uint32_t s1[] = {intern(st, "main"), intern(st, "work")};
    uint32_t s2[] = {s1[0]};
    uint32_t id1, id2, id3;
    cr_assert_eq(bf_st_add(st, s1, 2, 3, &id1), BF_ST_OK);
    cr_assert_eq(bf_st_add(st, s2, 1, 1, &id2), BF_ST_OK);
    cr_assert_eq(bf_st_add(st, s1, 2, 4, &id3), BF_ST_OK);
    cr_assert_eq(id1, id3);
    cr_assert_neq(id1, id2);
    cr_assert_eq(bf_st_stack_count(st), 2);
    uint64_t w;
    size_t d;
    bf_st_stack(st, id1, &d, &w);
    cr_assert_eq(w, 7);
    cr_assert_eq(d, 2);
    bf_st_stats s;
    bf_st_get_stats(st, &s);
    cr_assert_eq(s.total_weight, 8);
    cr_assert_eq(s.added_samples, 3);
    cr_assert_eq(bf_st_add_weight(st, id2, 5), BF_ST_OK);
    cr_assert_eq(bf_st_add_weight(st, 99, 5), BF_ST_INVALID);
    bf_st_free(st);
}

Test(stack_table, rejects_invalid_arguments)
{
    bf_stack_table *st = bf_st_new(NULL);
    uint32_t bogus[] = {12345};
    cr_assert_eq(bf_st_add(st, bogus, 1, 1, NULL), BF_ST_INVALID);
    cr_assert_eq(bf_st_add(st, bogus, 0, 1, NULL), BF_ST_INVALID);
    bf_st_caps caps = {.max_stacks = 0, .max_depth = 10, .max_bytes = 1 << 20};
    cr_assert_null(bf_st_new(&caps));
    caps.max_stacks = 10;
    caps.max_depth = BF_ST_MAX_DEPTH_LIMIT + 1;
    cr_assert_null(bf_st_new(&caps));
    bf_st_free(st);
}

Test(stack_table, max_stacks_counts_drops_instead_of_growing)
{
    bf_st_caps caps = {.max_stacks = 2, .max_depth = 8, .max_bytes = 1 << 20};
    bf_stack_table *st = bf_st_new(&caps);
    uint32_t a = intern(st, "a"), b = intern(st, "b"), c = intern(st, "c");
    cr_assert_eq(bf_st_add(st, &a, 1, 1, NULL), BF_ST_OK);
    cr_assert_eq(bf_st_add(st, &b, 1, 1, NULL), BF_ST_OK);
    cr_assert_eq(bf_st_add(st, &c, 1, 5, NULL), BF_ST_DROPPED);
    /* An existing stack still merges at the cap. */
    cr_assert_eq(bf_st_add(st, &a, 1, 2, NULL), BF_ST_OK);
    bf_st_stats s;
    bf_st_get_stats(st, &s);
    cr_assert_eq(s.dropped_samples, 1);
    cr_assert_eq(s.dropped_weight, 5);
    cr_assert_eq(s.dropped_by_stacks, 1);
    cr_assert_eq(s.total_weight, 4);
    cr_assert_eq(bf_st_stack_count(st), 2);
    bf_st_free(st);
}

Test(stack_table, deep_stacks_keep_the_root_and_end_in_truncated)
{
    bf_st_caps caps = {.max_stacks = 10, .max_depth = 3, .max_bytes = 1 << 20};
    bf_stack_table *st = bf_st_new(&caps);
    uint32_t ids[5];
    const char *names[] = {"r", "a", "b", "c", "d"};
    for (int i = 0; i < 5; i++)
        ids[i] = intern(st, names[i]);
    uint32_t sid;
    cr_assert_eq(bf_st_add(st, ids, 5, 1, &sid), BF_ST_OK);
    size_t depth;
    const uint32_t *got = bf_st_stack(st, sid, &depth, NULL);
    cr_assert_eq(depth, 3);
    cr_assert_str_eq(bf_st_frame_name(st, got[0], NULL), "r");
    cr_assert_str_eq(bf_st_frame_name(st, got[1], NULL), "a");
    cr_assert_str_eq(bf_st_frame_name(st, got[2], NULL), BF_ST_TRUNCATED_FRAME);
    bf_st_stats s;
    bf_st_get_stats(st, &s);
    cr_assert_eq(s.truncated, 1);
    bf_st_free(st);
}

Test(stack_table, max_bytes_bounds_memory_with_counted_drops)
{
    bf_st_caps caps = {.max_stacks = 1000000, .max_depth = 4, .max_bytes = 64 * 1024};
    bf_stack_table *st = bf_st_new(&caps);
    cr_assert_not_null(st);
    char name[32];
    uint64_t refused = 0;
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof(name), "frame_%d", i);
        int64_t id = bf_st_intern(st, name, strlen(name));
        if (id < 0) {
            bf_st_count_drop(st, 1, 1);
            refused++;
            continue;
        }
        uint32_t u = (uint32_t)id;
        if (bf_st_add(st, &u, 1, 1, NULL) != BF_ST_OK)
            refused++;
    }
    cr_assert_leq(bf_st_bytes(st), caps.max_bytes);
    cr_assert_gt(refused, 0);
    bf_st_stats s;
    bf_st_get_stats(st, &s);
    cr_assert_eq(s.dropped_samples, refused);
    cr_assert_eq(s.dropped_samples + s.added_samples, 100000);
    cr_assert_gt(s.dropped_by_bytes, 0);
    bf_st_free(st);
}

Test(stack_table, sorted_follows_folded_line_byte_order)
{
    bf_stack_table *st = bf_st_new(NULL);
    /* As lines: "a-x;c 1" < "a;b 1" ('-' < ';'), "m:f/1 1" < "m:f/10 1" < "m:f/1;g 1". */
    const char *stacks[][3] = {{"a", "b", NULL},      {"a-x", "c", NULL}, {"m:f/1", "g", NULL},
                               {"m:f/10", NULL, NULL}, {"m:f/1", NULL, NULL}};
    for (size_t i = 0; i < 5; i++) {
        uint32_t ids[2];
        size_t d = 0;
        while (d < 3 && stacks[i][d])
            ids[d] = intern(st, stacks[i][d]), d++;
        cr_assert_eq(bf_st_add(st, ids, d, 1, NULL), BF_ST_OK);
    }
    uint32_t *order = bf_st_sorted(st);
    const size_t expect[] = {1, 0, 4, 3, 2};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(order[i], expect[i], "position %zu: got stack %u", i, order[i]);
    free(order);
    bf_st_free(st);
}
