/* The renderer's options and the other outputs: palette classes, speedscope JSON, HTML,
 * inverted/reversed/flamechart layouts, minimum width in percent. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bf_folded.h"
#include "../core/bf_palette.h"
#include "../core/bf_speedscope.h"
#include "../core/bf_svg.h"
#include "bf_test_util.h"

#define table_from bf_test_table

static char *render_with(bf_stack_table *st, const bf_svg_opts *o, int html)
{
    bf_buf b;
    bf_buf_init(&b, NULL);
    bf_svg_status s = html ? bf_html_render(st, o, &b, NULL) : bf_svg_render(st, o, &b, NULL);
    cr_assert_eq(s, BF_SVG_OK);
    bf_buf_putc(&b, '\0');
    return b.data;
}

Test(palette, classifies_beam_frames)
{
    struct { const char *name; bf_frame_class c; } cases[] = {
        {"my_app_worker:handle_call/3", BF_CLASS_USER},
        {"lists:foldl/3", BF_CLASS_OTP},
        {"gen_server:loop/7", BF_CLASS_OTP},
        {"Enum.map/2", BF_CLASS_ELIXIR},
        {"Enum.map/2-fun-0", BF_CLASS_ELIXIR},
        {"MyApp.Worker.run/1", BF_CLASS_USER},
        {"erlang:apply/2", BF_CLASS_BIF},
        {"ets:lookup/2", BF_CLASS_BIF},
        {"process_main", BF_CLASS_NATIVE},
        {"beam.smp+0x1a7fa0", BF_CLASS_NATIVE},
        {"global::call_bif_shared", BF_CLASS_JIT},
        {"erts_garbage_collect_nobump", BF_CLASS_GC},
        {"erlang:garbage_collect/0", BF_CLASS_GC},
        {"[idle]", BF_CLASS_IDLE},
        {"SLEEP", BF_CLASS_IDLE},
        {"[truncated]", BF_CLASS_PSEUDO},
        {"", BF_CLASS_PSEUDO},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_assert_eq(bf_classify(cases[i].name, strlen(cases[i].name)), cases[i].c, "%s: %d",
                     cases[i].name, bf_classify(cases[i].name, strlen(cases[i].name)));
}

Test(palette, colours_are_deterministic_and_distinct_by_class)
{
    int a[3], b[3], c[3];
    bf_palette_color(BF_PALETTE_BEAM, BF_CLASS_OTP, "lists:map/2", 11, a);
    bf_palette_color(BF_PALETTE_BEAM, BF_CLASS_OTP, "lists:map/2", 11, b);
    cr_assert(a[0] == b[0] && a[1] == b[1] && a[2] == b[2]);
    bf_palette_color(BF_PALETTE_BEAM, BF_CLASS_USER, "lists:map/2", 11, c);
    cr_assert(a[2] > a[0], "OTP is blue");
    cr_assert(c[0] > c[2], "user code is warm");
    cr_assert_eq(bf_palette_parse("beam"), BF_PALETTE_BEAM);
    cr_assert_eq(bf_palette_parse("pink"), -1);
}

Test(speedscope, valid_json_for_any_name)
{
    bf_stack_table *st = bf_st_new(NULL);
    const char *names[] = {"q\"uote", "back\\slash", "ctl\x01\n", "bad\xff", "caf\xc3\xa9"};
    uint32_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = (uint32_t)bf_st_intern(st, names[i], strlen(names[i]));
    bf_st_add(st, ids, 5, 7, NULL);
    bf_st_add(st, ids, 2, 3, NULL);
    bf_buf b;
    bf_buf_init(&b, NULL);
    cr_assert_eq(bf_speedscope_write(st, "t\"", "none", &b), 0);
    bf_buf_putc(&b, '\0');
    cr_assert_not_null(strstr(b.data, "{\"name\":\"q\\\"uote\"}"));
    cr_assert_not_null(strstr(b.data, "{\"name\":\"back\\\\slash\"}"));
    cr_assert_not_null(strstr(b.data, "{\"name\":\"ctl\\u0001\\u000a\"}"));
    cr_assert_not_null(strstr(b.data, "{\"name\":\"bad\\ufffd\"}"));
    cr_assert_not_null(strstr(b.data, "{\"name\":\"caf\xc3\xa9\"}"));
    cr_assert_not_null(strstr(b.data, "\"samples\":[[0,1],[0,1,2,3,4]],\"weights\":[3,7]"));
    cr_assert_not_null(strstr(b.data, "\"endValue\":10"));
    for (const char *p = b.data; *p; p++)
        cr_assert((unsigned char)*p >= 0x20 || *p == '\n', "raw control byte in JSON");
    bf_buf_free(&b);
    bf_stack_table *empty = bf_st_new(NULL);
    cr_assert_eq(bf_speedscope_write(empty, "x", "none", &b), 1);
    bf_st_free(empty);
    bf_st_free(st);
}

Test(outputs, html_wraps_the_svg_inline)
{
    bf_stack_table *st = table_from("a;b 1\n");
    bf_svg_opts o;
    bf_svg_default_opts(&o);
    o.title = "<t>";
    char *html = render_with(st, &o, 1);
    cr_assert_eq(strncmp(html, "<!DOCTYPE html>", 15), 0);
    cr_assert_not_null(strstr(html, "<title>&lt;t&gt;</title>"));
    cr_assert_null(strstr(html, "<?xml"), "no XML declaration inside HTML");
    cr_assert_not_null(strstr(html, "<svg version=\"1.1\" id=\"bf-flame\""));
    cr_assert_not_null(strstr(html, "</svg>\n</body></html>\n"));
    free(html);
    bf_st_free(st);
}

static double rect_y(const char *svg, const char *name)
{
    char key[128];
    snprintf(key, sizeof(key), "<title>%s (", name);
    const char *t = strstr(svg, key);
    cr_assert_not_null(t, "%s not drawn", name);
    const char *y = strstr(t, " y=\"");
    return atof(y + 4);
}

Test(outputs, inverted_puts_the_root_on_top)
{
    bf_stack_table *st = table_from("root;child 1\n");
    bf_svg_opts o;
    bf_svg_default_opts(&o);
    char *flame = render_with(st, &o, 0);
    cr_assert_gt(rect_y(flame, "root"), rect_y(flame, "child"));
    o.inverted = 1;
    char *icicle = render_with(st, &o, 0);
    cr_assert_lt(rect_y(icicle, "root"), rect_y(icicle, "child"));
    free(flame);
    free(icicle);
    bf_st_free(st);
}

Test(outputs, reverse_merges_leaves_at_the_root)
{
    bf_stack_table *st = table_from("a;x 2\nb;x 3\n");
    bf_svg_opts o;
    bf_svg_default_opts(&o);
    o.reverse = 1;
    char *svg = render_with(st, &o, 0);
    cr_assert_not_null(strstr(svg, "<title>x (5 samples, 100.00%)</title>"));
    cr_assert_gt(rect_y(svg, "x"), rect_y(svg, "b"));
    free(svg);
    bf_st_free(st);
}

Test(outputs, flamechart_keeps_input_order)
{
    /* sorted: a before b; in a flame chart b (added first) comes first, and a repeated
     * frame that is not adjacent in time is drawn twice */
    bf_stack_table *st = table_from("b 1\na 1\nb;c 1\n");
    bf_svg_opts o;
    bf_svg_default_opts(&o);
    o.flamechart = 1;
    o.min_width = 0;
    char *svg = render_with(st, &o, 0);
    const char *b = strstr(svg, "<title>b ("), *a = strstr(svg, "<title>a (");
    cr_assert(b && a);
    double xb = atof(strstr(b, " x=\"") + 4), xa = atof(strstr(a, " x=\"") + 4);
    cr_assert_lt(xb, xa);
    cr_assert_not_null(strstr(svg, "<title>b (1 samples, 33.33%)</title>"));
    free(svg);
    bf_st_free(st);
}

Test(outputs, min_width_in_percent)
{
    bf_stack_table *st = table_from("big 98\nsmall 2\n");
    bf_svg_opts o;
    bf_svg_default_opts(&o);
    o.min_width_pct = 5;
    bf_buf b;
    bf_buf_init(&b, NULL);
    bf_svg_result res;
    cr_assert_eq(bf_svg_render(st, &o, &b, &res), BF_SVG_OK);
    cr_assert_eq(res.frames_pruned, 1);
    o.min_width_pct = 1;
    b.len = 0;
    cr_assert_eq(bf_svg_render(st, &o, &b, &res), BF_SVG_OK);
    cr_assert_eq(res.frames_pruned, 0);
    o.min_width_pct = 101;
    cr_assert_eq(bf_svg_render(st, &o, &b, &res), BF_SVG_BADOPTS);
    bf_buf_free(&b);
    bf_st_free(st);
}

Test(outputs, beam_palette_draws_a_legend)
{
    bf_stack_table *st = table_from("my_mod:f/0;lists:map/2 1\n");
    bf_svg_opts o;
    bf_svg_default_opts(&o);
    o.palette = BF_PALETTE_BEAM;
    char *svg = render_with(st, &o, 0);
    cr_assert_not_null(strstr(svg, "<g id=\"bf-legend\">"));
    cr_assert_not_null(strstr(svg, ">Erlang/OTP</text>"));
    free(svg);
    bf_st_free(st);
}

/* The differential SVG of two folded texts (min_width < 0: the default), NUL-terminated;
 * the caller frees it. */
static char *diff_with(const char *before_text, const char *after_text, int normalize,
                       double min_width)
{
    bf_stack_table *before = table_from(before_text);
    bf_stack_table *after = table_from(after_text);
    bf_svg_opts o;
    bf_svg_default_opts(&o);
    if (min_width >= 0)
        o.min_width = min_width;
    bf_buf b;
    bf_buf_init(&b, NULL);
    cr_assert_eq(bf_svg_render_diff(before, after, normalize, 0, &o, &b, NULL), BF_SVG_OK);
    bf_buf_putc(&b, '\0');
    bf_st_free(before);
    bf_st_free(after);
    return b.data;
}

Test(diff, colours_and_deltas_follow_the_change)
{
    const char *before = "main;a 50\nmain;b 50\n", *after = "main;a 80\nmain;b 20\nmain;c 10\n";
    char *svg = diff_with(before, after, 0, 0);
    /* a grew most: full red; b shrank as much: full blue; main's change is the sum */
    cr_assert_not_null(strstr(svg, "<title>a (80 samples, 72.73%; +27.27%)</title><rect"));
    cr_assert_not_null(strstr(strstr(svg, "<title>a ("), "fill=\"rgb(255,0,0)\""));
    const char *bb = strstr(svg, "<title>b (");
    cr_assert_not_null(strstr(bb, "fill=\"rgb(0,0,255)\""));
    cr_assert_not_null(strstr(svg, "<title>main (110 samples, 100.00%; +9.09%)</title>"));
    free(svg);
    svg = diff_with(before, after, 1, 0);
    /* normalised: before scaled to 110, so main did not change */
    cr_assert_not_null(strstr(svg, "<title>main (110 samples, 100.00%; +0.00%)</title>"));
    cr_assert_not_null(strstr(svg, "<title>b (20 samples, 18.18%; -31.82%)</title>"));
    free(svg);
}

Test(diff, a_root_that_changed_more_than_any_frame_is_full_red)
{
    /* a and b each grew by 10, the root by 20: past the scale's largest change */
    char *svg = diff_with("a 10\nb 10\n", "a 20\nb 20\n", 0, 0);
    const char *root = strstr(svg, "<title>all (");
    cr_assert_not_null(root);
    cr_assert_not_null(strstr(root, "fill=\"rgb(255,0,0)\""), "%.300s", root);
    cr_assert_null(strstr(svg, "rgb(255,-"), "a colour out of range");
    free(svg);
}

Test(diff, a_frame_gone_from_after_has_no_width)
{
    char *svg = diff_with("main;old 5\nmain;kept 5\n", "main;kept 5\n", 0, -1);
    cr_assert_null(strstr(svg, "<title>old ("), "widths come from after");
    cr_assert_not_null(strstr(svg, "<title>main (5 samples, 100.00%; -100.00%)</title>"));
    free(svg);
}

Test(outputs, frame_budget_raises_the_minimum_width_and_says_so)
{
    bf_stack_table *st = bf_st_new(NULL);
    char name[32];
    for (int i = 0; i < 5000; i++) {
        uint32_t ids[3];
        ids[0] = (uint32_t)bf_st_intern(st, "root", 4);
        snprintf(name, sizeof(name), "mid%d", i % 50);
        ids[1] = (uint32_t)bf_st_intern(st, name, strlen(name));
        snprintf(name, sizeof(name), "leaf%d", i);
        ids[2] = (uint32_t)bf_st_intern(st, name, strlen(name));
        bf_st_add(st, ids, 3, 1 + (uint64_t)(i % 97), NULL);
    }
    bf_svg_opts o;
    bf_svg_default_opts(&o);
    o.min_width = 0;
    o.max_frames = 0; /* no budget: everything */
    bf_buf b;
    bf_buf_init(&b, NULL);
    bf_svg_result all;
    cr_assert_eq(bf_svg_render(st, &o, &b, &all), BF_SVG_OK);
    cr_assert_eq(all.frames_drawn, 1 + 1 + 50 + 5000);
    o.max_frames = 1000;
    b.len = 0;
    bf_svg_result res;
    cr_assert_eq(bf_svg_render(st, &o, &b, &res), BF_SVG_OK);
    bf_buf_putc(&b, '\0');
    cr_assert_leq(res.frames_drawn, 1000);
    cr_assert_gt(res.frames_drawn, 500, "the budget is used, not wasted: %llu",
                 (unsigned long long)res.frames_drawn);
    cr_assert_eq(res.frames_drawn + res.frames_pruned, all.frames_drawn);
    cr_assert_gt(res.min_width_px, 0);
    cr_assert_not_null(strstr(b.data, "<text id=\"bf-pruned\""));
    cr_assert_not_null(strstr(b.data, " frames narrower than "));
    cr_assert_not_null(strstr(b.data, "<title>root (")); /* wide frames always stay */
    bf_buf_free(&b);
    bf_st_free(st);
}
