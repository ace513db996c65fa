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
#define BF_TRACE_LEVELS_MAX (1u << 18) /* logical levels kept per process (6 MiB): past
                                          it a process's stack is no longer exact, counted */
#define BF_TRACE_LEVELS_INITIAL 16u

/* One level of a process's logical call stack. Consecutive calls of one function that
 * show as one node (direct recursion folded, or past the depth cap) share a level: reps
 * counts them, so the memory of a recursion 500k deep is one level. */
typedef struct bf_tlev {
    uint32_t frame; /* the function called */
    uint32_t node;  /* the tree node shown while this level is on top */
    uint32_t reps;  /* >= 1 */
    uint32_t pad;
    uint64_t mask;  /* frames on the shown path, hashed to 64 bits (fold's quick check) */
} bf_tlev;

typedef struct bf_tproc {
    uint64_t key;
    uint64_t last_ns;     /* time credited up to here */
    uint32_t cur;         /* the top level's node (time is credited there) */
    uint32_t root;        /* the process's root node (its name) */
    uint32_t root_caller; /* caller of the first traced call: a call from it pops to root */
    bf_tlev *lv;          /* the logical stack, lv[0] the root; nlv levels */
    uint32_t nlv, lv_cap;
    uint8_t state;        /* 0 empty, 1 used, 2 deleted */
    uint8_t sleeping;     /* scheduled out */
    uint8_t started;      /* root_caller is set */
    uint8_t lost;         /* levels were dropped (BF_TRACE_LEVELS_MAX): returns approximate */
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
    uint32_t capped_frame;  /* the marker below which deeper frames are credited */
    int fold;               /* recursion: BF_TRACE_FOLD (1) or keep (0) */
    int keep_tail;          /* tail_calls: keep the tail-calling frames (1) or the VM's view */
    bf_trace_stats stats;
    size_t level_bytes;     /* memory of every process's logical stack */
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
    int64_t capped = tr->st ? bf_st_intern(tr->st, BF_TRACE_CAPPED_FRAME,
                                           sizeof(BF_TRACE_CAPPED_FRAME) - 1)
                            : -1;
    if (!tr->st || !tr->ckeys || !tr->cvals || !tr->fmap || !tr->pmap || !tr->path ||
        sleep < 0 || capped < 0 || caps->max_depth < 2) {
        bf_trace_free(tr);
        return NULL;
    }
    tr->sleep_frame = (uint32_t)sleep;
    tr->capped_frame = (uint32_t)capped;
    tr->fold = 1;
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
                free(tr->pmap[i].lv);
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
    /* the last level of the cap is the marker's: a capped stack says so */
    if (d > tr->caps.max_depth - (frame == tr->capped_frame ? 0 : 1)) {
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

/* --- a process's logical stack ---------------------------------------------------------- */

/* The nearest level below `below` (exclusive) whose frame is f, above the root, or
 * BF_TRACE_NONE. */
static uint32_t bf_find_level(const bf_tproc *p, uint32_t below, uint32_t f)
{
    for (uint32_t i = below; i > 1; i--)
        if (p->lv[i - 1].frame == f)
            return i - 1;
    return BF_TRACE_NONE;
}

/* Makes level i the top (i < nlv); the caller made from it is its innermost repetition. */
static void bf_pop_to(bf_tproc *p, uint32_t i)
{
    p->nlv = i + 1;
    p->cur = p->lv[i].node;
}

#define BF_BIT(f) (1ull << ((f) & 63u))

/* The node shown for frame f called from the top level: fold finds f on the shown path
 * (direct or mutual recursion: the first repeat); otherwise f's child of the top node, or
 * the marker when the depth cap is reached (counted). */
static uint32_t bf_shown(bf_trace *tr, const bf_tlev *top, uint32_t f)
{
    if (tr->fold && (top->mask & BF_BIT(f))) {
        for (uint32_t x = top->node; x != BF_TRACE_NONE; x = tr->parent[x])
            if (tr->frame[x] == f)
                return x;
    }
    if (tr->frame[top->node] == tr->capped_frame) {
        tr->stats.depth_capped++;
        return top->node; /* past the cap: stays at the marker */
    }
    int capped = 0;
    uint32_t c = bf_child(tr, top->node, f, &capped);
    if (c != BF_TRACE_NONE)
        return c;
    if (capped) {
        tr->stats.depth_capped++;
        c = bf_child(tr, top->node, tr->capped_frame, &capped);
    }
    return c != BF_TRACE_NONE ? c : top->node; /* a table cap: credited to the parent */
}

/* Pushes a call of f: a new level, or one more repetition of the top one when it would
 * show as the same node (direct recursion folded, or past the cap). */
static void bf_push_level(bf_trace *tr, bf_tproc *p, uint32_t f, int count)
{
    bf_tlev *top = &p->lv[p->nlv - 1];
    uint32_t node = bf_shown(tr, top, f);
    if (count)
        tr->calls[node]++;
    if (top->frame == f && top->node == node && p->nlv > 1) {
        top->reps++;
        p->cur = node;
        return;
    }
    if (p->nlv == p->lv_cap) {
        uint32_t ncap = p->lv_cap * 2;
        bf_tlev *n = ncap <= BF_TRACE_LEVELS_MAX ? realloc(p->lv, ncap * sizeof(bf_tlev)) : NULL;
        if (!n) {
            /* out of levels: shown, but no longer followed exactly */
            if (!p->lost)
                tr->stats.procs_lost++;
            p->lost = 1;
            tr->stats.levels_dropped++;
            top->node = node;
            p->cur = node;
            return;
        }
        tr->level_bytes += (size_t)(ncap - p->lv_cap) * sizeof(bf_tlev);
        p->lv = n;
        p->lv_cap = ncap;
        top = &p->lv[p->nlv - 1];
    }
    /* a superset of the shown path's frames is enough for a quick "not there" */
    p->lv[p->nlv++] = (bf_tlev){f, node, 1, 0, top->mask | BF_BIT(f)};
    p->cur = node;
}

static void bf_push(bf_trace *tr, bf_tproc *p, uint32_t f)
{
    bf_push_level(tr, p, f, 1);
}

/* A frame learnt from a return, not a call: shown, not counted as a call. */
static void bf_push_quiet(bf_trace *tr, bf_tproc *p, uint32_t f)
{
    bf_push_level(tr, p, f, 0);
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
    p->lv = malloc(BF_TRACE_LEVELS_INITIAL * sizeof(bf_tlev));
    if (!p->lv)
        return -1;
    p->lv_cap = BF_TRACE_LEVELS_INITIAL;
    tr->level_bytes += BF_TRACE_LEVELS_INITIAL * sizeof(bf_tlev);
    p->state = 1;
    p->key = proc;
    p->root = r;
    p->cur = r;
    p->root_caller = BF_TRACE_NONE;
    p->last_ns = now_ns;
    p->lv[0] = (bf_tlev){root, r, 1, 0, 0};
    p->nlv = 1;
    tr->pcount++;
    tr->stats.procs++;
    for (size_t k = 0; k < n; k++)
        bf_push_quiet(tr, p, seed[k]);
    if (n > 0)
        p->started = 1; /* a seeded process: its first call is not at the root */
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
    uint32_t at = p->nlv - 1; /* the level the call is made from */
    if (caller != BF_TRACE_NONE) {
        uint32_t c = bf_find_level(p, p->nlv, caller);
        if (c != BF_TRACE_NONE)
            at = c;
        else if (caller == p->root_caller)
            at = 0;
    }
    if (at + 1 < p->nlv && tr->keep_tail) {
        /* a tail call: the frames above the caller left by tail calls stay shown. One of
         * them being the callee closes a cycle of tail calls (a loop re-entered): back to
         * it, so the stack stays bounded */
        uint32_t again = bf_find_level(p, p->nlv, frame);
        if (again != BF_TRACE_NONE && again > at) {
            bf_pop_to(p, again);
            tr->calls[p->cur]++;
            return 0;
        }
    } else {
        bf_pop_to(p, at);
    }
    bf_push(tr, p, frame);
    return 0;
}

int bf_trace_return_to(bf_trace *tr, uint64_t proc, uint32_t frame, uint64_t now_ns)
{
    bf_tproc *p = bf_event(tr, proc, now_ns);
    if (!p)
        return -1;
    bf_tlev *top = &p->lv[p->nlv - 1];
    if (p->nlv > 1 && top->reps > 1 && top->frame == frame) {
        top->reps--; /* one level of a recursion returned to the next */
        return 0;
    }
    /* the top level returned: land on the nearest level of frame below it */
    uint32_t x = p->nlv > 1 ? bf_find_level(p, p->nlv - 1, frame) : BF_TRACE_NONE;
    if (x != BF_TRACE_NONE) {
        bf_pop_to(p, x);
        return 0;
    }
    /* back where the first traced call came from; or above what we saw: then the function
     * returned to is the outermost known */
    bf_pop_to(p, 0);
    if (frame != p->root_caller && frame != BF_TRACE_NONE)
        bf_push_quiet(tr, p, frame);
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
    tr->level_bytes -= (size_t)p->lv_cap * sizeof(bf_tlev);
    free(p->lv);
    p->lv = NULL;
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
           ((size_t)tr->fmask + 1) * sizeof(bf_tframe) + ((size_t)tr->pmask + 1) * sizeof(bf_tproc) +
           tr->level_bytes;
}

void bf_trace_set_modes(bf_trace *tr, int fold, int keep_tail)
{
    tr->fold = fold != 0;
    tr->keep_tail = keep_tail != 0;
}
