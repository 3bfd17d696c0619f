#!/usr/bin/python3
"""torchvision peer of loader_bench: ImageFolder + DataLoader, the same
transforms as sslab's "supervised" (inception crop 5-100 %, aspect 3/4-4/3,
flip, brightness +-32/255, saturation 0.5-1.5, scale to [-1, 1]) or "eval"
(resize 256, centre crop 224). Prints one line: images/s of the timed epochs."""
import argparse
import time

import torch
import torchvision
from torchvision import transforms as T


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--kind", default="supervised")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--size", type=int, default=224)
    a = p.parse_args()
    torch.set_num_threads(1)
    norm = T.Normalize([0.5] * 3, [0.5] * 3)
    if a.kind == "supervised":
        tf = T.Compose([
            T.RandomResizedCrop(a.size, scale=(0.05, 1.0), ratio=(3 / 4, 4 / 3)),
            T.RandomHorizontalFlip(),
            T.ColorJitter(brightness=32 / 255, saturation=(0.5, 1.5)),
            T.ToTensor(), norm])
    else:
        tf = T.Compose([T.Resize(round(a.size / 0.875)), T.CenterCrop(a.size),
                        T.ToTensor(), norm])
    ds = torchvision.datasets.ImageFolder(a.root, transform=tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True,
                                     num_workers=a.threads, drop_last=True,
                                     persistent_workers=True, prefetch_factor=4)
    # Epoch 0 warms up (worker start, page cache); the rest are timed.
    for _ in dl:
        pass
    n = 0
    start = time.perf_counter()
    for _ in range(a.epochs):
        for x, y in dl:
            n += x.shape[0]
    secs = time.perf_counter() - start
    print("torchvision kind=%s threads=%d images=%d seconds=%.2f images_per_s=%.1f"
          % (a.kind, a.threads, n, secs, n / secs))


if __name__ == "__main__":
    main()
