/* C++ symbol names as native mode's frames show them: qualified, without parameters. The
 * expected texts are c++filt's, cut before the parameter list. */
#include <criterion/criterion.h>
#include <string.h>

#include "../unwind/bf_demangle.h"

static void check(const char *mangled, const char *want)
{
    char out[256];
    cr_expect_eq(bf_demangle(mangled, out, sizeof(out)), 0, "%s", mangled);
    cr_expect_str_eq(out, want, "%s", mangled);
}

static void untouched(const char *name)
{
    char out[256];
    cr_expect_eq(bf_demangle(name, out, sizeof(out)), -1, "%s", name);
    cr_expect_str_eq(out, name);
}

Test(demangle, beam_jit_helpers)
{
    /* from Debian's OTP 25 beam.smp */
    check("_Z17beam_jit_call_bifP7processPmPKvPFmS0_S1_S3_Em", "beam_jit_call_bif");
    check("_Z23beam_jit_remove_messageP7processlPmS1_j", "beam_jit_remove_message");
    check("_ZN19BeamModuleAssembler12emit_i_callsERK8ArgLabel",
          "BeamModuleAssembler::emit_i_calls");
}

Test(demangle, namespaces_classes_templates)
{
    check("_ZN12_GLOBAL__N_13fooEv", "(anonymous namespace)::foo");
    check("_ZN3FooC2Ev", "Foo::Foo");
    check("_ZN3FooD1Ev", "Foo::~Foo");
    check("_ZNK3Foo3barEv", "Foo::bar");
    check("_ZN3Foo3barIiEEvT_", "Foo::bar<...>");
    check("_ZNSt6vectorIiSaIiEE9push_backERKi", "std::vector<...>::push_back");
    check("_ZL8local_fnv", "local_fn");
    check("_Z3fooIiEvT_", "foo<...>");
}

Test(demangle, clones_keep_their_suffix)
{
    check("_Z3foov.cold", "foo.cold");
    check("_ZN3Foo3barEv.isra.0", "Foo::bar.isra.0");
}

Test(demangle, anything_else_is_left_alone)
{
    untouched("erts_schedule");
    untouched("main");
    untouched("_Z");
    untouched("_Zfoo");
    untouched("_Z99short");
    untouched("_ZN3foo");       /* no E */
    untouched("_ZN3foocvT_Ev"); /* an operator: not read here */
}

Test(demangle, small_buffers_are_safe)
{
    char out[8];
    cr_expect_eq(bf_demangle("_ZN19BeamModuleAssembler12emit_i_callsERK8ArgLabel", out,
                             sizeof(out)), -1);
    cr_expect_eq(strlen(out), 7);
    char one[1];
    cr_expect_eq(bf_demangle("_Z3foov", one, 1), -1);
    cr_expect_eq(one[0], '\0');
    cr_expect_eq(bf_demangle("_Z3foov", out, 0), -1);
}
