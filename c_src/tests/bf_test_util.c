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
