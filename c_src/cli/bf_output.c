/* bf_output: rendering a table to the command line's output. See bf_output.h. */
#include "bf_output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/bf_buf.h"
#include "../core/bf_folded.h"
#include "../core/bf_pprof.h"
#include "../core/bf_speedscope.h"

int bf_output_prepare(bf_cli *cli, const char *default_name, char *buf, size_t buflen,
                      char *err, size_t errlen)
{
    struct stat sb;
    if (!cli->output)
        return BF_EXIT_OK; /* standard output (record always has a name) */
    if (stat(cli->output, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (!default_name) {
            snprintf(err, errlen, "%s is a directory: name a file", cli->output);
            return BF_EXIT_USAGE;
        }
        size_t n = strlen(cli->output);
        if (snprintf(buf, buflen, "%s%s%s", cli->output,
                     n && cli->output[n - 1] == '/' ? "" : "/", default_name) >= (int)buflen) {
            snprintf(err, errlen, "output path too long");
            return BF_EXIT_USAGE;
        }
        cli->output = buf;
    } else if (!cli->format_given) {
        int f = bf_format_from_path(cli->output);
        if (f < 0) {
            snprintf(err, errlen, "cannot tell the format of %s from its name: end it in .svg, "
                                  ".html, .json (speedscope), .folded or .pb.gz (pprof), or give --format",
                     cli->output);
            return BF_EXIT_USAGE;
        }
        cli->format = (bf_format)f;
    }
    /* writable where it goes: the file itself if it exists, else its directory */
    char dir[4096];
    const char *slash = strrchr(cli->output, '/');
    if (slash == cli->output)
        snprintf(dir, sizeof(dir), "/");
    else if (slash)
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - cli->output), cli->output);
    else
        snprintf(dir, sizeof(dir), ".");
    int exists = stat(cli->output, &sb) == 0;
    if (exists ? access(cli->output, W_OK) != 0
               : stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || access(dir, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "cannot write %s: %s%s", cli->output, strerror(errno),
                 exists ? "" : " (its directory must exist and be writable)");
        return BF_EXIT_IO;
    }
    return BF_EXIT_OK;
}

/* pprof's sample types for what the command line has: a trace's microseconds (the count
 * of credits does not travel in folded text: one per stack), else samples; a recording's
 * rate as the period. */
static int bf_output_pprof(const bf_cli *cli, const bf_svg_opts *svg, bf_stack_table *st,
                           bf_buf *out)
{
    bf_pprof_opts o = {.type = "samples", .unit = "count"};
    if (svg->count_name && !strcmp(svg->count_name, "us")) {
        o.count_credits = 1;
        o.weight_type = "wall";
        o.weight_unit = "microseconds";
    } else if (svg->count_name && strcmp(svg->count_name, "samples")) {
        o.type = svg->count_name; /* calls, or what --countname says */
    }
    if (cli->verb == BF_VERB_RECORD && cli->rec.mode != BF_MODE_TRACE && cli->rec.rate) {
        const char *states = NULL; /* --states, if given: cpu by default */
        for (size_t k = 0; k < bf_mode_opt_count; k++)
            if (!strcmp(bf_mode_opts[k].key, "states"))
                states = cli->rec.mopt[k];
        o.period_type = cli->rec.mode == BF_MODE_SAMPLE && (!states || !strcmp(states, "cpu"))
                            ? "cpu"
                            : "wall";
        o.period_unit = "nanoseconds";
        o.period = 1000000000LL / cli->rec.rate;
    }
    return bf_pprof_write(st, &o, out);
}

int bf_output_write(const bf_cli *cli, const bf_svg_opts *svg, bf_stack_table *before,
                    bf_stack_table *st, const char *input_name)
{
    int rc = BF_EXIT_OK;
    char tmp[4096];
    FILE *f = stdout;
    if (cli->output) {
        if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", cli->output, (long)getpid()) >=
            (int)sizeof(tmp)) {
            fprintf(stderr, "beamflame: output path too long\n");
            return BF_EXIT_IO;
        }
        f = fopen(tmp, "w");
        if (!f) {
            fprintf(stderr, "beamflame: cannot write %s: %s\n", cli->output, strerror(errno));
            return BF_EXIT_IO;
        }
    }
    bf_buf out;
    bf_buf_init(&out, f);
    bf_svg_result res;
    memset(&res, 0, sizeof(res));
    bf_svg_status s;
    if (before) {
        s = bf_svg_render_diff(before, st, cli->normalize, cli->format == BF_FORMAT_HTML, svg,
                               &out, &res);
    } else {
        switch (cli->format) {
        case BF_FORMAT_HTML:
            s = bf_html_render(st, svg, &out, &res);
            break;
        case BF_FORMAT_SPEEDSCOPE:
            s = bf_speedscope_render(st, svg, &out);
            break;
        case BF_FORMAT_FOLDED:
            s = bf_folded_write(st, &out) == 0 ? BF_SVG_OK : BF_SVG_NOMEM;
            break;
        case BF_FORMAT_PPROF:
            s = bf_output_pprof(cli, svg, st, &out) == 0 ? BF_SVG_OK : BF_SVG_NOMEM;
            break;
        default:
            s = bf_svg_render(st, svg, &out, &res);
            break;
        }
    }
    int flushed = bf_buf_flush(&out);
    bf_buf_free(&out);
    int closed = (f != stdout) ? fclose(f) : fflush(f);
    if (s == BF_SVG_EMPTY) {
        fprintf(stderr, "beamflame: %s: all stacks have a count of 0: nothing to draw\n",
                input_name);
        rc = BF_EXIT_NO_STACKS;
    } else if (s != BF_SVG_OK) {
        fprintf(stderr, "beamflame: out of memory while rendering\n");
        rc = BF_EXIT_NOMEM;
    } else if (flushed != 0 || closed != 0) {
        fprintf(stderr, "beamflame: cannot write %s: %s\n",
                cli->output ? cli->output : "<stdout>", strerror(errno));
        rc = BF_EXIT_IO;
    }
    if (cli->output) {
        if (rc == BF_EXIT_OK && rename(tmp, cli->output) != 0) {
            fprintf(stderr, "beamflame: cannot write %s: %s\n", cli->output, strerror(errno));
            rc = BF_EXIT_IO;
        }
        if (rc != BF_EXIT_OK)
            unlink(tmp);
        else if (cli->format == BF_FORMAT_SVG || cli->format == BF_FORMAT_HTML)
            fprintf(stderr, "beamflame: wrote %s (%llu frames, %llu pruned)\n", cli->output,
                    (unsigned long long)res.frames_drawn, (unsigned long long)res.frames_pruned);
        else
            fprintf(stderr, "beamflame: wrote %s (%u distinct stacks)\n", cli->output,
                    bf_st_stack_count(st));
    }
    return rc;
}
