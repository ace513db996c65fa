/* bf_profile: the profile resource, a stack table behind a lock (see bf_profile.h). */
#include "bf_profile.h"

#include <string.h>

static ErlNifResourceType *bf_profile_type;

static void bf_profile_dtor(ErlNifEnv *env, void *obj)
{
    (void)env;
    bf_profile *p = obj;
    if (p->st)
        bf_st_free(p->st);
    if (p->lock)
        enif_mutex_destroy(p->lock);
    if (p->meta_env)
        enif_free_env(p->meta_env);
}

int bf_profile_load(ErlNifEnv *env)
{
    /* TAKEOVER: after an upgrade, profiles made by the old library are this one's */
    bf_profile_type = enif_open_resource_type(env, NULL, "beamflame_profile", bf_profile_dtor,
                                              ERL_NIF_RT_CREATE | ERL_NIF_RT_TAKEOVER, NULL);
    return bf_profile_type ? 0 : -1;
}

bf_profile *bf_profile_alloc(const bf_st_caps *caps)
{
    bf_profile *p = enif_alloc_resource(bf_profile_type, sizeof(bf_profile));
    if (!p)
        return NULL;
    memset(p, 0, sizeof(*p));
    p->st = bf_st_new(caps);
    p->lock = enif_mutex_create("beamflame_profile");
    p->meta_env = enif_alloc_env();
    if (!p->st || !p->lock || !p->meta_env) {
        enif_release_resource(p);
        return NULL;
    }
    p->meta = enif_make_new_map(p->meta_env);
    return p;
}

int bf_get_profile(ErlNifEnv *env, ERL_NIF_TERM t, bf_profile **p)
{
    return enif_get_resource(env, t, bf_profile_type, (void **)p);
}

