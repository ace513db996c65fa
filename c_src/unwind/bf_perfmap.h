/* bf_perfmap: the JIT's perf map (/tmp/perf-PID.map, written by a node started with
 * `+JPperf map` or `+JPperf true`): address ranges of JIT-compiled code and their names.
 *
 * The file is append-only and may describe the same addresses twice (code reloaded): the
 * last entry for an address wins. It is read incrementally (feed what was appended since
 * the last read; a partial last line waits for its end), so a lookup miss can re-read
 * cheaply. Names are given the way beamflame names frames everywhere: `$lists:keyfind/3`
 * and its `-CodeInfoPrologue` become `lists:keyfind/3`, `$Elixir.MyApp.Worker:run/1`
 * becomes `MyApp.Worker.run/1`, `$mod:-loop/1-fun-0-/1` becomes `mod:loop/1-fun-0`, and
 * JIT glue keeps its `global::name` / `mod::codeHeader` form (classified as JIT glue).
 *
 * Pure C, no I/O but bf_perfmap_read_file. Not thread-safe (one sampler owns it).
 */
#ifndef BF_PERFMAP_H
#define BF_PERFMAP_H

#include <stddef.h>
#include <stdint.h>

#define BF_PERFMAP_MAX_LINE 4096u     /* longer lines are malformed (counted, skipped) */
#define BF_PERFMAP_MAX_ENTRIES 4000000u /* a cap: ~100 MB of entries and names at most */

typedef struct bf_perfmap bf_perfmap;

bf_perfmap *bf_perfmap_new(void);
void bf_perfmap_free(bf_perfmap *pm);

/* Feeds the next bytes of the file. Returns 0, or -1 when out of memory or past the
 * entry cap (what was read stays usable). */
int bf_perfmap_feed(bf_perfmap *pm, const char *data, size_t len);

/* Reads what was appended to path since *offset (0 at first) and advances *offset.
 * Returns 0, -1 on an I/O error (errno set), -2 when out of memory. */
int bf_perfmap_read_file(bf_perfmap *pm, const char *path, uint64_t *offset);

/* The name of the newest entry containing pc, or NULL (then *start is untouched). The
 * pointer stays valid until the next feed. */
const char *bf_perfmap_lookup(bf_perfmap *pm, uint64_t pc, uint64_t *start);

size_t bf_perfmap_count(const bf_perfmap *pm);
uint64_t bf_perfmap_malformed(const bf_perfmap *pm);

#endif
