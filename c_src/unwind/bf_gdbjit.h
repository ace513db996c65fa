/* bf_gdbjit: the JIT's debugger list, read when a node has no perf map.
 *
 * beam.smp registers every module it compiles with the GDB JIT interface
 * (`__jit_debug_descriptor`, a linked list of entries each pointing at a "symbol file")
 * whether or not `+JPperf` was given. OTP's symbol files are not ELF but its own records
 * (x86-64, little endian, as measured on OTP 25.2):
 *
 *   u32 kind (0 emulator, 1 module), u32 padding
 *   kind 0: i32 frame_layout, u32 padding, u64 normal_exit
 *   kind 1: u64 base, u32 range_count, u32 code_size, u16 name_length, name (NUL-ended),
 *           then from offset 32 + name_length, range_count ranges:
 *             u32 start_offset, u32 end_offset, u32 line_count, u16 name_length, name,
 *             the next range 16 + name_length bytes on (then line_count lines of
 *             u32 offset, u32 line, u16 file_length, file: 12 + file_length bytes each)
 *
 * bf_gdbjit_module turns one module's file into perf map lines (`START SIZE $NAME`), so
 * the names go through the same parser and naming as a real perf map. Pure: reads only the
 * given bytes, every length checked.
 */
#ifndef BF_GDBJIT_H
#define BF_GDBJIT_H

#include <stddef.h>
#include <stdint.h>

#include "bf_perfmap.h"

#define BF_GDBJIT_EMULATOR 0
#define BF_GDBJIT_MODULE 1

/* The kind of a symbol file (BF_GDBJIT_EMULATOR or _MODULE), or -1 when malformed. For the
 * emulator's file, *frame_layout receives erts_frame_layout (1: frame pointers). */
int bf_gdbjit_kind(const uint8_t *sym, size_t len, int *frame_layout);

/* Feeds a module's ranges to pm. Returns how many, or -1 when the file is malformed (the
 * ranges before the damage are kept) or -2 when pm is out of memory. */
int bf_gdbjit_module(bf_perfmap *pm, const uint8_t *sym, size_t len);

#endif
