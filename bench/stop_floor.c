/* The floor of any sampler that stops threads: for a node's OS pid, at a rate for a
 * duration, each thread found running (state R in /proc) is interrupted, waited for and
 * continued, reading nothing. bench/native_overhead.erl measures the node's throughput
 * under it beside native mode's: what is left between them is native mode's own work.
 *
 *   stop_floor PID HZ MS
 *
 * Threads are seized at start (threads started later are left alone) and detached at the
 * end; were this program killed, the kernel would detach them. A signal that arrives
 * while a thread is being stopped is passed on.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 512

static pid_t threads[MAX_THREADS];
static int nthreads;

static char state_of(pid_t pid, pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close = strrchr(buf, ')');   /* the name may hold spaces and parentheses */
    return close && close[1] == ' ' ? close[2] : '?';
}

static long long now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* Waits for the interrupt's stop as native mode does (asking again for the first 50 us,
 * then sleeping until SIGCHLD); a signal arriving meanwhile is passed on (a
 * signal-delivery stop is continued with its signal, and the interrupt's stop follows). */
static int wait_stop(pid_t tid, const sigset_t *chld)
{
    long long asked = now_us();
    for (int tries = 0; tries < 1000;) {
        int status;
        pid_t r = waitpid(tid, &status, __WALL | WNOHANG);
        if (r < 0 || (r == tid && !WIFSTOPPED(status)))
            return -1;                         /* gone */
        if (r == tid && status >> 16 == PTRACE_EVENT_STOP)
            return 0;
        if (r == tid) {
            ptrace(PTRACE_CONT, tid, 0, (void *)(long)WSTOPSIG(status));
            continue;
        }
        if (now_us() - asked < 50)
            continue;
        tries++;
        struct timespec to = {0, 1000000};
        siginfo_t si;
        (void)sigtimedwait(chld, &si, &to);
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: stop_floor PID HZ MS\n");
        return 2;
    }
    pid_t pid = (pid_t)atoi(argv[1]);
    long hz = atol(argv[2]), ms = atol(argv[3]);
    if (pid <= 0 || hz <= 0 || hz > 10000 || ms <= 0) {
        fprintf(stderr, "stop_floor: bad arguments\n");
        return 2;
    }
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "stop_floor: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    for (struct dirent *e; (e = readdir(d)) && nthreads < MAX_THREADS;) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid > 0 && ptrace(PTRACE_SEIZE, tid, 0, 0) == 0)
            threads[nthreads++] = tid;
    }
    closedir(d);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);

    long period = 1000000000L / hz, ticks = hz * ms / 1000, stops = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long k = 0; k < ticks; k++) {
        next.tv_nsec += period;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        for (int i = 0; i < nthreads; i++) {
            if (state_of(pid, threads[i]) != 'R')
                continue;
            if (ptrace(PTRACE_INTERRUPT, threads[i], 0, 0) != 0)
                continue;
            if (wait_stop(threads[i], &chld) == 0) {
                stops++;
                ptrace(PTRACE_CONT, threads[i], 0, 0);
            }
        }
    }
    for (int i = 0; i < nthreads; i++)   /* a seized thread is detached from a stop */
        if (ptrace(PTRACE_INTERRUPT, threads[i], 0, 0) == 0 && wait_stop(threads[i], &chld) == 0)
            ptrace(PTRACE_DETACH, threads[i], 0, 0);
    printf("stops=%ld threads=%d\n", stops, nthreads);
    return 0;
}
