/* bf_folded: streaming folded-stacks reader and writer. See bf_folded.h for the format.
 *
 * The reader parses whole lines straight from the caller's chunk where it can and copies
 * only a line that spans two chunks into `pending`. Frame splitting uses memchr, so a
 * line costs about one pass over its bytes plus one hash per frame. Stacks deeper than
 * the table's max_depth are collected only up to max_depth + 1 frames: the table cuts
 * them to the same result anyway.
 */
#include "bf_folded.h"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

const char *bf_folded_err_text(bf_folded_err code)
{
    switch (code) {
    case BF_FE_NO_COUNT:
        return "no count at the end of the line (expected `frame;frame COUNT`)";
    case BF_FE_COUNT_NOT_WHOLE:
        return "count is not a whole number";
    case BF_FE_COUNT_NOT_NUMBER:
        return "count is not a number";
    case BF_FE_COUNT_TOO_LARGE:
        return "count is larger than 2^64-1";
    case BF_FE_EMPTY_STACK:
        return "empty stack";
    case BF_FE_LINE_TOO_LONG:
        return "line longer than 16 MiB";
    }
    return "malformed line";
}

void bf_folded_reader_init(bf_folded_reader *r, bf_stack_table *st)
{
    memset(r, 0, sizeof(*r));
    r->st = st;
}

void bf_folded_reader_free(bf_folded_reader *r)
{
    free(r->pending);
    free(r->ids);
    free(r->held);
    free(r->names);
    free(r->lens);
    free(r->unesc);
    r->pending = NULL;
    r->ids = NULL;
    r->held = NULL;
    r->names = NULL;
    r->lens = NULL;
    r->unesc = NULL;
}

static void bf_folded_report(bf_folded_reader *r, bf_folded_err code)
{
    r->malformed++;
    if (r->nreported < BF_FOLDED_MAX_REPORTED) {
        r->reported[r->nreported].line = r->line_no;
        r->reported[r->nreported].code = code;
        r->nreported++;
    }
}

static int bf_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int bf_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Unescapes p[0..n) into out (room for n bytes); returns its length. */
static size_t bf_folded_unescape(char *out, const char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c != '\\' || i + 1 == n) {
            out[o++] = c;
            continue;
        }
        char e = p[i + 1];
        switch (e) {
        case '\\': out[o++] = '\\'; i++; break;
        case ';': out[o++] = ';'; i++; break;
        case 'n': out[o++] = '\n'; i++; break;
        case 'r': out[o++] = '\r'; i++; break;
        case 't': out[o++] = '\t'; i++; break;
        case 'x':
            if (i + 3 < n && bf_hexval(p[i + 2]) >= 0 && bf_hexval(p[i + 3]) >= 0) {
                out[o++] = (char)(bf_hexval(p[i + 2]) * 16 + bf_hexval(p[i + 3]));
                i += 3;
            } else {
                out[o++] = c;
            }
            break;
        default:
            out[o++] = c; /* literal backslash */
            break;
        }
    }
    return o;
}

/* Adds the stack held back by the line before, if any. */
static void bf_folded_release(bf_folded_reader *r)
{
    if (r->held_depth)
        bf_st_add(r->st, r->held, r->held_depth, r->held_count, NULL);
    r->held_depth = 0;
}

/* Room for a line's frames: limit ids, names and lengths, and (a line with escapes) n
 * bytes of unescaped text, so that pointers into it stay valid for the whole line. */
static int bf_folded_reserve(bf_folded_reader *r, size_t limit, size_t n, int escaped)
{
    if (r->ids_cap < limit) {
        uint32_t *ids = realloc(r->ids, limit * sizeof(uint32_t));
        if (!ids)
            return -1;
        r->ids = ids;
        ids = realloc(r->held, limit * sizeof(uint32_t));
        if (!ids)
            return -1;
        r->held = ids;
        const char **names = realloc(r->names, limit * sizeof(char *));
        if (!names)
            return -1;
        r->names = names;
        size_t *lens = realloc(r->lens, limit * sizeof(size_t));
        if (!lens)
            return -1;
        r->lens = lens;
        r->ids_cap = limit;
    }
    if (escaped && n > r->unesc_cap) {
        char *u = realloc(r->unesc, n);
        if (!u)
            return -1;
        r->unesc = u;
        r->unesc_cap = n;
    }
    return 0;
}

/* True when the ';' at p[j] is escaped: preceded by an odd run of backslashes. */
static int bf_escaped_at(const char *p, size_t j)
{
    size_t k = 0;
    while (k < j && p[j - 1 - k] == '\\')
        k++;
    return k & 1;
}

static int bf_parse_count(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    int dot = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9') {
            if (dot)
                continue;
            uint64_t d = (uint64_t)(c - '0');
            if (v > (UINT64_MAX - d) / 10)
                return BF_FE_COUNT_TOO_LARGE;
            v = v * 10 + d;
            digits++;
        } else if (c == '.' && !dot && digits) {
            dot = 1;
        } else {
            return BF_FE_COUNT_NOT_NUMBER;
        }
    }
    if (!digits)
        return BF_FE_COUNT_NOT_NUMBER;
    if (dot)
        return BF_FE_COUNT_NOT_WHOLE;
    *out = v;
    return 0;
}

/* Takes p[*start..at) as the line's next frame; 1 once limit frames are held. */
static int bf_folded_cut(bf_folded_reader *r, const char *p, size_t *start, size_t at,
                         size_t *depth, size_t limit)
{
    r->names[*depth] = p + *start;
    r->lens[(*depth)++] = at - *start;
    *start = at + 1;
    return *depth == limit; /* the deepest kept: the rest is cut anyway */
}

/* Splits a line without escapes at its ';'s into r->names and r->lens, at most limit
 * frames; returns how many, or 0 when the line holds a backslash (the caller splits it
 * the careful way). With SSE2 (every x86-64) sixteen bytes are compared at a time and
 * each block's separators taken from a bit mask: one pass, not a search per frame. */
static size_t bf_folded_split_plain(bf_folded_reader *r, const char *p, size_t n, size_t limit)
{
    size_t depth = 0, start = 0, i = 0;
#if defined(__SSE2__)
    const __m128i semi = _mm_set1_epi8(';'), bslash = _mm_set1_epi8('\\');
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, bslash)))
            return 0;
        for (unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, semi)); m; m &= m - 1)
            if (bf_folded_cut(r, p, &start, i + (size_t)__builtin_ctz(m), &depth, limit))
                goto full;
    }
#endif
    for (; i < n; i++) {
        if (p[i] == '\\')
            return 0;
        if (p[i] == ';' && bf_folded_cut(r, p, &start, i, &depth, limit))
            goto full;
    }
    bf_folded_cut(r, p, &start, n, &depth, limit); /* the last frame, to the line's end */
    return depth;
full: /* cut at the limit: the rest of the line must still have no escapes */
    return memchr(p + i, '\\', n - i) ? 0 : depth;
}

/* One complete line, without its '\n'. */
static int bf_folded_line(bf_folded_reader *r, const char *p, size_t n)
{
    r->line_no++;
    while (n && (p[n - 1] == '\r' || bf_is_blank(p[n - 1])))
        n--;
    if (n == 0)
        return 0;
    size_t k = n;
    while (k && !bf_is_blank(p[k - 1]))
        k--;
    if (k == 0) {
        bf_folded_report(r, BF_FE_NO_COUNT);
        return 0;
    }
    uint64_t count = 0;
    int err = bf_parse_count(p + k, n - k, &count);
    if (err) {
        bf_folded_report(r, (bf_folded_err)err);
        return 0;
    }
    n = k;
    while (n && bf_is_blank(p[n - 1]))
        n--;
    /* Trailing empty frames are dropped, as Perl's split drops them. */
    while (n && p[n - 1] == ';' && !bf_escaped_at(p, n - 1))
        n--;
    if (n == 0) {
        bf_folded_report(r, BF_FE_EMPTY_STACK);
        return 0;
    }
    size_t limit = bf_st_get_caps(r->st)->max_depth + 1;
    if (bf_folded_reserve(r, limit, n, 0) != 0)
        return -1;
    /* A line without a backslash has no escapes: its frames end at every ';'. */
    size_t depth = bf_folded_split_plain(r, p, n, limit);
    int escaped = depth == 0;
    if (escaped && bf_folded_reserve(r, limit, n, 1) != 0)
        return -1;
    size_t start = 0, uoff = 0;
    while (escaped && depth < limit) {
        size_t end = start;
        const char *semi;
        for (;;) {
            semi = memchr(p + end, ';', n - end);
            if (!semi || !escaped || !bf_escaped_at(p, (size_t)(semi - p)))
                break;
            end = (size_t)(semi - p) + 1;
        }
        end = semi ? (size_t)(semi - p) : n;
        if (escaped && memchr(p + start, '\\', end - start)) {
            r->names[depth] = r->unesc + uoff;
            r->lens[depth] = bf_folded_unescape(r->unesc + uoff, p + start, end - start);
            uoff += r->lens[depth];
        } else {
            r->names[depth] = p + start;
            r->lens[depth] = end - start;
        }
        depth++;
        if (!semi)
            break;
        start = end + 1;
    }
    bf_folded_release(r);
    if (bf_st_intern_many(r->st, r->names, r->lens, depth, r->ids) < depth) {
        bf_st_count_drop(r->st, count, 1);
        return 0;
    }
    /* Held until the next line has been split: its place in the table is fetched
     * meanwhile. The table changes in the order of the lines all the same. */
    bf_st_prefetch(r->st, r->ids, depth);
    uint32_t *ids = r->held;
    r->held = r->ids;
    r->ids = ids;
    r->held_depth = depth;
    r->held_count = count;
    r->stacks_read++;
    return 0;
}

static int bf_pending_append(bf_folded_reader *r, const char *p, size_t n)
{
    if (r->pending_len + n > BF_FOLDED_MAX_LINE) {
        r->skipping = 1;
        r->pending_len = 0;
        return 0;
    }
    if (r->pending_len + n > r->pending_cap) {
        size_t cap = r->pending_cap ? r->pending_cap : 4096;
        while (cap < r->pending_len + n)
            cap *= 2;
        char *np = realloc(r->pending, cap);
        if (!np)
            return -1;
        r->pending = np;
        r->pending_cap = cap;
    }
    memcpy(r->pending + r->pending_len, p, n);
    r->pending_len += n;
    return 0;
}

int bf_folded_feed(bf_folded_reader *r, const char *data, size_t len)
{
    if (r->failed)
        return -1;
    r->bytes += len;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(data + i, '\n', len - i);
        if (!nl) {
            if (!r->skipping && bf_pending_append(r, data + i, len - i) != 0)
                goto fail;
            return 0;
        }
        size_t end = (size_t)(nl - data);
        if (r->skipping) {
            r->line_no++;
            bf_folded_report(r, BF_FE_LINE_TOO_LONG);
            r->skipping = 0;
        } else if (r->pending_len) {
            if (bf_pending_append(r, data + i, end - i) != 0)
                goto fail;
            if (r->skipping) {
                r->line_no++;
                bf_folded_report(r, BF_FE_LINE_TOO_LONG);
                r->skipping = 0;
            } else if (bf_folded_line(r, r->pending, r->pending_len) != 0) {
                goto fail;
            }
            r->pending_len = 0;
        } else if (end - i > BF_FOLDED_MAX_LINE) {
            r->line_no++;
            bf_folded_report(r, BF_FE_LINE_TOO_LONG);
        } else if (bf_folded_line(r, data + i, end - i) != 0) {
            goto fail;
        }
        i = end + 1;
    }
    return 0;
fail:
    r->failed = 1;
    return -1;
}

int bf_folded_finish(bf_folded_reader *r)
{
    if (r->failed)
        return -1;
    if (r->skipping) {
        r->line_no++;
        bf_folded_report(r, BF_FE_LINE_TOO_LONG);
        r->skipping = 0;
    } else if (r->pending_len) {
        if (bf_folded_line(r, r->pending, r->pending_len) != 0) {
            r->failed = 1;
            return -1;
        }
    }
    r->pending_len = 0;
    bf_folded_release(r);
    return 0;
}

void bf_folded_escape(bf_buf *out, const char *name, size_t len, int last)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the pending run of plain bytes */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        const char *esc = NULL;
        char xbuf[4];
        if (c == '\\')
            esc = "\\\\";
        else if (c == ';')
            esc = "\\;";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20 || c == 0x7f || (c == ' ' && last && i + 1 == len)) {
            xbuf[0] = '\\';
            xbuf[1] = 'x';
            xbuf[2] = hex[c >> 4];
            xbuf[3] = hex[c & 15];
            bf_buf_put(out, name + run, i - run);
            bf_buf_put(out, xbuf, 4);
            run = i + 1;
            continue;
        }
        if (esc) {
            bf_buf_put(out, name + run, i - run);
            bf_buf_put(out, esc, 2);
            run = i + 1;
        }
    }
    bf_buf_put(out, name + run, len - run);
}

int bf_folded_write(const bf_stack_table *st, bf_buf *out)
{
    uint32_t n = bf_st_stack_count(st);
    if (n == 0)
        return out->failed ? -1 : 0;
    uint32_t *order = bf_st_sorted(st);
    if (!order)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        size_t depth;
        uint64_t weight;
        const uint32_t *ids = bf_st_stack(st, order[i], &depth, &weight);
        for (size_t d = 0; d < depth; d++) {
            size_t len;
            const char *name = bf_st_frame_name(st, ids[d], &len);
            if (d)
                bf_buf_putc(out, ';');
            bf_folded_escape(out, name, len, d + 1 == depth);
        }
        bf_buf_putc(out, ' ');
        bf_buf_put_u64(out, weight);
        bf_buf_putc(out, '\n');
    }
    free(order);
    return out->failed ? -1 : 0;
}
