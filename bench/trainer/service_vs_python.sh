#!/usr/bin/env bash
# The path users run against Python eager: a Rotation run submitted through
# sslab-scheduler to a real sslab-trainer (Fashion-MNIST from disk, light
# augmentation, checkpoints, heartbeats), against bench/trainer/trainer_bench.py
# (the same ResNet50 v2, batch, image size, one channel and threads,
# channels-last, on random tensors: no data loading at all, an upper bound
# for Python) as installed and with the same allocator as sslab (tcmalloc via
# LD_PRELOAD).
# Interleaved REPEATS times; prints the runs and their medians.
#
# Usage: bench/trainer/service_vs_python.sh [BUILD_DIR]
# Environment: REPEATS (3), EXAMPLES (8000), BATCH (64), IMAGE (28),
#   THREADS (2), STEPS (Python steps, 20), PYTHON (/usr/bin/python3),
#   RANKS (1): the --devices-per-run values to submit, e.g. "1 2" (the ranks
#   of a data-parallel run share the trainer's THREADS); FUSION (on): "on off"
#   also submits each with the fused BatchNorm + ReLU turned off.
#
# sslab's rate is the median of the run's images_per_second curve (source
# images per second over each heartbeat window, `sslab metrics`) after its
# first point (start-up); Python's is trainer_bench.py's after 3 warm-up steps.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-/usr/bin/python3}
repeats=${REPEATS:-3}
examples=${EXAMPLES:-8000}
batch=${BATCH:-64}
image=${IMAGE:-28}
threads=${THREADS:-2}
steps=${STEPS:-20}
read -r -a ranks <<<"${RANKS:-1}"
read -r -a fusion <<<"${FUSION:-on}"
tcmalloc=$(ldconfig -p | awk '/libtcmalloc_minimal.so.4 /{p = $NF} END {print p}')

dir=$(mktemp -d /tmp/sslab-service-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "no port in $1" >&2
  exit 1
}
"$build/services/scheduler/sslab-scheduler" --listen 127.0.0.1:0 \
  --port-file "$dir/scheduler.port" --db "$dir/sslab.db" \
  --data-dir "$dir/artifacts" 2>"$dir/scheduler.log" &
pids+=($!)
wait_port "$dir/scheduler.port"
export SSLAB_ADDR=127.0.0.1:$(cat "$dir/scheduler.port")
# The trainer runs with the fused BatchNorm + ReLU (models/internal/
# batch_norm_relu.h) unless $1 is "off"; restarted for each variant.
trainer_pid=
start_trainer() {
  [ -n "$trainer_pid" ] && { kill -TERM "$trainer_pid"; wait "$trainer_pid" || true; }
  rm -f "$dir/trainer.port"
  SSLAB_UNFUSED_BATCH_NORM_RELU=$([ "$1" = off ] && echo 1 || echo 0) \
    "$build/services/trainer/sslab-trainer" --listen 127.0.0.1:0 \
    --port-file "$dir/trainer.port" --scheduler "$SSLAB_ADDR" \
    --artifacts "$dir/artifacts" --devices cpu --threads "$threads" \
    2>>"$dir/trainer.log" &
  trainer_pid=$!
  pids+=($trainer_pid)
  wait_port "$dir/trainer.port"
}
sslab="$build/cli/sslab"

# One submitted run with $1 data-parallel ranks; prints its steady-state
# images/s.
service_rate() {
  local run
  run=$("$sslab" submit -q --method rotation --arch resnet50_v2 --width 1 \
    --dataset idx:/usr/share/datasets/fashion-mnist --max-examples "$examples" \
    --image-size "$image" --batch-size "$batch" --epochs 1 --threads "$threads" \
    --devices-per-run "$1" --layers pre_logits 2>/dev/null)
  # No extractor runs here: wait for the TRAIN job, then cancel the rest.
  until "$sslab" --format=json show "$run" | "$py" -c '
import json, sys
jobs = json.load(sys.stdin)["jobs"]
sys.exit(0 if any(j["kind"] == "JOB_KIND_TRAIN" and j["state"] == "JOB_STATE_SUCCEEDED" for j in jobs) else 1)'; do
    sleep 2
  done
  "$sslab" cancel "$run" >/dev/null
  "$sslab" --format=json metrics "$run" --name images_per_second | "$py" -c '
import json, statistics, sys
points = json.load(sys.stdin)["series"][0]["points"]
print("%.1f" % statistics.median(p["value"] for p in points[1:]))'
}
python_rate() {
  "$@" "$py" "$here/trainer_bench.py" --method rotation --batch "$batch" \
    --image "$image" --channels 1 --width 1 --steps "$steps" --warmup 3 \
    --threads "$threads" --channels_last |
    sed -E 's/.*"images_per_second": ([0-9.]+).*/\1/' | xargs printf "%.1f"
}

declare -A s
p=() t=()
variants=()
for f in "${fusion[@]}"; do for n in "${ranks[@]}"; do variants+=("$f:$n"); done; done
for ((r = 0; r < repeats; r++)); do
  for f in "${fusion[@]}"; do
    start_trainer "$f"
    for n in "${ranks[@]}"; do s[$f:$n]+="$(service_rate "$n") "; done
  done
  p+=("$(python_rate env)")
  t+=("$(python_rate env LD_PRELOAD="$tcmalloc")")
  line="repeat $((r + 1)):"
  for v in "${variants[@]}"; do
    line+=" sslab (fusion ${v%:*}, ${v#*:} ranks) $(awk '{ print $NF }' <<<"${s[$v]}"),"
  done
  echo "$line python ${p[-1]}, python+tcmalloc ${t[-1]} img/s" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mp=$(median "${p[@]}") mt=$(median "${t[@]}")
echo "| Rotation, ResNet50 v2 k=1, batch $batch (x4 views), $image px, $threads threads | img/s, median (runs) | / Python as installed | / Python + tcmalloc |"
echo "|---|---|---|---|"
for v in "${variants[@]}"; do
  read -r -a runs <<<"${s[$v]}"
  ms=$(median "${runs[@]}")
  what="sslab: run submitted through the services"
  [ "${v#*:}" != 1 ] && what="$what, --devices-per-run ${v#*:} (ranks share the threads)"
  [ "${v%:*}" = off ] && what="$what, BatchNorm + ReLU not fused"
  echo "| $what | $ms (${runs[*]}) | $(awk -v a="$ms" -v b="$mp" 'BEGIN { printf "%.2f", a / b }') | $(awk -v a="$ms" -v b="$mt" 'BEGIN { printf "%.2f", a / b }') |"
done
echo "| Python eager channels-last, as installed | $mp (${p[*]}) | 1.00 | |"
echo "| Python eager channels-last + tcmalloc | $mt (${t[*]}) | | 1.00 |"
