/* Golden files for each stage of the pipeline: folded in -> merged -> frames -> pruned ->
 * SVG, byte for byte (golden/stages/). Regenerate on purpose with
 * scripts/regen-stage-goldens.sh and review the diff; never automatically. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bf_stages.h"
#include "bf_test_util.h"

static char *slurp(const char *path, size_t *len)
{
    char *data = bf_test_read_file(path, len);
    cr_assert_not_null(data, "missing golden file %s (run scripts/regen-stage-goldens.sh)", path);
    return data;
}

static void check(const char *base)
{
    static const char *const stages[] = {"merged", "frames", "pruned", "svg"};
    char path[256];
    size_t len;
    snprintf(path, sizeof(path), "golden/stages/%s.folded", base);
    char *in = slurp(path, &len);
    for (size_t i = 0; i < 4; i++) {
        bf_buf out;
        bf_buf_init(&out, NULL);
        cr_assert_eq(bf_stage(stages[i], in, len, &out), 0, "%s: stage %s failed", base, stages[i]);
        snprintf(path, sizeof(path), "golden/stages/%s.%s", base, stages[i]);
        size_t glen;
        char *golden = slurp(path, &glen);
        cr_assert(out.len == glen && (glen == 0 || memcmp(out.data, golden, glen) == 0),
                  "%s differs from the golden file (%zu bytes, golden %zu)", path, out.len, glen);
        free(golden);
        bf_buf_free(&out);
    }
    free(in);
}

Test(golden, edges) { check("edges"); }
Test(golden, hostile) { check("hostile"); }
Test(golden, pruning) { check("pruning"); }
