/* bf_stack_table: interned frames and weighted, merged stacks under hard caps.
 *
 * Layout (all arrays are plain growable arrays; every allocation is charged to `bytes`,
 * which never exceeds caps.max_bytes):
 *   names      one char arena; frame i's name is names[frames[i].off .. +len)
 *   frames     frame records, indexed by frame id
 *   ftab       open-addressing hash (linear probing): a slot holds the name's hash in its
 *              high half and frame id + 1 in its low half; 0 = empty. A probe that meets
 *              another name's hash moves on without reading that frame
 *   ids        one uint32 arena holding every stack's frame ids back to back
 *   stacks     stack records, indexed by stack id
 *   stab       the same for stacks: their hash and stack id + 1
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
} bf_frame;

typedef struct bf_stack {
    uint64_t weight;  /* saturating sum */
    uint64_t credits; /* how many times weight was added (pprof's count for traces) */
    uint64_t off;    /* into ids */
    uint32_t depth;  /* frames, >= 1 */
} bf_stack;

struct bf_stack_table {
    bf_st_caps caps;
    size_t bytes; /* allocated by the arrays below */
    char *names;
    size_t names_len, names_cap;
    bf_frame *frames;
    size_t nframes, frames_cap;
    uint64_t *ftab;
    size_t ftab_slots;
    uint32_t *ids;
    size_t ids_len, ids_cap;
    bf_stack *stacks;
    size_t nstacks, stacks_cap;
    uint64_t *stab;
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

/* A name's hash, sixteen bytes at a time in two independent lanes (a byte-at-a-time FNV
 * was a third of the time to read a large folded file): each word is mixed in with a
 * multiply and a fold of its high half. The last bytes are read as the name's last eight
 * (or, shorter names, two overlapping four-byte or three single-byte reads), never as a
 * call. Not for adversaries: probing is linear and the table stays half empty, so a bad
 * spread costs time, never memory. */
static uint64_t bf_mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32);
}

static uint64_t bf_load64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static uint64_t bf_load32(const char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

static uint32_t bf_hash_bytes(const char *p, size_t n)
{
    uint64_t a = BF_FNV_OFFSET ^ n, b = BF_FNV_PRIME;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a = bf_mix(a, bf_load64(p + i));
        b = bf_mix(b, bf_load64(p + i + 8));
    }
    if (i + 8 <= n) {
        a = bf_mix(a, bf_load64(p + i));
        i += 8;
    }
    if (n >= 8) {
        if (i < n) /* the last n - i bytes, in the high end of the name's last word */
            b = bf_mix(b, bf_load64(p + n - 8) >> (8 * (8 - (n - i))));
    } else if (n >= 4) {
        b = bf_mix(b, bf_load32(p) | bf_load32(p + n - 4) << 32);
    } else if (n) {
        b = bf_mix(b, (uint64_t)(unsigned char)p[0] | (uint64_t)(unsigned char)p[n / 2] << 8 |
                          (uint64_t)(unsigned char)p[n - 1] << 16);
    }
    uint64_t h = bf_mix(a, b) * BF_FNV_PRIME;
    return (uint32_t)(h ^ (h >> 29));
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

/* Makes *tab (*slots slots) a table of nslots slots holding the same entries: a slot holds
 * a hash in its high half and an index + 1 in its low half (0: empty), so that moving an
 * entry and passing another key's entry need no other memory. On failure (the byte cap,
 * or no memory) the table stays as it was. */
static int bf_st_resize(bf_stack_table *st, uint64_t **tab, size_t *slots, size_t nslots)
{
    size_t old = *slots * sizeof(uint64_t);
    size_t add = nslots * sizeof(uint64_t);
    if (add > st->caps.max_bytes - (st->bytes - old))
        return -1;
    uint64_t *t = calloc(nslots, sizeof(uint64_t));
    if (!t)
        return -1;
    for (size_t i = 0; i < *slots; i++) {
        uint64_t e = (*tab)[i];
        if (!e)
            continue;
        size_t k = (e >> 32) & (nslots - 1);
        while (t[k])
            k = (k + 1) & (nslots - 1);
        t[k] = e;
    }
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
    if (bf_st_resize(st, &st->ftab, &st->ftab_slots, BF_ST_MIN_SLOTS) != 0 ||
        bf_st_resize(st, &st->stab, &st->stab_slots, BF_ST_MIN_SLOTS) != 0)
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

int64_t bf_st_intern(bf_stack_table *st, const char *name, size_t n)
{
    if (!st || (!name && n) || n > UINT32_MAX)
        return -1;
    uint32_t h = bf_hash_bytes(name, n);
    size_t mask = st->ftab_slots - 1;
    size_t s = h & mask;
    for (uint64_t e; (e = st->ftab[s]) != 0; s = (s + 1) & mask) {
        if ((uint32_t)(e >> 32) != h)
            continue;
        const bf_frame *f = &st->frames[(uint32_t)e - 1];
        if (f->len == n && memcmp(st->names + f->off, name, n) == 0)
            return (uint32_t)e - 1;
    }
    if (st->nframes >= UINT32_MAX - 1)
        return -1;
    if ((st->nframes + 1) * 2 > st->ftab_slots) {
        if (bf_st_resize(st, &st->ftab, &st->ftab_slots, st->ftab_slots * 2) != 0)
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
    if (n)
        memcpy(st->names + st->names_len, name, n);
    st->names[st->names_len + n] = '\0';
    st->names_len += n + 1;
    st->ftab[s] = ((uint64_t)h << 32) | (uint32_t)++st->nframes;
    return (int64_t)st->nframes - 1;
}

#define BF_ST_BATCH 32u /* names looked up together by bf_st_intern_many */

/* Up to BF_ST_BATCH names in four passes, each touching what the previous one prefetched:
 * hash and the slot; the first slot with the same hash and its frame; the frame's name;
 * the comparison. A name not found in those steps (absent, or behind a colliding hash)
 * goes through bf_st_intern, which inserts it. */
static size_t bf_st_intern_batch(bf_stack_table *st, const char *const *names,
                                 const size_t *lens, size_t n, uint32_t *ids)
{
    uint32_t h[BF_ST_BATCH], cand[BF_ST_BATCH];
    size_t mask = st->ftab_slots - 1;
    for (size_t i = 0; i < n; i++) {
        h[i] = lens[i] > UINT32_MAX ? 0 : bf_hash_bytes(names[i], lens[i]);
        __builtin_prefetch(&st->ftab[h[i] & mask]);
    }
    for (size_t i = 0; i < n; i++) {
        cand[i] = 0;
        for (size_t s = h[i] & mask; st->ftab[s]; s = (s + 1) & mask) {
            if ((uint32_t)(st->ftab[s] >> 32) == h[i]) {
                cand[i] = (uint32_t)st->ftab[s];
                __builtin_prefetch(&st->frames[cand[i] - 1]);
                break;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (cand[i])
            __builtin_prefetch(st->names + st->frames[cand[i] - 1].off);
    for (size_t i = 0; i < n; i++) {
        if (cand[i]) {
            const bf_frame *f = &st->frames[cand[i] - 1];
            if (f->len == lens[i] && memcmp(st->names + f->off, names[i], lens[i]) == 0) {
                ids[i] = cand[i] - 1;
                continue;
            }
        }
        int64_t id = bf_st_intern(st, names[i], lens[i]);
        if (id < 0)
            return i;
        ids[i] = (uint32_t)id;
    }
    return n;
}

size_t bf_st_intern_many(bf_stack_table *st, const char *const *names, const size_t *lens,
                         size_t n, uint32_t *ids)
{
    for (size_t done = 0; done < n;) {
        size_t k = n - done < BF_ST_BATCH ? n - done : BF_ST_BATCH;
        size_t got = bf_st_intern_batch(st, names + done, lens + done, k, ids + done);
        done += got;
        if (got < k)
            return done;
    }
    return n;
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
    for (uint64_t slot; (slot = st->stab[s]) != 0; s = (s + 1) & mask) {
        if ((uint32_t)(slot >> 32) != h)
            continue;
        uint32_t e = (uint32_t)slot;
        bf_stack *k = &st->stacks[e - 1];
        if (k->depth == depth &&
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
        if (bf_st_resize(st, &st->stab, &st->stab_slots, st->stab_slots * 2) != 0)
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
    memcpy(st->ids + st->ids_len, ids, depth * sizeof(uint32_t));
    st->ids_len += depth;
    st->stab[s] = ((uint64_t)h << 32) | (uint32_t)++st->nstacks;
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

void bf_st_prefetch(const bf_stack_table *st, const uint32_t *ids, size_t depth)
{
    if (st && ids && depth && depth <= st->caps.max_depth)
        __builtin_prefetch(&st->stab[bf_hash_ids(ids, depth) & (st->stab_slots - 1)]);
}

bf_st_result bf_st_add_weight(bf_stack_table *st, uint32_t stack_id, uint64_t weight)
{
    if (!st || stack_id >= st->nstacks)
        return BF_ST_INVALID;
    bf_st_credit(st, &st->stacks[stack_id], weight);
    return BF_ST_OK;
}

static uint64_t bf_sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Stack i of src in dst's frame ids (map: src id -> dst id for the first nmapped) into
 * out, its slot in dst prefetched; 0 when a name of it is not in dst. */
static int bf_st_map_stack(const bf_stack_table *dst, const bf_stack_table *src, size_t i,
                           const uint32_t *map, size_t nmapped, uint32_t *out)
{
    const bf_stack *k = &src->stacks[i];
    const uint32_t *from = src->ids + k->off;
    if (k->depth > src->caps.max_depth)
        return 0;
    for (size_t d = 0; d < k->depth; d++) {
        if (from[d] >= nmapped)
            return 0;
        out[d] = map[from[d]];
    }
    bf_st_prefetch(dst, out, k->depth);
    return 1;
}

bf_st_result bf_st_merge(bf_stack_table *dst, const bf_stack_table *src)
{
    if (!dst || !src)
        return BF_ST_INVALID;
    bf_st_result rc = BF_ST_OK;
    uint32_t *map = malloc((src->nframes ? src->nframes : 1) * sizeof(uint32_t));
    size_t depth_cap = src->caps.max_depth ? src->caps.max_depth : 1;
    uint32_t *buf = malloc(2 * depth_cap * sizeof(uint32_t));
    if (!map || !buf) {
        free(map);
        free(buf);
        return BF_ST_DROPPED; /* nothing merged: counted below */
    }
    size_t nmapped = 0;
    for (; nmapped < src->nframes; nmapped++) {
        const bf_frame *f = &src->frames[nmapped];
        int64_t id = bf_st_intern(dst, src->names + f->off, f->len);
        if (id < 0)
            break;
        map[nmapped] = (uint32_t)id;
    }
    uint64_t lost_samples = 0, lost_weight = 0;
    /* Each stack's ids are translated (and its slot in dst prefetched) one stack ahead. */
    int next_mapped = src->nstacks ? bf_st_map_stack(dst, src, 0, map, nmapped, buf) : 0;
    for (size_t i = 0; i < src->nstacks; i++) {
        const bf_stack *k = &src->stacks[i];
        uint32_t *ids = buf + (i & 1) * depth_cap;
        int mapped = next_mapped;
        if (i + 1 < src->nstacks)
            next_mapped = bf_st_map_stack(dst, src, i + 1, map, nmapped,
                                          buf + ((i + 1) & 1) * depth_cap);
        uint32_t sid;
        if (mapped && bf_st_put(dst, ids, k->depth, 0, 0, &sid) == BF_ST_OK) {
            bf_stack *to = &dst->stacks[sid];
            to->weight = bf_sat_add(to->weight, k->weight);
            to->credits = bf_sat_add(to->credits, k->credits);
            continue;
        }
        /* Refused: bf_st_put counted one sample of no weight; a name refused, nothing
         * yet. The stack stood for its credits and its weight. */
        if (!mapped)
            bf_st_count_drop(dst, 0, 1);
        dst->stats.dropped_weight = bf_sat_add(dst->stats.dropped_weight, k->weight);
        if (k->credits > 1)
            dst->stats.dropped_samples = bf_sat_add(dst->stats.dropped_samples, k->credits - 1);
        lost_samples += k->credits;
        lost_weight = bf_sat_add(lost_weight, k->weight);
        rc = BF_ST_DROPPED;
    }
    dst->stats.added_samples = bf_sat_add(dst->stats.added_samples,
                                          src->stats.added_samples - lost_samples);
    dst->stats.total_weight = bf_sat_add(dst->stats.total_weight,
                                         src->stats.total_weight - lost_weight);
    dst->stats.dropped_samples = bf_sat_add(dst->stats.dropped_samples,
                                            src->stats.dropped_samples);
    dst->stats.dropped_weight = bf_sat_add(dst->stats.dropped_weight, src->stats.dropped_weight);
    dst->stats.dropped_by_stacks += src->stats.dropped_by_stacks;
    dst->stats.dropped_by_bytes += src->stats.dropped_by_bytes;
    dst->stats.truncated += src->stats.truncated;
    free(map);
    free(buf);
    return rc;
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

/* Sorting stacks as their folded lines sort ("f1;f2;...;fn " byte by byte).
 *
 * A frame at some position of a line is followed by ';' (more frames) or ' ' (the last),
 * so the line is a sequence of strings "name;" and "name ", and two lines order as the
 * first of those strings that differ. Each frame gets two ranks, the places of "name;"
 * and "name " among all 2 * frames such strings, and a stack becomes a sequence of
 * ranks: comparing lines is comparing integers. The first ranks of every stack are packed
 * into one 64-bit key, the keys radix-sorted, and only stacks with equal keys (a shared
 * prefix longer than the key) compared rank by rank. */
typedef struct bf_st_rank_ctx {
    const bf_stack_table *st;
    uint32_t *rank; /* rank[2 * id]: "name;", rank[2 * id + 1]: "name " (from 1) */
} bf_st_rank_ctx;

/* Orders the strings name(a) + sep(a) and name(b) + sep(b), entries 2 * id + last. */
static int bf_st_cmp_entries(const void *pa, const void *pb, void *ctx)
{
    const bf_stack_table *st = ctx;
    uint32_t ea = *(const uint32_t *)pa, eb = *(const uint32_t *)pb;
    const bf_frame *fa = &st->frames[ea >> 1], *fb = &st->frames[eb >> 1];
    const unsigned char *na = (const unsigned char *)st->names + fa->off;
    const unsigned char *nb = (const unsigned char *)st->names + fb->off;
    size_t la = fa->len + 1, lb = fb->len + 1; /* with the separator */
    size_t n = la < lb ? la : lb;
    size_t common = (fa->len < fb->len ? fa->len : fb->len);
    int c = memcmp(na, nb, common);
    if (c)
        return c;
    for (size_t i = common; i < n; i++) {
        unsigned ca = i < fa->len ? na[i] : ((ea & 1) ? ' ' : ';');
        unsigned cb = i < fb->len ? nb[i] : ((eb & 1) ? ' ' : ';');
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return (la > lb) - (la < lb);
}

static uint32_t bf_st_rank_at(const bf_st_rank_ctx *c, const bf_stack *k, size_t i)
{
    return c->rank[2 * (size_t)c->st->ids[k->off + i] + (i + 1 == k->depth)];
}

/* Orders two stacks by their rank sequences (the whole sequence: ties of the packed key
 * are rare, and a short prefix compares quickly). */
static int bf_st_cmp_ranked(const void *pa, const void *pb, void *ctx)
{
    const bf_st_rank_ctx *c = ctx;
    const bf_stack *a = &c->st->stacks[((const uint64_t *)pa)[1]];
    const bf_stack *b = &c->st->stacks[((const uint64_t *)pb)[1]];
    size_t n = a->depth < b->depth ? a->depth : b->depth;
    for (size_t i = 0; i < n; i++) {
        uint32_t ra = bf_st_rank_at(c, a, i), rb = bf_st_rank_at(c, b, i);
        if (ra != rb)
            return ra < rb ? -1 : 1;
    }
    return (a->depth > b->depth) - (a->depth < b->depth); /* not reached: distinct stacks */
}

/* Stable LSD radix sort of (key, index) pairs by key, a byte at a time; a byte that is
 * the same in every key is skipped. tmp: room for n pairs. */
static void bf_st_radix(uint64_t *pairs, uint64_t *tmp, size_t n)
{
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[(pairs[2 * i] >> shift) & 255]++;
        if (count[(pairs[0] >> shift) & 255] == n)
            continue;
        size_t pos = 0;
        for (unsigned b = 0; b < 256; b++) {
            size_t k = count[b];
            count[b] = pos;
            pos += k;
        }
        for (size_t i = 0; i < n; i++) {
            size_t to = count[(pairs[2 * i] >> shift) & 255]++;
            tmp[2 * to] = pairs[2 * i];
            tmp[2 * to + 1] = pairs[2 * i + 1];
        }
        memcpy(pairs, tmp, n * 2 * sizeof(uint64_t));
    }
}

uint32_t *bf_st_sorted(const bf_stack_table *st)
{
    size_t n = st->nstacks, nf = st->nframes;
    if (n == 0 || nf > UINT32_MAX / 2 - 1) /* ranks are 32-bit (a byte cap keeps far below) */
        return NULL;
    uint32_t *order = malloc(n * sizeof(uint32_t));
    uint32_t *entries = malloc(2 * nf * sizeof(uint32_t));
    uint32_t *rank = malloc(2 * nf * sizeof(uint32_t));
    uint64_t *pairs = malloc(n * 2 * sizeof(uint64_t));
    uint64_t *tmp = malloc(n * 2 * sizeof(uint64_t));
    if (!order || !entries || !rank || !pairs || !tmp) {
        free(order);
        order = NULL;
        goto done;
    }
    for (size_t e = 0; e < 2 * nf; e++)
        entries[e] = (uint32_t)e;
    qsort_r(entries, 2 * nf, sizeof(uint32_t), bf_st_cmp_entries, (void *)st);
    for (size_t i = 0; i < 2 * nf; i++)
        rank[entries[i]] = (uint32_t)i + 1;
    unsigned bits = 1;
    while (bits < 32 && ((uint64_t)1 << bits) <= 2 * nf)
        bits++;
    unsigned per_key = 64 / bits;
    bf_st_rank_ctx c = {.st = st, .rank = rank};
    for (size_t i = 0; i < n; i++) {
        const bf_stack *k = &st->stacks[i];
        uint64_t key = 0;
        for (unsigned j = 0; j < per_key; j++)
            key = (key << bits) | (j < k->depth ? bf_st_rank_at(&c, k, j) : 0);
        pairs[2 * i] = key;
        pairs[2 * i + 1] = i;
    }
    bf_st_radix(pairs, tmp, n);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && pairs[2 * j] == pairs[2 * i])
            j++;
        if (j - i > 1)
            qsort_r(pairs + 2 * i, j - i, 2 * sizeof(uint64_t), bf_st_cmp_ranked, &c);
        i = j;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)pairs[2 * i + 1];
done:
    free(entries);
    free(rank);
    free(pairs);
    free(tmp);
    return order;
}

uint64_t bf_st_stack_credits(const bf_stack_table *st, uint32_t idx)
{
    return idx < st->nstacks ? st->stacks[idx].credits : 0;
}
