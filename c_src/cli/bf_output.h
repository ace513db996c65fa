/* bf_output: writes a stack table (or a before/after pair) in the format the command line
 * asks for, to a file (written next to it and renamed, so a failure never leaves half a
 * file) or to standard output. Shared by svg, diff and record. */
#ifndef BF_OUTPUT_H
#define BF_OUTPUT_H

#include "../core/bf_stack_table.h"
#include "../core/bf_svg.h"
#include "bf_cli_args.h"

/* Renders st (a diff when before is not NULL) with svg options to cli->output (NULL:
 * stdout) in cli->format; says on stderr what it wrote. input_name names the input in
 * messages. Returns an exit code. */
int bf_output_write(const bf_cli *cli, const bf_svg_opts *svg, bf_stack_table *before,
                    bf_stack_table *st, const char *input_name);

/* Checks the output before any work (a recording is not made to be lost): a directory
 * gets default_name inside it (record's beamflame-NODE-DATE.EXT, NULL: not allowed); a
 * name whose extension names no format is refused unless --format was given; the file
 * must be writable where it goes. Sets cli->output (pointing into buf when it built a
 * path) and cli->format. Returns an exit code, with the reason in err. */
int bf_output_prepare(bf_cli *cli, const char *default_name, char *buf, size_t buflen,
                      char *err, size_t errlen);

#endif
