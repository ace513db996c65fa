/* bf_folded: Brendan Gregg's folded-stacks format, read and written.
 *
 * A line is `frame;frame;...;frame COUNT`: frames root first, separated by ';', then
 * whitespace, then a non-negative whole number. The reader is streaming (feed any chunk
 * sizes; memory is one partial line plus the stack table) and never fails on bad input:
 *   - blank lines, CRLF endings and trailing spaces or tabs are accepted;
 *   - whitespace between the stack and the count may be any run of spaces or tabs;
 *   - malformed lines (no count, a count that is not a whole number or is too large, an
 *     empty stack, a line longer than BF_FOLDED_MAX_LINE) are skipped, counted, and the
 *     first BF_FOLDED_MAX_REPORTED are kept with their line numbers and reasons;
 *   - empty frames keep flamegraph.pl's meaning: leading and inner empty frames are kept
 *     (`a;;b`), trailing ones dropped (`a;b;`).
 *
 * Escapes (written by bf_folded_write, understood by the reader), so that any frame name
 * survives a round trip and other tools still split lines and frames correctly:
 *   `\\` backslash   `\;` semicolon   `\n` newline   `\r` carriage return   `\t` tab
 *   `\xHH` any other control byte (0x00-0x1f, 0x7f), and a space that ends the last frame.
 * A backslash followed by anything else is taken literally, so paths like `C:\dir` from
 * other tools read as written.
 */
#ifndef BF_FOLDED_H
#define BF_FOLDED_H

#include "bf_buf.h"
#include "bf_stack_table.h"

/* Longest line accepted: 16 MiB holds a 4096-frame stack of 4 KiB names. */
#define BF_FOLDED_MAX_LINE (16u * 1024u * 1024u)
/* How many malformed lines are kept with their numbers (all are counted). */
#define BF_FOLDED_MAX_REPORTED 20

typedef enum bf_folded_err {
    BF_FE_NO_COUNT = 1,       /* no whitespace-separated count at the end */
    BF_FE_COUNT_NOT_WHOLE,    /* e.g. 3.5 */
    BF_FE_COUNT_NOT_NUMBER,   /* e.g. abc, -3 */
    BF_FE_COUNT_TOO_LARGE,    /* above 2^64-1 */
    BF_FE_EMPTY_STACK,        /* only a count */
    BF_FE_LINE_TOO_LONG,      /* longer than BF_FOLDED_MAX_LINE */
} bf_folded_err;

typedef struct bf_folded_error {
    uint64_t line; /* 1-based */
    bf_folded_err code;
} bf_folded_error;

typedef struct bf_folded_reader {
    bf_stack_table *st;     /* not owned */
    uint64_t line_no;       /* lines seen so far */
    uint64_t stacks_read;   /* well-formed lines */
    uint64_t malformed;     /* skipped lines */
    uint64_t bytes;         /* input bytes fed */
    bf_folded_error reported[BF_FOLDED_MAX_REPORTED];
    size_t nreported;
    char *pending;          /* a partial line carried between feeds */
    size_t pending_len, pending_cap;
    int skipping;           /* inside a too-long line: drop until its newline */
    uint32_t *ids;          /* scratch: frame ids of the current line */
    uint32_t *held;         /* the last line's stack, added when the next is split */
    size_t held_depth;      /* its frames; 0: none held */
    uint64_t held_count;
    const char **names;     /* scratch: its frames' names (in the line or in unesc) */
    size_t *lens;           /* ...and their lengths */
    size_t ids_cap;         /* entries of ids, held, names and lens */
    char *unesc;            /* scratch: the current line's unescaped frames */
    size_t unesc_cap;
    int failed;             /* allocation failure: stop and report */
} bf_folded_reader;

void bf_folded_reader_init(bf_folded_reader *r, bf_stack_table *st);
/* Returns 0, or -1 after an allocation failure (the table keeps what was read). */
int bf_folded_feed(bf_folded_reader *r, const char *data, size_t len);
/* Processes a final line without a newline. Returns 0 or -1 as above. */
int bf_folded_finish(bf_folded_reader *r);
void bf_folded_reader_free(bf_folded_reader *r);
const char *bf_folded_err_text(bf_folded_err code);

/* Writes the table as folded lines in flamegraph.pl's sort order. 0, or -1 on failure. */
int bf_folded_write(const bf_stack_table *st, bf_buf *out);
/* Appends one frame name with the escapes above (last: it ends the stack). */
void bf_folded_escape(bf_buf *out, const char *name, size_t len, int last);

#endif
