/* Stage dumps for golden files. See bf_stages.h. */
#include "bf_stages.h"

#include <stdlib.h>
#include <string.h>

#include "../core/bf_flame.h"
#include "../core/bf_folded.h"
#include "../core/bf_svg.h"

typedef struct stage_ctx {
    const bf_stack_table *st;
    bf_buf *out;
    double min_units; /* < 0: keep every frame */
} stage_ctx;

static int stage_frame(const bf_flame_node *n, void *ctx)
{
    stage_ctx *c = ctx;
    if (c->min_units >= 0 && n->depth > 0 && (double)(n->end - n->start) < c->min_units)
        return 0;
    size_t len = 3;
    const char *name = n->name == BF_FLAME_ROOT ? "all" : bf_st_frame_name(c->st, n->name, &len);
    bf_buf_printf(c->out, "%u %llu %llu ", n->depth, (unsigned long long)n->start,
                  (unsigned long long)n->end);
    bf_folded_escape(c->out, name, len, 1);
    bf_buf_putc(c->out, '\n');
    return 0;
}

int bf_stage(const char *stage, const char *input, size_t len, bf_buf *out)
{
    bf_stack_table *st = bf_st_new(NULL);
    bf_folded_reader r;
    bf_folded_reader_init(&r, st);
    int rc = -1;
    if (bf_folded_feed(&r, input, len) != 0 || bf_folded_finish(&r) != 0)
        goto done;
    bf_svg_opts o;
    bf_svg_default_opts(&o);
    if (!strcmp(stage, "merged")) {
        rc = bf_folded_write(st, out);
    } else if (!strcmp(stage, "frames") || !strcmp(stage, "pruned")) {
        stage_ctx c = {.st = st, .out = out, .min_units = -1};
        if (!strcmp(stage, "pruned")) {
            /* the minimum width the default SVG applied (budget included), in weight */
            bf_buf scratch;
            bf_buf_init(&scratch, NULL);
            bf_svg_result res;
            bf_st_stats s;
            bf_st_get_stats(st, &s);
            if (bf_svg_render(st, &o, &scratch, &res) != BF_SVG_OK) {
                bf_buf_free(&scratch);
                goto done;
            }
            bf_buf_free(&scratch);
            c.min_units = res.min_width_px / ((o.width - 2 * BF_SVG_XPAD) / (double)s.total_weight);
        }
        uint32_t *order = bf_st_sorted(st);
        rc = order ? bf_flame_walk(st, order, stage_frame, &c) : -1;
        free(order);
    } else if (!strcmp(stage, "svg")) {
        rc = bf_svg_render(st, &o, out, NULL) == BF_SVG_OK ? 0 : -1;
    }
done:
    bf_folded_reader_free(&r);
    bf_st_free(st);
    return rc;
}
