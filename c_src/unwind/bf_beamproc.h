/* bf_beamproc: what a BEAM process says about itself in /proc, read the same way on every
 * OTP release from 25 to 29. Pure functions over the bytes /proc gave; the native port
 * program (c_src/native) does the reading.
 *
 *  - Thread names (/proc/PID/task/TID/comm). OTP 25-26: `1_scheduler`, `1_dirty_cpu_sch`,
 *    `1_dirty_io_sche`; OTP 27+: `erts_sched_1`, `erts_dcpus_1`, `erts_dios_1` (measured
 *    in Debian's 25.2, 27.3 and 29.1).
 *  - Frame pointers in JIT code, from beam.smp's argument vector (/proc/PID/cmdline) where
 *    the `erts_frame_layout` symbol is not exported (Debian's OTP 29). erlexec hands the
 *    emulator `+JPperf V` (also from ERL_FLAGS and ERL_ZFLAGS) as `-JPperf V` or `-JPperfV`;
 *    the flag can only be given at start, so the vector is the truth. Values, later ones
 *    winning: `true`, `map` and `fp` (26+) turn frame pointers on; `false` and `no_fp`
 *    (26+) turn them off; `dump` alone leaves them as they were.
 */
#ifndef BF_BEAMPROC_H
#define BF_BEAMPROC_H

#include <stddef.h>
#include <stdint.h>

typedef enum bf_thread_kind {
    BF_THREAD_OTHER = 0,
    BF_THREAD_SCHEDULER,  /* a normal scheduler: runs Erlang code */
    BF_THREAD_DIRTY_CPU,
    BF_THREAD_DIRTY_IO
} bf_thread_kind;

/* The kind of a thread named `comm` (as /proc gives it, without the newline). */
bf_thread_kind bf_thread_kind_of(const char *comm);

/* 1 when the emulator arguments (NUL-separated, as in /proc/PID/cmdline, len bytes) turn
 * frame pointers on, 0 when they leave them off (the default). */
int bf_cmdline_frame_pointers(const char *args, size_t len);

/* The GDB JIT interface's descriptor, as a candidate in a copy of the target's writable
 * data (8-byte aligned words): u32 version (1), u32 action (0..2), u64 relevant_entry,
 * u64 first_entry (non-null, 8-aligned). Returns the byte offset of the first candidate at
 * or after `from`, or -1. A candidate still has to be proven by reading its first entry. */
long bf_jit_descriptor_candidate(const uint8_t *mem, size_t len, size_t from,
                                 uint64_t *first_entry);

/* What the kernel knows about a ptrace that was refused (EPERM), gathered from /proc. */
typedef struct bf_ptrace_facts {
    int yama_scope;      /* /proc/sys/kernel/yama/ptrace_scope, -1 without Yama */
    long our_uid;        /* this program's effective uid */
    long their_uid;      /* the target's real uid (/proc/PID/status) */
    int cap_sys_ptrace;  /* CAP_SYS_PTRACE in this program's effective set */
    long tracer_pid;     /* the thread's TracerPid: another tracer holds it (0: none) */
} bf_ptrace_facts;

/* The one sentence saying which rule refused the ptrace, and its fix, into out. */
void bf_ptrace_why(const bf_ptrace_facts *f, long pid, char *out, size_t outlen);

/* The uid and TracerPid lines of a /proc/PID/status text: 0, or -1 if missing. */
int bf_proc_status_ids(const char *status, long *uid, long *tracer_pid);
/* The start time (field 22, clock ticks after boot) from /proc/PID/stat's text: 0, or -1
 * when the text does not have it. */
int bf_proc_stat_starttime(const char *stat, unsigned long long *ticks);

/* CAP_SYS_PTRACE in the CapEff line of a /proc/self/status text (0 or 1). */
int bf_proc_status_cap_ptrace(const char *status);

/* One mapping of /proc/PID/maps. */
typedef struct bf_map {
    uint64_t start, end, offset;
    int exec, write;
    char path[256]; /* "" for anonymous memory and the JIT's dual-mapped memfd */
} bf_map;

/* One line of /proc/PID/maps into m: 0, or -1 when the line is not a mapping. */
int bf_maps_line(const char *line, bf_map *m);
/* Whether m maps beam.smp (any part of it); and its first mapping (offset 0: its load
 * bias is m->start). */
int bf_map_is_beam_file(const bf_map *m);
int bf_map_is_beam(const bf_map *m);
/* The mapping holding pc, or NULL. */
const bf_map *bf_map_find(const bf_map *maps, size_t n, uint64_t pc);
/* The state letter of /proc/PID/task/TID/stat's text (R, S, D, ...), or 0: read after the
 * last ')' (a thread's name may hold parentheses and spaces). */
char bf_stat_state(const char *stat);

#endif
