/* bf_nport: the port program's side of its port ({packet,4} framing, ei-encoded replies),
 * as beamflame_native.erl reads them:
 *   {ok, Folded, Info}  the folded stacks and a map of what the run could see and did
 *   {error, Kind, Why}  Kind ptrace | noproc | failed, Why one sentence naming the fix
 * Pure: encoding into buffers and reading headers; the I/O is beamflame_native.c's. */
#ifndef BF_NPORT_H
#define BF_NPORT_H

#include <ei.h>
#include <stddef.h>
#include <stdint.h>

/* What a run reports in Info, besides the folded text. */
typedef struct bf_native_info {
    const char *jit_names;         /* perf_map | debugger_list | none */
    int frame_pointers;
    const char *frame_layout_from; /* symbol | debugger_list | cmdline | none */
    int debug_symbols;
    uint64_t erlang_samples, complete_chains, stopped_us, stopped_us_max, stopped_us_median,
        stop_wait_us,
        samples, threads, missed_ticks, not_stopped, jit_samples, truncated_stacks,
        idle_samples, idle_reused;
    const char *capability;
} bf_native_info;

typedef enum bf_nport_error { BF_NPORT_PTRACE, BF_NPORT_NOPROC, BF_NPORT_FAILED } bf_nport_error;

/* The 4-byte big-endian length of a packet; the length a header says. */
void bf_packet_header(size_t len, unsigned char hdr[4]);
size_t bf_packet_len(const unsigned char hdr[4]);
/* {ok, Folded, Info} or {error, Kind, Why} into x (made with ei_x_new_with_version).
 * 0, or -1 if ei could not encode (no memory). */
int bf_nport_encode_ok(ei_x_buff *x, const char *folded, size_t len, const bf_native_info *i);
int bf_nport_encode_error(ei_x_buff *x, bf_nport_error kind, const char *why);

#endif
