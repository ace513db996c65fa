#!/usr/bin/env bash
# `make demo': start a demo node running a known workload (demo/demo_shop.erl; the node
# does not contain beamflame), attach to it from a second, hidden node, sample it live and
# write the flame graph. Everything it starts, it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
DURATION_MS=${DURATION_MS:-5000}
EBIN=_build/default/lib/beamflame/ebin
mkdir -p "$OUT/demo-ebin"
erlc -o "$OUT/demo-ebin" demo/demo_shop.erl

# A fresh cookie for this demo only. (Passing it with -setcookie shows it in `ps`; that is
# fine for a throwaway demo node, not for production: see the README.)
COOKIE=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
NAME=beamflame_demo_$$

erl -sname "$NAME" -setcookie "$COOKIE" -noshell -pa "$OUT/demo-ebin" \
    -eval 'ok = demo_shop:start().' >/dev/null 2>&1 &
DEMO=$!
trap 'kill $DEMO 2>/dev/null || true; wait $DEMO 2>/dev/null || true' EXIT

echo "demo: started node $NAME (a gen_server and two clients, no beamflame); recording ${DURATION_MS} ms..."
erl -sname "beamflame_ctl_$$" -hidden -setcookie "$COOKIE" -noshell -pa "$EBIN" \
    -eval "beamflame_demo:record('$NAME', \"$OUT\", $DURATION_MS)."
