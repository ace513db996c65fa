/* bf_topview: `beamflame top NODE`: a live view of where a node's time goes, refreshed
 * every interval, over the same hidden connection as `record`.
 *
 * Sample mode: one long run on the node, grouped by process; each refresh peeks at its
 * profile so far (beamflame_remote:peek/2) and at the node's state (run queue, scheduler
 * utilisation, the busiest processes by reductions). Native mode: one run per interval,
 * added up here. The numbers come from bf_top (pure, tested); this file draws them.
 *
 * The terminal: an alternate screen, the cursor hidden, keys read without echo; every
 * way out (q, Ctrl-C, SIGTERM, a lost node) restores it. When standard output is not a
 * terminal, each interval is printed as a plain snapshot instead (--once: one).
 */
#include "bf_topview.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <ei.h>

#include "../core/bf_buf.h"
#include "../core/bf_top.h"
#include "bf_node.h"
#include "bf_record.h"

#define BF_ERR 1024
#define BF_TOP_ROWS 200
#define BF_TOP_PROCS 15

static volatile sig_atomic_t bf_top_quit, bf_top_resized;
static struct termios bf_top_saved;
static int bf_top_raw;

static void bf_top_on_signal(int sig)
{
    if (sig == SIGWINCH)
        bf_top_resized = 1;
    else
        bf_top_quit = 1;
}

static void bf_top_restore(void)
{
    if (!bf_top_raw)
        return;
    /* leave the alternate screen, show the cursor, give the terminal back as it was */
    fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    tcsetattr(STDIN_FILENO, TCSANOW, &bf_top_saved);
    bf_top_raw = 0;
}

static int bf_top_enter(void)
{
    if (tcgetattr(STDIN_FILENO, &bf_top_saved) != 0)
        return -1;
    struct termios t = bf_top_saved;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) != 0)
        return -1;
    bf_top_raw = 1;
    atexit(bf_top_restore);
    fputs("\033[?1049h\033[?25l", stdout);
    fflush(stdout);
    return 0;
}

static void bf_top_size(int *rows, int *cols)
{
    struct winsize w;
    *rows = 24;
    *cols = 80;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_row && w.ws_col) {
        *rows = w.ws_row;
        *cols = w.ws_col;
    }
}

/* A busy process, as a peek tells it. */
typedef struct {
    char pid[32], name[256], init[256], current[256];
    long long qlen, mem, reds;
} bf_top_proc;

/* What a refresh brought: the node's state, and the busiest processes. */
typedef struct {
    long long run_queue, schedulers, processes, util, samples, missed, waits;
    char otp[16];
    int nbusy;
    bf_top_proc busy[BF_TOP_PROCS];
} bf_top_state;

static void bf_bin(const ei_x_buff *r, int *i, char *out, size_t len)
{
    int type, size;
    long n;
    out[0] = '\0';
    if (ei_get_type(r->buff, i, &type, &size) == 0 && type == ERL_BINARY_EXT &&
        (size_t)size < len && ei_decode_binary(r->buff, i, out, &n) == 0)
        out[n] = '\0';
    else
        ei_skip_term(r->buff, i);
}

/* beamflame_remote:peek(Session, Procs) -> {ok, Folded, Stats, Busiest}: fed to top and st. */
static int bf_top_peek(bf_node *n, const erlang_pid *session, int procs, bf_top *top,
                       bf_top_state *st, char *err, size_t errlen)
{
    ei_x_buff a, r;
    ei_x_new(&a);
    ei_x_new(&r);
    bf_args(&a, 2);
    ei_x_encode_pid(&a, session);
    ei_x_encode_long(&a, procs);
    bf_args_end(&a);
    int idx, arity, type, size, rc;
    rc = bf_node_call(n, "beamflame_remote", "peek", &a, &r, &idx, err, errlen);
    if (rc != BF_EXIT_OK)
        goto done;
    if ((rc = bf_remote_error(n, &r, idx, err, errlen)) != BF_EXIT_OK)
        goto done;
    int i = idx;
    char atom[MAXATOMLEN];
    if (ei_decode_tuple_header(r.buff, &i, &arity) || arity != 4 ||
        ei_decode_atom(r.buff, &i, atom) || strcmp(atom, "ok") ||
        ei_get_type(r.buff, &i, &type, &size) || type != ERL_BINARY_EXT) {
        snprintf(err, errlen, "unexpected answer from %s", n->name);
        rc = BF_EXIT_REMOTE;
        goto done;
    }
    if (bf_top_update(top, r.buff + i + 5, (size_t)size, 1) != 0) {
        snprintf(err, errlen, "out of memory");
        rc = BF_EXIT_NOMEM;
        goto done;
    }
    ei_skip_term(r.buff, &i);
    /* the stats map, in one pass: integers by key, and the OTP release */
    int mn;
    if (ei_decode_map_header(r.buff, &i, &mn) == 0) {
        struct { const char *key; long long *to; } ints[] = {
            {"run_queue", &st->run_queue}, {"schedulers", &st->schedulers},
            {"process_count", &st->processes}, {"utilisation", &st->util},
            {"samples", &st->samples}, {"missed_ticks", &st->missed},
            {"waits_dropped", &st->waits}};
        for (int k = 0; k < mn; k++) {
            char key[MAXATOMLEN];
            long long *to = NULL;
            if (ei_decode_atom(r.buff, &i, key))
                break;
            for (size_t j = 0; j < sizeof(ints) / sizeof(ints[0]) && !to; j++)
                if (!strcmp(key, ints[j].key))
                    to = ints[j].to;
            if (!strcmp(key, "otp_release"))
                bf_bin(&r, &i, st->otp, sizeof(st->otp));
            else if (!to || ei_decode_longlong(r.buff, &i, to))
                ei_skip_term(r.buff, &i);
        }
    }
    int rows = 0;
    st->nbusy = 0;
    if (ei_get_type(r.buff, &i, &type, &size) == 0 && type == ERL_LIST_EXT &&
        ei_decode_list_header(r.buff, &i, &rows) == 0)
        for (int k = 0; k < rows && st->nbusy < BF_TOP_PROCS; k++) {
            char status[MAXATOMLEN];
            if (ei_decode_tuple_header(r.buff, &i, &arity) || arity != 9)
                break;
            bf_top_proc *b = &st->busy[st->nbusy++];
            bf_bin(&r, &i, b->pid, sizeof(b->pid));
            bf_bin(&r, &i, b->name, sizeof(b->name));
            bf_bin(&r, &i, b->init, sizeof(b->init));
            if (ei_decode_atom(r.buff, &i, status) || ei_decode_longlong(r.buff, &i, &b->qlen) ||
                ei_decode_longlong(r.buff, &i, &b->mem) || ei_decode_longlong(r.buff, &i, &b->reds))
                break;
            bf_bin(&r, &i, b->current, sizeof(b->current));
            ei_skip_term(r.buff, &i); /* the (empty) stack */
        }
done:
    ei_x_free(&a);
    ei_x_free(&r);
    return rc;
}

/* Native mode: one run per interval, started, waited for and fetched here. */
static int bf_top_native(bf_node *n, const bf_record_opts *o, unsigned ms, bf_top *top,
                         char *err, size_t errlen)
{
    bf_record_opts ro = *o;
    ro.duration_ms = ms;
    erlang_pid session;
    int rc = bf_session_start(n, &ro, &session, err, errlen);
    if (rc != BF_EXIT_OK)
        return rc;
    ei_x_buff r;
    ei_x_new(&r);
    int idx, arity, type, size;
    char atom[MAXATOMLEN];
    for (;;) {
        if ((rc = bf_node_idle(n, 100, err, errlen)) != BF_EXIT_OK)
            break;
        rc = bf_session_call(n, "status", &session, &r, &idx, err, errlen);
        if (rc != BF_EXIT_OK)
            break;
        int i = idx;
        if ((rc = bf_remote_error(n, &r, idx, err, errlen)) != BF_EXIT_OK)
            break;
        if (ei_decode_tuple_header(r.buff, &i, &arity) == 0 &&
            ei_decode_atom(r.buff, &i, atom) == 0 && !strcmp(atom, "done"))
            break;
        if (bf_top_quit) {
            bf_session_call(n, "stop", &session, &r, &idx, err, errlen);
            bf_top_quit = 0;
        }
    }
    if (rc == BF_EXIT_OK && (rc = bf_session_call(n, "fetch", &session, &r, &idx, err,
                                                   errlen)) == BF_EXIT_OK) {
        int i = idx;
        rc = bf_remote_error(n, &r, idx, err, errlen);
        if (rc == BF_EXIT_OK && ei_decode_tuple_header(r.buff, &i, &arity) == 0 &&
                 ei_decode_atom(r.buff, &i, atom) == 0 &&
                 ei_get_type(r.buff, &i, &type, &size) == 0 && type == ERL_BINARY_EXT &&
                 bf_top_add_interval(top, r.buff + i + 5, (size_t)size, 1) != 0)
            rc = BF_EXIT_NOMEM;
    }
    ei_x_free(&r);
    return rc;
}

static double bf_pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* The process root frame of a busy process, as the sampler names it (group => process). */
static void bf_root_of(const char *pid, const char *name, const char *init, char *out,
                       size_t len)
{
    if (name[0])
        snprintf(out, len, "%s", name);
    else if (init[0])
        snprintf(out, len, "%s %s", init, pid);
    else
        snprintf(out, len, "%s", pid);
}

static void bf_line(bf_buf *b, int cols, const char *s, int tty)
{
    int n = (int)strlen(s);
    bf_buf_printf(b, "%.*s%s\n", n > cols ? cols : n, s, tty ? "\033[K" : "");
}

static void bf_draw(const bf_cli *cli, const char *node, bf_top *top, const bf_top_state *st,
                    int procs, int by_total, int by_samples, int tty, double secs)
{
    int rows, cols;
    bf_top_size(&rows, &cols);
    if (!tty)
        cols = 200, rows = 40;
    bf_buf b;
    bf_buf_init(&b, stdout);
    if (tty)
        bf_buf_puts(&b, "\033[H");
    char line[1024];
    uint64_t iv, all;
    bf_top_samples(top, &iv, &all);
    if (cli->rec.mode == BF_MODE_NATIVE)
        snprintf(line, sizeof(line), "beamflame top  %s  native: scheduler threads, %u Hz  "
                                     "%llu samples in the last %.1f s", node, cli->rec.rate,
                 (unsigned long long)iv, secs);
    else
        snprintf(line, sizeof(line), "beamflame top  %s  OTP %s  schedulers %lld  run queue "
                                     "%lld  utilisation %lld%%  processes %lld", node, st->otp,
                 st->schedulers, st->run_queue, (st->util + 5) / 10, st->processes);
    bf_line(&b, cols, line, tty);
    if (cli->rec.mode != BF_MODE_NATIVE) {
        snprintf(line, sizeof(line), "sample %u Hz: %llu samples in the last %.1f s (%.0f/s), "
                                     "%lld missed ticks, %lld looks at receives left out",
                 cli->rec.rate, (unsigned long long)iv, secs, secs > 0 ? (double)iv / secs : 0.0,
                 st->missed, st->waits);
        bf_line(&b, cols, line, tty);
    }
    bf_line(&b, cols, "", tty);
    int budget = rows - 6;
    if (!procs) {
        bf_line(&b, cols, "  OWN%  TOTAL% |  OWN%  TOTAL%  FUNCTION   (last interval | since "
                          "start)", tty);
        static bf_top_row r[BF_TOP_ROWS];
        size_t n = bf_top_rows(top, 0, by_total, r, budget > 0 ? (size_t)budget : 0);
        for (size_t k = 0; k < n; k++) {
            snprintf(line, sizeof(line), "%6.1f %6.1f  | %5.1f %6.1f   %s",
                     bf_pct(r[k].own, iv), bf_pct(r[k].total, iv), bf_pct(r[k].own_all, all),
                     bf_pct(r[k].total_all, all), r[k].name);
            bf_line(&b, cols, line, tty);
        }
        for (int k = (int)n; tty && k < budget; k++)
            bf_line(&b, cols, "", tty);
    } else {
        bf_line(&b, cols, " SAMPLES%   REDS/S  QUEUE     MEMORY  PROCESS                       "
                          "          CURRENT FUNCTION", tty);
        static bf_top_row r[BF_TOP_ROWS];
        size_t n = bf_top_rows(top, 1, 0, r, BF_TOP_ROWS);
        int shown = 0;
        if (by_samples) {
            /* by samples: the processes the sampler saw, with what the peek knows of them */
            for (size_t j = 0; j < n && shown < budget && r[j].own; j++, shown++) {
                const bf_top_proc *p = NULL;
                for (int k = 0; k < st->nbusy && !p; k++) {
                    char root[600];
                    bf_root_of(st->busy[k].pid, st->busy[k].name, st->busy[k].init, root,
                               sizeof(root));
                    if (!strcmp(root, r[j].name))
                        p = &st->busy[k];
                }
                char reds[32] = "-", q[32] = "-", mem[32] = "-";
                if (p && p->reds >= 0 && secs > 0)
                    snprintf(reds, sizeof(reds), "%.0f", (double)p->reds / secs);
                if (p)
                    snprintf(q, sizeof(q), "%lld", p->qlen), snprintf(mem, sizeof(mem), "%lld",
                                                                     p->mem);
                snprintf(line, sizeof(line), " %7.1f %9s %6s %10s  %-40.40s %s",
                         bf_pct(r[j].own, iv), reds, q, mem, r[j].name, p ? p->current : "");
                bf_line(&b, cols, line, tty);
            }
        }
        for (int k = 0; !by_samples && k < st->nbusy && shown < budget; k++, shown++) {
            char root[600];
            bf_root_of(st->busy[k].pid, st->busy[k].name, st->busy[k].init, root, sizeof(root));
            uint64_t s = 0;
            for (size_t j = 0; j < n; j++)
                if (!strcmp(r[j].name, root))
                    s = r[j].own;
            char who[700];
            snprintf(who, sizeof(who), "%s%s%s", st->busy[k].pid,
                     st->busy[k].name[0] || st->busy[k].init[0] ? " " : "",
                     st->busy[k].name[0] ? st->busy[k].name : st->busy[k].init);
            char reds[32];
            if (st->busy[k].reds < 0)
                snprintf(reds, sizeof(reds), "-"); /* the first look: no baseline yet */
            else
                snprintf(reds, sizeof(reds), "%.0f",
                         secs > 0 ? (double)st->busy[k].reds / secs : 0.0);
            snprintf(line, sizeof(line), " %7.1f %9s %6lld %10lld  %-40.40s %s", bf_pct(s, iv),
                     reds, st->busy[k].qlen, st->busy[k].mem, who, st->busy[k].current);
            bf_line(&b, cols, line, tty);
        }
        for (int k = shown; tty && k < budget; k++)
            bf_line(&b, cols, "", tty);
    }
    bf_line(&b, cols, "", tty);
    if (procs)
        snprintf(line, sizeof(line), "[r] sort by reductions  [s] by samples  [p] functions  "
                                     "[q] quit   sorted by: %s",
                 by_samples ? "samples" : "reductions");
    else
        snprintf(line, sizeof(line), "[o] sort by own  [t] by total  [p] processes  [q] quit   "
                                     "sorted by: %s", by_total ? "total" : "own");
    if (tty)
        bf_buf_printf(&b, "%.*s\033[K", (int)strlen(line) > cols ? cols : (int)strlen(line),
                      line);
    else
        bf_buf_puts(&b, "\n");
    bf_buf_flush(&b);
    bf_buf_free(&b);
    fflush(stdout);
}

/* Waits up to ms for a key (or a signal); handles it. 1 when it is time to quit. */
static int bf_top_keys(unsigned ms, int *procs, int *by_total, int *by_samples, int *redraw)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (bf_top_quit)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long spent = (now.tv_sec - t0.tv_sec) * 1000LL + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= (long long)ms)
            return 0;
        struct pollfd p = {STDIN_FILENO, POLLIN, 0};
        int r = poll(&p, 1, (int)((long long)ms - spent));
        if (r < 0 && errno == EINTR) {
            if (bf_top_resized) {
                bf_top_resized = 0;
                *redraw = 1;
                return 0;
            }
            continue;
        }
        if (r > 0) {
            char c;
            if (read(STDIN_FILENO, &c, 1) != 1)
                return 0;
            if (c == 'q' || c == 'Q' || c == 3)
                return 1;
            if (c == 'p' || c == 'P')
                *procs = !*procs;
            else if (c == 'o' || c == 'O')
                *by_total = 0;
            else if (c == 't' || c == 'T')
                *by_total = 1;
            else if (c == 's' || c == 'S')
                *by_samples = 1;
            else if (c == 'r' || c == 'R')
                *by_samples = 0;
            else
                continue;
            *redraw = 1;
            return 0;
        }
    }
}

int bf_top_run(const bf_cli *cli_in)
{
    bf_cli cli = *cli_in;
    char err[BF_ERR] = "";
    bf_node n;
    memset(&n, 0, sizeof(n));
    n.fd = -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bf_top_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    int tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO) && !cli.once;
    bf_top *top = bf_top_new();
    bf_top_state st;
    memset(&st, 0, sizeof(st));
    snprintf(st.otp, sizeof(st.otp), "?");
    double connected_ms;
    const char *how;
    int rc = top ? bf_attach_node(&n, &cli.rec, &connected_ms, &how, err, sizeof(err))
                 : BF_EXIT_NOMEM;
    if (rc != BF_EXIT_OK)
        goto done;
    /* sample mode: one long run, a root frame per process */
    erlang_pid session;
    int native = cli.rec.mode == BF_MODE_NATIVE;
    if (!native) {
        for (size_t k = 0; k < bf_mode_opt_count; k++)
            if (!strcmp(bf_mode_opts[k].key, "group"))
                cli.rec.mopt[k] = "process";
        cli.rec.duration_ms = 3600 * 1000;
        if ((rc = bf_session_start(&n, &cli.rec, &session, err, sizeof(err))) != BF_EXIT_OK)
            goto done;
    }
    if (tty && bf_top_enter() != 0)
        tty = 0;
    int procs = 0, by_total = 0, by_samples = 0;
    struct timespec last, now;
    clock_gettime(CLOCK_MONOTONIC, &last);
    if (!native) /* the baseline: intervals are told from here */
        bf_top_peek(&n, &session, 0, top, &st, err, sizeof(err));
    for (;;) {
        int redraw = 0;
        if (native) {
            if ((rc = bf_top_native(&n, &cli.rec, cli.interval_ms, top, err, sizeof(err))) !=
                BF_EXIT_OK)
                break;
        } else {
            /* the interval passes here; keys answered at once */
            unsigned left = cli.interval_ms;
            while (!bf_top_quit) {
                if (bf_top_keys(left, &procs, &by_total, &by_samples, &redraw) || bf_top_quit) {
                    bf_top_quit = 1;
                    break;
                }
                clock_gettime(CLOCK_MONOTONIC, &now);
                long long spent = (now.tv_sec - last.tv_sec) * 1000LL +
                                  (now.tv_nsec - last.tv_nsec) / 1000000;
                if (spent >= (long long)cli.interval_ms)
                    break;
                left = (unsigned)((long long)cli.interval_ms - spent);
                if (redraw)
                    break; /* a key: draw what we have, with its new view */
            }
            if (bf_top_quit)
                break;
            if (!redraw || procs) {
                rc = bf_top_peek(&n, &session, procs ? BF_TOP_PROCS : 0, top, &st, err,
                                 sizeof(err));
                if (rc != BF_EXIT_OK)
                    break;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        double secs = (double)(now.tv_sec - last.tv_sec) +
                      (double)(now.tv_nsec - last.tv_nsec) / 1e9;
        last = now;
        bf_draw(&cli, n.name, top, &st, procs, by_total, by_samples, tty, secs);
        if (cli.once || bf_top_quit)
            break;
        if (native && tty) {
            int dummy = 0;
            if (bf_top_keys(1, &procs, &by_total, &by_samples, &dummy))
                break;
        }
    }
    if (!native && n.fd >= 0) {
        /* end the run: the session stops it and undoes what it set */
        ei_x_buff r;
        ei_x_new(&r);
        int idx;
        char e2[BF_ERR];
        if (bf_session_call(&n, "stop", &session, &r, &idx, e2, sizeof(e2)) == BF_EXIT_OK) {
            for (int k = 0; k < 100; k++) {
                int i, arity;
                char atom[MAXATOMLEN];
                if (bf_session_call(&n, "status", &session, &r, &idx, e2, sizeof(e2)) !=
                    BF_EXIT_OK)
                    break;
                i = idx;
                if (ei_decode_tuple_header(r.buff, &i, &arity) == 0 &&
                    ei_decode_atom(r.buff, &i, atom) == 0 && strcmp(atom, "running"))
                    break;
                bf_node_idle(&n, 50, e2, sizeof(e2));
            }
            bf_session_call(&n, "fetch", &session, &r, &idx, e2, sizeof(e2));
        }
        ei_x_free(&r);
    }
done:
    bf_top_restore();
    if (rc != BF_EXIT_OK && err[0])
        fprintf(stderr, "beamflame: %s\n", err);
    bf_node_close(&n);
    bf_top_free(top);
    return rc;
}
