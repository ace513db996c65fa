/* bf_elfsym: size-checked symbol lookups in the real beam.smp, and the .eh_frame_hdr
 * fallback for addresses no symbol covers. What beam.smp exports differs per release
 * (Debian: 3,957 dynamic functions on OTP 25, 3,819 on 27, 290 on 29): nm is the oracle,
 * and the tests check agreement with it, not a count. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unwind/bf_elfsym.h"

/* This machine's beam.smp (the erl on PATH). */
static void beam_path(char *out, size_t len)
{
    FILE *p = popen("erl -noshell -eval 'io:format(\"~s/erts-~s/bin/beam.smp\", "
                    "[code:root_dir(), erlang:system_info(version)]), halt().'", "r");
    cr_assert_not_null(p);
    cr_assert_not_null(fgets(out, (int)len, p));
    pclose(p);
}

Test(elfsym, symbols_name_only_what_they_cover)
{
    char path[512], cmd[700], line[512];
    beam_path(path, sizeof(path));
    const char *err;
    bf_elfsym *es = bf_elfsym_open(path, &err);
    cr_assert_not_null(es, "%s", err ? err : "");
    cr_assert_gt(bf_elfsym_count(es), 100);
    cr_assert_gt(bf_elfsym_fde_count(es), 1000); /* .eh_frame covers every function */
    /* nm's view: address, size, name of defined functions, sorted */
    snprintf(cmd, sizeof(cmd), "nm -D --defined-only -S -n %s | awk '$3==\"T\"||$3==\"t\"'", path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    unsigned long long prev_addr = 0, prev_size = 0;
    char prev_name[256] = "";
    int checked = 0, gaps = 0, listed = 0;
    while (fgets(line, sizeof(line), p) && checked < 2000) {
        unsigned long long addr, size;
        char type, name[256];
        if (sscanf(line, "%llx %llx %c %255s", &addr, &size, &type, name) != 4 || size == 0)
            continue;
        listed++;
        uint64_t start = 0;
        const char *got = bf_elfsym_symbol(es, addr + size / 2, &start);
        cr_assert_not_null(got, "%s", name);
        cr_assert_eq(start, addr, "%s", name);
        checked++;
        /* a gap after the previous symbol: its name must not leak into the gap */
        if (prev_size && prev_addr + prev_size < addr) {
            uint64_t gap = prev_addr + prev_size;
            const char *g = bf_elfsym_symbol(es, gap, NULL);
            cr_assert(g == NULL || strcmp(g, prev_name) != 0, "%s leaked", prev_name);
            char named[300];
            bf_elfsym_name(es, gap, named, sizeof(named));
            if (!g) {
                uint64_t fn = bf_elfsym_function_start(es, gap);
                char want[300];
                snprintf(want, sizeof(want), "beam.smp+0x%llx",
                         (unsigned long long)(fn ? fn : gap));
                cr_assert_str_eq(named, want);
                cr_assert_leq(fn, gap);
                gaps++;
            }
        }
        prev_addr = addr;
        prev_size = size;
        snprintf(prev_name, sizeof(prev_name), "%s", name);
    }
    pclose(p);
    cr_assert_eq(checked, listed); /* every sized function nm lists, up to 2000 */
    cr_assert_gt(checked, 100);
    cr_assert_gt(gaps, 10);
    bf_elfsym_free(es);
}

Test(elfsym, bad_files_are_refused)
{
    const char *err;
    cr_assert_null(bf_elfsym_open("/nonexistent/beam.smp", &err));
    cr_assert_str_eq(err, "cannot open the file");
    FILE *f = fopen("/tmp/bf_elfsym_not_elf", "w");
    fputs("#!/bin/sh\necho not an ELF file at all\n", f);
    fclose(f);
    cr_assert_null(bf_elfsym_open("/tmp/bf_elfsym_not_elf", &err));
    cr_assert_str_eq(err, "not a 64-bit ELF file");
    remove("/tmp/bf_elfsym_not_elf");
}

/* A truncated copy of beam.smp: section headers point past the end. Refused or read in
 * part, never read out of bounds (the sanitizer run checks). */
Test(elfsym, truncated_file_is_safe)
{
    char path[512];
    beam_path(path, sizeof(path));
    FILE *in = fopen(path, "rb");
    FILE *out = fopen("/tmp/bf_elfsym_truncated", "wb");
    cr_assert(in && out);
    static char buf[200000];
    size_t n = fread(buf, 1, sizeof(buf), in);
    fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    const char *err;
    bf_elfsym *es = bf_elfsym_open("/tmp/bf_elfsym_truncated", &err);
    if (es) {
        char name[128];
        bf_elfsym_name(es, 0x1000, name, sizeof(name));
        bf_elfsym_free(es);
    } else {
        cr_assert_not_null(err);
    }
    remove("/tmp/bf_elfsym_truncated");
}

Test(elfsym, data_symbols_native_mode_reads)
{
    char path[512], cmd[700], line[512];
    beam_path(path, sizeof(path));
    const char *err;
    bf_elfsym *es = bf_elfsym_open(path, &err);
    cr_assert_not_null(es, "%s", err ? err : "");
    /* exported up to OTP 27, not on 29: found exactly when nm lists them */
    const char *names[] = {"erts_frame_layout", "__jit_debug_descriptor",
                           "__environ"}; /* __environ: a copy-relocated libc object, on all */
    int found = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        uint64_t v = 0;
        int got = bf_elfsym_object(es, names[i], &v);
        snprintf(cmd, sizeof(cmd),
                 "nm -D --defined-only %s | awk '$3==\"%s\" || index($3, \"%s@\")==1 {print $1}'",
                 path, names[i], names[i]);
        FILE *p = popen(cmd, "r");
        int listed = fgets(line, sizeof(line), p) != NULL;
        pclose(p);
        if (!listed) {
            cr_assert_eq(got, -1, "%s is not exported, yet found", names[i]);
            continue;
        }
        cr_assert_eq(got, 0, "%s", names[i]);
        cr_assert_eq(v, strtoull(line, NULL, 16), "%s", names[i]);
        found++;
    }
    cr_assert_gt(found, 0);
    uint64_t v;
    cr_assert_eq(bf_elfsym_object(es, "erts_frame_layou", &v), -1); /* whole names only */
    cr_assert_eq(bf_elfsym_object(es, "crc32_2", &v), -1);          /* a function */
    bf_elfsym_free(es);
}

/* A stripped copy of this test program names nothing of its own; with its separate debug
 * file (objcopy --only-keep-debug, what Debian's -dbgsym packages ship) it names its
 * functions again. A debug file of another build is refused. */
Test(elfsym, debug_file_names_what_the_stripped_file_lacks)
{
    char dbg[128], stripped[128], cmd[512], line[256];
    snprintf(dbg, sizeof(dbg), "/tmp/bf_elfsym_%d.debug", (int)getpid());
    snprintf(stripped, sizeof(stripped), "/tmp/bf_elfsym_%d.stripped", (int)getpid());
    snprintf(cmd, sizeof(cmd), "objcopy --only-keep-debug /proc/%d/exe %s && "
             "objcopy --strip-all /proc/%d/exe %s", (int)getpid(), dbg, (int)getpid(), stripped);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    /* where bf_elfsym_open lies in this program, by nm */
    snprintf(cmd, sizeof(cmd), "nm /proc/%d/exe | awk '$3==\"bf_elfsym_open\" {print $1}'",
             (int)getpid());
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(fgets(line, sizeof(line), p));
    pclose(p);
    uint64_t addr = strtoull(line, NULL, 16) + 4;
    const char *err;
    bf_elfsym *es = bf_elfsym_open(stripped, &err);
    cr_assert_not_null(es, "%s", err ? err : "");
    cr_assert_null(bf_elfsym_symbol(es, addr, NULL));
    char hex[129], path[400];
    cr_assert_eq(bf_elfsym_build_id(es, hex, sizeof(hex)), 0);
    cr_assert_geq(strlen(hex), 16);
    cr_assert_eq(bf_elfsym_debug_path(es, "/usr/lib/debug", path, sizeof(path)), 0);
    char want[400];
    snprintf(want, sizeof(want), "/usr/lib/debug/.build-id/%.2s/%s.debug", hex, hex + 2);
    cr_assert_str_eq(path, want);
    /* another build's debug file: refused, nothing changed */
    cr_assert_eq(bf_elfsym_add_debug_file(es, "/bin/true", &err), -1);
    cr_assert_null(bf_elfsym_symbol(es, addr, NULL));
    /* this build's: names again */
    cr_assert_eq(bf_elfsym_add_debug_file(es, dbg, &err), 0, "%s", err ? err : "");
    uint64_t start = 0;
    const char *got = bf_elfsym_symbol(es, addr, &start);
    cr_assert_not_null(got);
    cr_assert_str_eq(got, "bf_elfsym_open");
    cr_assert_eq(start, addr - 4);
    cr_assert_eq(bf_elfsym_add_debug_file(es, dbg, &err), -1); /* once */
    bf_elfsym_free(es);
    remove(dbg);
    remove(stripped);
}
