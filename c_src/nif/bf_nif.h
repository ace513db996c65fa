/* bf_nif: what the NIF library's two files share: the profile resource (beamflame_nif.c)
 * and the tracer (bf_tracer_nif.c, which fills profiles). Internal to the library. */
#ifndef BF_NIF_H
#define BF_NIF_H

#include <erl_nif.h>
#include <stddef.h>

#include "../core/bf_stack_table.h"

#define BF_NIF_NAME_MAX 4096 /* bytes of one formatted frame name */

typedef struct bf_profile {
    ErlNifMutex *lock;
    bf_stack_table *st;  /* owned; NULL never (set at creation) */
    ErlNifEnv *meta_env; /* owns meta */
    ERL_NIF_TERM meta;   /* a map; #{} until set_meta */
} bf_profile;

typedef struct bf_name {
    char buf[BF_NIF_NAME_MAX];
    size_t len;
    int overflow;
} bf_name;

/* A new profile resource (caller releases it after making a term). NULL: no memory. */
bf_profile *bf_profile_alloc(const bf_st_caps *caps);
/* Caps from a map (defaults for absent keys); 0 for a bad value. */
int bf_get_caps(ErlNifEnv *env, ERL_NIF_TERM map, bf_st_caps *caps);
/* An atom's UTF-8 text; its length or -1. */
long bf_atom_text(ErlNifEnv *env, ERL_NIF_TERM atom, char *out, size_t outlen);
void bf_name_put(bf_name *n, const char *s, size_t len);
/* {M, F, A} as the code reads (Elixir modules dotted, funs after their parent). */
int bf_format_mfa(ErlNifEnv *env, ERL_NIF_TERM m, ERL_NIF_TERM f, ERL_NIF_TERM a, bf_name *n);

/* The tracer's part of load, and its NIF table entries. */
int bf_tracer_load(ErlNifEnv *env);
ERL_NIF_TERM bf_nif_enabled(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
ERL_NIF_TERM bf_nif_trace(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
ERL_NIF_TERM bf_nif_trace_session(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
ERL_NIF_TERM bf_nif_trace_control(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
ERL_NIF_TERM bf_nif_trace_seed(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
ERL_NIF_TERM bf_nif_trace_status(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
ERL_NIF_TERM bf_nif_trace_result(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

/* enabled/3 and trace/5 are erl_tracer's callbacks (run inline on the traced process's
 * scheduler; short). The session calls are the controller's. */
#define BF_TRACER_FUNCS                                                                   \
    {"enabled", 3, bf_nif_enabled, 0}, {"trace", 5, bf_nif_trace, 0},                     \
        {"trace_session", 1, bf_nif_trace_session, 0},                                    \
        {"trace_control", 2, bf_nif_trace_control, 0},                                    \
        {"trace_seed", 3, bf_nif_trace_seed, 0},                                          \
        {"trace_status", 1, bf_nif_trace_status, 0},                                      \
        {"trace_result_dirty", 2, bf_nif_trace_result, ERL_NIF_DIRTY_JOB_CPU_BOUND},

#endif
