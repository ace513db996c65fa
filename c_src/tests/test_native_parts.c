/* The port program's parts: /proc maps and stat lines, frame naming, its arguments (on the
 * command line's table) and its port codec (decoded back with ei). */
#include <criterion/criterion.h>
#include <ei.h>
#include <string.h>

#include "../native/bf_nargs.h"
#include "../native/bf_nname.h"
#include "../native/bf_nport.h"
#include "../unwind/bf_beamproc.h"

static const char *const maps_text[] = {
    "55d0c2a00000-55d0c2b00000 r--p 00000000 08:01 1234   /usr/lib/erlang/erts-13.1.5/bin/beam.smp\n",
    "55d0c2b00000-55d0c2f00000 r-xp 00100000 08:01 1234   /usr/lib/erlang/erts-13.1.5/bin/beam.smp\n",
    "7f0000000000-7f0000100000 r-xp 00000000 00:01 99     /memfd:vmem (deleted)\n",
    "7f0000200000-7f0000300000 rwxp 00000000 00:00 0 \n",
    "7f1000000000-7f1000200000 r-xp 00028000 08:01 77     /usr/lib/x86_64-linux-gnu/libc.so.6\n",
    "not a mapping\n",
    "7f2000000000-7f1000000000 r-xp 00000000 00:00 0\n", /* end before start */
};

static size_t read_maps(bf_map *maps, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof(maps_text) / sizeof(maps_text[0]) && n < cap; i++)
        if (bf_maps_line(maps_text[i], &maps[n]) == 0)
            n++;
    return n;
}

Test(native_parts, maps_lines)
{
    bf_map m[8];
    cr_assert_eq(read_maps(m, 8), 5);
    cr_assert_eq(m[0].start, 0x55d0c2a00000ULL);
    cr_assert(bf_map_is_beam(&m[0]));
    cr_assert(bf_map_is_beam_file(&m[1]) && !bf_map_is_beam(&m[1])); /* not offset 0 */
    cr_assert(m[1].exec && !m[1].write);
    cr_assert_str_eq(m[2].path, "");                                /* the JIT's memfd */
    cr_assert(m[3].exec && m[3].write && !m[3].path[0]);            /* anonymous */
    cr_assert_eq(m[4].offset, 0x28000);
    cr_assert_eq(bf_map_find(m, 5, 0x7f1000000010ULL), &m[4]);
    cr_assert_null(bf_map_find(m, 5, 0x1000));
}

Test(native_parts, stat_state_after_the_name)
{
    cr_assert_eq(bf_stat_state("4242 (1_scheduler) S 1 2 3"), 'S');
    cr_assert_eq(bf_stat_state("4242 (a) R (b) R 1"), 'R'); /* a name with ") R (" in it */
    cr_assert_eq(bf_stat_state("4242 (x) D 1"), 'D');
    cr_assert_eq(bf_stat_state("garbage"), 0);
    cr_assert_eq(bf_stat_state("4242 (x)"), 0);
}

static int rereads;
static int reread_adds(void *ctx)
{
    rereads++;
    static const char more[] = "0x7f0000000800 100 $late:loaded/0\n";
    return bf_perfmap_feed(ctx, more, sizeof(more) - 1);
}

Test(native_parts, naming)
{
    bf_map m[8];
    size_t n = read_maps(m, 8);
    bf_perfmap *pm = bf_perfmap_new();
    static const char map[] = "0x7f0000000100 80 $lists:keyfind/3\n";
    cr_assert_eq(bf_perfmap_feed(pm, map, sizeof(map) - 1), 0);
    rereads = 0;
    bf_namer nm = {m, n, NULL, m[0].start, pm, 1, reread_adds, pm};
    char out[256];
    cr_assert_eq(bf_name_pc(&nm, 0x7f0000000120ULL, out, sizeof(out)), 1);
    cr_assert_str_eq(out, "lists:keyfind/3");
    cr_assert_eq(rereads, 0);
    /* JIT memory the names lack: one re-read, then named */
    cr_assert_eq(bf_name_pc(&nm, 0x7f0000000810ULL, out, sizeof(out)), 1);
    cr_assert_str_eq(out, "late:loaded/0");
    cr_assert_eq(rereads, 1);
    /* a library: file+offset, and no re-read for it */
    cr_assert_eq(bf_name_pc(&nm, 0x7f1000000010ULL, out, sizeof(out)), 0);
    cr_assert_str_eq(out, "libc.so.6+0x28010");
    cr_assert_eq(rereads, 1);
    cr_assert_eq(bf_name_pc(&nm, 0x7f0000000f00ULL, out, sizeof(out)), 0);
    cr_assert_eq(rereads, 2);
    cr_assert_str_eq(out, "[jit 0x7f0000000f00]");
    cr_assert_eq(bf_name_pc(&nm, 0x10, out, sizeof(out)), 0);
    cr_assert_str_eq(out, "[unknown 0x10]");
    cr_assert(bf_namer_is_jit(&nm, 0x7f0000000f00ULL));  /* executable, no file */
    cr_assert(!bf_namer_is_jit(&nm, 0x7f1000000010ULL)); /* libc */
    bf_perfmap_free(pm);
    cr_assert_not_null(strstr(bf_capability(0, 0, 0), "+JPperf map"));
    cr_assert_not_null(strstr(bf_capability(1, 0, 1), "full"));
    cr_assert_not_null(strstr(bf_capability(0, 1, 0), "innermost JIT frame"));
}

static int parse(bf_nargs *a, char *err, int argc, char **argv)
{
    return bf_nargs_parse(argc, argv, a, err, 256);
}

Test(native_parts, arguments)
{
    bf_nargs a;
    char err[256];
    char *plain[] = {"bfn", "--pid", "42"};
    cr_assert_eq(parse(&a, err, 3, plain), 0, "%s", err);
    cr_assert_eq(a.pid, 42);
    cr_assert_eq(a.rate, 99);
    cr_assert_eq(a.duration_ms, 5000);
    cr_assert(a.idle && !a.dirty && !a.port);
    /* --dirty and --no-idle come from the command line's table */
    char *all[] = {"bfn", "--pid", "7", "--rate", "250", "--duration", "10", "--dirty",
                   "--no-idle", "--port"};
    cr_assert_eq(parse(&a, err, 10, all), 0, "%s", err);
    cr_assert(a.dirty && !a.idle && a.port && a.rate == 250 && a.duration_ms == 10);
    char *bad_rate[] = {"bfn", "--pid", "7", "--rate", "0"};
    cr_assert_eq(parse(&a, err, 5, bad_rate), -1);
    cr_assert_str_eq(err, "--rate needs a whole number, 1 to 1000 (got 0)");
    char *missing[] = {"bfn", "--pid"};
    cr_assert_eq(parse(&a, err, 2, missing), -1);
    cr_assert_not_null(strstr(err, "got nothing"));
    char *unknown[] = {"bfn", "--pid", "7", "--states"};
    cr_assert_eq(parse(&a, err, 4, unknown), -1);
    cr_assert_str_eq(err, "unknown option --states"); /* a sample mode option */
    char *nopid[] = {"bfn"};
    cr_assert_eq(parse(&a, err, 1, nopid), -1);
    char *junk[] = {"bfn", "--pid", "12x"};
    cr_assert_eq(parse(&a, err, 3, junk), -1);
}

Test(native_parts, port_codec)
{
    unsigned char hdr[4];
    bf_packet_header(0x01020304, hdr);
    cr_assert(hdr[0] == 1 && hdr[3] == 4);
    cr_assert_eq(bf_packet_len(hdr), 0x01020304);

    ei_x_buff x;
    ei_x_new_with_version(&x);
    bf_native_info info = {.jit_names = "perf_map", .frame_pointers = 1, .samples = 12,
                           .threads = 2, .stopped_us_median = 17, .capability = "full: yes"};
    cr_assert_eq(bf_nport_encode_ok(&x, "a;b 3\n", 6, &info), 0);
    int i = 0, version, arity;
    char atom[MAXATOMLEN], bin[64];
    long len;
    cr_assert_eq(ei_decode_version(x.buff, &i, &version), 0);
    cr_assert_eq(ei_decode_tuple_header(x.buff, &i, &arity), 0);
    cr_assert_eq(arity, 3);
    cr_assert_eq(ei_decode_atom(x.buff, &i, atom), 0);
    cr_assert_str_eq(atom, "ok");
    cr_assert_eq(ei_decode_binary(x.buff, &i, bin, &len), 0);
    cr_assert_eq(len, 6);
    cr_assert_eq(ei_decode_map_header(x.buff, &i, &arity), 0);
    int found = 0;
    for (int k = 0; k < arity; k++) {
        cr_assert_eq(ei_decode_atom(x.buff, &i, atom), 0);
        if (!strcmp(atom, "samples")) {
            unsigned long long v;
            cr_assert_eq(ei_decode_ulonglong(x.buff, &i, &v), 0);
            cr_assert_eq(v, 12);
            found++;
        } else if (!strcmp(atom, "stopped_us_median")) {
            unsigned long long v;
            cr_assert_eq(ei_decode_ulonglong(x.buff, &i, &v), 0);
            cr_assert_eq(v, 17);
            found++;
        } else if (!strcmp(atom, "capability")) {
            cr_assert_eq(ei_decode_binary(x.buff, &i, bin, &len), 0);
            cr_assert_eq(len, 9);
            found++;
        } else {
            cr_assert_eq(ei_skip_term(x.buff, &i), 0);
        }
    }
    cr_assert_eq(found, 3);
    cr_assert_eq(i, x.index); /* the whole packet, nothing after the map */
    ei_x_free(&x);

    ei_x_new_with_version(&x);
    cr_assert_eq(bf_nport_encode_error(&x, BF_NPORT_PTRACE, "not permitted: fix it"), 0);
    i = 0;
    ei_decode_version(x.buff, &i, &version);
    cr_assert_eq(ei_decode_tuple_header(x.buff, &i, &arity), 0);
    cr_assert_eq(arity, 3);
    ei_decode_atom(x.buff, &i, atom);
    cr_assert_str_eq(atom, "error");
    ei_decode_atom(x.buff, &i, atom);
    cr_assert_str_eq(atom, "ptrace");
    ei_x_free(&x);
}
