/* golden_dump STAGE FILE: prints one pipeline stage of FILE (see bf_stages.h). Used only
 * by scripts/regen-stage-goldens.sh to regenerate the golden files on purpose. */
#include <stdio.h>
#include <stdlib.h>

#include "bf_stages.h"
#include "bf_test_util.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: golden_dump merged|frames|pruned|svg FILE\n");
        return 2;
    }
    size_t len;
    char *in = bf_test_read_file(argv[2], &len);
    if (!in) {
        perror(argv[2]);
        return 1;
    }
    bf_buf out;
    bf_buf_init(&out, stdout);
    int rc = bf_stage(argv[1], in, len, &out);
    bf_buf_flush(&out);
    bf_buf_free(&out);
    free(in);
    return rc == 0 ? 0 : 1;
}
