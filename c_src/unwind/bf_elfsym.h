/* bf_elfsym: names for C addresses in an ELF file (beam.smp, a NIF library), for native
 * mode. Addresses are file virtual addresses (a runtime pc minus the mapping's load bias).
 *
 * A symbol names an address only if value <= addr < value + size (libunwind's nearest
 * earlier symbol ignores sizes and names static functions after their exported
 * neighbours). Debian's beam.smp has only .dynsym (~56% of the code); an address outside
 * every symbol is named by the start of its enclosing function from .eh_frame_hdr's table:
 * `beam.smp+0x1a7fa0`, stable for a given build.
 *
 * Reads the file once into memory it owns; pure otherwise. Not thread-safe.
 */
#ifndef BF_ELFSYM_H
#define BF_ELFSYM_H

#include <stddef.h>
#include <stdint.h>

typedef struct bf_elfsym bf_elfsym;

/* Loads path's function symbols (.symtab and .dynsym) and .eh_frame_hdr table. NULL with
 * *err set to a short reason when the file is unreadable or not a 64-bit ELF. */
bf_elfsym *bf_elfsym_open(const char *path, const char **err);
void bf_elfsym_free(bf_elfsym *es);

/* The symbol containing addr, or NULL; *start receives its start. */
const char *bf_elfsym_symbol(const bf_elfsym *es, uint64_t addr, uint64_t *start);
/* The start of the function containing addr per .eh_frame_hdr, or 0 if unknown. */
uint64_t bf_elfsym_function_start(const bf_elfsym *es, uint64_t addr);
/* The frame name for addr: the symbol, else `<basename>+0x<function start>`, else
 * `<basename>+0x<addr>`. Writes into out (NUL-terminated, cut to outlen). */
void bf_elfsym_name(const bf_elfsym *es, uint64_t addr, char *out, size_t outlen);

/* The address (file-relative) of the data symbol name: 0, or -1 when there is none. */
int bf_elfsym_object(const bf_elfsym *es, const char *name, uint64_t *value);

/* Separate debug files (Debian's -dbgsym packages put beam.smp's full symbol table in
 * /usr/lib/debug/.build-id/xx/yyyy.debug): the file's GNU build id as hex (0, or -1 when it
 * has none or hexlen is short), the path of its debug file under root (0 or -1), and the
 * debug file's function symbols added to es's, once, only when the build ids are equal
 * (0, or -1 with *err set; es unchanged). */
int bf_elfsym_build_id(const bf_elfsym *es, char *hex, size_t hexlen);
int bf_elfsym_debug_path(const bf_elfsym *es, const char *root, char *out, size_t outlen);
int bf_elfsym_add_debug_file(bf_elfsym *es, const char *path, const char **err);

size_t bf_elfsym_count(const bf_elfsym *es);       /* function symbols kept */
size_t bf_elfsym_fde_count(const bf_elfsym *es);   /* .eh_frame_hdr entries */

#endif
