/* bf_compat: whether a beamflame build runs on a node of another OTP release, decided
 * from the facts both sides report (erlang:system_info/1). Pure; the command line asks the
 * node, then calls this; tests call it directly.
 *
 * What OTP guarantees and what was measured (FIELD-NOTES, "OTP 26-29"):
 *  - architecture and word size must be equal;
 *  - the NIF loader takes a library built for an older minor version of the NIF API and
 *    refuses a newer one (2.16 on OTP 25, 2.17 on 27, 2.18 on 29): the node's minor must be
 *    at least ours, the major equal;
 *  - code compiled on release N loads on N+1 and N+2 (OTP's compatibility rule; measured:
 *    25's modules load on 27.3 and 29.1); beyond N+2 it usually still does but is not
 *    promised: allowed, with a warning, and the load itself is checked by install;
 *  - code compiled on a newer release does not load on an older one (`badfile`,
 *    `features_not_allowed`): only by compiling beamflame's modules on the node from their
 *    abstract code, which needs the node's `compiler` application (can_compile).
 */
#ifndef BF_COMPAT_H
#define BF_COMPAT_H

#include <stddef.h>

typedef struct bf_build {
    const char *arch;        /* system_architecture, e.g. "x86_64-pc-linux-gnu" */
    const char *wordsize;    /* {wordsize, external}, "8" */
    const char *otp_release; /* "25" */
    const char *nif_version; /* "2.16" */
} bf_build;

typedef enum bf_compat {
    BF_COMPAT_SAME = 0,   /* the same release: push as built */
    BF_COMPAT_NEWER_NODE, /* the node is 1-2 releases newer: push as built */
    BF_COMPAT_UNTESTED,   /* more than 2 newer: pushed, load checked; *why warns */
    BF_COMPAT_COMPILE,    /* the node is older: compile there from abstract code */
    BF_COMPAT_REFUSED     /* *why names the fix */
} bf_compat;

/* Decides for `node` and this build `ours`. can_compile: the caller can compile on the
 * node from abstract code (the node has `compiler`, and the caller knows how). `why` gets
 * the warning (UNTESTED) or the error (REFUSED), naming both sides' values and the fix. */
bf_compat bf_compat_check(const bf_build *ours, const bf_build *node, int can_compile,
                          char *why, size_t whylen);

#endif
