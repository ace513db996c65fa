/* Helpers shared by the C tests and the golden dump tool. */
#ifndef BF_TEST_UTIL_H
#define BF_TEST_UTIL_H

#include <stddef.h>

#include "../core/bf_stack_table.h"

/* The whole file, NUL-terminated (malloc'd), its length in *len; NULL if unreadable. */
char *bf_test_read_file(const char *path, size_t *len);
/* A table (default caps) holding the folded text. */
bf_stack_table *bf_test_table(const char *folded);

#endif
