"""Synthetic wide features for the evaluator's Python peers."""
import numpy as np


def synthetic(n, d, classes, seed, signal, label_noise):
    """Wide features with real but limited class signal, like pooled CNN
    features: class centres in a 64-dim subspace (the same for every split:
    they come from a fixed seed), isotropic noise in all d dimensions, and a
    fraction of labels flipped at random, so no linear model separates the
    training set and the regularised optimum is well defined."""
    structure = np.random.default_rng(12345)
    basis = np.linalg.qr(structure.standard_normal((d, 64)))[0].T  # [64, d]
    centers = (structure.standard_normal((classes, 64)) * signal) @ basis
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.standard_normal((n, d), dtype=np.float32) + centers[y].astype(np.float32)
    flip = rng.random(n) < label_noise
    y[flip] = rng.integers(0, classes, int(flip.sum()))
    return x, y.astype(np.int64)
