/* bf_perfmap: parsing and looking up the JIT's perf map. See bf_perfmap.h.
 *
 * Owns: entries in file order (start, end, sequence, name offset), a name arena, an index
 * sorted by (start, sequence) rebuilt lazily after feeds, and the carry of a partial line.
 * Lookup: the entries that start at or below pc, nearest first; the newest containing pc
 * wins. Ranges normally do not overlap, so the scan stops at the first entry that ends at
 * or below pc after BF_PERFMAP_OVERLAP_SCAN entries (a reloaded module's older, larger
 * range is still found within that window).
 */
#include "bf_perfmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BF_PERFMAP_OVERLAP_SCAN 64u /* entries looked at below pc for an overlapping range */
#define BF_PERFMAP_READ_CHUNK 65536u

typedef struct bf_pm_entry {
    uint64_t start, end; /* [start, end) */
    uint32_t seq;        /* order in the file: later wins */
    uint32_t name;       /* offset in the arena */
} bf_pm_entry;

typedef struct bf_pm_key {
    uint64_t start;
    uint32_t seq; /* = the entry's index */
} bf_pm_key;

struct bf_perfmap {
    bf_pm_entry *e;
    size_t n, cap;
    bf_pm_key *idx; /* sorted by (start, seq); valid when !dirty */
    int dirty;
    char *names;
    size_t names_len, names_cap;
    char carry[BF_PERFMAP_MAX_LINE];
    size_t carry_len;
    int carry_overflow; /* the line being carried is already too long */
    uint64_t malformed;
};

bf_perfmap *bf_perfmap_new(void)
{
    return calloc(1, sizeof(bf_perfmap));
}

void bf_perfmap_free(bf_perfmap *pm)
{
    if (!pm)
        return;
    free(pm->e);
    free(pm->idx);
    free(pm->names);
    free(pm);
}

static int bf_hex(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    uint64_t v = 0;
    int digits = 0;
    for (; s < end; s++, digits++) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            break;
        if (digits >= 16)
            return -1;
        v = (v << 4) | (uint64_t)d;
    }
    if (digits == 0)
        return -1;
    *p = s;
    *out = v;
    return 0;
}

/* Appends the beamflame form of a perf map name to the arena; its offset or -1. */
static int64_t bf_pm_name(bf_perfmap *pm, const char *s0, size_t n0)
{
    if (n0 && s0[0] == '$') {
        s0++;
        n0--;
    }
    /* atoms that need quotes come quoted (perf map and debugger list alike, measured on
     * OTP 25 and 27: m:'-f/1-lc$^0/1-0-'/1, 'Elixir.App':run/1): drop the quotes, so every
     * mode names a function the same way */
    char unq[BF_PERFMAP_MAX_LINE];
    size_t n = 0;
    for (size_t j = 0; j < n0 && n + 1 < sizeof(unq); j++) {
        if (s0[j] == '\\' && j + 1 < n0 && s0[j + 1] == '\'')
            unq[n++] = s0[++j];
        else if (s0[j] != '\'')
            unq[n++] = s0[j];
    }
    const char *s = unq;
    static const char prologue[] = "-CodeInfoPrologue";
    size_t pl = sizeof(prologue) - 1;
    if (n > pl && !memcmp(s + n - pl, prologue, pl))
        n -= pl;
    char buf[BF_PERFMAP_MAX_LINE];
    size_t o = 0;
    const char *colon = memchr(s, ':', n);
    int glue = colon && (size_t)(colon - s) + 1 < n && colon[1] == ':';
    if (!glue && colon) {
        size_t ml = (size_t)(colon - s);
        const char *m = s, *f = colon + 1;
        size_t fl = n - ml - 1;
        int elixir = ml > 7 && !memcmp(m, "Elixir.", 7);
        if (elixir) {
            m += 7;
            ml -= 7;
        }
        memcpy(buf, m, ml);
        o = ml;
        buf[o++] = elixir ? '.' : ':';
        /* an anonymous fun: -parent/N-fun-K-/Arity -> parent/N-fun-K */
        const char *slash = fl ? memchr(f, '/', fl) : NULL;
        const char *last_slash = NULL;
        for (const char *c = f; c < f + fl; c++)
            if (*c == '/')
                last_slash = c;
        if (fl > 2 && f[0] == '-' && last_slash && last_slash > f && last_slash[-1] == '-' &&
            slash != last_slash) {
            memcpy(buf + o, f + 1, (size_t)(last_slash - 1 - (f + 1)));
            o += (size_t)(last_slash - 1 - (f + 1));
        } else {
            memcpy(buf + o, f, fl);
            o += fl;
        }
    } else {
        memcpy(buf, s, n);
        o = n;
    }
    if (pm->names_len + o + 1 > pm->names_cap) {
        size_t ncap = pm->names_cap ? pm->names_cap * 2 : 65536;
        while (ncap < pm->names_len + o + 1)
            ncap *= 2;
        char *nn = realloc(pm->names, ncap);
        if (!nn)
            return -1;
        pm->names = nn;
        pm->names_cap = ncap;
    }
    int64_t off = (int64_t)pm->names_len;
    memcpy(pm->names + pm->names_len, buf, o);
    pm->names[pm->names_len + o] = '\0';
    pm->names_len += o + 1;
    return off;
}

/* One line without its newline: `<hex start> <hex size> <name>`. 0, or -1 for memory. */
static int bf_pm_line(bf_perfmap *pm, const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    uint64_t start, size;
    if (n && end[-1] == '\r')
        end--;
    if (bf_hex(&p, end, &start) != 0 || p >= end || *p != ' ')
        goto bad;
    p++;
    if (bf_hex(&p, end, &size) != 0 || p >= end || *p != ' ' || size == 0 ||
        start + size < start)
        goto bad;
    p++;
    if (p >= end)
        goto bad;
    if (pm->n >= BF_PERFMAP_MAX_ENTRIES)
        return -1;
    if (pm->n == pm->cap) {
        size_t ncap = pm->cap ? pm->cap * 2 : 4096;
        bf_pm_entry *ne = realloc(pm->e, ncap * sizeof(*ne));
        if (!ne)
            return -1;
        pm->e = ne;
        pm->cap = ncap;
    }
    int64_t name = bf_pm_name(pm, p, (size_t)(end - p));
    if (name < 0)
        return -1;
    pm->e[pm->n] = (bf_pm_entry){start, start + size, (uint32_t)pm->n, (uint32_t)name};
    pm->n++;
    pm->dirty = 1;
    return 0;
bad:
    pm->malformed++;
    return 0;
}

int bf_perfmap_feed(bf_perfmap *pm, const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t take = (size_t)((nl ? nl : end) - p);
        if (pm->carry_len + take >= sizeof(pm->carry)) {
            pm->carry_overflow = 1;
            pm->carry_len = 0;
        } else {
            memcpy(pm->carry + pm->carry_len, p, take);
            pm->carry_len += take;
        }
        if (!nl)
            break;
        if (pm->carry_overflow)
            pm->malformed++;
        else if (pm->carry_len && bf_pm_line(pm, pm->carry, pm->carry_len) != 0)
            return -1;
        pm->carry_len = 0;
        pm->carry_overflow = 0;
        p = nl + 1;
    }
    return 0;
}

int bf_perfmap_read_file(bf_perfmap *pm, const char *path, uint64_t *offset)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char *buf = malloc(BF_PERFMAP_READ_CHUNK);
    int rc = buf ? 0 : -2;
    while (rc == 0) {
        ssize_t r = pread(fd, buf, BF_PERFMAP_READ_CHUNK, (off_t)*offset);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = -1;
        else if (r == 0)
            break;
        else if (bf_perfmap_feed(pm, buf, (size_t)r) != 0)
            rc = -2;
        else
            *offset += (uint64_t)r;
    }
    int saved = errno;
    free(buf);
    close(fd);
    errno = saved;
    return rc;
}

static int bf_pm_cmp(const void *a, const void *b)
{
    const bf_pm_key *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static int bf_pm_index(bf_perfmap *pm)
{
    bf_pm_key *idx = realloc(pm->idx, (pm->n ? pm->n : 1) * sizeof(bf_pm_key));
    if (!idx)
        return -1;
    pm->idx = idx;
    for (size_t i = 0; i < pm->n; i++)
        idx[i] = (bf_pm_key){pm->e[i].start, (uint32_t)i};
    qsort(idx, pm->n, sizeof(bf_pm_key), bf_pm_cmp);
    pm->dirty = 0;
    return 0;
}

const char *bf_perfmap_lookup(bf_perfmap *pm, uint64_t pc, uint64_t *start)
{
    if (pm->n == 0 || (pm->dirty && bf_pm_index(pm) != 0))
        return NULL;
    /* the last index whose entry starts at or below pc */
    size_t lo = 0, hi = pm->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pm->idx[mid].start <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    const bf_pm_entry *best = NULL;
    for (size_t k = lo, seen = 0; k > 0 && seen < BF_PERFMAP_OVERLAP_SCAN; k--, seen++) {
        const bf_pm_entry *e = &pm->e[pm->idx[k - 1].seq];
        if (pc < e->end && (!best || e->seq > best->seq))
            best = e;
    }
    if (!best)
        return NULL;
    if (start)
        *start = best->start;
    return pm->names + best->name;
}

size_t bf_perfmap_count(const bf_perfmap *pm)
{
    return pm->n;
}

uint64_t bf_perfmap_malformed(const bf_perfmap *pm)
{
    return pm->malformed;
}
