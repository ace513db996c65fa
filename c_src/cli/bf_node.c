/* bf_node: connecting to a node and calling it. See bf_node.h for the pitfalls handled.
 * Single-threaded: the record loop owns the connection. */
#include "bf_node.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bf_names.h"

#define BF_EPMD_DEFAULT_PORT 4369 /* epmd's port unless ERL_EPMD_PORT says otherwise */
#define BF_RECEIVE_SLICE_MS 200   /* a wait is cut into slices this long */

static long long bf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void bf_short_host(char *host, size_t len)
{
    if (gethostname(host, len) != 0)
        host[0] = '\0';
    host[len - 1] = '\0';
    char *dot = strchr(host, '.');
    if (dot)
        *dot = '\0';
}

/* This host's fully qualified name, or "" if the resolver does not know one. */
static void bf_long_host(char *host, size_t len)
{
    char h[256];
    host[0] = '\0';
    if (gethostname(h, sizeof(h)) != 0)
        return;
    h[sizeof(h) - 1] = '\0';
    if (strchr(h, '.')) {
        snprintf(host, len, "%s", h);
        return;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_flags = AI_CANONNAME;
    if (getaddrinfo(h, NULL, &hints, &res) == 0 && res && res->ai_canonname &&
        strchr(res->ai_canonname, '.'))
        snprintf(host, len, "%s", res->ai_canonname);
    if (res)
        freeaddrinfo(res);
}

/* The IPv4 address of a target's host, found the way Erlang finds it (inet_db): the
 * resolver first, then, for this machine's own host name (short or long, any case),
 * loopback. A minimal image or container often lists no host name in /etc/hosts, where
 * `erl -sname` nodes still reach each other; so must we. 0, or -1 when unknown. */
static int bf_resolve_ipv4(const char *host, const char *own_short, const char *own_long,
                           struct in_addr *out)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET; /* ei speaks IPv4 only */
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) == 0 && res) {
        *out = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
        freeaddrinfo(res);
        return 0;
    }
    char own[256];
    if (gethostname(own, sizeof(own)) != 0)
        own[0] = '\0';
    own[sizeof(own) - 1] = '\0';
    if (!strcasecmp(host, own) || (own_short[0] && !strcasecmp(host, own_short)) ||
        (own_long[0] && !strcasecmp(host, own_long))) {
        out->s_addr = htonl(INADDR_LOOPBACK);
        return 0;
    }
    return -1;
}

/* A TCP connection to epmd at addr (its port from ERL_EPMD_PORT, else 4369): the socket,
 * or -1 (-2 when no socket could be made at all); *port says which port. */
static int bf_epmd_connect(struct in_addr addr, int *port)
{
    const char *p = getenv("ERL_EPMD_PORT");
    *port = p && atoi(p) > 0 ? atoi(p) : BF_EPMD_DEFAULT_PORT;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr = addr;
    a.sin_port = htons((unsigned short)*port);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -2;
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(s);
        return -1;
    }
    return s;
}

/* Whether something listens on addr:epmd_port (1) or refuses (0). Used only to explain a
 * failed connect. */
static int bf_epmd_listening(struct in_addr addr)
{
    int port, s = bf_epmd_connect(addr, &port);
    if (s == -2)
        return 1; /* cannot tell: do not blame epmd */
    if (s >= 0)
        close(s);
    return s >= 0;
}

/* After a rejected handshake: the target also refuses a name it already has connected.
 * The same cookie under a fresh name tells the two apart; a connection that works is
 * closed at once (the node sees a hidden connection come and go). */
static int bf_name_taken(bf_node *n, struct in_addr *taddr, const char *talive,
                         const char *host)
{
    ei_cnode probe;
    char alive[64], self[MAXNODELEN + 1];
    snprintf(alive, sizeof(alive), "beamflame_probe_%ld", (long)getpid());
    snprintf(self, sizeof(self), "%s@%s", alive, host);
    struct in_addr any = {0};
    short creation = (short)(1 + ((getpid() + 1) % 0x7ffe));
    if (ei_connect_xinit(&probe, host, alive, self, (Erl_IpAddr)&any,
                         n->ec.ei_connect_cookie, creation) < 0)
        return 0;
    int fd = ei_xconnect_tmo(&probe, (Erl_IpAddr)taddr, (char *)talive, n->timeout_ms);
    if (fd < 0)
        return 0;
    ei_close_connection(fd);
    return 1;
}

int bf_node_connect(bf_node *n, const bf_record_opts *r, char *err, size_t errlen)
{
    char hs[256], hl[256], alive[MAXATOMLEN], host[MAXATOMLEN], self[MAXNODELEN + 1];
    char cookie[BF_COOKIE_MAX + 1], where[4200];
    bf_cookie_source src;
    n->fd = -1;
    n->timeout_ms = r->timeout_ms;
    signal(SIGPIPE, SIG_IGN);
    bf_short_host(hs, sizeof(hs));
    if (bf_target_name(r->node, hs, n->name, sizeof(n->name)) != 0) {
        snprintf(err, errlen, "bad node name %s: give NAME or NAME@HOST", r->node);
        return BF_EXIT_USAGE;
    }
    if (bf_cookie_find(r, getenv("BEAMFLAME_COOKIE"), getenv("HOME"), cookie, sizeof(cookie),
                       &src, where, sizeof(where), err, errlen) != 0)
        return BF_EXIT_COOKIE;
    if (src == BF_COOKIE_FROM_FLAG)
        fprintf(stderr, "beamflame: warning: --cookie is visible to other users in the "
                        "process list; prefer --cookie-file or BEAMFLAME_COOKIE\n");
    const char *thost = strchr(n->name, '@') + 1;
    struct in_addr taddr;
    bf_long_host(hl, sizeof(hl));
    if (bf_resolve_ipv4(thost, hs, hl, &taddr) != 0) {
        snprintf(err, errlen, "cannot resolve the host %s of %s (ei needs an IPv4 address): "
                              "check the node name", thost, n->name);
        return BF_EXIT_UNREACHABLE;
    }
    if (bf_own_name(r, n->name, (long)getpid(), hs, hl, alive, sizeof(alive), host,
                    sizeof(host), err, errlen) != 0)
        return BF_EXIT_USAGE;
    snprintf(self, sizeof(self), "%s@%s", alive, host);
    if (ei_init() != 0) {
        snprintf(err, errlen, "cannot initialise erl_interface");
        return BF_EXIT_NOMEM;
    }
    struct in_addr any = {0};
    short creation = (short)(1 + (getpid() % 0x7ffe));
    if (ei_connect_xinit(&n->ec, host, alive, self, (Erl_IpAddr)&any, cookie, creation) < 0) {
        snprintf(err, errlen, "cannot set up the node %s (name too long?)", self);
        return BF_EXIT_USAGE;
    }
    memset(cookie, 0, sizeof(cookie));
    /* connect to the address found above: ei_connect would resolve the host again with
     * the resolver alone */
    char talive[MAXATOMLEN];
    snprintf(talive, sizeof(talive), "%.*s", (int)(thost - 1 - n->name), n->name);
    int fd = ei_xconnect_tmo(&n->ec, (Erl_IpAddr)&taddr, talive, n->timeout_ms);
    if (fd >= 0) {
        n->fd = fd;
        return BF_EXIT_OK;
    }
    int e = erl_errno;
    int epmd = bf_epmd_listening(taddr);
    if (e == ETIMEDOUT) {
        snprintf(err, errlen, "no answer from %s within %u ms: check that the node is up and "
                              "not overloaded, or raise --timeout", n->name, n->timeout_ms);
        return BF_EXIT_TIMEOUT;
    }
    if (!epmd) {
        snprintf(err, errlen, "epmd is not running on %s (nothing listens on its port): "
                              "check the host, or start the node, which starts epmd", thost);
        return BF_EXIT_NO_EPMD;
    }
    if (fd == ERL_NO_PORT) {
        snprintf(err, errlen, "no node named %.*s is registered with epmd on %s: check the "
                              "name (`epmd -names` on that host lists them)",
                 (int)(strchr(n->name, '@') - n->name), n->name, thost);
        return BF_EXIT_UNREACHABLE;
    }
    if (e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH) {
        snprintf(err, errlen, "cannot reach %s: %s", n->name, strerror(e));
        return BF_EXIT_UNREACHABLE;
    }
    if (bf_name_taken(n, &taddr, talive, host)) {
        snprintf(err, errlen, "%s already has a node named %s connected: this program's own "
                              "node name must differ (give another --sname or --name, or "
                              "leave it out for beamflame_PID)", n->name, self);
        return BF_EXIT_USAGE;
    }
    snprintf(err, errlen, "%s rejected the connection: the cookie from %s is probably wrong "
                          "(give the node's cookie with --cookie-file or BEAMFLAME_COOKIE; "
                          "the node logs the rejected attempt)", n->name, where);
    return BF_EXIT_COOKIE;
}

void bf_node_close(bf_node *n)
{
    if (n->fd >= 0)
        ei_close_connection(n->fd);
    n->fd = -1;
}

/* Receives one message within ms. 1: a message in x; 0: nothing (tick or timeout);
 * -1: connection lost. */
static int bf_node_receive(bf_node *n, erlang_msg *msg, ei_x_buff *x, unsigned ms)
{
    x->index = 0;
    int r = ei_xreceive_msg_tmo(n->fd, msg, x, ms);
    if (r == ERL_TICK)
        return 0;
    if (r == ERL_MSG)
        return 1;
    if (erl_errno == ETIMEDOUT || erl_errno == EAGAIN || errno == EINTR)
        return 0;
    return -1;
}

int bf_node_idle(bf_node *n, unsigned ms, char *err, size_t errlen)
{
    long long end = bf_now_ms() + ms;
    ei_x_buff x;
    ei_x_new(&x);
    int rc = BF_EXIT_OK;
    for (long long now = bf_now_ms(); now < end; now = bf_now_ms()) {
        erlang_msg msg;
        if (bf_node_receive(n, &msg, &x, (unsigned)(end - now)) < 0) {
            snprintf(err, errlen, "lost the connection to %s", n->name);
            rc = BF_EXIT_REMOTE;
            break;
        }
    }
    ei_x_free(&x);
    return rc;
}

/* Whether x holds {rex, Reply}; *idx then points at Reply. */
static int bf_is_rex(const ei_x_buff *x, int *idx)
{
    int i = 0, ver, arity;
    char atom[MAXATOMLEN];
    if (ei_decode_version(x->buff, &i, &ver) || ei_decode_tuple_header(x->buff, &i, &arity) ||
        arity != 2 || ei_decode_atom(x->buff, &i, atom) || strcmp(atom, "rex"))
        return 0;
    *idx = i;
    return 1;
}

void bf_node_term_text(const ei_x_buff *reply, int idx, char *out, size_t len)
{
    char *s = NULL;
    int i = idx;
    if (ei_s_print_term(&s, reply->buff, &i) < 0 || !s) {
        snprintf(out, len, "(undecodable reply)");
    } else {
        snprintf(out, len, "%s", s);
    }
    free(s);
}

int bf_node_call(bf_node *n, const char *mod, const char *fun, ei_x_buff *args,
                 ei_x_buff *reply, int *idx, char *err, size_t errlen)
{
    if (ei_rpc_to(&n->ec, n->fd, (char *)mod, (char *)fun, args->buff, args->index) < 0) {
        snprintf(err, errlen, "lost the connection to %s (calling %s:%s)", n->name, mod, fun);
        return BF_EXIT_REMOTE;
    }
    long long deadline = bf_now_ms() + n->timeout_ms;
    for (;;) {
        long long left = deadline - bf_now_ms();
        if (left <= 0) {
            snprintf(err, errlen, "%s did not answer %s:%s within %u ms (raise --timeout if "
                                  "the node is very busy)", n->name, mod, fun, n->timeout_ms);
            return BF_EXIT_TIMEOUT;
        }
        erlang_msg msg;
        int r = bf_node_receive(n, &msg, reply,
                                (unsigned)(left < BF_RECEIVE_SLICE_MS ? left
                                                                     : BF_RECEIVE_SLICE_MS));
        if (r < 0) {
            snprintf(err, errlen, "lost the connection to %s (calling %s:%s)", n->name, mod,
                     fun);
            return BF_EXIT_REMOTE;
        }
        if (r == 0 || (msg.msgtype != ERL_SEND && msg.msgtype != ERL_REG_SEND))
            continue;
        if (!bf_is_rex(reply, idx))
            continue; /* not a call's reply: nothing else is ours */
        int i = *idx, arity, type, size;
        char atom[MAXATOMLEN];
        if (ei_get_type(reply->buff, &i, &type, &size) == 0 && type == ERL_SMALL_TUPLE_EXT &&
            ei_decode_tuple_header(reply->buff, &i, &arity) == 0 && arity == 2 &&
            ei_decode_atom(reply->buff, &i, atom) == 0 && !strcmp(atom, "badrpc")) {
            char text[512];
            bf_node_term_text(reply, i, text, sizeof(text));
            snprintf(err, errlen, "calling %s:%s on %s failed: %s", mod, fun, n->name, text);
            return BF_EXIT_REMOTE;
        }
        return BF_EXIT_OK;
    }
}

int bf_epmd_names(const char *host, char *out, size_t outlen, char *err, size_t errlen)
{
    char hs[256], hl[256];
    bf_short_host(hs, sizeof(hs));
    bf_long_host(hl, sizeof(hl));
    if (!host || !*host)
        host = hs;
    struct in_addr addr;
    if (bf_resolve_ipv4(host, hs, hl, &addr) != 0) {
        snprintf(err, errlen, "cannot resolve the host %s (IPv4)", host);
        return BF_EXIT_UNREACHABLE;
    }
    int port, s = bf_epmd_connect(addr, &port);
    if (s < 0) {
        snprintf(err, errlen, "epmd is not running on %s (nothing listens on port %d): no "
                              "node runs there, or check the host", host, port);
        return BF_EXIT_NO_EPMD;
    }
    struct timeval tv = {5, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    /* NAMES_REQ: a 2-byte length, then 'n'; the answer: epmd's port (4 bytes), then text
     * lines "name NAME at port PORT", until epmd closes the connection */
    const unsigned char req[3] = {0, 1, 'n'};
    size_t len = 0;
    int ok = write(s, req, sizeof(req)) == (ssize_t)sizeof(req);
    unsigned char hdr[4];
    size_t got = 0;
    while (ok && got < sizeof(hdr)) {
        ssize_t r = read(s, hdr + got, sizeof(hdr) - got);
        if (r <= 0)
            ok = 0;
        else
            got += (size_t)r;
    }
    while (ok && len + 1 < outlen) {
        ssize_t r = read(s, out + len, outlen - 1 - len);
        if (r < 0)
            ok = 0;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(s);
    if (!ok) {
        snprintf(err, errlen, "epmd on %s did not answer the list of names", host);
        return BF_EXIT_UNREACHABLE;
    }
    out[len] = '\0';
    return BF_EXIT_OK;
}
