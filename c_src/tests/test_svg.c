/* SVG renderer: flamegraph.pl-compatible frames, escaping of hostile names, pruning,
 * determinism, and the error for empty input. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bf_flame.h"
#include "../core/bf_folded.h"
#include "../core/bf_svg.h"
#include "bf_test_util.h"

#define table_from bf_test_table

static char *render_opts(bf_stack_table *st, double min_width, int interactive,
                         bf_svg_result *res)
{
    bf_svg_opts o;
    bf_svg_default_opts(&o);
    o.min_width = min_width;
    o.interactive = interactive;
    bf_buf b;
    bf_buf_init(&b, NULL);
    cr_assert_eq(bf_svg_render(st, &o, &b, res), BF_SVG_OK);
    bf_buf_putc(&b, '\0');
    return b.data;
}

static char *render(bf_stack_table *st, double min_width, bf_svg_result *res)
{
    return render_opts(st, min_width, 1, res);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static char *read_file(const char *path, size_t *len)
{
    char *data = bf_test_read_file(path, len);
    cr_assert_not_null(data, "cannot open %s (tests run from c_src/tests)", path);
    return data;
}

/* Frames as flamegraph.pl draws them ("depth\tsamples\tname"), pruned the same way. */
typedef struct frames_ctx {
    const bf_stack_table *st;
    double min_units;
    char **lines;
    size_t n, cap;
} frames_ctx;

static int collect(const bf_flame_node *node, void *ctx)
{
    frames_ctx *c = ctx;
    if (node->depth > 0 && (double)(node->end - node->start) < c->min_units)
        return 0;
    size_t len = 3;
    const char *name = node->name == BF_FLAME_ROOT ? "all" : bf_st_frame_name(c->st, node->name, &len);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->lines = realloc(c->lines, c->cap * sizeof(char *));
    }
    char *line = malloc(len + 64);
    int k = snprintf(line, 64, "%u\t%llu\t", node->depth,
                     (unsigned long long)(node->end - node->start));
    memcpy(line + k, name, len);
    line[k + len] = '\0';
    c->lines[c->n++] = line;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_against_flamegraph_pl(const char *base, const char *suffix, double minwidth)
{
    char path[256];
    size_t len;
    snprintf(path, sizeof(path), "golden/%s.folded", base);
    char *in = read_file(path, &len);
    bf_stack_table *st = table_from(in);
    bf_st_stats s;
    bf_st_get_stats(st, &s);
    frames_ctx c = {.st = st};
    c.min_units = minwidth / ((BF_SVG_DEFAULT_WIDTH - 2 * BF_SVG_XPAD) / (double)s.total_weight);
    uint32_t *order = bf_st_sorted(st);
    cr_assert_eq(bf_flame_walk(st, order, collect, &c), 0);
    qsort(c.lines, c.n, sizeof(char *), cmp_str);
    bf_buf got;
    bf_buf_init(&got, NULL);
    for (size_t i = 0; i < c.n; i++) {
        bf_buf_puts(&got, c.lines[i]);
        bf_buf_putc(&got, '\n');
        free(c.lines[i]);
    }
    bf_buf_putc(&got, '\0');
    snprintf(path, sizeof(path), "golden/%s.%s", base, suffix);
    char *expect = read_file(path, &len);
    cr_assert_str_eq(got.data, expect, "frames differ from flamegraph.pl's for %s", path);
    free(c.lines);
    free(order);
    free(expect);
    free(in);
    bf_buf_free(&got);
    bf_st_free(st);
}

/* The .fg0/.fg01 files hold the frames flamegraph.pl draws at --minwidth 0 and 0.1 for
 * the same input (scripts/regen-golden.sh explains how they were made). */
Test(svg, same_frames_and_counts_as_flamegraph_pl_at_minwidth_0)
{
    check_against_flamegraph_pl("compat-prefix", "fg0", 0);
    check_against_flamegraph_pl("compat-edges", "fg0", 0);
    check_against_flamegraph_pl("compat-random", "fg0", 0);
}

Test(svg, same_pruning_as_flamegraph_pl_at_default_minwidth)
{
    check_against_flamegraph_pl("compat-prefix", "fg01", 0.1);
    check_against_flamegraph_pl("compat-edges", "fg01", 0.1);
    check_against_flamegraph_pl("compat-random", "fg01", 0.1);
}

Test(svg, frame_structure_and_tooltips_match_flamegraph_pl)
{
    bf_stack_table *st = table_from("main;work 1500\nmain;idle 500\n");
    char *svg = render(st, 0, NULL);
    cr_assert_not_null(strstr(svg, "<g class=\"func_g\" data-w=\"1500\"><title>work (1,500 samples, 75.00%)</title><rect "));
    cr_assert_not_null(strstr(svg, "<title>idle (500 samples, 25.00%)</title>"));
    cr_assert_not_null(strstr(svg, "<title>main (2,000 samples, 100.00%)</title>"));
    cr_assert_not_null(strstr(svg, "<title>all (2,000 samples, 100%)</title>"));
    cr_assert_not_null(strstr(svg, "<text id=\"title\""));
    cr_assert_not_null(strstr(svg, ">Flame Graph</text>"));
    free(svg);
    bf_st_free(st);
}

Test(svg, widths_are_proportional_to_weight)
{
    bf_stack_table *st = table_from("a 3\nb 1\n");
    char *svg = render(st, 0, NULL);
    /* 1180 px of frames: a = 885, b = 295. */
    cr_assert_not_null(strstr(svg, "width=\"885.00\""));
    cr_assert_not_null(strstr(svg, "width=\"295.00\""));
    free(svg);
    bf_st_free(st);
}

Test(svg, hostile_names_are_escaped)
{
    bf_stack_table *st = bf_st_new(NULL);
    const char *names[] = {"<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>",
                           "a&b'c", "bad\xff\xfeutf8", "ctl\x01\x1b", "caf\xc3\xa9 \xe2\x9c\x93"};
    for (int i = 0; i < 6; i++) {
        uint32_t id = (uint32_t)bf_st_intern(st, names[i], strlen(names[i]));
        bf_st_add(st, &id, 1, 100, NULL);
    }
    /* With the script: exactly one <script>, ours. */
    char *full = render(st, 0, NULL);
    cr_assert_eq(count(full, "<script"), 1);
    cr_assert_not_null(strstr(full, "<script type=\"text/ecmascript\"><![CDATA["));
    cr_assert_eq(count(full, "]]>"), 1, "nothing may close the script's CDATA early");
    free(full);
    /* Without it, every '<' must start markup we wrote. */
    char *svg = render_opts(st, 0, 0, NULL);
    cr_assert_null(strstr(svg, "<script"));
    cr_assert_null(strstr(svg, "<img"));
    cr_assert_null(strstr(svg, "\xff"));
    cr_assert_null(strstr(svg, "\x01"));
    cr_assert_not_null(strstr(svg, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    cr_assert_not_null(strstr(svg, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    cr_assert_not_null(strstr(svg, "a&amp;b&#39;c"));
    cr_assert_not_null(strstr(svg, "bad\xEF\xBF\xBD\xEF\xBF\xBDutf8"));
    cr_assert_not_null(strstr(svg, "caf\xc3\xa9 \xe2\x9c\x93"));
    /* Every '<' starts a tag we wrote. */
    for (const char *p = strchr(svg, '<'); p; p = strchr(p + 1, '<'))
        cr_assert(strncmp(p, "<g", 2) == 0 || strncmp(p, "</", 2) == 0 ||
                      strncmp(p, "<title>", 7) == 0 || strncmp(p, "<rect", 5) == 0 ||
                      strncmp(p, "<text", 5) == 0 || strncmp(p, "<?xml", 5) == 0 ||
                      strncmp(p, "<svg", 4) == 0 || strncmp(p, "<!--", 4) == 0 ||
                      strncmp(p, "<defs>", 6) == 0 || strncmp(p, "<linearGradient", 15) == 0 ||
                      strncmp(p, "<stop", 5) == 0 || strncmp(p, "<style", 6) == 0,
                  "unexpected markup at: %.30s", p);
    free(svg);
    bf_st_free(st);
}

Test(svg, labels_are_cut_on_character_boundaries)
{
    bf_buf b;
    bf_buf_init(&b, NULL);
    bf_xml_escape(&b, "\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93", 15, 4);
    bf_buf_putc(&b, '\0');
    cr_assert_str_eq(b.data, "\xe2\x9c\x93\xe2\x9c\x93..");
    b.len = 0;
    bf_xml_escape(&b, "abc", 3, 3);
    bf_buf_putc(&b, '\0');
    cr_assert_str_eq(b.data, "abc");
    b.len = 0;
    bf_xml_escape(&b, "a<bcdef", 7, 4);
    bf_buf_putc(&b, '\0');
    cr_assert_str_eq(b.data, "a&lt;..");
    bf_buf_free(&b);
}

Test(svg, pruning_counts_and_keeps_weight_in_parent)
{
    bf_stack_table *st = table_from("main;big 100000\nmain;tiny 1\n");
    bf_svg_result res;
    char *svg = render(st, 1.0, &res);
    cr_assert_null(strstr(svg, "tiny"));
    cr_assert_eq(res.frames_pruned, 1);
    cr_assert_eq(res.frames_drawn, 3);
    cr_assert_not_null(strstr(svg, "<title>main (100,001 samples, 100.00%)</title>"));
    cr_assert_not_null(strstr(svg, "1 pruned below 1.00 px"));
    free(svg);
    bf_st_free(st);
}

Test(svg, output_is_identical_byte_for_byte)
{
    /* Same stacks, different input order: same SVG. */
    bf_stack_table *a = table_from("x;y 3\nb;c 2\nx;z 1\n");
    bf_stack_table *b = table_from("x;z 1\nx;y 3\nb;c 2\n");
    char *sa = render(a, 0.1, NULL), *sb = render(b, 0.1, NULL);
    cr_assert_str_eq(sa, sb);
    free(sa);
    free(sb);
    bf_st_free(a);
    bf_st_free(b);
}

Test(svg, empty_input_is_an_error_not_an_empty_file)
{
    bf_stack_table *st = bf_st_new(NULL);
    bf_svg_opts o;
    bf_svg_default_opts(&o);
    bf_buf b;
    bf_buf_init(&b, NULL);
    cr_assert_eq(bf_svg_render(st, &o, &b, NULL), BF_SVG_EMPTY);
    cr_assert_eq(b.len, 0);
    bf_stack_table *zero = table_from("a 0\n");
    cr_assert_eq(bf_svg_render(zero, &o, &b, NULL), BF_SVG_EMPTY);
    o.width = 5;
    cr_assert_eq(bf_svg_render(zero, &o, &b, NULL), BF_SVG_BADOPTS);
    cr_assert_not_null(bf_svg_check_opts(&o));
    bf_st_free(st);
    bf_st_free(zero);
}

Test(svg, title_is_escaped_too)
{
    bf_stack_table *st = table_from("a 1\n");
    bf_svg_opts o;
    bf_svg_default_opts(&o);
    o.title = "<b>&";
    o.subtitle = "</text><script>";
    bf_buf b;
    bf_buf_init(&b, NULL);
    cr_assert_eq(bf_svg_render(st, &o, &b, NULL), BF_SVG_OK);
    bf_buf_putc(&b, '\0');
    cr_assert_not_null(strstr(b.data, ">&lt;b&gt;&amp;</text>"));
    cr_assert_eq(count(b.data, "<script"), 1); /* ours only */
    cr_assert_not_null(strstr(b.data, "&lt;/text&gt;&lt;script&gt;"));
    bf_buf_free(&b);
    bf_st_free(st);
}

/* Every node in walk order, and how many were narrower than min_units. */
typedef struct seq_ctx {
    double min_units;
    uint64_t narrow;
    bf_flame_node *nodes;
    size_t n, cap;
} seq_ctx;

static int seq_collect(const bf_flame_node *node, void *ctx)
{
    seq_ctx *c = ctx;
    if (node->depth > 0 && (double)(node->end - node->start) < c->min_units) {
        c->narrow++;
        return 0;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->nodes = realloc(c->nodes, c->cap * sizeof(*c->nodes));
    }
    c->nodes[c->n++] = *node;
    return 0;
}

/* The pruned walk reports the wide nodes of the full walk, in the same order, and counts
 * the narrow ones it leaves out: random stacks sharing prefixes, weights from 1 to 1000,
 * for several minimum widths. */
Test(svg, pruned_walk_reports_what_the_full_walk_keeps)
{
    bf_stack_table *st = bf_st_new(NULL);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 5000; i++) {
        char line[512];
        size_t o = 0;
        int depth = 1 + (int)(bf_test_rand(&x) % 12);
        for (int d = 0; d < depth; d++) {
            o += (size_t)snprintf(line + o, sizeof(line) - o, "%sf%u", d ? ";" : "",
                                  (unsigned)(bf_test_rand(&x) % (d < 3 ? 3 : 40)));
        }
        snprintf(line + o, sizeof(line) - o, " %u\n", (unsigned)(1 + bf_test_rand(&x) % 1000));
        bf_folded_reader r;
        bf_folded_reader_init(&r, st);
        bf_folded_feed(&r, line, strlen(line));
        bf_folded_finish(&r);
        bf_folded_reader_free(&r);
    }
    uint32_t *order = bf_st_sorted(st);
    const double mins[] = {0, 1, 50, 500, 999.5, 5000, 1e9};
    for (size_t m = 0; m < sizeof(mins) / sizeof(mins[0]); m++) {
        seq_ctx full = {.min_units = mins[m]}, pruned = {.min_units = mins[m]};
        uint64_t skipped = 0;
        cr_assert_eq(bf_flame_walk(st, order, seq_collect, &full), 0);
        cr_assert_eq(bf_flame_walk_pruned(st, order, NULL, mins[m], &skipped, seq_collect,
                                          &pruned),
                     0);
        cr_assert_eq(pruned.n, full.n, "min %g: %zu nodes, want %zu", mins[m], pruned.n, full.n);
        cr_assert_eq(pruned.narrow + skipped, full.narrow, "min %g", mins[m]);
        if (mins[m] > 1)
            cr_assert_gt(skipped, 0, "min %g: nothing skipped", mins[m]);
        for (size_t i = 0; i < full.n; i++)
            cr_assert(full.nodes[i].name == pruned.nodes[i].name &&
                          full.nodes[i].depth == pruned.nodes[i].depth &&
                          full.nodes[i].start == pruned.nodes[i].start &&
                          full.nodes[i].end == pruned.nodes[i].end,
                      "min %g: node %zu differs", mins[m], i);
        free(full.nodes);
        free(pruned.nodes);
    }
    free(order);
    bf_st_free(st);
}

/* The SVG's numbers are written without printf but must read as printf writes them:
 * random values of every size the graph uses, exact halves and values next to them. */
Test(svg, fixed_point_numbers_are_printf_s)
{
    uint64_t x = 88172645463325252ull;
    char want[64];
    for (int i = 0; i < 400000; i++) {
        bf_test_rand(&x);
        double v;
        switch (i % 4) {
        case 0: v = (double)(x % 100000000) / 1e4; break;        /* 0..10000, 4 places */
        case 1: v = (double)(x % 2000000) / 200.0 + 0.005; break; /* halves at 2 places */
        case 2: v = (double)(x % 100000) * 0.05; break;           /* halves at 1 place */
        default: v = (double)(x >> 11) / (double)(1ull << 53) * 1e8; break; /* 0..1e8 */
        }
        for (int places = 1; places <= 2; places++) {
            bf_buf b;
            bf_buf_init(&b, NULL);
            bf_buf_put_fixed(&b, v, places);
            bf_buf_putc(&b, '\0');
            snprintf(want, sizeof(want), "%.*f", places, v);
            cr_assert_str_eq(b.data, want, "%.17g at %d places", v, places);
            bf_buf_free(&b);
        }
    }
}
