/* Helpers shared by the C tests and the golden dump tool. See bf_test_util.h. */
#include "bf_test_util.h"

#include <stdio.h>
#include <string.h>

#include "../core/bf_buf.h"
#include "../core/bf_folded.h"

char *bf_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    bf_buf b;
    bf_buf_init(&b, NULL);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        bf_buf_put(&b, chunk, n);
    fclose(f);
    *len = b.len;
    bf_buf_putc(&b, '\0');
    return b.data;
}

bf_stack_table *bf_test_table(const char *folded)
{
    bf_stack_table *st = bf_st_new(NULL);
    bf_folded_reader r;
    bf_folded_reader_init(&r, st);
    bf_folded_feed(&r, folded, strlen(folded));
    bf_folded_finish(&r);
    bf_folded_reader_free(&r);
    return st;
}

uint64_t bf_test_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

const char *bf_test_table_diff(const bf_stack_table *a, const bf_stack_table *b)
{
    static char why[64];
    if (bf_st_frame_count(a) != bf_st_frame_count(b))
        return "frame count";
    for (uint32_t i = 0; i < bf_st_frame_count(a); i++) {
        size_t la, lb;
        const char *na = bf_st_frame_name(a, i, &la), *nb = bf_st_frame_name(b, i, &lb);
        if (la != lb || memcmp(na, nb, la) != 0) {
            snprintf(why, sizeof(why), "frame %u", i);
            return why;
        }
    }
    if (bf_st_stack_count(a) != bf_st_stack_count(b))
        return "stack count";
    for (uint32_t i = 0; i < bf_st_stack_count(a); i++) {
        size_t da, db;
        uint64_t wa, wb;
        const uint32_t *ia = bf_st_stack(a, i, &da, &wa), *ib = bf_st_stack(b, i, &db, &wb);
        if (da != db || wa != wb || memcmp(ia, ib, da * sizeof(uint32_t)) != 0 ||
            bf_st_stack_credits(a, i) != bf_st_stack_credits(b, i)) {
            snprintf(why, sizeof(why), "stack %u", i);
            return why;
        }
    }
    bf_st_stats sa, sb;
    bf_st_get_stats(a, &sa);
    bf_st_get_stats(b, &sb);
    return memcmp(&sa, &sb, sizeof(sa)) == 0 ? NULL : "counts";
}
