/* bf_utf8: UTF-8 validation shared by the text escapers (XML, JSON). */
#ifndef BF_UTF8_H
#define BF_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1-4) of the well-formed UTF-8 sequence at s[0..n), storing its code point in
 * *cp; 0 if the bytes there are not well-formed UTF-8 (overlong, surrogate, > U+10FFFF,
 * truncated). */
size_t bf_utf8_len(const unsigned char *s, size_t n, uint32_t *cp);

#endif
