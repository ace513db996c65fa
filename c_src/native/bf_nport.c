/* bf_nport: see bf_nport.h. */
#include "bf_nport.h"

#include <string.h>

void bf_packet_header(size_t len, unsigned char hdr[4])
{
    hdr[0] = (unsigned char)(len >> 24);
    hdr[1] = (unsigned char)(len >> 16);
    hdr[2] = (unsigned char)(len >> 8);
    hdr[3] = (unsigned char)len;
}

size_t bf_packet_len(const unsigned char hdr[4])
{
    return ((size_t)hdr[0] << 24) | ((size_t)hdr[1] << 16) | ((size_t)hdr[2] << 8) | hdr[3];
}

static int bf_text(ei_x_buff *x, const char *s)
{
    return ei_x_encode_binary(x, s ? s : "", s ? (long)strlen(s) : 0);
}

int bf_nport_encode_ok(ei_x_buff *x, const char *folded, size_t len, const bf_native_info *i)
{
    const struct {
        const char *key;
        uint64_t v;
    } counts[] = {{"erlang_samples", i->erlang_samples},
                  {"complete_chains", i->complete_chains},
                  {"stopped_us", i->stopped_us},
                  {"stopped_us_max", i->stopped_us_max},
                  {"stopped_us_median", i->stopped_us_median},
                  {"stop_wait_us", i->stop_wait_us},
                  {"samples", i->samples},
                  {"threads", i->threads},
                  {"missed_ticks", i->missed_ticks},
                  {"not_stopped", i->not_stopped},
                  {"jit_samples", i->jit_samples},
                  {"truncated_stacks", i->truncated_stacks},
                  {"idle_samples", i->idle_samples},
                  {"idle_reused", i->idle_reused}};
    size_t ncounts = sizeof(counts) / sizeof(counts[0]);
    int rc = ei_x_encode_tuple_header(x, 3) | ei_x_encode_atom(x, "ok") |
             ei_x_encode_binary(x, folded ? folded : "", folded ? (long)len : 0) |
             ei_x_encode_map_header(x, (long)ncounts + 5) |
             ei_x_encode_atom(x, "jit_names") |
             ei_x_encode_atom(x, i->jit_names ? i->jit_names : "none") |
             ei_x_encode_atom(x, "frame_pointers") |
             ei_x_encode_boolean(x, i->frame_pointers) |
             ei_x_encode_atom(x, "frame_layout_from") |
             ei_x_encode_atom(x, i->frame_layout_from ? i->frame_layout_from : "none") |
             ei_x_encode_atom(x, "debug_symbols") | ei_x_encode_boolean(x, i->debug_symbols) |
             ei_x_encode_atom(x, "capability") | bf_text(x, i->capability);
    for (size_t k = 0; k < ncounts; k++)
        rc |= ei_x_encode_atom(x, counts[k].key) | ei_x_encode_ulonglong(x, counts[k].v);
    return rc ? -1 : 0;
}

int bf_nport_encode_error(ei_x_buff *x, bf_nport_error kind, const char *why)
{
    static const char *const kinds[] = {"ptrace", "noproc", "failed"};
    int rc = ei_x_encode_tuple_header(x, 3) | ei_x_encode_atom(x, "error") |
             ei_x_encode_atom(x, kinds[kind]) | bf_text(x, why);
    return rc ? -1 : 0;
}
