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
    /* record: each failure to reach or use a node has its own code */
    BF_EXIT_UNREACHABLE = 6, /* no such node registered, unknown host, connection refused */
    BF_EXIT_NO_EPMD = 7,     /* epmd is not running on the node's host */
    BF_EXIT_COOKIE = 8,      /* no cookie found, or the node rejected ours */
    BF_EXIT_MISMATCH = 9,    /* OTP release, NIF version, architecture, word size or
                                beamflame version differ from this build */
    BF_EXIT_PTRACE = 10,     /* native mode: ptrace not permitted */
    BF_EXIT_TIMEOUT = 11,    /* the node stopped answering within --timeout */
    BF_EXIT_REMOTE = 12,     /* the recording failed on the node, or the connection dropped */
    BF_EXIT_INTERRUPTED = 130 /* a second Ctrl-C: left at once, nothing written */
};

typedef enum bf_verb {
    BF_VERB_NONE = 0,
    BF_VERB_HELP,
    BF_VERB_VERSION,
    BF_VERB_SVG,
    BF_VERB_DIFF,
    BF_VERB_RECORD,
    BF_VERB_DUMP,
    BF_VERB_LIST,
    BF_VERB_TOP,
    BF_VERB_CONTINUOUS,
    BF_VERB_HISTORY
} bf_verb;

typedef enum bf_cont_verb { BF_CONT_START = 0, BF_CONT_STOP, BF_CONT_INFO } bf_cont_verb;

#define BF_MAX_PUSH_LABELS 16

typedef enum bf_mode { BF_MODE_SAMPLE = 0, BF_MODE_TRACE, BF_MODE_NATIVE } bf_mode;

/* Which kind of node name the command line's own node takes (erl's -sname / -name). */
typedef enum bf_names { BF_NAMES_AUTO = 0, BF_NAMES_SHORT, BF_NAMES_LONG } bf_names;

/* Options of a recording mode that go to the node as the API's own options: the flag,
 * the modes it applies to, the API's key, what the value may be, its default and its
 * help, all as in the API's table (src/beamflame_options.erl). Values are checked here,
 * before connecting; `beamflame help` prints these rows (bf_cli_usage), and
 * test/beamflame_cli_SUITE compares that text with the API's tables, row by row. */
typedef enum bf_mopt_kind {
    BF_MOPT_ATOM,    /* one of `values` (space separated), sent as an atom */
    BF_MOPT_INT,     /* a whole number in [lo, hi] */
    BF_MOPT_SET,     /* a flag without value: the key set to the atom `values` */
    BF_MOPT_PROCESS  /* repeatable: a registered name, a pid <0.N.M>, or M:F/A */
} bf_mopt_kind;

typedef struct bf_mode_opt {
    const char *flag;
    unsigned modes; /* bit (1 << bf_mode) for each mode it applies to */
    const char *key;
    bf_mopt_kind kind;
    const char *values;  /* ATOM: the words; SET: the value; PROCESS: what is accepted */
    long long lo, hi;
    const char *metavar; /* in the help: --max-depth N */
    const char *deflt;   /* the API's default, as the help shows it */
    const char *help;    /* the API's line of help */
} bf_mode_opt;

#define BF_MAX_MODE_OPTS 16
#define BF_MAX_NODES 64
#define BF_MAX_PROCESSES 64

/* The table, and its length. */
extern const bf_mode_opt bf_mode_opts[];
extern const size_t bf_mode_opt_count;

/* `record`'s options; defaults in bf_cli_usage(). */
typedef struct bf_record_opts {
    const char *node;        /* target, NAME or NAME@HOST (NAME: this host): nodes[0] */
    const char *nodes[BF_MAX_NODES]; /* record: every node named, recorded together */
    unsigned nnodes;
    int cluster;             /* --cluster: also every node the first is connected to */
    bf_mode mode;
    unsigned duration_ms;    /* --duration, seconds on the command line */
    unsigned rate;           /* --rate, Hz */
    const char *cookie_file; /* --cookie-file */
    const char *cookie;      /* --cookie (warned: visible in the process list) */
    const char *own_name;    /* --name / --sname value, NULL: beamflame_<pid> */
    bf_names names;
    unsigned timeout_ms;     /* --timeout: connecting, and each call to the node */
    int quiet;               /* --quiet: no progress line */
    /* --mode trace: the function whose next calls are traced (--call M:F/A) */
    char call_module[256], call_function[256];
    unsigned call_arity;
    unsigned calls;          /* --calls, 1..1000 */
    const char *mopt[BF_MAX_MODE_OPTS];       /* bf_mode_opts[i]'s value, NULL: default */
    const char *processes[BF_MAX_PROCESSES];  /* --process, in order */
    unsigned nprocesses;
} bf_record_opts;

typedef enum bf_format {
    BF_FORMAT_SVG = 0,
    BF_FORMAT_HTML,
    BF_FORMAT_SPEEDSCOPE,
    BF_FORMAT_FOLDED,
    BF_FORMAT_PPROF
} bf_format;

typedef struct bf_cli {
    bf_verb verb;
    const char *input;  /* NULL or "-": standard input (diff: the "before" file) */
    const char *input2; /* diff: the "after" file */
    int normalize;      /* diff: scale "before" to "after"'s total */
    const char *output; /* NULL: standard output */
    bf_format format;   /* --format, else from the output's extension, else svg */
    int format_given;   /* --format was given */
    bf_svg_opts svg;
    bf_record_opts rec; /* record, and the connection options of dump, list and top */
    /* dump */
    const char *select[BF_MAX_PROCESSES]; /* --pid and --name, in order */
    unsigned nselect;
    unsigned top;         /* --top K (default 100) */
    const char *sort;     /* --sort memory|reductions|queue */
    int json;             /* --format json */
    /* list */
    const char *host;     /* NULL: this host */
    /* top */
    unsigned interval_ms; /* --interval S (default 1) */
    int once;             /* --once: one plain snapshot */
    /* continuous start|stop|info: what was given (0 / NULL: the API's default) */
    bf_cont_verb cont;
    int rate_given;
    unsigned slice_s, keep_s;
    unsigned long long cont_max_bytes;
    const char *push_url, *push_app;
    const char *push_labels[BF_MAX_PUSH_LABELS]; /* K=V */
    unsigned npush_labels;
    /* history: --last S, or --from T --to T (Unix seconds) */
    unsigned long long last_s;
    long long from_s, to_s;
} bf_cli;

#define BF_RECORD_DEFAULT_DURATION_MS 5000u /* the API's: sample and native duration */
#define BF_TRACE_DEFAULT_WAIT_MS 60000u     /* the API's: capture's timeout */
#define BF_RECORD_MAX_DURATION_MS 3600000u /* the sampler's own limit (1 h) */
#define BF_RECORD_DEFAULT_RATE 99u
#define BF_RECORD_DEFAULT_TIMEOUT_MS 10000u

/* "svg", "html", "speedscope", "folded", "pprof" -> format; -1 if unknown. */
int bf_format_parse(const char *s);
/* The format a file name's extension implies (.svg .html .json .folded), or -1. */
int bf_format_from_path(const char *path);

/* A duration: seconds, or a number with s, m, h or d (10m); 0 or -1. */
int bf_parse_duration_s(const char *v, unsigned long long max_s, unsigned long long *out);
/* A time: Unix seconds, or UTC YYYY-MM-DDTHH:MM[:SS][Z] (a space for the T too); 0 or -1. */
int bf_parse_time(const char *v, long long *out);

/* "Module:function/Arity" (Elixir modules too: Elixir.MyApp.Worker:run/1) into its parts:
 * 0, or -1 if it is not one or a part does not fit. */
int bf_parse_mfa_into(const char *v, char *mod, size_t modlen, char *fun, size_t funlen,
                      unsigned *arity);

/* Parses argv (argv[0] is the program). Returns BF_EXIT_OK or BF_EXIT_USAGE with a
 * message in err (one line, naming the fix). Strings point into argv. */
int bf_cli_parse(int argc, char **argv, bf_cli *cli, char *err, size_t errlen);
const char *bf_cli_usage(void);

#endif
