#!/usr/bin/env bash
# `make demo': start a demo node running a known workload (demo/demo_shop.erl; the node
# does not contain beamflame), then record it with the command line exactly as on a
# production node: `beamflame record NODE` connects as a hidden node, loads beamflame
# there, samples it live and writes the flame graph. Everything it starts, it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
DURATION=${DURATION:-5}
mkdir -p "$OUT/demo-ebin"
erlc -o "$OUT/demo-ebin" demo/demo_shop.erl

# A fresh cookie for this demo only. (Passing it with -setcookie shows it in `ps`; that is
# fine for a throwaway demo node, not for production: see the README.) The recorder reads
# it from BEAMFLAME_COOKIE, never from its command line.
COOKIE=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
NAME=beamflame_demo_$$

erl -sname "$NAME" -setcookie "$COOKIE" -noshell -pa "$OUT/demo-ebin" \
    -eval 'ok = demo_shop:start().' >/dev/null 2>&1 &
DEMO=$!
trap 'kill $DEMO 2>/dev/null || true; wait $DEMO 2>/dev/null || true' EXIT

for _ in $(seq 50); do
    epmd -names 2>/dev/null | grep -q "name $NAME " && break
    sleep 0.2
done
echo "demo: started node $NAME (a gen_server and two clients, no beamflame)"
SVG="$OUT/beamflame-demo.svg"
BEAMFLAME_COOKIE=$COOKIE priv/beamflame record "$NAME" --duration "$DURATION" -o "$SVG"
BEAMFLAME_COOKIE=$COOKIE priv/beamflame record "$NAME" --duration 1 --quiet \
    -o "$OUT/beamflame-demo.folded"
grep -q 'demo_shop:' "$SVG" || { echo "demo: the flame graph lacks demo_shop frames" >&2; exit 1; }
echo "flame graph: $(cd "$(dirname "$SVG")" && pwd)/$(basename "$SVG")"
