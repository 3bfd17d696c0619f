"""Fashion-MNIST IDX reader shared by the evaluator's Python peers."""
import gzip
import os

import numpy as np

ROOT = os.environ.get("SSLAB_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def _read(name):
    with gzip.open(os.path.join(ROOT, name), "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split):
    prefix = "train" if split == "train" else "t10k"
    x = _read(f"{prefix}-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0
    y = _read(f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return x, y
