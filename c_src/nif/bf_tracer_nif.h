/* bf_tracer_nif: the tracer half of the NIF library (erl_tracer callbacks and trace
 * sessions), as beamflame_nif.c registers it. */
#ifndef BF_TRACER_NIF_H
#define BF_TRACER_NIF_H

#include <erl_nif.h>

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
