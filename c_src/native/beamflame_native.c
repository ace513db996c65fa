/* beamflame_native: samples the scheduler threads of a BEAM node, C frames and JIT frames
 * in one stack. A separate program (a thread cannot ptrace its own process), started by
 * the node as a port (`--port`: {packet,4} framing, ei-encoded result) or by hand on any
 * OS pid (`--pid PID`, folded stacks on standard output).
 *
 * Per sample and thread: PTRACE_INTERRUPT (the threads were PTRACE_SEIZEd once, without
 * stopping them), wait for the stop, read the registers, copy the top of the stack and the
 * bytes at the pc (process_vm_readv), PTRACE_CONT at once; then, with the thread running
 * again, unwind the copy: C frames by DWARF (.eh_frame, libunwind with accessors that read
 * the copy) until a return address lands in JIT code, then the frame-pointer chain
 * (bf_jitwalk). JIT addresses are named from the perf map (bf_perfmap), beam.smp's from
 * its symbols checked against their sizes (bf_elfsym). The root frame is the thread name.
 *
 * No thread is left stopped: every interrupt is followed by a continue before anything
 * else; the threads are detached at the end, on stdin EOF (the port closed), and on
 * SIGTERM/SIGINT/SIGHUP; if this program is killed outright the kernel detaches them.
 * A tick that comes while the previous one is still running is skipped and counted.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libunwind-ptrace.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ei.h>

#include "../core/bf_buf.h"
#include "../unwind/bf_elfsym.h"
#include "../core/bf_folded.h"
#include "../unwind/bf_beamproc.h"
#include "../unwind/bf_gdbjit.h"
#include "../unwind/bf_jitwalk.h"
#include "../unwind/bf_perfmap.h"
#include "../core/bf_stack_table.h"
#include "bf_nargs.h"
#include "bf_nname.h"
#include "bf_nport.h"

#define BF_NATIVE_MAX_THREADS 1024   /* scheduler threads followed */
#define BF_NATIVE_STACK_COPY 65536   /* bytes copied from rsp per sample at most */
#define BF_NATIVE_STACK_FIRST 16384  /* ... at first: more only for a frame chain that goes on
                                      * past it (copying 64 KiB each time was most of the
                                      * time a thread was held) */
#define BF_NATIVE_MAX_FRAMES 256     /* frames per stack */
#define BF_NATIVE_MAX_MAPS 4096      /* /proc/PID/maps entries kept */
#define BF_NATIVE_STOP_WAIT_MS 100   /* a thread that does not stop by then is skipped */
#define BF_NATIVE_HELD_BUCKETS 1024  /* held times counted to the microsecond up to this */
#define BF_NATIVE_ESTACK_BELOW 4096u  /* process stack copied below rbp (the call into glue) */
#define BF_NATIVE_ESTACK_COPY 65536u  /* bytes of process stack copied from rbp - BELOW */
#define BF_NATIVE_MAX_JIT_MODULES 100000u /* entries of the JIT's debugger list read */
#define BF_NATIVE_SPIN_US 50             /* a stop is waited for this long without sleeping
                                          * (with more than one CPU online) */
#define BF_NATIVE_GDBJIT_TRIES 5          /* tries at finding a provable first entry */
#define BF_NATIVE_GDBJIT_REREAD_MS 20     /* the list is walked again at most this often */
#define BF_NATIVE_MAX_SCAN (64u << 20) /* beam.smp's data read when looking for the JIT's
                                        * descriptor unexported (Debian 29: ~3 MB) */
#define BF_NATIVE_CMDLINE_MAX 65536u   /* bytes of /proc/PID/cmdline read */

enum { BF_NAT_OK = 0, BF_NAT_USAGE = 2, BF_NAT_NOPROC = 6, BF_NAT_PTRACE = 10, BF_NAT_FAIL = 12 };

typedef struct bf_thread {
    pid_t tid;
    char name[32];
    int seized;
    void *upt; /* libunwind-ptrace's per-thread handle, made once (it caches ELF images) */
    /* its last sample asleep: the system call it was blocked in (/proc/.../syscall: number,
     * arguments, stack pointer, pc) and the stack found; counted again, without a stop,
     * while the thread is still blocked in that same call */
    char sys[160];
    size_t syslen; /* 0: none kept */
    uint32_t sys_stack;
    int sys_jit, sys_erlang, sys_complete;
} bf_thread;

typedef struct bf_native {
    pid_t pid;
    unsigned rate, duration_ms;
    int dirty, idle, port;
    long long spin_us;  /* how long a stop is waited for without sleeping (bf_capture) */
    bf_thread th[BF_NATIVE_MAX_THREADS];
    size_t nth;
    bf_map maps[BF_NATIVE_MAX_MAPS];
    size_t nmaps;
    uint64_t beam_bias; /* beam.smp's load bias */
    bf_elfsym *beam;
    bf_perfmap *pm;
    uint64_t pm_offset;
    char pm_path[64];
    int have_perfmap;   /* JIT names from the perf map (re-read on a miss) */
    int have_gdbjit;    /* ... else from the JIT's debugger list (re-read on a miss) */
    uint64_t jit_desc;  /* the list's descriptor in the target, 0 when not found */
    uint64_t jit_head;  /* its first entry at the last complete walk */
    int jit_complete;   /* that walk reached the list's end */
    long long jit_read_us; /* when the list was last walked */
    uint64_t (*jit_seen)[2]; /* symbol files fed (address, size), sorted */
    size_t njit_seen, jit_seen_cap;
    int frame_pointers; /* erts_frame_layout: 1 when JIT code keeps rbp chains */
    const char *layout_from; /* where frame_pointers was read, as info's atom: symbol
                              * (erts_frame_layout), debugger_list, cmdline (+JPperf) */
    int jit_layout;          /* the debugger list's emulator record says: -1 unknown */
    int debug_symbols;       /* beam.smp's separate debug file was found and read */
    size_t gdb_modules;
    const char *snapshot_path; /* BF_NATIVE_SNAPSHOT: write one walk's input there */
    bf_namer nm;               /* frame names, from the above (bf_nname) */
    bf_stack_table *st;
    unw_addr_space_t as;
    /* counters */
    uint64_t samples, missed_ticks, not_stopped, jit_samples, idle_samples, truncated;
    uint64_t idle_reused; /* idle samples counted from the thread's last, not stopped */
    uint64_t erlang_samples;                 /* stacks with at least one Erlang function */
    uint64_t complete_chains;                /* ... whose walk reached the process's first frame */
    uint64_t stopped_us, stopped_us_max;     /* time threads were held stopped */
    uint32_t held_hist[BF_NATIVE_HELD_BUCKETS]; /* samples by microseconds held (the last:
                                                  that many or more): the median */
    uint64_t stop_wait_us;                   /* time from PTRACE_INTERRUPT to the stop */
} bf_native;

static bf_native g; /* one per process: signal handlers reach it */
static sigset_t bf_chld; /* SIGCHLD, blocked: bf_capture waits for it */
static volatile sig_atomic_t bf_stop_flag;

static void bf_on_signal(int sig)
{
    (void)sig;
    bf_stop_flag = 1;
}

static long long bf_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- the target's threads and memory map ------------------------------------------------ */

/* Thread names differ per release (bf_beamproc.h). */
static int bf_is_scheduler(const char *comm, int dirty)
{
    bf_thread_kind k = bf_thread_kind_of(comm);
    return k == BF_THREAD_SCHEDULER ||
           (dirty && (k == BF_THREAD_DIRTY_CPU || k == BF_THREAD_DIRTY_IO));
}

static int bf_find_threads(bf_native *n)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)n->pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) && n->nth < BF_NATIVE_MAX_THREADS) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char cp[96], comm[32] = "";
        snprintf(cp, sizeof(cp), "/proc/%d/task/%s/comm", (int)n->pid, e->d_name);
        FILE *f = fopen(cp, "r");
        if (!f)
            continue;
        if (fgets(comm, sizeof(comm), f))
            comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
        if (!bf_is_scheduler(comm, n->dirty))
            continue;
        bf_thread *t = &n->th[n->nth++];
        t->tid = (pid_t)atoi(e->d_name);
        snprintf(t->name, sizeof(t->name), "%s", comm);
        t->seized = 0;
    }
    closedir(d);
    return 0;
}

/* beam.smp's separate debug file, where one is installed (Debian: erlang-base-dbgsym from
 * the debug archive), names what its .dynsym does not: on OTP 29 that is nearly all of it
 * (290 exported functions). Looked up by build id under BEAMFLAME_DEBUG_DIR, else
 * /usr/lib/debug; a file of another build is ignored. */
static void bf_add_debug_symbols(bf_native *n, bf_elfsym *beam)
{
    const char *root = getenv("BEAMFLAME_DEBUG_DIR");
    char path[512];
    const char *err;
    if (beam && bf_elfsym_debug_path(beam, root && *root ? root : "/usr/lib/debug", path,
                                     sizeof(path)) == 0 &&
        access(path, R_OK) == 0 && bf_elfsym_add_debug_file(beam, path, &err) == 0)
        n->debug_symbols = 1;
}

/* A miss in JIT memory: the perf map grows as code loads. */
static int bf_reread_perfmap(void *ctx)
{
    bf_native *n = ctx;
    return bf_perfmap_read_file(n->pm, n->pm_path, &n->pm_offset);
}

static int bf_reread_gdbjit(void *ctx);

/* The namer's view of what was read (after the maps, and after bf_check_node). */
static void bf_update_namer(bf_native *n)
{
    n->nm = (bf_namer){n->maps, n->nmaps, n->beam, n->beam_bias, n->pm,
                       n->have_perfmap || n->jit_desc,
                       n->have_perfmap ? bf_reread_perfmap
                                       : n->jit_desc ? bf_reread_gdbjit : NULL, n};
}

static int bf_read_maps(bf_native *n)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)n->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    n->nmaps = 0;
    n->beam_bias = 0;
    int beam_seen = 0;
    while (fgets(line, sizeof(line), f) && n->nmaps < BF_NATIVE_MAX_MAPS) {
        bf_map *m = &n->maps[n->nmaps];
        if (bf_maps_line(line, m) != 0)
            continue;
        n->nmaps++;
        if (!beam_seen && bf_map_is_beam(m)) {
            n->beam_bias = m->start;
            beam_seen = 1;
            if (!n->beam) {
                const char *err;
                n->beam = bf_elfsym_open(m->path, &err);
                bf_add_debug_symbols(n, n->beam);
            }
        }
    }
    fclose(f);
    bf_update_namer(n);
    return 0;
}

/* JIT code (bf_jitwalk's callback). */
static int bf_is_jit(void *ctx, uint64_t pc)
{
    const bf_native *n = ctx;
    return bf_namer_is_jit(&n->nm, pc);
}

/* --- libunwind on the stack copy -------------------------------------------------------- */

typedef struct bf_unw_ctx {
    void *upt;                 /* libunwind-ptrace's handle: unwind info from the ELF files */
    const bf_stack_snap *snap;
    struct user_regs_struct *regs;
} bf_unw_ctx;

static int bf_acc_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
                                 int need, void *arg)
{
    return _UPT_find_proc_info(as, ip, pi, need, ((bf_unw_ctx *)arg)->upt);
}

static void bf_acc_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
    _UPT_put_unwind_info(as, pi, ((bf_unw_ctx *)arg)->upt);
}

static int bf_acc_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
    (void)as;
    (void)arg;
    *addr = 0;
    return -UNW_ENOINFO;
}

/* Memory: the stack copy, else the target's memory (code and data do not move). */
static int bf_acc_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write,
                             void *arg)
{
    (void)as;
    bf_unw_ctx *c = arg;
    if (write)
        return -UNW_EINVAL;
    uint64_t v;
    if (bf_snap_word(c->snap, addr, &v) == 0) {
        *val = v;
        return 0;
    }
    struct iovec local = {&v, 8}, remote = {(void *)(uintptr_t)addr, 8};
    if (process_vm_readv(g.pid, &local, 1, &remote, 1, 0) != 8)
        return -UNW_EINVAL;
    *val = v;
    return 0;
}

static int bf_acc_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write,
                             void *arg)
{
    (void)as;
    struct user_regs_struct *r = ((bf_unw_ctx *)arg)->regs;
    if (write)
        return -UNW_EREADONLYREG;
    switch (reg) {
    case UNW_X86_64_RAX: *val = r->rax; break;
    case UNW_X86_64_RDX: *val = r->rdx; break;
    case UNW_X86_64_RCX: *val = r->rcx; break;
    case UNW_X86_64_RBX: *val = r->rbx; break;
    case UNW_X86_64_RSI: *val = r->rsi; break;
    case UNW_X86_64_RDI: *val = r->rdi; break;
    case UNW_X86_64_RBP: *val = r->rbp; break;
    case UNW_X86_64_RSP: *val = r->rsp; break;
    case UNW_X86_64_R8: *val = r->r8; break;
    case UNW_X86_64_R9: *val = r->r9; break;
    case UNW_X86_64_R10: *val = r->r10; break;
    case UNW_X86_64_R11: *val = r->r11; break;
    case UNW_X86_64_R12: *val = r->r12; break;
    case UNW_X86_64_R13: *val = r->r13; break;
    case UNW_X86_64_R14: *val = r->r14; break;
    case UNW_X86_64_R15: *val = r->r15; break;
    case UNW_X86_64_RIP: *val = r->rip; break;
    default: return -UNW_EBADREG;
    }
    return 0;
}

static int bf_acc_access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val,
                               int write, void *arg)
{
    (void)as;
    (void)reg;
    (void)val;
    (void)write;
    (void)arg;
    return -UNW_EBADREG;
}

static int bf_acc_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
    (void)as;
    (void)c;
    (void)arg;
    return -UNW_EINVAL;
}

static unw_accessors_t bf_accessors = {
    .find_proc_info = bf_acc_find_proc_info,
    .put_unwind_info = bf_acc_put_unwind_info,
    .get_dyn_info_list_addr = bf_acc_get_dyn_info_list_addr,
    .access_mem = bf_acc_access_mem,
    .access_reg = bf_acc_access_reg,
    .access_fpreg = bf_acc_access_fpreg,
    .resume = bf_acc_resume,
    .get_proc_name = NULL,
};

/* --- one sample ------------------------------------------------------------------------- */

/* A small /proc file's text (NUL-terminated); "" if it cannot be read. */
static void bf_read_small(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t r = read(fd, buf, len - 1);
    close(fd);
    buf[r > 0 ? r : 0] = '\0';
}

static int bf_thread_sleeping(const bf_native *n, pid_t tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)n->pid, (int)tid);
    bf_read_small(path, buf, sizeof(buf));
    return buf[0] && bf_stat_state(buf) == 'S';
}

/* The system call a blocked thread is in, as /proc/PID/task/TID/syscall says it (one line:
 * number, six arguments, stack pointer, pc); 0 when unreadable or not blocked in one. */
static size_t bf_thread_syscall(const bf_native *n, pid_t tid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)n->pid, (int)tid);
    bf_read_small(path, buf, len);
    size_t r = strlen(buf);
    if (r == 0 || r == len - 1 || buf[0] < '0' || buf[0] > '9')
        return 0; /* "running", "-1 ..." (blocked outside a system call), or cut */
    return r;
}

/* What one sample took from a stopped thread. */
typedef struct bf_sample {
    struct user_regs_struct regs;
    bf_stack_snap snap;                /* the stack at rsp */
    uint8_t code[4];                   /* the bytes at the pc (prologue fix-ups) */
    int pc_in_jit;                     /* stopped in JIT code (else in C) */
    uint64_t pcs[BF_NATIVE_MAX_FRAMES]; /* innermost first */
    size_t np;
    int into_jit;                      /* the C frames were called from JIT code at */
    uint64_t jit_ip, jit_sp, jit_bp;   /* ... this return address, with these sp and rbp */
    bf_stack_snap esnap;               /* the process stack around jit_bp */
} bf_sample;

static uint8_t bf_estack[BF_NATIVE_ESTACK_COPY];

/* The Erlang frames above C code are on the process's own stack, away from the C stack
 * at rsp: copy around the rbp the unwind found there, while the thread is stopped. */
static void bf_copy_estack(bf_stack_snap *es, uint64_t rbp)
{
    es->len = 0;
    if (rbp < BF_NATIVE_ESTACK_BELOW)
        return;
    es->base = rbp - BF_NATIVE_ESTACK_BELOW;
    es->bytes = bf_estack;
    struct iovec l = {bf_estack, BF_NATIVE_ESTACK_COPY};
    struct iovec r = {(void *)(uintptr_t)es->base, BF_NATIVE_ESTACK_COPY};
    ssize_t got = process_vm_readv(g.pid, &l, 1, &r, 1, 0);
    if (got < 0) { /* the stack's end is near: up to the page boundary past rbp */
        l.iov_len = r.iov_len = BF_NATIVE_ESTACK_BELOW + 4096 - (rbp & 4095);
        got = process_vm_readv(g.pid, &l, 1, &r, 1, 0);
    }
    es->len = got > 0 ? (size_t)got : 0;
}

/* C frames by DWARF on the stack copy (libunwind, reading the copy and, for anything
 * else, the stopped target), up to the first return address into JIT code. Runs while
 * the thread is stopped: the rbp it unwinds to names the Erlang frame on the process
 * stack, which is copied before the thread moves on. */
static void bf_unwind_c(bf_native *n, bf_thread *t, bf_sample *sm)
{
    if (!t->upt)
        t->upt = _UPT_create(t->tid);
    bf_unw_ctx ctx = {t->upt, &sm->snap, &sm->regs};
    unw_cursor_t cur;
    if (!ctx.upt || unw_init_remote(&cur, n->as, &ctx) != 0)
        return;
    do {
        unw_word_t ip, sp, bp;
        unw_get_reg(&cur, UNW_REG_IP, &ip);
        if (sm->np && bf_is_jit(n, ip)) {
            unw_get_reg(&cur, UNW_REG_SP, &sp);
            unw_get_reg(&cur, UNW_X86_64_RBP, &bp);
            sm->into_jit = 1;
            sm->jit_ip = ip;
            sm->jit_sp = sp;
            sm->jit_bp = bp;
            if (bp < sm->snap.base || bp - sm->snap.base >= sm->snap.len)
                bf_copy_estack(&sm->esnap, bp);
            return;
        }
        sm->pcs[sm->np++] = ip;
    } while (sm->np < BF_NATIVE_MAX_FRAMES && unw_step(&cur) > 0);
}

/* Whether the frame-pointer chain from rbp leaves the stack copy before its end (a saved
 * rbp of 0, or one that does not go up): the copy then misses frames. Reads the copy only. */
static int bf_chain_leaves(const bf_stack_snap *snap, uint64_t rbp)
{
    for (int i = 0; i < BF_NATIVE_MAX_FRAMES; i++) {
        uint64_t up, ret;
        if (bf_snap_word(snap, rbp, &up) != 0 || bf_snap_word(snap, rbp + 8, &ret) != 0)
            return rbp >= snap->base; /* past the copy's end (above it: not ours to judge) */
        if (up == 0 || up <= rbp)
            return 0;
        rbp = up;
    }
    return 0;
}

/* Stops the thread, takes what the walk needs, lets it go. 0 or -1 (not stopped). */
static int bf_capture(bf_native *n, bf_thread *t, bf_sample *sm, uint8_t *stack)
{
    if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) != 0)
        return -1;
    int status = 0;
    long long asked = bf_now_us(), deadline = asked + BF_NATIVE_STOP_WAIT_MS * 1000LL;
    for (;;) {
        pid_t w = waitpid(t->tid, &status, __WALL | WNOHANG);
        if (w == t->tid)
            break;
        if (w < 0 && errno != EINTR)
            return -1;
        long long now = bf_now_us(), left = deadline - now;
        if (left <= 0)
            return -1; /* still running (it will stop later; the next CONT resumes it) */
        /* The first BF_NATIVE_SPIN_US asking again: a stop takes ~6 us then, against
         * ~18 us sleeping until it (this CPU idles and must be woken; measured at 999 Hz
         * with bench/stop_floor: the stopped thread keeps 0.975 of its speed against
         * 0.94). Then woken by the stop itself (a tracee's stop sends us SIGCHLD, blocked
         * and waited for here): polling with a short sleep held each thread ~100 us
         * longer than its stop, the sleep's timer slack included. On one CPU asking
         * again would only keep the thread from stopping: no spin there. */
        if (now - asked < n->spin_us)
            continue;
        struct timespec ts = {(time_t)(left / 1000000), (long)(left % 1000000) * 1000};
        sigtimedwait(&bf_chld, NULL, &ts);
    }
    if (!WIFSTOPPED(status))
        return -1; /* exited */
    long long stopped = bf_now_us();
    int ok = ptrace(PTRACE_GETREGS, t->tid, 0, &sm->regs) == 0;
    if (ok) {
        uint64_t rsp = sm->regs.rsp;
        struct iovec l[1] = {{stack, BF_NATIVE_STACK_FIRST}};
        struct iovec r[1] = {{(void *)(uintptr_t)rsp, BF_NATIVE_STACK_FIRST}};
        ssize_t got = process_vm_readv(g.pid, l, 1, r, 1, 0);
        if (got < 0) { /* near the stack's end: take what is there, page by page */
            got = 0;
            size_t page = 4096 - (rsp & 4095);
            l[0].iov_len = r[0].iov_len = page;
            ssize_t g1 = process_vm_readv(g.pid, l, 1, r, 1, 0);
            if (g1 > 0)
                got = g1;
        }
        sm->snap = (bf_stack_snap){rsp, stack, (size_t)got};
        struct iovec lc = {sm->code, 4}, rc = {(void *)(uintptr_t)sm->regs.rip, 4};
        if (process_vm_readv(g.pid, &lc, 1, &rc, 1, 0) != 4)
            memset(sm->code, 0x90, 4);
        sm->pc_in_jit = bf_is_jit(n, sm->regs.rip);
        if (sm->pc_in_jit && n->frame_pointers && got == BF_NATIVE_STACK_FIRST &&
            bf_chain_leaves(&sm->snap, sm->regs.rbp)) {
            /* a deep Erlang stack: the rest, up to the most a sample copies */
            struct iovec l2 = {stack + got, BF_NATIVE_STACK_COPY - (size_t)got};
            struct iovec r2 = {(void *)(uintptr_t)(rsp + (uint64_t)got), l2.iov_len};
            ssize_t more = process_vm_readv(g.pid, &l2, 1, &r2, 1, 0);
            if (more > 0)
                sm->snap.len += (size_t)more;
        }
        if (!sm->pc_in_jit)
            bf_unwind_c(n, t, sm);
    }
    /* a signal-delivery stop passes its signal on; a PTRACE_INTERRUPT stop has none */
    int sig = (status >> 16) == PTRACE_EVENT_STOP ? 0 : WSTOPSIG(status);
    ptrace(PTRACE_CONT, t->tid, 0, (void *)(uintptr_t)sig);
    long long held = bf_now_us() - stopped;
    n->stopped_us += (uint64_t)held;
    n->held_hist[held < BF_NATIVE_HELD_BUCKETS - 1 ? held : BF_NATIVE_HELD_BUCKETS - 1]++;
    if ((uint64_t)held > n->stopped_us_max)
        n->stopped_us_max = (uint64_t)held;
    n->stop_wait_us += (uint64_t)(stopped - asked);
    return ok ? 0 : -1;
}

/* BF_NATIVE_SNAPSHOT=FILE: writes the first complete Erlang walk's input (registers, the
 * bytes at the pc, the stack from rsp to the process's first frame, the perf map entries
 * of its frames) as text, for c_src/tests/test_jitwalk.c's recorded snapshots. */
static void bf_dump_snapshot(bf_native *n, const bf_sample *sm)
{
    const char *path = n->snapshot_path;
    uint64_t last_fp = sm->regs.rbp, up;
    while (bf_snap_word(&sm->snap, last_fp, &up) == 0 && up > last_fp)
        last_fp = up; /* the frame whose saved rbp is 0 */
    size_t len = (size_t)(last_fp + 16 - sm->snap.base);
    if (len > sm->snap.len)
        return;
    n->snapshot_path = NULL; /* one snapshot */
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f, "pc %llx sp %llx fp %llx code %02x%02x%02x%02x\n",
            (unsigned long long)sm->regs.rip, (unsigned long long)sm->regs.rsp,
            (unsigned long long)sm->regs.rbp, sm->code[0], sm->code[1], sm->code[2], sm->code[3]);
    uint64_t seen[BF_NATIVE_MAX_FRAMES];
    size_t nseen = 0;
    for (size_t k = 0; k < sm->np; k++) {
        uint64_t start = 0, pc = k ? sm->pcs[k] - 1 : sm->pcs[k];
        const char *name = bf_perfmap_lookup(n->pm, pc, &start);
        size_t j = 0;
        while (j < nseen && seen[j] != start)
            j++;
        if (!name || j < nseen)
            continue;
        seen[nseen++] = start;
    }
    FILE *pm = fopen(n->pm_path, "r"); /* the perf map's own lines for those entries */
    char line[1024];
    while (pm && fgets(line, sizeof(line), pm)) {
        unsigned long long a = strtoull(line, NULL, 16);
        for (size_t j = 0; j < nseen; j++)
            if (seen[j] == a)
                fprintf(f, "map %s", line);
    }
    if (pm)
        fclose(pm);
    fprintf(f, "stack %llx %zu\n", (unsigned long long)sm->snap.base, len);
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x%s", sm->snap.bytes[i], (i + 1) % 32 == 0 || i + 1 == len ? "\n" : "");
    fclose(f);
}

static void bf_sample_thread(bf_native *n, bf_thread *t, uint8_t *stack)
{
    static bf_sample sm;
    int sleeping = bf_thread_sleeping(n, t->tid);
    if (sleeping && !n->idle)
        return;
    /* Asleep in the same system call as at its last sample (same arguments, same stack
     * pointer and pc): the same wait, whose stack that sample has. Counted again without
     * stopping the thread: an idle scheduler is no longer stopped (and woken) every tick. */
    char sys[sizeof(t->sys)];
    size_t syslen = sleeping ? bf_thread_syscall(n, t->tid, sys, sizeof(sys)) : 0;
    if (syslen && syslen == t->syslen && !memcmp(sys, t->sys, syslen) &&
        bf_st_add_weight(n->st, t->sys_stack, 1) == BF_ST_OK) {
        n->samples++;
        n->idle_samples++;
        n->idle_reused++;
        n->jit_samples += t->sys_jit;
        n->erlang_samples += t->sys_erlang;
        n->complete_chains += t->sys_complete;
        return;
    }
    t->syslen = 0;
    sm.np = 0;
    sm.into_jit = 0;
    sm.esnap.len = 0;
    if (bf_capture(n, t, &sm, stack) != 0) {
        n->not_stopped++;
        return;
    }
    /* the thread runs again: walk the Erlang frames on the copies */
    uint64_t exit_ret;
    int jit = 0, bottom = 0;
    /* without frame pointers (no +JPperf) there is no chain: the innermost JIT frame only */
    if (sm.pc_in_jit) {
        if (n->frame_pointers)
            sm.np = bf_jit_walk(&sm.snap, sm.regs.rip, sm.regs.rsp, sm.regs.rbp, sm.code, 4,
                                bf_is_jit, n, sm.pcs, BF_NATIVE_MAX_FRAMES, &exit_ret, &bottom);
        else
            sm.pcs[sm.np++] = sm.regs.rip;
        jit = 1;
    } else if (sm.into_jit && sm.np < BF_NATIVE_MAX_FRAMES) {
        /* the JIT code that called C has a frame at rbp (glue such as call_bif_shared
         * pushes one too), so its caller is at [rbp+8] */
        const bf_stack_snap *es = sm.esnap.len ? &sm.esnap : &sm.snap;
        if (n->frame_pointers)
            sm.np += bf_jit_walk(es, sm.jit_ip, sm.jit_sp, sm.jit_bp, NULL, 0, bf_is_jit, n,
                                 sm.pcs + sm.np, BF_NATIVE_MAX_FRAMES - sm.np, &exit_ret,
                                 &bottom);
        else
            sm.pcs[sm.np++] = sm.jit_ip;
        jit = 1;
    }
    if (n->snapshot_path && bottom && sm.np > 8 && sm.pc_in_jit)
        bf_dump_snapshot(n, &sm);
    const uint64_t *pcs = sm.pcs;
    size_t np = sm.np;
    /* root first: thread name, then outermost to innermost */
    uint32_t ids[BF_NATIVE_MAX_FRAMES + 2];
    size_t d = 0;
    int64_t id = bf_st_intern(n->st, t->name, strlen(t->name));
    if (id < 0)
        return;
    ids[d++] = (uint32_t)id;
    if (np == BF_NATIVE_MAX_FRAMES) { /* the root side may be missing: say so */
        id = bf_st_intern(n->st, BF_ST_TRUNCATED_FRAME, sizeof(BF_ST_TRUNCATED_FRAME) - 1);
        if (id >= 0)
            ids[d++] = (uint32_t)id;
        n->truncated++;
    }
    if (sleeping) {
        id = bf_st_intern(n->st, "[idle]", 6);
        if (id >= 0)
            ids[d++] = (uint32_t)id;
        n->idle_samples++;
    }
    int erlang = 0;
    for (size_t k = np; k > 0; k--) {
        char name[512];
        uint64_t pc = pcs[k - 1];
        if (bf_name_pc(&n->nm, k - 1 == 0 ? pc : pc - 1, name, sizeof(name)) &&
            !strstr(name, "::"))
            erlang = 1; /* an Erlang function, not JIT glue (`global::...`) */
        id = bf_st_intern(n->st, name, strlen(name));
        if (id < 0)
            return;
        ids[d++] = (uint32_t)id;
    }
    uint32_t sid;
    int added = bf_st_add(n->st, ids, d, 1, &sid) == BF_ST_OK;
    n->samples++;
    n->jit_samples += jit;
    n->erlang_samples += erlang;
    n->complete_chains += bottom && erlang;
    if (syslen && added) {
        memcpy(t->sys, sys, syslen);
        t->syslen = syslen;
        t->sys_stack = sid;
        t->sys_jit = jit;
        t->sys_erlang = erlang;
        t->sys_complete = bottom && erlang;
    }
}

/* --- attach, loop, detach ---------------------------------------------------------------- */

static void bf_detach_all(bf_native *n)
{
    for (size_t i = 0; i < n->nth; i++) {
        if (n->th[i].upt) {
            _UPT_destroy(n->th[i].upt);
            n->th[i].upt = NULL;
        }
        if (n->th[i].seized) {
            ptrace(PTRACE_DETACH, n->th[i].tid, 0, 0);
            n->th[i].seized = 0;
        }
    }
}

/* Which rule refused PTRACE_SEIZE on tid, said with its fix. */
static void bf_ptrace_refused(const bf_native *n, pid_t tid, char *err, size_t errlen)
{
    char path[96], text[4096];
    bf_ptrace_facts f = {-1, (long)geteuid(), -1, 0, 0};
    bf_read_small("/proc/sys/kernel/yama/ptrace_scope", text, sizeof(text));
    if (text[0])
        f.yama_scope = atoi(text);
    bf_read_small("/proc/self/status", text, sizeof(text));
    f.cap_sys_ptrace = bf_proc_status_cap_ptrace(text);
    snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)n->pid, (int)tid);
    bf_read_small(path, text, sizeof(text));
    if (bf_proc_status_ids(text, &f.their_uid, &f.tracer_pid) != 0)
        f.their_uid = f.our_uid;
    bf_ptrace_why(&f, (long)n->pid, err, errlen);
}

static int bf_attach_all(bf_native *n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n->nth; i++) {
        if (ptrace(PTRACE_SEIZE, n->th[i].tid, 0, 0) == 0) {
            n->th[i].seized = 1;
            continue;
        }
        int e = errno;
        bf_detach_all(n);
        if (e == EPERM)
            bf_ptrace_refused(n, n->th[i].tid, err, errlen);
        else
            snprintf(err, errlen, "cannot ptrace thread %d: %s", (int)n->th[i].tid,
                     strerror(e));
        return e == EPERM ? BF_NAT_PTRACE : BF_NAT_FAIL;
    }
    return BF_NAT_OK;
}

/* --- what the node can give ----------------------------------------------------------- */

static int bf_read_target(uint64_t addr, void *out, size_t len)
{
    struct iovec l = {out, len}, r = {(void *)(uintptr_t)addr, len};
    return process_vm_readv(g.pid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -1;
}

/* Names for JIT code from the JIT's debugger list (`__jit_debug_descriptor`), which
 * beam.smp fills with or without +JPperf. Read once, without stopping anything: the
 * list is changed under a lock we cannot take, so every entry is bounds-checked and a
 * torn read only loses names. */
/* The first entry of the list, proven: its prev is null and its symbol file is one of
 * OTP's records. */
static int bf_jit_entry_ok(uint64_t entry)
{
    uint64_t e[4]; /* next, prev, symfile address, symfile size */
    uint8_t head[32];
    int fl;
    return bf_read_target(entry, e, sizeof(e)) == 0 && e[1] == 0 && e[2] && e[3] >= 8 &&
           e[3] <= (1u << 20) &&
           bf_read_target(e[2], head, e[3] < sizeof(head) ? (size_t)e[3] : sizeof(head)) == 0 &&
           bf_gdbjit_kind(head, e[3] < sizeof(head) ? (size_t)e[3] : sizeof(head), &fl) >= 0;
}

/* Where beam.smp does not export `__jit_debug_descriptor` (Debian's OTP 29), it is found
 * in beam.smp's writable data (its rw mappings and the anonymous .bss right after them) by
 * its shape, each candidate proven by its first entry. 0 and *desc set, or -1. */
static int bf_scan_jit_descriptor(bf_native *n, uint64_t *desc)
{
    static uint8_t buf[1 << 20];
    int after_beam = 0;
    size_t scanned = 0;
    for (size_t i = 0; i < n->nmaps && scanned < BF_NATIVE_MAX_SCAN; i++) {
        const bf_map *m = &n->maps[i];
        int beam = strstr(m->path, "/beam.smp") != NULL;
        int bss = after_beam && !m->path[0] && m->start == n->maps[i - 1].end;
        after_beam = beam || bss;
        if (!m->write || m->exec || !(beam || bss))
            continue;
        /* chunks overlap by a descriptor's size, so none is cut in two */
        for (uint64_t a = m->start; a < m->end && scanned < BF_NATIVE_MAX_SCAN;
             a += sizeof(buf) - 24) {
            size_t len = m->end - a < sizeof(buf) ? (size_t)(m->end - a) : sizeof(buf);
            if (bf_read_target(a, buf, len) != 0)
                break;
            scanned += len;
            uint64_t first;
            for (long off = bf_jit_descriptor_candidate(buf, len, 0, &first); off >= 0;
                 off = bf_jit_descriptor_candidate(buf, len, (size_t)off + 8, &first))
                if (bf_jit_entry_ok(first)) {
                    *desc = a + (uint64_t)off;
                    return 0;
                }
            if (len < sizeof(buf))
                break;
        }
    }
    return -1;
}

static int bf_jit_seen_cmp(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] != y[1] ? (x[1] < y[1] ? -1 : 1) : 0;
}

/* Walks the debugger list from its first entry and feeds the symbol files not fed yet
 * (all of them the first time). The list changes under a lock we cannot take: a first
 * entry that does not prove itself (caught mid-update) is -1, a walk cut short by a torn
 * entry feeds what it got and is walked again at the next miss. Returns the number of
 * files fed, or -1. */
static int bf_gdbjit_walk(bf_native *n)
{
    static uint8_t sym[1 << 20];
    static uint64_t files[BF_NATIVE_MAX_JIT_MODULES][2]; /* symbol file address, size */
    uint64_t entry;
    n->jit_read_us = bf_now_us();
    if (bf_read_target(n->jit_desc + 16, &entry, 8) != 0 || !bf_jit_entry_ok(entry))
        return -1;
    uint64_t head = entry;
    size_t nfiles = 0, walked = 0;
    int complete = 0;
    while (walked++ < BF_NATIVE_MAX_JIT_MODULES) {
        uint64_t e[4]; /* next, prev, symfile address, symfile size */
        if (bf_read_target(entry, e, sizeof(e)) != 0)
            break;
        uint64_t key[2] = {e[2], e[3]};
        if (!bsearch(key, n->jit_seen, n->njit_seen, sizeof(key), bf_jit_seen_cmp)) {
            files[nfiles][0] = e[2];
            files[nfiles++][1] = e[3];
        }
        if (!e[0]) {
            complete = 1;
            break;
        }
        entry = e[0];
    }
    if (n->njit_seen + nfiles > n->jit_seen_cap) {
        size_t cap = (n->njit_seen + nfiles) * 2;
        void *grown = realloc(n->jit_seen, cap * sizeof(*n->jit_seen));
        if (!grown)
            return -1;
        n->jit_seen = grown;
        n->jit_seen_cap = cap;
    }
    /* the list starts with the newest module: feed it last, so that where an address
     * was reused (a module reloaded, old code not yet gone) the newest name wins */
    int fed = 0;
    for (size_t i = nfiles; i > 0; i--) {
        uint64_t addr = files[i - 1][0], size = files[i - 1][1];
        if (size == 0 || size > sizeof(sym) || bf_read_target(addr, sym, (size_t)size) != 0)
            continue; /* unreadable now (torn, or freed): tried again at the next walk */
        int fl;
        if (bf_gdbjit_kind(sym, (size_t)size, &fl) == BF_GDBJIT_EMULATOR)
            n->jit_layout = fl == 1;
        else if (bf_gdbjit_module(n->pm, sym, (size_t)size) > 0)
            n->gdb_modules++;
        n->jit_seen[n->njit_seen][0] = addr;
        n->jit_seen[n->njit_seen++][1] = size;
        fed++;
    }
    if (fed)
        qsort(n->jit_seen, n->njit_seen, sizeof(*n->jit_seen), bf_jit_seen_cmp);
    n->jit_head = head;
    n->jit_complete = complete;
    n->have_gdbjit = bf_perfmap_count(n->pm) > 0;
    return fed;
}

/* A miss in JIT memory without a perf map: modules loaded since the last walk, or a walk
 * that a change of the list cut short. At most every BF_NATIVE_GDBJIT_REREAD_MS, and only
 * when the list's first entry moved or the last walk was incomplete (one 8-byte read). */
static int bf_reread_gdbjit(void *ctx)
{
    bf_native *n = ctx;
    uint64_t head;
    if (bf_now_us() - n->jit_read_us < BF_NATIVE_GDBJIT_REREAD_MS * 1000LL)
        return -1;
    if (n->jit_complete && bf_read_target(n->jit_desc + 16, &head, 8) == 0 &&
        head == n->jit_head) {
        n->jit_read_us = bf_now_us();
        return -1;
    }
    return bf_gdbjit_walk(n) > 0 ? 0 : -1;
}

/* Finds the debugger list and feeds it; a first entry caught mid-update is tried again
 * a few times (a node loading code as the run starts: the Elixir test's own VM). */
static void bf_read_gdbjit(bf_native *n)
{
    uint64_t desc;
    for (int attempt = 0; attempt < BF_NATIVE_GDBJIT_TRIES; attempt++) {
        if (attempt) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
        if (!n->jit_desc) {
            if (n->beam && bf_elfsym_object(n->beam, "__jit_debug_descriptor", &desc) == 0)
                n->jit_desc = n->beam_bias + desc;
            else if (bf_scan_jit_descriptor(n, &desc) == 0)
                n->jit_desc = desc;
            else
                continue;
        }
        if (bf_gdbjit_walk(n) >= 0)
            return;
    }
}

/* The +JPperf flags the emulator was started with (bf_beamproc.h). */
static int bf_cmdline_fp(pid_t pid)
{
    static char args[BF_NATIVE_CMDLINE_MAX];
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t len = fread(args, 1, sizeof(args), f);
    fclose(f);
    return bf_cmdline_frame_pointers(args, len);
}

/* Whether /tmp/perf-PID.map is older than the process: then it is another's, a process
 * that had this pid before (a node started with +JPperf map leaves its map behind), and
 * its names would be wrong. 0 when there is no file or nothing to judge by. */
static int bf_perfmap_stale(const bf_native *n)
{
    struct stat sb;
    char path[64], text[1024];
    unsigned long long ticks;
    if (stat(n->pm_path, &sb) != 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)n->pid);
    bf_read_small(path, text, sizeof(text));
    long hz = sysconf(_SC_CLK_TCK);
    struct timespec boot, real;
    if (bf_proc_stat_starttime(text, &ticks) != 0 || hz <= 0 ||
        clock_gettime(CLOCK_BOOTTIME, &boot) != 0 || clock_gettime(CLOCK_REALTIME, &real) != 0)
        return 0;
    double age = (double)boot.tv_sec + boot.tv_nsec * 1e-9 - (double)ticks / (double)hz;
    double started = (double)real.tv_sec + real.tv_nsec * 1e-9 - age;
    double written = (double)sb.st_mtim.tv_sec + sb.st_mtim.tv_nsec * 1e-9;
    return written < started - 0.05; /* stat's start time counts in clock ticks */
}

/* Whether JIT code keeps frame pointers (1 with +JPperf map|true, 26+ also fp), read from
 * erts_frame_layout where beam.smp exports it (25, 27), else from the debugger list's
 * emulator record, else from the emulator's arguments (29); then the perf map, else the
 * debugger list for names. */
static void bf_check_node(bf_native *n)
{
    uint64_t addr;
    int32_t layout = 0;
    n->jit_layout = -1;
    snprintf(n->pm_path, sizeof(n->pm_path), "/tmp/perf-%d.map", (int)n->pid);
    /* a map older than the process is ignored (bf_perfmap_stale) */
    n->have_perfmap = !bf_perfmap_stale(n) &&
                      bf_perfmap_read_file(n->pm, n->pm_path, &n->pm_offset) == 0 &&
                      bf_perfmap_count(n->pm) > 0;
    if (!n->have_perfmap)
        bf_read_gdbjit(n);
    bf_update_namer(n);
    if (n->beam && bf_elfsym_object(n->beam, "erts_frame_layout", &addr) == 0 &&
        bf_read_target(n->beam_bias + addr, &layout, sizeof(layout)) == 0) {
        n->frame_pointers = layout == 1;
        n->layout_from = "symbol";
    } else if (n->jit_layout >= 0) {
        n->frame_pointers = n->jit_layout;
        n->layout_from = "debugger_list";
    } else {
        n->frame_pointers = bf_cmdline_fp(n->pid);
        n->layout_from = "cmdline";
    }
}

/* Port mode: the node sends one packet once it has allowed us to ptrace it
 * (prctl(PR_SET_PTRACER) where Yama asks for it). 0, or -1 on EOF. */
static int bf_wait_go(void)
{
    unsigned char hdr[4], body[64];
    if (read(0, hdr, 4) != 4)
        return -1;
    size_t len = bf_packet_len(hdr);
    while (len > 0) {
        ssize_t r = read(0, body, len < sizeof(body) ? len : sizeof(body));
        if (r <= 0)
            return -1;
        len -= (size_t)r;
    }
    return 0;
}

/* Port mode: 1 when stdin has data or EOF (the node wants us to stop). */
static int bf_port_says_stop(void)
{
    struct pollfd p = {0, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
}

static void bf_run(bf_native *n)
{
    uint8_t *stack = malloc(BF_NATIVE_STACK_COPY);
    if (!stack)
        return;
    long long interval = 1000000LL / n->rate, start = bf_now_us();
    long long end = start + (long long)n->duration_ms * 1000, next = start;
    unsigned seed = (unsigned)getpid();
    while (!bf_stop_flag && bf_now_us() < end && !(n->port && bf_port_says_stop())) {
        for (size_t i = 0; i < n->nth; i++)
            bf_sample_thread(n, &n->th[i], stack);
        long long now = bf_now_us();
        next += interval;
        if (now > next) { /* cannot keep up: skip the ticks we missed, count them */
            long long behind = (now - next) / interval + 1;
            n->missed_ticks += (uint64_t)behind;
            next += behind * interval;
        }
        long long jitter = (long long)(rand_r(&seed) % (interval / 2 + 1)) - interval / 4;
        long long wait = next + jitter - now;
        if (wait > 0) {
            struct timespec ts = {wait / 1000000, (wait % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
    }
    free(stack);
}

/* --- output ------------------------------------------------------------------------------- */

static char *bf_folded_text(bf_native *n, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        return NULL;
    bf_buf out;
    bf_buf_init(&out, f);
    bf_folded_write(n->st, &out);
    bf_buf_flush(&out);
    bf_buf_free(&out);
    fclose(f);
    return text;
}

static const char *bf_native_capability(const bf_native *n)
{
    return bf_capability(n->have_perfmap, n->have_gdbjit, n->frame_pointers);
}

/* The median time a thread was held stopped, in microseconds (0 without samples). */
static uint64_t bf_held_median(const bf_native *n)
{
    uint64_t total = 0, seen = 0;
    for (size_t i = 0; i < BF_NATIVE_HELD_BUCKETS; i++)
        total += n->held_hist[i];
    for (size_t i = 0; i < BF_NATIVE_HELD_BUCKETS; i++) {
        seen += n->held_hist[i];
        if (total && seen * 2 >= total)
            return i;
    }
    return 0;
}

static int bf_write_packet(const char *buf, size_t len)
{
    unsigned char hdr[4];
    bf_packet_header(len, hdr);
    if (write(1, hdr, 4) != 4)
        return -1;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(1, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

static void bf_port_reply(bf_native *n, int rc, const char *err)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    if (rc != BF_NAT_OK) {
        bf_nport_encode_error(&x, rc == BF_NAT_PTRACE   ? BF_NPORT_PTRACE
                                  : rc == BF_NAT_NOPROC ? BF_NPORT_NOPROC
                                                        : BF_NPORT_FAILED,
                              err);
    } else {
        size_t len = 0;
        char *text = bf_folded_text(n, &len);
        bf_native_info info = {
            .jit_names = n->have_perfmap ? "perf_map" : n->have_gdbjit ? "debugger_list" : "none",
            .frame_pointers = n->frame_pointers,
            .frame_layout_from = n->layout_from,
            .debug_symbols = n->debug_symbols,
            .erlang_samples = n->erlang_samples,
            .complete_chains = n->complete_chains,
            .stopped_us = n->stopped_us,
            .stopped_us_max = n->stopped_us_max,
            .stopped_us_median = bf_held_median(n),
            .stop_wait_us = n->stop_wait_us,
            .samples = n->samples,
            .threads = n->nth,
            .missed_ticks = n->missed_ticks,
            .not_stopped = n->not_stopped,
            .jit_samples = n->jit_samples,
            .truncated_stacks = n->truncated,
            .idle_samples = n->idle_samples,
            .idle_reused = n->idle_reused,
            .capability = bf_native_capability(n)};
        if (bf_nport_encode_ok(&x, text, len, &info) != 0) {
            ei_x_free(&x);
            ei_x_new_with_version(&x);
            bf_nport_encode_error(&x, BF_NPORT_FAILED, "out of memory");
        }
        free(text);
    }
    bf_write_packet(x.buff, (size_t)x.index);
    ei_x_free(&x);
}

static int bf_usage(const char *why)
{
    fprintf(stderr,
            "beamflame_native: %s\n"
            "usage: beamflame_native --pid PID [--rate HZ] [--duration MS] [--dirty] "
            "[--no-idle] [--port]\n"
            "  samples the scheduler threads of the BEAM node PID (C and JIT frames in one "
            "stack)\n"
            "  and prints folded stacks (--port: one {packet,4} ei-encoded result)\n",
            why);
    return BF_NAT_USAGE;
}

int main(int argc, char **argv)
{
    bf_native *n = &g;
    bf_nargs args;
    char why[256];
    if (bf_nargs_parse(argc, argv, &args, why, sizeof(why)) != 0)
        return bf_usage(why);
    n->pid = (pid_t)args.pid;
    n->rate = args.rate;
    n->duration_ms = args.duration_ms;
    n->dirty = args.dirty;
    n->idle = args.idle;
    n->port = args.port;
    n->spin_us = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? BF_NATIVE_SPIN_US : 0;
    n->snapshot_path = getenv("BF_NATIVE_SNAPSHOT");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bf_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&bf_chld);
    sigaddset(&bf_chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &bf_chld, NULL);

    char err[256] = "";
    int rc = BF_NAT_OK;
    bf_st_caps caps;
    bf_st_default_caps(&caps);
    n->st = bf_st_new(&caps);
    n->pm = bf_perfmap_new();
    n->as = unw_create_addr_space(&bf_accessors, 0);
    if (!n->st || !n->pm || !n->as) {
        snprintf(err, sizeof(err), "out of memory");
        rc = BF_NAT_FAIL;
        goto done;
    }
    unw_set_caching_policy(n->as, UNW_CACHE_GLOBAL);
    if (bf_read_maps(n) != 0 || bf_find_threads(n) != 0) {
        snprintf(err, sizeof(err), "no process %d (or /proc is not readable)", (int)n->pid);
        rc = BF_NAT_NOPROC;
        goto done;
    }
    if (n->nth == 0) {
        snprintf(err, sizeof(err), "process %d has no scheduler threads: is it a BEAM node?",
                 (int)n->pid);
        rc = BF_NAT_NOPROC;
        goto done;
    }
    if (n->port && bf_wait_go() != 0) { /* the node closed the port before saying go */
        rc = BF_NAT_FAIL;
        snprintf(err, sizeof(err), "the node closed the port");
        goto done;
    }
    bf_check_node(n);
    rc = bf_attach_all(n, err, sizeof(err));
    if (rc != BF_NAT_OK)
        goto done;
    bf_run(n);
    bf_detach_all(n);
done:
    bf_detach_all(n);
    if (n->port) {
        bf_port_reply(n, rc, err);
    } else if (rc == BF_NAT_OK) {
        size_t len = 0;
        char *text = bf_folded_text(n, &len);
        if (text)
            fwrite(text, 1, len, stdout);
        free(text);
        fprintf(stderr, "beamflame_native: %llu samples from %zu threads, %llu with JIT frames, "
                        "%llu with Erlang functions (%llu complete chains), %llu cut at %d frames, %llu missed ticks; "
                        "threads held stopped %.1f us on average (median %llu us, max %llu us); %s\n",
                (unsigned long long)n->samples, n->nth, (unsigned long long)n->jit_samples,
                (unsigned long long)n->erlang_samples, (unsigned long long)n->complete_chains, (unsigned long long)n->truncated,
                BF_NATIVE_MAX_FRAMES, (unsigned long long)n->missed_ticks,
                n->samples ? (double)n->stopped_us / (double)n->samples : 0.0,
                (unsigned long long)bf_held_median(n), (unsigned long long)n->stopped_us_max,
                bf_native_capability(n));
    } else {
        fprintf(stderr, "beamflame_native: %s\n", err);
    }
    if (n->as)
        unw_destroy_addr_space(n->as);
    bf_perfmap_free(n->pm);
    bf_elfsym_free(n->beam);
    bf_st_free(n->st);
    return rc;
}
