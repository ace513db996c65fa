/* bf_profile: the profile resource every mode fills (a stack table behind a lock, and the
 * run's metadata map). Used by beamflame_nif.c (its API) and bf_tracer_nif.c (traces fill
 * profiles); depends on nothing else of the library. */
#ifndef BF_PROFILE_H
#define BF_PROFILE_H

#include <erl_nif.h>

#include "../core/bf_stack_table.h"

typedef struct bf_profile {
    ErlNifMutex *lock;
    bf_stack_table *st;  /* owned; NULL never (set at creation) */
    ErlNifEnv *meta_env; /* owns meta */
    ERL_NIF_TERM meta;   /* a map; #{} until set_meta */
} bf_profile;

/* Opens (or takes over, on upgrade) the resource type. 0, or -1. */
int bf_profile_load(ErlNifEnv *env);
/* A new profile resource (caller releases it after making a term). NULL: no memory. */
bf_profile *bf_profile_alloc(const bf_st_caps *caps);
/* The profile a term holds: 1, or 0 when it is not one. */
int bf_get_profile(ErlNifEnv *env, ERL_NIF_TERM t, bf_profile **p);

#endif
