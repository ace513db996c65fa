/* beamflame: the command line. Verbs: svg and diff render folded files (here); record
 * attaches to a live node as an ei C node and records it (bf_record.c). Single-threaded
 * but for reading a large file (bf_input.c: two parts at once); memory is the stack table
 * (bounded by its caps; while a file is read in two parts, the second part's table too)
 * plus one mapped window or read chunk per part and one output buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/bf_folded.h"
#include "../core/bf_speedscope.h"
#include "../core/bf_svg.h"
#include "bf_cli_args.h"
#include "bf_continuous.h"
#include "bf_input.h"
#include "bf_inspect.h"
#include "bf_topview.h"
#include "bf_output.h"
#include "bf_record.h"


static const char *bf_input_name(const char *path)
{
    return (!path || !strcmp(path, "-")) ? "<stdin>" : path;
}

/* Reads the folded input at path (NULL or "-": stdin) into st, reporting malformed lines
 * and drops on stderr. */
static int bf_cli_read(const char *path, bf_stack_table *st)
{
    const char *name = bf_input_name(path);
    bf_input_report rep;
    char err[512];
    int rc = bf_input_read(path, st, BF_INPUT_SPLIT_MIN, &rep, err, sizeof(err));
    if (rc == BF_EXIT_IO) {
        fprintf(stderr, "beamflame: %s\n", err);
        return rc;
    }
    for (size_t i = 0; i < rep.nreported; i++)
        fprintf(stderr, "beamflame: %s:%llu: skipped: %s\n", name,
                (unsigned long long)rep.reported[i].line, bf_folded_err_text(rep.reported[i].code));
    if (rep.malformed > rep.nreported)
        fprintf(stderr, "beamflame: %s: %llu more malformed lines skipped\n", name,
                (unsigned long long)(rep.malformed - rep.nreported));
    bf_st_stats s;
    bf_st_get_stats(st, &s);
    if (s.dropped_samples)
        fprintf(stderr,
                "beamflame: %s: %llu stacks (weight %llu) dropped by caps (%llu for the stack "
                "count, %llu for memory)\n",
                name, (unsigned long long)s.dropped_samples,
                (unsigned long long)s.dropped_weight, (unsigned long long)s.dropped_by_stacks,
                (unsigned long long)s.dropped_by_bytes);
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
