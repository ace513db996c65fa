/* bf_perfmap: the JIT's perf map, parsed and looked up (native mode's JIT symbolizer). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unwind/bf_perfmap.h"

static const char sample_map[] =
    "0x7f005281e000 68 $global::apply_fun_shared\n"
    "0x7effd3814880 7b0 $lists::codeHeader\n"
    "0x7effd3815030 30 $lists:keyfind/3-CodeInfoPrologue\n"
    "0x7effd3815060 70 $lists:keyfind/3\n"
    "7effd3816000 100 $Elixir.MyApp.Worker:handle_call/3\n"
    "0x7effd3817000 40 $shop:-loop/1-fun-0-/2\n"
    "not a line\n"
    "0x7effd3818000 0 $zero:size/0\n";

Test(perfmap, parses_and_names_like_beamflame)
{
    bf_perfmap *pm = bf_perfmap_new();
    cr_assert_eq(bf_perfmap_feed(pm, sample_map, sizeof(sample_map) - 1), 0);
    cr_assert_eq(bf_perfmap_count(pm), 6);
    cr_assert_eq(bf_perfmap_malformed(pm), 2); /* no fields; a zero size */
    uint64_t start = 0;
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x7effd3815065, &start), "lists:keyfind/3");
    cr_assert_eq(start, 0x7effd3815060);
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x7effd3815030, NULL), "lists:keyfind/3");
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x7f005281e067, NULL), "global::apply_fun_shared");
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x7effd3814880, NULL), "lists::codeHeader");
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x7effd3816010, NULL), "MyApp.Worker.handle_call/3");
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x7effd3817000, NULL), "shop:loop/1-fun-0");
    /* ends are exclusive; gaps and addresses below everything miss */
    cr_assert_null(bf_perfmap_lookup(pm, 0x7f005281e068, NULL));
    cr_assert_null(bf_perfmap_lookup(pm, 0x1000, NULL));
    cr_assert_null(bf_perfmap_lookup(pm, 0x7effd3817040, NULL));
    bf_perfmap_free(pm);
}

/* Quoted atoms, as the JIT writes them (measured on OTP 25 and 27), name like the rest:
 * the names the sample and trace modes give the same functions. */
Test(perfmap, quoted_atoms_name_like_the_other_modes)
{
    static const char map[] =
        "0x1000 40 $lcw:'-crunch/1-lc$^1/1-0-'/2\n"
        "0x2000 40 $lcw:'-start/0-L/0-0-'/0\n"
        "0x3000 40 $'Elixir.App.Worker':'-run/1-fun-0-'/1\n"
        "0x4000 40 $m:'weird\\'atom'/0\n";
    bf_perfmap *pm = bf_perfmap_new();
    cr_assert_eq(bf_perfmap_feed(pm, map, sizeof(map) - 1), 0);
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x1010, NULL), "lcw:crunch/1-lc$^1/1-0");
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x2010, NULL), "lcw:start/0-L/0-0");
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x3010, NULL), "App.Worker.run/1-fun-0");
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x4010, NULL), "m:weird'atom/0");
    bf_perfmap_free(pm);
}

Test(perfmap, last_entry_wins_and_partial_lines_wait)
{
    bf_perfmap *pm = bf_perfmap_new();
    const char *a = "0x1000 100 $old:f/0\n0x2000 10 $x:y/0\n0x10";
    cr_assert_eq(bf_perfmap_feed(pm, a, strlen(a)), 0);
    cr_assert_eq(bf_perfmap_count(pm), 2); /* the partial line waits */
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x1050, NULL), "old:f/0");
    const char *b = "40 20 $new:g/1\n0x1000 100 $newer:f/0\n";
    cr_assert_eq(bf_perfmap_feed(pm, b, strlen(b)), 0);
    cr_assert_eq(bf_perfmap_count(pm), 4);
    /* 0x1040..0x1060 was described three times: the last description wins */
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x1050, NULL), "newer:f/0");
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x10f0, NULL), "newer:f/0");
    bf_perfmap_free(pm);
}

Test(perfmap, every_chunking_gives_the_same_result)
{
    size_t n = sizeof(sample_map) - 1;
    for (size_t chunk = 1; chunk <= 17; chunk++) {
        bf_perfmap *pm = bf_perfmap_new();
        for (size_t off = 0; off < n; off += chunk)
            cr_assert_eq(bf_perfmap_feed(pm, sample_map + off, off + chunk > n ? n - off : chunk), 0);
        cr_assert_eq(bf_perfmap_count(pm), 6, "chunk %zu", chunk);
        cr_assert_str_eq(bf_perfmap_lookup(pm, 0x7effd3816010, NULL), "MyApp.Worker.handle_call/3");
        bf_perfmap_free(pm);
    }
}

Test(perfmap, overlong_lines_are_skipped_and_counted)
{
    bf_perfmap *pm = bf_perfmap_new();
    char *big = malloc(3 * BF_PERFMAP_MAX_LINE);
    memset(big, 'a', 3 * BF_PERFMAP_MAX_LINE);
    cr_assert_eq(bf_perfmap_feed(pm, big, 3 * BF_PERFMAP_MAX_LINE), 0);
    cr_assert_eq(bf_perfmap_feed(pm, "\n0x10 10 $a:b/0\n", 16), 0);
    cr_assert_eq(bf_perfmap_count(pm), 1);
    cr_assert_eq(bf_perfmap_malformed(pm), 1);
    free(big);
    bf_perfmap_free(pm);
}

/* A real map: an erl started with +JPperf map writes /tmp/perf-PID.map; read it back
 * incrementally and find lists:keyfind/3 by the address the file gives for it. */
Test(perfmap, a_real_nodes_map)
{
    FILE *p = popen("erl +JPperf map -noshell -eval "
                    "'io:format(\"~s~n\", [os:getpid()]), halt().' 2>/dev/null", "r");
    cr_assert_not_null(p);
    char pid[32] = "";
    cr_assert_not_null(fgets(pid, sizeof(pid), p));
    pclose(p);
    pid[strcspn(pid, "\n")] = '\0';
    char path[64];
    snprintf(path, sizeof(path), "/tmp/perf-%s.map", pid);
    bf_perfmap *pm = bf_perfmap_new();
    uint64_t off = 0;
    cr_assert_eq(bf_perfmap_read_file(pm, path, &off), 0, "%s", path);
    cr_assert_gt(bf_perfmap_count(pm), 1000);
    cr_assert_eq(bf_perfmap_malformed(pm), 0);
    uint64_t again = off;
    cr_assert_eq(bf_perfmap_read_file(pm, path, &again), 0); /* nothing new: no change */
    cr_assert_eq(again, off);
    /* the address the file gives for lists:keyfind/3 */
    char cmd[160], line[256];
    snprintf(cmd, sizeof(cmd), "grep -m1 ' \\$lists:keyfind/3$' %s", path);
    p = popen(cmd, "r");
    cr_assert_not_null(fgets(line, sizeof(line), p));
    pclose(p);
    unsigned long long addr = strtoull(line, NULL, 16);
    cr_assert_str_eq(bf_perfmap_lookup(pm, addr + 1, NULL), "lists:keyfind/3");
    unlink(path);
    bf_perfmap_free(pm);
}
