/* bf_tracer_nif: beamflame's erl_tracer. ERTS calls enabled/3 and trace/5 of the module
 * beamflame_nif, with the tracer state we gave (a session resource), inline on the traced
 * process's scheduler thread, for every traced event. The session turns call, return_to,
 * scheduling and exit events into exact stacks (bf_trace) in C: no message is sent per
 * event and nothing grows with the number of events.
 *
 * A session is either a trace (one bf_trace for every process it sees; processes begin
 * lazily at their first event, so followed children join on their own) or a capture of
 * the next N calls of one function: a meta trace pattern on that function turns on call
 * tracing for the calling process (its match spec's trace action), the meta `call` event
 * opens a capture (its own bf_trace), and the meta `return_from` / `exception_from` of the
 * outermost call closes it.
 *
 * Budget per event: one resource lookup, one clock read, a mutex, two or three hash
 * lookups. enabled/3 takes no lock. Limits are checked on every event: past max_events or
 * the deadline the session stops itself (every later event is discarded, trace_status
 * answers remove) and tells its owner, which removes flags and patterns. Nothing here
 * sends to the tracee, blocks, or raises: a bad state term means `remove` / `discard`.
 */
#include <string.h>
#include <time.h>

#include "../core/bf_trace.h"
#include "bf_atoms.h"
#include "bf_profile.h"
#include "bf_terms.h"
#include "bf_tracer_nif.h"

#define BF_TRACER_MAX_CAPTURES 1000u  /* calls one capture session may take */
#define BF_TRACER_MAX_PROCS 100000u   /* processes one trace may follow */

typedef enum bf_stop {
    BF_STOP_NONE = 0,
    BF_STOP_EVENTS, /* max_events reached */
    BF_STOP_TIME,   /* the deadline passed */
    BF_STOP_ASKED   /* the owner stopped it */
} bf_stop;

typedef struct bf_tcapture {
    ERL_NIF_TERM pid; /* the captured process (a local pid: an immediate term) */
    bf_trace *tr;
    uint32_t meta_depth; /* nesting of the captured function's own calls */
    int done;            /* its outermost call returned */
} bf_tcapture;

typedef struct bf_tsession {
    ErlNifMutex *lock;   /* callbacks hold it for well under a microsecond */
    volatile int active; /* read without the lock by enabled/3: a stale read costs one
                            event taken or discarded, never memory safety */
    int null;            /* benchmark floor: take every event, do nothing */
    int frozen;          /* deactivated: time was credited up to then, not later */
    int eflambe_names;   /* raw module:function/arity, as eflambe writes them */
    bf_trace_weight weight; /* what a stack's count is: microseconds or calls */
    int fold;            /* recursion => fold (1) | keep (0) */
    int keep_tail;       /* tail_calls => keep (1) | drop (0) */
    bf_stop stopped;
    uint64_t events, max_events;
    int64_t deadline_ns; /* monotonic */
    ErlNifPid owner;
    bf_st_caps caps;
    uint32_t max_procs;
    uint32_t max_captures; /* 0: a trace session */
    uint32_t ncaptures;
    bf_tcapture *captures; /* max(1, max_captures) entries; [0] is the trace */
} bf_tsession;

static ErlNifResourceType *bf_tsession_type;

static void bf_tsession_dtor(ErlNifEnv *env, void *obj)
{
    (void)env;
    bf_tsession *s = obj;
    if (s->captures) {
        for (uint32_t i = 0; i < (s->max_captures ? s->max_captures : 1); i++)
            bf_trace_free(s->captures[i].tr);
        enif_free(s->captures);
    }
    if (s->lock)
        enif_mutex_destroy(s->lock);
}

int bf_tracer_load(ErlNifEnv *env)
{
    bf_tsession_type = enif_open_resource_type(env, NULL, "beamflame_trace_session",
                                               bf_tsession_dtor,
                                               ERL_NIF_RT_CREATE | ERL_NIF_RT_TAKEOVER, NULL);
    return bf_tsession_type ? 0 : -1;
}

/* The event clock: CLOCK_MONOTONIC straight from the vDSO (measured here: ~90 ns per
 * event less than enif_monotonic_time, which goes through ERTS's time machinery).
 * Only differences between readings matter; the controller's deadline uses the same. */
static ErlNifTime bf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    return (ErlNifTime)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bf_tsession *bf_get_session(ErlNifEnv *env, ERL_NIF_TERM t)
{
    bf_tsession *s;
    return enif_get_resource(env, t, bf_tsession_type, (void **)&s) ? s : NULL;
}

/* Credits every open process up to now and stops the clock there: later cleanup is not
 * the traced code's time. Under the lock. */
static void bf_freeze(bf_tsession *s, uint64_t now)
{
    for (uint32_t i = 0; i < (s->max_captures ? s->ncaptures : 1); i++)
        if (s->captures[i].tr)
            bf_trace_flush(s->captures[i].tr, now);
    s->frozen = 1;
}

/* --- callbacks -------------------------------------------------------------------------- */

/* Every event but trace_status is taken without looking at the session: trace/5 checks
 * whether it is active (one resource lookup per event instead of two). */
ERL_NIF_TERM bf_nif_enabled(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    if (!enif_is_identical(argv[0], am_trace_status))
        return am_trace;
    bf_tsession *s = bf_get_session(env, argv[1]);
    return s && (s->active || s->stopped == BF_STOP_NONE) ? am_trace : am_remove;
}

/* Tells the owner {beamflame_trace, Session, What}. */
static void bf_notify(ErlNifEnv *env, bf_tsession *s, ERL_NIF_TERM session, ERL_NIF_TERM what)
{
    ErlNifEnv *menv = enif_alloc_env();
    if (!menv)
        return;
    ERL_NIF_TERM msg = enif_make_tuple3(menv, am_beamflame_trace, enif_make_copy(menv, session),
                                        enif_make_copy(menv, what));
    enif_send(env, &s->owner, menv, msg);
    enif_free_env(menv);
}

/* The frame id of {M, F, Arity} in tr, named on first sight. -1 when a cap refuses it. */
static int64_t bf_mfa_frame(ErlNifEnv *env, bf_tsession *s, bf_trace *tr, ERL_NIF_TERM m,
                            ERL_NIF_TERM f, unsigned arity)
{
    int64_t id = bf_trace_frame_find(tr, (uint64_t)m, (uint64_t)f, arity);
    if (id >= 0)
        return id;
    bf_name n;
    n.len = 0;
    n.overflow = 0;
    if (s->eflambe_names) {
        char text[1024];
        long len = bf_atom_text(env, m, text, sizeof(text));
        if (len < 0)
            return -1;
        bf_name_put(&n, text, (size_t)len);
        bf_name_put(&n, ":", 1);
        len = bf_atom_text(env, f, text, sizeof(text));
        if (len < 0)
            return -1;
        bf_name_put(&n, text, (size_t)len);
        char ar[16];
        int k = enif_snprintf(ar, sizeof(ar), "/%u", arity);
        bf_name_put(&n, ar, (size_t)k);
    } else if (!bf_format_mfa(env, m, f, enif_make_uint(env, arity), &n)) {
        return -1;
    }
    return bf_trace_frame_add(tr, (uint64_t)m, (uint64_t)f, arity, n.buf, n.len);
}

/* {M, F, A} with A an arity (or, for meta events, an argument list). */
static int bf_get_mfa(ErlNifEnv *env, ERL_NIF_TERM t, ERL_NIF_TERM *m, ERL_NIF_TERM *f,
                      unsigned *arity, int *args)
{
    const ERL_NIF_TERM *el;
    int n;
    /* no atom checks here (the hot path): ERTS sends {Atom, Atom, _}, and the terms are
     * only keys until bf_mfa_frame names them, which checks */
    if (!enif_get_tuple(env, t, &n, &el) || n != 3)
        return 0;
    *m = el[0];
    *f = el[1];
    *args = 0;
    if (enif_get_uint(env, el[2], arity))
        return 1;
    if (enif_get_list_length(env, el[2], arity)) {
        *args = 1;
        return 1;
    }
    return 0;
}

/* Starts a process in tr at now, its root frame its pid (as eflambe names it), seeded
 * with the frames it is already in (root-most first). */
static int bf_begin_proc(bf_trace *tr, ERL_NIF_TERM pid, const uint32_t *seed, size_t n,
                         uint64_t now)
{
    int64_t root = bf_trace_frame_find(tr, (uint64_t)pid, 0, UINT64_MAX);
    if (root < 0) {
        char text[64];
        int len = enif_snprintf(text, sizeof(text), "%T", pid);
        if (len <= 0 || (size_t)len >= sizeof(text))
            return -1;
        root = bf_trace_frame_add(tr, (uint64_t)pid, 0, UINT64_MAX, text, (size_t)len);
        if (root < 0)
            return -1;
    }
    return bf_trace_begin(tr, (uint64_t)pid, (uint32_t)root, seed, n, now);
}

/* The capture of a process (capture sessions), or NULL. */
static bf_tcapture *bf_capture_of(bf_tsession *s, ERL_NIF_TERM pid)
{
    for (uint32_t i = s->ncaptures; i > 0; i--)
        if (s->captures[i - 1].pid == pid && !s->captures[i - 1].done)
            return &s->captures[i - 1];
    return NULL;
}

/* The trace an event of pid goes to: the session's one (trace), or its open capture. */
static bf_trace *bf_trace_for(bf_tsession *s, ERL_NIF_TERM pid, uint64_t now)
{
    if (s->max_captures == 0) {
        bf_trace *tr = s->captures[0].tr;
        if (!bf_trace_has_proc(tr, (uint64_t)pid) && bf_begin_proc(tr, pid, NULL, 0, now) != 0)
            return NULL;
        return tr;
    }
    bf_tcapture *c = bf_capture_of(s, pid);
    return c ? c->tr : NULL;
}

/* A meta event of the captured function: opens, nests or closes a capture. */
static void bf_meta_event(ErlNifEnv *env, bf_tsession *s, ERL_NIF_TERM session, int opening,
                          ERL_NIF_TERM pid, ERL_NIF_TERM m, ERL_NIF_TERM f, unsigned arity,
                          uint64_t now)
{
    bf_tcapture *c = bf_capture_of(s, pid);
    if (!opening) {
        if (c && c->meta_depth > 0 && --c->meta_depth == 0) {
            bf_trace_end(c->tr, (uint64_t)pid, now);
            c->done = 1;
            bf_notify(env, s, session,
                      enif_make_tuple3(env, am_done, pid,
                                       enif_make_uint(env, (unsigned)(c - s->captures))));
        }
        return;
    }
    if (c) {
        c->meta_depth++; /* a recursive call: its local call event pushes it */
        return;
    }
    if (s->ncaptures >= s->max_captures)
        return; /* the trigger is being removed; this process's flags go with it */
    c = &s->captures[s->ncaptures];
    c->tr = bf_trace_new(&s->caps, 1);
    if (c->tr)
        bf_trace_set_modes(c->tr, s->fold, s->keep_tail);
    if (!c->tr || bf_begin_proc(c->tr, pid, NULL, 0, now) != 0) {
        bf_trace_free(c->tr);
        c->tr = NULL;
        return;
    }
    int64_t fr = bf_mfa_frame(env, s, c->tr, m, f, arity);
    if (fr >= 0)
        bf_trace_call(c->tr, (uint64_t)pid, (uint32_t)fr, BF_TRACE_NONE, now);
    c->pid = pid;
    c->meta_depth = 1;
    c->done = 0;
    s->ncaptures++;
    bf_notify(env, s, session,
              enif_make_tuple3(env, am_captured, pid, enif_make_uint(env, s->ncaptures - 1)));
}

static void bf_event(ErlNifEnv *env, bf_tsession *s, const ERL_NIF_TERM argv[], uint64_t now)
{
    ERL_NIF_TERM tag = argv[0], pid = argv[2], m, f;
    unsigned arity;
    int args;
    if (enif_is_identical(tag, am_call)) {
        if (!bf_get_mfa(env, argv[3], &m, &f, &arity, &args))
            return;
        if (args) { /* meta: the captured function was called */
            if (s->max_captures)
                bf_meta_event(env, s, argv[1], 1, pid, m, f, arity, now);
            return;
        }
        bf_trace *tr = bf_trace_for(s, pid, now);
        if (!tr)
            return;
        int64_t fr = bf_mfa_frame(env, s, tr, m, f, arity), cf = BF_TRACE_NONE;
        ERL_NIF_TERM caller, cm, cfn;
        unsigned ca;
        int cargs;
        if (enif_get_map_value(env, argv[4], am_match_spec_result, &caller) &&
            bf_get_mfa(env, caller, &cm, &cfn, &ca, &cargs)) {
            cf = bf_mfa_frame(env, s, tr, cm, cfn, ca);
            if (cf < 0)
                cf = BF_TRACE_NONE;
        }
        if (fr >= 0)
            bf_trace_call(tr, (uint64_t)pid, (uint32_t)fr, (uint32_t)cf, now);
    } else if (enif_is_identical(tag, am_return_to)) {
        if (!bf_get_mfa(env, argv[3], &m, &f, &arity, &args))
            return;
        bf_trace *tr = bf_trace_for(s, pid, now);
        int64_t fr = tr ? bf_mfa_frame(env, s, tr, m, f, arity) : -1;
        if (fr >= 0)
            bf_trace_return_to(tr, (uint64_t)pid, (uint32_t)fr, now);
    } else if (enif_is_identical(tag, am_return_from) ||
               enif_is_identical(tag, am_exception_from)) {
        if (s->max_captures && bf_get_mfa(env, argv[3], &m, &f, &arity, &args))
            bf_meta_event(env, s, argv[1], 0, pid, m, f, arity, now);
    } else if (enif_is_identical(tag, am_out) || enif_is_identical(tag, am_in)) {
        bf_trace *tr = bf_trace_for(s, pid, now);
        if (tr && enif_is_identical(tag, am_out))
            bf_trace_out(tr, (uint64_t)pid, now);
        else if (tr)
            bf_trace_in(tr, (uint64_t)pid, now);
    } else if (enif_is_identical(tag, am_exit)) {
        if (s->max_captures == 0)
            bf_trace_end(s->captures[0].tr, (uint64_t)pid, now);
    }
}

ERL_NIF_TERM bf_nif_trace(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_tsession *s = bf_get_session(env, argv[1]);
    if (!s || !s->active || s->null)
        return am_ok;
    ErlNifTime now = bf_now_ns();
    enif_mutex_lock(s->lock);
    if (s->active) {
        if (++s->events > s->max_events || now > s->deadline_ns) {
            bf_freeze(s, (uint64_t)now);
            s->active = 0;
            s->stopped = s->events > s->max_events ? BF_STOP_EVENTS : BF_STOP_TIME;
            bf_notify(env, s, argv[1], enif_make_tuple2(env, am_stopped,
                                                         s->stopped == BF_STOP_EVENTS
                                                             ? am_max_events
                                                             : am_timeout));
        } else {
            bf_event(env, s, argv, (uint64_t)now);
        }
    }
    enif_mutex_unlock(s->lock);
    return am_ok;
}

/* --- the controller's calls ------------------------------------------------------------- */

static int bf_opt_u64(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key, uint64_t hi,
                      uint64_t *out)
{
    ERL_NIF_TERM v;
    ErlNifUInt64 u;
    if (!enif_get_map_value(env, map, key, &v))
        return 1;
    if (!enif_get_uint64(env, v, &u) || u > hi)
        return 0;
    *out = u;
    return 1;
}

/* trace_session(#{max_events, deadline_ms, max_procs, captures, names, null, caps}) ->
 * {ok, Session}, owned by the caller (it gets the notifications). Inactive until
 * trace_control(S, activate). */
ERL_NIF_TERM bf_nif_trace_session(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    ERL_NIF_TERM opts = argv[0], v;
    uint64_t max_events = 10000000, deadline_ms = 60000, max_procs = 10000, captures = 0;
    bf_st_caps caps;
    bf_st_default_caps(&caps);
    if (!enif_is_map(env, opts) || !bf_opt_u64(env, opts, am_max_events, UINT64_MAX, &max_events) ||
        !bf_opt_u64(env, opts, am_deadline_ms, 86400000, &deadline_ms) ||
        !bf_opt_u64(env, opts, am_max_procs, BF_TRACER_MAX_PROCS, &max_procs) ||
        !bf_opt_u64(env, opts, am_captures, BF_TRACER_MAX_CAPTURES, &captures) ||
        (enif_get_map_value(env, opts, am_caps, &v) && !bf_get_caps(env, v, &caps)))
        return enif_make_badarg(env);
    bf_tsession *s = enif_alloc_resource(bf_tsession_type, sizeof(*s));
    if (!s)
        return enif_make_tuple2(env, am_error, am_enomem);
    memset(s, 0, sizeof(*s));
    s->lock = enif_mutex_create("beamflame_trace");
    s->captures = enif_alloc((captures ? captures : 1) * sizeof(bf_tcapture));
    if (s->captures)
        memset(s->captures, 0, (captures ? captures : 1) * sizeof(bf_tcapture));
    s->caps = caps;
    s->max_procs = (uint32_t)(max_procs ? max_procs : 1);
    s->max_captures = (uint32_t)captures;
    s->max_events = max_events;
    s->deadline_ns = bf_now_ns() + (ErlNifTime)deadline_ms * 1000000;
    s->eflambe_names = enif_get_map_value(env, opts, am_names, &v) &&
                       enif_is_identical(v, am_eflambe);
    s->weight = enif_get_map_value(env, opts, am_weight, &v) &&
                        enif_is_identical(v, enif_make_atom(env, "calls"))
                    ? BF_TRACE_CALLS
                    : BF_TRACE_TIME;
    s->null = enif_get_map_value(env, opts, am_null, &v) &&
              enif_is_identical(v, enif_make_atom(env, "true"));
    s->fold = !(enif_get_map_value(env, opts, am_recursion, &v) && enif_is_identical(v, am_keep));
    s->keep_tail = enif_get_map_value(env, opts, am_tail_calls, &v) && enif_is_identical(v, am_keep);
    enif_self(env, &s->owner);
    if (!s->lock || !s->captures ||
        (captures == 0 && !(s->captures[0].tr = bf_trace_new(&caps, s->max_procs)))) {
        enif_release_resource(s);
        return enif_make_tuple2(env, am_error, am_enomem);
    }
    if (captures == 0)
        bf_trace_set_modes(s->captures[0].tr, s->fold, s->keep_tail);
    ERL_NIF_TERM t = enif_make_resource(env, s);
    enif_release_resource(s);
    return enif_make_tuple2(env, am_ok, t);
}

/* trace_control(S, activate | deactivate | stop) -> ok. stop is final. */
ERL_NIF_TERM bf_nif_trace_control(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_tsession *s = bf_get_session(env, argv[0]);
    if (!s)
        return enif_make_badarg(env);
    int activate = enif_is_identical(argv[1], am_activate);
    int stop = enif_is_identical(argv[1], am_stop);
    if (!activate && !stop && !enif_is_identical(argv[1], am_deactivate))
        return enif_make_badarg(env);
    enif_mutex_lock(s->lock);
    if (activate && s->stopped == BF_STOP_NONE) {
        s->active = 1;
        s->frozen = 0;
    } else if (!activate) {
        /* time counts up to here: what happens after (cleanup) is not the traced code's */
        if (s->active)
            bf_freeze(s, (uint64_t)bf_now_ns());
        s->active = 0;
        if (stop && s->stopped == BF_STOP_NONE)
            s->stopped = BF_STOP_ASKED;
    }
    enif_mutex_unlock(s->lock);
    return am_ok;
}

/* trace_seed(S, Pid, [{M, F, A}] root first) -> ok | {error, _}: a process of a trace
 * session starts where it already is (trace_process/2 reads its stack first). */
ERL_NIF_TERM bf_nif_trace_seed(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_tsession *s = bf_get_session(env, argv[0]);
    unsigned n;
    if (!s || s->max_captures || !enif_is_pid(env, argv[1]) ||
        !enif_get_list_length(env, argv[2], &n) || n > s->caps.max_depth)
        return enif_make_badarg(env);
    uint32_t seed[BF_ST_MAX_DEPTH_LIMIT];
    ERL_NIF_TERM head, tail = argv[2];
    enif_mutex_lock(s->lock);
    bf_trace *tr = s->captures[0].tr;
    size_t k = 0;
    while (enif_get_list_cell(env, tail, &head, &tail)) {
        ERL_NIF_TERM m, f;
        unsigned arity;
        int args;
        if (!bf_get_mfa(env, head, &m, &f, &arity, &args))
            continue;
        int64_t fr = bf_mfa_frame(env, s, tr, m, f, arity);
        if (fr >= 0)
            seed[k++] = (uint32_t)fr;
    }
    int rc = bf_begin_proc(tr, argv[1], seed, k, (uint64_t)bf_now_ns());
    enif_mutex_unlock(s->lock);
    return rc == 0 ? am_ok : enif_make_tuple2(env, am_error, am_enomem);
}

/* trace_status(S) -> #{active, stopped, events, captures, done, procs, ...}. */
ERL_NIF_TERM bf_nif_trace_status(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_tsession *s = bf_get_session(env, argv[0]);
    if (!s)
        return enif_make_badarg(env);
    enif_mutex_lock(s->lock);
    bf_trace_stats sum;
    memset(&sum, 0, sizeof(sum));
    size_t bytes = 0;
    unsigned done = 0;
    uint32_t n = s->max_captures ? s->ncaptures : 1;
    for (uint32_t i = 0; i < n; i++) {
        bf_trace_stats t;
        if (!s->captures[i].tr)
            continue;
        bf_trace_get_stats(s->captures[i].tr, &t);
        sum.procs += t.procs;
        sum.procs_dropped += t.procs_dropped;
        sum.depth_capped += t.depth_capped;
        sum.nodes_dropped += t.nodes_dropped;
        sum.levels_dropped += t.levels_dropped;
        sum.procs_lost += t.procs_lost;
        bytes += bf_trace_bytes(s->captures[i].tr);
        done += s->captures[i].done;
    }
    static const ERL_NIF_TERM *why[] = {&am_none, &am_max_events, &am_timeout, &am_asked};
    ERL_NIF_TERM keys[] = {am_active,   am_stopped,      am_events,       am_captures,
                           am_done,     am_procs,        am_procs_dropped, am_depth_capped,
                           am_nodes_dropped, am_bytes, am_levels_dropped, am_procs_lost};
    ERL_NIF_TERM vals[] = {s->active ? enif_make_atom(env, "true") : enif_make_atom(env, "false"),
                           *why[s->stopped],
                           enif_make_uint64(env, s->events),
                           enif_make_uint(env, s->ncaptures),
                           enif_make_uint(env, done),
                           enif_make_uint64(env, sum.procs),
                           enif_make_uint64(env, sum.procs_dropped),
                           enif_make_uint64(env, sum.depth_capped),
                           enif_make_uint64(env, sum.nodes_dropped),
                           enif_make_uint64(env, bytes),
                           enif_make_uint64(env, sum.levels_dropped),
                           enif_make_uint64(env, sum.procs_lost)};
    enif_mutex_unlock(s->lock);
    ERL_NIF_TERM map;
    enif_make_map_from_arrays(env, keys, vals, sizeof(keys) / sizeof(keys[0]), &map);
    return map;
}

/* trace_result_dirty(S, Index) -> {ok, Profile} | {error, no_such_capture | enomem}: the
 * stacks in microseconds (a trace session's index is 0). Open processes are credited up
 * to now. Runs on a dirty scheduler: it walks every distinct stack. */
ERL_NIF_TERM bf_nif_trace_result(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_tsession *s = bf_get_session(env, argv[0]);
    unsigned idx;
    if (!s || !enif_get_uint(env, argv[1], &idx))
        return enif_make_badarg(env);
    enif_mutex_lock(s->lock);
    uint32_t n = s->max_captures ? s->ncaptures : 1;
    bf_stack_table *st = NULL;
    int missing = idx >= n || !s->captures[idx].tr;
    if (!missing) {
        if (!s->frozen)
            bf_trace_flush(s->captures[idx].tr, (uint64_t)bf_now_ns());
        st = bf_trace_result(s->captures[idx].tr, &s->caps, s->weight);
    }
    enif_mutex_unlock(s->lock);
    if (missing)
        return enif_make_tuple2(env, am_error, am_no_such_capture);
    bf_profile *p = st ? bf_profile_alloc(&s->caps) : NULL;
    if (!p) {
        bf_st_free(st);
        return enif_make_tuple2(env, am_error, am_enomem);
    }
    bf_st_free(p->st);
    p->st = st;
    ERL_NIF_TERM t = enif_make_resource(env, p);
    enif_release_resource(p);
    return enif_make_tuple2(env, am_ok, t);
}
