#!/usr/bin/env bash
# The GPU numbers of issue 11, as one prepared run on a device machine
# (PyTorch 2.x with CUDA, nvcc, CMake, Ninja; no Debian -dev packages).
# Builds Abseil from the carried Debian source with PyTorch's C++ ABI, then
# sslab's torch-only benchmarks against that PyTorch, and measures side by
# side, each row appended to $OUT/results.jsonl as it finishes:
#   train-bf16, train-fp32: Rotation, ResNet50 v2 and RevNet50 at width K,
#     IMAGE px, channels-last: sslab (C++) vs Python eager (same nets, same
#     dtype) vs torch.compile (bf16 only unless COMPILE_FP32=1), with the
#     model FLOPs of a step for MFU;
#   extract: feature extraction, sslab vs Python eager;
#   lbfgs: the L-BFGS probe's whole grid on the GPU vs the CPU;
#   data-parallel: Rotation ResNet50 v2 bf16 channels-last without a group,
#     as a c10d NCCL group of one (the collectives' cost), and on all the
#     machine's GPUs (one rank each) for sslab and Python DDP when it has
#     more than one.
# Then bench/gpu/summarize.py writes $OUT/summary.md.
#
# On this machine first: bench/gpu/carry.sh; then, through the device tool:
#   run(command="bench/gpu/run.sh", carry=[".gpu-carry"], timeout_s=600)
# and, if the budget stopped it early, the same command again (the builds
# are kept while the machine is warm; finished parts are skipped).
#
# Usage: bench/gpu/run.sh [PART...]   PART: build train-bf16 extract lbfgs
#   data-parallel train-fp32 (the default, in that order).
# Environment: OUT ($OUT, else /tmp/sslab-gpu), BUDGET_S (start no new row
#   after this many seconds; 520), DEVICE (cuda), K (4), IMAGE (224),
#   BATCH (32 source images: 128 Rotation views), STEPS (30), WARMUP (5),
#   THREADS (nproc), PYTHON (python3), CARRY (.gpu-carry), BUILD (build-gpu),
#   SMOKE=1 (tiny shapes on the CPU: checks this script here, no numbers).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
start_s=$SECONDS
out=${OUT:-/tmp/sslab-gpu}
mkdir -p "$out/logs"
py=${PYTHON:-python3}
carry=$(realpath -m "${CARRY:-.gpu-carry}")
build=$(realpath -m "${BUILD:-build-gpu}")
budget=${BUDGET_S:-520}
device=${DEVICE:-cuda}
k=${K:-4} image=${IMAGE:-224} batch=${BATCH:-32}
steps=${STEPS:-30} warmup=${WARMUP:-5} threads=${THREADS:-$(nproc)}
if [[ ${SMOKE:-0} == 1 ]]; then
  device=cpu k=1 image=32 batch=2 steps=2 warmup=1 threads=2
fi
parts=("$@")
[[ ${#parts[@]} -gt 0 ]] || parts=(build train-bf16 extract lbfgs data-parallel train-fp32)
results=$out/results.jsonl
log() { echo "[$((SECONDS - start_s))s] $*" | tee -a "$out/run.log" >&2; }
over_budget() { ((SECONDS - start_s > budget)); }

# A row: runs the command, appends its JSON line with the row's labels (or
# an error naming its log) to results.jsonl. Rows already there are skipped.
row() {
  local label=$1
  shift
  if grep -q "\"row\": \"$label\"" "$results" 2>/dev/null; then
    log "$label: done in an earlier run"
    return
  fi
  if over_budget; then
    log "$label: skipped, over the ${budget}s budget"
    return
  fi
  log "$label: $*"
  local logf=$out/logs/$label.log line
  if "$@" >"$logf" 2>&1 && line=$(grep '^{' "$logf" | tail -1) && [[ -n $line ]]; then
    echo "{\"row\": \"$label\", ${line#\{}" >>"$results"
    log "$label: $line"
  else
    echo "{\"row\": \"$label\", \"error\": \"see logs/$label.log\"}" >>"$results"
    log "$label: FAILED; last lines of logs/$label.log:"
    tail -5 "$logf" >&2
  fi
}

environment() {
  "$py" - <<'EOF' >"$out/env.json" 2>"$out/logs/env.log"
import json, os, platform, subprocess, torch
cuda = torch.cuda.is_available()
info = {"torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "gpu_memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1) if cuda else None,
        "cxx11_abi": bool(torch._C._GLIBCXX_USE_CXX11_ABI),
        "cmake_prefix": torch.utils.cmake_prefix_path,
        "cpu_count": os.cpu_count(), "python": platform.python_version()}
try:
    info["cxx"] = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
except OSError:
    info["cxx"] = None
print(json.dumps(info))
EOF
  log "environment: $(cat "$out/env.json")"
}

build_all() {
  local abi torch_prefix absl_prefix=$build/absl-install
  abi=$("$py" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
  torch_prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  # Debian's python3-torch ships no CMake package: use libtorch-dev's then.
  [[ -e $torch_prefix/Torch/TorchConfig.cmake ]] || torch_prefix=
  if [[ ! -e $absl_prefix/lib/cmake/absl/abslConfig.cmake ]]; then
    log "building Abseil (C++ ABI $abi) from $(ls "$carry"/src/abseil_*.orig.tar.*)"
    rm -rf "$build/absl-src" && mkdir -p "$build/absl-src"
    tar -xf "$carry"/src/abseil_*.orig.tar.* -C "$build/absl-src" --strip-components=1 &&
      tar -xf "$carry"/src/abseil_*.debian.tar.* -C "$build/absl-src" &&
      (cd "$build/absl-src" && grep -v '^#' debian/patches/series |
        while read -r p; do [[ -z $p ]] || patch -p1 -s <"debian/patches/$p" || exit 1; done) &&
      cmake -S "$build/absl-src" -B "$build/absl-build" -G Ninja \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_STANDARD=17 \
        -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DBUILD_TESTING=OFF \
        -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$abi" \
        -DCMAKE_INSTALL_PREFIX="$absl_prefix" >"$out/logs/absl.log" 2>&1 &&
      ninja -C "$build/absl-build" install >>"$out/logs/absl.log" 2>&1 ||
      { log "Abseil build FAILED (logs/absl.log)"; tail -20 "$out/logs/absl.log" >&2; return 1; }
  fi
  log "building sslab's torch-only benchmarks against ${torch_prefix:-the system LibTorch}"
  # nccl.h for c10d's NCCL backend: PyTorch's wheels leave it to nvidia-nccl,
  # and only the version torch was built with will do (class layouts).
  local nccl_include
  nccl_include=$("$py" - <<'EOF' 2>>"$out/logs/nccl.log"
import os, re, torch
import nvidia.nccl
inc = os.path.join(list(nvidia.nccl.__path__)[0], "include")
text = open(os.path.join(inc, "nccl.h")).read()
header = tuple(int(re.search(r"#define NCCL_%s\s+(\d+)" % k, text).group(1))
               for k in ("MAJOR", "MINOR", "PATCH"))
built = tuple(torch.cuda.nccl.version())
if header != built:
    raise SystemExit(f"nccl.h {header} is not the NCCL torch was built with {built}")
print(inc)
EOF
)
  log "nccl.h: ${nccl_include:-none matching the NCCL of torch, see logs/nccl.log}"
  # Data-parallel training (c10d NCCL and Gloo) is built where PyTorch ships
  # its headers; it has only been compiled against Debian's LibTorch 1.13
  # (Gloo), so a failure retries with Gloo alone, then without, rather than
  # losing the GPU run.
  local dp
  for dp in nccl gloo off; do
    [[ $dp == nccl && -z $nccl_include ]] && continue
    cmake -S . -B "$build/sslab" -G Ninja -DSSLAB_TORCH_ONLY=ON -DSSLAB_BUILD_TESTS=OFF \
      -DSSLAB_DATA_PARALLEL=$([[ $dp == off ]] && echo OFF || echo ON) \
      -DSSLAB_NCCL=$([[ $dp == nccl ]] && echo ON || echo OFF) \
      -DSSLAB_NCCL_INCLUDE_DIR="$nccl_include" \
      -DCMAKE_BUILD_TYPE=Release -DTORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}" \
      -DCMAKE_PREFIX_PATH="$torch_prefix;$absl_prefix;$carry/usr" \
      -DOPENSSL_ROOT_DIR="$carry/usr" \
      -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$abi" >"$out/logs/cmake.log" 2>&1 &&
      ninja -C "$build/sslab" trainer_bench evaluator_extract_bench \
        evaluator_lbfgs_grid_bench >"$out/logs/ninja.log" 2>&1 && break
    log "sslab build FAILED with data parallelism: $dp (logs/cmake.log, logs/ninja.log)"
    tail -30 "$out/logs/ninja.log" "$out/logs/cmake.log" >&2
    cp "$out/logs/ninja.log" "$out/logs/ninja-data-parallel-$dp.log" 2>/dev/null
    [[ $dp == off ]] && return 1
  done
  log "build done ($(grep -o 'data-parallel training [a-zA-Z0-9 ]*' "$out/logs/cmake.log" | head -1))"
}

train() {
  local dtype=$1 arch args cpp_args
  for arch in resnet50_v2 revnet50; do
    args=(--method rotation --arch "$arch" --width "$k" --image "$image" --batch "$batch"
      --steps "$steps" --warmup "$warmup" --threads "$threads" --device "$device" --channels_last)
    [[ $dtype == bf16 ]] && args+=(--bf16)
    cpp_args=()
    for ((i = 0; i < ${#args[@]}; i++)); do
      if [[ ${args[i]} == --channels_last || ${args[i]} == --bf16 ]]; then
        cpp_args+=("${args[i]}")
      else
        cpp_args+=("${args[i]}=${args[i + 1]}")
        i=$((i + 1))
      fi
    done
    row "train-$arch-$dtype-cpp" "$build/sslab/bench/trainer/trainer_bench" "${cpp_args[@]}"
    row "train-$arch-$dtype-eager" "$py" bench/trainer/trainer_bench.py "${args[@]}" --flops
    if [[ $dtype == bf16 || ${COMPILE_FP32:-0} == 1 ]]; then
      # RevNet's reversible backward calls autograd.grad, which dynamo does
      # not trace: torch.compile gets the plain-autograd RevNet (more memory,
      # no recomputation), an upper bound for what compile can do.
      local plain=()
      [[ $arch == revnet50 ]] && plain=(--memory_saving 0)
      row "train-$arch-$dtype-compile" "$py" bench/trainer/trainer_bench.py "${args[@]}" "${plain[@]}" --compile
    fi
  done
}

extract() {
  local n=$((batch * 16))
  [[ ${SMOKE:-0} == 1 ]] && n=4
  row "extract" "$py" bench/evaluator/extraction_vs_pytorch.py --json_summary \
    --bench "$build/sslab/bench/evaluator/evaluator_extract_bench" \
    --width "$k" --size "$image" --images "$n" --batch $((batch * 2)) \
    --threads "$threads" --device "$device"
}

lbfgs() {
  local n=50000 d=8192
  [[ ${SMOKE:-0} == 1 ]] && n=600 d=64
  row "lbfgs-$device" "$py" bench/gpu/lbfgs_devices.py \
    --bench "$build/sslab/bench/evaluator/evaluator_lbfgs_grid_bench" \
    --n "$n" --d "$d" --threads "$threads" --device "$device" --data "$build/lbfgs-data"
}

# N ranks of IMPL (cpp or python) on cuda:0..N-1 (the CPU with SMOKE=1),
# global batch N x BATCH; prints rank 0's JSON line.
ranks() {
  local impl=$1 n=$2 port r cmd pids=()
  shift 2
  port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if [[ $impl == cpp ]]; then cmd=("$build/sslab/bench/trainer/trainer_bench")
  else cmd=("$py" bench/trainer/trainer_bench.py); fi
  for ((r = n - 1; r >= 0; r--)); do
    local dev=cuda:$r
    [[ $device == cpu ]] && dev=cpu  # SMOKE: ranks on the CPU
    local flags=("$@" --batch=$((batch * n)) --device=$dev --world_size=$n
                 --rank=$r --rendezvous=127.0.0.1:$port)
    if ((r > 0)); then "${cmd[@]}" "${flags[@]}" >/dev/null & pids+=($!)
    else "${cmd[@]}" "${flags[@]}"; fi
  done
  local rc=$?
  wait "${pids[@]}" || rc=1
  return $rc
}

data_parallel() {
  local gpus dev0=$device common=(--method=rotation --arch=resnet50_v2 --width="$k"
    --image="$image" --steps="$steps" --warmup="$warmup" --threads="$threads" --channels_last)
  [[ ${SMOKE:-0} == 1 ]] || common+=(--bf16)
  [[ $device == cuda ]] && dev0=cuda:0
  gpus=$("$py" -c 'import torch; print(torch.cuda.device_count())')
  [[ ${SMOKE:-0} == 1 ]] && gpus=2  # two CPU ranks check the launcher
  local cpp=("$build/sslab/bench/trainer/trainer_bench" "${common[@]}" --batch="$batch"
    --device="$dev0")
  row "dp-cpp-no-group" "${cpp[@]}"
  # NCCL's all-reduces in a group of one, where the machine has one GPU.
  [[ $device == cuda* ]] && row "dp-cpp-nccl-1" "${cpp[@]}" --backend=nccl
  row "dp-cpp-gloo-1" "${cpp[@]}" --backend=gloo
  if ((gpus > 1)); then
    row "dp-cpp-$gpus-ranks" ranks cpp "$gpus" "${common[@]}"
    row "dp-python-$gpus-ranks" ranks python "$gpus" "${common[@]}"
  else
    log "data-parallel: no multi-rank rows ($gpus GPU)"
  fi
}

environment
for part in "${parts[@]}"; do
  case $part in
    build) build_all || break ;;
    train-bf16) train bf16 ;;
    train-fp32) train fp32 ;;
    extract) extract ;;
    lbfgs) lbfgs ;;
    data-parallel) data_parallel ;;
    *) log "unknown part $part" ;;
  esac
done
"$py" bench/gpu/summarize.py "$out" >"$out/summary.md" 2>"$out/logs/summarize.log" &&
  cat "$out/summary.md"
log "finished in $((SECONDS - start_s)) s"
