#!/usr/bin/env bash
# beamflame benchmarks. Each prints parseable lines with a baseline measured in the same
# run beside our figure. Results also go to bench/out/results.txt.
#   render:          `beamflame svg` on a generated 200k-distinct-stack folded file (~200 MB):
#                    MB/s and peak RSS, against `wc -l` and `cat` on the same file.
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
#   native_bench:    a CPU-bound node's throughput under native sampling (99, 999 Hz, and
#                    perf record -g), against unsampled windows.
#   trace_bench:     fib(25), a sort of 20k integers, and sorts of 20k and 200k integers
#                    built inside the traced call, traced: untraced, a null NIF tracer
#                    (the floor), a message-based tracer process (the baseline), beamflame.
# Set FLAMEGRAPH_PL=/path/to/flamegraph.pl to also time flamegraph.pl on the same input.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"
CC=${CC:-cc}
$CC -O2 -o "$OUT/measure" bench/measure.c
$CC -O2 -o "$OUT/gen_folded" bench/gen_folded.c
STACKS=${STACKS:-200000}
INPUT="$OUT/stacks-$STACKS.folded"
[ -s "$INPUT" ] || "$OUT/gen_folded" "$STACKS" > "$INPUT"
BYTES=$(stat -c %s "$INPUT")
MB=$(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1048576 }')

line() { # name, then the command
  local name=$1; shift
  local m
  m=$("$OUT/measure" "$@" 2>&1 >/dev/null | grep '^measure:' | tail -1)
  local wall rss
  wall=$(sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' <<<"$m")
  rss=$(sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' <<<"$m")
  awk -v n="$name" -v w="$wall" -v r="$rss" -v mb="$MB" -v s="$STACKS" \
    'BEGIN { printf "render: tool=%s stacks=%d input_mb=%s wall_s=%s mb_per_s=%.1f peak_rss_mb=%.1f\n", n, s, mb, w, mb / w, r / 1024 }'
}

{
  cat "$INPUT" > /dev/null   # warm the page cache so every tool reads from memory
  line cat cat "$INPUT"
  line wc-l wc -l "$INPUT"
  line beamflame priv/beamflame svg "$INPUT" -o "$OUT/stacks.svg"
  if [ -n "${FLAMEGRAPH_PL:-}" ]; then
    line flamegraph.pl perl "$FLAMEGRAPH_PL" "$INPUT"
  fi
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
