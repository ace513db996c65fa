/* beamflame_nif: the profile resource and the outputs, for the Erlang side.
 *
 * A profile is a resource owning one bf_stack_table behind a mutex, plus a metadata map
 * (mode, duration, ticks...) set by the Erlang run that filled it. The sampler adds
 * stacks in small batches; everything else reads.
 *
 * Scheduling budget: add_samples takes at most BF_NIF_MAX_BATCH samples of at most
 * max_depth frames each (64 x 256 frames is ~0.3 ms measured here), so it runs on normal
 * schedulers. folded/svg/parse_folded exist twice: the plain entry for small inputs and a
 * `_dirty` entry on a dirty CPU scheduler; beamflame_nif.erl chooses by size.
 *
 * Errors: a malformed argument is badarg; exhaustion is {error, Reason}; nothing here
 * can crash the VM on any input (every term is checked before use).
 */
#include <string.h>
#include <sys/prctl.h>

#include <erl_nif.h>

#include "../core/bf_folded.h"
#include "../core/bf_pprof.h"
#include "../core/bf_speedscope.h"
#include "../core/bf_stack_table.h"
#include "../core/bf_svg.h"
#include "bf_atoms.h"
#include "bf_profile.h"
#include "bf_terms.h"
#include "bf_tracer_nif.h"

#define BF_NIF_MAX_BATCH 64      /* samples per add_samples call */
#define BF_NIF_MAX_ERRORS_OUT BF_FOLDED_MAX_REPORTED

static int bf_load(ErlNifEnv *env, void **priv, ERL_NIF_TERM info)
{
    (void)priv;
    (void)info;
    bf_atoms_load(env);
    return bf_profile_load(env) == 0 && bf_tracer_load(env) == 0 ? 0 : -1;
}

static int bf_upgrade(ErlNifEnv *env, void **priv, void **old_priv, ERL_NIF_TERM info)
{
    (void)old_priv;
    return bf_load(env, priv, info);
}

static ERL_NIF_TERM bf_error(ErlNifEnv *env, ERL_NIF_TERM reason)
{
    return enif_make_tuple2(env, am_error, reason);
}

/* new(Caps) -> {ok, Profile} | {error, enomem}; badarg for caps out of range. */
static ERL_NIF_TERM bf_nif_new(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_st_caps caps;
    if (!bf_get_caps(env, argv[0], &caps))
        return enif_make_badarg(env);
    bf_profile *p = bf_profile_alloc(&caps);
    if (!p)
        return bf_error(env, am_enomem);
    ERL_NIF_TERM t = enif_make_resource(env, p);
    enif_release_resource(p);
    return enif_make_tuple2(env, am_ok, t);
}

/* A stack entry {M,F,A,Loc} or {M,F,A}, a root atom (registered name), a root binary
 * (text) or a root {M,F,A} tuple. */
static int bf_format_frame(ErlNifEnv *env, ERL_NIF_TERM t, bf_name *n)
{
    n->len = 0;
    n->overflow = 0;
    const ERL_NIF_TERM *el;
    int arity;
    ErlNifBinary bin;
    if (enif_get_tuple(env, t, &arity, &el) && (arity == 3 || arity == 4))
        return bf_format_mfa(env, el[0], el[1], el[2], n);
    if (enif_is_atom(env, t)) {
        long len = bf_atom_text(env, t, n->buf, sizeof(n->buf));
        if (len < 0)
            return 0;
        n->len = (size_t)len;
        return 1;
    }
    if (enif_inspect_binary(env, t, &bin)) {
        bf_name_put(n, (const char *)bin.data, bin.size);
        return 1;
    }
    return 0;
}

/* Interns one frame; -2 for a bad term, -1 when the bytes cap refused it. */
static int64_t bf_intern_term(ErlNifEnv *env, bf_stack_table *st, ERL_NIF_TERM t, bf_name *n)
{
    if (!bf_format_frame(env, t, n))
        return -2;
    return bf_st_intern(st, n->buf, n->len);
}

/* One sample {Root, Stack, Weight}: Root undefined or a frame; Stack a current_stacktrace
 * list (leaf first). Returns the stack id, -1 dropped, -2 badarg. */
static int64_t bf_add_one(ErlNifEnv *env, bf_stack_table *st, ERL_NIF_TERM sample,
                          uint32_t *ids, size_t max_ids, bf_name *name)
{
    const ERL_NIF_TERM *el;
    int arity;
    ErlNifUInt64 weight;
    unsigned len;
    if (!enif_get_tuple(env, sample, &arity, &el) || arity != 3 ||
        !enif_get_list_length(env, el[1], &len) || !enif_get_uint64(env, el[2], &weight))
        return -2;
    size_t depth = 0;
    int has_root = !enif_is_identical(el[0], am_undefined);
    size_t frames = len + (size_t)has_root;
    if (frames == 0)
        return -2;
    if (frames > max_ids)
        frames = max_ids; /* the table cuts deeper stacks anyway */
    if (has_root) {
        int64_t id = bf_intern_term(env, st, el[0], name);
        if (id == -2)
            return -2;
        if (id < 0)
            goto dropped;
        ids[depth++] = (uint32_t)id;
    }
    /* The stacktrace is leaf first; the table wants root first: fill from the end. */
    size_t stack_frames = frames - depth;
    size_t skip = len > stack_frames ? len - stack_frames : 0;
    ERL_NIF_TERM list = el[1], head;
    size_t i = 0;
    while (enif_get_list_cell(env, list, &head, &list)) {
        if (i >= skip) {
            int64_t id = bf_intern_term(env, st, head, name);
            if (id == -2)
                return -2;
            if (id < 0)
                goto dropped;
            ids[depth + (len - 1 - i)] = (uint32_t)id;
        }
        i++;
    }
    depth += stack_frames;
    uint32_t sid;
    if (bf_st_add(st, ids, depth, weight, &sid) != BF_ST_OK)
        return -1;
    return sid;
dropped:
    bf_st_count_drop(st, weight, 1);
    return -1;
}

/* Whether t is a frame bf_format_frame takes: {M, F, Arity | Args} or {M, F, A, Loc}
 * with atoms M and F, an atom, or a binary. */
static int bf_frame_ok(ErlNifEnv *env, ERL_NIF_TERM t)
{
    const ERL_NIF_TERM *el;
    int arity;
    unsigned u;
    if (enif_get_tuple(env, t, &arity, &el))
        return (arity == 3 || arity == 4) && enif_is_atom(env, el[0]) &&
               enif_is_atom(env, el[1]) &&
               (enif_get_uint(env, el[2], &u) || enif_get_list_length(env, el[2], &u));
    return enif_is_atom(env, t) || enif_is_binary(env, t);
}

/* Whether a sample is one bf_add_one takes (checked for the whole batch before any of
 * it is added: a bad batch changes nothing). */
static int bf_sample_ok(ErlNifEnv *env, ERL_NIF_TERM sample)
{
    const ERL_NIF_TERM *el;
    int arity;
    ErlNifUInt64 weight;
    unsigned len;
    if (!enif_get_tuple(env, sample, &arity, &el) || arity != 3 ||
        !enif_get_list_length(env, el[1], &len) || !enif_get_uint64(env, el[2], &weight))
        return 0;
    int has_root = !enif_is_identical(el[0], am_undefined);
    if ((has_root && !bf_frame_ok(env, el[0])) || len + (unsigned)has_root == 0)
        return 0;
    ERL_NIF_TERM list = el[1], head;
    while (enif_get_list_cell(env, list, &head, &list))
        if (!bf_frame_ok(env, head))
            return 0;
    return 1;
}

/* add_samples(Profile, [{Root, Stack, Weight}]) -> [StackId | dropped]. At most
 * BF_NIF_MAX_BATCH samples per call; badarg (and nothing added) if one is malformed. */
static ERL_NIF_TERM bf_nif_add_samples(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_profile *p;
    unsigned n;
    if (!bf_get_profile(env, argv[0], &p) || !enif_get_list_length(env, argv[1], &n) ||
        n > BF_NIF_MAX_BATCH)
        return enif_make_badarg(env);
    ERL_NIF_TERM results[BF_NIF_MAX_BATCH];
    static _Thread_local uint32_t ids[BF_ST_MAX_DEPTH_LIMIT + 1];
    static _Thread_local bf_name name; /* 4 KiB: keep it off the scheduler's stack */
    ERL_NIF_TERM list = argv[1], head;
    while (enif_get_list_cell(env, list, &head, &list))
        if (!bf_sample_ok(env, head))
            return enif_make_badarg(env);
    list = argv[1];
    unsigned i = 0;
    int bad = 0;
    enif_mutex_lock(p->lock);
    size_t max_ids = bf_st_get_caps(p->st)->max_depth + 1;
    while (!bad && enif_get_list_cell(env, list, &head, &list)) {
        int64_t r = bf_add_one(env, p->st, head, ids, max_ids, &name);
        if (r == -2)
            bad = 1;
        else
            results[i++] = r < 0 ? am_dropped : enif_make_uint(env, (unsigned)r);
    }
    enif_mutex_unlock(p->lock);
    if (bad)
        return enif_make_badarg(env);
    return enif_make_list_from_array(env, results, i);
}

/* add_weights(Profile, [{StackId, Weight}]) -> ok. Credits stacks seen before (wall-clock
 * sampling of processes that did not run). At most BF_NIF_MAX_BATCH * 16 entries. */
static ERL_NIF_TERM bf_nif_add_weights(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_profile *p;
    unsigned n;
    if (!bf_get_profile(env, argv[0], &p) || !enif_get_list_length(env, argv[1], &n) ||
        n > BF_NIF_MAX_BATCH * 16)
        return enif_make_badarg(env);
    /* checked whole before any weight is added: a bad list changes nothing */
    ERL_NIF_TERM list = argv[1], head;
    int bad = 0;
    enif_mutex_lock(p->lock);
    uint32_t stacks = bf_st_stack_count(p->st);
    while (!bad && enif_get_list_cell(env, list, &head, &list)) {
        const ERL_NIF_TERM *el;
        int arity;
        unsigned sid;
        ErlNifUInt64 w;
        bad = !enif_get_tuple(env, head, &arity, &el) || arity != 2 ||
              !enif_get_uint(env, el[0], &sid) || !enif_get_uint64(env, el[1], &w) ||
              sid >= stacks;
    }
    for (list = argv[1]; !bad && enif_get_list_cell(env, list, &head, &list);) {
        const ERL_NIF_TERM *el;
        int arity;
        unsigned sid;
        ErlNifUInt64 w;
        enif_get_tuple(env, head, &arity, &el);
        enif_get_uint(env, el[0], &sid);
        enif_get_uint64(env, el[1], &w);
        bad = bf_st_add_weight(p->st, sid, w) != BF_ST_OK;
    }
    enif_mutex_unlock(p->lock);
    return bad ? enif_make_badarg(env) : am_ok;
}

/* copy_stacks(From, To, [StackId]) -> [NewId | dropped]: each stack of From present in To,
 * uncredited (bf_st_adopt), for a run that goes on in a new profile (a continuous
 * sampler's next slice, whose waiting processes keep their stacks). At most
 * BF_NIF_MAX_BATCH * 16 ids; badarg (nothing copied) for an id From does not have. */
static ERL_NIF_TERM bf_nif_copy_stacks(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_profile *from, *to;
    unsigned n;
    if (!bf_get_profile(env, argv[0], &from) || !bf_get_profile(env, argv[1], &to) ||
        from == to || !enif_get_list_length(env, argv[2], &n) || n > BF_NIF_MAX_BATCH * 16)
        return enif_make_badarg(env);
    ERL_NIF_TERM results[BF_NIF_MAX_BATCH * 16];
    static _Thread_local uint32_t ids[BF_ST_MAX_DEPTH_LIMIT + 1];
    /* both locked, in address order (no deadlock with another copy) */
    bf_profile *first = from < to ? from : to, *second = from < to ? to : from;
    enif_mutex_lock(first->lock);
    enif_mutex_lock(second->lock);
    uint32_t stacks = bf_st_stack_count(from->st);
    ERL_NIF_TERM list = argv[2], head;
    int bad = 0;
    while (!bad && enif_get_list_cell(env, list, &head, &list)) {
        unsigned sid;
        bad = !enif_get_uint(env, head, &sid) || sid >= stacks;
    }
    unsigned i = 0;
    for (list = argv[2]; !bad && enif_get_list_cell(env, list, &head, &list);) {
        unsigned sid;
        enif_get_uint(env, head, &sid);
        size_t depth;
        uint64_t w;
        const uint32_t *src = bf_st_stack(from->st, sid, &depth, &w);
        int ok = src && depth <= BF_ST_MAX_DEPTH_LIMIT + 1;
        for (size_t k = 0; ok && k < depth; k++) {
            size_t len;
            const char *name = bf_st_frame_name(from->st, src[k], &len);
            int64_t id = name ? bf_st_intern(to->st, name, len) : -1;
            ok = id >= 0;
            ids[k] = (uint32_t)id;
        }
        uint32_t nid;
        results[i++] = ok && bf_st_adopt(to->st, ids, depth, &nid) == BF_ST_OK
                           ? enif_make_uint(env, nid)
                           : am_dropped;
    }
    enif_mutex_unlock(second->lock);
    enif_mutex_unlock(first->lock);
    return bad ? enif_make_badarg(env) : enif_make_list_from_array(env, results, i);
}

static ERL_NIF_TERM bf_buf_to_binary(ErlNifEnv *env, bf_buf *b)
{
    ERL_NIF_TERM t;
    unsigned char *d = enif_make_new_binary(env, b->len, &t);
    if (!d)
        return 0;
    if (b->len)
        memcpy(d, b->data, b->len);
    return t;
}

/* folded(Profile) -> {ok, Binary} | {error, enomem} */
static ERL_NIF_TERM bf_nif_folded(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_profile *p;
    if (!bf_get_profile(env, argv[0], &p))
        return enif_make_badarg(env);
    bf_buf b;
    bf_buf_init(&b, NULL);
    enif_mutex_lock(p->lock);
    int rc = bf_folded_write(p->st, &b);
    enif_mutex_unlock(p->lock);
    ERL_NIF_TERM t = rc == 0 ? bf_buf_to_binary(env, &b) : 0;
    bf_buf_free(&b);
    return t ? enif_make_tuple2(env, am_ok, t) : bf_error(env, am_enomem);
}

static int bf_map_text(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key, char *buf,
                       size_t size, const char **out)
{
    ERL_NIF_TERM v;
    ErlNifBinary bin;
    if (!enif_get_map_value(env, map, key, &v))
        return 1;
    if (!enif_inspect_iolist_as_binary(env, v, &bin) || bin.size >= size ||
        memchr(bin.data, 0, bin.size))
        return 0;
    memcpy(buf, bin.data, bin.size);
    buf[bin.size] = '\0';
    *out = buf;
    return 1;
}

static int bf_map_double(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key, double *out)
{
    ERL_NIF_TERM v;
    long l;
    if (!enif_get_map_value(env, map, key, &v))
        return 1;
    if (enif_get_double(env, v, out))
        return 1;
    if (enif_get_long(env, v, &l)) {
        *out = (double)l;
        return 1;
    }
    return 0;
}

typedef struct bf_svg_texts {
    char title[BF_SVG_MAX_TITLE + 1];
    char subtitle[BF_SVG_MAX_TITLE + 1];
    char count_name[65];
} bf_svg_texts;

static int bf_map_bool(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key, int *out)
{
    ERL_NIF_TERM v;
    if (!enif_get_map_value(env, map, key, &v))
        return 1;
    if (enif_is_identical(v, am_true))
        *out = 1;
    else if (enif_is_identical(v, am_false))
        *out = 0;
    else
        return 0;
    return 1;
}

static int bf_map_palette(ErlNifEnv *env, ERL_NIF_TERM map, bf_palette *out)
{
    ERL_NIF_TERM v;
    if (!enif_get_map_value(env, map, am_palette, &v))
        return 1;
    if (enif_is_identical(v, am_hot))
        *out = BF_PALETTE_HOT;
    else if (enif_is_identical(v, am_beam))
        *out = BF_PALETTE_BEAM;
    else
        return 0;
    return 1;
}

static int bf_get_svg_opts(ErlNifEnv *env, ERL_NIF_TERM map, bf_svg_opts *o, bf_svg_texts *t)
{
    bf_svg_default_opts(o);
    return enif_is_map(env, map) && bf_map_palette(env, map, &o->palette) &&
           bf_map_bool(env, map, am_inverted, &o->inverted) &&
           bf_map_bool(env, map, am_reverse, &o->reverse) &&
           bf_map_bool(env, map, am_flamechart, &o->flamechart) &&
           bf_map_bool(env, map, am_interactive, &o->interactive) &&
           bf_map_double(env, map, am_min_width_pct, &o->min_width_pct) &&
           bf_map_u64(env, map, am_max_frames, 0, UINT64_MAX, &o->max_frames) &&
           bf_map_text(env, map, am_title, t->title, sizeof(t->title), &o->title) &&
           bf_map_text(env, map, am_subtitle, t->subtitle, sizeof(t->subtitle), &o->subtitle) &&
           bf_map_text(env, map, am_count_name, t->count_name, sizeof(t->count_name),
                       &o->count_name) &&
           bf_map_double(env, map, am_width, &o->width) &&
           bf_map_double(env, map, am_min_width, &o->min_width) &&
           bf_map_double(env, map, am_frame_height, &o->frame_height) &&
           bf_map_double(env, map, am_font_size, &o->font_size);
}

static ERL_NIF_TERM bf_parse_into(ErlNifEnv *env, const ErlNifBinary *in, bf_stack_table *st)
{
    bf_folded_reader r;
    bf_folded_reader_init(&r, st);
    int rc = bf_folded_feed(&r, (const char *)in->data, in->size);
    if (rc == 0)
        rc = bf_folded_finish(&r);
    ERL_NIF_TERM errs = enif_make_list(env, 0);
    for (size_t i = r.nreported; i > 0; i--) {
        const char *text = bf_folded_err_text(r.reported[i - 1].code);
        ERL_NIF_TERM msg;
        size_t len = strlen(text);
        unsigned char *d = enif_make_new_binary(env, len, &msg);
        if (d)
            memcpy(d, text, len);
        errs = enif_make_list_cell(
            env, enif_make_tuple2(env, enif_make_uint64(env, r.reported[i - 1].line), msg),
            errs);
    }
    ERL_NIF_TERM keys[] = {am_lines, am_malformed, am_errors};
    ERL_NIF_TERM vals[] = {enif_make_uint64(env, r.line_no), enif_make_uint64(env, r.malformed),
                           errs};
    ERL_NIF_TERM report;
    enif_make_map_from_arrays(env, keys, vals, 3, &report);
    bf_folded_reader_free(&r);
    return rc == 0 ? report : 0;
}

/* parse_folded(Binary, Caps) -> {ok, Profile, #{lines, malformed, errors}} | {error, _} */
static ERL_NIF_TERM bf_nif_parse_folded(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    ErlNifBinary in;
    bf_st_caps caps;
    if (!enif_inspect_iolist_as_binary(env, argv[0], &in) || !bf_get_caps(env, argv[1], &caps))
        return enif_make_badarg(env);
    bf_profile *p = bf_profile_alloc(&caps);
    if (!p)
        return bf_error(env, am_enomem);
    ERL_NIF_TERM report = bf_parse_into(env, &in, p->st);
    ERL_NIF_TERM t = enif_make_resource(env, p);
    enif_release_resource(p);
    if (!report)
        return bf_error(env, am_enomem);
    return enif_make_tuple3(env, am_ok, t, report);
}

/* {error, {badopts, Message}} for an option the renderer rejects. */
static ERL_NIF_TERM bf_badopts(ErlNifEnv *env, const char *why)
{
    ERL_NIF_TERM msg;
    size_t len = strlen(why);
    unsigned char *d = enif_make_new_binary(env, len, &msg);
    if (!d)
        return bf_error(env, am_enomem);
    memcpy(d, why, len);
    return bf_error(env, enif_make_tuple2(env, am_badopts, msg));
}

/* render(Profile, Opts) -> {ok, Binary} | {error, empty | enomem | {badopts, Msg}}.
 * Opts' `format' is svg (default), html or speedscope. */
static ERL_NIF_TERM bf_nif_svg(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_profile *p;
    bf_svg_opts o;
    static _Thread_local bf_svg_texts texts;
    if (!bf_get_profile(env, argv[0], &p) || !bf_get_svg_opts(env, argv[1], &o, &texts))
        return enif_make_badarg(env);
    const char *bad = bf_svg_check_opts(&o);
    if (bad)
        return bf_badopts(env, bad);
    ERL_NIF_TERM format = am_svg;
    (void)enif_get_map_value(env, argv[1], am_format, &format);
    if (!enif_is_identical(format, am_svg) && !enif_is_identical(format, am_html) &&
        !enif_is_identical(format, am_speedscope))
        return enif_make_badarg(env);
    bf_buf b;
    bf_buf_init(&b, NULL);
    enif_mutex_lock(p->lock);
    bf_svg_status s;
    if (enif_is_identical(format, am_html)) {
        s = bf_html_render(p->st, &o, &b, NULL);
    } else if (enif_is_identical(format, am_speedscope)) {
        s = bf_speedscope_render(p->st, &o, &b);
    } else {
        s = bf_svg_render(p->st, &o, &b, NULL);
    }
    enif_mutex_unlock(p->lock);
    ERL_NIF_TERM r;
    if (s == BF_SVG_OK) {
        ERL_NIF_TERM t = bf_buf_to_binary(env, &b);
        r = t ? enif_make_tuple2(env, am_ok, t) : bf_error(env, am_enomem);
    } else {
        r = bf_error(env, s == BF_SVG_EMPTY ? am_empty : am_enomem);
    }
    bf_buf_free(&b);
    return r;
}

/* render_diff(Before, After, Opts) -> {ok, Binary} | {error, _}: a differential graph.
 * Opts: the SVG options, `normalize' (boolean), `format' svg | html. The two profiles are
 * locked one after the other (never both at once, so two diffs cannot deadlock). */
static ERL_NIF_TERM bf_nif_render_diff(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_profile *before, *after;
    bf_svg_opts o;
    static _Thread_local bf_svg_texts texts;
    int normalize = 0;
    ERL_NIF_TERM format = am_svg;
    if (!bf_get_profile(env, argv[0], &before) || !bf_get_profile(env, argv[1], &after) ||
        !bf_get_svg_opts(env, argv[2], &o, &texts) ||
        !bf_map_bool(env, argv[2], am_normalize, &normalize))
        return enif_make_badarg(env);
    (void)enif_get_map_value(env, argv[2], am_format, &format);
    if (!enif_is_identical(format, am_svg) && !enif_is_identical(format, am_html))
        return enif_make_badarg(env);
    const char *bad = bf_svg_check_opts(&o);
    if (bad)
        return bf_badopts(env, bad);
    /* Work on a private copy of "before", so only one profile lock is held at a time. */
    bf_buf copy;
    bf_buf_init(&copy, NULL);
    enif_mutex_lock(before->lock);
    int rc = bf_folded_write(before->st, &copy);
    enif_mutex_unlock(before->lock);
    bf_stack_table *b = rc == 0 ? bf_st_new(bf_st_get_caps(before->st)) : NULL;
    ERL_NIF_TERM r = bf_error(env, am_enomem);
    if (b) {
        bf_folded_reader rd;
        bf_folded_reader_init(&rd, b);
        if (bf_folded_feed(&rd, copy.data ? copy.data : "", copy.len) == 0 &&
            bf_folded_finish(&rd) == 0) {
            bf_buf out;
            bf_buf_init(&out, NULL);
            enif_mutex_lock(after->lock);
            bf_svg_status s = bf_svg_render_diff(b, after->st, normalize,
                                                 enif_is_identical(format, am_html), &o, &out,
                                                 NULL);
            enif_mutex_unlock(after->lock);
            if (s == BF_SVG_OK) {
                ERL_NIF_TERM t = bf_buf_to_binary(env, &out);
                r = t ? enif_make_tuple2(env, am_ok, t) : bf_error(env, am_enomem);
            } else if (s == BF_SVG_EMPTY) {
                r = bf_error(env, am_empty);
            }
            bf_buf_free(&out);
        }
        bf_folded_reader_free(&rd);
        bf_st_free(b);
    }
    bf_buf_free(&copy);
    return r;
}

/* allow_ptracer(OsPid) -> ok | {error, einval}: lets native mode's port program ptrace
 * this node where Yama restricts ptrace to ancestors (kernel.yama.ptrace_scope = 1);
 * einval where there is no Yama (nothing to allow). */
static ERL_NIF_TERM bf_nif_allow_ptracer(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    int pid;
    if (!enif_get_int(env, argv[0], &pid) || pid <= 0)
        return enif_make_badarg(env);
    if (prctl(PR_SET_PTRACER, (unsigned long)pid, 0, 0, 0) == 0)
        return am_ok;
    return bf_error(env, enif_make_atom(env, "einval"));
}

/* set_meta(Profile, Map) -> ok. The map shows in info/1. */
static ERL_NIF_TERM bf_nif_set_meta(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_profile *p;
    if (!bf_get_profile(env, argv[0], &p) || !enif_is_map(env, argv[1]))
        return enif_make_badarg(env);
    enif_mutex_lock(p->lock);
    enif_clear_env(p->meta_env);
    p->meta = enif_make_copy(p->meta_env, argv[1]);
    enif_mutex_unlock(p->lock);
    return am_ok;
}

/* info(Profile) -> map: table figures, caps and the metadata map. */
static ERL_NIF_TERM bf_nif_info(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_profile *p;
    if (!bf_get_profile(env, argv[0], &p))
        return enif_make_badarg(env);
    enif_mutex_lock(p->lock);
    bf_st_stats s;
    bf_st_get_stats(p->st, &s);
    const bf_st_caps *c = bf_st_get_caps(p->st);
    ERL_NIF_TERM ck[] = {am_max_stacks, am_max_depth, am_max_bytes};
    ERL_NIF_TERM cv[] = {enif_make_uint(env, c->max_stacks), enif_make_uint(env, c->max_depth),
                         enif_make_uint64(env, c->max_bytes)};
    ERL_NIF_TERM caps;
    enif_make_map_from_arrays(env, ck, cv, 3, &caps);
    ERL_NIF_TERM keys[] = {am_stacks, am_frames, am_samples, am_weight, am_dropped_samples,
                           am_dropped_weight, am_dropped_by_stacks, am_dropped_by_bytes,
                           am_truncated, am_bytes, am_caps};
    ERL_NIF_TERM vals[] = {enif_make_uint(env, bf_st_stack_count(p->st)),
                           enif_make_uint(env, bf_st_frame_count(p->st)),
                           enif_make_uint64(env, s.added_samples),
                           enif_make_uint64(env, s.total_weight),
                           enif_make_uint64(env, s.dropped_samples),
                           enif_make_uint64(env, s.dropped_weight),
                           enif_make_uint64(env, s.dropped_by_stacks),
                           enif_make_uint64(env, s.dropped_by_bytes),
                           enif_make_uint64(env, s.truncated),
                           enif_make_uint64(env, bf_st_bytes(p->st)),
                           caps};
    ERL_NIF_TERM map = enif_make_copy(env, p->meta), asked;
    enif_mutex_unlock(p->lock);
    /* the run's caps as its caller gave them win over the table's (which may add room) */
    int caps_given = enif_get_map_value(env, map, am_caps, &asked);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!(caps_given && keys[i] == am_caps))
            enif_make_map_put(env, map, keys[i], vals[i], &map);
    return map;
}

/* pprof(Profile, Opts) -> {ok, Gzipped} | {error, enomem}: Opts' texts (type, unit,
 * weight_type, weight_unit, period_type, period_unit, root_label) as binaries, its numbers
 * (period, time_nanos, duration_nanos) as integers, count_credits a boolean. */
static ERL_NIF_TERM bf_nif_pprof(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    bf_profile *p;
    static _Thread_local char texts[7][256];
    bf_pprof_opts o = {.type = "samples", .unit = "count"};
    uint64_t period = 0, time_nanos = 0, duration_nanos = 0;
    ERL_NIF_TERM credits = am_false;
    const ERL_NIF_TERM m = argv[1];
    if (!bf_get_profile(env, argv[0], &p) || !enif_is_map(env, m) ||
        !bf_map_text(env, m, am_type, texts[0], sizeof(texts[0]), &o.type) ||
        !bf_map_text(env, m, am_unit, texts[1], sizeof(texts[1]), &o.unit) ||
        !bf_map_text(env, m, am_weight_type, texts[2], sizeof(texts[2]), &o.weight_type) ||
        !bf_map_text(env, m, am_weight_unit, texts[3], sizeof(texts[3]), &o.weight_unit) ||
        !bf_map_text(env, m, am_period_type, texts[4], sizeof(texts[4]), &o.period_type) ||
        !bf_map_text(env, m, am_period_unit, texts[5], sizeof(texts[5]), &o.period_unit) ||
        !bf_map_text(env, m, am_root_label, texts[6], sizeof(texts[6]), &o.root_label) ||
        !bf_map_u64(env, m, am_period, 0, INT64_MAX, &period) ||
        !bf_map_u64(env, m, am_time_nanos, 0, INT64_MAX, &time_nanos) ||
        !bf_map_u64(env, m, am_duration_nanos, 0, INT64_MAX, &duration_nanos))
        return enif_make_badarg(env);
    (void)enif_get_map_value(env, m, am_count_credits, &credits);
    o.count_credits = enif_is_identical(credits, am_true);
    o.period = (int64_t)period;
    o.time_nanos = (int64_t)time_nanos;
    o.duration_nanos = (int64_t)duration_nanos;
    bf_buf b;
    bf_buf_init(&b, NULL);
    enif_mutex_lock(p->lock);
    int rc = bf_pprof_write(p->st, &o, &b);
    enif_mutex_unlock(p->lock);
    ERL_NIF_TERM t = rc == 0 ? bf_buf_to_binary(env, &b) : 0;
    bf_buf_free(&b);
    return t ? enif_make_tuple2(env, am_ok, t) : bf_error(env, am_enomem);
}

static ErlNifFunc bf_funcs[] = {
    {"new", 1, bf_nif_new, 0},
    {"add_samples", 2, bf_nif_add_samples, 0},
    {"add_weights", 2, bf_nif_add_weights, 0},
    {"copy_stacks", 3, bf_nif_copy_stacks, 0},
    {"set_meta", 2, bf_nif_set_meta, 0},
    {"allow_ptracer", 1, bf_nif_allow_ptracer, 0},
    {"info", 1, bf_nif_info, 0},
    {"folded", 1, bf_nif_folded, 0},
    {"folded_dirty", 1, bf_nif_folded, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    {"render", 2, bf_nif_svg, 0},
    {"render_dirty", 2, bf_nif_svg, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    {"render_diff_dirty", 3, bf_nif_render_diff, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    {"pprof", 2, bf_nif_pprof, 0},
    {"pprof_dirty", 2, bf_nif_pprof, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    {"parse_folded", 2, bf_nif_parse_folded, 0},
    {"parse_folded_dirty", 2, bf_nif_parse_folded, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    BF_TRACER_FUNCS
};

ERL_NIF_INIT(beamflame_nif, bf_funcs, bf_load, NULL, bf_upgrade, NULL)
