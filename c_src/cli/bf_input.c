/* bf_input: folded inputs into stack tables. See bf_input.h. */
#include "bf_input.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bf_cli_args.h"

#define BF_READ_CHUNK (1u << 20) /* bytes per read(2) */
#define BF_MAP_WINDOW (4u << 20) /* bytes mapped at a time (a multiple of the page size) */

/* A mapped file cut short by another process faults (SIGBUS) on the pages it lost: the
 * part that touched them stops with an error instead. The handler is installed for the
 * whole read; each thread jumps back to its own part. */
static _Thread_local sigjmp_buf bf_map_jmp;

static void bf_map_fault(int sig)
{
    (void)sig;
    siglongjmp(bf_map_jmp, 1);
}

/* One part of a file, [from, to), read into its own reader. */
typedef struct bf_part {
    int fd;
    uint64_t from, to;
    bf_folded_reader r;
    int rc;   /* BF_EXIT_OK, BF_EXIT_IO or BF_EXIT_NOMEM */
    int err;  /* errno of a failed mapping; 0 with BF_EXIT_IO: truncated */
} bf_part;

static int bf_feed_guarded(bf_folded_reader *r, const char *p, size_t n)
{
    volatile int rc = 1;
    if (sigsetjmp(bf_map_jmp, 1) == 0)
        rc = bf_folded_feed(r, p, n);
    return rc;
}

static void *bf_part_run(void *arg)
{
    bf_part *pt = arg;
    long page = sysconf(_SC_PAGESIZE);
    uint64_t off = pt->from;
    pt->rc = BF_EXIT_OK;
    while (off < pt->to) {
        uint64_t base = off - off % (uint64_t)page;
        size_t len = pt->to - base < BF_MAP_WINDOW ? (size_t)(pt->to - base) : BF_MAP_WINDOW;
        void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, pt->fd, (off_t)base);
        if (map == MAP_FAILED) {
            pt->rc = BF_EXIT_IO;
            pt->err = errno;
            return NULL;
        }
        int fed = bf_feed_guarded(&pt->r, (const char *)map + (off - base),
                                  len - (size_t)(off - base));
        munmap(map, len);
        if (fed != 0) {
            pt->rc = fed == 1 ? BF_EXIT_IO : BF_EXIT_NOMEM;
            return NULL;
        }
        off = base + len;
    }
    if (bf_folded_finish(&pt->r) != 0)
        pt->rc = BF_EXIT_NOMEM;
    return NULL;
}

/* Where the second part starts: after the first newline at or past the middle; size when
 * there is none (one part). */
static uint64_t bf_split_point(int fd, uint64_t size)
{
    char buf[64 * 1024];
    for (uint64_t off = size / 2; off < size;) {
        ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return size;
        const char *nl = memchr(buf, '\n', (size_t)n);
        if (nl)
            return off + (uint64_t)(nl - buf) + 1;
        off += (uint64_t)n;
    }
    return size;
}

/* The second part's reports after the first's, its line numbers moved past the first's. */
static void bf_report_parts(bf_input_report *rep, const bf_folded_reader *a,
                            const bf_folded_reader *b)
{
    rep->lines = a->line_no;
    rep->malformed = a->malformed;
    rep->nreported = 0;
    for (size_t i = 0; i < a->nreported; i++)
        rep->reported[rep->nreported++] = a->reported[i];
    if (!b)
        return;
    rep->lines += b->line_no;
    rep->malformed += b->malformed;
    for (size_t i = 0; i < b->nreported && rep->nreported < BF_FOLDED_MAX_REPORTED; i++) {
        rep->reported[rep->nreported] = b->reported[i];
        rep->reported[rep->nreported++].line += a->line_no;
    }
}

static int bf_part_error(const bf_part *pt, const char *name, char *err, size_t errlen)
{
    if (pt->rc == BF_EXIT_IO)
        snprintf(err, errlen, "cannot read %s: %s", name,
                 pt->err ? strerror(pt->err) : "it was truncated while being read");
    return pt->rc;
}

/* A regular file through mapped windows, in two parts at once when it is large. */
static int bf_read_mapped(int fd, uint64_t size, bf_stack_table *st, uint64_t split_min,
                          bf_input_report *rep, const char *name, char *err, size_t errlen)
{
    bf_part a = {.fd = fd, .from = 0, .to = size}, b = {.fd = fd, .to = size};
    bf_folded_reader_init(&a.r, st);
    bf_stack_table *second = NULL;
    int threaded = 0;
    if (size >= split_min && sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        uint64_t split = bf_split_point(fd, size);
        if (split < size && (second = bf_st_new(bf_st_get_caps(st)))) {
            a.to = b.from = split;
            bf_folded_reader_init(&b.r, second);
            pthread_t t;
            threaded = pthread_create(&t, NULL, bf_part_run, &b) == 0;
            if (threaded) {
                bf_part_run(&a);
                pthread_join(t, NULL);
            } else {
                bf_folded_reader_free(&b.r);
                bf_st_free(second);
                second = NULL;
                a.to = size;
            }
        }
    }
    if (!threaded)
        bf_part_run(&a);
    int rc = a.rc != BF_EXIT_OK ? bf_part_error(&a, name, err, errlen)
             : threaded         ? bf_part_error(&b, name, err, errlen)
                                : BF_EXIT_OK;
    if (rc == BF_EXIT_OK && threaded && bf_st_merge(st, second) == BF_ST_INVALID)
        rc = BF_EXIT_NOMEM;
    bf_report_parts(rep, &a.r, threaded ? &b.r : NULL);
    rep->parts = threaded ? 2 : 1;
    bf_folded_reader_free(&a.r);
    if (threaded)
        bf_folded_reader_free(&b.r);
    bf_st_free(second);
    return rc;
}

/* Anything else (a pipe, a file that cannot be mapped) in chunks. */
static int bf_read_chunks(int fd, bf_stack_table *st, bf_input_report *rep, const char *name,
                          char *err, size_t errlen)
{
    char *chunk = malloc(BF_READ_CHUNK);
    bf_folded_reader r;
    bf_folded_reader_init(&r, st);
    int rc = chunk ? BF_EXIT_OK : BF_EXIT_NOMEM;
    while (rc == BF_EXIT_OK) {
        ssize_t n = read(fd, chunk, BF_READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "cannot read %s: %s", name, strerror(errno));
            rc = BF_EXIT_IO;
        } else if (n == 0) {
            break;
        } else if (bf_folded_feed(&r, chunk, (size_t)n) != 0) {
            rc = BF_EXIT_NOMEM;
        }
    }
    if (rc == BF_EXIT_OK && bf_folded_finish(&r) != 0)
        rc = BF_EXIT_NOMEM;
    bf_report_parts(rep, &r, NULL);
    rep->parts = 1;
    bf_folded_reader_free(&r);
    free(chunk);
    return rc;
}

int bf_input_read(const char *path, bf_stack_table *st, uint64_t split_min,
                  bf_input_report *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof(*rep));
    int fd = 0;
    if (path && strcmp(path, "-")) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
            return BF_EXIT_IO;
        }
    }
    const char *name = fd ? path : "<stdin>";
    int rc;
    struct stat sb;
    void *probe = MAP_FAILED;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0)
        probe = mmap(NULL, 1, PROT_READ, MAP_PRIVATE, fd, 0);
    if (probe != MAP_FAILED) {
        munmap(probe, 1);
        struct sigaction sa, old;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = bf_map_fault;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGBUS, &sa, &old);
        rc = bf_read_mapped(fd, (uint64_t)sb.st_size, st, split_min, rep, name, err, errlen);
        sigaction(SIGBUS, &old, NULL);
    } else {
        rc = bf_read_chunks(fd, st, rep, name, err, errlen);
    }
    if (fd > 0)
        close(fd);
    return rc;
}
