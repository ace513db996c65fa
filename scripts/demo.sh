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
BEAMFLAME_COOKIE=$COOKIE priv/beamflame record "$NAME" --duration 2 --quiet \
    -o "$OUT/beamflame-demo.folded"
grep -q 'demo_shop:' "$SVG" || { echo "demo: the flame graph lacks demo_shop frames" >&2; exit 1; }
# The graph must show what demo/demo_shop.erl says: most samples under handle_call/3, in
# three towers (parse/1, compute/1, store/2), none of them a sliver.
awk '
    { n = $NF; total += n
      if ($0 ~ /demo_shop:handle_call\/3/) call += n
      if ($0 ~ /demo_shop:parse\/1/) parse += n
      if ($0 ~ /demo_shop:compute\/1/) compute += n
      if ($0 ~ /demo_shop:store\/2/) store += n }
    END {
      printf "demo: %d samples, %.0f%% under handle_call/3: parse %.0f%%, compute %.0f%%, store %.0f%%\n",
             total, 100 * call / total, 100 * parse / total, 100 * compute / total, 100 * store / total
      if (total < 50 || call < 0.7 * total || parse < 0.1 * total || compute < 0.1 * total ||
          store < 0.1 * total) {
          print "demo: the graph does not show the towers demo/demo_shop.erl describes" > "/dev/stderr"
          exit 1
      } }' "$OUT/beamflame-demo.folded"
echo "flame graph: $(cd "$(dirname "$SVG")" && pwd)/$(basename "$SVG")"
