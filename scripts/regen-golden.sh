#!/usr/bin/env bash
# Regenerates c_src/tests/golden/*.fg0 and *.fg01: the frames flamegraph.pl draws for each
# golden/*.folded at --minwidth 0 and 0.1, one "depth<TAB>samples<TAB>name" line a frame,
# sorted. Run it on purpose, never from the test suite, and review the diff.
#
# FLAMEGRAPH_FRAMES must name a command that prints those lines for `CMD MINWIDTH FILE`.
# The committed files were made with flamegraph.pl's own parse, flow() and prune code
# (FlameGraph commit 996ef3c), run locally with a print of %Node in place of the drawing;
# flamegraph.pl itself is not part of this repository.
set -euo pipefail
: "${FLAMEGRAPH_FRAMES:?set FLAMEGRAPH_FRAMES to a command printing flamegraph.pl frames}"
cd "$(dirname "$0")/../c_src/tests/golden"
for f in *.folded; do
  b=${f%.folded}
  $FLAMEGRAPH_FRAMES 0 "$f" > "$b.fg0"
  $FLAMEGRAPH_FRAMES 0.1 "$f" > "$b.fg01"
  echo "regenerated $b.fg0 $b.fg01"
done
