/* libFuzzer target: arbitrary bytes through the folded reader (fed in two chunks split at
 * a position taken from the input, so line-spanning paths are covered), then the writer,
 * a round trip, the SVG renderer and speedscope. Invariants checked: the reader never
 * fails on input; re-reading the written text gives the same text; outputs are produced
 * for any non-empty table. Built with ASan and UBSan by `make fuzz'. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bf_folded.h"
#include "../core/bf_speedscope.h"
#include "../core/bf_svg.h"

/* Small caps so the fuzzer reaches the cap paths too. */
#define FUZZ_MAX_STACKS 64
#define FUZZ_MAX_DEPTH 16
#define FUZZ_MAX_BYTES (256 * 1024)

static bf_stack_table *fuzz_read(const char *data, size_t size, size_t split)
{
    bf_st_caps caps = {.max_stacks = FUZZ_MAX_STACKS, .max_depth = FUZZ_MAX_DEPTH,
                       .max_bytes = FUZZ_MAX_BYTES};
    bf_stack_table *st = bf_st_new(&caps);
    if (!st)
        abort();
    bf_folded_reader r;
    bf_folded_reader_init(&r, st);
    if (bf_folded_feed(&r, data, split) != 0 || bf_folded_feed(&r, data + split, size - split) != 0 ||
        bf_folded_finish(&r) != 0)
        abort(); /* only allocation failure may fail, and there is none here */
    bf_folded_reader_free(&r);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t split = size ? data[0] % (size + 1) : 0;
    bf_stack_table *st = fuzz_read((const char *)data, size, split);
    bf_buf folded;
    bf_buf_init(&folded, NULL);
    if (bf_folded_write(st, &folded) != 0)
        abort();
    /* Round trip: what we write, we read back to the same text (caps permitting). */
    bf_st_stats s;
    bf_st_get_stats(st, &s);
    if (s.dropped_samples == 0 && s.truncated == 0) {
        bf_stack_table *again = fuzz_read(folded.data ? folded.data : "", folded.len, folded.len / 2);
        bf_buf twice;
        bf_buf_init(&twice, NULL);
        if (bf_folded_write(again, &twice) != 0 || twice.len != folded.len ||
            (folded.len && memcmp(twice.data, folded.data, folded.len) != 0))
            abort();
        bf_buf_free(&twice);
        bf_st_free(again);
    }
    bf_svg_opts o;
    bf_svg_default_opts(&o);
    o.min_width = 0;
    o.max_frames = 50;
    o.palette = (size & 1) ? BF_PALETTE_BEAM : BF_PALETTE_HOT;
    o.inverted = (size & 2) != 0;
    o.reverse = (size & 4) != 0;
    o.flamechart = (size & 8) != 0;
    bf_buf out;
    bf_buf_init(&out, NULL);
    bf_svg_status r = bf_svg_render(st, &o, &out, NULL);
    if (r == BF_SVG_NOMEM || r == BF_SVG_BADOPTS)
        abort();
    out.len = 0;
    if (bf_speedscope_write(st, "fuzz", "none", &out) < 0)
        abort();
    bf_buf_free(&out);
    bf_buf_free(&folded);
    bf_st_free(st);
    return 0;
}
