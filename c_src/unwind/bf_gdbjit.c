/* bf_gdbjit: OTP's GDB JIT symbol files as perf map lines. See bf_gdbjit.h. */
#include "bf_gdbjit.h"

#include <stdio.h>
#include <string.h>

static uint64_t bf_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i > 0; i--)
        v = (v << 8) | p[i - 1];
    return v;
}

int bf_gdbjit_kind(const uint8_t *sym, size_t len, int *frame_layout)
{
    if (len < 8)
        return -1;
    uint32_t kind = (uint32_t)bf_le(sym, 4);
    if (kind == BF_GDBJIT_EMULATOR) {
        if (len < 24)
            return -1;
        *frame_layout = (int)(int32_t)bf_le(sym + 8, 4);
        return BF_GDBJIT_EMULATOR;
    }
    return kind == BF_GDBJIT_MODULE && len >= 32 ? BF_GDBJIT_MODULE : -1;
}

int bf_gdbjit_module(bf_perfmap *pm, const uint8_t *sym, size_t len)
{
    int fl;
    if (bf_gdbjit_kind(sym, len, &fl) != BF_GDBJIT_MODULE)
        return -1;
    uint64_t base = bf_le(sym + 8, 8);
    uint32_t count = (uint32_t)bf_le(sym + 16, 4), code_size = (uint32_t)bf_le(sym + 20, 4);
    size_t off = 32 + (size_t)bf_le(sym + 24, 2);
    int n = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (off > len || len - off < 14)
            return -1;
        const uint8_t *r = sym + off;
        uint32_t start = (uint32_t)bf_le(r, 4), end = (uint32_t)bf_le(r + 4, 4);
        uint32_t lines = (uint32_t)bf_le(r + 8, 4);
        size_t nlen = (size_t)bf_le(r + 12, 2);
        if (nlen == 0 || len - off - 14 < nlen || r[14 + nlen - 1] != '\0' ||
            memchr(r + 14, '\n', nlen) || start > end || end > code_size)
            return -1;
        off += 16 + nlen;
        for (uint32_t k = 0; k < lines; k++) { /* line records: skipped */
            if (off > len || len - off < 10)
                return -1;
            off += 12 + (size_t)bf_le(sym + off + 8, 2);
        }
        if (end == start)
            continue;
        /* quoted atoms ('Elixir.App':run/1, m:'-f/1-fun-0-'/1) are unquoted by the perf
         * map's naming, as the perf map's own are */
        char name[BF_PERFMAP_MAX_LINE / 2];
        size_t k = nlen - 1 < sizeof(name) - 1 ? nlen - 1 : sizeof(name) - 1;
        memcpy(name, r + 14, k);
        name[k] = '\0';
        char line[BF_PERFMAP_MAX_LINE];
        int w = snprintf(line, sizeof(line), "%llx %x $%s\n",
                         (unsigned long long)(base + start), (unsigned)(end - start), name);
        if (w < 0 || (size_t)w >= sizeof(line))
            continue; /* a name too long for a perf map line */
        if (bf_perfmap_feed(pm, line, (size_t)w) != 0)
            return -2;
        n++;
    }
    return n;
}
