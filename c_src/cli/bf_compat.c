/* bf_compat: a build against a node's release. See bf_compat.h. */
#include "bf_compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BF_COMPAT_AHEAD 2 /* releases ahead OTP promises to load code compiled on N */

/* "2.17" -> 2, 17; -1 when not that shape */
static int bf_version(const char *v, long *major, long *minor)
{
    char *end;
    *major = strtol(v, &end, 10);
    if (end == v || *end != '.')
        return -1;
    const char *m = end + 1;
    *minor = strtol(m, &end, 10);
    return end == m || *end ? -1 : 0;
}

static long bf_release(const char *r)
{
    char *end;
    long v = strtol(r, &end, 10);
    return end == r || *end || v <= 0 ? -1 : v;
}

bf_compat bf_compat_check(const bf_build *ours, const bf_build *node, int can_compile,
                          char *why, size_t whylen)
{
    why[0] = '\0';
    if (strcmp(ours->arch, node->arch)) {
        snprintf(why, whylen, "the node runs on %s, this beamflame was built for %s: build "
                              "beamflame on the node's architecture", node->arch, ours->arch);
        return BF_COMPAT_REFUSED;
    }
    if (strcmp(ours->wordsize, node->wordsize)) {
        snprintf(why, whylen, "the node's word size is %s bytes, this beamflame's %s: build "
                              "beamflame for the node's word size", node->wordsize,
                 ours->wordsize);
        return BF_COMPAT_REFUSED;
    }
    long omaj, omin, nmaj, nmin, orel = bf_release(ours->otp_release),
                                 nrel = bf_release(node->otp_release);
    if (bf_version(ours->nif_version, &omaj, &omin) || bf_version(node->nif_version, &nmaj, &nmin) ||
        orel < 0 || nrel < 0) {
        snprintf(why, whylen, "the node reports OTP release %s and NIF API %s, which this "
                              "beamflame (OTP %s, NIF %s) cannot read: build beamflame with "
                              "the node's OTP release", node->otp_release, node->nif_version,
                 ours->otp_release, ours->nif_version);
        return BF_COMPAT_REFUSED;
    }
    if (nmaj != omaj || nmin < omin) {
        snprintf(why, whylen, "the node has OTP %s (NIF API %s), this beamflame was built with "
                              "OTP %s (NIF API %s), whose NIF library an older VM refuses: use "
                              "a beamflame built with OTP %s or older (build it with the "
                              "node's release, or on an older machine)",
                 node->otp_release, node->nif_version, ours->otp_release, ours->nif_version,
                 node->otp_release);
        return BF_COMPAT_REFUSED;
    }
    if (nrel == orel)
        return BF_COMPAT_SAME;
    if (nrel > orel && nrel - orel <= BF_COMPAT_AHEAD)
        return BF_COMPAT_NEWER_NODE;
    if (nrel > orel) {
        snprintf(why, whylen, "the node has OTP %s, %ld releases after this beamflame's OTP "
                              "%s; OTP promises to load code %d releases ahead: trying (the "
                              "load is checked), or build beamflame with OTP %s",
                 node->otp_release, nrel - orel, ours->otp_release, BF_COMPAT_AHEAD,
                 node->otp_release);
        return BF_COMPAT_UNTESTED;
    }
    if (can_compile)
        return BF_COMPAT_COMPILE;
    snprintf(why, whylen, "the node has OTP %s, older than this beamflame's OTP %s, and code "
                          "compiled on a newer release does not load on an older one: build "
                          "beamflame with OTP %s, or attach from an Erlang node with "
                          "beamflame:attach/1, which compiles beamflame on the node when it "
                          "has the compiler application",
             node->otp_release, ours->otp_release, node->otp_release);
    return BF_COMPAT_REFUSED;
}
