/* bf_inspect: `beamflame dump NODE` (the stacks of the node's processes, now) and
 * `beamflame list [HOST]` (the nodes epmd knows there, with their OTP release, beamflame
 * version and uptime when a cookie is at hand). */
#ifndef BF_INSPECT_H
#define BF_INSPECT_H

#include "bf_cli_args.h"

int bf_dump_run(const bf_cli *cli);
int bf_list_run(const bf_cli *cli);

#endif
