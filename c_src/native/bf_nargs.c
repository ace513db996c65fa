/* bf_nargs: see bf_nargs.h. */
#include "bf_nargs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cli/bf_cli_args.h"

/* The port program's own options: whole numbers in [lo, hi], or a flag (lo = hi = 0). */
static const struct {
    const char *flag;
    size_t offset; /* of a long (pid) or unsigned field, or an int flag */
    int is_long;
    long long lo, hi;
} bf_nargs_table[] = {
    {"--pid", offsetof(bf_nargs, pid), 1, 1, 4194304},
    {"--rate", offsetof(bf_nargs, rate), 0, 1, 1000},
    {"--duration", offsetof(bf_nargs, duration_ms), 0, 1, 3600000},
    {"--port", offsetof(bf_nargs, port), 0, 0, 0},
};

/* A native mode option of the command line's table (a flag setting a boolean key). */
static int bf_nargs_mode_opt(const char *flag, bf_nargs *a)
{
    for (size_t k = 0; k < bf_mode_opt_count; k++) {
        const bf_mode_opt *o = &bf_mode_opts[k];
        if (!(o->modes & (1u << BF_MODE_NATIVE)) || o->kind != BF_MOPT_SET ||
            strcmp(o->flag, flag))
            continue;
        int *field = !strcmp(o->key, "dirty") ? &a->dirty : !strcmp(o->key, "idle") ? &a->idle
                                                                                    : NULL;
        if (!field)
            return 0;
        *field = !strcmp(o->values, "true");
        return 1;
    }
    return 0;
}

int bf_nargs_parse(int argc, char **argv, bf_nargs *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->rate = 99;
    a->duration_ms = 5000;
    a->idle = 1;
    for (int i = 1; i < argc; i++) {
        if (bf_nargs_mode_opt(argv[i], a))
            continue;
        size_t k = 0, n = sizeof(bf_nargs_table) / sizeof(bf_nargs_table[0]);
        while (k < n && strcmp(argv[i], bf_nargs_table[k].flag))
            k++;
        if (k == n) {
            snprintf(err, errlen, "unknown option %s", argv[i]);
            return -1;
        }
        char *field = (char *)a + bf_nargs_table[k].offset;
        if (bf_nargs_table[k].hi == 0) {
            *(int *)field = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        char *end;
        errno = 0;
        long long x = v ? strtoll(v, &end, 10) : 0;
        if (!v || !*v || *end || errno || x < bf_nargs_table[k].lo || x > bf_nargs_table[k].hi) {
            snprintf(err, errlen, "%s needs a whole number, %lld to %lld (got %s)",
                     bf_nargs_table[k].flag, bf_nargs_table[k].lo, bf_nargs_table[k].hi,
                     v ? v : "nothing");
            return -1;
        }
        if (bf_nargs_table[k].is_long)
            *(long *)field = (long)x;
        else
            *(unsigned *)field = (unsigned)x;
    }
    if (a->pid <= 0) {
        snprintf(err, errlen, "--pid PID is needed");
        return -1;
    }
    return 0;
}
