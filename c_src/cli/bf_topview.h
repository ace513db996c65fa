/* bf_topview: `beamflame top NODE`: a live, full-screen view of where a node's time goes,
 * refreshed every interval (a plain snapshot per interval when standard output is not a
 * terminal). */
#ifndef BF_TOPVIEW_H
#define BF_TOPVIEW_H

#include "bf_cli_args.h"

int bf_top_run(const bf_cli *cli);

#endif
