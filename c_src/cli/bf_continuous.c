/* bf_continuous: `beamflame continuous start|stop|info NODE` and `beamflame history NODE`:
 * always-on profiling on a node, owned by the node's beamflame application (it outlives
 * this program), and a window of it written like a recording. record's connection options,
 * exit codes and messages. */
#include "bf_continuous.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ei.h>

#include "../core/bf_stack_table.h"
#include "bf_node.h"
#include "bf_output.h"
#include "bf_record.h"

#define BF_ERR 1024

/* The options given, as continuous/1's map (the API's defaults for the others). */
static void bf_encode_continuous(ei_x_buff *a, const bf_cli *cli)
{
    const bf_record_opts *o = &cli->rec;
    int given = cli->rate_given + !!cli->slice_s + !!cli->keep_s + !!cli->cont_max_bytes +
                !!cli->push_url;
    for (size_t k = 0; k < bf_mode_opt_count; k++)
        given += o->mopt[k] != NULL;
    ei_x_encode_map_header(a, given);
    if (cli->rate_given) {
        ei_x_encode_atom(a, "rate");
        ei_x_encode_ulong(a, o->rate);
    }
    if (cli->slice_s) {
        ei_x_encode_atom(a, "slice");
        ei_x_encode_ulong(a, cli->slice_s);
    }
    if (cli->keep_s) {
        ei_x_encode_atom(a, "keep");
        ei_x_encode_ulong(a, cli->keep_s);
    }
    if (cli->cont_max_bytes) {
        ei_x_encode_atom(a, "max_bytes");
        ei_x_encode_ulonglong(a, cli->cont_max_bytes);
    }
    if (cli->push_url) {
        ei_x_encode_atom(a, "push");
        ei_x_encode_map_header(a, 3);
        ei_x_encode_atom(a, "url");
        ei_x_encode_binary(a, cli->push_url, (long)strlen(cli->push_url));
        ei_x_encode_atom(a, "app");
        ei_x_encode_binary(a, cli->push_app, (long)strlen(cli->push_app));
        ei_x_encode_atom(a, "labels");
        ei_x_encode_map_header(a, cli->npush_labels);
        for (unsigned i = 0; i < cli->npush_labels; i++) {
            const char *kv = cli->push_labels[i], *eq = strchr(kv, '=');
            ei_x_encode_binary(a, kv, (long)(eq - kv));
            ei_x_encode_binary(a, eq + 1, (long)strlen(eq + 1));
        }
    }
    bf_encode_given_mode_opts(a, o);
}

/* info's answer: a list of {Key, Integer | Binary}, printed as `key: value` lines. */
static int bf_print_info(const ei_x_buff *r, int idx)
{
    int i = idx, n, type, size;
    if (ei_decode_list_header(r->buff, &i, &n))
        return -1;
    for (int k = 0; k < n; k++) {
        int arity;
        char key[MAXATOMLEN];
        if (ei_decode_tuple_header(r->buff, &i, &arity) || arity != 2 ||
            ei_decode_atom(r->buff, &i, key) || ei_get_type(r->buff, &i, &type, &size))
            return -1;
        if (type == ERL_BINARY_EXT && size < 4096) {
            char v[4096];
            long len;
            if (ei_decode_binary(r->buff, &i, v, &len))
                return -1;
            printf("%s: %.*s\n", key, (int)len, v);
        } else {
            long long v;
            if (ei_decode_longlong(r->buff, &i, &v))
                return -1;
            printf("%s: %lld\n", key, v);
        }
    }
    return 0;
}

int bf_continuous_run(const bf_cli *cli)
{
    static const char *const verbs[] = {"start", "stop", "info"};
    char err[BF_ERR] = "";
    bf_node n;
    memset(&n, 0, sizeof(n));
    n.fd = -1;
    double connected_ms;
    const char *how;
    ei_x_buff a, r;
    ei_x_new(&a);
    ei_x_new(&r);
    int idx, rc = bf_attach_node(&n, &cli->rec, &connected_ms, &how, err, sizeof(err));
    if (rc != BF_EXIT_OK)
        goto done;
    bf_args(&a, 2);
    ei_x_encode_atom(&a, verbs[cli->cont]);
    if (cli->cont == BF_CONT_START)
        bf_encode_continuous(&a, cli);
    else
        ei_x_encode_map_header(&a, 0);
    bf_args_end(&a);
    rc = bf_node_call(&n, "beamflame_remote", "continuous_cli", &a, &r, &idx, err, sizeof(err));
    if (rc != BF_EXIT_OK || (rc = bf_remote_error(&n, &r, idx, err, sizeof(err))) != BF_EXIT_OK)
        goto done;
    if (cli->cont == BF_CONT_INFO) {
        if (bf_print_info(&r, idx) != 0) {
            snprintf(err, sizeof(err), "unexpected answer from %s", n.name);
            rc = BF_EXIT_REMOTE;
        }
    } else {
        fprintf(stderr, "beamflame: continuous profiling %s on %s%s\n",
                cli->cont == BF_CONT_START ? "started" : "stopped", n.name,
                cli->cont == BF_CONT_START ? " (it runs until `beamflame continuous stop`)"
                                           : "");
    }
done:
    if (rc != BF_EXIT_OK && err[0])
        fprintf(stderr, "beamflame: %s\n", err);
    bf_node_close(&n);
    ei_x_free(&a);
    ei_x_free(&r);
    return rc;
}

int bf_history_run(const bf_cli *cli_in)
{
    bf_cli cli = *cli_in;
    char err[BF_ERR] = "", out[PATH_MAX], defname[PATH_MAX], hint[1024] = "";
    bf_default_output(cli.rec.node, cli.format_given ? cli.format : BF_FORMAT_SVG, defname,
                      sizeof(defname));
    if (!cli.output)
        cli.output = defname;
    bf_stack_table *st = NULL;
    bf_node n;
    memset(&n, 0, sizeof(n));
    n.fd = -1;
    ei_x_buff a, r;
    ei_x_new(&a);
    ei_x_new(&r);
    double connected_ms;
    const char *how;
    long samples = 0;
    /* the output first: a window must not be fetched to be lost */
    int idx, rc = bf_output_prepare(&cli, defname, out, sizeof(out), err, sizeof(err));
    if (rc != BF_EXIT_OK ||
        (rc = bf_attach_node(&n, &cli.rec, &connected_ms, &how, err, sizeof(err))) != BF_EXIT_OK)
        goto done;
    bf_args(&a, 1);
    if (cli.last_s) {
        ei_x_encode_map_header(&a, 1);
        ei_x_encode_atom(&a, "last");
        ei_x_encode_ulonglong(&a, cli.last_s);
    } else {
        ei_x_encode_map_header(&a, 2);
        ei_x_encode_atom(&a, "from");
        ei_x_encode_longlong(&a, cli.from_s);
        ei_x_encode_atom(&a, "to");
        ei_x_encode_longlong(&a, cli.to_s);
    }
    bf_args_end(&a);
    rc = bf_node_call(&n, "beamflame_remote", "history_cli", &a, &r, &idx, err, sizeof(err));
    if (rc != BF_EXIT_OK || (rc = bf_remote_error(&n, &r, idx, err, sizeof(err))) != BF_EXIT_OK)
        goto done;
    st = bf_result_table();
    if (!st) {
        rc = BF_EXIT_NOMEM;
        snprintf(err, sizeof(err), "out of memory");
        goto done;
    }
    rc = bf_result_read(&n, &r, idx, st, NULL, &samples, hint, sizeof(hint), err, sizeof(err));
    if (rc != BF_EXIT_OK)
        goto done;
    bf_node_close(&n);
    if (bf_st_stack_count(st) == 0) {
        snprintf(err, sizeof(err), "%s: no samples in that window (continuous profiling keeps "
                                   "what `continuous info` says: oldest to newest)", n.name);
        rc = BF_EXIT_NO_STACKS;
        goto done;
    }
    char title[MAXNODELEN + 64];
    if (!strcmp(cli.svg.title, "Flame Graph")) {
        snprintf(title, sizeof(title), "beamflame: %s, history", n.name);
        cli.svg.title = title;
    }
    fprintf(stderr, "beamflame: %ld samples, %u distinct stacks\n", samples,
            bf_st_stack_count(st));
    if (hint[0])
        fprintf(stderr, "beamflame: note: %s\n", hint);
    rc = bf_output_write(&cli, &cli.svg, NULL, st, n.name);
done:
    if (rc != BF_EXIT_OK && err[0])
        fprintf(stderr, "beamflame: %s\n", err);
    bf_node_close(&n);
    bf_st_free(st);
    ei_x_free(&a);
    ei_x_free(&r);
    return rc;
}
