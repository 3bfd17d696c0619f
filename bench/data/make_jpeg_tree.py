#!/usr/bin/python3
"""Writes a synthetic ImageNet-like JPEG tree for the loader benchmark.

<out>/<class>/<n>.JPEG, sizes like ImageNet's (most 500x375 / 375x500 / 500x333),
smooth content with texture so files are ~100 KB at quality 90. Seeded.
"""
import argparse
import os

import numpy as np
from PIL import Image


def picture(rng, h, w):
    # Low-frequency colour field + mid-frequency texture + a little noise.
    coarse = rng.uniform(0, 255, size=(h // 32 + 2, w // 32 + 2, 3)).astype(np.float32)
    img = np.asarray(Image.fromarray(coarse.astype(np.uint8)).resize((w, h), Image.BICUBIC),
                     dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f1, f2 = rng.uniform(0.02, 0.2, size=2)
    texture = 30 * np.sin(xx * f1 + yy * f2)[..., None]
    noise = rng.normal(0, 8, size=(h, w, 3))
    return np.clip(img + texture + noise, 0, 255).astype(np.uint8)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--per_class", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    sizes = [(375, 500), (500, 375), (333, 500), (500, 500), (400, 300), (480, 640)]
    for c in range(a.classes):
        d = os.path.join(a.out, "n%08d" % c)
        os.makedirs(d, exist_ok=True)
        for i in range(a.per_class):
            h, w = sizes[rng.integers(len(sizes))]
            Image.fromarray(picture(rng, h, w)).save(os.path.join(d, "%d.JPEG" % i), quality=90)


if __name__ == "__main__":
    main()
