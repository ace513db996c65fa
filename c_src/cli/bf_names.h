/* bf_names: the pure parts of reaching a node: where the cookie comes from, and the node
 * names (the target's, completed with this host; our own, short or long like the
 * target's). No sockets here: callers pass in host names and environment values, so unit
 * tests can call every function.
 */
#ifndef BF_NAMES_H
#define BF_NAMES_H

#include <stddef.h>

#include "bf_cli_args.h"

#define BF_COOKIE_MAX 255 /* an atom's length: ei's limit for a cookie */
#define BF_NAME_MAX 255   /* MAXATOMLEN - 1 in ei.h */

typedef enum bf_cookie_source {
    BF_COOKIE_FROM_FILE = 0, /* --cookie-file */
    BF_COOKIE_FROM_FLAG,     /* --cookie (warned) */
    BF_COOKIE_FROM_ENV,      /* BEAMFLAME_COOKIE */
    BF_COOKIE_FROM_HOME      /* ~/.erlang.cookie */
} bf_cookie_source;

/* The cookie by precedence: --cookie-file, --cookie, env_cookie (BEAMFLAME_COOKIE's value
 * or NULL), home/.erlang.cookie (home may be NULL). A file's trailing whitespace is
 * dropped. Returns 0, or -1 with a one-line message in err naming the fix; *where says
 * what was used ("the file F", ...) for later messages. */
int bf_cookie_find(const bf_record_opts *r, const char *env_cookie, const char *home,
                   char *cookie, size_t cookielen, bf_cookie_source *src, char *where,
                   size_t wherelen, char *err, size_t errlen);

/* NAME -> NAME@host_short; NAME@HOST stays. Returns 0, or -1 (bad or too long). */
int bf_target_name(const char *arg, const char *host_short, char *out, size_t outlen);

/* Whether a full node name is a long name (its host part has a dot). */
int bf_is_long_name(const char *node);

/* Our own node name: alive part and host part. The kind is r->names, or the target's
 * when auto; the alive part is r->own_name's or beamflame_<pid>; the host part is
 * r->own_name's, else host_short or host_long (NULL: unknown). Returns 0, or -1 with a
 * message in err. */
int bf_own_name(const bf_record_opts *r, const char *target, long pid, const char *host_short,
                const char *host_long, char *alive, size_t alivelen, char *host, size_t hostlen,
                char *err, size_t errlen);

#endif
