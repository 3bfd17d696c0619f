#!/usr/bin/python3
"""Every probe kind on a run's real features, layer by layer: finding (d).

The study's claim (d) is that the L-BFGS probe reaches the SGD probe's
accuracy in a fraction of its time. This runs the three probes of a PROBE
job (evaluator_lbfgs_grid_bench --probe=lbfgs|sgd|mlp, with the run
config's defaults) on the features `sslab export` wrote for a run, each
layer in turn, repeats interleaved, and prints a markdown table of median
seconds and test top-1. `--plain` adds L-BFGS without its preconditioner
(--preconditioner_rank=0), the probe before it had one.

  sslab export RUN --no-model --to DIR
  /usr/bin/python3 bench/evaluator/probe_kinds.py \\
      --bench build/bench/evaluator/evaluator_lbfgs_grid_bench \\
      --export DIR [--threads 2] [--repeats 3] [--probes lbfgs,sgd] [--plain]
      [--label-fraction 0.1 --seed RUN_SEED] [--epochs E] [--weight-decay W]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--bench", required=True)
parser.add_argument("--export", required=True,
                    help="a directory written by `sslab export RUN --no-model`")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--probes", default="lbfgs,sgd",
                    help="comma-separated, of lbfgs|sgd|mlp (mlp takes minutes per layer)")
parser.add_argument("--plain", action="store_true",
                    help="also L-BFGS without the preconditioner")
parser.add_argument("--layers", default="",
                    help="comma-separated; default: every exported layer")
parser.add_argument("--label-fraction", type=float, default=1.0,
                    help="learn from this class-balanced fraction of train and val, "
                         "as a PROBE job does")
parser.add_argument("--seed", type=int, default=0,
                    help="the label subset's seed (a PROBE job uses the run's seed)")
parser.add_argument("--epochs", type=int, default=0,
                    help="SGD/MLP epochs instead of the run config's defaults")
parser.add_argument("--weight-decay", type=float, default=0.0,
                    help="SGD/MLP weight decay")
args = parser.parse_args()
common = [f"--label_fraction={args.label_fraction}", f"--seed={args.seed}",
          f"--weight_decay={args.weight_decay}"]
if args.epochs:
    common.append(f"--epochs={args.epochs}")

manifest = json.load(open(os.path.join(args.export, "manifest.json")))
features = manifest["features"]
for split in ("train", "val", "test"):
    if split not in features:
        raise SystemExit(f"{args.export}: no {split} features (export all three splits)")
layers = [l for l in features["train"] if l != "labels"]
if args.layers:
    layers = [l for l in args.layers.split(",") if l in layers]

kinds = args.probes.split(",")
probes = [("lbfgs", [])] if "lbfgs" in kinds else []
if args.plain:
    probes.append(("lbfgs, no preconditioner", ["--preconditioner_rank=0"]))
probes += [(k, [f"--probe={k}"]) for k in ("sgd", "mlp") if k in kinds]

tmp = tempfile.mkdtemp(prefix="sslab-probes-")
rows = []
try:
    for layer in layers:
        prefix = os.path.join(tmp, layer)
        sizes = {}
        for split in ("train", "val", "test"):
            x = np.load(os.path.join(args.export, features[split][layer]["file"]),
                        mmap_mode="r")
            y = np.load(os.path.join(args.export, features[split]["labels"]["file"]))
            np.ascontiguousarray(x, dtype=np.float32).tofile(f"{prefix}.{split}.x.f32")
            y.reshape(-1).astype(np.int64).tofile(f"{prefix}.{split}.y.i64")
            sizes[split] = x.shape
        n, d = sizes["train"]
        runs = {name: [] for name, _ in probes}
        for _ in range(args.repeats):
            for name, flags in probes:
                out = subprocess.run(
                    [args.bench, f"--data={prefix}", f"--n={n}",
                     f"--n_val={sizes['val'][0]}", f"--n_test={sizes['test'][0]}",
                     f"--d={d}", f"--threads={args.threads}"] + common + flags,
                    check=True, capture_output=True, text=True).stdout
                result = json.loads(out)
                print(layer, name, json.dumps(result), flush=True)
                runs[name].append(result)
        for name, _ in probes:
            seconds = statistics.median(r["total_s"] for r in runs[name])
            top1 = statistics.median(r["test_top1"] for r in runs[name])
            rows.append((layer, f"{runs[name][0]['train_rows']}x{d}", name, seconds, top1))
        for split in ("train", "val", "test"):
            for suffix in ("x.f32", "y.i64"):
                os.remove(f"{prefix}.{split}.{suffix}")
finally:
    shutil.rmtree(tmp)

print(f"\n| layer | train | probe | seconds (median of {args.repeats}) | test top-1 |")
print("|---|---|---|---|---|")
for layer, shape, name, seconds, top1 in rows:
    print(f"| {layer} | {shape} | {name} | {seconds:.1f} | {top1 * 100:.1f} |")
