/* bf_atoms: see bf_atoms.h. */
#include "bf_atoms.h"

#define BF_ATOM_DEFINE(name) ERL_NIF_TERM am_##name;
BF_ATOMS(BF_ATOM_DEFINE)
#undef BF_ATOM_DEFINE

void bf_atoms_load(ErlNifEnv *env)
{
#define BF_ATOM_MAKE(name) am_##name = enif_make_atom(env, #name);
    BF_ATOMS(BF_ATOM_MAKE)
#undef BF_ATOM_MAKE
}
