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
# Per core = images per CPU-second (user + system, all threads / worker
# processes) over the timed epochs: fair on a shared, loaded machine.
printf "| kind | threads | sslab img/s | sslab img/CPU-s | sslab no-DCT img/CPU-s | torchvision img/s | torchvision img/CPU-s | per-core ratio | per-core ratio, no DCT | wall ratio |\n"
printf "|---|---|---|---|---|---|---|---|---|---|\n"
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
for kind in $kinds; do
  for t in $threads_list; do
    s=$("$build/bench/data/loader_bench" --root="$tree" --threads="$t" --kind="$kind" --epochs="$epochs")
    n=$("$build/bench/data/loader_bench" --root="$tree" --threads="$t" --kind="$kind" --epochs="$epochs" --dct_scaling=0)
    p=$(/usr/bin/python3 "$here/torchvision_loader.py" --root="$tree" --threads="$t" --kind="$kind" --epochs="$epochs")
    echo "$s" >&2; echo "$n" >&2; echo "$p" >&2
    sw=$(echo "$s" | field images_per_s); sc=$(echo "$s" | field images_per_cpu_s)
    nc=$(echo "$n" | field images_per_cpu_s)
    pw=$(echo "$p" | field images_per_s); pc=$(echo "$p" | field images_per_cpu_s)
    printf "| %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f |\n" "$kind" "$t" \
      "$sw" "$sc" "$nc" "$pw" "$pc" "$(echo "$sc / $pc" | bc -l)" \
      "$(echo "$nc / $pc" | bc -l)" "$(echo "$sw / $pw" | bc -l)"
  done
done
