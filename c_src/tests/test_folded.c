/* Folded reader and writer: robustness on malformed input, escapes, streaming. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include "bf_test_util.h"
#include <string.h>

#include "../core/bf_folded.h"

static bf_stack_table *read_all(const char *text, size_t len, size_t chunk, bf_folded_reader *r)
{
    bf_stack_table *st = bf_st_new(NULL);
    bf_folded_reader_init(r, st);
    for (size_t i = 0; i < len; i += chunk)
        cr_assert_eq(bf_folded_feed(r, text + i, (i + chunk > len) ? len - i : chunk), 0);
    cr_assert_eq(bf_folded_finish(r), 0);
    return st;
}

static char *write_all(bf_stack_table *st)
{
    bf_buf b;
    bf_buf_init(&b, NULL);
    cr_assert_eq(bf_folded_write(st, &b), 0);
    bf_buf_putc(&b, '\0');
    return b.data;
}

Test(folded, accepts_blank_lines_crlf_tabs_and_trailing_spaces)
{
    const char *in = "a;b 1\r\n\n   \nb;c\t2  \r\na;b 3\n\t\na;c  4";
    bf_folded_reader r;
    bf_stack_table *st = read_all(in, strlen(in), 1 << 20, &r);
    cr_assert_eq(r.malformed, 0);
    cr_assert_eq(r.stacks_read, 4);
    char *out = write_all(st);
    cr_assert_str_eq(out, "a;b 4\na;c 4\nb;c 2\n");
    free(out);
    bf_folded_reader_free(&r);
    bf_st_free(st);
}

Test(folded, malformed_lines_are_counted_with_line_numbers)
{
    const char *in = "ok 1\n"
                     "nocount\n"         /* 2 */
                     "a;b 3.5\n"         /* 3 */
                     "a;b -3\n"          /* 4 */
                     "a;b 99999999999999999999999\n" /* 5 */
                     " 7\n"              /* 6 */
                     "a;b abc\n"         /* 7 */
                     ";;; 2\n"           /* 8: only empty frames */
                     "fine;too 2\n";
    bf_folded_reader r;
    bf_stack_table *st = read_all(in, strlen(in), 3, &r);
    cr_assert_eq(r.stacks_read, 2);
    cr_assert_eq(r.malformed, 7);
    cr_assert_eq(r.nreported, 7);
    const struct { uint64_t line; bf_folded_err code; } expect[] = {
        {2, BF_FE_NO_COUNT},        {3, BF_FE_COUNT_NOT_WHOLE},  {4, BF_FE_COUNT_NOT_NUMBER},
        {5, BF_FE_COUNT_TOO_LARGE}, {6, BF_FE_EMPTY_STACK},      {7, BF_FE_COUNT_NOT_NUMBER},
        {8, BF_FE_EMPTY_STACK}};
    for (size_t i = 0; i < 7; i++) {
        cr_assert_eq(r.reported[i].line, expect[i].line, "report %zu", i);
        cr_assert_eq(r.reported[i].code, expect[i].code, "report %zu", i);
        cr_assert_not_null(bf_folded_err_text(r.reported[i].code));
    }
    bf_folded_reader_free(&r);
    bf_st_free(st);
}

Test(folded, only_the_first_errors_are_kept_but_all_counted)
{
    bf_buf b;
    bf_buf_init(&b, NULL);
    for (int i = 0; i < 100; i++)
        bf_buf_puts(&b, "garbage\n");
    bf_folded_reader r;
    bf_stack_table *st = read_all(b.data, b.len, 7, &r);
    cr_assert_eq(r.malformed, 100);
    cr_assert_eq(r.nreported, BF_FOLDED_MAX_REPORTED);
    cr_assert_eq(r.reported[BF_FOLDED_MAX_REPORTED - 1].line, BF_FOLDED_MAX_REPORTED);
    bf_buf_free(&b);
    bf_folded_reader_free(&r);
    bf_st_free(st);
}

Test(folded, escapes_round_trip_any_name)
{
    bf_stack_table *st = bf_st_new(NULL);
    const char *names[] = {"semi;colon", "back\\slash", "new\nline", "cr\rtab\t",
                           "nul\x01" "ctl\x7f", "trailing space ", "plain", "C:\\dir"};
    uint32_t ids[8];
    for (int i = 0; i < 8; i++)
        ids[i] = (uint32_t)bf_st_intern(st, names[i], strlen(names[i]));
    bf_st_add(st, ids, 8, 5, NULL);
    bf_st_add(st, ids + 5, 1, 2, NULL); /* "trailing space " as a leaf */
    char *out = write_all(st);
    cr_assert_null(strchr(out, '\r'));
    size_t lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 2, "every stack stays on one line");
    bf_folded_reader r;
    bf_stack_table *back = read_all(out, strlen(out), 2, &r);
    cr_assert_eq(r.malformed, 0);
    char *again = write_all(back);
    cr_assert_str_eq(out, again);
    size_t depth;
    uint64_t w;
    const uint32_t *got = NULL;
    for (uint32_t i = 0; i < bf_st_stack_count(back); i++) {
        const uint32_t *s = bf_st_stack(back, i, &depth, &w);
        if (depth == 8)
            got = s;
    }
    cr_assert_not_null(got);
    for (int i = 0; i < 8; i++) {
        size_t len;
        const char *n = bf_st_frame_name(back, got[i], &len);
        cr_assert_eq(len, strlen(names[i]), "name %d", i);
        cr_assert_eq(memcmp(n, names[i], len), 0, "name %d", i);
    }
    free(out);
    free(again);
    bf_folded_reader_free(&r);
    bf_st_free(back);
    bf_st_free(st);
}

Test(folded, unknown_escapes_stay_literal)
{
    const char *in = "C:\\dir;x\\q;end\\ 1\n";
    bf_folded_reader r;
    bf_stack_table *st = read_all(in, strlen(in), 64, &r);
    cr_assert_eq(bf_st_frame_count(st), 3);
    cr_assert_str_eq(bf_st_frame_name(st, 0, NULL), "C:\\dir");
    cr_assert_str_eq(bf_st_frame_name(st, 1, NULL), "x\\q");
    cr_assert_str_eq(bf_st_frame_name(st, 2, NULL), "end\\");
    bf_folded_reader_free(&r);
    bf_st_free(st);
}

Test(folded, any_chunking_gives_the_same_table)
{
    const char *in = "a;b;c 1\nx;y 22\r\n\nbad\na;b;c 3\nz\\;w 4";
    bf_folded_reader r1;
    bf_stack_table *whole = read_all(in, strlen(in), 1 << 20, &r1);
    char *expect = write_all(whole);
    for (size_t chunk = 1; chunk < 12; chunk++) {
        bf_folded_reader r;
        bf_stack_table *st = read_all(in, strlen(in), chunk, &r);
        char *got = write_all(st);
        cr_assert_str_eq(got, expect, "chunk %zu", chunk);
        cr_assert_eq(r.malformed, 1);
        cr_assert_eq(r.reported[0].line, 4);
        free(got);
        bf_folded_reader_free(&r);
        bf_st_free(st);
    }
    free(expect);
    bf_folded_reader_free(&r1);
    bf_st_free(whole);
}

Test(folded, overlong_line_is_skipped_and_reading_continues)
{
    size_t big = BF_FOLDED_MAX_LINE + 100;
    char *in = malloc(big + 32);
    memset(in, 'a', big);
    strcpy(in + big, " 1\nok 2\n");
    size_t len = strlen(in);
    for (size_t chunk = 1 << 20; chunk >= (1 << 16); chunk >>= 4) {
        bf_folded_reader r;
        bf_stack_table *st = read_all(in, len, chunk, &r);
        cr_assert_eq(r.malformed, 1);
        cr_assert_eq(r.reported[0].code, BF_FE_LINE_TOO_LONG);
        cr_assert_eq(r.reported[0].line, 1);
        cr_assert_eq(r.stacks_read, 1);
        bf_folded_reader_free(&r);
        bf_st_free(st);
    }
    free(in);
}

Test(folded, deep_lines_are_cut_by_the_table)
{
    bf_st_caps caps = {.max_stacks = 10, .max_depth = 4, .max_bytes = 1 << 20};
    bf_stack_table *st = bf_st_new(&caps);
    bf_folded_reader r;
    bf_folded_reader_init(&r, st);
    const char *in = "a;b;c;d;e;f;g;h 1\n";
    bf_folded_feed(&r, in, strlen(in));
    bf_folded_finish(&r);
    char *out = write_all(st);
    cr_assert_str_eq(out, "a;b;c;[truncated] 1\n");
    free(out);
    bf_folded_reader_free(&r);
    bf_st_free(st);
}

Test(folded, random_bytes_never_crash)
{
    srand(1234);
    char buf[4096];
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)(rand() % (int)sizeof(buf));
        for (size_t i = 0; i < n; i++) {
            const char alphabet[] = "ab;; \t\n\r\\x09.-";
            buf[i] = (rand() % 4) ? alphabet[rand() % (int)(sizeof(alphabet) - 1)]
                                  : (char)rand();
        }
        bf_folded_reader r;
        bf_stack_table *st = read_all(buf, n, 1 + (size_t)(rand() % 100), &r);
        char *out = write_all(st);
        free(out);
        bf_folded_reader_free(&r);
        bf_st_free(st);
    }
}

static bf_stack_table *read_range(const char *text, size_t from, size_t to,
                                  const bf_st_caps *caps)
{
    bf_stack_table *st = bf_st_new(caps);
    bf_folded_reader r;
    bf_folded_reader_init(&r, st);
    cr_assert_eq(bf_folded_feed(&r, text + from, to - from), 0);
    cr_assert_eq(bf_folded_finish(&r), 0);
    bf_folded_reader_free(&r);
    return st;
}

/* Reading a file in two parts into two tables and merging them gives the table read
 * whole: frame and stack ids, weights, credits and counts (truncations included), at
 * every line boundary of the golden inputs. */
Test(folded, two_parts_merged_are_the_whole)
{
    const char *inputs[] = {"golden/compat-random.folded", "golden/compat-prefix.folded",
                            "golden/compat-edges.folded"};
    bf_st_caps caps;
    bf_st_default_caps(&caps);
    caps.max_depth = 6; /* some stacks are cut: truncation counts merge too */
    for (size_t f = 0; f < 3; f++) {
        size_t len;
        char *text = bf_test_read_file(inputs[f], &len);
        cr_assert_not_null(text);
        bf_stack_table *whole = read_range(text, 0, len, &caps);
        size_t tried = 0;
        for (size_t split = 0; split <= len; split++) {
            if (split && split < len && text[split - 1] != '\n')
                continue;
            bf_stack_table *a = read_range(text, 0, split, &caps);
            bf_stack_table *b = read_range(text, split, len, &caps);
            cr_assert_eq(bf_st_merge(a, b), BF_ST_OK);
            const char *diff = bf_test_table_diff(whole, a);
            cr_assert_null(diff, "split %zu: %s", split, diff);
            bf_st_free(a);
            bf_st_free(b);
            tried++;
        }
        cr_assert_gt(tried, 2);
        bf_st_free(whole);
        free(text);
    }
}

/* A merge that the destination's caps refuse counts what it lost there. */
Test(folded, merge_into_a_full_table_counts_the_drops)
{
    bf_st_caps caps;
    bf_st_default_caps(&caps);
    caps.max_stacks = 2;
    const char *text = "a;b 1\na;c 2\n";
    const char *more = "a;b 10\nd 5\ne 7\n";
    bf_stack_table *a = read_range(text, 0, strlen(text), &caps);
    bf_stack_table *b = read_range(more, 0, strlen(more), NULL);
    cr_assert_eq(bf_st_merge(a, b), BF_ST_DROPPED);
    bf_st_stats s;
    bf_st_get_stats(a, &s);
    cr_assert_eq(s.total_weight, 13);
    cr_assert_eq(s.added_samples, 3);
    cr_assert_eq(s.dropped_samples, 2);
    cr_assert_eq(s.dropped_weight, 12);
    cr_assert_eq(s.dropped_by_stacks, 2);
    bf_st_free(a);
    bf_st_free(b);
}
