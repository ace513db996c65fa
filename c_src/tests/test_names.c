/* Cookie sources and node names for `beamflame record`, and its argument parsing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../cli/bf_cli_args.h"
#include "../cli/bf_names.h"

static bf_record_opts none(void)
{
    bf_record_opts r;
    memset(&r, 0, sizeof(r));
    return r;
}

static const char *write_tmp(const char *content)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/bf_cookie_test_%ld", (long)getpid());
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

Test(names, cookie_precedence)
{
    char c[300], where[300], err[300];
    bf_cookie_source src;
    bf_record_opts r = none();
    const char *file = write_tmp("fromfile\n");
    r.cookie_file = file;
    r.cookie = "fromflag";
    cr_assert_eq(bf_cookie_find(&r, "fromenv", "/nonexistent", c, sizeof(c), &src, where,
                                sizeof(where), err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(c, "fromfile"); /* trailing newline dropped */
    cr_assert_eq(src, BF_COOKIE_FROM_FILE);
    r.cookie_file = NULL;
    cr_assert_eq(bf_cookie_find(&r, "fromenv", NULL, c, sizeof(c), &src, where, sizeof(where),
                                err, sizeof(err)), 0);
    cr_assert_str_eq(c, "fromflag");
    cr_assert_eq(src, BF_COOKIE_FROM_FLAG);
    r.cookie = NULL;
    cr_assert_eq(bf_cookie_find(&r, "fromenv", NULL, c, sizeof(c), &src, where, sizeof(where),
                                err, sizeof(err)), 0);
    cr_assert_str_eq(c, "fromenv");
    cr_assert_eq(src, BF_COOKIE_FROM_ENV);
    unlink(file);
}

Test(names, cookie_errors_name_the_fix)
{
    char c[300], where[300], err[300];
    bf_cookie_source src;
    bf_record_opts r = none();
    cr_assert_eq(bf_cookie_find(&r, NULL, "/nonexistent", c, sizeof(c), &src, where,
                                sizeof(where), err, sizeof(err)), -1);
    cr_assert_eq(src, BF_COOKIE_FROM_HOME);
    cr_assert_not_null(strstr(err, "/nonexistent/.erlang.cookie"), "%s", err);
    cr_assert_not_null(strstr(err, "--cookie-file"), "%s", err);
    cr_assert_eq(bf_cookie_find(&r, "", NULL, c, sizeof(c), &src, where, sizeof(where), err,
                                sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "BEAMFLAME_COOKIE"), "%s", err);
    r.cookie_file = write_tmp("two\nlines\n");
    cr_assert_eq(bf_cookie_find(&r, NULL, NULL, c, sizeof(c), &src, where, sizeof(where), err,
                                sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "not a single line"), "%s", err);
    r.cookie_file = write_tmp("\n");
    cr_assert_eq(bf_cookie_find(&r, NULL, NULL, c, sizeof(c), &src, where, sizeof(where), err,
                                sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "empty"), "%s", err);
    unlink(r.cookie_file);
}

Test(names, target_names)
{
    char out[300];
    cr_assert_eq(bf_target_name("shop", "vm", out, sizeof(out)), 0);
    cr_assert_str_eq(out, "shop@vm");
    cr_assert_eq(bf_target_name("shop@db.example.com", "vm", out, sizeof(out)), 0);
    cr_assert_str_eq(out, "shop@db.example.com");
    cr_assert(bf_is_long_name("shop@db.example.com"));
    cr_assert(!bf_is_long_name("shop@db"));
    cr_assert_eq(bf_target_name("", "vm", out, sizeof(out)), -1);
    cr_assert_eq(bf_target_name("a@", "vm", out, sizeof(out)), -1);
    cr_assert_eq(bf_target_name("a@b@c", "vm", out, sizeof(out)), -1);
    cr_assert_eq(bf_target_name("bad name", "vm", out, sizeof(out)), -1);
    cr_assert_eq(bf_target_name("shop", "", out, sizeof(out)), -1);
}

Test(names, own_name_follows_the_target)
{
    char alive[300], host[300], err[300];
    bf_record_opts r = none();
    cr_assert_eq(bf_own_name(&r, "shop@vm", 42, "vm", "vm.example.com", alive, sizeof(alive),
                             host, sizeof(host), err, sizeof(err)), 0);
    cr_assert_str_eq(alive, "beamflame_42");
    cr_assert_str_eq(host, "vm");
    cr_assert_eq(bf_own_name(&r, "shop@db.example.com", 42, "vm", "vm.example.com", alive,
                             sizeof(alive), host, sizeof(host), err, sizeof(err)), 0);
    cr_assert_str_eq(host, "vm.example.com");
    /* long target, no fully qualified name known: ask for --name */
    cr_assert_eq(bf_own_name(&r, "shop@db.example.com", 42, "vm", "", alive, sizeof(alive),
                             host, sizeof(host), err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "--name NAME@HOST.DOMAIN"));
    r.own_name = "me@10.0.0.1";
    r.names = BF_NAMES_LONG;
    cr_assert_eq(bf_own_name(&r, "shop@vm", 42, "vm", "", alive, sizeof(alive), host,
                             sizeof(host), err, sizeof(err)), 0);
    cr_assert_str_eq(alive, "me");
    cr_assert_str_eq(host, "10.0.0.1");
    r.own_name = "me@x.y";
    r.names = BF_NAMES_SHORT;
    cr_assert_eq(bf_own_name(&r, "shop@vm", 42, "vm", "", alive, sizeof(alive), host,
                             sizeof(host), err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "use --name"));
}

Test(names, record_arguments)
{
    char err[256];
    bf_cli cli;
    char *argv[] = {"beamflame", "record", "shop@vm", "--duration", "2.5", "--rate", "250",
                    "-o", "x.html", "--cookie-file", "/c", "--sname", "me", "--timeout", "3",
                    "--quiet", "--title", "T"};
    cr_assert_eq(bf_cli_parse(18, argv, &cli, err, sizeof(err)), BF_EXIT_OK, "%s", err);
    cr_assert_eq(cli.verb, BF_VERB_RECORD);
    cr_assert_str_eq(cli.rec.node, "shop@vm");
    cr_assert_eq(cli.rec.duration_ms, 2500);
    cr_assert_eq(cli.rec.rate, 250);
    cr_assert_eq(cli.rec.timeout_ms, 3000);
    cr_assert_eq(cli.rec.names, BF_NAMES_SHORT);
    cr_assert_str_eq(cli.rec.own_name, "me");
    cr_assert_str_eq(cli.rec.cookie_file, "/c");
    cr_assert(cli.rec.quiet);
    cr_assert_eq(cli.format, BF_FORMAT_HTML);
    cr_assert_str_eq(cli.svg.title, "T");
    char *defaults[] = {"beamflame", "record", "shop"};
    cr_assert_eq(bf_cli_parse(3, defaults, &cli, err, sizeof(err)), BF_EXIT_OK);
    cr_assert_eq(cli.rec.duration_ms, BF_RECORD_DEFAULT_DURATION_MS);
    cr_assert_eq(cli.rec.rate, 99);
    cr_assert_eq(cli.rec.mode, BF_MODE_SAMPLE);
    cr_assert_null(cli.output);
    struct { int argc; char *argv[8]; const char *needle; } bad[] = {
        {2, {"beamflame", "record"}, "record needs a node"},
        {3, {"beamflame", "dump", "--top"}, "--top needs"},
        {4, {"beamflame", "record", "a", "--duration"}, "--duration needs seconds"},
        {5, {"beamflame", "record", "a", "--duration", "0"}, "--duration needs seconds"},
        {5, {"beamflame", "record", "a", "--rate", "1.5"}, "whole number of Hz"},
        {5, {"beamflame", "record", "a", "--mode", "bogus"}, "--mode is"},
        {7, {"beamflame", "record", "a", "--sname", "x", "--name", "y"}, "one of --name"},
    };
    /* several nodes are recorded together */
    char *two[] = {"beamflame", "record", "a", "b", "--cluster"};
    cr_assert_eq(bf_cli_parse(5, two, &cli, err, sizeof(err)), BF_EXIT_OK);
    cr_assert_eq(cli.rec.nnodes, 2);
    cr_assert_str_eq(cli.rec.nodes[1], "b");
    cr_assert(cli.rec.cluster);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(bf_cli_parse(bad[i].argc, bad[i].argv, &cli, err, sizeof(err)),
                     BF_EXIT_USAGE, "case %zu", i);
        cr_assert_not_null(strstr(err, bad[i].needle), "case %zu: %s", i, err);
    }
}
