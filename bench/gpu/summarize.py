#!/usr/bin/env python3
"""Markdown tables from bench/gpu/run.sh's OUT/env.json and
OUT/results.jsonl, for docs/benchmarks.md.

MFU = model FLOPs of one training step (counted by the Python eager row with
torch.utils.flop_counter, without RevNet's recomputation) / seconds per step
/ the GPU's dense peak for the dtype. fp32 rows run their convolutions in
TF32 (cuDNN's default on both sides), so their peak is the TF32 one.
"""
import json
import os
import sys

# Dense peaks in TFLOP/s: (bf16, tf32). H200 has the H100 SXM's compute.
PEAKS = [("H200", (989.4, 494.7)), ("H100 PCIe", (756.0, 378.0)),
         ("H100", (989.4, 494.7)), ("A100", (312.0, 156.0))]


def peak(gpu, dtype):
    for name, (bf16, tf32) in PEAKS:
        if gpu and name in gpu:
            return (bf16 if dtype == "bf16" else tf32) * 1e12
    return None


def fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def main(out):
    env = json.load(open(os.path.join(out, "env.json")))
    rows = {}
    path = os.path.join(out, "results.jsonl")
    if os.path.exists(path):
        for line in open(path):
            r = json.loads(line)
            rows[r["row"]] = r
    gpu = env.get("gpu")
    print(f"GPU: {gpu} ({env.get('gpu_memory_gib')} GiB), PyTorch {env['torch']}, "
          f"CUDA {env.get('cuda')}, cuDNN {env.get('cudnn')}, {env.get('cpu_count')} CPUs, "
          f"{env.get('cxx')}\n")

    print("| network | dtype | sslab img/s | eager img/s | compile img/s | "
          "sslab / eager | sslab / compile | MFU sslab | MFU eager | MFU compile |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for dtype in ("bf16", "fp32"):
        for arch in ("resnet50_v2", "revnet50"):
            got = {impl: rows.get(f"train-{arch}-{dtype}-{impl}", {})
                   for impl in ("cpp", "eager", "compile")}
            if not any(got.values()):
                continue
            rate = {i: r.get("images_per_second") for i, r in got.items()}
            flops = got["eager"].get("flops_per_step")
            top = peak(gpu, dtype)

            def mfu(impl):
                s = got[impl].get("seconds_per_step")
                if not (flops and top and s):
                    return None
                return 100 * flops / s / top

            def ratio(a, b):
                return None if not (rate[a] and rate[b]) else rate[a] / rate[b]

            errors = [i for i, r in got.items() if "error" in r]
            note = f" (failed: {', '.join(errors)})" if errors else ""
            print(f"| {arch}{note} | {dtype} | {fmt(rate['cpp'])} | {fmt(rate['eager'])} | "
                  f"{fmt(rate['compile'])} | {fmt(ratio('cpp', 'eager'), '.2f')} | "
                  f"{fmt(ratio('cpp', 'compile'), '.2f')} | {fmt(mfu('cpp'))}% | "
                  f"{fmt(mfu('eager'))}% | {fmt(mfu('compile'))}% |")

    ex = rows.get("extract", {})
    if "python" in ex:
        py = ex["python"]["images_per_s"]
        print("\n| extraction | images/s | vs eager |\n|---|---|---|")
        print(f"| Python eager | {py:.1f} | 1.00x |")
        for key, name in (("sslab_bn_kept", "sslab, BatchNorm kept"),
                          ("sslab_bn_folded", "sslab, BatchNorm folded")):
            v = ex[key]["images_per_s"]
            print(f"| {name} | {v:.1f} | {v / py:.2f}x |")

    for label, r in rows.items():
        if label.startswith("lbfgs") and "runs" in r:
            print(f"\n| L-BFGS probe, {r['n']} x {r['d']}, 6-value grid + refit | "
                  "seconds | test top-1 | chosen l2 |\n|---|---|---|---|")
            cpu = r["runs"].get("cpu", {}).get("total_s")
            for device, run in r["runs"].items():
                speed = f" ({cpu / run['total_s']:.1f}x the CPU)" if cpu and device != "cpu" else ""
                print(f"| {device}{speed} | {run['total_s']:.1f} | {run['test_top1']:.4f} | "
                      f"{run['chosen_l2']:g} |")
    dp = {label: r for label, r in rows.items()
          if label.startswith("dp-") and "images_per_second" in r}
    if dp:
        base = dp.get("dp-cpp-no-group", {}).get("images_per_second")
        print("\n| data parallel (Rotation, ResNet50 v2) | ranks | backend | img/s | "
              "vs one process, no group | efficiency |\n|---|---|---|---|---|---|")
        for label, r in dp.items():
            n, v = r.get("world_size", 1), r["images_per_second"]
            vs = f"{v / base:.2f}x" if base else "-"
            eff = f"{v / (n * base):.2f}" if base else "-"
            print(f"| {label[3:]} | {n} | {r.get('backend', 'ddp')} | {v:.1f} | {vs} | {eff} |")
    failed = [label for label, r in rows.items() if "error" in r]
    if failed:
        print(f"\nFailed rows (see logs/): {', '.join(failed)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/sslab-gpu")
