/* bf_terms: Erlang terms read into C: caps maps, atoms as UTF-8, and frame names as the
 * code reads them. Used by both NIF files; depends on bf_atoms only. */
#ifndef BF_TERMS_H
#define BF_TERMS_H

#include <erl_nif.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/bf_stack_table.h"

#define BF_NIF_NAME_MAX 4096 /* bytes of one formatted frame name */

typedef struct bf_name {
    char buf[BF_NIF_NAME_MAX];
    size_t len;
    int overflow;
} bf_name;

/* The value of key in map as an integer in [lo, hi] into out: 1 (also when absent: out
 * kept), 0 for a bad value. */
int bf_map_u64(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key, uint64_t lo, uint64_t hi,
               uint64_t *out);
/* Caps from a map (defaults for absent keys); 0 for a bad value. */
int bf_get_caps(ErlNifEnv *env, ERL_NIF_TERM map, bf_st_caps *caps);
/* An atom's UTF-8 text; its length or -1. */
long bf_atom_text(ErlNifEnv *env, ERL_NIF_TERM atom, char *out, size_t outlen);
void bf_name_put(bf_name *n, const char *s, size_t len);
/* {M, F, A} as the code reads (Elixir modules dotted, funs after their parent). */
int bf_format_mfa(ErlNifEnv *env, ERL_NIF_TERM m, ERL_NIF_TERM f, ERL_NIF_TERM a, bf_name *n);

#endif
