/* bf_terms: reading Erlang terms into C values and frame names (see bf_terms.h). */
#include "bf_terms.h"

#include <string.h>

#include "../core/bf_buf.h"
#include "bf_atoms.h"

int bf_map_u64(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key, uint64_t lo,
                      uint64_t hi, uint64_t *out)
{
    ERL_NIF_TERM v;
    ErlNifUInt64 u;
    if (!enif_get_map_value(env, map, key, &v))
        return 1; /* absent: keep the default */
    if (!enif_get_uint64(env, v, &u) || u < lo || u > hi)
        return 0;
    *out = u;
    return 1;
}

int bf_get_caps(ErlNifEnv *env, ERL_NIF_TERM map, bf_st_caps *caps)
{
    bf_st_default_caps(caps);
    if (!enif_is_map(env, map))
        return 0;
    uint64_t ms = caps->max_stacks, md = caps->max_depth, mb = caps->max_bytes;
    if (!bf_map_u64(env, map, am_max_stacks, 1, UINT32_MAX - 1, &ms) ||
        !bf_map_u64(env, map, am_max_depth, 1, BF_ST_MAX_DEPTH_LIMIT, &md) ||
        !bf_map_u64(env, map, am_max_bytes, 4096, (uint64_t)64 << 30, &mb))
        return 0;
    caps->max_stacks = (uint32_t)ms;
    caps->max_depth = (uint32_t)md;
    caps->max_bytes = (size_t)mb;
    return 1;
}

/* ---- frame names ------------------------------------------------------------------ */

void bf_name_put(bf_name *n, const char *s, size_t len)
{
    if (n->len + len > sizeof(n->buf)) {
        n->overflow = 1;
        len = sizeof(n->buf) - n->len;
    }
    memcpy(n->buf + n->len, s, len);
    n->len += len;
}

static void bf_name_put_u64(bf_name *n, uint64_t v)
{
    char tmp[BF_U64_DIGITS];
    const char *d = bf_u64_dec(tmp, v);
    bf_name_put(n, d, (size_t)(tmp + BF_U64_DIGITS - d));
}

/* An atom's text as UTF-8 into out (>= 1024 bytes). Returns its length or -1. Atoms
 * whose characters all fit Latin-1 come from enif_get_atom; others (OTP 25 has no UTF-8
 * enif_get_atom) from the external term format, which carries UTF-8 atoms verbatim. */
long bf_atom_text(ErlNifEnv *env, ERL_NIF_TERM atom, char *out, size_t outlen)
{
    char latin1[256];
    int n = enif_get_atom(env, atom, latin1, sizeof(latin1), ERL_NIF_LATIN1);
    if (n > 0) {
        size_t o = 0;
        for (int i = 0; i < n - 1; i++) {
            unsigned char c = (unsigned char)latin1[i];
            if (o + 2 > outlen)
                return -1;
            if (c < 0x80) {
                out[o++] = (char)c;
            } else {
                out[o++] = (char)(0xC0 | (c >> 6));
                out[o++] = (char)(0x80 | (c & 0x3F));
            }
        }
        return (long)o;
    }
    if (!enif_is_atom(env, atom))
        return -1;
    ErlNifBinary ext;
    if (!enif_term_to_binary(env, atom, &ext))
        return -1;
    long rc = -1;
    const unsigned char *d = ext.data;
    size_t len = 0, off = 0;
    if (ext.size >= 3 && d[0] == 131) {
        if ((d[1] == 119 || d[1] == 115) && ext.size >= 3) { /* SMALL_ATOM(_UTF8)_EXT */
            len = d[2];
            off = 3;
        } else if ((d[1] == 118 || d[1] == 100) && ext.size >= 4) { /* ATOM(_UTF8)_EXT */
            len = ((size_t)d[2] << 8) | d[3];
            off = 4;
        }
        if (off && off + len <= ext.size && len <= outlen) {
            memcpy(out, d + off, len);
            rc = (long)len;
        }
    }
    enif_release_binary(&ext);
    return rc;
}

#define BF_ELIXIR_PREFIX "Elixir."

/* Formats {M, F, A} (A an arity or an argument list) as the code reads:
 *   mod:fun/2, Elixir modules without "Elixir." and with a dot (MyApp.Worker.run/1),
 *   anonymous funs after their parent: '-loop/1-fun-0-' -> mod:loop/1-fun-0. */
int bf_format_mfa(ErlNifEnv *env, ERL_NIF_TERM m, ERL_NIF_TERM f, ERL_NIF_TERM a, bf_name *n)
{
    char text[1024];
    long len = bf_atom_text(env, m, text, sizeof(text));
    if (len < 0)
        return 0;
    int elixir = 0;
    size_t skip = 0;
    size_t plen = sizeof(BF_ELIXIR_PREFIX) - 1;
    if ((size_t)len > plen && memcmp(text, BF_ELIXIR_PREFIX, plen) == 0) {
        elixir = 1;
        skip = plen;
    }
    bf_name_put(n, text + skip, (size_t)len - skip);
    bf_name_put(n, elixir ? "." : ":", 1);
    len = bf_atom_text(env, f, text, sizeof(text));
    if (len < 0)
        return 0;
    if (len > 2 && text[0] == '-' && text[len - 1] == '-' && memchr(text, '/', (size_t)len)) {
        bf_name_put(n, text + 1, (size_t)len - 2); /* an anonymous fun: parent/N-fun-K */
        return 1;
    }
    bf_name_put(n, text, (size_t)len);
    unsigned arity;
    unsigned list_len;
    if (enif_get_uint(env, a, &arity)) {
        bf_name_put(n, "/", 1);
        bf_name_put_u64(n, arity);
    } else if (enif_get_list_length(env, a, &list_len)) {
        bf_name_put(n, "/", 1);
        bf_name_put_u64(n, list_len);
    } else {
        return 0;
    }
    return 1;
}

