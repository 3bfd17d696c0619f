#!/usr/bin/env python3
"""The L-BFGS probe (evaluator_lbfgs_grid_bench: RunLbfgsProbe's whole L2
grid, the choice on val, the refit, the test score) on the GPU and on the
CPU, on the same synthetic wide features. Prints each run and then one JSON
line with both (bench/gpu/run.sh reads the last).

  python3 bench/gpu/lbfgs_devices.py --bench BUILD/bench/evaluator/evaluator_lbfgs_grid_bench \\
      [--n 50000 --d 8192 --threads 16 --device cuda --data DIR]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "evaluator"))
from synthetic import synthetic  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--bench", required=True)
p.add_argument("--n", type=int, default=50000, help="train + val rows (10%% val)")
p.add_argument("--d", type=int, default=8192)
p.add_argument("--threads", type=int, default=os.cpu_count())
p.add_argument("--device", default="cuda")
p.add_argument("--data", default="/tmp/sslab-lbfgs-data")
a = p.parse_args()

os.makedirs(a.data, exist_ok=True)
prefix = os.path.join(a.data, f"n{a.n}-d{a.d}")
n_val, n_test = a.n // 10, a.n // 5
sizes = {"train": a.n - n_val, "val": n_val, "test": n_test}
if not os.path.exists(f"{prefix}.test.y.i64"):
    for seed, (split, n) in enumerate(sizes.items()):
        x, y = synthetic(n, a.d, 10, seed + 1, 0.5, 0.1)
        x.tofile(f"{prefix}.{split}.x.f32")
        y.tofile(f"{prefix}.{split}.y.i64")

runs = {}
for device in dict.fromkeys([a.device, "cpu"]):
    out = subprocess.run(
        [a.bench, f"--data={prefix}", f"--n={sizes['train']}", f"--n_val={n_val}",
         f"--n_test={n_test}", f"--d={a.d}", f"--threads={a.threads}",
         f"--device={device}"],
        check=True, capture_output=True, text=True).stdout
    runs[device] = json.loads(out.strip().splitlines()[-1])
    print(json.dumps(runs[device]), flush=True)
print(json.dumps({"impl": "lbfgs", "n": a.n, "d": a.d, "runs": runs}))
