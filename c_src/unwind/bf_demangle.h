/* bf_demangle: readable names for C++ symbols (the Itanium ABI's mangling, as GCC and
 * Clang emit it): the qualified name without its parameter list, which is what a flame
 * graph frame needs ("beam_jit_call_bif", "BeamModuleAssembler::emit_i_calls").
 * Template arguments are shown as <...>. Names it does not understand are left alone.
 * Pure and allocation-free.
 */
#ifndef BF_DEMANGLE_H
#define BF_DEMANGLE_H

#include <stddef.h>

/* The readable name of `mangled` into out (always terminated when outlen > 0): 0, or -1
 * if it is not a mangled name this understands (out then holds `mangled` as it is). */
int bf_demangle(const char *mangled, char *out, size_t outlen);

#endif
