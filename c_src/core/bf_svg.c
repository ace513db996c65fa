/* bf_svg: SVG flame graph renderer. See bf_svg.h. Runs on whatever thread calls it (a
 * dirty scheduler for large NIF renders); it only reads the table. */
#include "bf_svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bf_flame.h"
#include "bf_utf8.h"

#define BF_UTF8_REPLACEMENT "\xEF\xBF\xBD"

void bf_svg_default_opts(bf_svg_opts *o)
{
    o->title = "Flame Graph";
    o->subtitle = NULL;
    o->count_name = "samples";
    o->width = BF_SVG_DEFAULT_WIDTH;
    o->frame_height = BF_SVG_DEFAULT_FRAME_HEIGHT;
    o->font_size = BF_SVG_DEFAULT_FONT_SIZE;
    o->font_width = BF_SVG_DEFAULT_FONT_WIDTH;
    o->min_width = BF_SVG_DEFAULT_MIN_WIDTH;
    o->min_width_pct = 0;
    o->palette = BF_PALETTE_HOT;
    o->inverted = 0;
    o->reverse = 0;
    o->flamechart = 0;
    o->interactive = 1;
    o->max_frames = BF_SVG_DEFAULT_MAX_FRAMES;
}

const char *bf_svg_check_opts(const bf_svg_opts *o)
{
    if (!(o->width > 2 * BF_SVG_XPAD && o->width <= BF_SVG_MAX_WIDTH))
        return "width must be between 21 and 100000 pixels";
    if (!(o->frame_height >= 2 && o->frame_height <= 1000))
        return "frame height must be between 2 and 1000 pixels";
    if (!(o->font_size >= 1 && o->font_size <= 200))
        return "font size must be between 1 and 200 pixels";
    if (!(o->font_width > 0 && o->font_width <= 2))
        return "font width must be between 0 and 2";
    if (!(o->min_width >= 0 && o->min_width <= o->width))
        return "minimum width must be between 0 and the image width";
    if (!(o->min_width_pct >= 0 && o->min_width_pct <= 100))
        return "minimum width in percent must be between 0 and 100";
    if (o->palette != BF_PALETTE_HOT && o->palette != BF_PALETTE_BEAM)
        return "palette must be hot or beam";
    if (!o->title || strlen(o->title) > BF_SVG_MAX_TITLE)
        return "title must be at most 4096 bytes";
    if (o->subtitle && strlen(o->subtitle) > BF_SVG_MAX_TITLE)
        return "subtitle must be at most 4096 bytes";
    if (!o->count_name || strlen(o->count_name) > 64)
        return "count name must be at most 64 bytes";
    return NULL;
}

/* Length of the UTF-8 sequence at s that XML accepts as a character, or 0: well-formed,
 * and not U+FFFE or U+FFFF. */
static size_t bf_xml_char_len(const unsigned char *s, size_t n)
{
    uint32_t cp;
    size_t len = bf_utf8_len(s, n, &cp);
    return (cp == 0xFFFE || cp == 0xFFFF) ? 0 : len;
}

static size_t bf_utf8_count(const unsigned char *s, size_t n)
{
    size_t cps = 0;
    for (size_t i = 0; i < n; cps++) {
        size_t l = bf_xml_char_len(s + i, n - i);
        i += l ? l : 1;
    }
    return cps;
}

void bf_xml_escape(bf_buf *out, const char *str, size_t n, size_t max_chars)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t keep = SIZE_MAX; /* characters to write before ".." */
    if (max_chars > 0 && bf_utf8_count(s, n) > max_chars)
        keep = max_chars >= 2 ? max_chars - 2 : 0;
    size_t i = 0, chars = 0, run = 0;
    while (i < n && chars < keep) {
        size_t l = bf_xml_char_len(s + i, n - i);
        const char *rep = NULL;
        if (l == 0)
            rep = BF_UTF8_REPLACEMENT;
        else if (l == 1) {
            switch (s[i]) {
            case '&': rep = "&amp;"; break;
            case '<': rep = "&lt;"; break;
            case '>': rep = "&gt;"; break;
            case '"': rep = "&quot;"; break;
            case '\'': rep = "&#39;"; break;
            case '\t': case '\n': case '\r': rep = " "; break;
            default:
                if (s[i] < 0x20 || s[i] == 0x7f)
                    rep = BF_UTF8_REPLACEMENT;
            }
        }
        if (rep) {
            bf_buf_put(out, str + run, i - run);
            bf_buf_puts(out, rep);
            i += l ? l : 1;
            run = i;
        } else {
            i += l;
        }
        chars++;
    }
    bf_buf_put(out, str + run, i - run);
    if (keep != SIZE_MAX)
        bf_buf_puts(out, "..");
}

typedef struct bf_svg_ctx {
    const bf_stack_table *st;
    const bf_svg_opts *o;
    bf_buf *out;
    bf_svg_result *res;
    uint64_t total;
    double width_per_unit; /* px per unit of weight */
    double min_units;      /* min_width expressed in weight */
    double image_height;
    double ypad1, ypad2;
    int inline_svg; /* inside an HTML page: no XML declaration */
    const double *delta; /* differential: change per stack id, or NULL */
    double max_delta;    /* largest |change| of a drawn frame */
    uint64_t *hist;      /* frame budget: frames per width bucket (BF_SVG_BUCKETS) */
} bf_svg_ctx;

/* Width histogram for the frame budget: 16 buckets per doubling of the width in weight
 * units, so a raised threshold lands within 5% of the exact one. */
#define BF_SVG_BUCKETS_PER_DOUBLING 16
#define BF_SVG_BUCKETS (64 * BF_SVG_BUCKETS_PER_DOUBLING)

static size_t bf_svg_bucket(uint64_t w)
{
    if (w == 0)
        return 0;
    double b = log2((double)w) * BF_SVG_BUCKETS_PER_DOUBLING + 1;
    return b >= BF_SVG_BUCKETS ? BF_SVG_BUCKETS - 1 : (size_t)b;
}

/* Smallest width (in weight units) of bucket k. */
static double bf_svg_bucket_floor(size_t k)
{
    return k == 0 ? 0 : exp2((double)(k - 1) / BF_SVG_BUCKETS_PER_DOUBLING);
}

static int bf_svg_pruned(const bf_svg_ctx *c, const bf_flame_node *n)
{
    return n->depth > 0 && (double)(n->end - n->start) < c->min_units;
}

static int bf_svg_measure(const bf_flame_node *n, void *ctx)
{
    bf_svg_ctx *c = ctx;
    if (bf_svg_pruned(c, n)) {
        c->res->frames_pruned++;
        return 0;
    }
    c->res->frames_drawn++;
    if (c->hist && n->depth > 0)
        c->hist[bf_svg_bucket(n->end - n->start)]++;
    if (n->depth > c->res->depth_max)
        c->res->depth_max = n->depth;
    double a = n->delta < 0 ? -n->delta : n->delta;
    if (n->depth > 0 && a > c->max_delta)
        c->max_delta = a;
    return 0;
}

static void bf_svg_frame(bf_svg_ctx *c, const bf_flame_node *n)
{
    const bf_svg_opts *o = c->o;
    bf_buf *out = c->out;
    const char *name = "all";
    size_t len = 3;
    if (n->name != BF_FLAME_ROOT)
        name = bf_st_frame_name(c->st, n->name, &len);
    uint64_t w = n->end - n->start;
    double x1 = BF_SVG_XPAD + (double)n->start * c->width_per_unit;
    double width = (double)w * c->width_per_unit;
    double y1, y2;
    if (o->inverted) {
        y1 = c->ypad1 + n->depth * o->frame_height;
        y2 = y1 + o->frame_height - BF_SVG_FRAMEPAD;
    } else {
        y2 = c->image_height - c->ypad2 - n->depth * o->frame_height;
        y1 = y2 - o->frame_height + BF_SVG_FRAMEPAD;
    }
    double pct = c->total ? 100.0 * (double)w / (double)c->total : 0.0;
    int rgb[3];
    if (c->delta) {
        /* flamegraph.pl's differential scale: red grew, blue shrank, white unchanged */
        double v = c->max_delta > 0 ? n->delta / c->max_delta : 0;
        /* the scale is the frames' largest change; the root's (not on the scale: it is
         * the sum of its children's) may be larger, and is as saturated as they get */
        v = v > 1 ? 1 : v < -1 ? -1 : v;
        rgb[0] = rgb[1] = rgb[2] = 255;
        if (v > 0)
            rgb[1] = rgb[2] = (int)(210 * (1 - v));
        else if (v < 0)
            rgb[0] = rgb[1] = (int)(210 * (1 + v));
    } else {
        bf_frame_class cls = n->name == BF_FLAME_ROOT ? BF_CLASS_PSEUDO : bf_classify(name, len);
        bf_palette_color(o->palette, cls, name, len, rgb);
    }

    bf_buf_puts(out, "<g class=\"func_g\" data-w=\"");
    bf_buf_put_u64(out, w);
    bf_buf_puts(out, "\"><title>");
    bf_xml_escape(out, name, len, 0);
    bf_buf_puts(out, " (");
    bf_buf_put_u64_grouped(out, w);
    bf_buf_putc(out, ' ');
    bf_xml_escape(out, o->count_name, strlen(o->count_name), 0);
    if (n->depth == 0) {
        bf_buf_puts(out, ", 100%");
    } else {
        bf_buf_puts(out, ", ");
        bf_buf_put_fixed(out, pct, 2);
        bf_buf_putc(out, '%');
    }
    if (c->delta) { /* the change, in percent of the total, as flamegraph.pl shows it */
        double d = c->total ? 100.0 * n->delta / (double)c->total : 0.0;
        bf_buf_printf(out, "; %+.2f%%", (d > -0.005 && d < 0.005) ? 0.0 : d);
    }
    /* Written piece by piece: printf's floating point was most of the time of a graph
     * with many frames drawn. */
    bf_buf_puts(out, ")</title><rect x=\"");
    bf_buf_put_fixed(out, x1, 2);
    bf_buf_puts(out, "\" y=\"");
    bf_buf_put_fixed(out, y1, 1);
    bf_buf_puts(out, "\" width=\"");
    bf_buf_put_fixed(out, width, 2);
    bf_buf_puts(out, "\" height=\"");
    bf_buf_put_fixed(out, y2 - y1, 1);
    bf_buf_puts(out, "\" fill=\"rgb(");
    for (int k = 0; k < 3; k++) {   /* 0..255: palettes and the diff scale stay in range */
        if (k)
            bf_buf_putc(out, ',');
        bf_buf_put_u64(out, (uint64_t)(rgb[k] < 0 ? 0 : rgb[k] > 255 ? 255 : rgb[k]));
    }
    bf_buf_puts(out, ")\" rx=\"2\" ry=\"2\"/><text x=\"");
    bf_buf_put_fixed(out, x1 + 3, 2);
    bf_buf_puts(out, "\" y=\"");
    bf_buf_put_fixed(out, 3 + (y1 + y2) / 2, 2);
    bf_buf_puts(out, "\">");
    size_t chars = (size_t)(width / (o->font_size * o->font_width));
    if (chars >= 3)
        bf_xml_escape(out, name, len, chars);
    bf_buf_puts(out, "</text></g>\n");
}

static int bf_svg_draw(const bf_flame_node *n, void *ctx)
{
    bf_svg_ctx *c = ctx;
    if (!bf_svg_pruned(c, n))
        bf_svg_frame(c, n);
    return c->out->failed ? -1 : 0;
}

/* One swatch and label per frame class, in a row under the title (beam palette). */
static void bf_svg_legend(bf_svg_ctx *c)
{
    const bf_svg_opts *o = c->o;
    double x = BF_SVG_XPAD, y = o->font_size * (o->subtitle ? 4.6 : 2.6);
    bf_buf_puts(c->out, "<g id=\"bf-legend\">");
    for (int k = 0; k < BF_CLASS_COUNT; k++) {
        int rgb[3];
        bf_palette_color(BF_PALETTE_BEAM, (bf_frame_class)k, NULL, 0, rgb);
        const char *label = bf_class_label((bf_frame_class)k);
        bf_buf_printf(c->out,
                      "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                      "fill=\"rgb(%d,%d,%d)\"/><text x=\"%.2f\" y=\"%.2f\">%s</text>",
                      x, y, o->font_size, o->font_size, rgb[0], rgb[1], rgb[2],
                      x + o->font_size * 1.4, y + o->font_size * 0.9, label);
        x += o->font_size * (2.4 + o->font_width * (double)strlen(label));
    }
    bf_buf_puts(c->out, "</g>\n");
}

static void bf_svg_header(bf_svg_ctx *c)
{
    const bf_svg_opts *o = c->o;
    bf_buf *out = c->out;
    if (!c->inline_svg)
        bf_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    bf_buf_printf(out,
                  "<svg version=\"1.1\" id=\"bf-flame\" width=\"%.0f\" height=\"%.0f\" "
                  "viewBox=\"0 0 %.0f %.0f\" xmlns=\"http://www.w3.org/2000/svg\" "
                  "data-xpad=\"%.0f\" data-font-size=\"%g\" data-font-width=\"%g\" "
                  "data-inverted=\"%d\" data-total=\"",
                  o->width, c->image_height, o->width, c->image_height, BF_SVG_XPAD,
                  o->font_size, o->font_width, o->inverted ? 1 : 0);
    bf_buf_put_u64(out, c->total);
    bf_buf_puts(out, "\" data-unit=\"");
    bf_xml_escape(out, o->count_name, strlen(o->count_name), 0);
    bf_buf_puts(out, "\">\n");
    bf_buf_puts(out, "<!-- beamflame: ");
    bf_buf_put_u64(out, c->res->frames_drawn);
    bf_buf_puts(out, " frames drawn, ");
    bf_buf_put_u64(out, c->res->frames_pruned);
    bf_buf_printf(out, " pruned below %.2f px -->\n", o->min_width);
    bf_buf_printf(out,
                  "<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
                  "<stop stop-color=\"#eeeeee\" offset=\"5%%\"/>"
                  "<stop stop-color=\"#eeeeb0\" offset=\"95%%\"/></linearGradient></defs>\n"
                  "<style type=\"text/css\">text { font-family:Verdana,sans-serif; "
                  "font-size:%.0fpx; fill:rgb(0,0,0); } #title { text-anchor:middle; "
                  "font-size:%.0fpx; } #subtitle { text-anchor:middle; fill:rgb(160,160,160); }"
                  " .func_g:hover { stroke:black; stroke-width:0.5; cursor:pointer; }</style>\n"
                  "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"url(#background)\"/>\n",
                  o->font_size, o->font_size + 5, o->width, c->image_height);
    bf_buf_printf(out, "<text id=\"title\" x=\"%.2f\" y=\"%.2f\">", o->width / 2,
                  o->font_size * 2);
    bf_xml_escape(out, o->title, strlen(o->title), 0);
    bf_buf_puts(out, "</text>\n");
    if (o->subtitle) {
        bf_buf_printf(out, "<text id=\"subtitle\" x=\"%.2f\" y=\"%.2f\">", o->width / 2,
                      o->font_size * 4);
        bf_xml_escape(out, o->subtitle, strlen(o->subtitle), 0);
        bf_buf_puts(out, "</text>\n");
    }
    if (o->interactive) {
        double bottom = c->image_height - c->ypad2 / 2;
        bf_buf_printf(out,
                      "<text id=\"bf-unzoom\" x=\"%.2f\" y=\"%.2f\" style=\"opacity:0;"
                      "cursor:pointer\">Reset Zoom</text>\n"
                      "<text id=\"bf-search\" x=\"%.2f\" y=\"%.2f\" style=\"opacity:0.6;"
                      "cursor:pointer\">Search</text>\n"
                      "<text id=\"bf-case\" x=\"%.2f\" y=\"%.2f\" style=\"cursor:pointer\">"
                      "ic</text>\n"
                      "<text id=\"bf-matched\" x=\"%.2f\" y=\"%.2f\" "
                      "style=\"text-anchor:end;fill:rgb(200,0,200)\"></text>\n"
                      "<text id=\"bf-details\" x=\"%.2f\" y=\"%.2f\"> </text>\n",
                      BF_SVG_XPAD, o->font_size * 2, o->width - BF_SVG_XPAD - 100,
                      o->font_size * 2, o->width - BF_SVG_XPAD - 20, o->font_size * 2,
                      o->width - BF_SVG_XPAD - 110, o->font_size * 2, BF_SVG_XPAD, bottom);
    }
    if (c->res->frames_pruned) {
        bf_buf_printf(out, "<text id=\"bf-pruned\" x=\"%.2f\" y=\"%.2f\" "
                           "style=\"text-anchor:end;fill:rgb(120,120,120)\">",
                      o->width - BF_SVG_XPAD, c->image_height - c->ypad2 / 2);
        bf_buf_put_u64_grouped(out, c->res->frames_pruned);
        bf_buf_printf(out, " frames narrower than %.2f px not drawn</text>\n",
                      c->res->min_width_px);
    }
    if (o->palette == BF_PALETTE_BEAM)
        bf_svg_legend(c);
    bf_buf_puts(out, "<g id=\"frames\">\n");
}

static void bf_svg_footer(bf_svg_ctx *c)
{
    bf_buf_puts(c->out, "</g>\n");
    if (c->o->interactive) {
        bf_buf_puts(c->out, "<script type=\"text/ecmascript\"><![CDATA[\n");
        bf_buf_puts(c->out, bf_svg_script);
        bf_buf_puts(c->out, "]]></script>\n");
    }
    bf_buf_puts(c->out, "</svg>\n");
}

/* A copy of st with every stack reversed (leaf first), merged again. */
static bf_stack_table *bf_svg_reversed(const bf_stack_table *st)
{
    bf_st_caps caps = *bf_st_get_caps(st);
    caps.max_stacks = UINT32_MAX - 1;
    caps.max_bytes = SIZE_MAX / 2;
    bf_stack_table *rev = bf_st_new(&caps);
    uint32_t *ids = rev ? malloc((caps.max_depth + 1) * sizeof(uint32_t)) : NULL;
    if (!ids)
        goto fail;
    for (uint32_t f = 0; f < bf_st_frame_count(st); f++) {
        size_t len;
        const char *name = bf_st_frame_name(st, f, &len);
        if (bf_st_intern(rev, name, len) != (int64_t)f)
            goto fail;
    }
    for (uint32_t i = 0; i < bf_st_stack_count(st); i++) {
        size_t depth;
        uint64_t w;
        const uint32_t *s = bf_st_stack(st, i, &depth, &w);
        for (size_t d = 0; d < depth; d++)
            ids[d] = s[depth - 1 - d];
        if (bf_st_add(rev, ids, depth, w, NULL) != BF_ST_OK)
            goto fail;
    }
    free(ids);
    return rev;
fail:
    free(ids);
    bf_st_free(rev);
    return NULL;
}

static uint32_t *bf_svg_order(const bf_stack_table *st, int flamechart)
{
    if (!flamechart)
        return bf_st_sorted(st);
    uint32_t n = bf_st_stack_count(st);
    uint32_t *order = malloc((n ? n : 1) * sizeof(uint32_t));
    for (uint32_t i = 0; order && i < n; i++)
        order[i] = i;
    return order;
}

static bf_svg_status bf_svg_render_doc(const bf_stack_table *st0, const bf_svg_opts *o,
                                       bf_buf *out, bf_svg_result *res, int inline_svg,
                                       const double *delta)
{
    bf_svg_result local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    if (bf_svg_check_opts(o))
        return BF_SVG_BADOPTS;
    bf_st_stats stats;
    bf_st_get_stats(st0, &stats);
    if (bf_st_stack_count(st0) == 0 || stats.total_weight == 0)
        return BF_SVG_EMPTY;
    int reverse = o->reverse && !delta; /* a reversed diff would need its deltas remapped */
    bf_stack_table *rev = reverse ? bf_svg_reversed(st0) : NULL;
    if (reverse && !rev)
        return BF_SVG_NOMEM;
    const bf_stack_table *st = rev ? rev : st0;
    uint32_t *order = bf_svg_order(st, o->flamechart);
    if (!order) {
        bf_st_free(rev);
        return BF_SVG_NOMEM;
    }
    bf_svg_ctx c = {.st = st, .o = o, .out = out, .res = res, .inline_svg = inline_svg,
                    .delta = delta};
    c.total = stats.total_weight;
    c.width_per_unit = (o->width - 2 * BF_SVG_XPAD) / (double)c.total;
    double min_px = o->min_width_pct > 0 ? o->min_width_pct / 100 * (o->width - 2 * BF_SVG_XPAD)
                                          : o->min_width;
    c.min_units = min_px / c.width_per_unit;
    c.ypad1 = o->font_size * ((o->subtitle ? 5 : 3) + (o->palette == BF_PALETTE_BEAM ? 2 : 0));
    c.ypad2 = o->font_size * 2 + 10;
    bf_svg_status rc = BF_SVG_NOMEM;
    if (o->max_frames && !(c.hist = calloc(BF_SVG_BUCKETS, sizeof(uint64_t))))
        goto done;
    if (bf_flame_walk_pruned(st, order, delta, c.min_units, &res->frames_pruned,
                             bf_svg_measure, &c) != 0)
        goto done;
    if (o->max_frames && res->frames_drawn > o->max_frames) {
        /* Over budget: keep the widest buckets that fit, and measure again. */
        uint64_t kept = 1; /* the root */
        size_t k = BF_SVG_BUCKETS;
        while (k > 0 && kept + c.hist[k - 1] <= o->max_frames)
            kept += c.hist[--k];
        double floor_units = bf_svg_bucket_floor(k);
        if (floor_units > c.min_units)
            c.min_units = floor_units;
        free(c.hist);
        c.hist = NULL;
        memset(res, 0, sizeof(*res));
        c.max_delta = 0;
        if (bf_flame_walk_pruned(st, order, delta, c.min_units, &res->frames_pruned,
                                 bf_svg_measure, &c) != 0)
            goto done;
    }
    res->min_width_px = c.min_units * c.width_per_unit;
    c.image_height = (res->depth_max + 1) * o->frame_height + c.ypad1 + c.ypad2;
    bf_svg_header(&c);
    if (bf_flame_walk_pruned(st, order, delta, c.min_units, NULL, bf_svg_draw, &c) != 0)
        goto done;
    bf_svg_footer(&c);
    rc = out->failed ? BF_SVG_NOMEM : BF_SVG_OK;
done:
    free(c.hist);
    free(order);
    bf_st_free(rev);
    return rc;
}

bf_svg_status bf_svg_render(const bf_stack_table *st, const bf_svg_opts *o, bf_buf *out,
                            bf_svg_result *res)
{
    return bf_svg_render_doc(st, o, out, res, 0, NULL);
}

static bf_svg_status bf_html_doc(const bf_stack_table *st, const bf_svg_opts *o, bf_buf *out,
                                 bf_svg_result *res, const double *delta);

bf_svg_status bf_html_render(const bf_stack_table *st, const bf_svg_opts *o, bf_buf *out,
                             bf_svg_result *res)
{
    return bf_html_doc(st, o, out, res, NULL);
}

/* Adds every stack of src to dst (names remapped), with its weight or with 0; writes the
 * stack ids in dst to sids. */
static int bf_diff_merge(bf_stack_table *dst, const bf_stack_table *src, int keep_weight,
                         uint32_t *sids)
{
    uint32_t nf = bf_st_frame_count(src);
    uint32_t *map = malloc((nf ? nf : 1) * sizeof(uint32_t));
    uint32_t *ids = malloc((bf_st_get_caps(src)->max_depth + 1) * sizeof(uint32_t));
    int rc = -1;
    if (!map || !ids)
        goto done;
    for (uint32_t f = 0; f < nf; f++) {
        size_t len;
        const char *name = bf_st_frame_name(src, f, &len);
        int64_t id = bf_st_intern(dst, name, len);
        if (id < 0)
            goto done;
        map[f] = (uint32_t)id;
    }
    for (uint32_t i = 0; i < bf_st_stack_count(src); i++) {
        size_t depth;
        uint64_t w;
        const uint32_t *s = bf_st_stack(src, i, &depth, &w);
        for (size_t d = 0; d < depth; d++)
            ids[d] = map[s[d]];
        if (bf_st_add(dst, ids, depth, keep_weight ? w : 0, &sids[i]) != BF_ST_OK)
            goto done;
    }
    rc = 0;
done:
    free(map);
    free(ids);
    return rc;
}

bf_svg_status bf_svg_render_diff(const bf_stack_table *before, const bf_stack_table *after,
                                 int normalize, int html, const bf_svg_opts *o, bf_buf *out,
                                 bf_svg_result *res)
{
    bf_st_caps caps = *bf_st_get_caps(after);
    const bf_st_caps *cb = bf_st_get_caps(before);
    if (cb->max_depth > caps.max_depth)
        caps.max_depth = cb->max_depth;
    caps.max_stacks = UINT32_MAX - 1;
    caps.max_bytes = SIZE_MAX / 2;
    bf_st_stats sa, sb;
    bf_st_get_stats(after, &sa);
    bf_st_get_stats(before, &sb);
    bf_stack_table *m = bf_st_new(&caps);
    uint32_t na = bf_st_stack_count(after), nb = bf_st_stack_count(before);
    uint32_t *ida = malloc((na ? na : 1) * sizeof(uint32_t));
    uint32_t *idb = malloc((nb ? nb : 1) * sizeof(uint32_t));
    double *delta = NULL;
    bf_svg_status rc = BF_SVG_NOMEM;
    if (!m || !ida || !idb || bf_diff_merge(m, after, 1, ida) != 0 ||
        bf_diff_merge(m, before, 0, idb) != 0)
        goto done;
    delta = calloc(bf_st_stack_count(m) ? bf_st_stack_count(m) : 1, sizeof(double));
    if (!delta)
        goto done;
    /* normalised: "before" scaled to the same total as "after", so only shares compare */
    double scale = (normalize && sb.total_weight) ? (double)sa.total_weight / (double)sb.total_weight
                                                  : 1.0;
    for (uint32_t i = 0; i < na; i++) {
        uint64_t w;
        bf_st_stack(after, i, NULL, &w);
        delta[ida[i]] += (double)w;
    }
    for (uint32_t i = 0; i < nb; i++) {
        uint64_t w;
        bf_st_stack(before, i, NULL, &w);
        delta[idb[i]] -= (double)w * scale;
    }
    rc = html ? bf_html_doc(m, o, out, res, delta) : bf_svg_render_doc(m, o, out, res, 0, delta);
done:
    free(delta);
    free(ida);
    free(idb);
    bf_st_free(m);
    return rc;
}

static bf_svg_status bf_html_doc(const bf_stack_table *st, const bf_svg_opts *o, bf_buf *out,
                                 bf_svg_result *res, const double *delta)
{
    size_t start = out->len;
    bf_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width\"><title>");
    bf_xml_escape(out, o->title ? o->title : "", o->title ? strlen(o->title) : 0, 0);
    bf_buf_puts(out, "</title><style>body{margin:0;background:#fff}svg{display:block;"
                     "max-width:100%;height:auto}</style></head><body>\n");
    bf_svg_status rc = bf_svg_render_doc(st, o, out, res, 1, delta);
    if (rc != BF_SVG_OK) {
        if (!out->sink)
            out->len = start; /* nothing half-written into a buffer */
        return rc;
    }
    bf_buf_puts(out, "</body></html>\n");
    return out->failed ? BF_SVG_NOMEM : BF_SVG_OK;
}
