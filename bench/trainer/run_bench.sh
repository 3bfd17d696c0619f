#!/bin/bash
# Runs trainer_bench (C++) and trainer_bench.py (Python eager, Debian's torch)
# side by side for each method with the same shapes and thread count, and
# prints a markdown table. Usage:
#   bench/trainer/run_bench.sh BUILD_DIR [cpu|cuda] [extra C++ flags...]
# Environment: METHODS (default: all five), STEPS (5), WARMUP (2), THREADS (2),
# PYTHON (/usr/bin/python3).
set -euo pipefail
build=${1:?build dir}
device=${2:-cpu}
shift $(( $# >= 2 ? 2 : 1 ))
extra=("$@")
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-/usr/bin/python3}
steps=${STEPS:-5}
warmup=${WARMUP:-2}
threads=${THREADS:-2}
methods=${METHODS:-rotation exemplar jigsaw relative_patch_location supervised}

# Shapes sized for 2 CPU cores: ResNet50 v2 k=1; 32 px images (small-input
# stem) for rotation / exemplar / supervised, 32 px patches (patch strides)
# for the patch methods.
shape() {
  case $1 in
    rotation) echo "--batch=16 --image=32" ;;
    exemplar) echo "--batch=8 --views=8 --image=32" ;;
    jigsaw|relative_patch_location) echo "--batch=4 --image=32" ;;
    supervised) echo "--batch=64 --image=32" ;;
  esac
}

pyflags=()
cppflags=(--device="$device")
for f in "${extra[@]}"; do
  cppflags+=("$f")
  [[ $f == --channels_last ]] && pyflags+=(--channels_last)
done

echo "| method | shape | C++ img/s | Python img/s | C++ / Python |"
echo "|---|---|---|---|---|"
for m in $methods; do
  s=$(shape "$m")
  common=(--method="$m" $s --width=1 --steps="$steps" --warmup="$warmup" --threads="$threads")
  cpp=$("$build/bench/trainer/trainer_bench" "${common[@]}" "${cppflags[@]}")
  if [[ $device == cpu ]]; then
    # Python takes space-separated flags.
    pyargs=()
    for f in "${common[@]}"; do pyargs+=("${f%%=*}" "${f#*=}"); done
    py_out=$("$py" "$here/trainer_bench.py" "${pyargs[@]}" "${pyflags[@]}")
  else
    py_out='{"images_per_second": 0}'
  fi
  c=$(echo "$cpp" | sed -E 's/.*"images_per_second": ([0-9.]+).*/\1/')
  p=$(echo "$py_out" | sed -E 's/.*"images_per_second": ([0-9.]+).*/\1/')
  ratio=$(awk -v c="$c" -v p="$p" 'BEGIN { if (p > 0) printf "%.2f", c / p; else print "-" }')
  echo "| $m | $s | $c | $p | $ratio |"
done
