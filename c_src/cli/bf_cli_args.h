/* bf_cli_args: argument parsing for the `beamflame` command line, as a pure function so
 * tests can call it. Verbs are subcommands; each option has a default documented in
 * bf_cli_usage(). No I/O here beyond what the caller prints.
 */
#ifndef BF_CLI_ARGS_H
#define BF_CLI_ARGS_H

#include <stddef.h>

#include "../core/bf_svg.h"

/* Exit codes, documented in the README and in `beamflame --help`. */
enum bf_exit {
    BF_EXIT_OK = 0,
    BF_EXIT_USAGE = 2,     /* bad command line */
    BF_EXIT_NO_STACKS = 3, /* input held no valid stack */
    BF_EXIT_IO = 4,        /* cannot read input or write output */
    BF_EXIT_NOMEM = 5,     /* out of memory (or a cap refused everything) */
};

typedef enum bf_verb {
    BF_VERB_NONE = 0,
    BF_VERB_HELP,
    BF_VERB_VERSION,
    BF_VERB_SVG,
    BF_VERB_DIFF
} bf_verb;

typedef enum bf_format {
    BF_FORMAT_SVG = 0,
    BF_FORMAT_HTML,
    BF_FORMAT_SPEEDSCOPE,
    BF_FORMAT_FOLDED
} bf_format;

typedef struct bf_cli {
    bf_verb verb;
    const char *input;  /* NULL or "-": standard input (diff: the "before" file) */
    const char *input2; /* diff: the "after" file */
    int normalize;      /* diff: scale "before" to "after"'s total */
    const char *output; /* NULL: standard output */
    bf_format format;   /* --format, else from the output's extension, else svg */
    bf_svg_opts svg;
} bf_cli;

/* "svg", "html", "speedscope", "folded" -> format; -1 if unknown. */
int bf_format_parse(const char *s);
/* The format a file name's extension implies (.svg .html .json .folded), or -1. */
int bf_format_from_path(const char *path);

/* Parses argv (argv[0] is the program). Returns BF_EXIT_OK or BF_EXIT_USAGE with a
 * message in err (one line, naming the fix). Strings point into argv. */
int bf_cli_parse(int argc, char **argv, bf_cli *cli, char *err, size_t errlen);
const char *bf_cli_usage(void);

#endif
