#!/bin/bash
# Decodes + augments the same JPEG tree with sslab's loader and with
# torchvision's ImageFolder + DataLoader, same transforms and thread counts,
# and prints images/s for both and the ratio.
#   bench/data/run_loader_bench.sh [BUILD_DIR] [TREE_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../../build}"
tree="${2:-/tmp/sslab_bench_jpeg_tree}"
kinds="${KINDS:-supervised eval}"
threads_list="${THREADS:-1 2}"
epochs="${EPOCHS:-2}"
if [ ! -d "$tree" ]; then
  /usr/bin/python3 "$here/make_jpeg_tree.py" --out "$tree" --classes 10 --per_class 64
fi
echo "tree: $tree ($(find "$tree" -name '*.JPEG' | wc -l) JPEGs, $(du -sh "$tree" | cut -f1))"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf "| kind | threads | sslab img/s | sslab, no DCT scaling img/s | torchvision img/s | ratio | ratio, no DCT |\n"
printf "|---|---|---|---|---|---|---|\n"
rate() { sed -n 's/.*images_per_s=\([0-9.]*\).*/\1/p'; }
for kind in $kinds; do
  for t in $threads_list; do
    s=$("$build/bench/data/loader_bench" --root="$tree" --threads="$t" --kind="$kind" --epochs="$epochs" | rate)
    n=$("$build/bench/data/loader_bench" --root="$tree" --threads="$t" --kind="$kind" --epochs="$epochs" --dct_scaling=0 | rate)
    p=$(/usr/bin/python3 "$here/torchvision_loader.py" --root="$tree" --threads="$t" --kind="$kind" --epochs="$epochs" | rate)
    printf "| %s | %s | %s | %s | %s | %.2f | %.2f |\n" "$kind" "$t" "$s" "$n" "$p" \
      "$(echo "$s / $p" | bc -l)" "$(echo "$n / $p" | bc -l)"
  done
done
