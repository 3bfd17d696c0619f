#!/usr/bin/python3
"""The L-BFGS probe's L2 grid, as a PROBE job runs it, vs scikit-learn.

Both sides do the study's protocol on the same split: standardise with the
train statistics, fit one multinomial logistic regression per L2 weight of
the grid on train, pick the weight with the best val top-1, refit it on
train + val, score test. scikit-learn loops over C = 1 / (n_train * l2)
(its LogisticRegression(solver="lbfgs") minimises C * sum CE + ||W||^2 / 2,
the same problem as mean CE + l2/2 ||W||^2), float64, max_iter 500 (the
probe's own iteration cap). sslab runs evaluator_lbfgs_grid_bench, i.e.
evaluator::RunLbfgsProbe, which fits the whole grid in one lockstep pass.
Repeats are interleaved (sklearn, sslab, sklearn, ...) and the table shows
medians.

  /usr/bin/python3 bench/evaluator/lbfgs_grid_vs_sklearn.py \
      --bench build/bench/evaluator/evaluator_lbfgs_grid_bench \
      --case fmnist|fmnist5k|synthetic [--threads 2] [--repeats 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

parser = argparse.ArgumentParser()
parser.add_argument("--bench", required=True)
parser.add_argument("--case", choices=["fmnist", "fmnist5k", "synthetic"],
                    default="fmnist")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--max_iter", type=int, default=500)
parser.add_argument("--gtol", type=float, default=1e-4,
                    help="sslab: the L-BFGS gradient tolerance (the probe's default)")
parser.add_argument("--grid", default="1e-1,1e-2,1e-3,1e-4,1e-5,1e-6")
parser.add_argument("--d", type=int, default=9216,
                    help="synthetic: feature dimension (pooled block features)")
args = parser.parse_args()

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402  (after the thread settings)
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402
from synthetic import synthetic  # noqa: E402

grid = [float(v) for v in args.grid.split(",")]


def split_val(x, y, fraction=0.1, seed=0):
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = int(round(len(x) * fraction))
    return (x[order[n_val:]], y[order[n_val:]], x[order[:n_val]],
            y[order[:n_val]])


if args.case == "synthetic":
    x, y = synthetic(20000, args.d, 10, 1, 0.5, 0.1)
    xte, yte = synthetic(5000, args.d, 10, 2, 0.5, 0.1)
else:
    x, y = fmnist.load("train")
    xte, yte = fmnist.load("test")
    if args.case == "fmnist5k":  # the demo's probe: 5000 images
        x, y = x[:5000], y[:5000]
xtr, ytr, xva, yva = split_val(x, y)
tmp = tempfile.mkdtemp(prefix="sslab-grid-")
prefix = os.path.join(tmp, "data")
for name, xs, ys in (("train", xtr, ytr), ("val", xva, yva), ("test", xte, yte)):
    xs.astype(np.float32).tofile(f"{prefix}.{name}.x.f32")
    ys.astype(np.int64).tofile(f"{prefix}.{name}.y.i64")


def run_sklearn():
    t0 = time.perf_counter()
    scaler = StandardScaler().fit(xtr)
    xs, xv = scaler.transform(xtr), scaler.transform(xva)
    best = None
    for l2 in grid:
        clf = LogisticRegression(C=1.0 / (len(xtr) * l2), solver="lbfgs",
                                 max_iter=args.max_iter)
        clf.fit(xs, ytr)
        val = clf.score(xv, yva)
        if best is None or val > best[1]:
            best = (l2, val)
    grid_s = time.perf_counter() - t0
    # Refit on train + val with the chosen weight (sslab's default too).
    xall, yall = np.concatenate([xtr, xva]), np.concatenate([ytr, yva])
    scaler = StandardScaler().fit(xtr)
    clf = LogisticRegression(C=1.0 / (len(xtr) * best[0]), solver="lbfgs",
                             max_iter=args.max_iter)
    clf.fit(scaler.transform(xall), yall)
    test = clf.score(scaler.transform(xte), yte)
    return {"impl": "sklearn", "chosen_l2": best[0], "val_top1": best[1],
            "test_top1": test, "grid_s": round(grid_s, 3),
            "total_s": round(time.perf_counter() - t0, 3)}


def run_sslab():
    out = subprocess.run(
        [args.bench, f"--data={prefix}", f"--n={len(xtr)}", f"--n_val={len(xva)}",
         f"--n_test={len(xte)}", f"--d={xtr.shape[1]}", f"--threads={args.threads}",
         f"--grid={args.grid}", f"--gradient_tolerance={args.gtol}"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)


runs = {"sklearn": [], "sslab": []}
for r in range(args.repeats):
    for name, fn in (("sklearn", run_sklearn), ("sslab", run_sslab)):
        result = fn()
        print(json.dumps(result), flush=True)
        runs[name].append(result)
for f in os.listdir(tmp):
    os.remove(os.path.join(tmp, f))
os.rmdir(tmp)

sk = statistics.median(r["total_s"] for r in runs["sklearn"])
ours = statistics.median(r["total_s"] for r in runs["sslab"])
print(f"\n| case | impl | grid + refit (s, median of {args.repeats}) | chosen l2 | "
      f"val top-1 | test top-1 | speed-up |")
print("|---|---|---|---|---|---|---|")
for name, t in (("scikit-learn (float64)", sk), ("sslab (float32)", ours)):
    r = runs["sklearn" if name.startswith("scikit") else "sslab"][0]
    print(f"| {args.case} {len(xtr)}x{xtr.shape[1]} | {name} | {t:.2f} | "
          f"{r['chosen_l2']:g} | {r['val_top1']*100:.2f} | {r['test_top1']*100:.2f} | "
          f"{sk / t:.1f}x |")
