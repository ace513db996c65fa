/* bf_demangle: see bf_demangle.h. The subset read here: _Z, then an unscoped name
 * (optionally L for internal linkage, or St for std::) or a nested name N [r V K R O]
 * ... E whose parts are source names (<length><identifier>), constructors (C1 C2 C3),
 * destructors (D0 D1 D2), St and template arguments (I ... E, skipped); then the
 * parameters, which are not read; then a clone suffix (.cold, .isra.0), kept. */
#include "bf_demangle.h"

#include <string.h>

typedef struct {
    char *out;
    size_t len, cap;
    int bad;
} bf_dm_out;

static void bf_dm_put(bf_dm_out *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        o->bad = 1;
        return;
    }
    memcpy(o->out + o->len, s, n);
    o->len += n;
    o->out[o->len] = '\0';
}

/* <length><identifier>: the identifier's start and length, p moved past it. */
static int bf_dm_source(const char **p, const char **id, size_t *n)
{
    size_t len = 0;
    if (**p < '1' || **p > '9')
        return -1;
    while (**p >= '0' && **p <= '9') {
        len = len * 10 + (size_t)(**p - '0');
        if (len > 4096)
            return -1;
        (*p)++;
    }
    if (strnlen(*p, len) < len)
        return -1;
    *id = *p;
    *n = len;
    *p += len;
    return 0;
}

/* Template arguments I ... E: skipped, nested ones and literals (L ... E) included. */
static int bf_dm_skip_args(const char **p)
{
    int depth = 0;
    for (; **p; (*p)++) {
        char c = **p;
        if (c == 'I' || c == 'L' || c == 'X' || c == 'N' || c == 'F' || c == 'J')
            depth++;
        else if (c == 'E' && --depth == 0) {
            (*p)++;
            return 0;
        }
    }
    return -1;
}

/* One part of a name; last: the previous part's identifier (for constructors). */
static int bf_dm_part(const char **p, bf_dm_out *o, const char **last, size_t *lastn, int first)
{
    const char *id;
    size_t n;
    if (**p == 'C' && (*p)[1] >= '1' && (*p)[1] <= '3') {
        if (!*last)
            return -1;
        *p += 2;
        id = *last;
        n = *lastn;
        bf_dm_put(o, "::", 2);
        bf_dm_put(o, id, n);
        return 0;
    }
    if (**p == 'D' && (*p)[1] >= '0' && (*p)[1] <= '2') {
        if (!*last)
            return -1;
        *p += 2;
        bf_dm_put(o, "::~", 3);
        bf_dm_put(o, *last, *lastn);
        return 0;
    }
    if (**p == 'I') {
        if (bf_dm_skip_args(p) != 0)
            return -1;
        bf_dm_put(o, "<...>", 5);
        return 0;
    }
    if (**p == 'S' && (*p)[1] == 't') {
        *p += 2;
        if (!first)
            bf_dm_put(o, "::", 2);
        bf_dm_put(o, "std", 3);
        *last = NULL;
        return 0;
    }
    if (**p == 'L')
        (*p)++;
    if (bf_dm_source(p, &id, &n) != 0)
        return -1;
    if (!first)
        bf_dm_put(o, "::", 2);
    if (n >= 10 && !strncmp(id, "_GLOBAL__N", 10))
        bf_dm_put(o, "(anonymous namespace)", 21);
    else
        bf_dm_put(o, id, n);
    *last = id;
    *lastn = n;
    return 0;
}

int bf_demangle(const char *mangled, char *out, size_t outlen)
{
    if (!outlen)
        return -1;
    bf_dm_out o = {out, 0, outlen, 0};
    out[0] = '\0';
    const char *p = mangled, *last = NULL;
    size_t lastn = 0;
    int ok = -1;
    if (strncmp(p, "_Z", 2) == 0) {
        p += 2;
        if (*p == 'N') {
            p++;
            while (*p == 'r' || *p == 'V' || *p == 'K' || *p == 'R' || *p == 'O')
                p++;
            int first = 1;
            while (*p && *p != 'E') {
                if (bf_dm_part(&p, &o, &last, &lastn, first) != 0)
                    break;
                first = 0;
            }
            ok = *p == 'E' && !first ? 0 : -1;
        } else {
            int first = 1;
            ok = bf_dm_part(&p, &o, &last, &lastn, first);
            if (ok == 0 && *p == 'I')
                ok = bf_dm_part(&p, &o, &last, &lastn, 0);
        }
        /* a clone's suffix: _Z3foov.cold is foo.cold */
        const char *dot = strchr(p, '.');
        if (ok == 0 && dot)
            bf_dm_put(&o, dot, strlen(dot));
    }
    if (ok != 0 || o.bad) {
        size_t n = strlen(mangled);
        if (n >= outlen)
            n = outlen - 1;
        memcpy(out, mangled, n);
        out[n] = '\0';
        return -1;
    }
    return 0;
}
