/* beamflame: the command line. Verbs: svg and diff render folded files (here); record
 * attaches to a live node as an ei C node and records it (bf_record.c). Single-threaded;
 * memory is the stack table (bounded by its caps) plus one read chunk and one output
 * buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/bf_folded.h"
#include "../core/bf_speedscope.h"
#include "../core/bf_svg.h"
#include "bf_cli_args.h"
#include "bf_continuous.h"
#include "bf_inspect.h"
#include "bf_topview.h"
#include "bf_output.h"
#include "bf_record.h"

#define BF_READ_CHUNK (1u << 20) /* bytes per read(2) */
#define BF_MAP_WINDOW (8u << 20) /* bytes mapped at a time (a multiple of the page size) */

static const char *bf_input_name(const char *path)
{
    return (!path || !strcmp(path, "-")) ? "<stdin>" : path;
}

/* A mapped file cut short by another process faults (SIGBUS) on the pages it lost: the
 * read stops with an error instead. */
static sigjmp_buf bf_map_jmp;

static void bf_map_fault(int sig)
{
    (void)sig;
    siglongjmp(bf_map_jmp, 1);
}

/* bf_folded_feed over a mapping: its result, or 1 when the mapping faulted. */
static int bf_map_feed(bf_folded_reader *r, const char *map, size_t len)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bf_map_fault;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old);
    volatile int rc = 1;
    if (sigsetjmp(bf_map_jmp, 1) == 0)
        rc = bf_folded_feed(r, map, len);
    sigaction(SIGBUS, &old, NULL);
    return rc;
}

/* Reads the folded input at path (NULL or "-": stdin) into st, reporting malformed lines
 * on stderr. */
static int bf_cli_read(const char *path, bf_stack_table *st)
{
    int fd = 0;
    const char *name = bf_input_name(path);
    if (path && strcmp(path, "-")) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "beamflame: cannot open %s: %s\n", name, strerror(errno));
            return BF_EXIT_IO;
        }
    }
    char *chunk = NULL;
    bf_folded_reader r;
    bf_folded_reader_init(&r, st);
    int rc = BF_EXIT_OK;
    /* A regular file is read through a window mapped over it, page-cache pages in place
     * (read(2)'s copy was a tenth of the time of a large file), the window unmapped as it
     * moves so that memory stays one window; anything else, or a mapping refused, is
     * read in chunks. */
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        uint64_t size = (uint64_t)sb.st_size, off = 0;
        while (off < size) {
            size_t len = size - off < BF_MAP_WINDOW ? (size_t)(size - off) : BF_MAP_WINDOW;
            void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, (off_t)off);
            if (map == MAP_FAILED) {
                if (off == 0)
                    break; /* not mappable: read it */
                fprintf(stderr, "beamflame: cannot read %s: %s\n", name, strerror(errno));
                rc = BF_EXIT_IO;
                goto done;
            }
            int fed = bf_map_feed(&r, map, len);
            munmap(map, len);
            if (fed == 1) {
                fprintf(stderr, "beamflame: cannot read %s: it was truncated while being read\n",
                        name);
                rc = BF_EXIT_IO;
                goto done;
            }
            if (fed != 0) {
                rc = BF_EXIT_NOMEM;
                goto done;
            }
            off += len;
        }
        if (off == size)
            goto finish;
    }
    chunk = malloc(BF_READ_CHUNK);
    if (!chunk) {
        rc = BF_EXIT_NOMEM;
        goto done;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, BF_READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "beamflame: cannot read %s: %s\n", name, strerror(errno));
            rc = BF_EXIT_IO;
            goto done;
        }
        if (n == 0)
            break;
        if (bf_folded_feed(&r, chunk, (size_t)n) != 0) {
            rc = BF_EXIT_NOMEM;
            goto done;
        }
    }
finish:
    if (bf_folded_finish(&r) != 0)
        rc = BF_EXIT_NOMEM;
    for (size_t i = 0; i < r.nreported; i++)
        fprintf(stderr, "beamflame: %s:%llu: skipped: %s\n", name,
                (unsigned long long)r.reported[i].line, bf_folded_err_text(r.reported[i].code));
    if (r.malformed > r.nreported)
        fprintf(stderr, "beamflame: %s: %llu more malformed lines skipped\n", name,
                (unsigned long long)(r.malformed - r.nreported));
    bf_st_stats s;
    bf_st_get_stats(st, &s);
    if (s.dropped_samples)
        fprintf(stderr,
                "beamflame: %s: %llu stacks (weight %llu) dropped by caps (%llu for the stack "
                "count, %llu for memory)\n",
                name, (unsigned long long)s.dropped_samples,
                (unsigned long long)s.dropped_weight, (unsigned long long)s.dropped_by_stacks,
                (unsigned long long)s.dropped_by_bytes);
done:
    bf_folded_reader_free(&r);
    free(chunk);
    if (fd > 0)
        close(fd);
    return rc;
}

/* A table for a file on disk: it may hold more distinct stacks than a live run; the byte
 * cap still bounds memory. */
static bf_stack_table *bf_cli_table(void)
{
    bf_st_caps caps;
    bf_st_default_caps(&caps);
    caps.max_stacks = UINT32_MAX - 1;
    caps.max_bytes = (size_t)4 << 30;
    bf_stack_table *st = bf_st_new(&caps);
    if (!st)
        fprintf(stderr, "beamflame: out of memory\n");
    return st;
}

static int bf_cli_load(const char *path, bf_stack_table *st)
{
    int rc = bf_cli_read(path, st);
    if (rc == BF_EXIT_OK && bf_st_stack_count(st) == 0) {
        fprintf(stderr, "beamflame: %s: no valid stack found (expected lines like "
                        "`main;work;leaf 42`)\n",
                bf_input_name(path));
        rc = BF_EXIT_NO_STACKS;
    }
    return rc;
}

static int bf_cli_svg(bf_cli *cli)
{
    char out[4096], err[512];
    int prc = bf_output_prepare(cli, NULL, out, sizeof(out), err, sizeof(err));
    if (prc != BF_EXIT_OK) {
        fprintf(stderr, "beamflame: %s\n", err);
        return prc;
    }
    bf_stack_table *st = bf_cli_table();
    bf_stack_table *before = NULL;
    if (!st)
        return BF_EXIT_NOMEM;
    int rc = bf_cli_load(cli->verb == BF_VERB_DIFF ? cli->input2 : cli->input, st);
    if (rc != BF_EXIT_OK)
        goto done;
    if (cli->verb == BF_VERB_DIFF) {
        before = bf_cli_table();
        rc = before ? bf_cli_load(cli->input, before) : BF_EXIT_NOMEM;
        if (rc != BF_EXIT_OK)
            goto done;
    }
    rc = bf_output_write(cli, &cli->svg, before, st,
                         bf_input_name(cli->verb == BF_VERB_DIFF ? cli->input2 : cli->input));
done:
    bf_st_free(before);
    bf_st_free(st);
    return rc;
}

int main(int argc, char **argv)
{
    bf_cli cli;
    char err[512];
    int rc = bf_cli_parse(argc, argv, &cli, err, sizeof(err));
    if (rc != BF_EXIT_OK) {
        fprintf(stderr, "beamflame: %s\n", err);
        return rc;
    }
    switch (cli.verb) {
    case BF_VERB_HELP:
        fputs(bf_cli_usage(), stdout);
        return BF_EXIT_OK;
    case BF_VERB_VERSION:
        printf("beamflame %s\n", bf_build_version());
        return BF_EXIT_OK;
    case BF_VERB_SVG:
    case BF_VERB_DIFF:
        return bf_cli_svg(&cli);
    case BF_VERB_RECORD:
        return bf_record_run(&cli);
    case BF_VERB_DUMP:
        return bf_dump_run(&cli);
    case BF_VERB_LIST:
        return bf_list_run(&cli);
    case BF_VERB_TOP:
        return bf_top_run(&cli);
    case BF_VERB_CONTINUOUS:
        return bf_continuous_run(&cli);
    case BF_VERB_HISTORY:
        return bf_history_run(&cli);
    default:
        return BF_EXIT_USAGE;
    }
}
