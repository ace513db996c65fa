/* bf_output: rendering a table to the command line's output. See bf_output.h. */
#include "bf_output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../core/bf_buf.h"
#include "../core/bf_folded.h"
#include "../core/bf_speedscope.h"

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
