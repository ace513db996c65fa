/* bf_svg: SVG flame graph renderer. See bf_svg.h. Runs on whatever thread calls it (a
 * dirty scheduler for large NIF renders); it only reads the table. */
#include "bf_svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bf_flame.h"

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
    if (!o->title || strlen(o->title) > BF_SVG_MAX_TITLE)
        return "title must be at most 4096 bytes";
    if (o->subtitle && strlen(o->subtitle) > BF_SVG_MAX_TITLE)
        return "subtitle must be at most 4096 bytes";
    if (!o->count_name || strlen(o->count_name) > 64)
        return "count name must be at most 64 bytes";
    return NULL;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t bf_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    /* U+FFFE and U+FFFF are not XML characters. */
    if (cp == 0xFFFE || cp == 0xFFFF)
        return 0;
    return len;
}

static size_t bf_utf8_count(const unsigned char *s, size_t n)
{
    size_t cps = 0;
    for (size_t i = 0; i < n; cps++) {
        size_t l = bf_utf8_len(s + i, n - i);
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
        size_t l = bf_utf8_len(s + i, n - i);
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
} bf_svg_ctx;

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
    if (n->depth > c->res->depth_max)
        c->res->depth_max = n->depth;
    return 0;
}

/* Hot palette (red-orange-yellow) from a hash of the name: deterministic. */
static void bf_svg_color(const char *name, size_t len, int rgb[3])
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    double v1 = (double)(h & 0xffff) / 65536.0;
    double v2 = (double)((h >> 16) & 0xffff) / 65536.0;
    double v3 = (double)((h >> 32) & 0xffff) / 65536.0;
    rgb[0] = 205 + (int)(50 * v3);
    rgb[1] = (int)(230 * v1);
    rgb[2] = (int)(55 * v2);
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
    double y2 = c->image_height - c->ypad2 - n->depth * o->frame_height;
    double y1 = y2 - o->frame_height + BF_SVG_FRAMEPAD;
    double pct = c->total ? 100.0 * (double)w / (double)c->total : 0.0;
    int rgb[3];
    bf_svg_color(name, len, rgb);

    bf_buf_puts(out, "<g class=\"func_g\"><title>");
    bf_xml_escape(out, name, len, 0);
    bf_buf_puts(out, " (");
    bf_buf_put_u64_grouped(out, w);
    bf_buf_putc(out, ' ');
    bf_xml_escape(out, o->count_name, strlen(o->count_name), 0);
    if (n->depth == 0)
        bf_buf_puts(out, ", 100%");
    else
        bf_buf_printf(out, ", %.2f%%", pct);
    bf_buf_printf(out,
                  ")</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
                  "fill=\"rgb(%d,%d,%d)\" rx=\"2\" ry=\"2\"/><text x=\"%.2f\" y=\"%.2f\">",
                  x1, y1, width, y2 - y1, rgb[0], rgb[1], rgb[2], x1 + 3, 3 + (y1 + y2) / 2);
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

static void bf_svg_header(bf_svg_ctx *c)
{
    const bf_svg_opts *o = c->o;
    bf_buf *out = c->out;
    bf_buf_printf(out,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
                  "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                  "xmlns=\"http://www.w3.org/2000/svg\">\n",
                  o->width, c->image_height, o->width, c->image_height);
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
    bf_buf_puts(out, "<g id=\"frames\">\n");
}

static void bf_svg_footer(bf_svg_ctx *c)
{
    bf_buf_puts(c->out, "</g>\n</svg>\n");
}

bf_svg_status bf_svg_render(const bf_stack_table *st, const bf_svg_opts *o, bf_buf *out,
                            bf_svg_result *res)
{
    bf_svg_result local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    if (bf_svg_check_opts(o))
        return BF_SVG_BADOPTS;
    bf_st_stats stats;
    bf_st_get_stats(st, &stats);
    if (bf_st_stack_count(st) == 0 || stats.total_weight == 0)
        return BF_SVG_EMPTY;
    uint32_t *order = bf_st_sorted(st);
    if (!order)
        return BF_SVG_NOMEM;
    bf_svg_ctx c = {.st = st, .o = o, .out = out, .res = res};
    c.total = stats.total_weight;
    c.width_per_unit = (o->width - 2 * BF_SVG_XPAD) / (double)c.total;
    c.min_units = o->min_width / c.width_per_unit;
    c.ypad1 = o->font_size * (o->subtitle ? 5 : 3);
    c.ypad2 = o->font_size * 2 + 10;
    bf_svg_status rc = BF_SVG_NOMEM;
    if (bf_flame_walk(st, order, bf_svg_measure, &c) != 0)
        goto done;
    c.image_height = (res->depth_max + 1) * o->frame_height + c.ypad1 + c.ypad2;
    bf_svg_header(&c);
    if (bf_flame_walk(st, order, bf_svg_draw, &c) != 0)
        goto done;
    bf_svg_footer(&c);
    rc = out->failed ? BF_SVG_NOMEM : BF_SVG_OK;
done:
    free(order);
    return rc;
}
