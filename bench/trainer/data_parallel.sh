#!/bin/bash
# Data-parallel scaling on CPU: one process against two c10d Gloo ranks on
# this machine, for sslab (trainer_bench) and Python PyTorch's
# DistributedDataParallel (trainer_bench.py), same network and shapes.
# Usage: bench/trainer/data_parallel.sh BUILD_DIR
# Environment: METHOD (rotation), BATCH (per-rank batch, 16), IMAGE (32),
# STEPS (5), WARMUP (2), REPEATS (3), PYTHON (/usr/bin/python3).
#
# Three set-ups per implementation, REPEATS times interleaved, medians shown:
#   1 x 1  one process, 1 thread, batch B
#   2 x 1  two ranks, 1 thread each, global batch 2B (B per rank)
#   1 x 2  one process, 2 threads, batch 2B: what the cores give without ranks
# Efficiency is (2 x 1) / (2 * (1 x 1)): 1.0 when a rank costs nothing.
set -euo pipefail
build=${1:?build dir}
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-/usr/bin/python3}
method=${METHOD:-rotation}
batch=${BATCH:-16}
image=${IMAGE:-32}
repeats=${REPEATS:-3}
common=(--method="$method" --image="$image" --steps="${STEPS:-5}"
        --warmup="${WARMUP:-2}")

run() {  # run IMPL RANKS THREADS GLOBAL_BATCH -> images/s of rank 0
  local impl=$1 ranks=$2 threads=$3 global=$4
  local cmd
  if [ "$impl" = cpp ]; then cmd=("$build/bench/trainer/trainer_bench")
  else cmd=("$py" "$here/trainer_bench.py"); fi
  if [ "$ranks" = 1 ]; then
    "${cmd[@]}" "${common[@]}" --threads="$threads" --batch="$global"
  else
    local port out
    port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    out=$(mktemp)
    for r in $(seq 1 $((ranks - 1))); do
      "${cmd[@]}" "${common[@]}" --threads="$threads" --batch="$global" \
        --world_size="$ranks" --rank="$r" --rendezvous="127.0.0.1:$port" >/dev/null &
    done
    "${cmd[@]}" "${common[@]}" --threads="$threads" --batch="$global" \
      --world_size="$ranks" --rank=0 --rendezvous="127.0.0.1:$port" >"$out"
    wait
    cat "$out"
    rm -f "$out"
  fi | sed -E 's/.*"images_per_second": ([0-9.]+).*/\1/' | awk '{ printf "%.1f", $1 }'
}
median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A rates
setups=("1 1 $batch" "2 1 $((2 * batch))" "1 2 $((2 * batch))")
for _ in $(seq "$repeats"); do
  for setup in "${setups[@]}"; do
    for impl in cpp python; do
      read -r ranks threads global <<<"$setup"
      rates[$impl/$ranks/$threads]+="$(run "$impl" "$ranks" "$threads" "$global") "
    done
  done
done

echo "$method, ResNet50 v2 k=1, ${image} px, batch $batch per rank; img/s, median of $repeats (runs)"
echo
echo "| impl | 1 process x 1 thread | 2 ranks x 1 thread | efficiency | 1 process x 2 threads | 2 ranks / 1 process x 2 threads |"
echo "|---|---|---|---|---|---|"
for impl in cpp python; do
  one=$(echo ${rates[$impl/1/1]} | median)
  two=$(echo ${rates[$impl/2/1]} | median)
  wide=$(echo ${rates[$impl/1/2]} | median)
  printf "| %s | %s (%s) | %s (%s) | %.2f | %s (%s) | %.2f |\n" "$impl" \
    "$one" "${rates[$impl/1/1]% }" "$two" "${rates[$impl/2/1]% }" \
    "$(awk "BEGIN { print $two / (2 * $one) }")" "$wide" "${rates[$impl/1/2]% }" \
    "$(awk "BEGIN { print $two / $wide }")"
done
