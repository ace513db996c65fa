/* bf_gdbjit: OTP's GDB JIT symbol files (the names native mode uses without a perf map),
 * built here byte by byte in the layout OTP 25 writes. */
#include <criterion/criterion.h>
#include <string.h>

#include "../unwind/bf_gdbjit.h"

static uint8_t file[512];
static size_t flen;

static void put(uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        file[flen++] = (uint8_t)(v >> (8 * i));
}

static void put_name(const char *s)
{
    size_t n = strlen(s) + 1;
    memcpy(file + flen, s, n);
    flen += n;
}

static void range(uint32_t start, uint32_t end, uint32_t lines, const char *name)
{
    size_t r = flen;
    put(start, 4); put(end, 4); put(lines, 4); put(strlen(name) + 1, 2); put_name(name);
    flen = r + 16 + strlen(name) + 1; /* as OTP steps: sizeof(struct) + name length */
}

static size_t third; /* where the third range starts */

/* A module at 0x7f0000001000 with its code header, a function with one line record, and
 * an Elixir function. */
static void build_module(void)
{
    flen = 0;
    memset(file, 0, sizeof(file));
    put(1, 4); put(0, 4);
    put(0x7f0000001000ULL, 8); put(4, 4); put(0x400, 4); put(6, 2); put_name("timer");
    flen = 32 + 6;
    range(0, 0x1f0, 0, "timer::codeHeader");
    range(0x1f0, 0x220, 1, "timer:sleep/1");
    size_t l = flen;
    put(0x1f8, 4); put(42, 4); put(8, 2); put_name("timer.e");
    flen = l + 12 + 8;
    third = flen;
    range(0x220, 0x300, 0, "'Elixir.MyApp.Worker':run/1");
    range(0x300, 0x340, 0, "shop:'-loop/1-fun-0-'/2");
}

Test(gdbjit, module_ranges_become_named_perf_map_entries)
{
    build_module();
    bf_perfmap *pm = bf_perfmap_new();
    int fl = -1;
    cr_assert_eq(bf_gdbjit_kind(file, flen, &fl), BF_GDBJIT_MODULE);
    cr_assert_eq(bf_gdbjit_module(pm, file, flen), 4);
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x7f0000001010, NULL), "timer::codeHeader");
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x7f00000011f8, NULL), "timer:sleep/1");
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x7f00000012ff, NULL), "MyApp.Worker.run/1");
    /* the list quotes atoms; the names come out as from a perf map */
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x7f0000001300, NULL), "shop:loop/1-fun-0");
    cr_assert_null(bf_perfmap_lookup(pm, 0x7f0000001340, NULL));
    bf_perfmap_free(pm);
}

Test(gdbjit, the_emulator_entry_gives_the_frame_layout)
{
    flen = 0;
    put(0, 4); put(0, 4); put(1, 4); put(0, 4); put(0x55aa00001000ULL, 8);
    int fl = -1;
    cr_assert_eq(bf_gdbjit_kind(file, flen, &fl), BF_GDBJIT_EMULATOR);
    cr_assert_eq(fl, 1);
    cr_assert_eq(bf_gdbjit_kind(file, 20, &fl), -1);
}

Test(gdbjit, damaged_files_keep_what_came_before)
{
    bf_perfmap *pm = bf_perfmap_new();
    build_module();
    /* cut inside the third range's name */
    cr_assert_eq(bf_gdbjit_module(pm, file, third + 20), -1);
    cr_assert_str_eq(bf_perfmap_lookup(pm, 0x7f00000011f8, NULL), "timer:sleep/1");
    cr_assert_null(bf_perfmap_lookup(pm, 0x7f0000001250, NULL));
    /* a name without its NUL, a range past the code size, a newline in a name */
    build_module();
    file[38 + 14 + 17] = 'X'; /* the code header's NUL */
    cr_assert_eq(bf_gdbjit_module(pm, file, flen), -1);
    build_module();
    file[38 + 4] = 0xff; file[38 + 5] = 0xff; /* end offset 0xffff > code size */
    cr_assert_eq(bf_gdbjit_module(pm, file, flen), -1);
    build_module();
    file[third + 14 + 3] = '\n';
    cr_assert_eq(bf_gdbjit_module(pm, file, flen), -1);
    /* too short to be anything; an unknown kind */
    cr_assert_eq(bf_gdbjit_module(pm, file, 7), -1);
    build_module();
    file[0] = 7;
    cr_assert_eq(bf_gdbjit_module(pm, file, flen), -1);
    bf_perfmap_free(pm);
}
