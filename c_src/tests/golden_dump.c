/* golden_dump STAGE FILE: prints one pipeline stage of FILE (see bf_stages.h). Used only
 * by scripts/regen-stage-goldens.sh to regenerate the golden files on purpose. */
#include <stdio.h>
#include <stdlib.h>

#include "bf_stages.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: golden_dump merged|frames|pruned|svg FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    bf_buf in;
    bf_buf_init(&in, NULL);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        bf_buf_put(&in, chunk, n);
    fclose(f);
    bf_buf out;
    bf_buf_init(&out, stdout);
    int rc = bf_stage(argv[1], in.data ? in.data : "", in.len, &out);
    bf_buf_flush(&out);
    bf_buf_free(&out);
    bf_buf_free(&in);
    return rc == 0 ? 0 : 1;
}
