/* bf_nargs: the port program's arguments. Its own (--pid, --rate, --duration, --port) from
 * a table here; native mode's options (--dirty, --no-idle) from the command line's table
 * (bf_mode_opts in cli/bf_cli_args.c), so both programs take the same flags for them. */
#ifndef BF_NARGS_H
#define BF_NARGS_H

#include <stddef.h>

typedef struct bf_nargs {
    long pid;
    unsigned rate, duration_ms;
    int dirty, idle, port;
} bf_nargs;

/* argv (argv[0] the program) into a, defaults first (99 Hz, 5000 ms, idle shown). 0, or
 * -1 with the reason in err (an unknown flag, a missing or out-of-range value). */
int bf_nargs_parse(int argc, char **argv, bf_nargs *a, char *err, size_t errlen);

#endif
