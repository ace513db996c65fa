#!/usr/bin/env bash
# beamflame benchmarks. Each prints parseable lines with a baseline measured in the same
# run beside our figure. Results also go to bench/out/results.txt.
#   render:          `beamflame svg` on generated folded files of 200k distinct stacks
#                    (~200 MB) and 10k (~10 MB): wall time over five rounds and peak RSS,
#                    against `wc -l` and `cat` (and flamegraph.pl) on the same cached file.
#   sample_cpu_cost: CPU time of sampling a node holding 10,000 idle processes, against
#                    the same window unsampled (VM with scheduler busy-waiting off).
#   sample_scale:    10k, 100k and 1M idle processes plus a 75/25 split: samples, share
#                    error, missed ticks and CPU cost over five 5 s recordings.
#   sample_throughput: a fully loaded node with 10,000 idle processes, work per second
#                    with and without sampling, alternating windows (ratio and spread).
#   attach_time:     from asking to record on a node to the recording having started, on a
#                    node without beamflame (push) and on one that has it; then the same
#                    for the command line (`beamflame record`), against starting
#                    `erl -hidden` just to connect.
#   native_bench:    a CPU-bound node's throughput under native sampling (99, 999 Hz),
#                    perf record -g at both rates, and stopping and continuing each running
#                    thread at 999 Hz reading nothing (stop_floor: any ptrace sampler's
#                    floor), against unsampled windows.
#   trace_bench:     fib(25), a sort of 20k integers, and sorts of 20k and 200k integers
#                    built inside the traced call, traced: untraced, a null NIF tracer
#                    (the floor), a message-based tracer process (the baseline), beamflame.
# Set FLAMEGRAPH_PL=/path/to/flamegraph.pl to also time flamegraph.pl on the same input;
# BENCH=render runs only the renderer's; ROUNDS=N changes the five rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"
CC=${CC:-cc}
$CC -O2 -o "$OUT/measure" bench/measure.c
$CC -O2 -o "$OUT/gen_folded" bench/gen_folded.c
$CC -O2 -o "$OUT/stop_floor" bench/stop_floor.c
ROUNDS=${ROUNDS:-5}

# One run of a command: "wall_s peak_rss_kb".
run1() {
  "$OUT/measure" "$@" 2>&1 >/dev/null | grep '^measure:' | tail -1 |
    sed -n 's/.*wall_s=\([0-9.]*\).*maxrss_kb=\([0-9]*\).*/\1 \2/p'
}

# render_bench STACKS: the tools on the same cached file, ROUNDS rounds, each round
# running every tool once (so that a slow moment of the machine hits them all); per tool
# the median wall time with the rounds' range and the peak RSS, then beamflame's time as
# a ratio to wc -l's and cat's within each round (median and range).
render_bench() {
  local stacks=$1 input="$OUT/stacks-$1.folded"
  [ -s "$input" ] || "$OUT/gen_folded" "$stacks" > "$input"
  local mb
  mb=$(awk -v b="$(stat -c %s "$input")" 'BEGIN { printf "%.1f", b / 1048576 }')
  cat "$input" > /dev/null   # warm the page cache so every tool reads from memory
  local tools=(cat wc-l beamflame)
  [ -n "${FLAMEGRAPH_PL:-}" ] && tools+=(flamegraph.pl)
  local data="$OUT/render-$stacks.txt"
  : > "$data"
  for round in $(seq "$ROUNDS"); do
    for t in "${tools[@]}"; do
      case $t in
        cat) r=$(run1 cat "$input") ;;
        wc-l) r=$(run1 wc -l "$input") ;;
        beamflame) r=$(run1 priv/beamflame svg "$input" -o "$OUT/stacks-$stacks.svg") ;;
        flamegraph.pl) r=$(run1 perl "$FLAMEGRAPH_PL" "$input") ;;
      esac
      echo "$round $t $r" >> "$data"
    done
  done
  awk -v s="$stacks" -v mb="$mb" '
    function med(arr, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
        if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
      return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2 }
    { w[$2, $1] = $3; if ($4 > rss[$2]) rss[$2] = $4; rounds[$1] = 1; seen[$2] = 1 }
    END {
      n = 0; for (r in rounds) n++
      split("cat wc-l beamflame flamegraph.pl", order, " ")
      for (k = 1; k <= 4; k++) { t = order[k]; if (!(t in seen)) continue
        for (r = 1; r <= n; r++) a[r] = w[t, r]
        m = med(a, n)
        printf "render: tool=%s stacks=%d input_mb=%s rounds=%d wall_s=%.3f (%.3f-%.3f) mb_per_s=%.0f peak_rss_mb=%.1f\n",
          t, s, mb, n, m, a[1], a[n], mb / m, rss[t] / 1024 }
      split("wc-l cat flamegraph.pl", base, " ")
      for (k = 1; k <= 3; k++) { b = base[k]; if (!(b in seen)) continue
        for (r = 1; r <= n; r++) a[r] = (b == "flamegraph.pl") ? w[b, r] / w["beamflame", r] : w["beamflame", r] / w[b, r]
        m = med(a, n)
        if (b == "flamegraph.pl")
          printf "render_ratio: stacks=%d flamegraph.pl_over_beamflame=%.1f (%.1f-%.1f)\n", s, m, a[1], a[n]
        else
          printf "render_ratio: stacks=%d beamflame_over_%s=%.2f (%.2f-%.2f)\n", s, b, m, a[1], a[n] } }' "$data"
}

{
  render_bench "${STACKS:-200000}"
  render_bench 10000
  if [ "${BENCH:-all}" = render ]; then exit 0; fi
  erlc -o "$OUT" bench/sample_overhead.erl test/bf_workload.erl
  erl +S 2 +sbwt none +sbwtdcpu none +sbwtdio none -noshell \
      -pa _build/default/lib/beamflame/ebin -pa "$OUT" -run sample_overhead main cost 10000
  erl +S 2 -noshell -pa _build/default/lib/beamflame/ebin -pa "$OUT" \
      -run sample_overhead main throughput 10000
  erl +S 2 +sbwt none +sbwtdcpu none +sbwtdio none -noshell \
      -pa _build/default/lib/beamflame/ebin -pa "$OUT" -run sample_overhead main continuous 10000
  for n in 10000 100000 1000000; do
    erl +S 2 +P 2000000 +sbwt none +sbwtdcpu none +sbwtdio none -noshell \
        -pa _build/default/lib/beamflame/ebin -pa "$OUT" -run sample_overhead main scale "$n"
  done
  erlc -o "$OUT" bench/attach_time.erl bench/trace_overhead.erl bench/native_overhead.erl
  erl -noshell -pa _build/default/lib/beamflame/ebin -pa "$OUT" -run attach_time main
  erl -noshell -pa _build/default/lib/beamflame/ebin -pa "$OUT" -run trace_overhead main
  erl -noshell -pa _build/default/lib/beamflame/ebin -pa "$OUT" -run native_overhead main
} | tee "$OUT/results.txt"
