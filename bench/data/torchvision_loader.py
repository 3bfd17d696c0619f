#!/usr/bin/python3
"""torchvision peer of loader_bench: ImageFolder + DataLoader, the same
transforms as sslab's "supervised" (inception crop 5-100 %, aspect 3/4-4/3,
flip, brightness +-32/255, saturation 0.5-1.5, scale to [-1, 1]) or "eval"
(resize 256, centre crop 224). Prints one line: images/s of the timed epochs."""
import argparse
import os
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
    pids = [w.pid for w in dl._iterator._workers] if a.threads > 0 else []
    n = 0
    cpu0 = cpu_seconds(pids)
    start = time.perf_counter()
    for _ in range(a.epochs):
        for x, y in dl:
            n += x.shape[0]
    secs = time.perf_counter() - start
    cpu = cpu_seconds(pids) - cpu0
    print("torchvision kind=%s threads=%d images=%d seconds=%.2f cpu_seconds=%.2f "
          "images_per_s=%.1f images_per_cpu_s=%.1f"
          % (a.kind, a.threads, n, secs, cpu, n / secs, n / cpu))


def cpu_seconds(worker_pids):
    """CPU time (user + system) of this process and its DataLoader workers."""
    total = time.process_time()
    tick = os.sysconf("SC_CLK_TCK")
    for pid in worker_pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


if __name__ == "__main__":
    main()
