#!/usr/bin/python3
"""L-BFGS probe vs scikit-learn LogisticRegression(solver="lbfgs").

Runs scikit-learn first, then the C++ probe (evaluator_lbfgs_bench) on the
same standardised features with the same L2 weight and thread count, asking
it to stop at scikit-learn's final objective value: wall time to the same
loss, and test accuracy of both.

Objective (both): mean cross-entropy + l2/2 ||W||^2, bias unregularised.
scikit-learn minimises C * sum CE + ||W||^2 / 2, the same problem for
C = 1 / (n * l2).

  /usr/bin/python3 bench/evaluator/lbfgs_vs_sklearn.py \
      --bench build-evaluator/bench/evaluator/evaluator_lbfgs_bench \
      --case fmnist|synthetic [--threads 2] [--l2 1e-4] [--max_iter 500]
      [--n 20000 --d 8192 --classes 10 --signal 0.5 --label_noise 0.1]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

parser = argparse.ArgumentParser()
parser.add_argument("--bench", required=True)
parser.add_argument("--case", choices=["fmnist", "synthetic"], default="fmnist")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--l2", type=float, default=1e-4)
parser.add_argument("--max_iter", type=int, default=500)
parser.add_argument("--tol", type=float, default=1e-4)
parser.add_argument("--n", type=int, default=20000)
parser.add_argument("--d", type=int, default=8192)
parser.add_argument("--classes", type=int, default=10)
parser.add_argument("--signal", type=float, default=0.5,
                    help="synthetic: class-centre scale per subspace dimension")
parser.add_argument("--label_noise", type=float, default=0.1,
                    help="synthetic: fraction of labels redrawn at random")
args = parser.parse_args()

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402  (after the thread settings)
from scipy.special import logsumexp  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402
from synthetic import synthetic  # noqa: E402


tmp = tempfile.mkdtemp(prefix="sslab-lbfgs-")
if args.case == "fmnist":
    xtr, ytr = fmnist.load("train")
    xte, yte = fmnist.load("test")
    data_flag = ["--data=fmnist"]
else:
    xtr, ytr = synthetic(args.n, args.d, args.classes, 1, args.signal, args.label_noise)
    xte, yte = synthetic(args.n // 4, args.d, args.classes, 2, args.signal, args.label_noise)
    prefix = os.path.join(tmp, "syn")
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        x.astype(np.float32).tofile(f"{prefix}.{split}.x.f32")
        y.astype(np.int64).tofile(f"{prefix}.{split}.y.i64")
    data_flag = [f"--data=raw:{prefix}", f"--n={len(xtr)}", f"--d={xtr.shape[1]}",
                 f"--n_test={len(xte)}"]

n = len(xtr)
C = 1.0 / (n * args.l2)
scaler = StandardScaler().fit(xtr)
xs = scaler.transform(xtr).astype(np.float64)
xts = scaler.transform(xte)
clf = LogisticRegression(C=C, solver="lbfgs", max_iter=args.max_iter, tol=args.tol)
t0 = time.perf_counter()
clf.fit(xs, ytr)
sk_time = time.perf_counter() - t0
z = xs @ clf.coef_.T + clf.intercept_
loss = float(np.mean(logsumexp(z, axis=1) - z[np.arange(n), ytr]) +
             0.5 * args.l2 * np.sum(clf.coef_ ** 2))
sk = {"impl": "sklearn", "threads": args.threads, "n": n, "d": xtr.shape[1],
      "C": C, "l2": args.l2, "loss": loss, "iterations": int(clf.n_iter_[0]),
      "fit_s": round(sk_time, 3), "test_top1": float(clf.score(xts, yte))}
print(json.dumps(sk), flush=True)
del xs, xts

results = []
for dtype in ("float32", "float64"):
    out = subprocess.run(
        [args.bench] + data_flag + [f"--l2={args.l2}", f"--threads={args.threads}",
                                    f"--target_loss={loss!r}",
                                    f"--max_iterations={10 * args.max_iter}",
                                    f"--dtype={dtype}"],
        check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)
    print(json.dumps(ours), flush=True)
    results.append(ours)

print(f"\n| case | impl | time to sklearn's loss (s) | iterations | loss | gap to sklearn's loss | test top-1 | speed-up |")
print("|---|---|---|---|---|---|---|---|")
print(f"| {args.case} {n}x{xtr.shape[1]} | scikit-learn (float64) | {sk['fit_s']:.2f} | "
      f"{sk['iterations']} | {sk['loss']:.8f} | - | {sk['test_top1']*100:.2f} | 1.0 |")
for r in results:
    # float32 features resolve the loss to ~1e-7 relative: a fit that stops
    # there has reached the same loss as far as float32 can tell.
    gap = (r['loss'] - sk['loss']) / sk['loss']
    print(f"| {args.case} {n}x{xtr.shape[1]} | sslab ({r['dtype']}) | {r['fit_s']:.2f} | "
          f"{r['iterations']} | {r['loss']:.8f} | {gap:+.1e} | {r['test_top1']*100:.2f} | "
          f"{sk['fit_s'] / r['fit_s']:.1f}x |")
print(f"\ntest top-1 difference (float32 - sklearn): "
      f"{(results[0]['test_top1'] - sk['test_top1']) * 100:+.2f} points")
if args.case == "synthetic":
    for f in os.listdir(tmp):
        os.remove(os.path.join(tmp, f))
os.rmdir(tmp)
