/* gen_folded: writes a deterministic folded-stacks file of N distinct stacks (default
 * 200,000) shaped like a large real profile: 14-40 frames each, names drawn from a
 * vocabulary of 20,000 Erlang-style `module:function/arity' names, the first frames from a
 * small set so stacks share prefixes. About 1 KB a line: 200k lines is ~200 MB.
 * Usage: gen_folded [N] > file */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define VOCAB 20000
#define ROOTS 64

static uint64_t state = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    static char names[VOCAB][48];
    for (int i = 0; i < VOCAB; i++)
        snprintf(names[i], sizeof(names[i]), "app_module_%03d:handle_function_%05d/%d",
                 (int)(next() % 500), i, (int)(next() % 5));
    for (long i = 0; i < n; i++) {
        int depth = 14 + (int)(next() % 27);
        for (int d = 0; d < depth; d++) {
            uint64_t r = next();
            int idx = d < 4 ? (int)(r % ROOTS) : (int)(r % VOCAB);
            fputs(names[idx], stdout);
            putchar(d + 1 < depth ? ';' : ' ');
        }
        printf("%lu\n", (unsigned long)(1 + next() % 1000));
    }
    return 0;
}
