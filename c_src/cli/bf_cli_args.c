/* bf_cli_args: pure parsing of the command line. See bf_cli_args.h. */
#include "bf_cli_args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *bf_cli_usage(void)
{
    return "usage: beamflame <command> [options]\n"
           "\n"
           "commands:\n"
           "  svg [FILE|-]        render folded stacks (from perf, eflambe, beamflame...) as an\n"
           "                      SVG flame graph; reads standard input without FILE or with -\n"
           "    -o, --output OUT  write to OUT (default: standard output)\n"
           "    --title TEXT      title (default: \"Flame Graph\")\n"
           "    --width PX        image width (default: 1200)\n"
           "    --minwidth PX     prune frames narrower than PX (default: 0.1; 0 draws all)\n"
           "  help                this text\n"
           "  version             print the version\n"
           "\n"
           "exit codes: 0 ok, 2 bad command line, 3 no valid stack in the input,\n"
           "            4 cannot read the input or write the output, 5 out of memory\n";
}

static int bf_fail(char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return BF_EXIT_USAGE;
}

static int bf_parse_px(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Matches `--name VALUE` and `--name=VALUE`; advances *i past what it used. */
static int bf_opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        *val = NULL;
        return 1;
    }
    *val = argv[++*i];
    return 1;
}

static int bf_parse_svg(int argc, char **argv, int i, bf_cli *cli, char *err, size_t errlen)
{
    for (; i < argc; i++) {
        const char *a = argv[i], *v;
        if (bf_opt_value(argc, argv, &i, "--output", &v) ||
            bf_opt_value(argc, argv, &i, "-o", &v)) {
            if (!v)
                return bf_fail(err, errlen, "%s needs a file name", a);
            cli->output = v;
        } else if (bf_opt_value(argc, argv, &i, "--title", &v)) {
            if (!v)
                return bf_fail(err, errlen, "%s needs a text", a);
            cli->svg.title = v;
        } else if (bf_opt_value(argc, argv, &i, "--width", &v)) {
            if (!v || bf_parse_px(v, 2 * BF_SVG_XPAD + 1, BF_SVG_MAX_WIDTH, &cli->svg.width))
                return bf_fail(err, errlen,
                               "--width needs a number of pixels from 21 to 100000 (got %s)",
                               v ? v : "nothing");
        } else if (bf_opt_value(argc, argv, &i, "--minwidth", &v)) {
            if (!v || bf_parse_px(v, 0, BF_SVG_MAX_WIDTH, &cli->svg.min_width))
                return bf_fail(err, errlen,
                               "--minwidth needs a number of pixels, 0 or more (got %s)",
                               v ? v : "nothing");
        } else if (strcmp(a, "-") == 0 || a[0] != '-') {
            if (cli->input)
                return bf_fail(err, errlen, "svg takes one input file (extra: %s)", a);
            cli->input = a;
        } else {
            return bf_fail(err, errlen, "unknown option for svg: %s (see `beamflame help`)", a);
        }
    }
    if (cli->svg.min_width > cli->svg.width)
        return bf_fail(err, errlen, "%s", "--minwidth cannot exceed --width");
    return BF_EXIT_OK;
}

int bf_cli_parse(int argc, char **argv, bf_cli *cli, char *err, size_t errlen)
{
    memset(cli, 0, sizeof(*cli));
    bf_svg_default_opts(&cli->svg);
    if (errlen)
        err[0] = '\0';
    if (argc < 2)
        return bf_fail(err, errlen, "%s", "no command given (try `beamflame help`)");
    const char *verb = argv[1];
    if (!strcmp(verb, "help") || !strcmp(verb, "--help") || !strcmp(verb, "-h")) {
        cli->verb = BF_VERB_HELP;
        return BF_EXIT_OK;
    }
    if (!strcmp(verb, "version") || !strcmp(verb, "--version")) {
        cli->verb = BF_VERB_VERSION;
        return BF_EXIT_OK;
    }
    if (!strcmp(verb, "svg")) {
        cli->verb = BF_VERB_SVG;
        return bf_parse_svg(argc, argv, 2, cli, err, errlen);
    }
    return bf_fail(err, errlen, "unknown command: %s (try `beamflame help`)", verb);
}
