/* bf_inspect: the command line's looks at a node that record nothing: `dump` (the stacks
 * of the node's processes, now) and `list` (the nodes epmd knows on a host, and what each
 * runs). They share record's connection options, exit codes and messages. */
#include "bf_inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ei.h>

#include "../core/bf_buf.h"
#include "../core/bf_speedscope.h"
#include "bf_names.h"
#include "bf_node.h"
#include "bf_record.h"

#define BF_ERR 1024

/* A binary of the reply as a C string (cut to len); "" for anything else. */
static void bf_text(const ei_x_buff *r, int *i, char *out, size_t len)
{
    int type, size;
    out[0] = '\0';
    if (ei_get_type(r->buff, i, &type, &size) == 0 && type == ERL_BINARY_EXT &&
        (size_t)size < len) {
        long n;
        if (ei_decode_binary(r->buff, i, out, &n) == 0) {
            out[n] = '\0';
            return;
        }
    }
    ei_skip_term(r->buff, i);
}

static void bf_json_str(bf_buf *b, const char *s)
{
    bf_json_string(b, s, strlen(s));
}

static void bf_human_bytes(long long n, char *out, size_t len)
{
    if (n < 10 * 1024)
        snprintf(out, len, "%lld B", n);
    else if (n < 10 * 1024 * 1024)
        snprintf(out, len, "%.1f KiB", n / 1024.0);
    else
        snprintf(out, len, "%.1f MiB", n / 1048576.0);
}

/* One row: {Pid, Name, InitialCall, Status, QueueLen, Memory, Reductions, Current, Stack}. */
static int bf_dump_row(const ei_x_buff *r, int *i, int json, int first, bf_buf *b)
{
    int arity;
    char pid[64], name[512], init[1024], cur[1024], status[MAXATOMLEN], frame[2048];
    long long qlen, mem, reds;
    if (ei_decode_tuple_header(r->buff, i, &arity) || arity != 9)
        return -1;
    bf_text(r, i, pid, sizeof(pid));
    bf_text(r, i, name, sizeof(name));
    bf_text(r, i, init, sizeof(init));
    if (ei_decode_atom(r->buff, i, status) || ei_decode_longlong(r->buff, i, &qlen) ||
        ei_decode_longlong(r->buff, i, &mem) || ei_decode_longlong(r->buff, i, &reds))
        return -1;
    bf_text(r, i, cur, sizeof(cur));
    int type, size, frames = -1;
    if (ei_get_type(r->buff, i, &type, &size))
        return -1;
    if (type == ERL_ATOM_EXT || type == ERL_SMALL_ATOM_UTF8_EXT || type == ERL_ATOM_UTF8_EXT)
        ei_skip_term(r->buff, i); /* no_answer */
    else if (type == ERL_NIL_EXT) {
        ei_skip_term(r->buff, i);
        frames = 0;
    } else if (ei_decode_list_header(r->buff, i, &frames))
        return -1;
    char line[4096], membuf[32];
    if (json) {
        bf_buf_puts(b, first ? "\n    {\"pid\": " : ",\n    {\"pid\": ");
        bf_json_str(b, pid);
        bf_buf_puts(b, ", \"name\": ");
        bf_json_str(b, name);
        bf_buf_puts(b, ", \"initial_call\": ");
        bf_json_str(b, init);
        bf_buf_puts(b, ", \"status\": ");
        bf_json_str(b, status);
        snprintf(line, sizeof(line), ", \"message_queue_len\": %lld, \"memory\": %lld, "
                                     "\"reductions\": %lld, \"current_function\": ",
                 qlen, mem, reds);
        bf_buf_puts(b, line);
        bf_json_str(b, cur);
        bf_buf_puts(b, frames < 0 ? ", \"stack\": null, \"answered\": false}"
                                  : ", \"answered\": true, \"stack\": [");
    } else {
        bf_human_bytes(mem, membuf, sizeof(membuf));
        char q[32];
        if (qlen < 0)
            snprintf(q, sizeof(q), "?");
        else
            snprintf(q, sizeof(q), "%lld", qlen);
        bf_buf_printf(b, "%s %s%s%s%s%s  %s  queue %s  memory %s  reductions %lld\n", pid,
                      name, name[0] && init[0] ? " " : "", init[0] ? "(" : "", init,
                      init[0] ? ")" : "", status, q, membuf, reds);
        if (frames < 0)
            bf_buf_puts(b, "    (no answer within 2 s: busy in a long NIF or BIF?)\n");
    }
    for (int k = 0; k < frames; k++) {
        bf_text(r, i, frame, sizeof(frame));
        if (json) {
            if (k)
                bf_buf_puts(b, ", ");
            bf_json_str(b, frame);
        } else {
            bf_buf_puts(b, "    ");
            bf_buf_puts(b, frame);
            bf_buf_puts(b, "\n");
        }
    }
    if (frames > 0 && ei_skip_term(r->buff, i)) /* the list's tail */
        return -1;
    if (json && frames >= 0)
        bf_buf_puts(b, "]}");
    else if (!json)
        bf_buf_puts(b, "\n");
    return 0;
}

int bf_dump_run(const bf_cli *cli)
{
    char err[BF_ERR] = "";
    bf_node n;
    memset(&n, 0, sizeof(n));
    n.fd = -1;
    double connected_ms;
    const char *how;
    ei_x_buff a, r;
    ei_x_new(&a);
    ei_x_new(&r);
    int rc = bf_attach_node(&n, &cli->rec, &connected_ms, &how, err, sizeof(err));
    if (rc != BF_EXIT_OK)
        goto done;
    bf_args(&a, 1);
    ei_x_encode_map_header(&a, cli->nselect ? 3 : 2);
    ei_x_encode_atom(&a, "top");
    ei_x_encode_ulong(&a, cli->top);
    ei_x_encode_atom(&a, "sort");
    ei_x_encode_atom(&a, !strcmp(cli->sort, "queue") ? "message_queue_len" : cli->sort);
    if (cli->nselect) {
        ei_x_encode_atom(&a, "processes");
        ei_x_encode_list_header(&a, cli->nselect);
        for (unsigned k = 0; k < cli->nselect; k++) {
            const char *v = cli->select[k];
            if (v[0] == '<' || (v[0] >= '0' && v[0] <= '9'))
                ei_x_encode_binary(&a, v, (long)strlen(v));
            else
                ei_x_encode_atom_as(&a, v, ERLANG_UTF8, ERLANG_UTF8);
        }
        ei_x_encode_empty_list(&a);
    }
    bf_args_end(&a);
    int idx;
    rc = bf_node_call(&n, "beamflame_remote", "dump", &a, &r, &idx, err, sizeof(err));
    if (rc != BF_EXIT_OK)
        goto done;
    if ((rc = bf_remote_error(&n, &r, idx, err, sizeof(err))) != BF_EXIT_OK)
        goto done;
    int i = idx, arity, rows;
    char atom[MAXATOMLEN];
    long long total;
    if (ei_decode_tuple_header(r.buff, &i, &arity) || arity != 3 ||
        ei_decode_atom(r.buff, &i, atom) || strcmp(atom, "ok") ||
        ei_decode_longlong(r.buff, &i, &total) || ei_get_type(r.buff, &i, &arity, &rows)) {
        char text[512];
        bf_node_term_text(&r, idx, text, sizeof(text));
        snprintf(err, sizeof(err), "unexpected answer from %s: %s", n.name, text);
        rc = BF_EXIT_REMOTE;
        goto done;
    }
    rows = 0;
    if (arity != ERL_NIL_EXT && ei_decode_list_header(r.buff, &i, &rows)) {
        rc = BF_EXIT_REMOTE;
        snprintf(err, sizeof(err), "unexpected answer from %s", n.name);
        goto done;
    }
    bf_buf out;
    bf_buf_init(&out, stdout);
    char head[1024];
    const char *by = !strcmp(cli->sort, "queue") ? "the longest message queues"
                     : !strcmp(cli->sort, "reductions") ? "the most reductions"
                                                        : "the most memory";
    if (cli->json) {
        bf_buf_puts(&out, "{\"node\": ");
        bf_json_str(&out, n.name);
        snprintf(head, sizeof(head), ", \"processes\": %lld, \"shown\": %d, \"sorted_by\": ",
                 total, rows);
        bf_buf_puts(&out, head);
        bf_json_str(&out, cli->sort);
        bf_buf_puts(&out, ", \"stacks\": [");
    } else {
        snprintf(head, sizeof(head), "beamflame dump: %s, %lld processes%s; %d shown, %s "
                                     "first\n\n", n.name, total,
                 cli->nselect ? " selected" : "", rows, by);
        bf_buf_puts(&out, head);
    }
    for (int k = 0; k < rows; k++)
        if (bf_dump_row(&r, &i, cli->json, k == 0, &out) != 0) {
            rc = BF_EXIT_REMOTE;
            snprintf(err, sizeof(err), "unexpected answer from %s", n.name);
            break;
        }
    if (cli->json)
        bf_buf_puts(&out, rows ? "\n  ]}\n" : "]}\n");
    else if (total > rows)
        bf_buf_printf(&out, "... and %lld more (--top N shows more, --pid or --name one)\n",
                      total - rows);
    bf_buf_flush(&out);
    bf_buf_free(&out);
done:
    if (rc != BF_EXIT_OK && err[0])
        fprintf(stderr, "beamflame: %s\n", err);
    ei_x_free(&a);
    ei_x_free(&r);
    bf_node_close(&n);
    return rc;
}

/* One node's facts for `list`: its OTP release, its beamflame, its uptime. */
static void bf_list_node(const bf_record_opts *base, const char *node, int port, int cookie)
{
    char err[BF_ERR] = "", otp[64] = "-", bf[128] = "-", up[64] = "-";
    if (cookie) {
        bf_record_opts o = *base;
        o.node = node;
        bf_node n;
        memset(&n, 0, sizeof(n));
        n.fd = -1;
        int rc = bf_node_connect(&n, &o, err, sizeof(err));
        if (rc == BF_EXIT_COOKIE)
            snprintf(err, sizeof(err), "(the cookie was rejected)");
        if (rc == BF_EXIT_OK && bf_node_fact(&n, "otp_release", otp, sizeof(otp), err,
                                             sizeof(err)) == BF_EXIT_OK) {
            ei_x_buff a, r;
            ei_x_new(&a);
            ei_x_new(&r);
            int idx, arity;
            bf_args(&a, 2);
            ei_x_encode_atom(&a, "beamflame");
            ei_x_encode_atom(&a, "vsn");
            bf_args_end(&a);
            char atom[MAXATOMLEN], vsn[64];
            if (bf_node_call(&n, "application", "get_key", &a, &r, &idx, err, sizeof(err)) ==
                BF_EXIT_OK) {
                int i = idx;
                if (ei_decode_tuple_header(r.buff, &i, &arity) == 0 && arity == 2 &&
                    ei_decode_atom(r.buff, &i, atom) == 0 && ei_decode_string(r.buff, &i, vsn) == 0)
                    snprintf(bf, sizeof(bf), "%s", vsn);
                else
                    snprintf(bf, sizeof(bf), "not loaded");
            }
            bf_args(&a, 1);
            ei_x_encode_atom(&a, "wall_clock");
            bf_args_end(&a);
            if (bf_node_call(&n, "erlang", "statistics", &a, &r, &idx, err, sizeof(err)) ==
                BF_EXIT_OK) {
                int i = idx;
                long long ms;
                if (ei_decode_tuple_header(r.buff, &i, &arity) == 0 &&
                    ei_decode_longlong(r.buff, &i, &ms) == 0) {
                    long long s = ms / 1000;
                    if (s < 3600)
                        snprintf(up, sizeof(up), "%lldm %llds", s / 60, s % 60);
                    else if (s < 86400)
                        snprintf(up, sizeof(up), "%lldh %lldm", s / 3600, s / 60 % 60);
                    else
                        snprintf(up, sizeof(up), "%lldd %lldh", s / 86400, s / 3600 % 24);
                }
            }
            ei_x_free(&a);
            ei_x_free(&r);
            err[0] = '\0';
        }
        bf_node_close(&n);
    }
    printf("%-32s %6d  %-4s %-12s %-10s%s%s\n", node, port, otp, bf, up, err[0] ? "  " : "",
           err);
}

int bf_list_run(const bf_cli *cli)
{
    char names[16384], err[BF_ERR];
    int rc = bf_epmd_names(cli->host, names, sizeof(names), err, sizeof(err));
    if (rc != BF_EXIT_OK) {
        fprintf(stderr, "beamflame: %s\n", err);
        return rc;
    }
    /* the host part of the node names: as given, or this host's short name */
    char host[256];
    if (cli->host)
        snprintf(host, sizeof(host), "%s", cli->host);
    else if (gethostname(host, sizeof(host)) == 0)
        host[strcspn(host, ".")] = '\0';
    else
        snprintf(host, sizeof(host), "localhost");
    /* is there a cookie? (a node is asked only with one) */
    bf_record_opts o = cli->rec;
    char probe[300];
    snprintf(probe, sizeof(probe), "beamflame_list_probe@%s", host);
    o.node = probe;
    char c[BF_COOKIE_MAX + 2], where[300], cerr[300];
    bf_cookie_source src;
    int cookie = bf_cookie_find(&o, getenv("BEAMFLAME_COOKIE"), getenv("HOME"), c, sizeof(c),
                                &src, where, sizeof(where), cerr, sizeof(cerr)) == 0;
    memset(c, 0, sizeof(c));
    printf("%-32s %6s  %-4s %-12s %-10s\n", "NODE", "PORT", "OTP", "BEAMFLAME", "UPTIME");
    int count = 0;
    for (char *line = strtok(names, "\n"); line; line = strtok(NULL, "\n")) {
        char name[256];
        int port;
        if (sscanf(line, "name %255s at port %d", name, &port) != 2)
            continue;
        char node[600];
        snprintf(node, sizeof(node), "%s@%s", name, host);
        bf_list_node(&cli->rec, node, port, cookie);
        count++;
    }
    if (!count)
        printf("(no node is registered with epmd on %s)\n", host);
    else if (!cookie)
        fprintf(stderr, "beamflame: no cookie found (--cookie-file, BEAMFLAME_COOKIE or "
                        "~/.erlang.cookie): names and ports only\n");
    return BF_EXIT_OK;
}
