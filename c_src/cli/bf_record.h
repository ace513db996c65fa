/* bf_record: `beamflame record NODE`: connect as a hidden node, load beamflame into the
 * node if it lacks it, record, fetch the folded stacks, render them here. */
#ifndef BF_RECORD_H
#define BF_RECORD_H

#include "bf_cli_args.h"
#include "bf_node.h"

/* Connects to o->node, checks that this build can run there, loads beamflame there if it
 * lacks it (compiling it there when the node refuses this build's code and has a
 * compiler). *connected_ms: how long connecting took; *how: what was done, for a message.
 * Returns an exit code, with the reason in err. Shared by every verb that needs beamflame
 * on the node. */
int bf_attach_node(bf_node *n, const bf_record_opts *o, double *connected_ms,
                   const char **how, char *err, size_t errlen);

/* The argument list of a remote call: a list header of n elements; its end. */
void bf_args(ei_x_buff *x, int n);
void bf_args_end(ei_x_buff *x);

/* A reply {error, Class, Text} (beamflame_remote's errors): its exit code, with Text in
 * err (a failure as "the recording on NODE failed: Text"); BF_EXIT_OK if the reply is not
 * an error. Class bad_argument is BF_EXIT_USAGE, not_permitted BF_EXIT_PTRACE. */
int bf_remote_error(bf_node *n, const ei_x_buff *r, int idx, char *err, size_t errlen);

/* Each mode option given (bf_mode_opts), as key => value pairs of a map being encoded. */
void bf_encode_given_mode_opts(ei_x_buff *a, const bf_record_opts *o);

/* The default output name: beamflame-NAME-YYYYMMDD-HHMMSS.EXT, EXT the format's. */
void bf_default_output(const char *node, bf_format fmt, char *out, size_t len);

/* The table a fetched result is read into (the byte cap of a live run's results). */
bf_stack_table *bf_result_table(void);

/* A result {ok, Folded, Samples, Stacks, Truncated, Hint} (beamflame_remote's fetch/1 and
 * history_cli/1) read into st, each line under root when root is not NULL. */
int bf_result_read(bf_node *n, const ei_x_buff *r, int idx, bf_stack_table *st,
                   const char *root, long *samples, char *hint, size_t hintlen, char *err,
                   size_t errlen);

/* The node's value of erlang:system_info(item) as text ("?" when not a string). */
int bf_node_fact(bf_node *n, const char *item, char *theirs, size_t len, char *err,
                 size_t errlen);

/* Starts a session (beamflame_remote:start/3) for o's mode and options; *session. */
int bf_session_start(bf_node *n, const bf_record_opts *o, erlang_pid *session, char *err,
                     size_t errlen);

/* beamflame_remote:FUN(Session): the reply at r->buff + *idx. */
int bf_session_call(bf_node *n, const char *fun, const erlang_pid *session, ei_x_buff *r,
                    int *idx, char *err, size_t errlen);

/* This build's beamflame version (beamflame.app.src's vsn). */
const char *bf_build_version(void);

/* Runs the record verb. Returns an exit code (bf_cli_args.h). */
int bf_record_run(const bf_cli *cli);

#endif
