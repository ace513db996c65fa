#!/usr/bin/env bash
# Regenerates c_src/tests/golden/stages/*.{merged,frames,pruned,svg} from each *.folded
# there, with the current code. Run it on purpose when a change to the output is intended,
# and review `git diff` of the golden files before committing; the tests never do this.
set -euo pipefail
cd "$(dirname "$0")/../c_src"
make -s build/rel/golden_dump
for f in tests/golden/stages/*.folded; do
  b=${f%.folded}
  for stage in merged frames pruned svg; do
    build/rel/golden_dump "$stage" "$f" > "$b.$stage"
  done
  echo "regenerated $b.{merged,frames,pruned,svg}"
done
