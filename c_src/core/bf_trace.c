/* bf_trace: shadow call stacks for traced processes. See bf_trace.h for the rules.
 *
 * Owns: the node table (a bf_stack_table whose stack ids are the calling-context tree's
 * nodes), per-node arrays (parent, frame, depth, nanoseconds), and three open-addressing
 * hash maps: (parent, frame) -> child node, frame key -> frame id, process -> state.
 * Invariants: node ids are dense and stable (the table's stack ids, in creation order);
 * a node's depth never exceeds caps.max_depth, so the table never truncates a path and
 * (parent, frame) -> node is one to one.
 */
#include "bf_trace.h"

#include <stdlib.h>
#include <string.h>

#define BF_TRACE_INITIAL_SLOTS 1024u /* each map starts this large and doubles at 50% */
#define BF_TRACE_FCACHE 512u         /* direct-mapped frame cache in front of the map */
#define BF_TRACE_OVERFLOW_MAX 4096u  /* frames past max_depth kept per process (16 KiB):
                                        enough to follow returns out of deep recursion */

typedef struct bf_tproc {
    uint64_t key;
    uint64_t last_ns;     /* time credited up to here */
    uint32_t cur;         /* current node, BF_TRACE_NONE before the first frame */
    uint32_t root;        /* the process's root node (its name) */
    uint32_t root_caller; /* caller of the first traced call: a call from it pops to root */
    uint32_t *ov;         /* frames past max_depth (not in the tree), bottom first */
    uint32_t ov_len, ov_cap;
    uint8_t state;        /* 0 empty, 1 used, 2 deleted */
    uint8_t sleeping;     /* scheduled out */
    uint8_t started;      /* root_caller is set */
} bf_tproc;

typedef struct bf_tframe {
    uint64_t k1, k2, k3;
    uint32_t id;
    uint32_t used;
} bf_tframe;

struct bf_trace {
    bf_stack_table *st;
    bf_st_caps caps;
    uint32_t *parent, *frame, *depth; /* per node */
    uint64_t *ns;                     /* per node: time credited */
    uint64_t *calls;                  /* per node: calls that entered it */
    uint32_t node_cap;                /* allocated length of the node arrays */
    uint64_t *ckeys;                  /* child map: (parent + 1) << 32 | frame; 0 empty */
    uint32_t *cvals;
    uint32_t cmask, ccount;
    bf_tframe *fmap;
    uint32_t fmask, fcount;
    bf_tframe fcache[BF_TRACE_FCACHE]; /* most events name a frame seen just before */
    bf_tproc *last;                    /* the process of the last event (stable until the
                                          process map changes) */
    bf_tproc *pmap;
    uint32_t pmask, pcount, ptomb, max_procs;
    uint32_t sleep_frame;
    bf_trace_stats stats;
    uint32_t *path; /* scratch: max_depth + 1 frames */
};

static uint64_t bf_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

bf_trace *bf_trace_new(const bf_st_caps *caps, uint32_t max_procs)
{
    bf_trace *tr = calloc(1, sizeof(*tr));
    if (!tr)
        return NULL;
    tr->caps = *caps;
    tr->max_procs = max_procs ? max_procs : 1;
    tr->st = bf_st_new(caps);
    tr->cmask = tr->fmask = tr->pmask = BF_TRACE_INITIAL_SLOTS - 1;
    tr->ckeys = calloc(BF_TRACE_INITIAL_SLOTS, sizeof(uint64_t));
    tr->cvals = calloc(BF_TRACE_INITIAL_SLOTS, sizeof(uint32_t));
    tr->fmap = calloc(BF_TRACE_INITIAL_SLOTS, sizeof(bf_tframe));
    tr->pmap = calloc(BF_TRACE_INITIAL_SLOTS, sizeof(bf_tproc));
    tr->path = malloc((caps->max_depth + 2) * sizeof(uint32_t));
    int64_t sleep = tr->st ? bf_st_intern(tr->st, BF_TRACE_SLEEP_FRAME,
                                          sizeof(BF_TRACE_SLEEP_FRAME) - 1)
                           : -1;
    if (!tr->st || !tr->ckeys || !tr->cvals || !tr->fmap || !tr->pmap || !tr->path ||
        sleep < 0) {
        bf_trace_free(tr);
        return NULL;
    }
    tr->sleep_frame = (uint32_t)sleep;
    return tr;
}

void bf_trace_free(bf_trace *tr)
{
    if (!tr)
        return;
    bf_st_free(tr->st);
    free(tr->parent);
    free(tr->frame);
    free(tr->depth);
    free(tr->ns);
    free(tr->calls);
    free(tr->ckeys);
    free(tr->cvals);
    free(tr->fmap);
    if (tr->pmap)
        for (uint32_t i = 0; i <= tr->pmask; i++)
            if (tr->pmap[i].state == 1)
                free(tr->pmap[i].ov);
    free(tr->pmap);
    free(tr->path);
    free(tr);
}

/* --- frames ---------------------------------------------------------------------------- */

static uint32_t bf_fslot(const bf_tframe *map, uint32_t mask, uint64_t k1, uint64_t k2,
                         uint64_t k3)
{
    uint32_t i = (uint32_t)bf_mix(k1 ^ bf_mix(k2 ^ bf_mix(k3))) & mask;
    while (map[i].used && !(map[i].k1 == k1 && map[i].k2 == k2 && map[i].k3 == k3))
        i = (i + 1) & mask;
    return i;
}

static uint32_t bf_fcache_slot(uint64_t k1, uint64_t k2, uint64_t k3)
{
    return (uint32_t)((k1 >> 3) ^ (k2 >> 1) ^ (k2 >> 11) ^ (k3 * 0x9E37u)) & (BF_TRACE_FCACHE - 1);
}

int64_t bf_trace_frame_find(const bf_trace *tr, uint64_t k1, uint64_t k2, uint64_t k3)
{
    const bf_tframe *c = &tr->fcache[bf_fcache_slot(k1, k2, k3)];
    if (c->used && c->k1 == k1 && c->k2 == k2 && c->k3 == k3)
        return (int64_t)c->id;
    uint32_t i = bf_fslot(tr->fmap, tr->fmask, k1, k2, k3);
    if (!tr->fmap[i].used)
        return -1;
    ((bf_trace *)tr)->fcache[bf_fcache_slot(k1, k2, k3)] = tr->fmap[i]; /* a cache only */
    return (int64_t)tr->fmap[i].id;
}

int64_t bf_trace_frame_add(bf_trace *tr, uint64_t k1, uint64_t k2, uint64_t k3,
                           const char *name, size_t len)
{
    if ((tr->fcount + 1) * 2 > tr->fmask + 1) {
        uint32_t nmask = tr->fmask * 2 + 1;
        bf_tframe *n = calloc((size_t)nmask + 1, sizeof(*n));
        if (!n)
            return -1;
        for (uint32_t i = 0; i <= tr->fmask; i++)
            if (tr->fmap[i].used)
                n[bf_fslot(n, nmask, tr->fmap[i].k1, tr->fmap[i].k2, tr->fmap[i].k3)] =
                    tr->fmap[i];
        free(tr->fmap);
        tr->fmap = n;
        tr->fmask = nmask;
    }
    int64_t id = bf_st_intern(tr->st, name, len);
    if (id < 0)
        return -1;
    uint32_t i = bf_fslot(tr->fmap, tr->fmask, k1, k2, k3);
    if (!tr->fmap[i].used) {
        tr->fmap[i] = (bf_tframe){k1, k2, k3, (uint32_t)id, 1};
        tr->fcount++;
    }
    return (int64_t)tr->fmap[i].id;
}

/* --- nodes ----------------------------------------------------------------------------- */

static uint32_t bf_cslot(const uint64_t *keys, uint32_t mask, uint64_t key)
{
    uint32_t i = (uint32_t)bf_mix(key) & mask;
    while (keys[i] && keys[i] != key)
        i = (i + 1) & mask;
    return i;
}

static int bf_cmap_grow(bf_trace *tr)
{
    uint32_t nmask = tr->cmask * 2 + 1;
    uint64_t *nk = calloc((size_t)nmask + 1, sizeof(uint64_t));
    uint32_t *nv = calloc((size_t)nmask + 1, sizeof(uint32_t));
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return -1;
    }
    for (uint32_t i = 0; i <= tr->cmask; i++)
        if (tr->ckeys[i]) {
            uint32_t j = bf_cslot(nk, nmask, tr->ckeys[i]);
            nk[j] = tr->ckeys[i];
            nv[j] = tr->cvals[i];
        }
    free(tr->ckeys);
    free(tr->cvals);
    tr->ckeys = nk;
    tr->cvals = nv;
    tr->cmask = nmask;
    return 0;
}

static int bf_nodes_reserve(bf_trace *tr, uint32_t id)
{
    if (id < tr->node_cap)
        return 0;
    uint32_t ncap = tr->node_cap ? tr->node_cap * 2 : 1024;
    while (ncap <= id)
        ncap *= 2;
    uint32_t *p = realloc(tr->parent, ncap * sizeof(uint32_t));
    if (!p)
        return -1;
    tr->parent = p;
    uint32_t *f = realloc(tr->frame, ncap * sizeof(uint32_t));
    if (!f)
        return -1;
    tr->frame = f;
    uint32_t *d = realloc(tr->depth, ncap * sizeof(uint32_t));
    if (!d)
        return -1;
    tr->depth = d;
    uint64_t *ns = realloc(tr->ns, ncap * sizeof(uint64_t));
    if (!ns)
        return -1;
    tr->ns = ns;
    uint64_t *calls = realloc(tr->calls, ncap * sizeof(uint64_t));
    if (!calls)
        return -1;
    tr->calls = calls;
    tr->node_cap = ncap;
    return 0;
}

/* The child of parent (BF_TRACE_NONE: a root) for frame, made if new. BF_TRACE_NONE when
 * a cap refuses it (*capped set when it is the depth cap). */
static uint32_t bf_child(bf_trace *tr, uint32_t parent, uint32_t frame, int *capped)
{
    uint64_t key = ((uint64_t)(parent == BF_TRACE_NONE ? 0 : parent + 1) << 32) | frame;
    key += 1; /* never 0 */
    uint32_t i = bf_cslot(tr->ckeys, tr->cmask, key);
    if (tr->ckeys[i])
        return tr->cvals[i];
    uint32_t d = parent == BF_TRACE_NONE ? 1 : tr->depth[parent] + 1;
    if (d > tr->caps.max_depth) {
        *capped = 1;
        return BF_TRACE_NONE;
    }
    uint32_t x = parent;
    for (uint32_t k = d - 1; k > 0; k--) {
        tr->path[k - 1] = tr->frame[x];
        x = tr->parent[x];
    }
    tr->path[d - 1] = frame;
    uint32_t id;
    if (bf_st_add(tr->st, tr->path, d, 0, &id) != BF_ST_OK || bf_nodes_reserve(tr, id) != 0) {
        tr->stats.nodes_dropped++;
        return BF_TRACE_NONE;
    }
    if ((tr->ccount + 1) * 2 > tr->cmask + 1) {
        if (bf_cmap_grow(tr) != 0) {
            tr->stats.nodes_dropped++;
            return BF_TRACE_NONE;
        }
        i = bf_cslot(tr->ckeys, tr->cmask, key);
    }
    tr->ckeys[i] = key;
    tr->cvals[i] = id;
    tr->ccount++;
    tr->parent[id] = parent;
    tr->frame[id] = frame;
    tr->depth[id] = d;
    tr->ns[id] = 0;
    tr->calls[id] = 0;
    return id;
}

/* --- processes ------------------------------------------------------------------------- */

static uint32_t bf_pslot(const bf_tproc *map, uint32_t mask, uint64_t key, int for_insert)
{
    uint32_t i = (uint32_t)bf_mix(key) & mask, tomb = UINT32_MAX;
    while (map[i].state) {
        if (map[i].state == 1 && map[i].key == key)
            return i;
        if (map[i].state == 2 && tomb == UINT32_MAX)
            tomb = i;
        i = (i + 1) & mask;
    }
    return (for_insert && tomb != UINT32_MAX) ? tomb : i;
}

static bf_tproc *bf_proc(const bf_trace *tr, uint64_t key)
{
    if (tr->last && tr->last->state == 1 && tr->last->key == key)
        return tr->last;
    uint32_t i = bf_pslot(tr->pmap, tr->pmask, key, 0);
    if (tr->pmap[i].state != 1)
        return NULL;
    ((bf_trace *)tr)->last = &tr->pmap[i]; /* a cache only */
    return &tr->pmap[i];
}

int bf_trace_has_proc(const bf_trace *tr, uint64_t proc)
{
    return bf_proc(tr, proc) != NULL;
}

static int bf_pmap_grow(bf_trace *tr)
{
    uint32_t nmask = (tr->pcount + 1) * 4 > tr->pmask + 1 ? tr->pmask * 2 + 1 : tr->pmask;
    bf_tproc *n = calloc((size_t)nmask + 1, sizeof(*n));
    if (!n)
        return -1;
    for (uint32_t i = 0; i <= tr->pmask; i++)
        if (tr->pmap[i].state == 1)
            n[bf_pslot(n, nmask, tr->pmap[i].key, 1)] = tr->pmap[i];
    free(tr->pmap);
    tr->pmap = n;
    tr->pmask = nmask;
    tr->ptomb = 0;
    tr->last = NULL;
    return 0;
}

static void bf_credit(bf_trace *tr, bf_tproc *p, uint64_t now)
{
    if (now > p->last_ns && p->cur != BF_TRACE_NONE) {
        uint32_t node = p->cur;
        if (p->sleeping) {
            int capped = 0;
            uint32_t s = bf_child(tr, node, tr->sleep_frame, &capped);
            if (s != BF_TRACE_NONE)
                node = s;
        }
        tr->ns[node] += now - p->last_ns;
    }
    if (now > p->last_ns)
        p->last_ns = now;
}

int bf_trace_begin(bf_trace *tr, uint64_t proc, uint32_t root, const uint32_t *seed, size_t n,
                   uint64_t now_ns)
{
    if (bf_proc(tr, proc))
        return 0;
    if (tr->pcount >= tr->max_procs) {
        tr->stats.procs_dropped++;
        return -1;
    }
    if ((tr->pcount + tr->ptomb + 1) * 2 > tr->pmask + 1 && bf_pmap_grow(tr) != 0)
        return -1;
    int capped = 0;
    uint32_t r = bf_child(tr, BF_TRACE_NONE, root, &capped);
    if (r == BF_TRACE_NONE)
        return -1;
    uint32_t i = bf_pslot(tr->pmap, tr->pmask, proc, 1);
    if (tr->pmap[i].state == 2)
        tr->ptomb--;
    bf_tproc *p = &tr->pmap[i];
    memset(p, 0, sizeof(*p));
    p->state = 1;
    p->key = proc;
    p->root = r;
    p->cur = r;
    p->root_caller = BF_TRACE_NONE;
    p->last_ns = now_ns;
    for (size_t k = 0; k < n; k++) {
        uint32_t c = bf_child(tr, p->cur, seed[k], &capped);
        if (c == BF_TRACE_NONE)
            break;
        p->cur = c;
    }
    if (n > 0)
        p->started = 1; /* a seeded process: its first call is not at the root */
    tr->pcount++;
    tr->stats.procs++;
    return 0;
}

/* The nearest node at or above from whose frame is f, stopping below the root. */
static uint32_t bf_find_up(const bf_trace *tr, uint32_t from, uint32_t root, uint32_t f)
{
    for (uint32_t x = from; x != BF_TRACE_NONE && x != root; x = tr->parent[x])
        if (tr->frame[x] == f)
            return x;
    return BF_TRACE_NONE;
}

/* Pushes a frame past the depth cap (its time goes to the deepest node in the tree). */
static void bf_ov_push(bf_trace *tr, bf_tproc *p, uint32_t frame)
{
    tr->stats.depth_capped++;
    if (p->ov_len == p->ov_cap) {
        uint32_t ncap = p->ov_cap ? p->ov_cap * 2 : 64;
        uint32_t *n = ncap <= BF_TRACE_OVERFLOW_MAX ? realloc(p->ov, ncap * sizeof(uint32_t))
                                                    : NULL;
        if (!n)
            return; /* deeper still: lost (counted in depth_capped) */
        p->ov = n;
        p->ov_cap = ncap;
    }
    p->ov[p->ov_len++] = frame;
}

/* Past the cap: the nearest frame f among the overflow frames below index `below`. */
static int bf_ov_pop_to(bf_tproc *p, uint32_t below, uint32_t f)
{
    for (uint32_t i = below; i > 0; i--)
        if (p->ov[i - 1] == f) {
            p->ov_len = i;
            return 1;
        }
    return 0;
}

/* Every event of a known process: count it and credit the time since the last one. NULL
 * for a process not begun. */
static bf_tproc *bf_event(bf_trace *tr, uint64_t proc, uint64_t now_ns)
{
    bf_tproc *p = bf_proc(tr, proc);
    if (p) {
        tr->stats.events++;
        bf_credit(tr, p, now_ns);
    }
    return p;
}

int bf_trace_call(bf_trace *tr, uint64_t proc, uint32_t frame, uint32_t caller, uint64_t now_ns)
{
    bf_tproc *p = bf_event(tr, proc, now_ns);
    if (!p)
        return -1;
    if (!p->started) {
        p->root_caller = caller;
        p->started = 1;
    }
    if (caller != BF_TRACE_NONE && !(p->ov_len && bf_ov_pop_to(p, p->ov_len, caller))) {
        uint32_t x = bf_find_up(tr, p->cur, p->root, caller);
        if (x != BF_TRACE_NONE) {
            p->cur = x;
            p->ov_len = 0;
        } else if (caller == p->root_caller) {
            p->cur = p->root;
            p->ov_len = 0;
        }
    }
    if (p->ov_len) {
        bf_ov_push(tr, p, frame);
        return 0;
    }
    int capped = 0;
    uint32_t c = bf_child(tr, p->cur, frame, &capped);
    if (c == BF_TRACE_NONE) {
        if (capped)
            bf_ov_push(tr, p, frame);
        return 0;
    }
    p->cur = c;
    tr->calls[c]++;
    return 0;
}

int bf_trace_return_to(bf_trace *tr, uint64_t proc, uint32_t frame, uint64_t now_ns)
{
    bf_tproc *p = bf_event(tr, proc, now_ns);
    if (!p)
        return -1;
    if (p->ov_len) {
        /* the top overflow frame returned */
        if (bf_ov_pop_to(p, p->ov_len - 1, frame))
            return 0;
        p->ov_len = 0;
        if (p->cur != BF_TRACE_NONE && tr->frame[p->cur] == frame)
            return 0; /* back at the deepest node of the tree */
    }
    /* the top frame returned: land on the nearest frame below it */
    uint32_t from = p->cur == p->root ? BF_TRACE_NONE : tr->parent[p->cur];
    uint32_t x = bf_find_up(tr, from, p->root, frame);
    if (x == BF_TRACE_NONE && frame == p->root_caller) {
        p->cur = p->root; /* back where the first traced call came from */
    } else if (x != BF_TRACE_NONE) {
        p->cur = x;
    } else {
        /* returned above what we saw: the function returned to is the outermost known */
        int capped = 0;
        uint32_t c = bf_child(tr, p->root, frame, &capped);
        p->cur = c != BF_TRACE_NONE ? c : p->root;
    }
    return 0;
}

int bf_trace_out(bf_trace *tr, uint64_t proc, uint64_t now_ns)
{
    bf_tproc *p = bf_event(tr, proc, now_ns);
    if (!p)
        return -1;
    p->sleeping = 1;
    return 0;
}

int bf_trace_in(bf_trace *tr, uint64_t proc, uint64_t now_ns)
{
    bf_tproc *p = bf_event(tr, proc, now_ns);
    if (!p)
        return -1;
    p->sleeping = 0;
    return 0;
}

int bf_trace_end(bf_trace *tr, uint64_t proc, uint64_t now_ns)
{
    bf_tproc *p = bf_proc(tr, proc);
    if (!p)
        return -1;
    bf_credit(tr, p, now_ns);
    free(p->ov);
    p->ov = NULL;
    p->state = 2;
    tr->pcount--;
    tr->ptomb++;
    return 0;
}

void bf_trace_flush(bf_trace *tr, uint64_t now_ns)
{
    for (uint32_t i = 0; i <= tr->pmask; i++)
        if (tr->pmap[i].state == 1)
            bf_credit(tr, &tr->pmap[i], now_ns);
}

uint32_t bf_trace_depth(const bf_trace *tr, uint64_t proc)
{
    const bf_tproc *p = bf_proc(tr, proc);
    return p && p->cur != BF_TRACE_NONE ? tr->depth[p->cur] : 0;
}

/* --- results --------------------------------------------------------------------------- */

bf_stack_table *bf_trace_result(const bf_trace *tr, const bf_st_caps *caps, bf_trace_weight w)
{
    bf_stack_table *out = bf_st_new(caps);
    uint32_t nframes = bf_st_frame_count(tr->st), nstacks = bf_st_stack_count(tr->st);
    int64_t *map = malloc((nframes ? nframes : 1) * sizeof(int64_t));
    uint32_t *path = malloc((tr->caps.max_depth + 1) * sizeof(uint32_t));
    if (!out || !map || !path) {
        bf_st_free(out);
        out = NULL;
        goto done;
    }
    for (uint32_t f = 0; f < nframes; f++)
        map[f] = -1;
    for (uint32_t id = 0; id < nstacks; id++) {
        uint64_t us = w == BF_TRACE_CALLS ? tr->calls[id] : (tr->ns[id] + 500) / 1000;
        if (us == 0)
            continue;
        size_t depth;
        const uint32_t *ids = bf_st_stack(tr->st, id, &depth, NULL);
        int ok = 1;
        for (size_t k = 0; k < depth && ok; k++) {
            if (map[ids[k]] < 0) {
                size_t len;
                const char *name = bf_st_frame_name(tr->st, ids[k], &len);
                map[ids[k]] = bf_st_intern(out, name, len);
            }
            ok = map[ids[k]] >= 0;
            path[k] = (uint32_t)map[ids[k]];
        }
        if (!ok) {
            bf_st_count_drop(out, us, 1);
            continue;
        }
        bf_st_add(out, path, depth, us, NULL);
    }
done:
    free(map);
    free(path);
    return out;
}

void bf_trace_get_stats(const bf_trace *tr, bf_trace_stats *out)
{
    *out = tr->stats;
}

size_t bf_trace_bytes(const bf_trace *tr)
{
    return sizeof(*tr) + bf_st_bytes(tr->st) +
           (size_t)tr->node_cap * (3 * sizeof(uint32_t) + sizeof(uint64_t)) +
           ((size_t)tr->cmask + 1) * (sizeof(uint64_t) + sizeof(uint32_t)) +
           ((size_t)tr->fmask + 1) * sizeof(bf_tframe) + ((size_t)tr->pmask + 1) * sizeof(bf_tproc);
}
