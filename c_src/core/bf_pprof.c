/* bf_pprof: see bf_pprof.h. Field numbers are profile.proto's (github.com/google/pprof,
 * proto/profile.proto): Profile 1 sample_type, 2 sample, 4 location, 5 function,
 * 6 string_table, 9 time_nanos, 10 duration_nanos, 11 period_type, 12 period,
 * 14 default_sample_type;
 * ValueType 1 type, 2 unit; Sample 1 location_id, 2 value, 3 label; Label 1 key, 2 str;
 * Location 1 id, 4 line; Line 1 function_id; Function 1 id, 2 name. */
#include "bf_pprof.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { BF_PB_VARINT = 0, BF_PB_LEN = 2 };

static void bf_pb_varint(bf_buf *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    bf_buf_put(b, tmp, n);
}

static void bf_pb_tag(bf_buf *b, unsigned field, unsigned wire)
{
    bf_pb_varint(b, ((uint64_t)field << 3) | wire);
}

/* A varint field; a zero is the default and is left out, as protobuf writers do. */
static void bf_pb_uint(bf_buf *b, unsigned field, uint64_t v)
{
    if (!v)
        return;
    bf_pb_tag(b, field, BF_PB_VARINT);
    bf_pb_varint(b, v);
}

static void bf_pb_bytes(bf_buf *b, unsigned field, const void *p, size_t n)
{
    bf_pb_tag(b, field, BF_PB_LEN);
    bf_pb_varint(b, n);
    bf_buf_put(b, p, n);
}

/* A nested message written into tmp first (its length goes before it). */
static void bf_pb_message(bf_buf *b, unsigned field, bf_buf *tmp)
{
    bf_pb_bytes(b, field, tmp->data ? tmp->data : "", tmp->len);
    tmp->len = 0;
}

/* The fixed strings: "" first, then each distinct option text. */
typedef struct bf_strings {
    const char *s[16];
    size_t n;
} bf_strings;

static uint64_t bf_str_index(bf_strings *t, const char *s)
{
    if (!s || !*s)
        return 0;
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->s[i], s))
            return i;
    t->s[t->n] = s;
    return t->n++;
}

static void bf_value_type(bf_buf *b, unsigned field, bf_strings *t, const char *type,
                          const char *unit, bf_buf *tmp)
{
    bf_pb_uint(tmp, 1, bf_str_index(t, type));
    bf_pb_uint(tmp, 2, bf_str_index(t, unit));
    bf_pb_message(b, field, tmp);
}

int bf_pprof_encode(const bf_stack_table *st, const bf_pprof_opts *o, bf_buf *out)
{
    bf_strings t = {{""}, 1};
    bf_buf tmp, inner;
    bf_buf_init(&tmp, NULL);
    bf_buf_init(&inner, NULL);
    int two = o->weight_type != NULL;
    bf_value_type(out, 1, &t, o->type, o->unit, &tmp);
    if (two)
        bf_value_type(out, 1, &t, o->weight_type, o->weight_unit, &tmp);
    uint64_t label_key = bf_str_index(&t, o->root_label);
    /* the view a reader opens with: the weight when there are two values */
    uint64_t default_type = bf_str_index(&t, two ? o->weight_type : o->type);
    /* every option string is now in t: frame names follow at base + frame id */
    uint64_t base = t.n;
    uint32_t nstacks = bf_st_stack_count(st), nframes = bf_st_frame_count(st);
    for (uint32_t i = 0; i < nstacks; i++) {
        size_t depth;
        uint64_t weight;
        const uint32_t *ids = bf_st_stack(st, i, &depth, &weight);
        if (!ids || !depth)
            continue;
        bf_pb_tag(&tmp, 1, BF_PB_LEN); /* location ids, packed, leaf first */
        for (size_t k = depth; k > 0; k--)
            bf_pb_varint(&inner, (uint64_t)ids[k - 1] + 1);
        bf_pb_varint(&tmp, inner.len);
        bf_buf_put(&tmp, inner.data, inner.len);
        inner.len = 0;
        uint64_t first = o->count_credits ? bf_st_stack_credits(st, i) : weight;
        bf_pb_varint(&inner, first);
        if (two)
            bf_pb_varint(&inner, weight);
        bf_pb_bytes(&tmp, 2, inner.data, inner.len);
        inner.len = 0;
        if (label_key) {
            bf_pb_uint(&inner, 1, label_key);
            bf_pb_uint(&inner, 2, base + ids[0]);
            bf_pb_bytes(&tmp, 3, inner.data, inner.len);
            inner.len = 0;
        }
        bf_pb_message(out, 2, &tmp);
    }
    for (uint32_t f = 0; f < nframes; f++) { /* Location f+1: one line, function f+1 */
        bf_pb_uint(&inner, 1, (uint64_t)f + 1);
        bf_pb_uint(&tmp, 1, (uint64_t)f + 1);
        bf_pb_bytes(&tmp, 4, inner.data, inner.len);
        inner.len = 0;
        bf_pb_message(out, 4, &tmp);
    }
    for (uint32_t f = 0; f < nframes; f++) {
        bf_pb_uint(&tmp, 1, (uint64_t)f + 1);
        /* name only: with a system_name equal to it, readers "demangle" names such as
         * <0.123.0> (a C++ template to them) to nothing */
        bf_pb_uint(&tmp, 2, base + f);
        bf_pb_message(out, 5, &tmp);
    }
    for (size_t i = 0; i < t.n; i++)
        bf_pb_bytes(out, 6, t.s[i], strlen(t.s[i]));
    for (uint32_t f = 0; f < nframes; f++) {
        size_t len;
        const char *name = bf_st_frame_name(st, f, &len);
        bf_pb_bytes(out, 6, name ? name : "", name ? len : 0);
    }
    bf_pb_uint(out, 14, default_type);
    bf_pb_uint(out, 9, (uint64_t)o->time_nanos);
    bf_pb_uint(out, 10, (uint64_t)o->duration_nanos);
    if (o->period_type) {
        /* its strings were not in the table above: they go after the frame names */
        uint64_t pt = base + nframes, pu = pt + 1;
        bf_pb_uint(&tmp, 1, pt);
        bf_pb_uint(&tmp, 2, pu);
        bf_pb_message(out, 11, &tmp);
        bf_pb_bytes(out, 6, o->period_type, strlen(o->period_type));
        bf_pb_bytes(out, 6, o->period_unit ? o->period_unit : "",
                    o->period_unit ? strlen(o->period_unit) : 0);
        bf_pb_uint(out, 12, (uint64_t)o->period);
    }
    int failed = tmp.failed || inner.failed || out->failed;
    bf_buf_free(&tmp);
    bf_buf_free(&inner);
    return failed ? -1 : 0;
}

int bf_pprof_write(const bf_stack_table *st, const bf_pprof_opts *o, bf_buf *out)
{
    bf_buf pb;
    bf_buf_init(&pb, NULL);
    if (bf_pprof_encode(st, o, &pb) != 0) {
        bf_buf_free(&pb);
        return -1;
    }
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) { /* 15 + 16: a gzip header and trailer */
        bf_buf_free(&pb);
        return -1;
    }
    unsigned char chunk[64 * 1024];
    z.next_in = (unsigned char *)(pb.data ? pb.data : "");
    z.avail_in = (uInt)pb.len;
    int rc;
    do {
        z.next_out = chunk;
        z.avail_out = sizeof(chunk);
        rc = deflate(&z, Z_FINISH);
        if (rc == Z_STREAM_ERROR)
            break;
        bf_buf_put(out, chunk, sizeof(chunk) - z.avail_out);
    } while (rc != Z_STREAM_END);
    deflateEnd(&z);
    bf_buf_free(&pb);
    return rc == Z_STREAM_END && !out->failed ? 0 : -1;
}
