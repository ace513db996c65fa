/* bf_pprof: the profile.proto written, read back by a small decoder here (Go's own reader
 * checks the same files in beamflame_cli_SUITE), and its gzip wrapping. */
#include <criterion/criterion.h>
#include <string.h>
#include <zlib.h>

#include "../core/bf_pprof.h"

/* What the decoder keeps of a profile. */
typedef struct pb_profile {
    char strings[64][64];
    size_t nstrings;
    uint64_t locs[16][16], vals[16][2], label_key[16], label_str[16];
    size_t nlocs[16], nvals[16], nsamples;
    uint64_t fn_name[16], nfunctions, nlocations, loc_fn[16];
    uint64_t sample_type[4][2];
    size_t ntypes;
    uint64_t period, period_type[2], time_nanos;
} pb_profile;

static uint64_t rd_varint(const unsigned char **p, const unsigned char *end)
{
    uint64_t v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        unsigned char c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    cr_assert_fail("truncated varint");
    return 0;
}

/* Calls f(field, wire, value, data, len) for each field of a message. */
typedef void (*pb_field_fn)(void *ctx, unsigned field, uint64_t v, const unsigned char *d,
                            size_t n);
static void pb_walk(const unsigned char *p, size_t len, pb_field_fn f, void *ctx)
{
    const unsigned char *end = p + len;
    while (p < end) {
        uint64_t tag = rd_varint(&p, end);
        unsigned field = (unsigned)(tag >> 3), wire = tag & 7;
        if (wire == 0) {
            f(ctx, field, rd_varint(&p, end), NULL, 0);
        } else {
            cr_assert_eq(wire, 2, "unexpected wire type %u", wire);
            uint64_t n = rd_varint(&p, end);
            cr_assert(n <= (uint64_t)(end - p));
            f(ctx, field, 0, p, n);
            p += n;
        }
    }
}

static void packed(const unsigned char *d, size_t n, uint64_t *out, size_t *count)
{
    const unsigned char *end = d + n;
    while (d < end)
        out[(*count)++] = rd_varint(&d, end);
}

static pb_profile *cur;
static size_t cur_sample;
static uint64_t *cur_pair;

static void on_pair(void *ctx, unsigned field, uint64_t v, const unsigned char *d, size_t n)
{
    (void)ctx, (void)d, (void)n;
    if (field == 1 || field == 2)
        cur_pair[field - 1] = v;
}

static void on_sample(void *ctx, unsigned field, uint64_t v, const unsigned char *d, size_t n)
{
    (void)ctx, (void)v;
    size_t s = cur_sample;
    if (field == 1)
        packed(d, n, cur->locs[s], &cur->nlocs[s]);
    else if (field == 2)
        packed(d, n, cur->vals[s], &cur->nvals[s]);
    else if (field == 3) {
        uint64_t kv[2] = {0, 0};
        cur_pair = kv;
        pb_walk(d, n, on_pair, NULL);
        cur->label_key[s] = kv[0];
        cur->label_str[s] = kv[1];
    }
}

static uint64_t line_fn;
static void on_line(void *ctx, unsigned field, uint64_t v, const unsigned char *d, size_t n)
{
    (void)ctx, (void)d, (void)n;
    if (field == 1)
        line_fn = v;
}

static void on_location(void *ctx, unsigned field, uint64_t v, const unsigned char *d, size_t n)
{
    uint64_t *id = ctx;
    if (field == 1)
        *id = v;
    else if (field == 4)
        pb_walk(d, n, on_line, NULL);
}

static void on_function(void *ctx, unsigned field, uint64_t v, const unsigned char *d, size_t n)
{
    (void)d, (void)n;
    uint64_t *fv = ctx;
    if (field == 1)
        fv[0] = v;
    else if (field == 2)
        fv[1] = v;
}

static void on_profile(void *ctx, unsigned field, uint64_t v, const unsigned char *d, size_t n)
{
    pb_profile *p = ctx;
    switch (field) {
    case 1:
        cur_pair = p->sample_type[p->ntypes++];
        pb_walk(d, n, on_pair, NULL);
        break;
    case 2:
        cur = p;
        cur_sample = p->nsamples++;
        pb_walk(d, n, on_sample, NULL);
        break;
    case 4: {
        uint64_t id = 0;
        line_fn = 0;
        pb_walk(d, n, on_location, &id);
        cr_assert_eq(id, p->nlocations + 1, "locations in id order");
        p->loc_fn[p->nlocations++] = line_fn;
        break;
    }
    case 5: {
        uint64_t fv[2] = {0, 0};
        pb_walk(d, n, on_function, fv);
        cr_assert_eq(fv[0], p->nfunctions + 1);
        p->fn_name[p->nfunctions++] = fv[1];
        break;
    }
    case 6:
        cr_assert(n < 64);
        memcpy(p->strings[p->nstrings], d, n);
        p->strings[p->nstrings++][n] = '\0';
        break;
    case 9:
        p->time_nanos = v;
        break;
    case 11:
        cur_pair = p->period_type;
        pb_walk(d, n, on_pair, NULL);
        break;
    case 12:
        p->period = v;
        break;
    default:
        break;
    }
}

static bf_stack_table *table(void)
{
    bf_st_caps caps;
    bf_st_default_caps(&caps);
    bf_stack_table *st = bf_st_new(&caps);
    uint32_t main_ = (uint32_t)bf_st_intern(st, "<0.1.0>", 7),
             a = (uint32_t)bf_st_intern(st, "m:a/1", 5), b = (uint32_t)bf_st_intern(st, "m:b/0", 5);
    uint32_t s1[] = {main_, a}, s2[] = {main_, a, b};
    bf_st_add(st, s1, 2, 30, NULL);
    bf_st_add(st, s2, 3, 12, NULL);
    bf_st_add(st, s2, 3, 8, NULL);
    return st;
}

static const char *str(const pb_profile *p, uint64_t i)
{
    cr_assert(i < p->nstrings);
    return p->strings[i];
}

Test(pprof, samples_functions_and_strings)
{
    bf_stack_table *st = table();
    bf_pprof_opts o = {.type = "samples", .unit = "count", .period_type = "cpu",
                       .period_unit = "nanoseconds", .period = 10101010,
                       .time_nanos = 1700000000000000000LL, .root_label = "process"};
    bf_buf b;
    bf_buf_init(&b, NULL);
    cr_assert_eq(bf_pprof_encode(st, &o, &b), 0);
    static pb_profile p;
    memset(&p, 0, sizeof(p));
    pb_walk((const unsigned char *)b.data, b.len, on_profile, &p);
    cr_assert_str_eq(p.strings[0], "");
    cr_assert_eq(p.ntypes, 1);
    cr_assert_str_eq(str(&p, p.sample_type[0][0]), "samples");
    cr_assert_str_eq(str(&p, p.sample_type[0][1]), "count");
    cr_assert_eq(p.nsamples, 2);
    cr_assert_eq(p.nfunctions, 3);
    cr_assert_eq(p.nlocations, 3);
    /* the second stack: leaf first, b then a then the root */
    cr_assert_eq(p.nlocs[1], 3);
    cr_assert_str_eq(str(&p, p.fn_name[p.loc_fn[p.locs[1][0] - 1] - 1]), "m:b/0");
    cr_assert_str_eq(str(&p, p.fn_name[p.loc_fn[p.locs[1][2] - 1] - 1]), "<0.1.0>");
    cr_assert_eq(p.vals[0][0], 30);
    cr_assert_eq(p.vals[1][0], 20);
    cr_assert_str_eq(str(&p, p.label_key[1]), "process");
    cr_assert_str_eq(str(&p, p.label_str[1]), "<0.1.0>");
    cr_assert_eq(p.period, 10101010);
    cr_assert_str_eq(str(&p, p.period_type[0]), "cpu");
    cr_assert_str_eq(str(&p, p.period_type[1]), "nanoseconds");
    cr_assert_eq(p.time_nanos, 1700000000000000000ULL);
    bf_buf_free(&b);
    bf_st_free(st);
}

Test(pprof, traces_count_credits_then_weight)
{
    bf_stack_table *st = table();
    bf_pprof_opts o = {.type = "samples", .unit = "count", .count_credits = 1,
                       .weight_type = "wall", .weight_unit = "microseconds"};
    bf_buf b;
    bf_buf_init(&b, NULL);
    cr_assert_eq(bf_pprof_encode(st, &o, &b), 0);
    static pb_profile p;
    memset(&p, 0, sizeof(p));
    pb_walk((const unsigned char *)b.data, b.len, on_profile, &p);
    cr_assert_eq(p.ntypes, 2);
    cr_assert_str_eq(str(&p, p.sample_type[1][0]), "wall");
    cr_assert_eq(p.nvals[1], 2);
    cr_assert_eq(p.vals[1][0], 2);  /* credited twice */
    cr_assert_eq(p.vals[1][1], 20); /* 12 + 8 us */
    cr_assert_eq(p.label_key[0], 0); /* no root label asked */
    bf_buf_free(&b);
    bf_st_free(st);
}

Test(pprof, gzipped)
{
    bf_stack_table *st = table();
    bf_pprof_opts o = {.type = "samples", .unit = "count"};
    bf_buf raw, gz;
    bf_buf_init(&raw, NULL);
    bf_buf_init(&gz, NULL);
    cr_assert_eq(bf_pprof_encode(st, &o, &raw), 0);
    cr_assert_eq(bf_pprof_write(st, &o, &gz), 0);
    cr_assert((unsigned char)gz.data[0] == 0x1f && (unsigned char)gz.data[1] == 0x8b);
    unsigned char back[4096];
    z_stream z;
    memset(&z, 0, sizeof(z));
    cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (unsigned char *)gz.data;
    z.avail_in = (uInt)gz.len;
    z.next_out = back;
    z.avail_out = sizeof(back);
    cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    cr_assert_eq(z.total_out, raw.len);
    cr_assert_eq(memcmp(back, raw.data, raw.len), 0);
    inflateEnd(&z);
    bf_buf_free(&raw);
    bf_buf_free(&gz);
    bf_st_free(st);
}

Test(pprof, empty_table)
{
    bf_st_caps caps;
    bf_st_default_caps(&caps);
    bf_stack_table *st = bf_st_new(&caps);
    bf_pprof_opts o = {.type = "samples", .unit = "count"};
    bf_buf b;
    bf_buf_init(&b, NULL);
    cr_assert_eq(bf_pprof_write(st, &o, &b), 0);
    cr_assert(b.len > 10);
    bf_buf_free(&b);
    bf_st_free(st);
}
