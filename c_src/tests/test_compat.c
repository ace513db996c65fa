/* bf_compat: which node releases a build runs on, and what the refusals say. */
#include <criterion/criterion.h>
#include <string.h>

#include "../cli/bf_compat.h"

static const bf_build otp25 = {"x86_64-pc-linux-gnu", "8", "25", "2.16"};
static const bf_build otp27 = {"x86_64-pc-linux-gnu", "8", "27", "2.17"};
static const bf_build otp29 = {"x86_64-pc-linux-gnu", "8", "29", "2.18"};

Test(compat, newer_nodes_take_older_builds)
{
    char why[1024];
    cr_assert_eq(bf_compat_check(&otp25, &otp25, 0, why, sizeof(why)), BF_COMPAT_SAME);
    cr_assert_eq(bf_compat_check(&otp25, &otp27, 0, why, sizeof(why)), BF_COMPAT_NEWER_NODE);
    cr_assert_eq(bf_compat_check(&otp27, &otp29, 0, why, sizeof(why)), BF_COMPAT_NEWER_NODE);
    /* four releases ahead: not promised by OTP, tried with a warning */
    cr_assert_eq(bf_compat_check(&otp25, &otp29, 0, why, sizeof(why)), BF_COMPAT_UNTESTED);
    cr_assert(strstr(why, "OTP 29") && strstr(why, "2 releases ahead"), "%s", why);
}

Test(compat, older_nodes_refuse_a_newer_nif_and_name_the_build)
{
    char why[1024];
    cr_assert_eq(bf_compat_check(&otp29, &otp25, 1, why, sizeof(why)), BF_COMPAT_REFUSED);
    cr_assert(strstr(why, "NIF API 2.16") && strstr(why, "NIF API 2.18") &&
                  strstr(why, "built with OTP 25 or older"), "%s", why);
}

Test(compat, older_node_same_nif_compiles_or_names_both_fixes)
{
    char why[1024];
    const bf_build otp26 = {"x86_64-pc-linux-gnu", "8", "26", "2.17"};
    cr_assert_eq(bf_compat_check(&otp27, &otp26, 1, why, sizeof(why)), BF_COMPAT_COMPILE);
    cr_assert_eq(bf_compat_check(&otp27, &otp26, 0, why, sizeof(why)), BF_COMPAT_REFUSED);
    cr_assert(strstr(why, "build beamflame with OTP 26") && strstr(why, "compiler"), "%s", why);
}

Test(compat, machine_mismatches_and_garbage)
{
    char why[1024];
    const bf_build arm = {"aarch64-unknown-linux-gnu", "8", "25", "2.16"};
    const bf_build w4 = {"x86_64-pc-linux-gnu", "4", "25", "2.16"};
    const bf_build junk = {"x86_64-pc-linux-gnu", "8", "R16B", "x"};
    const bf_build major3 = {"x86_64-pc-linux-gnu", "8", "30", "3.0"};
    cr_assert_eq(bf_compat_check(&otp25, &arm, 1, why, sizeof(why)), BF_COMPAT_REFUSED);
    cr_assert(strstr(why, "architecture"), "%s", why);
    cr_assert_eq(bf_compat_check(&otp25, &w4, 1, why, sizeof(why)), BF_COMPAT_REFUSED);
    cr_assert(strstr(why, "word size"), "%s", why);
    cr_assert_eq(bf_compat_check(&otp25, &junk, 1, why, sizeof(why)), BF_COMPAT_REFUSED);
    cr_assert_eq(bf_compat_check(&otp25, &major3, 1, why, sizeof(why)), BF_COMPAT_REFUSED);
    /* a short buffer is cut, never overrun */
    char tiny[8];
    cr_assert_eq(bf_compat_check(&otp29, &otp25, 0, tiny, sizeof(tiny)), BF_COMPAT_REFUSED);
    cr_assert_eq(strlen(tiny), 7);
}
