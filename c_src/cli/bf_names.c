/* bf_names: cookie sources and node names for `record`. See bf_names.h. Pure: the only
 * I/O is reading a cookie file. */
#include "bf_names.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Reads a cookie file: the whole file, trailing whitespace dropped; one line only. */
static int bf_cookie_read(const char *path, char *cookie, size_t cookielen, char *err,
                          size_t errlen, const char *fix)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the cookie file %s: %s (%s)", path, strerror(errno),
                 fix);
        return -1;
    }
    char buf[BF_COOKIE_MAX + 2];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                     buf[n - 1] == '\t'))
        n--;
    buf[n] = '\0';
    if (more || n > BF_COOKIE_MAX || n + 1 > cookielen) {
        snprintf(err, errlen, "the cookie in %s is longer than %d bytes", path, BF_COOKIE_MAX);
        return -1;
    }
    if (n == 0 || strchr(buf, '\n')) {
        snprintf(err, errlen, "the cookie file %s is %s", path,
                 n == 0 ? "empty" : "not a single line");
        return -1;
    }
    memcpy(cookie, buf, n + 1);
    return 0;
}

static int bf_cookie_copy(const char *value, char *cookie, size_t cookielen, char *err,
                          size_t errlen, const char *what)
{
    size_t n = strlen(value);
    if (n == 0 || n > BF_COOKIE_MAX || n + 1 > cookielen) {
        snprintf(err, errlen, "the cookie in %s must be 1 to %d bytes", what, BF_COOKIE_MAX);
        return -1;
    }
    memcpy(cookie, value, n + 1);
    return 0;
}

int bf_cookie_find(const bf_record_opts *r, const char *env_cookie, const char *home,
                   char *cookie, size_t cookielen, bf_cookie_source *src, char *where,
                   size_t wherelen, char *err, size_t errlen)
{
    if (r->cookie_file) {
        *src = BF_COOKIE_FROM_FILE;
        snprintf(where, wherelen, "the cookie file %s", r->cookie_file);
        return bf_cookie_read(r->cookie_file, cookie, cookielen, err, errlen,
                              "check --cookie-file");
    }
    if (r->cookie) {
        *src = BF_COOKIE_FROM_FLAG;
        snprintf(where, wherelen, "--cookie");
        return bf_cookie_copy(r->cookie, cookie, cookielen, err, errlen, "--cookie");
    }
    if (env_cookie && *env_cookie) {
        *src = BF_COOKIE_FROM_ENV;
        snprintf(where, wherelen, "BEAMFLAME_COOKIE");
        return bf_cookie_copy(env_cookie, cookie, cookielen, err, errlen, "BEAMFLAME_COOKIE");
    }
    *src = BF_COOKIE_FROM_HOME;
    if (!home || !*home) {
        snprintf(err, errlen, "no cookie: HOME is not set; give --cookie-file PATH or set "
                              "BEAMFLAME_COOKIE");
        return -1;
    }
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/.erlang.cookie", home) >= (int)sizeof(path)) {
        snprintf(err, errlen, "HOME is too long; give --cookie-file PATH");
        return -1;
    }
    snprintf(where, wherelen, "the cookie file %s", path);
    return bf_cookie_read(path, cookie, cookielen, err, errlen,
                          "give --cookie-file PATH or set BEAMFLAME_COOKIE");
}

/* A node name's alive part: letters, digits, '_' and '-' (what erl accepts unquoted). */
static int bf_alive_ok(const char *s, size_t n)
{
    if (n == 0 || n > BF_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int bf_target_name(const char *arg, const char *host_short, char *out, size_t outlen)
{
    const char *at = strchr(arg, '@');
    size_t alive = at ? (size_t)(at - arg) : strlen(arg);
    if (!bf_alive_ok(arg, alive) || (at && (!at[1] || strchr(at + 1, '@'))))
        return -1;
    int n = at ? snprintf(out, outlen, "%s", arg)
               : snprintf(out, outlen, "%s@%s", arg, host_short ? host_short : "");
    if (n < 0 || (size_t)n >= outlen || n > BF_NAME_MAX || (!at && !(host_short && *host_short)))
        return -1;
    return 0;
}

int bf_is_long_name(const char *node)
{
    const char *at = strchr(node, '@');
    return at && strchr(at + 1, '.') != NULL;
}

int bf_own_name(const bf_record_opts *r, const char *target, long pid, const char *host_short,
                const char *host_long, char *alive, size_t alivelen, char *host, size_t hostlen,
                char *err, size_t errlen)
{
    int lng = r->names == BF_NAMES_LONG ||
              (r->names == BF_NAMES_AUTO && bf_is_long_name(target));
    const char *given = r->own_name;
    const char *at = given ? strchr(given, '@') : NULL;
    if (given) {
        size_t n = at ? (size_t)(at - given) : strlen(given);
        if (!bf_alive_ok(given, n) || n + 1 > alivelen) {
            snprintf(err, errlen, "bad node name %s: use letters, digits, _ and -", given);
            return -1;
        }
        memcpy(alive, given, n);
        alive[n] = '\0';
    } else {
        snprintf(alive, alivelen, "beamflame_%ld", pid);
    }
    const char *h = at ? at + 1 : (lng ? host_long : host_short);
    if (at && r->names == BF_NAMES_SHORT && strchr(h, '.')) {
        snprintf(err, errlen, "--sname takes a short host name (got %s); use --name", h);
        return -1;
    }
    if (!h || !*h || (lng && !strchr(h, '.'))) {
        snprintf(err, errlen, "cannot find this host's fully qualified name for a long node "
                              "name; give --name NAME@HOST.DOMAIN");
        return -1;
    }
    if (snprintf(host, hostlen, "%s", h) >= (int)hostlen || strlen(alive) + strlen(h) + 1 >
                                                                  BF_NAME_MAX) {
        snprintf(err, errlen, "node name too long");
        return -1;
    }
    return 0;
}
