/* bf_stack_table: interned frames and weighted, merged stacks under hard caps.
 *
 * Layout (all arrays are plain growable arrays; every allocation is charged to `bytes`,
 * which never exceeds caps.max_bytes):
 *   names      one char arena; frame i's name is names[frames[i].off .. +len)
 *   frames     frame records, indexed by frame id
 *   ftab       open-addressing hash (linear probing) of frame id + 1; 0 = empty slot
 *   ids        one uint32 arena holding every stack's frame ids back to back
 *   stacks     stack records, indexed by stack id
 *   stab       open-addressing hash of stack id + 1
 * Hash tables are kept at most half full, so probes stay short.
 */
#define _GNU_SOURCE /* qsort_r */
#include "bf_stack_table.h"

#include <stdlib.h>
#include <string.h>

#define BF_ST_MIN_SLOTS 64u  /* initial hash table size (power of two) */
#define BF_ST_MIN_CAP 64u    /* initial capacity of each array, in elements */
#define BF_FNV_OFFSET 1469598103934665603ull
#define BF_FNV_PRIME 1099511628211ull

typedef struct bf_frame {
    uint64_t off;  /* into names */
    uint32_t len;  /* bytes */
    uint32_t hash; /* low 32 bits of the name's FNV-1a hash */
} bf_frame;

typedef struct bf_stack {
    uint64_t weight;  /* saturating sum */
    uint64_t credits; /* how many times weight was added (pprof's count for traces) */
    uint64_t off;    /* into ids */
    uint32_t depth;  /* frames, >= 1 */
    uint32_t hash;
} bf_stack;

struct bf_stack_table {
    bf_st_caps caps;
    size_t bytes; /* allocated by the arrays below */
    char *names;
    size_t names_len, names_cap;
    bf_frame *frames;
    size_t nframes, frames_cap;
    uint32_t *ftab;
    size_t ftab_slots;
    uint32_t *ids;
    size_t ids_len, ids_cap;
    bf_stack *stacks;
    size_t nstacks, stacks_cap;
    uint32_t *stab;
    size_t stab_slots;
    uint32_t *scratch; /* max_depth ids, for truncation */
    int64_t truncated_id; /* id of BF_ST_TRUNCATED_FRAME, -1 until first needed */
    bf_st_stats stats;
};

void bf_st_default_caps(bf_st_caps *caps)
{
    caps->max_stacks = BF_ST_DEFAULT_MAX_STACKS;
    caps->max_depth = BF_ST_DEFAULT_MAX_DEPTH;
    caps->max_bytes = BF_ST_DEFAULT_MAX_BYTES;
}

static uint32_t bf_hash_bytes(const char *p, size_t n)
{
    uint64_t h = BF_FNV_OFFSET;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= BF_FNV_PRIME;
    }
    return (uint32_t)(h ^ (h >> 32));
}

static uint32_t bf_hash_ids(const uint32_t *ids, size_t n)
{
    uint64_t h = BF_FNV_OFFSET ^ n;
    for (size_t i = 0; i < n; i++) {
        h ^= ids[i];
        h *= 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* Grows *p (capacity *cap elements of `elem` bytes) to hold `need` elements, charging the
 * table's byte budget: doubles when the budget allows, else takes what fits. */
static int bf_st_grow(bf_stack_table *st, void **p, size_t *cap, size_t elem, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t budget = st->caps.max_bytes - st->bytes;
    size_t ncap = *cap ? *cap * 2 : BF_ST_MIN_CAP;
    while (ncap < need)
        ncap *= 2;
    if ((ncap - *cap) > budget / elem)
        ncap = *cap + budget / elem;
    if (ncap < need)
        return -1;
    void *np = realloc(*p, ncap * elem);
    if (!np)
        return -1;
    st->bytes += (ncap - *cap) * elem;
    *p = np;
    *cap = ncap;
    return 0;
}

static int bf_st_alloc_slots(bf_stack_table *st, uint32_t **tab, size_t *slots, size_t nslots)
{
    size_t old = *slots * sizeof(uint32_t);
    size_t add = nslots * sizeof(uint32_t);
    if (add > st->caps.max_bytes - (st->bytes - old))
        return -1;
    uint32_t *t = calloc(nslots, sizeof(uint32_t));
    if (!t)
        return -1;
    free(*tab);
    st->bytes = st->bytes - old + add;
    *tab = t;
    *slots = nslots;
    return 0;
}

bf_stack_table *bf_st_new(const bf_st_caps *caps)
{
    bf_st_caps c;
    if (caps)
        c = *caps;
    else
        bf_st_default_caps(&c);
    if (c.max_stacks == 0 || c.max_depth == 0 || c.max_depth > BF_ST_MAX_DEPTH_LIMIT)
        return NULL;
    bf_stack_table *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->caps = c;
    st->truncated_id = -1;
    st->bytes = sizeof(*st) + c.max_depth * sizeof(uint32_t);
    if (st->bytes > c.max_bytes)
        goto fail;
    st->scratch = malloc(c.max_depth * sizeof(uint32_t));
    if (!st->scratch)
        goto fail;
    if (bf_st_alloc_slots(st, &st->ftab, &st->ftab_slots, BF_ST_MIN_SLOTS) != 0 ||
        bf_st_alloc_slots(st, &st->stab, &st->stab_slots, BF_ST_MIN_SLOTS) != 0)
        goto fail;
    return st;
fail:
    bf_st_free(st);
    return NULL;
}

void bf_st_free(bf_stack_table *st)
{
    if (!st)
        return;
    free(st->names);
    free(st->frames);
    free(st->ftab);
    free(st->ids);
    free(st->stacks);
    free(st->stab);
    free(st->scratch);
    free(st);
}

static uint32_t bf_st_frame_hash(const bf_stack_table *st, size_t i)
{
    return st->frames[i].hash;
}

static uint32_t bf_st_stack_hash(const bf_stack_table *st, size_t i)
{
    return st->stacks[i].hash;
}

/* Doubles a hash table (*tab, *slots) holding items 0..n-1, whose hashes hash_of gives.
 * On failure the old table stays as it was. */
static int bf_st_rehash(bf_stack_table *st, uint32_t **tab, size_t *slots, size_t n,
                        uint32_t (*hash_of)(const bf_stack_table *, size_t))
{
    uint32_t *old = *tab;
    size_t oslots = *slots;
    *tab = NULL;
    *slots = 0;
    st->bytes -= oslots * sizeof(uint32_t);
    if (bf_st_alloc_slots(st, tab, slots, oslots * 2) != 0) {
        *tab = old;
        *slots = oslots;
        st->bytes += oslots * sizeof(uint32_t);
        return -1;
    }
    size_t mask = *slots - 1;
    for (size_t i = 0; i < n; i++) {
        size_t s = hash_of(st, i) & mask;
        while ((*tab)[s])
            s = (s + 1) & mask;
        (*tab)[s] = (uint32_t)i + 1;
    }
    free(old);
    return 0;
}

int64_t bf_st_intern(bf_stack_table *st, const char *name, size_t n)
{
    if (!st || (!name && n) || n > UINT32_MAX)
        return -1;
    uint32_t h = bf_hash_bytes(name, n);
    size_t mask = st->ftab_slots - 1;
    size_t s = h & mask;
    for (uint32_t e; (e = st->ftab[s]) != 0; s = (s + 1) & mask) {
        const bf_frame *f = &st->frames[e - 1];
        if (f->hash == h && f->len == n && memcmp(st->names + f->off, name, n) == 0)
            return e - 1;
    }
    if (st->nframes >= UINT32_MAX - 1)
        return -1;
    if ((st->nframes + 1) * 2 > st->ftab_slots) {
        if (bf_st_rehash(st, &st->ftab, &st->ftab_slots, st->nframes, bf_st_frame_hash) != 0)
            return -1;
        mask = st->ftab_slots - 1;
        s = h & mask;
        while (st->ftab[s])
            s = (s + 1) & mask;
    }
    if (bf_st_grow(st, (void **)&st->names, &st->names_cap, 1, st->names_len + n + 1) != 0 ||
        bf_st_grow(st, (void **)&st->frames, &st->frames_cap, sizeof(bf_frame),
                   st->nframes + 1) != 0)
        return -1;
    bf_frame *f = &st->frames[st->nframes];
    f->off = st->names_len;
    f->len = (uint32_t)n;
    f->hash = h;
    if (n)
        memcpy(st->names + st->names_len, name, n);
    st->names[st->names_len + n] = '\0';
    st->names_len += n + 1;
    st->ftab[s] = (uint32_t)++st->nframes;
    return (int64_t)st->nframes - 1;
}

void bf_st_count_drop(bf_stack_table *st, uint64_t weight, int by_bytes)
{
    st->stats.dropped_samples++;
    st->stats.dropped_weight += weight;
    if (by_bytes)
        st->stats.dropped_by_bytes++;
    else
        st->stats.dropped_by_stacks++;
}

static void bf_st_credit(bf_stack_table *st, bf_stack *s, uint64_t weight)
{
    s->weight = (s->weight > UINT64_MAX - weight) ? UINT64_MAX : s->weight + weight;
    s->credits++;
    st->stats.total_weight = (st->stats.total_weight > UINT64_MAX - weight)
                                 ? UINT64_MAX
                                 : st->stats.total_weight + weight;
    st->stats.added_samples++;
}

static bf_st_result bf_st_put(bf_stack_table *st, const uint32_t *ids, size_t depth,
                              uint64_t weight, int credit, uint32_t *stack_id);

bf_st_result bf_st_add(bf_stack_table *st, const uint32_t *ids, size_t depth, uint64_t weight,
                       uint32_t *stack_id)
{
    return bf_st_put(st, ids, depth, weight, 1, stack_id);
}

bf_st_result bf_st_adopt(bf_stack_table *st, const uint32_t *ids, size_t depth,
                         uint32_t *stack_id)
{
    return bf_st_put(st, ids, depth, 0, 0, stack_id);
}

static bf_st_result bf_st_put(bf_stack_table *st, const uint32_t *ids, size_t depth,
                              uint64_t weight, int credit, uint32_t *stack_id)
{
    if (!st || !ids || depth == 0)
        return BF_ST_INVALID;
    for (size_t i = 0; i < depth; i++)
        if (ids[i] >= st->nframes)
            return BF_ST_INVALID;
    int truncated = 0;
    if (depth > st->caps.max_depth) {
        if (st->truncated_id < 0) {
            st->truncated_id =
                bf_st_intern(st, BF_ST_TRUNCATED_FRAME, sizeof(BF_ST_TRUNCATED_FRAME) - 1);
            if (st->truncated_id < 0) {
                bf_st_count_drop(st, weight, 1);
                return BF_ST_DROPPED;
            }
        }
        depth = st->caps.max_depth;
        memcpy(st->scratch, ids, (depth - 1) * sizeof(uint32_t));
        st->scratch[depth - 1] = (uint32_t)st->truncated_id;
        ids = st->scratch;
        truncated = 1;
    }
    uint32_t h = bf_hash_ids(ids, depth);
    size_t mask = st->stab_slots - 1;
    size_t s = h & mask;
    for (uint32_t e; (e = st->stab[s]) != 0; s = (s + 1) & mask) {
        bf_stack *k = &st->stacks[e - 1];
        if (k->hash == h && k->depth == depth &&
            memcmp(st->ids + k->off, ids, depth * sizeof(uint32_t)) == 0) {
            if (credit)
                bf_st_credit(st, k, weight);
            st->stats.truncated += (uint64_t)truncated;
            if (stack_id)
                *stack_id = e - 1;
            return BF_ST_OK;
        }
    }
    if (st->nstacks >= st->caps.max_stacks) {
        bf_st_count_drop(st, weight, 0);
        return BF_ST_DROPPED;
    }
    if ((st->nstacks + 1) * 2 > st->stab_slots) {
        if (bf_st_rehash(st, &st->stab, &st->stab_slots, st->nstacks, bf_st_stack_hash) != 0)
            goto no_memory;
        mask = st->stab_slots - 1;
        s = h & mask;
        while (st->stab[s])
            s = (s + 1) & mask;
    }
    if (bf_st_grow(st, (void **)&st->ids, &st->ids_cap, sizeof(uint32_t), st->ids_len + depth) !=
            0 ||
        bf_st_grow(st, (void **)&st->stacks, &st->stacks_cap, sizeof(bf_stack),
                   st->nstacks + 1) != 0)
        goto no_memory;
    bf_stack *k = &st->stacks[st->nstacks];
    k->weight = 0;
    k->credits = 0;
    k->off = st->ids_len;
    k->depth = (uint32_t)depth;
    k->hash = h;
    memcpy(st->ids + st->ids_len, ids, depth * sizeof(uint32_t));
    st->ids_len += depth;
    st->stab[s] = (uint32_t)++st->nstacks;
    if (credit)
        bf_st_credit(st, k, weight);
    st->stats.truncated += (uint64_t)truncated;
    if (stack_id)
        *stack_id = (uint32_t)st->nstacks - 1;
    return BF_ST_OK;
no_memory:
    bf_st_count_drop(st, weight, 1);
    return BF_ST_DROPPED;
}

bf_st_result bf_st_add_weight(bf_stack_table *st, uint32_t stack_id, uint64_t weight)
{
    if (!st || stack_id >= st->nstacks)
        return BF_ST_INVALID;
    bf_st_credit(st, &st->stacks[stack_id], weight);
    return BF_ST_OK;
}

uint32_t bf_st_frame_count(const bf_stack_table *st)
{
    return (uint32_t)st->nframes;
}

const char *bf_st_frame_name(const bf_stack_table *st, uint32_t id, size_t *len)
{
    if (id >= st->nframes)
        return NULL;
    if (len)
        *len = st->frames[id].len;
    return st->names + st->frames[id].off;
}

uint32_t bf_st_stack_count(const bf_stack_table *st)
{
    return (uint32_t)st->nstacks;
}

const uint32_t *bf_st_stack(const bf_stack_table *st, uint32_t idx, size_t *depth,
                            uint64_t *weight)
{
    if (idx >= st->nstacks)
        return NULL;
    const bf_stack *k = &st->stacks[idx];
    if (depth)
        *depth = k->depth;
    if (weight)
        *weight = k->weight;
    return st->ids + k->off;
}

void bf_st_get_stats(const bf_stack_table *st, bf_st_stats *out)
{
    *out = st->stats;
}

size_t bf_st_bytes(const bf_stack_table *st)
{
    return st->bytes;
}

const bf_st_caps *bf_st_get_caps(const bf_stack_table *st)
{
    return &st->caps;
}

/* Orders two different frames the way their folded text orders: byte by byte, and where
 * one name is a prefix of the other, by the character that follows the shorter one in the
 * line (';' when more frames follow, ' ' before the count). */
static int bf_st_cmp_frames(const bf_stack_table *st, uint32_t a, uint32_t b, int a_more,
                            int b_more)
{
    const bf_frame *fa = &st->frames[a], *fb = &st->frames[b];
    size_t n = fa->len < fb->len ? fa->len : fb->len;
    int c = memcmp(st->names + fa->off, st->names + fb->off, n);
    if (c)
        return c;
    if (fa->len < fb->len) {
        unsigned char next = a_more ? ';' : ' ';
        unsigned char other = (unsigned char)st->names[fb->off + n];
        return next <= other ? -1 : 1;
    }
    if (fb->len < fa->len) {
        unsigned char next = b_more ? ';' : ' ';
        unsigned char other = (unsigned char)st->names[fa->off + n];
        return next <= other ? 1 : -1;
    }
    return 0;
}

static int bf_st_cmp_stacks(const void *pa, const void *pb, void *ctx)
{
    const bf_stack_table *st = ctx;
    const bf_stack *a = &st->stacks[*(const uint32_t *)pa];
    const bf_stack *b = &st->stacks[*(const uint32_t *)pb];
    const uint32_t *ia = st->ids + a->off, *ib = st->ids + b->off;
    size_t n = a->depth < b->depth ? a->depth : b->depth;
    for (size_t i = 0; i < n; i++) {
        if (ia[i] != ib[i])
            return bf_st_cmp_frames(st, ia[i], ib[i], i + 1 < a->depth, i + 1 < b->depth);
    }
    /* One stack is a prefix of the other: the shorter line continues with ' ', which
     * sorts before ';'. */
    return (a->depth > b->depth) - (a->depth < b->depth);
}

uint32_t *bf_st_sorted(const bf_stack_table *st)
{
    if (st->nstacks == 0)
        return NULL;
    uint32_t *order = malloc(st->nstacks * sizeof(uint32_t));
    if (!order)
        return NULL;
    for (size_t i = 0; i < st->nstacks; i++)
        order[i] = (uint32_t)i;
    qsort_r(order, st->nstacks, sizeof(uint32_t), bf_st_cmp_stacks, (void *)st);
    return order;
}

uint64_t bf_st_stack_credits(const bf_stack_table *st, uint32_t idx)
{
    return idx < st->nstacks ? st->stacks[idx].credits : 0;
}
