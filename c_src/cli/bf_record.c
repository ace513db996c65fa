/* bf_record: the record verb. What it does to the target, in order:
 *   1. checks that this build can run there: OTP release, NIF version, architecture and
 *      word size (read with erlang:system_info/1; this build's values are baked in at
 *      build time, bf_build_facts.h), then beamflame's version if the node has one;
 *   2. if the node lacks beamflame: loads beamflame_attach from ebin/ and calls
 *      beamflame_attach:install/4 with the other modules, the .app file, the NIF
 *      library (which the node writes to a private 0700 directory, loads and deletes)
 *      and native mode's port program (kept in memory, written out for each run);
 *   3. starts a session (beamflame_remote:start/3: sample, native, or trace of the next
 *      calls of one function) owned by this C node's pid: if this
 *      program dies or the connection drops, the node stops the run and undoes it;
 *   4. polls it (progress line on a terminal), stops it early on Ctrl-C, fetches the
 *      folded stacks and renders them here, so the node does no rendering.
 * The modules stay loaded afterwards (inert: no process runs; the session stops the
 * application it started), so the next record starts at once.
 */
#include "bf_record.h"
#include "bf_compat.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/bf_folded.h"
#include "bf_build_facts.h"
#include "bf_names.h"
#include "bf_node.h"
#include "bf_output.h"

#define BF_POLL_MS 250                  /* status poll period while recording */
#define BF_STOP_WAIT_MS 300000u         /* after Ctrl-C, how long one call may take: the
                                         * node undoes a trace (a code barrier per traced
                                         * module on OTP 25-26) and merges what it has */
#define BF_MAX_FILE ((size_t)64 << 20)  /* a .beam, .app or .so we push: far below */
#define BF_ERR 1024

static volatile sig_atomic_t bf_interrupts; /* Ctrl-C / SIGTERM count */

static void bf_on_interrupt(int sig)
{
    (void)sig;
    if (++bf_interrupts >= 2) {
        static const char msg[] = "\nbeamflame: interrupted again: leaving without writing "
                                  "(the node undoes the recording itself)\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)w;
        _exit(BF_EXIT_INTERRUPTED);
    }
}

static long long bf_ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000LL + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static double bf_ms_since_f(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Arguments: an encoded list of n elements, without a version byte (ei_rpc_to puts the
 * list inside its own term). */
void bf_args(ei_x_buff *x, int n)
{
    ei_x_free(x);
    ei_x_new(x);
    if (n > 0)
        ei_x_encode_list_header(x, n);
}

void bf_args_end(ei_x_buff *x)
{
    ei_x_encode_empty_list(x);
}

/* Reads a whole file (at most BF_MAX_FILE). Returns a malloc'd buffer or NULL. */
static char *bf_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = ncap <= BF_MAX_FILE ? realloc(buf, ncap) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Where this program's Erlang side lives: BEAMFLAME_EBIN, else next to priv/ (an install)
 * or in rebar3's build tree (a checkout). priv is this executable's directory. */
static int bf_find_dirs(char *ebin, size_t ebinlen, char *priv, size_t privlen)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    snprintf(priv, privlen, "%s", exe);
    const char *env = getenv("BEAMFLAME_EBIN");
    char cand[3][PATH_MAX + 64];
    int k = 0;
    if (env && *env)
        snprintf(cand[k++], sizeof(cand[0]), "%s", env);
    snprintf(cand[k++], sizeof(cand[0]), "%s/../ebin", exe);
    snprintf(cand[k++], sizeof(cand[0]), "%s/../_build/default/lib/beamflame/ebin", exe);
    for (int i = 0; i < k; i++) {
        char app[PATH_MAX + 80];
        snprintf(app, sizeof(app), "%s/beamflame.app", cand[i]);
        if (access(app, R_OK) == 0) {
            snprintf(ebin, ebinlen, "%s", cand[i]);
            return 0;
        }
    }
    return -1;
}

/* A string-valued reply (a charlist) into out. */
static int bf_reply_string(const ei_x_buff *r, int idx, char *out, size_t len)
{
    int type, size;
    if (ei_get_type(r->buff, &idx, &type, &size) || (size_t)size >= len)
        return -1;
    if (type == ERL_NIL_EXT) {
        out[0] = '\0';
        return 0;
    }
    return ei_decode_string(r->buff, &idx, out);
}

/* The node's value of a system_info item, as text ("?" when it answers something else). */
int bf_node_fact(bf_node *n, const char *item, char *theirs, size_t len, char *err,
                 size_t errlen)
{
    ei_x_buff a, r;
    ei_x_new(&a);
    ei_x_new(&r);
    bf_args(&a, 1);
    if (!strcmp(item, "wordsize")) {
        ei_x_encode_tuple_header(&a, 2);
        ei_x_encode_atom(&a, "wordsize");
        ei_x_encode_atom(&a, "external");
    } else {
        ei_x_encode_atom(&a, item);
    }
    bf_args_end(&a);
    int idx, rc = bf_node_call(n, "erlang", "system_info", &a, &r, &idx, err, errlen);
    if (rc == BF_EXIT_OK) {
        long w;
        if (!strcmp(item, "wordsize")) {
            if (ei_decode_long(r.buff, &idx, &w))
                w = -1;
            snprintf(theirs, len, "%ld", w);
        } else if (bf_reply_string(&r, idx, theirs, len)) {
            snprintf(theirs, len, "?");
        }
    }
    ei_x_free(&a);
    ei_x_free(&r);
    return rc;
}

/* Whether the node has the compiler application (compile.beam on its code path). */
static int bf_node_has_compiler(bf_node *n, char *err, size_t errlen)
{
    ei_x_buff a, r;
    ei_x_new(&a);
    ei_x_new(&r);
    bf_args(&a, 1);
    ei_x_encode_atom(&a, "compile");
    bf_args_end(&a);
    int idx, type, size, has = 0;
    if (bf_node_call(n, "code", "which", &a, &r, &idx, err, errlen) == BF_EXIT_OK &&
        ei_get_type(r.buff, &idx, &type, &size) == 0)
        has = type == ERL_STRING_EXT || type == ERL_LIST_EXT; /* a path, not non_existing */
    ei_x_free(&a);
    ei_x_free(&r);
    return has;
}

/* Whether this build runs on a node of another release (bf_compat.h decides), with the
 * error naming the fix when it does not. *compile: beamflame must be compiled on the node
 * from its abstract code (an older node with our NIF API, and it has the compiler).
 * BEAMFLAME_COMPILE_ON_NODE=1 takes that path on any release (tests). */
static int bf_check_compatible(bf_node *n, int *compile, char *err, size_t errlen)
{
    static const char *items[] = {"system_architecture", "wordsize", "otp_release",
                                  "nif_version"};
    char theirs[4][256];
    *compile = 0;
    for (size_t i = 0; i < 4; i++) {
        int rc = bf_node_fact(n, items[i], theirs[i], sizeof(theirs[i]), err, errlen);
        if (rc != BF_EXIT_OK)
            return rc;
    }
    const bf_build ours = {BF_BUILD_ARCH, BF_BUILD_WORDSIZE, BF_BUILD_OTP_RELEASE,
                           BF_BUILD_NIF_VERSION};
    const bf_build node = {theirs[0], theirs[1], theirs[2], theirs[3]};
    bf_compat c = bf_compat_check(&ours, &node, 1, err, errlen);
    const char *force = getenv("BEAMFLAME_COMPILE_ON_NODE");
    if (c != BF_COMPAT_REFUSED && force && !strcmp(force, "1"))
        c = BF_COMPAT_COMPILE;
    if (c == BF_COMPAT_COMPILE) {
        if (bf_node_has_compiler(n, err, errlen)) {
            *compile = 1;
            return BF_EXIT_OK;
        }
        c = bf_compat_check(&ours, &node, 0, err, errlen);
        if (c != BF_COMPAT_REFUSED) /* forced on a release that needs no compiling */
            snprintf(err, errlen, "the node has no compiler application to compile beamflame "
                                  "there: add compiler to the node's release, or build "
                                  "beamflame with OTP %s", theirs[2]);
        c = BF_COMPAT_REFUSED;
    }
    if (c == BF_COMPAT_REFUSED) {
        char why[1024];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "%s: %s", n->name, why);
        return BF_EXIT_MISMATCH;
    }
    if (c == BF_COMPAT_UNTESTED)
        fprintf(stderr, "beamflame: warning: %s: %s\n", n->name, err);
    return BF_EXIT_OK;
}

/* The node's beamflame: 1 present (our version), 0 absent; or an exit code < 0 negated. */
static int bf_node_has_beamflame(bf_node *n, char *err, size_t errlen)
{
    ei_x_buff a, r;
    ei_x_new(&a);
    ei_x_new(&r);
    bf_args(&a, 2);
    ei_x_encode_atom(&a, "beamflame");
    ei_x_encode_atom(&a, "vsn");
    bf_args_end(&a);
    int idx, result = 0;
    int rc = bf_node_call(n, "application", "get_key", &a, &r, &idx, err, errlen);
    if (rc != BF_EXIT_OK) {
        result = -rc;
        goto done;
    }
    int arity, i = idx;
    char atom[MAXATOMLEN], vsn[256];
    if (ei_decode_tuple_header(r.buff, &i, &arity) == 0 && arity == 2 &&
        ei_decode_atom(r.buff, &i, atom) == 0 && !strcmp(atom, "ok") &&
        bf_reply_string(&r, i, vsn, sizeof(vsn)) == 0) {
        if (strcmp(vsn, BF_BUILD_VSN)) {
            snprintf(err, errlen, "%s runs beamflame %s, this is %s: it is not replaced under "
                                  "a running session (use the node's own beamflame, or remove "
                                  "it from the node first)", n->name, vsn, BF_BUILD_VSN);
            result = -BF_EXIT_MISMATCH;
        } else {
            result = 1;
        }
        goto done;
    }
    /* Not loaded as an application: a module loaded by hand counts as present. */
    bf_args(&a, 1);
    ei_x_encode_atom(&a, "beamflame_remote");
    bf_args_end(&a);
    rc = bf_node_call(n, "code", "is_loaded", &a, &r, &idx, err, errlen);
    if (rc != BF_EXIT_OK) {
        result = -rc;
        goto done;
    }
    result = ei_decode_atom(r.buff, &idx, atom) == 0 && !strcmp(atom, "false") ? 0 : 1;
done:
    ei_x_free(&a);
    ei_x_free(&r);
    return result;
}

/* The raw bytes of the term at buf[*idx] (advances *idx past it). 0, or -1. */
static int bf_subterm(const char *buf, int *idx, int *start, int *len)
{
    *start = *idx;
    if (ei_skip_term(buf, idx) != 0)
        return -1;
    *len = *idx - *start;
    return 0;
}

/* Compiles module `mod` (its .beam bytes, built here) on the node from the abstract code
 * in its debug_info chunk, with the node's own compiler: beam_lib:chunks/2 there reads
 * the chunk, compile:forms/2 there compiles it. Appends the node's object code, as a
 * binary term, to out. 0, or -1 with err set. */
static int bf_compile_on_node(bf_node *n, const char *mod, const char *bin, size_t len,
                              ei_x_buff *out, char *err, size_t errlen)
{
    ei_x_buff a, r;
    ei_x_new(&a);
    ei_x_new(&r);
    int idx, rc = -1, arity, start, flen;
    char atom[MAXATOMLEN];
    bf_args(&a, 2);
    ei_x_encode_binary(&a, bin, (long)len);
    ei_x_encode_list_header(&a, 1);
    ei_x_encode_atom(&a, "debug_info");
    ei_x_encode_empty_list(&a);
    bf_args_end(&a);
    if (bf_node_call(n, "beam_lib", "chunks", &a, &r, &idx, err, errlen) != BF_EXIT_OK)
        goto done;
    /* {ok, {Mod, [{debug_info, {debug_info_v1, erl_abstract_code, {Forms, _Opts}}}]}} */
    int i = idx;
    if (ei_decode_tuple_header(r.buff, &i, &arity) || arity != 2 ||
        ei_decode_atom(r.buff, &i, atom) || strcmp(atom, "ok") ||
        ei_decode_tuple_header(r.buff, &i, &arity) || arity != 2 || ei_skip_term(r.buff, &i) ||
        ei_decode_list_header(r.buff, &i, &arity) || arity != 1 ||
        ei_decode_tuple_header(r.buff, &i, &arity) || arity != 2 || ei_skip_term(r.buff, &i) ||
        ei_decode_tuple_header(r.buff, &i, &arity) || arity != 3 ||
        ei_decode_atom(r.buff, &i, atom) || strcmp(atom, "debug_info_v1") ||
        ei_decode_atom(r.buff, &i, atom) || strcmp(atom, "erl_abstract_code") ||
        ei_decode_tuple_header(r.buff, &i, &arity) || arity != 2 ||
        bf_subterm(r.buff, &i, &start, &flen)) {
        char text[256];
        bf_node_term_text(&r, idx, text, sizeof(text));
        snprintf(err, errlen, "%s.beam carries no abstract code to compile on the node (build "
                              "beamflame with debug_info): %s", mod, text);
        goto done;
    }
    ei_x_free(&a);
    ei_x_new(&a);
    bf_args(&a, 2);
    ei_x_append_buf(&a, r.buff + start, flen); /* the forms, as the node sent them */
    ei_x_encode_list_header(&a, 2);
    ei_x_encode_atom(&a, "binary");
    ei_x_encode_atom(&a, "return_errors");
    ei_x_encode_empty_list(&a);
    bf_args_end(&a);
    if (bf_node_call(n, "compile", "forms", &a, &r, &idx, err, errlen) != BF_EXIT_OK)
        goto done;
    /* {ok, Mod, Binary} */
    i = idx;
    if (ei_decode_tuple_header(r.buff, &i, &arity) || arity != 3 ||
        ei_decode_atom(r.buff, &i, atom) || strcmp(atom, "ok") || ei_skip_term(r.buff, &i) ||
        bf_subterm(r.buff, &i, &start, &flen)) {
        char text[512];
        bf_node_term_text(&r, idx, text, sizeof(text));
        snprintf(err, errlen, "the node's compiler refused %s: %s", mod, text);
        goto done;
    }
    ei_x_append_buf(out, r.buff + start, flen);
    rc = 0;
done:
    ei_x_free(&a);
    ei_x_free(&r);
    return rc;
}

/* Encodes {Module, Binary} for each .beam in ebin but beamflame_attach; *count set. */
static int bf_encode_beams(bf_node *n, int compile, const char *ebin, ei_x_buff *x, char *err,
                           size_t errlen)
{
    DIR *d = opendir(ebin);
    if (!d) {
        snprintf(err, errlen, "cannot read %s: %s", ebin, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl < 6 || strcmp(e->d_name + nl - 5, ".beam") ||
            !strcmp(e->d_name, "beamflame_attach.beam"))
            continue;
        char path[PATH_MAX + 300], mod[MAXATOMLEN];
        snprintf(path, sizeof(path), "%s/%s", ebin, e->d_name);
        snprintf(mod, sizeof(mod), "%.*s", (int)(nl - 5), e->d_name);
        size_t len;
        char *bin = bf_slurp(path, &len);
        if (!bin) {
            snprintf(err, errlen, "cannot read %s", path);
            rc = -1;
            break;
        }
        ei_x_encode_list_header(x, 1);
        ei_x_encode_tuple_header(x, 2);
        ei_x_encode_atom(x, mod);
        if (compile)
            rc = bf_compile_on_node(n, mod, bin, len, x, err, errlen);
        else
            ei_x_encode_binary(x, bin, (long)len);
        free(bin);
        if (rc != 0)
            break;
    }
    closedir(d);
    return rc;
}

/* Loads beamflame into the node: beamflame_attach first, then install/4 does the rest
 * (the modules, the .app file, the NIF library, native mode's port program). compile:
 * every module is compiled on the node first (bf_compile_on_node). */
static int bf_push(bf_node *n, int compile, char *err, size_t errlen)
{
    char ebin[PATH_MAX], priv[PATH_MAX], path[PATH_MAX + 64];
    if (bf_find_dirs(ebin, sizeof(ebin), priv, sizeof(priv)) != 0) {
        snprintf(err, errlen, "cannot find beamflame's compiled Erlang modules (ebin with "
                              "beamflame.app); set BEAMFLAME_EBIN to that directory");
        return BF_EXIT_IO;
    }
    size_t alen = 0, blen = 0, slen = 0, xlen = 0;
    snprintf(path, sizeof(path), "%s/beamflame.app", ebin);
    char *app = bf_slurp(path, &alen);
    snprintf(path, sizeof(path), "%s/beamflame_attach.beam", ebin);
    char *attach = bf_slurp(path, &blen);
    snprintf(path, sizeof(path), "%s/beamflame_nif.so", priv);
    char *so = bf_slurp(path, &slen);
    snprintf(path, sizeof(path), "%s/beamflame_native", priv);
    char *exe = bf_slurp(path, &xlen);
    ei_x_buff a, r;
    ei_x_new(&a);
    ei_x_new(&r);
    int idx, rc = BF_EXIT_OK;
    if (!app || !attach || !so || !exe) {
        snprintf(err, errlen, "cannot read beamflame's files in %s and %s (rebuild: make build)",
                 ebin, priv);
        rc = BF_EXIT_IO;
        goto done;
    }
    bf_args(&a, 3);
    ei_x_encode_atom(&a, "beamflame_attach");
    ei_x_encode_string(&a, "beamflame-pushed/beamflame_attach.beam");
    if (!compile)
        ei_x_encode_binary(&a, attach, (long)blen);
    else if (bf_compile_on_node(n, "beamflame_attach", attach, blen, &a, err, errlen) != 0) {
        rc = BF_EXIT_MISMATCH;
        goto done;
    }
    bf_args_end(&a);
    rc = bf_node_call(n, "code", "load_binary", &a, &r, &idx, err, errlen);
    if (rc != BF_EXIT_OK)
        goto done;
    int i = idx, arity;
    char atom[MAXATOMLEN];
    if (ei_decode_tuple_header(r.buff, &i, &arity) || arity != 2 ||
        ei_decode_atom(r.buff, &i, atom) || strcmp(atom, "module")) {
        char text[512];
        bf_node_term_text(&r, idx, text, sizeof(text));
        snprintf(err, errlen, "%s refused beamflame's code: %s", n->name, text);
        rc = BF_EXIT_REMOTE;
        goto done;
    }
    bf_args(&a, 4);
    ei_x_encode_binary(&a, app, (long)alen);
    if (bf_encode_beams(n, compile, ebin, &a, err, errlen) != 0) {
        rc = compile ? BF_EXIT_MISMATCH : BF_EXIT_IO;
        goto done;
    }
    ei_x_encode_empty_list(&a);
    ei_x_encode_binary(&a, so, (long)slen);
    ei_x_encode_binary(&a, exe, (long)xlen);
    bf_args_end(&a);
    rc = bf_node_call(n, "beamflame_attach", "install", &a, &r, &idx, err, errlen);
    if (rc == BF_EXIT_OK) {
        i = idx;
        if (ei_decode_atom(r.buff, &i, atom) || strcmp(atom, "ok")) {
            char text[768];
            bf_node_term_text(&r, idx, text, sizeof(text));
            snprintf(err, errlen, "loading beamflame into %s failed: %s", n->name, text);
            rc = BF_EXIT_REMOTE;
        }
    }
done:
    free(app);
    free(attach);
    free(so);
    free(exe);
    ei_x_free(&a);
    ei_x_free(&r);
    return rc;
}

int bf_remote_error(bf_node *n, const ei_x_buff *r, int idx, char *err, size_t errlen)
{
    int i = idx, arity, type, size;
    char atom[MAXATOMLEN], class[MAXATOMLEN];
    if (ei_decode_tuple_header(r->buff, &i, &arity) || arity != 3 ||
        ei_decode_atom(r->buff, &i, atom) || strcmp(atom, "error") ||
        ei_decode_atom(r->buff, &i, class))
        return BF_EXIT_OK;
    char text[768];
    long len;
    if (ei_get_type(r->buff, &i, &type, &size) || type != ERL_BINARY_EXT ||
        (size_t)size >= sizeof(text) || ei_decode_binary(r->buff, &i, text, &len))
        len = snprintf(text, sizeof(text), "(an error the node did not describe)");
    text[len] = '\0';
    if (!strcmp(class, "bad_argument")) {
        snprintf(err, errlen, "%s", text);
        return BF_EXIT_USAGE;
    }
    snprintf(err, errlen, "the recording on %s failed: %s", n->name, text);
    return strcmp(class, "not_permitted") ? BF_EXIT_REMOTE : BF_EXIT_PTRACE;
}

/* A session call with the session pid as the only argument. */
int bf_session_call(bf_node *n, const char *fun, const erlang_pid *session,
                    ei_x_buff *r, int *idx, char *err, size_t errlen)
{
    ei_x_buff a;
    ei_x_new(&a);
    bf_args(&a, 1);
    ei_x_encode_pid(&a, session);
    bf_args_end(&a);
    int rc = bf_node_call(n, "beamflame_remote", fun, &a, r, idx, err, errlen);
    ei_x_free(&a);
    if (rc == BF_EXIT_OK)
        rc = bf_remote_error(n, r, *idx, err, errlen);
    return rc;
}

/* One --process value: Module:function/Arity as {M, F, A}, a pid's text as a binary (the
 * node reads it with list_to_pid/1), a registered name as an atom. */
static void bf_encode_process(ei_x_buff *x, const char *v)
{
    bf_record_opts m;
    memset(&m, 0, sizeof(m));
    if (strchr(v, '/') && bf_parse_mfa_into(v, m.call_module, sizeof(m.call_module),
                                            m.call_function, sizeof(m.call_function),
                                            &m.call_arity) == 0) {
        ei_x_encode_tuple_header(x, 3);
        ei_x_encode_atom_as(x, m.call_module, ERLANG_UTF8, ERLANG_UTF8);
        ei_x_encode_atom_as(x, m.call_function, ERLANG_UTF8, ERLANG_UTF8);
        ei_x_encode_ulong(x, m.call_arity);
    } else if (v[0] == '<' || (v[0] >= '0' && v[0] <= '9')) {
        ei_x_encode_binary(x, v, (long)strlen(v));
    } else {
        ei_x_encode_atom_as(x, v, ERLANG_UTF8, ERLANG_UTF8);
    }
}

/* The options of sample and native mode as the API's option map: duration and rate, and
 * every mode option given (bf_mode_opts: one mapping from flags to the API's keys). */
static void bf_encode_mode_opts(ei_x_buff *a, const bf_record_opts *o)
{
    int given = 0;
    for (size_t k = 0; k < bf_mode_opt_count; k++)
        given += o->mopt[k] != NULL;
    if (o->mode == BF_MODE_TRACE) {
        ei_x_encode_map_header(a, 3 + given);
        ei_x_encode_atom(a, "timeout");
        ei_x_encode_ulong(a, o->duration_ms);
        ei_x_encode_atom(a, "calls");
        ei_x_encode_ulong(a, o->calls);
        ei_x_encode_atom(a, "mfa");
        ei_x_encode_tuple_header(a, 3);
        ei_x_encode_atom_as(a, o->call_module, ERLANG_UTF8, ERLANG_UTF8);
        ei_x_encode_atom_as(a, o->call_function, ERLANG_UTF8, ERLANG_UTF8);
        ei_x_encode_ulong(a, o->call_arity);
    } else {
        ei_x_encode_map_header(a, 2 + given);
        ei_x_encode_atom(a, "duration");
        ei_x_encode_ulong(a, o->duration_ms);
        ei_x_encode_atom(a, "rate");
        ei_x_encode_ulong(a, o->rate);
    }
    bf_encode_given_mode_opts(a, o);
}

void bf_encode_given_mode_opts(ei_x_buff *a, const bf_record_opts *o)
{
    for (size_t k = 0; k < bf_mode_opt_count; k++) {
        const bf_mode_opt *m = &bf_mode_opts[k];
        if (!o->mopt[k])
            continue;
        ei_x_encode_atom(a, m->key);
        switch (m->kind) {
        case BF_MOPT_INT:
            ei_x_encode_longlong(a, strtoll(o->mopt[k], NULL, 10));
            break;
        case BF_MOPT_PROCESS:
            ei_x_encode_list_header(a, o->nprocesses);
            for (unsigned i = 0; i < o->nprocesses; i++)
                bf_encode_process(a, o->processes[i]);
            ei_x_encode_empty_list(a);
            break;
        default: /* an atom: the value given, or the flag's fixed one */
            ei_x_encode_atom(a, o->mopt[k]);
            break;
        }
    }
}

int bf_session_start(bf_node *n, const bf_record_opts *o, erlang_pid *session,
                     char *err, size_t errlen)
{
    ei_x_buff a, r;
    ei_x_new(&a);
    ei_x_new(&r);
    bf_args(&a, 3);
    ei_x_encode_pid(&a, ei_self(&n->ec));
    ei_x_encode_atom(&a, o->mode == BF_MODE_TRACE    ? "capture"
                         : o->mode == BF_MODE_NATIVE ? "native"
                                                     : "sample");
    bf_encode_mode_opts(&a, o);
    bf_args_end(&a);
    int idx, rc = bf_node_call(n, "beamflame_remote", "start", &a, &r, &idx, err, errlen);
    if (rc == BF_EXIT_OK)
        rc = bf_remote_error(n, &r, idx, err, errlen);
    if (rc == BF_EXIT_OK) {
        int i = idx, arity;
        char atom[MAXATOMLEN];
        if (ei_decode_tuple_header(r.buff, &i, &arity) || arity != 2 ||
                 ei_decode_atom(r.buff, &i, atom) || strcmp(atom, "ok") ||
                 ei_decode_pid(r.buff, &i, session)) {
            char text[512];
            bf_node_term_text(&r, idx, text, sizeof(text));
            snprintf(err, errlen, "unexpected answer from %s: %s", n->name, text);
            rc = BF_EXIT_REMOTE;
        }
    }
    ei_x_free(&a);
    ei_x_free(&r);
    return rc;
}

/* Polls until the run is done: {running|done, ElapsedMs, Samples}. Ctrl-C stops it. */
static int bf_session_wait(bf_node *n, const bf_record_opts *o, const erlang_pid *session,
                           int progress, char *err, size_t errlen)
{
    ei_x_buff r;
    ei_x_new(&r);
    int rc, stopped = 0;
    for (;;) {
        if (bf_interrupts && !stopped) {
            int idx;
            rc = bf_session_call(n, "stop", session, &r, &idx, err, errlen);
            if (rc != BF_EXIT_OK)
                break;
            stopped = 1;
            /* the data is worth the wait: as long as the node takes to clean up, while
             * it answers (ticks keep the connection); a second Ctrl-C leaves at once */
            if (n->timeout_ms < BF_STOP_WAIT_MS)
                n->timeout_ms = BF_STOP_WAIT_MS;
            if (progress)
                fputc('\n', stderr);
            fprintf(stderr, "beamflame: stopping: %s is ending the run and collecting what "
                            "was recorded (Ctrl-C again leaves without writing)\n", n->name);
        }
        int idx, arity;
        long elapsed = 0, samples = 0;
        char atom[MAXATOMLEN];
        rc = bf_session_call(n, "status", session, &r, &idx, err, errlen);
        if (rc != BF_EXIT_OK)
            break;
        if (ei_decode_tuple_header(r.buff, &idx, &arity) || arity != 3 ||
            ei_decode_atom(r.buff, &idx, atom) || ei_decode_long(r.buff, &idx, &elapsed) ||
            ei_decode_long(r.buff, &idx, &samples)) {
            snprintf(err, errlen, "unexpected status from %s", n->name);
            rc = BF_EXIT_REMOTE;
            break;
        }
        int done = !strcmp(atom, "done");
        if (progress)
            fprintf(stderr, "\r\033[Krecording %s: %.1f s of %.1f s, %ld %s%s", n->name,
                    elapsed / 1000.0, o->duration_ms / 1000.0, samples,
                    o->mode == BF_MODE_TRACE ? "calls traced" : "samples",
                    done ? "\n" : stopped ? " (stopping)" : " (Ctrl-C stops early)");
        if (done)
            break;
        rc = bf_node_idle(n, BF_POLL_MS, err, errlen);
        if (rc != BF_EXIT_OK)
            break;
    }
    if (rc != BF_EXIT_OK && progress)
        fputc('\n', stderr);
    ei_x_free(&r);
    return rc;
}

/* How many stacks hold a frame named `name` (a marker like [truncated]). */
static unsigned bf_stacks_with_frame(const bf_stack_table *st, const char *name)
{
    uint32_t id = UINT32_MAX, nf = bf_st_frame_count(st);
    for (uint32_t f = 0; f < nf && id == UINT32_MAX; f++) {
        size_t len;
        const char *s = bf_st_frame_name(st, f, &len);
        if (len == strlen(name) && !memcmp(s, name, len))
            id = f;
    }
    unsigned n = 0;
    for (uint32_t k = 0; id != UINT32_MAX && k < bf_st_stack_count(st); k++) {
        size_t depth;
        const uint32_t *ids = bf_st_stack(st, k, &depth, NULL);
        for (size_t d = 0; d < depth; d++)
            if (ids[d] == id) {
                n++;
                break;
            }
    }
    return n;
}

/* Fetches the folded text into st; *samples set, and hint (the profile's warning that it
 * cannot be trusted as it is; "" when none). */
bf_stack_table *bf_result_table(void)
{
    bf_st_caps caps;
    bf_st_default_caps(&caps);
    caps.max_bytes = (size_t)1 << 30;
    return bf_st_new(&caps);
}

int bf_result_read(bf_node *n, const ei_x_buff *r, int idx, bf_stack_table *st,
                   const char *root, long *samples, char *hint, size_t hintlen, char *err,
                   size_t errlen)
{
    int arity, type, size, rc = BF_EXIT_OK;
    long stacks;
    char atom[MAXATOMLEN], trunc[MAXATOMLEN];
    if (ei_decode_tuple_header(r->buff, &idx, &arity) || arity != 6 ||
        ei_decode_atom(r->buff, &idx, atom) || ei_get_type(r->buff, &idx, &type, &size) ||
        type != ERL_BINARY_EXT) {
        snprintf(err, errlen, "unexpected result from %s", n->name);
        rc = BF_EXIT_REMOTE;
        goto done;
    }
    const char *folded = r->buff + idx + 5; /* BINARY_EXT: tag, 4-byte length, bytes */
    long len = size;
    if (ei_skip_term(r->buff, &idx) || ei_decode_long(r->buff, &idx, samples) ||
        ei_decode_long(r->buff, &idx, &stacks) || ei_decode_atom(r->buff, &idx, trunc) ||
        ei_get_type(r->buff, &idx, &type, &size) || type != ERL_BINARY_EXT) {
        snprintf(err, errlen, "unexpected result from %s", n->name);
        rc = BF_EXIT_REMOTE;
        goto done;
    }
    long hlen = 0;
    if ((size_t)size < hintlen) {
        if (ei_decode_binary(r->buff, &idx, hint, &hlen))
            hlen = 0;
    }
    hint[hlen] = '\0';
    if (!strcmp(trunc, "true"))
        fprintf(stderr, "beamflame: the result was larger than the remote size cap and was "
                        "cut at a line boundary\n");
    bf_folded_reader rd;
    bf_folded_reader_init(&rd, st);
    if (!root) {
        if (bf_folded_feed(&rd, folded, (size_t)len) != 0 || bf_folded_finish(&rd) != 0)
            rc = BF_EXIT_NOMEM;
    } else {
        /* several nodes: each line under its node's name */
        size_t rl = strlen(root);
        for (const char *p = folded, *end = folded + len; p < end && rc == BF_EXIT_OK;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t ll = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
            if (bf_folded_feed(&rd, root, rl) != 0 || bf_folded_feed(&rd, ";", 1) != 0 ||
                bf_folded_feed(&rd, p, ll) != 0 || (!nl && bf_folded_feed(&rd, "\n", 1) != 0))
                rc = BF_EXIT_NOMEM;
            p += ll;
        }
        if (rc == BF_EXIT_OK && bf_folded_finish(&rd) != 0)
            rc = BF_EXIT_NOMEM;
    }
    bf_folded_reader_free(&rd);
done:
    return rc;
}

static int bf_session_fetch(bf_node *n, const erlang_pid *session, bf_stack_table *st,
                            const char *root, long *samples, char *hint, size_t hintlen,
                            char *err, size_t errlen)
{
    ei_x_buff r;
    ei_x_new(&r);
    int idx, rc = bf_session_call(n, "fetch", session, &r, &idx, err, errlen);
    if (rc == BF_EXIT_OK)
        rc = bf_result_read(n, &r, idx, st, root, samples, hint, hintlen, err, errlen);
    ei_x_free(&r);
    return rc;
}

void bf_default_output(const char *node, bf_format fmt, char *out, size_t len)
{
    static const char *const ext[] = {"svg", "html", "json", "folded", "pb.gz"};
    char alive[MAXATOMLEN];
    snprintf(alive, sizeof(alive), "%.*s", (int)(strcspn(node, "@")), node);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    snprintf(out, len, "beamflame-%s-%s.%s", alive, stamp, ext[fmt]);
}

const char *bf_build_version(void)
{
    return BF_BUILD_VSN;
}

int bf_attach_node(bf_node *n, const bf_record_opts *o, double *connected_ms,
                   const char **how, char *err, size_t errlen)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = bf_node_connect(n, o, err, errlen);
    if (rc != BF_EXIT_OK)
        return rc;
    *connected_ms = bf_ms_since_f(&t0);
    int compile = 0;
    rc = bf_check_compatible(n, &compile, err, errlen);
    if (rc != BF_EXIT_OK)
        return rc;
    int has = bf_node_has_beamflame(n, err, errlen);
    if (has < 0)
        return -has;
    *how = "beamflame was already loaded";
    if (has)
        return BF_EXIT_OK;
    if ((rc = bf_push(n, compile, err, errlen)) != BF_EXIT_OK) {
        /* a newer node may refuse code of this release (OTP 29 refuses some of OTP 25's
         * binary matching; the node has unloaded what it took): compile it there */
        char why[BF_ERR];
        if (compile || rc != BF_EXIT_REMOTE || !bf_node_has_compiler(n, why, sizeof(why)))
            return rc;
        fprintf(stderr, "beamflame: %s refused this build's code (%s): compiling it there\n",
                n->name, err);
        compile = 1;
        if ((rc = bf_push(n, compile, err, errlen)) != BF_EXIT_OK)
            return rc;
    }
    *how = compile ? "beamflame compiled and loaded on the node" : "beamflame loaded";
    return BF_EXIT_OK;
}

/* One node of a recording. */
typedef struct bf_target {
    bf_node n;
    char name[MAXNODELEN + 1]; /* as given, until connected */
    erlang_pid session;
    int rc;                    /* BF_EXIT_OK while it goes well */
    char err[BF_ERR];
    long samples;
    char hint[1024];
    int reported;              /* its failure was said already */
} bf_target;

/* --cluster: the nodes the first one is connected to (erlang:nodes/0), appended. */
static int bf_add_cluster(bf_target *t, unsigned *count, unsigned max, const bf_record_opts *o,
                          char *err, size_t errlen)
{
    bf_node n;
    memset(&n, 0, sizeof(n));
    n.fd = -1;
    int rc = bf_node_connect(&n, o, err, errlen);
    if (rc != BF_EXIT_OK)
        return rc;
    ei_x_buff a, r;
    ei_x_new(&a);
    ei_x_new(&r);
    bf_args(&a, 0);
    ei_x_encode_empty_list(&a);
    int idx, k;
    rc = bf_node_call(&n, "erlang", "nodes", &a, &r, &idx, err, errlen);
    if (rc == BF_EXIT_OK && ei_decode_list_header(r.buff, &idx, &k) == 0)
        for (int i = 0; i < k && *count < max; i++) {
            char atom[MAXATOMLEN_UTF8];
            if (ei_decode_atom(r.buff, &idx, atom))
                break;
            memset(&t[*count], 0, sizeof(t[*count]));
            snprintf(t[*count].name, sizeof(t[*count].name), "%s", atom);
            (*count)++;
        }
    ei_x_free(&a);
    ei_x_free(&r);
    bf_node_close(&n);
    return rc;
}

int bf_record_run(const bf_cli *cli_in)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bf_cli cli = *cli_in;
    bf_record_opts o = cli.rec;
    char err[BF_ERR] = "";

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bf_on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    bf_stack_table *st = NULL;
    static bf_target t[BF_MAX_NODES];
    unsigned count = 0;
    /* the output first: a recording must not be made to be lost */
    char out[PATH_MAX], defname[PATH_MAX];
    bf_default_output(o.node, cli.format_given ? cli.format : BF_FORMAT_SVG, defname,
                      sizeof(defname));
    if (!cli.output)
        cli.output = defname;
    int rc = bf_output_prepare(&cli, defname, out, sizeof(out), err, sizeof(err));
    if (rc != BF_EXIT_OK)
        goto done;
    for (unsigned i = 0; i < o.nnodes || (i == 0 && !o.nnodes); i++) {
        memset(&t[count], 0, sizeof(t[count]));
        snprintf(t[count].name, sizeof(t[count].name), "%s", o.nnodes ? o.nodes[i] : o.node);
        count++;
    }
    if (o.cluster && (rc = bf_add_cluster(t, &count, BF_MAX_NODES, &o, err, sizeof(err))) !=
                         BF_EXIT_OK)
        goto done;
    int many = count > 1, progress = !o.quiet && isatty(STDERR_FILENO);
    for (unsigned i = 0; i < count; i++) {
        bf_target *x = &t[i];
        x->n.fd = -1;
        o.node = x->name;
        double connected_ms = 0;
        const char *how = "";
        x->rc = bf_attach_node(&x->n, &o, &connected_ms, &how, x->err, sizeof(x->err));
        if (x->rc == BF_EXIT_OK)
            x->rc = bf_session_start(&x->n, &o, &x->session, x->err, sizeof(x->err));
        if (x->rc == BF_EXIT_OK)
            fprintf(stderr, "beamflame: recording %s as hidden node %s (%s; connected after "
                            "%.1f ms, recording started after %.1f ms)\n", x->n.name,
                    ei_thisnodename(&x->n.ec), how, connected_ms, bf_ms_since_f(&t0));
        else if (many)
            fprintf(stderr, "beamflame: %s: %s\n", x->name, x->err), x->reported = 1;
    }
    /* the first node's wait shows the progress; the others have run as long meanwhile */
    for (unsigned i = 0; i < count; i++)
        if (t[i].rc == BF_EXIT_OK) {
            t[i].rc = bf_session_wait(&t[i].n, &o, &t[i].session, progress, t[i].err,
                                      sizeof(t[i].err));
            progress = 0;
        }

    st = bf_result_table();
    if (!st) {
        rc = BF_EXIT_NOMEM;
        snprintf(err, sizeof(err), "out of memory");
        goto done;
    }
    long samples = 0;
    unsigned recorded = 0;
    const char *hint = "";
    for (unsigned i = 0; i < count; i++) {
        bf_target *x = &t[i];
        if (x->rc == BF_EXIT_OK)
            x->rc = bf_session_fetch(&x->n, &x->session, st, many ? x->n.name : NULL,
                                     &x->samples, x->hint, sizeof(x->hint), x->err,
                                     sizeof(x->err));
        bf_node_close(&x->n);
        if (x->rc != BF_EXIT_OK) {
            if (many && !x->reported)
                fprintf(stderr, "beamflame: %s: %s\n", x->n.name[0] ? x->n.name : x->name,
                        x->err);
            if (rc == BF_EXIT_OK)
                rc = x->rc; /* the first failure's code, even when the others are written */
            if (!many)
                snprintf(err, sizeof(err), "%s", x->err);
            continue;
        }
        recorded++;
        samples += x->samples;
        if (x->hint[0] && !hint[0])
            hint = x->hint;
    }
    if (!recorded)
        goto done;
    if (bf_st_stack_count(st) == 0) {
        if (!many && hint[0])
            snprintf(err, sizeof(err), "%s: no samples: %s", t[0].n.name, hint);
        else
            snprintf(err, sizeof(err), "%s: no samples: nothing ran during the recording "
                                       "(try a longer --duration)",
                     many ? "the nodes" : t[0].n.name);
        rc = BF_EXIT_NO_STACKS;
        goto done;
    }
    char title[MAXNODELEN + 64];
    if (!strcmp(cli.svg.title, "Flame Graph")) {
        if (many)
            snprintf(title, sizeof(title), "beamflame: %u nodes", recorded);
        else
            snprintf(title, sizeof(title), "beamflame: %s", t[0].n.name);
        cli.svg.title = title;
    }
    if (o.mode == BF_MODE_TRACE) {
        fprintf(stderr, "beamflame: traced %s:%s/%u, %u distinct stacks, in %lld ms in all\n",
                o.call_module, o.call_function, o.call_arity, bf_st_stack_count(st),
                bf_ms_since(&t0));
        unsigned capped = bf_stacks_with_frame(st, "[truncated]");
        if (capped)
            fprintf(stderr, "beamflame: %u stacks went deeper than the node's max_depth: "
                            "their deeper calls are drawn under a [truncated] frame\n", capped);
    }
    else
        fprintf(stderr, "beamflame: %ld samples, %u distinct stacks%s, in %lld ms in all\n",
                samples, bf_st_stack_count(st), many ? ", each node under its name" : "",
                bf_ms_since(&t0));
    if (hint[0]) {
        /* the graph cannot be trusted as it is: said here and under the title */
        fprintf(stderr, "beamflame: note: %s\n", hint);
        if (!cli.svg.subtitle)
            cli.svg.subtitle = hint;
    }
    int wrc = bf_output_write(&cli, &cli.svg, NULL, st, t[0].n.name);
    if (rc == BF_EXIT_OK)
        rc = wrc;
    else if (wrc == BF_EXIT_OK)
        fprintf(stderr, "beamflame: %u of %u nodes recorded and written; exit %d for the "
                        "first that failed\n", recorded, count, rc);
done:
    if (rc != BF_EXIT_OK && err[0])
        fprintf(stderr, "beamflame: %s\n", err);
    for (unsigned i = 0; i < count; i++)
        bf_node_close(&t[i].n);
    bf_st_free(st);
    return rc;
}
