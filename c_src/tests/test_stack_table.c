/* Stack table: interning, merging, caps with counted drops, flamegraph.pl sort order. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../core/bf_stack_table.h"
#include "bf_test_util.h"

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

/* The reference order: each stack written as its line ("f1;f2;...;fn ", names raw) and
 * the lines compared byte by byte. */
typedef struct ref_line {
    char *text;
    size_t len;
    uint32_t stack;
} ref_line;

static int ref_cmp(const void *pa, const void *pb)
{
    const ref_line *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->text, b->text, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t rng(void)
{
    return bf_test_rand(&rng_state);
}

/* Names built to stress the order: prefixes of each other, followed by bytes on both
 * sides of ' ' and ';', spaces, empty names, bytes above 0x7f (no ';' inside a name: the
 * order is then by frames, see bf_st_sorted). Stacks share long prefixes
 * so that the sort's packed keys tie and the rank-by-rank comparison runs. */
Test(stack_table, sorted_matches_the_lines_byte_order_on_random_stacks)
{
    static const char *const parts[] = {"m:f/1", "m:f/10", "m:f/1!", "m:f/1 ", "m:f/1:",
                                        "m:f/1<", "", " ", "!", "\xc3\xa9", "a",
                                        "a b", "a\x7f", "z"};
    const size_t nparts = sizeof(parts) / sizeof(parts[0]);
    bf_stack_table *st = bf_st_new(NULL);
    char name[64];
    for (int round = 0; round < 3000; round++) {
        uint32_t ids[24];
        size_t depth = 1 + rng() % 24;
        for (size_t d = 0; d < depth; d++) {
            /* The first frames from a few names (shared prefixes), deeper ones varied. */
            size_t pick = d < 6 ? rng() % 3 : rng() % nparts;
            snprintf(name, sizeof(name), "%s%s", parts[pick],
                     (d >= 6 && rng() % 2) ? parts[rng() % nparts] : "");
            ids[d] = intern(st, name);
        }
        cr_assert_neq(bf_st_add(st, ids, depth, 1, NULL), BF_ST_INVALID);
    }
    uint32_t n = bf_st_stack_count(st);
    ref_line *ref = calloc(n, sizeof(*ref));
    for (uint32_t i = 0; i < n; i++) {
        size_t depth;
        const uint32_t *ids = bf_st_stack(st, i, &depth, NULL);
        ref[i].text = malloc(depth * 64 + 1);
        ref[i].stack = i;
        for (size_t d = 0; d < depth; d++) {
            size_t len;
            const char *s = bf_st_frame_name(st, ids[d], &len);
            memcpy(ref[i].text + ref[i].len, s, len);
            ref[i].len += len;
            ref[i].text[ref[i].len++] = d + 1 < depth ? ';' : ' ';
        }
    }
    qsort(ref, n, sizeof(*ref), ref_cmp);
    uint32_t *order = bf_st_sorted(st);
    cr_assert_not_null(order);
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(order[i], ref[i].stack, "position %u of %u: got stack %u, want %u", i, n,
                     order[i], ref[i].stack);
    for (uint32_t i = 0; i < n; i++)
        free(ref[i].text);
    free(ref);
    free(order);
    bf_st_free(st);
}

/* Interning many names at once gives what one at a time gives, repeats in one batch
 * included, and stops at the first name the byte cap refuses. */
Test(stack_table, intern_many_is_intern_in_order)
{
    bf_stack_table *one = bf_st_new(NULL), *many = bf_st_new(NULL);
    char buf[100][16];
    const char *names[100];
    size_t lens[100];
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + rng() % 100;
        for (size_t i = 0; i < n; i++) {
            lens[i] = (size_t)snprintf(buf[i], sizeof(buf[i]), "n%u", (unsigned)(rng() % 700));
            names[i] = buf[i];
        }
        uint32_t ids[100];
        cr_assert_eq(bf_st_intern_many(many, names, lens, n, ids), n);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(ids[i], (uint32_t)bf_st_intern(one, names[i], lens[i]));
    }
    cr_assert_eq(bf_st_frame_count(one), bf_st_frame_count(many));
    bf_st_free(one);
    bf_st_free(many);

    bf_st_caps caps;
    bf_st_default_caps(&caps);
    caps.max_depth = 4;
    caps.max_bytes = 8192;
    bf_stack_table *st = bf_st_new(&caps);
    static char big[40][200];
    const char *bn[40];
    size_t bl[40];
    for (int i = 0; i < 40; i++) {
        memset(big[i], 'a' + i % 26, sizeof(big[i]));
        big[i][0] = (char)('0' + i / 26);
        bn[i] = big[i];
        bl[i] = sizeof(big[i]);
    }
    uint32_t ids[40];
    size_t got = bf_st_intern_many(st, bn, bl, 40, ids);
    cr_assert_lt(got, 40);
    cr_assert_eq(bf_st_frame_count(st), got);
    for (size_t i = 0; i < got; i++)
        cr_assert_eq(ids[i], (uint32_t)bf_st_intern(st, bn[i], bl[i]));
    bf_st_free(st);
}
