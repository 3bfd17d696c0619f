#!/bin/bash
# Runs trainer_bench (C++) and trainer_bench.py (Python eager, Debian's torch)
# side by side for each method with the same shapes and thread count, and
# prints a markdown table. Usage:
#   bench/trainer/run_bench.sh BUILD_DIR [cpu|cuda] [extra C++ flags...]
# Environment: METHODS (default: all five), STEPS (5), WARMUP (2), THREADS (2),
# REPEATS (3), PYTHON (/usr/bin/python3).
# Each side runs REPEATS times, interleaved (C++, Python, C++, ...), and the
# table shows the median of each: single runs on a shared VM swing by 2x.
# sslab's binaries link tcmalloc (common/torch_util/CMakeLists.txt); Python
# runs once as installed and once with tcmalloc through LD_PRELOAD, to show
# what the allocator is worth on each side.
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
repeats=${REPEATS:-3}
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
  [[ $f == --bf16 ]] && pyflags+=(--bf16)
done

tcmalloc=$(ldconfig -p | awk '/libtcmalloc_minimal.so.4 /{p = $NF} END {print p}')
echo "| method | shape | C++ img/s, median (runs) | Python img/s, median (runs) | C++ / Python | Python + tcmalloc img/s | C++ / that |"
echo "|---|---|---|---|---|---|---|"
rate() { sed -E 's/.*"images_per_second": ([0-9.]+).*/\1/'; }
median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for m in $methods; do
  s=$(shape "$m")
  common=(--method="$m" $s --width=1 --steps="$steps" --warmup="$warmup" --threads="$threads")
  # Python takes space-separated flags.
  pyargs=()
  for f in "${common[@]}"; do pyargs+=("${f%%=*}" "${f#*=}"); done
  cpp_rates=() py_rates=() tuned_rates=()
  for ((r = 0; r < repeats; r++)); do
    cpp_rates+=("$("$build/bench/trainer/trainer_bench" "${common[@]}" "${cppflags[@]}" | rate)")
    if [[ $device == cpu ]]; then
      py_rates+=("$("$py" "$here/trainer_bench.py" "${pyargs[@]}" "${pyflags[@]}" | rate)")
      tuned_rates+=("$(LD_PRELOAD=$tcmalloc "$py" "$here/trainer_bench.py" "${pyargs[@]}" "${pyflags[@]}" | rate)")
    else
      py_rates+=(0) tuned_rates+=(0)
    fi
  done
  c=$(echo "${cpp_rates[*]}" | median)
  p=$(echo "${py_rates[*]}" | median)
  t=$(echo "${tuned_rates[*]}" | median)
  ratio() { awk -v c="$1" -v p="$2" 'BEGIN { if (p > 0) printf "%.2f", c / p; else print "-" }'; }
  round() { printf "%.1f " "$@"; }
  echo "| $m | $s | $c ($(round "${cpp_rates[@]}")) | $p ($(round "${py_rates[@]}")) | $(ratio "$c" "$p") | $t | $(ratio "$c" "$t") |"
done
