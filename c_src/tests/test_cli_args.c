/* Command-line parsing as a pure function. */
#include <criterion/criterion.h>
#include <string.h>

#include "../cli/bf_cli_args.h"

static int parse(bf_cli *cli, char *err, int argc, char **argv)
{
    return bf_cli_parse(argc, argv, cli, err, 256);
}

Test(cli_args, svg_defaults)
{
    char *argv[] = {"beamflame", "svg"};
    bf_cli cli;
    char err[256];
    cr_assert_eq(parse(&cli, err, 2, argv), BF_EXIT_OK);
    cr_assert_eq(cli.verb, BF_VERB_SVG);
    cr_assert_null(cli.input);
    cr_assert_null(cli.output);
    cr_assert_str_eq(cli.svg.title, "Flame Graph");
    cr_assert_float_eq(cli.svg.min_width, 0.1, 1e-9);
    cr_assert_float_eq(cli.svg.width, 1200, 1e-9);
}

Test(cli_args, svg_all_options)
{
    char *argv[] = {"beamflame", "svg", "in.folded", "-o", "out.svg", "--title", "T",
                    "--minwidth=0", "--width", "800"};
    bf_cli cli;
    char err[256];
    cr_assert_eq(parse(&cli, err, 10, argv), BF_EXIT_OK, "%s", err);
    cr_assert_str_eq(cli.input, "in.folded");
    cr_assert_str_eq(cli.output, "out.svg");
    cr_assert_str_eq(cli.svg.title, "T");
    cr_assert_float_eq(cli.svg.min_width, 0, 1e-9);
    cr_assert_float_eq(cli.svg.width, 800, 1e-9);
}

Test(cli_args, errors_name_the_problem)
{
    struct { int argc; char *argv[5]; const char *needle; } cases[] = {
        {1, {"beamflame"}, "no command"},
        {2, {"beamflame", "flame"}, "unknown command: flame"},
        {3, {"beamflame", "svg", "--bogus"}, "unknown option: --bogus"},
        {4, {"beamflame", "svg", "--width", "abc"}, "--width needs a number"},
        {4, {"beamflame", "svg", "--width", "5"}, "from 21 to 100000"},
        {4, {"beamflame", "svg", "--minwidth", "-1"}, "--minwidth needs"},
        {3, {"beamflame", "svg", "-o"}, "needs a file name"},
        {4, {"beamflame", "svg", "a", "b"}, "one input file"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bf_cli cli;
        char err[256];
        cr_assert_eq(parse(&cli, err, cases[i].argc, cases[i].argv), BF_EXIT_USAGE, "case %zu", i);
        cr_assert_not_null(strstr(err, cases[i].needle), "case %zu: %s", i, err);
    }
}

Test(cli_args, format_and_renderer_options)
{
    char *argv[] = {"beamflame", "svg", "-o", "x.json", "--palette", "beam", "--inverted",
                    "--reverse", "--flamechart", "--static", "--minwidth", "2%", "--height",
                    "20", "--fontsize", "10", "--countname", "us", "--subtitle", "s"};
    bf_cli cli;
    char err[256];
    cr_assert_eq(parse(&cli, err, 20, argv), BF_EXIT_OK, "%s", err);
    cr_assert_eq(cli.format, BF_FORMAT_SPEEDSCOPE); /* from the extension */
    cr_assert_eq(cli.svg.palette, BF_PALETTE_BEAM);
    cr_assert(cli.svg.inverted && cli.svg.reverse && cli.svg.flamechart);
    cr_assert_eq(cli.svg.interactive, 0);
    cr_assert_float_eq(cli.svg.min_width_pct, 2, 1e-9);
    cr_assert_float_eq(cli.svg.frame_height, 20, 1e-9);
    cr_assert_str_eq(cli.svg.count_name, "us");
    char *argv2[] = {"beamflame", "svg", "-o", "x.json", "--format", "html"};
    cr_assert_eq(parse(&cli, err, 6, argv2), BF_EXIT_OK);
    cr_assert_eq(cli.format, BF_FORMAT_HTML); /* --format wins */
    char *argv3[] = {"beamflame", "svg", "--format", "png"};
    cr_assert_eq(parse(&cli, err, 4, argv3), BF_EXIT_USAGE);
    cr_assert_not_null(strstr(err, "svg, html, speedscope, folded or pprof"));
    char *argv4[] = {"beamflame", "svg", "--minwidth", "150%"};
    cr_assert_eq(parse(&cli, err, 4, argv4), BF_EXIT_USAGE);
}

Test(cli_args, diff_takes_two_inputs)
{
    char *ok[] = {"beamflame", "diff", "a.folded", "b.folded", "--normalize", "-o", "d.html"};
    bf_cli cli;
    char err[256];
    cr_assert_eq(parse(&cli, err, 7, ok), BF_EXIT_OK, "%s", err);
    cr_assert_eq(cli.verb, BF_VERB_DIFF);
    cr_assert_str_eq(cli.input, "a.folded");
    cr_assert_str_eq(cli.input2, "b.folded");
    cr_assert(cli.normalize);
    cr_assert_eq(cli.format, BF_FORMAT_HTML);
    char *one[] = {"beamflame", "diff", "a.folded"};
    cr_assert_eq(parse(&cli, err, 3, one), BF_EXIT_USAGE);
    cr_assert_not_null(strstr(err, "two folded files"));
    char *json[] = {"beamflame", "diff", "a", "b", "-o", "x.json"};
    cr_assert_eq(parse(&cli, err, 6, json), BF_EXIT_USAGE);
    char *norm[] = {"beamflame", "svg", "a", "--normalize"};
    cr_assert_eq(parse(&cli, err, 4, norm), BF_EXIT_USAGE, "--normalize is for diff only");
}

Test(cli_args, help_and_version)
{
    char *h[] = {"beamflame", "--help"};
    char *v[] = {"beamflame", "version"};
    bf_cli cli;
    char err[256];
    cr_assert_eq(parse(&cli, err, 2, h), BF_EXIT_OK);
    cr_assert_eq(cli.verb, BF_VERB_HELP);
    cr_assert_eq(parse(&cli, err, 2, v), BF_EXIT_OK);
    cr_assert_eq(cli.verb, BF_VERB_VERSION);
    cr_assert_not_null(strstr(bf_cli_usage(), "exit codes"));
}

/* The value a mode option was given, or NULL. */
static const char *mopt(const bf_cli *cli, const char *flag)
{
    for (size_t k = 0; k < bf_mode_opt_count; k++)
        if (!strcmp(bf_mode_opts[k].flag, flag))
            return cli->rec.mopt[k];
    cr_assert_fail("no mode option %s", flag);
    return NULL;
}

Test(cli_args, trace_display_options)
{
    char *argv[] = {"beamflame", "record", "app@h", "--mode", "trace", "--call", "m:f/1",
                    "--recursion", "keep", "--tail-calls", "keep"};
    bf_cli cli;
    char err[256];
    cr_assert_eq(parse(&cli, err, 11, argv), BF_EXIT_OK, "%s", err);
    cr_assert_str_eq(mopt(&cli, "--recursion"), "keep");
    cr_assert_str_eq(mopt(&cli, "--tail-calls"), "keep");
    cr_assert_eq(cli.rec.duration_ms, BF_TRACE_DEFAULT_WAIT_MS); /* the API's timeout */
    char *dflt[] = {"beamflame", "record", "app@h", "--mode", "trace", "--call", "m:f/1"};
    cr_assert_eq(parse(&cli, err, 7, dflt), BF_EXIT_OK, "%s", err);
    cr_assert_null(mopt(&cli, "--recursion")); /* not sent: the node's default */
    cr_assert_null(mopt(&cli, "--tail-calls"));
    char *bad[] = {"beamflame", "record", "app@h", "--mode", "trace", "--recursion", "flat"};
    cr_assert_eq(parse(&cli, err, 7, bad), BF_EXIT_USAGE);
    cr_assert_not_null(strstr(err, "option recursion (--recursion): one of fold, keep expected, got flat"), "%s", err);
    char *bad2[] = {"beamflame", "record", "app@h", "--tail-calls"};
    cr_assert_eq(parse(&cli, err, 4, bad2), BF_EXIT_USAGE);
    cr_assert_not_null(strstr(err, "option tail_calls (--tail-calls): one of drop, keep expected, got nothing"), "%s", err);
    char *other[] = {"beamflame", "record", "app@h", "--recursion", "keep"};
    cr_assert_eq(parse(&cli, err, 5, other), BF_EXIT_USAGE);
    cr_assert_not_null(strstr(err, "--recursion applies to --mode trace, not sample"), "%s",
                       err);
    char *sample[] = {"beamflame", "record", "app@h"};
    cr_assert_eq(parse(&cli, err, 3, sample), BF_EXIT_OK, "%s", err);
    cr_assert_eq(cli.rec.duration_ms, BF_RECORD_DEFAULT_DURATION_MS);
}

Test(cli_args, help_shows_the_mode_options_from_the_table)
{
    const char *u = bf_cli_usage();
    cr_assert_not_null(strstr(u, "    --max-depth N     sample: 2..64 (default: 64): frames kept"), "%s", u);
    cr_assert_not_null(strstr(u, "    --states S        sample: cpu, wall, all (default: cpu)"), "%s", u);
    cr_assert_not_null(strstr(u, "    --no-idle         native: idle false (default: true)"), "%s", u);
    cr_assert_null(strstr(u, "@MODE_OPTIONS@"));
    cr_assert_not_null(strstr(u, "exit codes"));
}
