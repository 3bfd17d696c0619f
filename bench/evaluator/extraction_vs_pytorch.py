#!/usr/bin/python3
"""Feature-extraction throughput: sslab (C++) vs the same network in Python
PyTorch eager, side by side, same threads.

Network: ResNet50 v2 (pre-activation, BN eps 1e-3, as models/ builds it),
freshly initialised, eval mode. Work per image: all six endpoints
(after_root, block1..4, pre_logits), each pooled to <= ~9000 values
(kernel = stride = ceil(sqrt(h*w*c/9000)), ceil mode), written to one raw
float32 file per layer as batches complete.

  /usr/bin/python3 bench/evaluator/extraction_vs_pytorch.py \
      --bench build-evaluator/bench/evaluator/evaluator_extract_bench \
      [--width 1 --size 224 --images 64 --batch 16 --threads 2 --device cpu]

With --device cuda both sides run the network on the GPU and copy each
pooled batch back to write it (bench/gpu/run.sh).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

parser = argparse.ArgumentParser()
parser.add_argument("--bench", required=True)
parser.add_argument("--width", type=int, default=1)
parser.add_argument("--size", type=int, default=224)
parser.add_argument("--small_input", type=int, default=0)
parser.add_argument("--images", type=int, default=64)
parser.add_argument("--batch", type=int, default=16)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--device", default="cpu")
parser.add_argument("--json_summary", action="store_true",
                    help="end with one JSON line holding every run")
args = parser.parse_args()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from resnet50_v2 import ResNet50V2  # noqa: E402


def pool(x, cap=9000):
    if x.dim() == 2:
        return x
    c, h, w = x.shape[1:]
    if c * h * w <= cap:
        return x.flatten(1)
    k = math.ceil(math.sqrt(h * w * c / cap))
    return F.avg_pool2d(x, k, k, ceil_mode=True, count_include_pad=False).flatten(1)


torch.manual_seed(0)
device = torch.device(args.device)
if device.type == "cuda":
    torch.backends.cudnn.benchmark = True
model = ResNet50V2(args.width, small_input=bool(args.small_input)).eval().to(device)
g = torch.Generator().manual_seed(0)
x = torch.randn(args.images + args.batch, 3, args.size, args.size, generator=g)
out_dir = tempfile.mkdtemp(prefix="sslab-extract-py-")


def extract(images):
    files = {}
    with torch.inference_mode():
        for s in range(0, len(images), args.batch):
            eps = model.endpoints(images[s:s + args.batch].to(device))
            for name, v in eps.items():
                f = pool(v).contiguous().cpu().numpy()
                if name not in files:
                    files[name] = open(os.path.join(out_dir, name + ".f32"), "wb")
                files[name].write(f.tobytes())
    dims = 0
    for name, fh in files.items():
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
    return dims


extract(x[:args.batch])  # warm-up
t0 = time.perf_counter()
extract(x[args.batch:])
dt = time.perf_counter() - t0
for f in os.listdir(out_dir):
    os.remove(os.path.join(out_dir, f))
os.rmdir(out_dir)
py = {"impl": "pytorch-eager", "device": args.device, "width": args.width,
      "size": args.size,
      "images": args.images, "batch": args.batch, "threads": torch.get_num_threads(),
      "seconds": round(dt, 3), "images_per_s": round(args.images / dt, 2)}
print(json.dumps(py), flush=True)

runs = []
for fold in (0, 1):
    cc = json.loads(subprocess.run(
        [args.bench, f"--width={args.width}", f"--size={args.size}",
         f"--small_input={args.small_input}", f"--images={args.images}",
         f"--batch={args.batch}", f"--threads={args.threads}", f"--fold={fold}",
         f"--device={args.device}"],
        check=True, capture_output=True, text=True).stdout)
    print(json.dumps(cc), flush=True)
    runs.append(cc)
print(f"\n| network | input | impl | images/s | ratio |\n|---|---|---|---|---|")
net = f"ResNet50 v2 k={args.width}"
inp = f"{args.size}px{' small' if args.small_input else ''}, batch {args.batch}"
print(f"| {net} | {inp} | PyTorch eager | {py['images_per_s']:.1f} | 1.0 |")
for cc in runs:
    impl = "sslab, BatchNorm folded" if cc["fold_batch_norm"] else "sslab, BatchNorm kept"
    print(f"| {net} | {inp} | {impl} | {cc['images_per_s']:.1f} | "
          f"{cc['images_per_s'] / py['images_per_s']:.2f}x |")
if args.json_summary:
    print(json.dumps({"impl": "extract", "python": py, "sslab_bn_kept": runs[0],
                      "sslab_bn_folded": runs[1]}))
