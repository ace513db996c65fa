/* bf_buf: a growable byte buffer that can also stream to a FILE.
 *
 * Every renderer and writer in the core appends to a bf_buf. With a sink set, the buffer
 * flushes whenever it holds more than BF_BUF_FLUSH_AT bytes, so writing a large SVG to a
 * file needs constant memory; without a sink it accumulates (the NIF turns it into a
 * binary). Errors (allocation, write) are sticky in `failed` so callers check once at the
 * end instead of after every append. Not thread-safe: one owner at a time.
 */
#ifndef BF_BUF_H
#define BF_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Flush to the sink past this many bytes: big enough to amortise fwrite, small enough
 * that a streaming render stays far below the size of its input. */
#define BF_BUF_FLUSH_AT (256u * 1024u)

typedef struct bf_buf {
    char *data;   /* owned; NULL until the first append */
    size_t len;   /* bytes held (not yet flushed) */
    size_t cap;   /* bytes allocated */
    FILE *sink;   /* optional; not owned */
    size_t total; /* bytes appended over the buffer's life, flushed or not */
    int failed;   /* sticky: 1 after an allocation or write failure */
} bf_buf;

void bf_buf_init(bf_buf *b, FILE *sink);
void bf_buf_free(bf_buf *b);
void bf_buf_put(bf_buf *b, const void *p, size_t n);
void bf_buf_puts(bf_buf *b, const char *s);
void bf_buf_putc(bf_buf *b, char c);
void bf_buf_put_u64(bf_buf *b, uint64_t v);
/* Writes v in decimal at the end of out[0..BF_U64_DIGITS) and returns where it starts. */
#define BF_U64_DIGITS 20
const char *bf_u64_dec(char out[BF_U64_DIGITS], uint64_t v);
/* Decimal with thousands separators, as flamegraph.pl prints sample counts: 1,234,567. */
void bf_buf_put_u64_grouped(bf_buf *b, uint64_t v);
/* v as printf's "%.*f" writes it (places 0..3), without printf for the usual values. */
void bf_buf_put_fixed(bf_buf *b, double v, int places);
void bf_buf_printf(bf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes what is held to the sink; returns 0, or -1 when the buffer has failed. */
int bf_buf_flush(bf_buf *b);

#endif
