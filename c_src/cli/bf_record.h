/* bf_record: `beamflame record NODE`: connect as a hidden node, load beamflame into the
 * node if it lacks it, record, fetch the folded stacks, render them here. */
#ifndef BF_RECORD_H
#define BF_RECORD_H

#include "bf_cli_args.h"

/* Runs the record verb. Returns an exit code (bf_cli_args.h). */
int bf_record_run(const bf_cli *cli);

#endif
