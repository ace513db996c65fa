/* bf_node: one connection from the command line (an ei C node, always hidden) to one
 * Erlang node, and remote calls over it.
 *
 * ei pitfalls handled here (FIELD-NOTES): SIGPIPE is ignored (a dropped connection is an
 * error return, not exit 141); every wait is a receive loop that answers the node's ticks
 * (ERL_TICK), so a long wait never gets us disconnected; `{rex, Reply}` carries no
 * request id, so exactly one call is in flight at a time and a call that times out ends
 * the program (its late reply can never be taken for another call's).
 */
#ifndef BF_NODE_H
#define BF_NODE_H

#include <ei.h>
#include <stddef.h>

#include "bf_cli_args.h"

typedef struct bf_node {
    ei_cnode ec;
    int fd;                    /* connected socket, -1 when not connected */
    char name[MAXNODELEN + 1]; /* the target's full node name */
    unsigned timeout_ms;       /* connecting, and each remote call */
} bf_node;

/* Connects to r->node as a hidden node. Returns BF_EXIT_OK, or an exit code with a
 * message in err naming the fix (unreachable, epmd not running, cookie rejected). */
int bf_node_connect(bf_node *n, const bf_record_opts *r, char *err, size_t errlen);
void bf_node_close(bf_node *n);

/* epmd's list of the nodes registered on host (NULL or "": this host), as its text lines
 * "name NAME at port PORT" into out. Returns an exit code, with the reason in err. */
int bf_epmd_names(const char *host, char *out, size_t outlen, char *err, size_t errlen);

/* Calls mod:fun(args...) on the node; args holds an encoded list (no version byte).
 * On BF_EXIT_OK, reply holds the message and *idx points at the reply term. Errors:
 * BF_EXIT_TIMEOUT, BF_EXIT_REMOTE (connection lost, {badrpc, _}); a message in err. */
int bf_node_call(bf_node *n, const char *mod, const char *fun, ei_x_buff *args,
                 ei_x_buff *reply, int *idx, char *err, size_t errlen);

/* Waits ms milliseconds while answering ticks (and dropping stray messages). Returns
 * BF_EXIT_OK, or BF_EXIT_REMOTE if the connection dropped. */
int bf_node_idle(bf_node *n, unsigned ms, char *err, size_t errlen);

/* The term at reply[*idx] as text (for messages), at most len bytes. */
void bf_node_term_text(const ei_x_buff *reply, int idx, char *out, size_t len);

#endif
