/* Helpers shared by the C tests and the golden dump tool. */
#ifndef BF_TEST_UTIL_H
#define BF_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "../core/bf_stack_table.h"

/* The whole file, NUL-terminated (malloc'd), its length in *len; NULL if unreadable. */
char *bf_test_read_file(const char *path, size_t *len);
/* A table (default caps) holding the folded text. */
bf_stack_table *bf_test_table(const char *folded);

/* The next value of a xorshift64 generator (*state non-zero): the tests' random inputs,
 * the same on every run. */
uint64_t bf_test_rand(uint64_t *state);
/* NULL when a and b hold the same frames, the same stacks (ids, weights, credits) and
 * the same counts; else what differs first (a static text). */
const char *bf_test_table_diff(const bf_stack_table *a, const bf_stack_table *b);

#endif
