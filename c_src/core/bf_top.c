/* bf_top: see bf_top.h. Two string-keyed tables (functions, roots) with open addressing;
 * each entry keeps this snapshot's counts and the previous one's. */
#include "bf_top.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    uint64_t own, total, own_prev, total_prev;
    uint64_t stamp; /* the line that last counted it in total (once per stack) */
} bf_top_entry;

typedef struct {
    bf_top_entry *e;
    size_t cap, n;
} bf_top_table;

struct bf_top {
    bf_top_table fns, roots;
    uint64_t samples, samples_prev, line;
};

static uint64_t bf_top_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int bf_top_grow(bf_top_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    bf_top_entry *e = calloc(cap, sizeof(*e));
    if (!e)
        return -1;
    for (size_t i = 0; i < t->cap; i++)
        if (t->e[i].name) {
            size_t j = bf_top_hash(t->e[i].name, strlen(t->e[i].name)) & (cap - 1);
            while (e[j].name)
                j = (j + 1) & (cap - 1);
            e[j] = t->e[i];
        }
    free(t->e);
    t->e = e;
    t->cap = cap;
    return 0;
}

static bf_top_entry *bf_top_get(bf_top_table *t, const char *s, size_t n)
{
    if ((t->n + 1) * 2 > t->cap && bf_top_grow(t) != 0)
        return NULL;
    size_t j = bf_top_hash(s, n) & (t->cap - 1);
    while (t->e[j].name) {
        if (!strncmp(t->e[j].name, s, n) && t->e[j].name[n] == '\0')
            return &t->e[j];
        j = (j + 1) & (t->cap - 1);
    }
    char *name = malloc(n + 1);
    if (!name)
        return NULL;
    memcpy(name, s, n);
    name[n] = '\0';
    t->e[j].name = name;
    t->n++;
    return &t->e[j];
}

bf_top *bf_top_new(void)
{
    return calloc(1, sizeof(bf_top));
}

static void bf_top_table_free(bf_top_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->e[i].name);
    free(t->e);
}

void bf_top_free(bf_top *t)
{
    if (!t)
        return;
    bf_top_table_free(&t->fns);
    bf_top_table_free(&t->roots);
    free(t);
}

static void bf_top_roll(bf_top_table *t, int reset)
{
    for (size_t i = 0; i < t->cap; i++) {
        t->e[i].own_prev = t->e[i].own;
        t->e[i].total_prev = t->e[i].total;
        if (reset)
            t->e[i].own = t->e[i].total = 0;
    }
}

static int bf_top_feed(bf_top *t, const char *folded, size_t len, int roots);

int bf_top_update(bf_top *t, const char *folded, size_t len, int roots)
{
    bf_top_roll(&t->fns, 1);
    bf_top_roll(&t->roots, 1);
    t->samples_prev = t->samples;
    t->samples = 0;
    return bf_top_feed(t, folded, len, roots);
}

int bf_top_add_interval(bf_top *t, const char *folded, size_t len, int roots)
{
    bf_top_roll(&t->fns, 0);
    bf_top_roll(&t->roots, 0);
    t->samples_prev = t->samples;
    return bf_top_feed(t, folded, len, roots);
}

static int bf_top_feed(bf_top *t, const char *folded, size_t len, int roots)
{
    for (const char *p = folded, *end = folded + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *sp = le;
        while (sp > p && sp[-1] != ' ')
            sp--;
        uint64_t count = 0;
        for (const char *d = sp; d < le && *d >= '0' && *d <= '9'; d++)
            count = count * 10 + (uint64_t)(*d - '0');
        if (sp > p && count) {
            t->line++;
            t->samples += count;
            const char *stack_end = sp - 1, *f = p;
            int first = 1;
            while (f < stack_end) {
                const char *semi = memchr(f, ';', (size_t)(stack_end - f));
                const char *fe = semi ? semi : stack_end;
                bf_top_entry *e = bf_top_get(first && roots ? &t->roots : &t->fns, f,
                                             (size_t)(fe - f));
                if (!e)
                    return -1;
                if (first && roots) {
                    e->own += count;
                    e->total += count;
                } else {
                    if (e->stamp != t->line) {
                        e->total += count;
                        e->stamp = t->line;
                    }
                    if (!semi)
                        e->own += count;
                }
                first = 0;
                f = fe + 1;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

void bf_top_samples(const bf_top *t, uint64_t *interval, uint64_t *all)
{
    *interval = t->samples >= t->samples_prev ? t->samples - t->samples_prev : t->samples;
    *all = t->samples;
}

static int bf_top_by_total;

static int bf_top_cmp(const void *a, const void *b)
{
    const bf_top_row *x = a, *y = b;
    uint64_t kx = bf_top_by_total ? x->total : x->own, ky = bf_top_by_total ? y->total : y->own;
    if (kx != ky)
        return kx > ky ? -1 : 1;
    uint64_t ax = bf_top_by_total ? x->total_all : x->own_all;
    uint64_t ay = bf_top_by_total ? y->total_all : y->own_all;
    if (ax != ay)
        return ax > ay ? -1 : 1;
    return strcmp(x->name, y->name);
}

size_t bf_top_rows(const bf_top *t, int roots, int by_total, bf_top_row *rows, size_t max)
{
    const bf_top_table *tb = roots ? &t->roots : &t->fns;
    size_t n = 0;
    bf_top_row *all = malloc((tb->n ? tb->n : 1) * sizeof(*all));
    if (!all)
        return 0;
    for (size_t i = 0; i < tb->cap; i++) {
        const bf_top_entry *e = &tb->e[i];
        if (!e->name || (!e->own && !e->total))
            continue;
        /* a restarted run (counts went down) starts the interval afresh */
        uint64_t own = e->own >= e->own_prev ? e->own - e->own_prev : e->own;
        uint64_t total = e->total >= e->total_prev ? e->total - e->total_prev : e->total;
        all[n++] = (bf_top_row){e->name, own, total, e->own, e->total};
    }
    bf_top_by_total = by_total;
    qsort(all, n, sizeof(*all), bf_top_cmp);
    if (n > max)
        n = max;
    memcpy(rows, all, n * sizeof(*rows));
    free(all);
    return n;
}
