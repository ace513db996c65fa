/* bf_buf: growable byte buffer with an optional FILE sink. See bf_buf.h. */
#include "bf_buf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BF_BUF_MIN_CAP 4096u

void bf_buf_init(bf_buf *b, FILE *sink)
{
    memset(b, 0, sizeof(*b));
    b->sink = sink;
}

void bf_buf_free(bf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int bf_buf_reserve(bf_buf *b, size_t n)
{
    if (b->failed)
        return -1;
    if (n <= b->cap - b->len)
        return 0;
    size_t cap = b->cap ? b->cap : BF_BUF_MIN_CAP;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int bf_buf_flush(bf_buf *b)
{
    if (b->failed)
        return -1;
    if (b->sink && b->len) {
        if (fwrite(b->data, 1, b->len, b->sink) != b->len) {
            b->failed = 1;
            return -1;
        }
        b->len = 0;
    }
    return 0;
}

void bf_buf_put(bf_buf *b, const void *p, size_t n)
{
    if (n == 0 || bf_buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->total += n;
    if (b->sink && b->len >= BF_BUF_FLUSH_AT)
        bf_buf_flush(b);
}

void bf_buf_puts(bf_buf *b, const char *s)
{
    bf_buf_put(b, s, strlen(s));
}

void bf_buf_putc(bf_buf *b, char c)
{
    bf_buf_put(b, &c, 1);
}

const char *bf_u64_dec(char out[BF_U64_DIGITS], uint64_t v)
{
    size_t i = BF_U64_DIGITS;
    do {
        out[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return out + i;
}

void bf_buf_put_u64(bf_buf *b, uint64_t v)
{
    char tmp[BF_U64_DIGITS];
    const char *d = bf_u64_dec(tmp, v);
    bf_buf_put(b, d, (size_t)(tmp + BF_U64_DIGITS - d));
}

void bf_buf_put_u64_grouped(bf_buf *b, uint64_t v)
{
    char tmp[32];
    size_t i = sizeof(tmp);
    int digits = 0;
    do {
        if (digits && digits % 3 == 0)
            tmp[--i] = ',';
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
        digits++;
    } while (v);
    bf_buf_put(b, tmp + i, sizeof(tmp) - i);
}

void bf_buf_put_fixed(bf_buf *b, double v, int places)
{
    static const double scale[] = {1, 10, 100, 1000};
    if (places >= 0 && places <= 3 && v >= 0 && v < 1e7) {
        /* Rounded as printf rounds the exact value: the product's error (below 1e-7 here)
         * can only matter next to a half, which printf decides. */
        double s = v * scale[places], f = floor(s), frac = s - f;
        if (frac < 0.5 - 1e-6 || frac > 0.5 + 1e-6) {
            uint64_t r = (uint64_t)f + (frac > 0.5), unit = (uint64_t)scale[places];
            bf_buf_put_u64(b, r / unit);
            if (places) {
                char d[4];
                uint64_t rest = r % unit;
                for (int i = places - 1; i >= 0; i--, rest /= 10)
                    d[i] = (char)('0' + rest % 10);
                bf_buf_putc(b, '.');
                bf_buf_put(b, d, (size_t)places);
            }
            return;
        }
    }
    bf_buf_printf(b, "%.*f", places, v);
}

void bf_buf_printf(bf_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        bf_buf_put(b, small, (size_t)n);
        return;
    }
    if (bf_buf_reserve(b, (size_t)n + 1) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    b->total += (size_t)n;
    if (b->sink && b->len >= BF_BUF_FLUSH_AT)
        bf_buf_flush(b);
}
