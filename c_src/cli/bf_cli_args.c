/* bf_cli_args: pure parsing of the command line. See bf_cli_args.h. */
#include "bf_cli_args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char bf_usage_text[] =
           "usage: beamflame <command> [options]\n"
           "\n"
           "commands:\n"
           "  svg [FILE|-]        render folded stacks (from perf, eflambe, beamflame...) as a\n"
           "                      flame graph; reads standard input without FILE or with -\n"
           "    -o, --output OUT  write to OUT (default: standard output)\n"
           "    --format FMT      svg (interactive), html (the SVG in a page), speedscope\n"
           "                      (JSON for speedscope.app), folded or pprof (gzipped\n"
           "                      profile.proto; default: from OUT's extension .svg .html\n"
           "                      .json .folded .pb.gz, else svg)\n"
           "    --title TEXT      title (default: \"Flame Graph\")\n"
           "    --subtitle TEXT   second line under the title (default: none)\n"
           "    --countname NAME  what counts are (default: samples; e.g. us for traces)\n"
           "    --width PX        image width (default: 1200)\n"
           "    --height PX       frame height (default: 16)\n"
           "    --fontsize PX     font size (default: 12)\n"
           "    --minwidth W      prune frames narrower than W pixels, or W% of the width\n"
           "                      (default: 0.1; 0 draws every frame)\n"
           "    --palette P       hot (default) or beam: colour by what a frame is\n"
           "                      (your code, OTP, Elixir, BIF/NIF, C, JIT, GC, idle)\n"
           "    --reverse         reverse stacks: leaf functions at the root, merged\n"
           "    --inverted        icicle graph: root at the top\n"
           "    --flamechart      keep the input's order (time order) instead of sorting;\n"
           "                      with --format speedscope: an evented (timeline) profile\n"
           "    --static          no script (no hover, zoom or search)\n"
           "    --maxframes N     draw at most N frames, raising the minimum width to fit\n"
           "                      (default: 30000; 0: no limit)\n"
           "  diff BEFORE AFTER   differential flame graph of two folded files: widths from\n"
           "                      AFTER, red where a frame grew, blue where it shrank (its\n"
           "                      whole subtree); the svg options apply (format svg or html)\n"
           "    --normalize       compare shares: scale BEFORE to AFTER's total first\n"
           "  record NODE...      attach to a running node (NAME or NAME@HOST) as a hidden\n"
           "                      node, load beamflame there if it lacks it, record, write\n"
           "                      the flame graph; the svg options above apply. Several\n"
           "                      nodes are recorded together, each under its name\n"
           "    --cluster         also every node the first one is connected to\n"
           "    --mode M          sample (default): stacks of the node's processes; trace:\n"
           "                      exact stacks of the next calls of one function, in us;\n"
           "                      native: the scheduler threads' C and JIT frames (ptrace;\n"
           "                      whole Erlang chains when the node runs with +JPperf map)\n"
           "    --call M:F/A      trace: the function (e.g. my_server:handle_call/3)\n"
           "    --calls N         trace: how many of its next calls, by any process, 1 to\n"
           "                      1000 (default: 1; --duration is how long to wait for them)\n"
           "    --duration S      seconds to record (default: 5; trace: seconds to wait for\n"
           "                      the calls, default 60); Ctrl-C ends earlier and still\n"
           "                      writes what was recorded\n"
           "    --rate HZ         samples per second (default: 99)\n"
           "@MODE_OPTIONS@"
           "    -o, --output OUT  default: beamflame-NAME-YYYYMMDD-HHMMSS.svg here\n"
           "    --cookie-file F   the node's cookie, from a file; otherwise the environment\n"
           "                      variable BEAMFLAME_COOKIE, otherwise ~/.erlang.cookie\n"
           "    --cookie C        accepted, but other users can read it in the process list\n"
           "    --sname NAME      this program's own node name, short (default: beamflame_PID,\n"
           "    --name NAME[@H]   short or long like the target's name)\n"
           "    --timeout S       give up on connecting or on a silent node after S seconds\n"
           "                      (default: 10)\n"
           "    --quiet           no progress line (there is none when stderr is not a tty)\n"
           "  top NODE            a live view of where NODE's time goes, refreshed every\n"
           "                      second (q quits, p processes, o/t/r/s sort); record's\n"
           "                      connection options apply, and --mode, --rate\n"
           "    --interval S      seconds between refreshes (default: 1)\n"
           "    --once            print one snapshot and exit (also: no terminal)\n"
           "  dump NODE           the stack of every process now, with status, queue,\n"
           "                      memory and initial call\n"
           "    --pid P, --name N only these processes (repeatable)\n"
           "    --top K           the K first (default: 100; the rest is a count)\n"
           "    --sort S          memory (default), reductions or queue\n"
           "    --format F        text (default) or json\n"
           "  continuous start|stop|info NODE\n"
           "                      always-on profiling on NODE, owned by its beamflame\n"
           "                      application (it outlives this program): slices of a\n"
           "                      low-rate sampler kept under a memory cap; record's\n"
           "                      connection options and sample options apply to start\n"
           "    --rate HZ         (default: 10)\n"
           "    --slice D         seconds per slice (default: 10s; also 1m, 1h)\n"
           "    --keep D          how long slices are kept (default: 30m)\n"
           "    --max-bytes N     memory for every slice kept (default: 33554432)\n"
           "    --push URL        POST each slice to a Pyroscope server's /ingest (pprof)\n"
           "    --push-app NAME   its application name; --push-label K=V (repeatable)\n"
           "  history NODE        a window of continuous profiling, written as record writes\n"
           "                      (-o, --format and the svg options apply)\n"
           "    --last D          the last D (30s, 10m, 1h), or:\n"
           "    --from T --to T   Unix seconds or UTC YYYY-MM-DDTHH:MM[:SS]\n"
           "  list [HOST]         the nodes epmd knows on HOST (default: here), and with a\n"
           "                      cookie their OTP release, beamflame version and uptime\n"
           "  help                this text\n"
           "  version             print the version\n"
           "\n"
           "exit codes: 0 ok, 2 bad command line, 3 no valid stack in the input,\n"
           "            4 cannot read the input or write the output, 5 out of memory,\n"
           "            6 node not reachable, 7 epmd not running, 8 cookie missing or\n"
           "            rejected, 9 OTP/architecture/version mismatch, 10 ptrace not\n"
           "            permitted, 11 timeout, 12 the recording failed on the node or the\n"
           "            connection dropped, 130 interrupted twice (nothing written)\n";

static const char *const bf_mode_names[] = {"sample", "trace", "native"};

/* The (first) mode a mode option applies to. */
static const char *bf_mode_opt_mode(const bf_mode_opt *o)
{
    unsigned mode = 0;
    while (mode < 2 && !(o->modes & (1u << mode)))
        mode++;
    return bf_mode_names[mode];
}

/* Appends text to buf (of cap bytes, NUL kept), wrapped at 86 columns, lines after the
 * first indented by 22 columns as the usage's option column. */
static void bf_wrapped(char *buf, size_t cap, const char *first, const char *text)
{
    size_t len = strlen(buf), col = 0;
    len += (size_t)snprintf(buf + len, cap - len, "    %-18s", first);
    col = 22;
    while (*text && len < cap) {
        size_t w = strcspn(text, " ");
        if (col + w + 1 > 86 && col > 22) {
            len += (size_t)snprintf(buf + len, cap - len, "\n%22s", "");
            col = 22;
        } else if (col > 22) {
            len += (size_t)snprintf(buf + len, cap - len, " ");
            col++;
        }
        len += (size_t)snprintf(buf + len, cap - len, "%.*s", (int)w, text);
        col += w;
        text += w;
        while (*text == ' ')
            text++;
    }
    if (len < cap)
        snprintf(buf + len, cap - len, "\n");
}

/* One row of bf_mode_opts as the help shows it: "MODE: ACCEPTS (default: D): HELP". */
static void bf_mode_opt_help(char *buf, size_t cap, const bf_mode_opt *o)
{
    char first[64], accepts[256] = "", text[768];
    snprintf(first, sizeof(first), "%s%s%s", o->flag, o->metavar ? " " : "",
             o->metavar ? o->metavar : "");
    switch (o->kind) {
    case BF_MOPT_INT:
        snprintf(accepts, sizeof(accepts), "%lld..%lld", o->lo, o->hi);
        break;
    case BF_MOPT_ATOM: /* the words, comma separated */
        for (const char *p = o->values; *p;) {
            size_t w = strcspn(p, " "), used = strlen(accepts);
            snprintf(accepts + used, sizeof(accepts) - used, "%s%.*s", used ? ", " : "",
                     (int)w, p);
            p += w + (p[w] == ' ');
        }
        break;
    case BF_MOPT_SET:
        snprintf(accepts, sizeof(accepts), "%s %s", o->key, o->values);
        break;
    default:
        snprintf(accepts, sizeof(accepts), "%s", o->values);
        break;
    }
    snprintf(text, sizeof(text), "%s: %s (default: %s): %s", bf_mode_opt_mode(o), accepts,
             o->deflt, o->help);
    bf_wrapped(buf, cap, first, text);
}

const char *bf_cli_usage(void)
{
    static char usage[16384];
    if (usage[0])
        return usage;
    const char *mark = strstr(bf_usage_text, "@MODE_OPTIONS@");
    snprintf(usage, sizeof(usage), "%.*s", (int)(mark - bf_usage_text), bf_usage_text);
    for (size_t k = 0; k < bf_mode_opt_count; k++)
        bf_mode_opt_help(usage, sizeof(usage), &bf_mode_opts[k]);
    snprintf(usage + strlen(usage), sizeof(usage) - strlen(usage), "%s",
             mark + strlen("@MODE_OPTIONS@"));
    return usage;
}

static int bf_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bf_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
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

int bf_format_parse(const char *s)
{
    static const char *const names[] = {"svg", "html", "speedscope", "folded", "pprof"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

int bf_format_from_path(const char *path)
{
    size_t n = strlen(path);
    if ((n > 6 && !strcasecmp(path + n - 6, ".pb.gz")) ||
        (n > 6 && !strcasecmp(path + n - 6, ".pprof")))
        return BF_FORMAT_PPROF;
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return -1;
    if (!strcasecmp(dot, ".svg"))
        return BF_FORMAT_SVG;
    if (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm"))
        return BF_FORMAT_HTML;
    if (!strcasecmp(dot, ".json"))
        return BF_FORMAT_SPEEDSCOPE;
    if (!strcasecmp(dot, ".folded"))
        return BF_FORMAT_FOLDED;
    return -1;
}

static int bf_flag(const char *a, const char *name, int *out)
{
    if (strcmp(a, name) != 0)
        return 0;
    *out = 1;
    return 1;
}

/* Seconds (decimals allowed) within [lo, hi] seconds -> milliseconds. */
static int bf_parse_seconds(const char *s, double lo, double hi, unsigned *ms)
{
    double v;
    if (!s || bf_parse_px(s, lo, hi, &v))
        return -1;
    *ms = (unsigned)(v * 1000.0 + 0.5);
    return 0;
}

static int bf_parse_mfa(const char *v, bf_record_opts *r)
{
    return bf_parse_mfa_into(v, r->call_module, sizeof(r->call_module), r->call_function,
                             sizeof(r->call_function), &r->call_arity);
}

int bf_parse_mfa_into(const char *v, char *mod, size_t modlen, char *fun, size_t funlen,
                      unsigned *arity)
{
    if (!v)
        return -1;
    const char *slash = strrchr(v, '/');
    const char *colon = slash ? memchr(v, ':', (size_t)(slash - v)) : NULL;
    if (!slash || !colon)
        return -1;
    /* the function name may itself hold a ':' only if quoted; take the last ':' before / */
    for (const char *c = colon; c && c < slash; c = memchr(c + 1, ':', (size_t)(slash - c - 1)))
        colon = c;
    size_t ml = (size_t)(colon - v), fl = (size_t)(slash - colon - 1);
    char *end;
    unsigned long a = strtoul(slash + 1, &end, 10);
    if (ml == 0 || fl == 0 || ml >= modlen || fl >= funlen || !slash[1] || *end || a > 255)
        return -1;
    memcpy(mod, v, ml);
    mod[ml] = '\0';
    memcpy(fun, colon + 1, fl);
    fun[fl] = '\0';
    *arity = (unsigned)a;
    return 0;
}

#define BF_SAMPLE (1u << BF_MODE_SAMPLE)
#define BF_TRACE (1u << BF_MODE_TRACE)
#define BF_NATIVE (1u << BF_MODE_NATIVE)

/* Keys, ranges, defaults and help as in beamflame_options:table/1 (the test holds them
 * together). */
const bf_mode_opt bf_mode_opts[] = {
    {"--states", BF_SAMPLE, "states", BF_MOPT_ATOM, "cpu wall all", 0, 0, "S", "cpu",
     "cpu: processes executing at the tick (their waits left out); wall, or all: every "
     "process, waiting ones where they wait"},
    {"--group", BF_SAMPLE, "group", BF_MOPT_ATOM, "none process name", 0, 0, "G", "none",
     "a root frame per process (process: its name, else initial call and pid) or per "
     "registered name or initial call (name)"},
    {"--process", BF_SAMPLE, "processes", BF_MOPT_PROCESS,
     "a registered name, a pid <0.123.0> or an initial call M:F/A, repeatable", 0, 0, "P",
     "all", "which processes to sample"},
    {"--max-stacks", BF_SAMPLE, "max_stacks", BF_MOPT_INT, NULL, 1, 10000000, "N", "100000",
     "distinct stacks kept; more are dropped, counted"},
    {"--max-depth", BF_SAMPLE, "max_depth", BF_MOPT_INT, NULL, 2, 64, "N", "64",
     "frames kept per stack, from the root (ERTS gives at most 64)"},
    {"--max-bytes", BF_SAMPLE, "max_bytes", BF_MOPT_INT, NULL, 65536, 4294967296LL, "N",
     "67108864", "bytes the profile may use"},
    {"--recursion", BF_TRACE, "recursion", BF_MOPT_ATOM, "fold keep", 0, 0, "R", "fold",
     "recursion drawn at its first occurrence, or every level"},
    {"--tail-calls", BF_TRACE, "tail_calls", BF_MOPT_ATOM, "drop keep", 0, 0, "T", "drop",
     "a frame that tail-called is dropped (the VM's view), or kept under its callee"},
    {"--dirty", BF_NATIVE, "dirty", BF_MOPT_SET, "true", 0, 0, NULL, "false",
     "also the dirty scheduler threads"},
    {"--no-idle", BF_NATIVE, "idle", BF_MOPT_SET, "false", 0, 0, NULL, "true",
     "idle schedulers as an [idle] frame (false: left out)"},
};
const size_t bf_mode_opt_count = sizeof(bf_mode_opts) / sizeof(bf_mode_opts[0]);

/* Whether word is one of the space separated words of list. */
static int bf_word_in(const char *word, const char *list)
{
    size_t n = strlen(word);
    for (const char *p = list; n && *p;) {
        size_t len = strcspn(p, " ");
        if (len == n && !strncmp(p, word, n))
            return 1;
        p += len + (p[len] == ' ');
    }
    return 0;
}

/* A process selector: a pid (<0.N.M> or 0.N.M), Module:function/Arity, or a registered
 * name (an atom's text: letters, digits, _ @ and ., as Elixir module names have). */
static int bf_process_ok(const char *v)
{
    if (!v || !*v || strlen(v) > 255)
        return 0;
    unsigned a, b, c;
    char end;
    if (sscanf(v, "<%u.%u.%u%c", &a, &b, &c, &end) == 4 && end == '>' &&
        v[strlen(v) - 1] == '>')
        return 1;
    if (sscanf(v, "%u.%u.%u%c", &a, &b, &c, &end) == 3)
        return 1;
    bf_record_opts r;
    if (strchr(v, '/'))
        return bf_parse_mfa(v, &r) == 0;
    for (const char *p = v; *p; p++)
        if (!(*p == '_' || *p == '@' || *p == '.' || (*p >= '0' && *p <= '9') ||
              (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (unsigned char)*p >= 0x80))
            return 0;
    return 1;
}

/* A mode option at argv[*i] (bf_mode_opts): 1 if taken, 0 if not one, -1 on error. */
static int bf_parse_mode_opt(int argc, char **argv, int *i, bf_record_opts *r, char *err,
                             size_t errlen)
{
    for (size_t k = 0; k < bf_mode_opt_count; k++) {
        const bf_mode_opt *o = &bf_mode_opts[k];
        const char *v = NULL;
        if (o->kind == BF_MOPT_SET) {
            if (strcmp(argv[*i], o->flag))
                continue;
            r->mopt[k] = o->values;
            return 1;
        }
        if (!bf_opt_value(argc, argv, i, o->flag, &v))
            continue;
        switch (o->kind) {
        /* the API's sentence for a bad option (beamflame_remote:describe/1), with the flag */
        case BF_MOPT_ATOM:
            if (!v || !bf_word_in(v, o->values)) {
                char words[256] = "";
                for (const char *p = o->values; *p;) {
                    size_t w = strcspn(p, " "), used = strlen(words);
                    snprintf(words + used, sizeof(words) - used, "%s%.*s", used ? ", " : "",
                             (int)w, p);
                    p += w + (p[w] == ' ');
                }
                return bf_fail(err, errlen, "option %s (%s): one of %s expected, got %s",
                               o->key, o->flag, words, v ? v : "nothing"), -1;
            }
            break;
        case BF_MOPT_INT: {
            char *end;
            errno = 0;
            long long n = v ? strtoll(v, &end, 10) : 0;
            if (!v || !*v || *end || errno || n < o->lo || n > o->hi)
                return bf_fail(err, errlen, "option %s (%s): an integer, %lld..%lld expected, "
                                            "got %s", o->key, o->flag, o->lo, o->hi,
                               v ? v : "nothing"), -1;
            break;
        }
        case BF_MOPT_PROCESS:
            if (!bf_process_ok(v))
                return bf_fail(err, errlen, "%s needs a registered name, a pid like <0.123.0> "
                                            "or an initial call Module:function/Arity (got %s)",
                               o->flag, v ? v : "nothing"), -1;
            if (r->nprocesses == BF_MAX_PROCESSES)
                return bf_fail(err, errlen, "at most %d --process options", BF_MAX_PROCESSES),
                       -1;
            r->processes[r->nprocesses++] = v;
            r->mopt[k] = v;
            return 1;
        default:
            break;
        }
        r->mopt[k] = v;
        return 1;
    }
    return 0;
}

/* A mode option given for another mode is an error (the mode may come after it). */
static int bf_check_mode_opts(const bf_record_opts *r, char *err, size_t errlen)
{
    for (size_t k = 0; k < bf_mode_opt_count; k++)
        if (r->mopt[k] && !(bf_mode_opts[k].modes & (1u << r->mode))) {
            return bf_fail(err, errlen, "%s applies to --mode %s, not %s", bf_mode_opts[k].flag,
                           bf_mode_opt_mode(&bf_mode_opts[k]), bf_mode_names[r->mode]);
        }
    return BF_EXIT_OK;
}

/* One `record` option at argv[*i]: 1 if taken, 0 if not a record option, -1 on error. */
static int bf_parse_record_opt(int argc, char **argv, int *i, bf_record_opts *r, char *err,
                               size_t errlen)
{
    const char *a = argv[*i], *v;
    if (bf_flag(a, "--quiet", &r->quiet) || bf_flag(a, "--cluster", &r->cluster))
        return 1;
    int took = bf_parse_mode_opt(argc, argv, i, r, err, errlen);
    if (took)
        return took;
    if (bf_opt_value(argc, argv, i, "--mode", &v)) {
        if (v && !strcmp(v, "sample"))
            r->mode = BF_MODE_SAMPLE;
        else if (v && !strcmp(v, "trace"))
            r->mode = BF_MODE_TRACE;
        else if (v && !strcmp(v, "native"))
            r->mode = BF_MODE_NATIVE;
        else
            return bf_fail(err, errlen, "--mode is sample, trace or native (got %s)",
                           v ? v : "nothing"), -1;
    } else if (bf_opt_value(argc, argv, i, "--call", &v)) {
        if (bf_parse_mfa(v, r) != 0)
            return bf_fail(err, errlen, "--call needs Module:function/Arity, e.g. "
                                        "my_server:handle_call/3 (got %s)", v ? v : "nothing"),
                   -1;
    } else if (bf_opt_value(argc, argv, i, "--calls", &v)) {
        double n;
        if (!v || bf_parse_px(v, 1, 1000, &n) || n != (unsigned)n)
            return bf_fail(err, errlen, "--calls needs a whole number, 1 to 1000 (got %s)",
                           v ? v : "nothing"), -1;
        r->calls = (unsigned)n;
    } else if (bf_opt_value(argc, argv, i, "--duration", &v)) {
        if (bf_parse_seconds(v, 0.001, BF_RECORD_MAX_DURATION_MS / 1000.0, &r->duration_ms))
            return bf_fail(err, errlen, "--duration needs seconds, 0.001 to 3600 (got %s)",
                           v ? v : "nothing"), -1;
    } else if (bf_opt_value(argc, argv, i, "--rate", &v)) {
        double hz;
        if (!v || bf_parse_px(v, 1, 1000, &hz) || hz != (unsigned)hz)
            return bf_fail(err, errlen, "--rate needs a whole number of Hz, 1 to 1000 (got %s)",
                           v ? v : "nothing"), -1;
        r->rate = (unsigned)hz;
    } else if (bf_opt_value(argc, argv, i, "--timeout", &v)) {
        if (bf_parse_seconds(v, 0.1, 3600, &r->timeout_ms))
            return bf_fail(err, errlen, "--timeout needs seconds, 0.1 to 3600 (got %s)",
                           v ? v : "nothing"), -1;
    } else if (bf_opt_value(argc, argv, i, "--cookie-file", &v)) {
        if (!v || !*v)
            return bf_fail(err, errlen, "%s needs a file name", a), -1;
        r->cookie_file = v;
    } else if (bf_opt_value(argc, argv, i, "--cookie", &v)) {
        if (!v || !*v)
            return bf_fail(err, errlen, "%s needs a value", a), -1;
        r->cookie = v;
    } else if (bf_opt_value(argc, argv, i, "--sname", &v) ||
               bf_opt_value(argc, argv, i, "--name", &v)) {
        if (!v || !*v)
            return bf_fail(err, errlen, "%s needs a node name", a), -1;
        if (r->own_name)
            return bf_fail(err, errlen, "%s", "give one of --name and --sname"), -1;
        r->own_name = v;
        r->names = !strncmp(a, "--sname", 7) ? BF_NAMES_SHORT : BF_NAMES_LONG;
    } else {
        return 0;
    }
    return 1;
}

/* dump, list and top: record's connection options, and their own. */
int bf_parse_duration_s(const char *v, unsigned long long max_s, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!v || !*v || *v == '-')
        return -1;
    unsigned long long n = strtoull(v, &end, 10);
    unsigned long long mul = !*end ? 1 : !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60
                           : !strcmp(end, "h") ? 3600 : !strcmp(end, "d") ? 86400 : 0;
    if (errno || end == v || !mul || n == 0 || n > max_s / mul)
        return -1;
    *out = n * mul;
    return 0;
}

int bf_parse_time(const char *v, long long *out)
{
    char *end;
    if (!v || !*v)
        return -1;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*end && !errno && n > 0) {
        *out = n;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    char sep = 0;
    int used = -1;
    if (sscanf(v, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &sep,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 7) {
        tm.tm_sec = 0;
        used = -1;
        if (sscanf(v, "%4d-%2d-%2d%c%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &sep,
                   &tm.tm_hour, &tm.tm_min, &used) != 6)
            return -1;
    }
    const char *rest = used >= 0 ? v + used : "x";
    if ((sep != 'T' && sep != ' ') || (*rest && strcmp(rest, "Z")) || tm.tm_mon < 1 ||
        tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t <= 0)
        return -1;
    *out = (long long)t;
    return 0;
}

/* `continuous start|stop|info NODE [options]`. */
static int bf_parse_continuous(int argc, char **argv, int i, bf_cli *cli, char *err,
                               size_t errlen)
{
    const char *sub = i < argc ? argv[i++] : NULL;
    if (!sub || !bf_word_in(sub, "start stop info"))
        return bf_fail(err, errlen, "continuous needs start, stop or info: beamflame continuous "
                                    "start NODE (got %s)", sub ? sub : "nothing");
    cli->cont = !strcmp(sub, "start") ? BF_CONT_START : !strcmp(sub, "stop") ? BF_CONT_STOP
                                                                             : BF_CONT_INFO;
    for (; i < argc; i++) {
        const char *a = argv[i], *v;
        unsigned long long d;
        int start = cli->cont == BF_CONT_START;
        if (start && bf_opt_value(argc, argv, &i, "--slice", &v)) {
            if (bf_parse_duration_s(v, 3600, &d))
                return bf_fail(err, errlen, "--slice needs a duration, 1s to 1h (got %s)",
                               v ? v : "nothing");
            cli->slice_s = (unsigned)d;
        } else if (start && bf_opt_value(argc, argv, &i, "--keep", &v)) {
            if (bf_parse_duration_s(v, 604800, &d))
                return bf_fail(err, errlen, "--keep needs a duration, 1s to 7d (got %s)",
                               v ? v : "nothing");
            cli->keep_s = (unsigned)d;
        } else if (start && bf_opt_value(argc, argv, &i, "--max-bytes", &v)) {
            char *end;
            errno = 0;
            unsigned long long n = v ? strtoull(v, &end, 10) : 0;
            if (!v || !*v || *end || errno || n < 1048576ULL || n > 17179869184ULL)
                return bf_fail(err, errlen, "--max-bytes needs a whole number, 1048576 to "
                                            "17179869184 (got %s)", v ? v : "nothing");
            cli->cont_max_bytes = n;
        } else if (start && bf_opt_value(argc, argv, &i, "--push", &v)) {
            if (!v || (strncmp(v, "http://", 7) && strncmp(v, "https://", 8)))
                return bf_fail(err, errlen, "--push needs an http:// or https:// URL of a "
                                            "Pyroscope server (got %s)", v ? v : "nothing");
            cli->push_url = v;
        } else if (start && bf_opt_value(argc, argv, &i, "--push-app", &v)) {
            if (!v || !*v)
                return bf_fail(err, errlen, "%s", "--push-app needs a name");
            cli->push_app = v;
        } else if (start && bf_opt_value(argc, argv, &i, "--push-label", &v)) {
            if (!v || !strchr(v, '=') || v[0] == '=')
                return bf_fail(err, errlen, "--push-label needs KEY=VALUE (got %s)",
                               v ? v : "nothing");
            if (cli->npush_labels == BF_MAX_PUSH_LABELS)
                return bf_fail(err, errlen, "at most %d --push-label options",
                               BF_MAX_PUSH_LABELS);
            cli->push_labels[cli->npush_labels++] = v;
        } else if (a[0] != '-') {
            if (cli->rec.node)
                return bf_fail(err, errlen, "continuous takes one node (extra: %s)", a);
            cli->rec.node = a;
        } else {
            unsigned rate = cli->rec.rate;
            int took = bf_parse_record_opt(argc, argv, &i, &cli->rec, err, errlen);
            if (took < 0)
                return BF_EXIT_USAGE;
            if (!took || (!start && (cli->rec.rate != rate || !strcmp(a, "--mode"))) ||
                !strcmp(a, "--duration") || !strcmp(a, "--call") || !strcmp(a, "--calls") ||
                !strcmp(a, "--cluster"))
                return bf_fail(err, errlen, "unknown option for continuous %s: %s (see "
                                            "`beamflame help`)", sub, a);
            cli->rate_given |= cli->rec.rate != rate || !strcmp(a, "--rate");
        }
    }
    if (!cli->rec.node)
        return bf_fail(err, errlen, "continuous %s needs a node: beamflame continuous %s "
                                    "NAME[@HOST]", sub, sub);
    if (cli->push_app && !cli->push_url)
        return bf_fail(err, errlen, "%s", "--push-app goes with --push URL");
    if (cli->push_url && !cli->push_app)
        return bf_fail(err, errlen, "%s", "--push needs --push-app NAME (the application's "
                                          "name in Pyroscope)");
    return bf_check_mode_opts(&cli->rec, err, errlen);
}

static int bf_parse_inspect(int argc, char **argv, int i, bf_cli *cli, char *err, size_t errlen)
{
    for (; i < argc; i++) {
        const char *a = argv[i], *v;
        if (cli->verb == BF_VERB_DUMP && (bf_opt_value(argc, argv, &i, "--pid", &v) ||
                                          bf_opt_value(argc, argv, &i, "--name", &v))) {
            if (!v || !bf_process_ok(v) || strchr(v, '/'))
                return bf_fail(err, errlen, "%s needs a pid like <0.123.0> or a registered "
                                            "name (got %s)", a, v ? v : "nothing");
            if (cli->nselect == BF_MAX_PROCESSES)
                return bf_fail(err, errlen, "at most %d --pid and --name options",
                               BF_MAX_PROCESSES);
            cli->select[cli->nselect++] = v;
        } else if (cli->verb == BF_VERB_DUMP && bf_opt_value(argc, argv, &i, "--top", &v)) {
            double n;
            if (!v || bf_parse_px(v, 1, 10000, &n) || n != (unsigned)n)
                return bf_fail(err, errlen, "--top needs a whole number, 1 to 10000 (got %s)",
                               v ? v : "nothing");
            cli->top = (unsigned)n;
        } else if (cli->verb == BF_VERB_DUMP && bf_opt_value(argc, argv, &i, "--sort", &v)) {
            if (!v || !bf_word_in(v, "memory reductions queue"))
                return bf_fail(err, errlen, "--sort is memory, reductions or queue (got %s)",
                               v ? v : "nothing");
            cli->sort = v;
        } else if (cli->verb == BF_VERB_DUMP && bf_opt_value(argc, argv, &i, "--format", &v)) {
            if (!v || !bf_word_in(v, "text json"))
                return bf_fail(err, errlen, "--format is text or json (got %s)",
                               v ? v : "nothing");
            cli->json = !strcmp(v, "json");
        } else if (cli->verb == BF_VERB_TOP && bf_opt_value(argc, argv, &i, "--interval", &v)) {
            if (bf_parse_seconds(v, 0.2, 60, &cli->interval_ms))
                return bf_fail(err, errlen, "--interval needs seconds, 0.2 to 60 (got %s)",
                               v ? v : "nothing");
        } else if (cli->verb == BF_VERB_TOP && bf_flag(a, "--once", &cli->once)) {
            continue;
        } else if (a[0] != '-') {
            if (cli->verb == BF_VERB_LIST) {
                if (cli->host)
                    return bf_fail(err, errlen, "list takes one host (extra: %s)", a);
                cli->host = a;
            } else {
                if (cli->rec.node)
                    return bf_fail(err, errlen, "%s takes one node (extra: %s)", argv[1], a);
                cli->rec.node = a;
            }
        } else {
            int took = bf_parse_record_opt(argc, argv, &i, &cli->rec, err, errlen);
            if (took < 0)
                return BF_EXIT_USAGE;
            if (!took)
                return bf_fail(err, errlen, "unknown option for %s: %s (see `beamflame help`)",
                               argv[1], a);
        }
    }
    if (cli->verb != BF_VERB_LIST && !cli->rec.node)
        return bf_fail(err, errlen, "%s needs a node: beamflame %s NAME[@HOST]", argv[1],
                       argv[1]);
    if (cli->verb == BF_VERB_TOP && cli->rec.mode == BF_MODE_TRACE)
        return bf_fail(err, errlen, "%s", "top samples: --mode sample or native");
    return bf_check_mode_opts(&cli->rec, err, errlen);
}

static int bf_parse_svg(int argc, char **argv, int i, bf_cli *cli, char *err, size_t errlen)
{
    int format = -1, interactive_off = 0;
    int diff = cli->verb == BF_VERB_DIFF;
    for (; i < argc; i++) {
        const char *a = argv[i], *v;
        if ((diff && bf_flag(a, "--normalize", &cli->normalize)) ||
            bf_flag(a, "--reverse", &cli->svg.reverse) ||
            bf_flag(a, "--inverted", &cli->svg.inverted) ||
            bf_flag(a, "--flamechart", &cli->svg.flamechart) ||
            bf_flag(a, "--static", &interactive_off))
            continue;
        if (cli->verb == BF_VERB_HISTORY) {
            unsigned long long d;
            if (bf_opt_value(argc, argv, &i, "--last", &v)) {
                if (bf_parse_duration_s(v, 604800, &d))
                    return bf_fail(err, errlen, "--last needs a duration, e.g. 30s, 10m or 1h "
                                                "(got %s)", v ? v : "nothing");
                cli->last_s = d;
                continue;
            }
            if (bf_opt_value(argc, argv, &i, "--from", &v) ||
                bf_opt_value(argc, argv, &i, "--to", &v)) {
                long long *t = !strcmp(a, "--from") ? &cli->from_s : &cli->to_s;
                if (bf_parse_time(v, t))
                    return bf_fail(err, errlen, "%s needs Unix seconds or a UTC time "
                                                "YYYY-MM-DDTHH:MM[:SS] (got %s)", a,
                                   v ? v : "nothing");
                continue;
            }
            if (a[0] != '-') {
                if (cli->rec.node)
                    return bf_fail(err, errlen, "history takes one node (extra: %s)", a);
                cli->rec.node = a;
                continue;
            }
        }
        if (cli->verb == BF_VERB_RECORD || cli->verb == BF_VERB_HISTORY) {
            int took = bf_parse_record_opt(argc, argv, &i, &cli->rec, err, errlen);
            if (took < 0)
                return BF_EXIT_USAGE;
            if (took && cli->verb == BF_VERB_HISTORY &&
                (bf_word_in(a, "--mode --call --calls --duration --rate --cluster") ||
                 !strncmp(a, "--max-", 6) || bf_word_in(a, "--states --group --process "
                                                           "--recursion --tail-calls --dirty "
                                                           "--no-idle")))
                return bf_fail(err, errlen, "history takes a window and connection options, "
                                            "not %s (the recording's options are continuous "
                                            "start's)", a);
            if (took)
                continue;
        }
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
            size_t n = v ? strlen(v) : 0;
            if (n > 1 && v[n - 1] == '%') {
                char num[64];
                snprintf(num, sizeof(num), "%.*s", (int)(n - 1), v);
                if (n - 1 >= sizeof(num) || bf_parse_px(num, 0, 100, &cli->svg.min_width_pct))
                    return bf_fail(err, errlen, "--minwidth in percent must be 0%%..100%% (got %s)",
                                   v);
            } else if (!v || bf_parse_px(v, 0, BF_SVG_MAX_WIDTH, &cli->svg.min_width)) {
                return bf_fail(err, errlen,
                               "--minwidth needs a number of pixels or a percent, e.g. 0.5 "
                               "or 1%% (got %s)",
                               v ? v : "nothing");
            }
        } else if (bf_opt_value(argc, argv, &i, "--subtitle", &v)) {
            if (!v)
                return bf_fail(err, errlen, "%s needs a text", a);
            cli->svg.subtitle = v;
        } else if (bf_opt_value(argc, argv, &i, "--countname", &v)) {
            if (!v || !*v || strlen(v) > 64)
                return bf_fail(err, errlen, "%s needs a name of 1 to 64 bytes", a);
            cli->svg.count_name = v;
        } else if (bf_opt_value(argc, argv, &i, "--height", &v)) {
            if (!v || bf_parse_px(v, 2, 1000, &cli->svg.frame_height))
                return bf_fail(err, errlen, "--height needs a frame height of 2 to 1000 pixels "
                                            "(got %s)", v ? v : "nothing");
        } else if (bf_opt_value(argc, argv, &i, "--fontsize", &v)) {
            if (!v || bf_parse_px(v, 1, 200, &cli->svg.font_size))
                return bf_fail(err, errlen, "--fontsize needs 1 to 200 pixels (got %s)",
                               v ? v : "nothing");
        } else if (bf_opt_value(argc, argv, &i, "--maxframes", &v)) {
            char *end;
            unsigned long long n = v ? strtoull(v, &end, 10) : 0;
            if (!v || !*v || *end || v[0] == '-')
                return bf_fail(err, errlen, "--maxframes needs a whole number, 0 for no limit "
                                            "(got %s)", v ? v : "nothing");
            cli->svg.max_frames = n;
        } else if (bf_opt_value(argc, argv, &i, "--palette", &v)) {
            int p = v ? bf_palette_parse(v) : -1;
            if (p < 0)
                return bf_fail(err, errlen, "--palette is hot or beam (got %s)", v ? v : "nothing");
            cli->svg.palette = (bf_palette)p;
        } else if (bf_opt_value(argc, argv, &i, "--format", &v)) {
            format = v ? bf_format_parse(v) : -1;
            if (format < 0)
                return bf_fail(err, errlen, "--format is svg, html, speedscope, folded or pprof (got %s)",
                               v ? v : "nothing");
        } else if (cli->verb == BF_VERB_RECORD && a[0] != '-') {
            if (cli->rec.nnodes == BF_MAX_NODES)
                return bf_fail(err, errlen, "record takes at most %d nodes", BF_MAX_NODES);
            cli->rec.nodes[cli->rec.nnodes++] = a;
            if (!cli->rec.node)
                cli->rec.node = a;
        } else if (strcmp(a, "-") == 0 || a[0] != '-') {
            if (!cli->input)
                cli->input = a;
            else if (diff && !cli->input2)
                cli->input2 = a;
            else
                return bf_fail(err, errlen,
                               diff ? "diff takes two input files (extra: %s)"
                                    : "svg takes one input file (extra: %s)",
                               a);
        } else {
            return bf_fail(err, errlen,
                           "unknown option: %s (see `beamflame help`)", a);
        }
    }
    if (cli->svg.min_width > cli->svg.width)
        return bf_fail(err, errlen, "%s", "--minwidth cannot exceed --width");
    cli->svg.interactive = !interactive_off;
    cli->format_given = format >= 0;
    if (format < 0 && cli->output)
        format = bf_format_from_path(cli->output);
    cli->format = format < 0 ? BF_FORMAT_SVG : (bf_format)format;
    if (cli->verb == BF_VERB_RECORD && !cli->rec.node)
        return bf_fail(err, errlen, "%s", "record needs a node: beamflame record NAME[@HOST]");
    if (cli->verb == BF_VERB_HISTORY) {
        if (!cli->rec.node)
            return bf_fail(err, errlen, "%s", "history needs a node: beamflame history NODE "
                                              "--last 10m -o out.svg");
        if (!!cli->last_s == !!(cli->from_s || cli->to_s) ||
            (!cli->last_s && (!cli->from_s || !cli->to_s)))
            return bf_fail(err, errlen, "%s", "history needs --last DURATION, or --from T and "
                                              "--to T");
        if (!cli->last_s && cli->from_s >= cli->to_s)
            return bf_fail(err, errlen, "%s", "--from must come before --to");
    }
    if (cli->verb == BF_VERB_RECORD && bf_check_mode_opts(&cli->rec, err, errlen))
        return BF_EXIT_USAGE;
    if (cli->verb == BF_VERB_RECORD && cli->rec.mode == BF_MODE_TRACE && !cli->rec.call_module[0])
        return bf_fail(err, errlen, "%s", "--mode trace needs --call Module:function/Arity");
    if (cli->verb == BF_VERB_RECORD && cli->rec.mode == BF_MODE_TRACE &&
        !strcmp(cli->svg.count_name, "samples"))
        cli->svg.count_name = "us";
    if (diff) {
        if (!cli->input || !cli->input2)
            return bf_fail(err, errlen, "%s", "diff needs two folded files: BEFORE AFTER");
        if (!strcmp(cli->input, "-") && !strcmp(cli->input2, "-"))
            return bf_fail(err, errlen, "%s", "diff can read only one of its inputs from -");
        if (cli->format != BF_FORMAT_SVG && cli->format != BF_FORMAT_HTML)
            return bf_fail(err, errlen, "%s", "diff writes svg or html");
    }
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
    if (!strcmp(verb, "record")) {
        cli->verb = BF_VERB_RECORD;
        cli->rec.rate = BF_RECORD_DEFAULT_RATE;
        cli->rec.timeout_ms = BF_RECORD_DEFAULT_TIMEOUT_MS;
        cli->rec.calls = 1;
        int rc = bf_parse_svg(argc, argv, 2, cli, err, errlen);
        if (!cli->rec.duration_ms) /* the API's defaults */
            cli->rec.duration_ms = cli->rec.mode == BF_MODE_TRACE ? BF_TRACE_DEFAULT_WAIT_MS
                                                                  : BF_RECORD_DEFAULT_DURATION_MS;
        return rc;
    }
    if (!strcmp(verb, "dump") || !strcmp(verb, "list") || !strcmp(verb, "top")) {
        cli->verb = !strcmp(verb, "dump") ? BF_VERB_DUMP
                    : !strcmp(verb, "list") ? BF_VERB_LIST : BF_VERB_TOP;
        cli->rec.rate = BF_RECORD_DEFAULT_RATE;
        cli->rec.timeout_ms = BF_RECORD_DEFAULT_TIMEOUT_MS;
        cli->rec.duration_ms = BF_RECORD_MAX_DURATION_MS;
        cli->top = 100;
        cli->sort = "memory";
        cli->interval_ms = 1000;
        return bf_parse_inspect(argc, argv, 2, cli, err, errlen);
    }
    if (!strcmp(verb, "diff")) {
        cli->verb = BF_VERB_DIFF;
        return bf_parse_svg(argc, argv, 2, cli, err, errlen);
    }
    if (!strcmp(verb, "history")) {
        cli->verb = BF_VERB_HISTORY;
        cli->rec.timeout_ms = BF_RECORD_DEFAULT_TIMEOUT_MS;
        return bf_parse_svg(argc, argv, 2, cli, err, errlen);
    }
    if (!strcmp(verb, "continuous")) {
        cli->verb = BF_VERB_CONTINUOUS;
        cli->rec.timeout_ms = BF_RECORD_DEFAULT_TIMEOUT_MS;
        cli->rec.rate = BF_RECORD_DEFAULT_RATE;
        return bf_parse_continuous(argc, argv, 2, cli, err, errlen);
    }
    return bf_fail(err, errlen, "unknown command: %s (try `beamflame help`)", verb);
}
