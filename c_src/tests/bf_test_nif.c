/* A deliberately misbehaving NIF, for tests only (never in priv/): block_ms(Ms) blocks a
 * normal scheduler for Ms milliseconds, like a buggy third-party NIF. A process inside it
 * answers no signal (process_info included) until it returns, which is what the sampler
 * must survive. */
#include <time.h>

#include <erl_nif.h>

static ERL_NIF_TERM block_ms(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    unsigned ms;
    if (!enif_get_uint(env, argv[0], &ms) || ms > 60000)
        return enif_make_badarg(env);
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return enif_make_atom(env, "ok");
}

static ErlNifFunc funcs[] = {{"block_ms", 1, block_ms, 0},
                             {"dirty_block_ms", 1, block_ms, ERL_NIF_DIRTY_JOB_IO_BOUND}};

ERL_NIF_INIT(bf_test_nif, funcs, NULL, NULL, NULL, NULL)
