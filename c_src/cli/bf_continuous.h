/* bf_continuous: `beamflame continuous start|stop|info NODE` (always-on profiling on the
 * node, owned there) and `beamflame history NODE --last D | --from T --to T` (a window of
 * it, written like a recording). */
#ifndef BF_CONTINUOUS_H
#define BF_CONTINUOUS_H

#include "bf_cli_args.h"

int bf_continuous_run(const bf_cli *cli);
int bf_history_run(const bf_cli *cli);

#endif
