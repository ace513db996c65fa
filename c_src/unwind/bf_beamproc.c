/* bf_beamproc: thread names, +JPperf flags and the JIT descriptor's shape, per release.
 * See bf_beamproc.h. Pure: no I/O, every length checked. */
#include "bf_beamproc.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

/* comm is at most 15 characters (TASK_COMM_LEN 16): OTP cuts its names to fit */
static int bf_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static int bf_prefixed(const char *comm, const char *prefix)
{
    size_t n = strlen(prefix);
    return !strncmp(comm, prefix, n) && bf_digits(comm + n);
}

/* OTP 25-26: a number, then the name */
static int bf_suffixed(const char *comm, const char *suffix)
{
    const char *u = strchr(comm, '_');
    if (!u || u == comm || strcmp(u, suffix))
        return 0;
    for (const char *p = comm; p < u; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

bf_thread_kind bf_thread_kind_of(const char *comm)
{
    if (bf_prefixed(comm, "erts_sched_") || bf_suffixed(comm, "_scheduler"))
        return BF_THREAD_SCHEDULER;
    if (bf_prefixed(comm, "erts_dcpus_") || bf_suffixed(comm, "_dirty_cpu_sch"))
        return BF_THREAD_DIRTY_CPU;
    if (bf_prefixed(comm, "erts_dios_") || bf_suffixed(comm, "_dirty_io_sche"))
        return BF_THREAD_DIRTY_IO;
    return BF_THREAD_OTHER;
}

/* -1: not a frame-pointer decision; else the new state */
static int bf_perf_value(const char *v, int current)
{
    if (!strcmp(v, "true") || !strcmp(v, "map") || !strcmp(v, "fp"))
        return 1;
    if (!strcmp(v, "false") || !strcmp(v, "no_fp"))
        return 0;
    return current; /* dump, or a value this reader does not know */
}

int bf_cmdline_frame_pointers(const char *args, size_t len)
{
    int fp = 0;
    size_t i = 0;
    while (i < len) {
        const char *a = args + i;
        size_t alen = strnlen(a, len - i);
        size_t next = i + alen + 1;
        if (alen == 2 && !strcmp(a, "--"))
            break; /* the emulator's arguments end here; the rest is init's */
        if (alen >= 7 && !strncmp(a, "-JPperf", 7)) {
            if (alen > 7) {
                fp = bf_perf_value(a + 7, fp);
            } else if (next < len) {
                const char *v = args + next;
                size_t vlen = strnlen(v, len - next);
                if (vlen < len - next) /* NUL-ended inside the buffer */
                    fp = bf_perf_value(v, fp);
                next += vlen + 1;
            }
        }
        i = next;
    }
    return fp;
}

static uint64_t bf_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#define BF_JIT_DESCRIPTOR_SIZE 24 /* u32 version, u32 action, two pointers (GDB's jit.h) */
#define BF_JIT_ACTION_MAX 2       /* JIT_NOACTION, JIT_REGISTER_FN, JIT_UNREGISTER_FN */

long bf_jit_descriptor_candidate(const uint8_t *mem, size_t len, size_t from,
                                 uint64_t *first_entry)
{
    for (size_t off = (from + 7) & ~(size_t)7; len >= BF_JIT_DESCRIPTOR_SIZE &&
                                               off <= len - BF_JIT_DESCRIPTOR_SIZE;
         off += 8) {
        const uint8_t *p = mem + off;
        uint32_t version = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24;
        uint32_t action = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
                          (uint32_t)p[7] << 24;
        if (version != 1 || action > BF_JIT_ACTION_MAX)
            continue;
        uint64_t relevant = bf_le64(p + 8), first = bf_le64(p + 16);
        if (!first || (first & 7) || (relevant & 7))
            continue;
        *first_entry = first;
        return (long)off;
    }
    return -1;
}

void bf_ptrace_why(const bf_ptrace_facts *f, long pid, char *out, size_t outlen)
{
    if (f->tracer_pid > 0)
        snprintf(out, outlen, "ptrace not permitted on pid %ld: it is already traced by pid "
                              "%ld (a debugger, strace or another profiler): detach that first",
                 pid, f->tracer_pid);
    else if (f->yama_scope == 3)
        snprintf(out, outlen, "ptrace not permitted on pid %ld: kernel.yama.ptrace_scope is 3, "
                              "no process may be traced (until a reboot)", pid);
    else if (f->yama_scope == 2 && !f->cap_sys_ptrace)
        snprintf(out, outlen, "ptrace not permitted on pid %ld: kernel.yama.ptrace_scope is 2, "
                              "only root or CAP_SYS_PTRACE may trace: run the node as root or "
                              "grant its beam.smp CAP_SYS_PTRACE, or set the scope to 1",
                 pid);
    else if (f->our_uid != f->their_uid && f->our_uid != 0 && !f->cap_sys_ptrace)
        snprintf(out, outlen, "ptrace not permitted on pid %ld: it runs as uid %ld and the "
                              "sampler as uid %ld; the same user, root or CAP_SYS_PTRACE may "
                              "trace it", pid, f->their_uid, f->our_uid);
    else if (f->yama_scope == 1)
        snprintf(out, outlen, "ptrace not permitted on pid %ld: kernel.yama.ptrace_scope is 1 "
                              "and the node's permission for its sampler (PR_SET_PTRACER) did "
                              "not take: grant CAP_SYS_PTRACE or set the scope to 0", pid);
    else
        snprintf(out, outlen, "ptrace not permitted on pid %ld by a rule this sampler cannot "
                              "see (a container's seccomp profile or a security module, or a "
                              "node made non-dumpable): allow ptrace there, or grant "
                              "CAP_SYS_PTRACE", pid);
}

/* The first number after `key` at the start of a line of text. */
static int bf_status_number(const char *text, const char *key, long *out)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, key, n)) {
            char *end;
            long v = strtol(p + n, &end, 10);
            if (end == p + n)
                return -1;
            *out = v;
            return 0;
        }
    return -1;
}

int bf_proc_status_ids(const char *status, long *uid, long *tracer_pid)
{
    return bf_status_number(status, "Uid:", uid) != 0 ||
                   bf_status_number(status, "TracerPid:", tracer_pid) != 0
               ? -1
               : 0;
}

int bf_proc_stat_starttime(const char *stat, unsigned long long *ticks)
{
    const char *p = strrchr(stat, ')'); /* the name may hold spaces and parentheses */
    if (!p)
        return -1;
    /* after the name: state (field 3) ... starttime (field 22) */
    for (int field = 2; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return -1;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p + 1, &end, 10);
    if (end == p + 1 || errno || (*end != ' ' && *end != '\n' && *end != '\0'))
        return -1;
    *ticks = v;
    return 0;
}

int bf_proc_status_cap_ptrace(const char *status)
{
    const char *p = strstr(status, "\nCapEff:");
    if (!p)
        return 0;
    unsigned long long caps = strtoull(p + 8, NULL, 16);
    return (int)((caps >> 19) & 1); /* CAP_SYS_PTRACE is capability 19 */
}

int bf_maps_line(const char *line, bf_map *m)
{
    unsigned long long s, e, off;
    char perms[8], file[256] = "";
    if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %255s", &s, &e, perms, &off, file) < 4 ||
        strlen(perms) < 4 || e <= s)
        return -1;
    m->start = s;
    m->end = e;
    m->offset = off;
    m->exec = perms[2] == 'x';
    m->write = perms[1] == 'w';
    /* anonymous, or the JIT's dual-mapped memory (`/memfd:vmem (deleted)`): no file */
    snprintf(m->path, sizeof(m->path), "%s",
             file[0] == '/' && strncmp(file, "/memfd:", 7) ? file : "");
    return 0;
}

int bf_map_is_beam_file(const bf_map *m)
{
    const char *base = strrchr(m->path, '/');
    return base && !strcmp(base, "/beam.smp");
}

int bf_map_is_beam(const bf_map *m)
{
    return bf_map_is_beam_file(m) && m->offset == 0;
}

const bf_map *bf_map_find(const bf_map *maps, size_t n, uint64_t pc)
{
    for (size_t i = 0; i < n; i++)
        if (pc >= maps[i].start && pc < maps[i].end)
            return &maps[i];
    return NULL;
}

char bf_stat_state(const char *stat)
{
    const char *p = strrchr(stat, ')');
    return p && p[1] == ' ' && p[2] && p[2] != ' ' ? p[2] : 0;
}
