#!/usr/bin/python3
"""Plain PyTorch + scikit-learn reference of sslab's CPU demo protocol.

Run: /usr/bin/python3 bench/study/reference.py [--arch resnet50_v1|resnet50_v2|revnet50|vgg19_bn]
         [--epochs 4] [--threads 2] [--out FILE]
     /usr/bin/python3 bench/study/reference.py --method relative_patch_location
         [--arch resnet50_v1|resnet50_v2|revnet50|vgg19_bn] [--image_size 128]

Protocol choices, each with the sslab file it was taken from:
- Network (--arch, default resnet50_v2): ResNet50 v2, k=1, small-input stem
  (3x3 stride-1 root, no max pool), 4 rotation logits: bench/resnet50_v2.py
  (the Python peer of models/; 1,478,900 parameters, as sslab's CreateModel
  for these options). Or VGG19-BN, k=1: python/sslab_models.py (the
  exporter's peer of models/, whose backbones load sslab's checkpoints
  strictly and give the same endpoints; 613,228 parameters, as sslab's
  CreateModel, and sslab's initialisation), small_input (no
  max-pool after stage 1), built for image_size 28 (trainer/pretext.cc
  BackboneOptions sets the view size), so fc6 is a 1x1 "valid" conv 64 ->
  512 + BN + ReLU on block4's 3x3 pooled to 1x1; fc7 1x1 512 -> 512 + BN +
  ReLU + spatial mean = pre_logits; logits Linear(512, 4) is the whole
  Rotation head (trainer/pretext.cc). BatchNorm eps 1e-3, momentum 0.1
  (models/internal/layers.cc, models/model.h batch_norm_momentum). Both:
  small_input because image_size <= 64 (services/jobs/job_options.cc
  TrainerOptionsFor). in_ch=1 (Fashion-MNIST is grey; dataset channels 0 =
  native). The parameter count is printed at start, Python vs sslab.
- Splits (data/dataset.cc OpenDataset, seed = run seed; demo default 0 here):
  val = a class-stratified round(0.1 * n_c) of each class of the 60000
  training files (xoshiro256** shuffle per class, stream "val"); train = the
  rest (54000); then `max_examples` 5000 is applied to EACH split separately
  (class-balanced, shuffle stream "sub", kept indices sorted). So sslab's
  demo has 5000 train + 5000 val (min(6000, 5000)) + 5000 test images, NOT
  the 4500 + 500 that docs/study-fmnist.md states. This script reproduces the
  code's selection bit-for-bit (same RNG) for seed 0; the demo itself ran
  without --seed, i.e. with a fresh random seed (experiment/run_config.h).
- Pretext: Rotation, each source image gives 4 views rotated by
  k*90 deg CCW (torch.rot90 over (H, W)), label k; batch 64 source images
  (256 views); CE mean (data/transforms.cc Rotate, trainer/pretext.cc).
- Schedule (experiment/run_config.cc DefaultLrSchedule, trainer/trainer.cc
  LearningRate): epochs < 20 -> base_lr 0.1 * 4 (Rotation's 4 views) = 0.4
  per 256 images; peak = 0.4 * 64 / 256 = 0.1; linear warm-up
  lr = peak * (step + 1) / warmup_steps over epochs/7 epochs (4/7 epoch);
  x0.1 from epoch 0.75 * epochs (= 3). Steps/epoch = floor(5000/64) = 78
  (data/loader.h drop_last = true), reshuffled every epoch.
- SGD momentum 0.9, weight decay 1e-4 added to the gradient as
  torch.optim.SGD (trainer/trainer.cc).
- Light augmentation (trainer/data_batch_source.cc TrainingTransformOptions,
  data/transforms.cc, data/transforms.h defaults): inception-style crop of
  60-100% of the area, log-uniform aspect 3/4..4/3, 10 tries then whole
  image; horizontal flip p=0.5; no brightness/saturation jitter; bilinear
  resample back to 28 px (data/internal/resample.cc, antialias only matters
  when shrinking; these crops only enlarge); scale x/127.5 - 1 -> [-1, 1].
- Eval transform for extraction (services/jobs/job_options.cc
  EvalTransformFor, data/transforms.cc kEval): centre crop of side
  0.875 * 28 = 24.5 px (fractional box) resized bilinearly to 28, [-1, 1].
- Features (evaluator/extractor.h pool_cap 9000, evaluator/pooling.cc):
  endpoints with > 9000 values per image are average-pooled with
  kernel = stride = ceil(sqrt(CHW / 9000)), ceil_mode, count_include_pad
  false, then flattened channel-major. block1 64x28x28 -> k3 -> 6400,
  block2 128x14x14 -> k2 -> 6272, block3 256x7x7 -> k2 -> 4096, block4
  512x4x4 = 8192 (unpooled), pre_logits 512 (relu(bn) + global mean),
  pixels = the eval-transformed input, 784 (services/jobs/extract_job.cc).
  (ResNet's after_root, 16x28x28 -> k2 -> 3136, is not probed here.)
  VGG19-BN k=1 (experiment/run_config.cc RepresentationLayers: block1..4,
  fc6, pre_logits; block_i = ReLU output of stage i+1 before its max-pool):
  block1 16x28x28 -> k2 -> 3136, block2 32x14x14 = 6272, block3 64x7x7 =
  3136, block4 64x3x3 = 576 (all unpooled but block1), fc6 512x1x1 = 512
  (after its ReLU), pre_logits 512, pixels 784. sslab's demo-protocol test
  top-1 for VGG19-BN k=1 (docs/study-fmnist.md): block1 87.3, block2 88.0,
  block3 86.2, block4 81.8, fc6 79.3, pre_logits 78.3.
  Extraction in eval mode (BatchNorm running stats; sslab folds each BN
  that follows a conv into it, evaluator/extractor.h fold_batch_norm: the
  same values up to float rounding -- all of VGG19-BN's fold).
- Probe (evaluator/probe.cc, probe.h, logistic_regression.h): features
  standardised with the TRAIN split's per-dim mean / population std (std <=
  1e-12 -> 1), the same stats applied to val, test and the refit set;
  multinomial LR, objective (1/n) sum CE + (l2/2)||W||^2, bias
  unregularised -> sklearn C = 1 / (n * l2) with n the size of the set being
  fitted (5000 for the grid, 10000 for the train+val refit); grid
  1e-1..1e-6, best val top-1 wins, ties to the stronger l2; refit on
  train+val (sslab warm-starts from the chosen fit; so does this script);
  sslab: max 500 L-BFGS iterations, stop at max|grad| <= 1e-4 on the mean
  scale, history 10. Here: sklearn lbfgs, tol 1e-4 (on sklearn's sum-scaled
  objective), max_iter = --probe_max_iter (default 500, as sslab).
- Pretext accuracy: sslab reports the mean pretext top-1 over the LAST
  TRAINING EPOCH's augmented batches (trainer/trainer.h
  epoch_pretext_accuracy, services/jobs/train_job.cc pretext_top1), not a
  val-split evaluation. This script prints both that and the rotation top-1
  of the frozen network on val images (eval transform, eval mode).
- Threads: torch.set_num_threads(--threads, default 2); seed 0.

Relative Patch Location (--method relative_patch_location), what differs:
- Network: python/sslab_models.py for every architecture, as the trainer
  builds it for a patch method (trainer/pretext.cc BackboneOptions):
  128-d embedding as its logits (services/jobs/job_options.cc: 128, and a
  512-unit head, for k < 4), patch_strides, the ImageNet stem
  (experiment/run_config.cc UsesSmallInputStem is false for patch methods),
  image_size = the patch side. Head (trainer/pretext.h PatchHead): Linear(2
  x 128, 512) -> BatchNorm1d -> ReLU -> Dropout(0.5) -> Linear(512, 8)
  on [neighbour, centre] embedding pairs, the 8 neighbours in raster order
  (labels 0..7), CE mean over the B x 8 pairs.
- Patches (data/transforms.cc kPatches, --image_size S, default 128 as
  sslab's default for patch methods on 28 px images): the image is seen
  at R = round(S * 292 / 255) px (147); a random S x S window of it
  (offset in [0, R - S]) is cut into 3 x 3 cells of S // 3 px (42), each
  giving a patch of round(cell * 64 / 85) px (32) at a random offset in
  [0, cell - patch]; every box is resampled bilinearly from the 28 px
  source straight to the patch side and standardised per patch
  (tf.image.per_image_standardization on the 0..255 scale). No flips, no
  colour jitter (1 channel). Batch 128 source images (1152 patches).
- Schedule: base lr 0.1 per 256 source images (no x4: that is Rotation's),
  peak 0.05; the same warm-up (epochs / 7) and decay (x0.1 at 3/4).
- Features (kEvalPatches, evaluator/extractor.h): the deterministic grid
  (window and patch offsets at half their range); each layer of each patch
  pooled as above, then averaged over the 9 patches. Layers: ResNet and
  RevNet after_root, block1..4, pre_logits; VGG19-BN block1..4, fc6,
  pre_logits (no pixels: an RPL run does not probe them).
- Pretext accuracy on val: the 8 pairs of the deterministic grid, eval mode.
"""
import argparse
import gzip
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "python"))
from resnet50_v2 import ResNet50V2  # noqa: E402
import sslab_models  # noqa: E402

M64 = (1 << 64) - 1


# ---- data/internal/random.h, bit-for-bit --------------------------------------
def mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def derive_seed(seed, value):
    return mix64(mix64(seed) ^ ((value * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & M64))


class Rng:
    def __init__(self, seed):
        self.s = []
        for _ in range(4):
            seed = (seed + 0x9E3779B97F4A7C15) & M64
            z = seed
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s = self.s
        result = (self.rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result

    def below(self, n):
        return (self.next() * n) >> 64


def shuffle(v, rng):
    for i in range(len(v), 1, -1):
        j = rng.below(i)
        v[i - 1], v[j] = v[j], v[i - 1]


VAL_STREAM, SUB_STREAM = 0x76616C, 0x737562


def shuffled_by_class(labels, indices, seed, stream, k=10):
    by = [[] for _ in range(k)]
    for i in indices:
        by[labels[i]].append(i)
    for c in range(k):
        shuffle(by[c], Rng(derive_seed(derive_seed(seed, stream), c)))
    return by


def balanced_quota(by, total):
    k = len(by)
    quota = [0] * k
    order = sorted(range(k), key=lambda c: len(by[c]))  # stable
    remaining, left = total, sum(1 for b in by if b)
    for c in order:
        if not by[c]:
            continue
        share = remaining // left
        quota[c] = min(share, len(by[c]))
        remaining -= quota[c]
        left -= 1
    for c in range(k):
        if remaining <= 0:
            break
        if quota[c] < len(by[c]):
            quota[c] += 1
            remaining -= 1
    return quota


def open_split(labels, split, seed, val_fraction, max_examples):
    """data/dataset.cc OpenDataset; returns sorted indices into the files."""
    idx = list(range(len(labels)))
    test = split == "test"
    if not test and val_fraction > 0:
        by = shuffled_by_class(labels, idx, seed, VAL_STREAM)
        in_val = np.zeros(len(labels), bool)
        for members in by:
            n = len(members)
            kk = min(int(math.floor(val_fraction * n + 0.5)), max(n - 1, 0))
            for i in members[:kk]:
                in_val[i] = True
        want = split == "val"
        idx = [i for i in idx if in_val[i] == want]
    if max_examples > 0 and max_examples < len(idx):
        by = shuffled_by_class(labels, idx, seed, SUB_STREAM)
        quota = balanced_quota(by, max_examples)
        kept = []
        for c in range(len(by)):
            kept += by[c][: quota[c]]
        idx = sorted(kept)
    return np.array(idx, dtype=np.int64)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


# ---- transforms ---------------------------------------------------------------
def resample(imgs, boxes, flips, out=28):
    """Bilinear resample of fractional boxes (x0, y0, w, h) of [N,1,H,W] float
    images in [0,255] to out x out, pixel-centre convention, border clamp."""
    n, _, h, w = imgs.shape
    theta = torch.zeros(n, 2, 3)
    bx, by, bw, bh = [torch.tensor(boxes[:, i], dtype=torch.float32) for i in range(4)]
    s = torch.where(torch.tensor(flips), -1.0, 1.0)
    theta[:, 0, 0] = bw / w * s
    theta[:, 0, 2] = (2 * bx + bw) / w - 1
    theta[:, 1, 1] = bh / h
    theta[:, 1, 2] = (2 * by + bh) / h - 1
    grid = F.affine_grid(theta, (n, 1, out, out), align_corners=False)
    return F.grid_sample(imgs, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)


def inception_crop(h, w, rng, amin=0.6, amax=1.0, asp=(3 / 4, 4 / 3)):
    area = h * w
    lo, hi = math.log(asp[0]), math.log(asp[1])
    for _ in range(10):
        target = area * rng.uniform(amin, amax)
        aspect = math.exp(rng.uniform(lo, hi))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            y = rng.integers(0, h - ch + 1)
            x = rng.integers(0, w - cw + 1)
            return (x, y, cw, ch)
    return (0, 0, w, h)


def train_views(raw, rng):
    """raw uint8 [B,28,28] -> [4B,1,28,28] in [-1,1], labels [4B]."""
    b = raw.shape[0]
    boxes = np.array([inception_crop(28, 28, rng) for _ in range(b)], np.float64)
    flips = rng.random(b) < 0.5
    x = resample(torch.from_numpy(raw).float()[:, None], boxes, flips)
    x = x / 127.5 - 1
    views = torch.stack([torch.rot90(x, r, (2, 3)) for r in range(4)], 1)
    labels = torch.arange(4).repeat(b)
    return views.reshape(4 * b, 1, 28, 28), labels


def eval_images(raw):
    n = raw.shape[0]
    side = 0.875 * 28
    boxes = np.tile([(28 - side) / 2, (28 - side) / 2, side, side], (n, 1))
    x = resample(torch.from_numpy(raw).float()[:, None], boxes, np.zeros(n, bool))
    return x / 127.5 - 1


# ---- pooling (evaluator/pooling.cc) ---------------------------------------------
def pool_kernel(c, h, w, cap=9000):
    v = c * h * w
    if v <= cap:
        return 1
    k = math.ceil(math.sqrt(v / cap))
    while k > 1 and (k - 1) ** 2 * cap >= v:
        k -= 1
    while k * k * cap < v:
        k += 1
    return k


def pool_flatten(e, cap=9000):
    if e.dim() == 2:
        return e
    k = pool_kernel(*e.shape[1:], cap)
    if k > 1:
        e = F.avg_pool2d(e, k, k, 0, ceil_mode=True, count_include_pad=False)
    return e.reshape(e.shape[0], -1)


LAYERS = {
    "resnet50_v1": ["after_root", "block1", "block2", "block3", "block4", "pre_logits",
                    "pixels"],
    "resnet50_v2": ["block1", "block2", "block3", "block4", "pre_logits", "pixels"],
    "revnet50": ["after_root", "block1", "block2", "block3", "block4", "pre_logits",
                 "pixels"],
    "vgg19_bn": ["block1", "block2", "block3", "block4", "fc6", "pre_logits", "pixels"],
}
# sslab's parameter count (models::CreateModel, sum of numel over
# parameters()) for k=1, in_channels 1, small_input, image_size 28, 4 logits.
SSLAB_PARAMETERS = {"resnet50_v2": 1478900, "vgg19_bn": 613228}


def build_net(arch, image_size=28):
    small_input = image_size <= 64  # services/jobs/job_options.cc
    if arch != "resnet50_v2":  # bench/resnet50_v2.py is the trainer bench's peer
        net = sslab_models.build({"architecture": arch, "width": 1, "in_channels": 1,
                                  "num_outputs": 4, "small_input": small_input,
                                  "image_size": image_size})
        net.endpoints = net.forward_endpoints  # bench/resnet50_v2.py's name
        return net
    return ResNet50V2(1, in_ch=1, num_outputs=4, small_input=small_input)


def extract(net, raw, layers, bs=256):
    feats = {l: [] for l in layers}
    with torch.no_grad():
        for i in range(0, len(raw), bs):
            x = eval_images(raw[i:i + bs])
            ep = net.endpoints(x)
            ep["pixels"] = x
            for l in layers:
                feats[l].append(pool_flatten(ep[l]).numpy())
    return {l: np.concatenate(v).astype(np.float64) for l, v in feats.items()}


def val_pretext(net, raw, bs=256):
    correct = total = 0
    with torch.no_grad():
        for i in range(0, len(raw), bs):
            x = eval_images(raw[i:i + bs])
            for r in range(4):
                pred = net(torch.rot90(x, r, (2, 3))).argmax(1)
                correct += int((pred == r).sum())
                total += len(x)
    return correct / total


# ---- Relative Patch Location (data/transforms.cc kPatches, trainer/pretext.cc) --
RPL_LAYERS = {
    "resnet50_v1": ["after_root", "block1", "block2", "block3", "block4", "pre_logits"],
    "resnet50_v2": ["after_root", "block1", "block2", "block3", "block4", "pre_logits"],
    "revnet50": ["after_root", "block1", "block2", "block3", "block4", "pre_logits"],
    "vgg19_bn": ["block1", "block2", "block3", "block4", "fc6", "pre_logits"],
}
RPL_NEIGHBOURS = [0, 1, 2, 3, 5, 6, 7, 8]  # raster order without the centre


class PatchGrid:
    """The 3 x 3 patch grid of an image_size view of a `source` px image."""

    def __init__(self, image_size, source=28):
        self.resize = int(math.floor(image_size * 292.0 / 255.0 + 0.5))
        self.cell = image_size // 3
        self.patch = int(math.floor(self.cell * 64.0 / 85.0 + 0.5))
        self.span = self.resize - image_size
        self.jitter = self.cell - self.patch
        self.scale = source / self.resize

    def boxes(self, rng):
        """9 boxes (x, y, w, h) in source pixels; rng None: the eval grid."""
        cx, cy = ((self.span // 2,) * 2 if rng is None
                  else rng.integers(0, self.span + 1, 2))
        out = []
        for i in range(3):
            for j in range(3):
                ox, oy = ((self.jitter // 2,) * 2 if rng is None
                          else rng.integers(0, self.jitter + 1, 2))
                out.append(((cx + j * self.cell + ox) * self.scale,
                            (cy + i * self.cell + oy) * self.scale,
                            self.patch * self.scale, self.patch * self.scale))
        return out

    def views(self, raw, rng=None):
        """uint8 [B, H, W] -> standardised patches [9B, 1, P, P], image-major."""
        b = raw.shape[0]
        boxes = np.array([self.boxes(rng) for _ in range(b)], np.float64).reshape(-1, 4)
        imgs = torch.from_numpy(raw).float()[:, None].repeat_interleave(9, 0)
        x = resample(imgs, boxes, np.zeros(9 * b, bool), self.patch)
        flat = x.reshape(9 * b, -1)
        mean = flat.mean(1, keepdim=True)
        std = flat.var(1, unbiased=False, keepdim=True).sqrt()
        std = torch.clamp(std, min=255.0 / math.sqrt(flat.shape[1]))
        return ((flat - mean) / std).reshape(x.shape)


class RelativePatchLocation(nn.Module):
    def __init__(self, arch, image_size):
        super().__init__()
        self.grid = PatchGrid(image_size)
        self.net = sslab_models.build({
            "architecture": arch, "width": 1, "in_channels": 1, "num_outputs": 128,
            "small_input": False, "patch_strides": True, "image_size": self.grid.patch})
        self.head = nn.Sequential(nn.Linear(256, 512), nn.BatchNorm1d(512), nn.ReLU(),
                                  nn.Dropout(0.5), nn.Linear(512, 8))

    def pair_logits(self, patches):
        emb = self.net(patches)
        emb = emb.reshape(-1, 9, emb.shape[1])
        centre = emb[:, 4:5].expand(-1, 8, -1)
        pairs = torch.cat([emb[:, RPL_NEIGHBOURS], centre], 2)
        return self.head(pairs.reshape(-1, pairs.shape[2]))

    def step(self, raw, rng):
        logits = self.pair_logits(self.grid.views(raw, rng))
        y = torch.arange(8).repeat(raw.shape[0])
        return F.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean().item()

    def extract(self, raw, layers, bs=128):
        feats = {l: [] for l in layers}
        with torch.no_grad():
            for i in range(0, len(raw), bs):
                ep = self.net.forward_endpoints(self.grid.views(raw[i:i + bs]), layers)
                for l in layers:
                    f = pool_flatten(ep[l])
                    feats[l].append(f.reshape(-1, 9, f.shape[1]).mean(1).numpy())
        return {l: np.concatenate(v).astype(np.float64) for l, v in feats.items()}

    def val_pretext(self, raw, bs=128):
        correct = total = 0
        with torch.no_grad():
            for i in range(0, len(raw), bs):
                pred = self.pair_logits(self.grid.views(raw[i:i + bs])).argmax(1)
                correct += int((pred == torch.arange(8).repeat(len(pred) // 8)).sum())
                total += len(pred)
        return correct / total


class Rotation(nn.Module):
    """The demo's protocol (the module docstring's first part)."""

    def __init__(self, arch, image_size):
        super().__init__()
        self.net = build_net(arch, image_size)

    def step(self, raw, rng):
        x, y = train_views(raw, rng)
        logits = self.net(x)
        return F.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean().item()

    def extract(self, raw, layers):
        return extract(self.net, raw, layers)

    def val_pretext(self, raw):
        return val_pretext(self.net, raw)


# ---- probe --------------------------------------------------------------------
def lbfgs_probe(tr, ytr, va, yva, te, yte, grid, max_iter):
    from sklearn.linear_model import LogisticRegression
    mean = tr.mean(0, keepdims=True)
    std = np.sqrt(((tr - mean) ** 2).mean(0, keepdims=True))
    std = np.where(std > 1e-12, std, 1.0)
    tr, va, te = [(x - mean) / std for x in (tr, va, te)]
    n = len(tr)
    best, best_acc, best_clf, vals, iters = None, -1, None, [], []
    for l2 in grid:  # strongest first: ties keep the stronger l2
        clf = LogisticRegression(C=1.0 / (n * l2), solver="lbfgs", max_iter=max_iter,
                                 tol=1e-4, multi_class="multinomial")
        clf.fit(tr, ytr)
        acc = (clf.predict(va) == yva).mean()
        vals.append((l2, acc))
        iters.append(int(clf.n_iter_[0]))
        if acc > best_acc:
            best, best_acc, best_clf = l2, acc, clf
    x = np.concatenate([tr, va])
    y = np.concatenate([ytr, yva])
    clf = LogisticRegression(C=1.0 / (len(x) * best), solver="lbfgs", max_iter=max_iter,
                             tol=1e-4, multi_class="multinomial", warm_start=True)
    clf.coef_, clf.intercept_ = best_clf.coef_.copy(), best_clf.intercept_.copy()
    clf.fit(x, y)
    iters.append(int(clf.n_iter_[0]))
    test = (clf.predict(te) == yte).mean()
    return test, best, best_acc, vals, iters


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--method", choices=["rotation", "relative_patch_location"],
                   default="rotation")
    p.add_argument("--arch", choices=sorted(RPL_LAYERS), default="resnet50_v2")
    p.add_argument("--image_size", type=int, default=0,
                   help="RPL's view side (default 128); Rotation uses the images' 28")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max_examples", type=int, default=5000)
    p.add_argument("--probe_max_iter", type=int, default=500)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--val_pretext_images", type=int, default=1000)
    a = p.parse_args()
    rpl = a.method == "relative_patch_location"
    if not rpl and (a.arch not in LAYERS or a.image_size not in (0, 28)):
        p.error(f"rotation: --arch one of {sorted(LAYERS)}, images at 28 px")
    torch.set_num_threads(a.threads)
    layers = RPL_LAYERS[a.arch] if rpl else LAYERS[a.arch]
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    t0 = time.time()
    xtr_all = read_idx(f"{a.data}/train-images-idx3-ubyte.gz")
    ytr_all = read_idx(f"{a.data}/train-labels-idx1-ubyte.gz").astype(np.int64)
    xte_all = read_idx(f"{a.data}/t10k-images-idx3-ubyte.gz")
    yte_all = read_idx(f"{a.data}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    lab = ytr_all.tolist()
    itr = open_split(lab, "train", a.seed, 0.1, a.max_examples)
    iva = open_split(lab, "val", a.seed, 0.1, a.max_examples)
    ite = open_split(yte_all.tolist(), "test", a.seed, 0.1, a.max_examples)
    assert not set(itr.tolist()) & set(iva.tolist())
    Xtr, Ytr = xtr_all[itr], ytr_all[itr]
    Xva, Yva = xtr_all[iva], ytr_all[iva]
    Xte, Yte = xte_all[ite], yte_all[ite]
    t_data = time.time() - t0
    print(f"splits: train {len(itr)} val {len(iva)} test {len(ite)}", flush=True)

    # ---- pretext training ----
    if rpl:
        model = RelativePatchLocation(a.arch, a.image_size or 128)
        n_params = sum(p.numel() for p in model.net.parameters())
        print(f"{a.arch} k=1: {n_params} backbone parameters; patches of "
              f"{model.grid.patch} px", flush=True)
    else:
        model = Rotation(a.arch, xtr_all.shape[-1])
        n_params = sum(p.numel() for p in model.parameters())
        sslab_n = SSLAB_PARAMETERS.get(a.arch)
        print(f"{a.arch} k=1: {n_params} parameters " +
              ("(python/sslab_models.py, which loads sslab's checkpoints strictly)"
               if sslab_n is None else
               f"(sslab: {sslab_n}{'' if n_params == sslab_n else ', DIFFERENT'})"),
              flush=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9, weight_decay=1e-4)
    bs = 128 if rpl else 64
    spe = len(Xtr) // bs
    peak = 0.1 * (1 if rpl else 4) * bs / 256
    warm = a.epochs / 7.0 * spe
    decay = [a.epochs * 0.75]
    t1 = time.time()
    step = 0
    last_acc = float("nan")
    for ep in range(a.epochs):
        model.train()
        perm = rng.permutation(len(Xtr))
        eacc, eloss = [], []
        for s in range(spe):
            if step < warm:
                lr = peak * (step + 1) / warm
            else:
                lr = peak * (0.1 ** sum(step / spe >= d for d in decay))
            for g in opt.param_groups:
                g["lr"] = lr
            loss, acc = model.step(Xtr[perm[s * bs:(s + 1) * bs]], rng)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            eloss.append(loss.item())
            eacc.append(acc)
            step += 1
            if s % 20 == 0:
                print(f"epoch {ep} step {s}/{spe} lr {lr:.4f} loss {np.mean(eloss[-20:]):.3f} "
                      f"acc {np.mean(eacc[-20:]):.3f} {time.time() - t1:.0f}s", flush=True)
        last_acc, last_loss = float(np.mean(eacc)), float(np.mean(eloss))
        print(f"epoch {ep + 1}: loss {last_loss:.3f} pretext acc {last_acc:.3f}", flush=True)
    t_train = time.time() - t1

    # ---- extraction ----
    t2 = time.time()
    model.eval()
    ftr, fva, fte = [model.extract(x, layers) for x in (Xtr, Xva, Xte)]
    vp = model.val_pretext(Xva[: a.val_pretext_images]) if a.epochs > 0 else float("nan")
    t_extract = time.time() - t2

    # ---- probes ----
    grid = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6]
    rows = []
    t3 = time.time()
    for l in layers:
        tl = time.time()
        test, l2, vacc, vals, iters = lbfgs_probe(ftr[l], Ytr, fva[l], Yva, fte[l], Yte,
                                                  grid, a.probe_max_iter)
        rows.append((l, ftr[l].shape[1], test, l2, vacc, vals, iters, time.time() - tl))
        print(f"{l}: dims {ftr[l].shape[1]} test {100 * test:.1f} l2 {l2:g} val {100 * vacc:.1f} "
              f"iters {iters} {time.time() - tl:.0f}s", flush=True)
    t_probe = time.time() - t3

    what = f"{a.method} at {a.image_size or 128} px" if rpl else "rotation"
    say(f"# sslab demo protocol, Python reference ({what}, {a.arch} k=1, epochs {a.epochs}, "
        f"seed {a.seed})")
    say()
    say(f"splits: train {len(itr)}, val {len(iva)}, test {len(ite)}; "
        f"probe max_iter {a.probe_max_iter}; torch {torch.__version__}, {a.threads} threads; "
        f"{n_params} parameters")
    say()
    say("| layer | dims | test top-1 | chosen L2 | val top-1 | L-BFGS iters (grid..., refit) | probe s |")
    say("|---|---|---|---|---|---|---|")
    for l, d, test, l2, vacc, vals, iters, sec in rows:
        say(f"| {l} | {d} | {100 * test:.1f} | {l2:g} | {100 * vacc:.1f} | "
            f"{','.join(map(str, iters))} | {sec:.0f} |")
    say()
    say("val top-1 per L2: " + "; ".join(
        f"{l}: " + " ".join(f"{v * 100:.1f}" for _, v in r[5]) for l, r in
        zip([r[0] for r in rows], rows)))
    say()
    say(f"pretext ({a.method}) top-1, mean over the last training epoch (sslab's "
        f"pretext_top1): {100 * last_acc:.1f}%")
    say(f"pretext ({a.method}) top-1 on {min(a.val_pretext_images, len(Xva))} val images, "
        f"eval transform, eval mode: {100 * vp:.1f}%")
    say()
    say(f"wall time: data {t_data:.0f} s, training {t_train:.0f} s "
        f"({a.epochs * spe * bs / max(t_train, 1e-9):.0f} img/s), extraction {t_extract:.0f} s, "
        f"probes {t_probe:.0f} s, total {time.time() - t0:.0f} s")
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
