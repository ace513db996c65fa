/* bf_speedscope: speedscope JSON writer. See bf_speedscope.h. */
#include "bf_speedscope.h"

#include <stdlib.h>
#include <string.h>

#include "bf_utf8.h"

#ifndef BF_VERSION
#define BF_VERSION "0.1.0"
#endif

void bf_json_string(bf_buf *out, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    bf_buf_putc(out, '"');
    size_t i = 0, run = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = bf_utf8_len(s + i, n - i, &cp);
        if (l > 1 || (l == 1 && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')) {
            i += l;
            continue;
        }
        bf_buf_put(out, str + run, i - run);
        if (l == 0) {
            bf_buf_puts(out, "\\ufffd");
        } else if (s[i] == '"' || s[i] == '\\') {
            char e[2] = {'\\', (char)s[i]};
            bf_buf_put(out, e, 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[s[i] >> 4], hex[s[i] & 15]};
            bf_buf_put(out, e, 6);
        }
        i += l ? l : 1;
        run = i;
    }
    bf_buf_put(out, str + run, n - run);
    bf_buf_putc(out, '"');
}

/* The document's opening up to the profile's values: frames, type, name, unit, range. */
static void bf_speedscope_head(const bf_stack_table *st, const char *type, const char *name,
                               const char *unit, bf_buf *out)
{
    bf_buf_puts(out, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
                     "\"shared\":{\"frames\":[");
    for (uint32_t f = 0; f < bf_st_frame_count(st); f++) {
        size_t len;
        const char *fname = bf_st_frame_name(st, f, &len);
        bf_buf_puts(out, f ? ",{\"name\":" : "{\"name\":");
        bf_json_string(out, fname, len);
        bf_buf_putc(out, '}');
    }
    bf_st_stats stats;
    bf_st_get_stats(st, &stats);
    bf_buf_printf(out, "]},\"profiles\":[{\"type\":\"%s\",\"name\":", type);
    bf_json_string(out, name, strlen(name));
    bf_buf_puts(out, ",\"unit\":");
    bf_json_string(out, unit, strlen(unit));
    bf_buf_puts(out, ",\"startValue\":0,\"endValue\":");
    bf_buf_put_u64(out, stats.total_weight);
}

static void bf_speedscope_tail(const char *name, bf_buf *out)
{
    bf_buf_puts(out, "}],\"name\":");
    bf_json_string(out, name, strlen(name));
    bf_buf_puts(out, ",\"activeProfileIndex\":0,\"exporter\":\"beamflame " BF_VERSION "\"}\n");
}

static void bf_speedscope_event(bf_buf *out, int *first, char type, uint64_t at, uint32_t frame)
{
    bf_buf_printf(out, "%s{\"type\":\"%c\",\"at\":", *first ? "" : ",", type);
    bf_buf_put_u64(out, at);
    bf_buf_puts(out, ",\"frame\":");
    bf_buf_put_u64(out, frame);
    bf_buf_putc(out, '}');
    *first = 0;
}

int bf_speedscope_write_evented(const bf_stack_table *st, const char *name, const char *unit,
                                bf_buf *out)
{
    uint32_t n = bf_st_stack_count(st);
    if (n == 0)
        return 1;
    uint32_t *open = malloc((bf_st_get_caps(st)->max_depth + 1) * sizeof(uint32_t));
    if (!open)
        return -1;
    bf_speedscope_head(st, "evented", name, unit, out);
    bf_buf_puts(out, ",\"events\":[");
    size_t depth_open = 0;
    uint64_t t = 0;
    int first = 1;
    for (uint32_t i = 0; i < n; i++) {
        size_t depth;
        uint64_t w;
        const uint32_t *ids = bf_st_stack(st, i, &depth, &w);
        size_t same = 0;
        while (same < depth_open && same < depth && open[same] == ids[same])
            same++;
        while (depth_open > same)
            bf_speedscope_event(out, &first, 'C', t, open[--depth_open]);
        for (; depth_open < depth; depth_open++) {
            open[depth_open] = ids[depth_open];
            bf_speedscope_event(out, &first, 'O', t, ids[depth_open]);
        }
        t += w;
    }
    while (depth_open > 0)
        bf_speedscope_event(out, &first, 'C', t, open[--depth_open]);
    bf_buf_putc(out, ']');
    bf_speedscope_tail(name, out);
    free(open);
    return out->failed ? -1 : 0;
}

int bf_speedscope_write(const bf_stack_table *st, const char *name, const char *unit,
                        bf_buf *out)
{
    uint32_t n = bf_st_stack_count(st);
    if (n == 0)
        return 1;
    uint32_t *order = bf_st_sorted(st);
    if (!order)
        return -1;
    bf_speedscope_head(st, "sampled", name, unit, out);
    bf_buf_puts(out, ",\"samples\":[");
    for (uint32_t i = 0; i < n; i++) {
        size_t depth;
        const uint32_t *ids = bf_st_stack(st, order[i], &depth, NULL);
        bf_buf_puts(out, i ? ",[" : "[");
        for (size_t d = 0; d < depth; d++) {
            if (d)
                bf_buf_putc(out, ',');
            bf_buf_put_u64(out, ids[d]);
        }
        bf_buf_putc(out, ']');
    }
    bf_buf_puts(out, "],\"weights\":[");
    for (uint32_t i = 0; i < n; i++) {
        uint64_t w;
        bf_st_stack(st, order[i], NULL, &w);
        if (i)
            bf_buf_putc(out, ',');
        bf_buf_put_u64(out, w);
    }
    bf_buf_putc(out, ']');
    bf_speedscope_tail(name, out);
    free(order);
    return out->failed ? -1 : 0;
}

bf_svg_status bf_speedscope_render(const bf_stack_table *st, const bf_svg_opts *o, bf_buf *out)
{
    const char *c = o->count_name;
    const char *unit =
        (!strcmp(c, "us") || !strcmp(c, "\xc2\xb5s") || !strcmp(c, "microseconds"))
            ? "microseconds"
            : "none";
    int r = o->flamechart ? bf_speedscope_write_evented(st, o->title, unit, out)
                          : bf_speedscope_write(st, o->title, unit, out);
    return r == 0 ? BF_SVG_OK : r > 0 ? BF_SVG_EMPTY : BF_SVG_NOMEM;
}
