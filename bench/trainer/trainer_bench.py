#!/usr/bin/python3
"""Python PyTorch eager peer of bench/trainer/trainer_bench.cc.

The same networks (ResNet50 v2 and RevNet50 as models/ builds them,
bench/resnet50_v2.py and bench/revnet50.py), the same pretext losses, the
same SGD (momentum 0.9, weight decay 1e-4), on random tensors of the same
shapes, same thread count. Prints one JSON line.

Run with Debian's torch: /usr/bin/python3 trainer_bench.py --method rotation
On a GPU (bench/gpu/run.sh): --device cuda [--bf16 --channels_last] and
--compile for torch.compile of the network; --flops adds the model FLOPs of
one training step (torch.utils.flop_counter, PyTorch 2.x) for MFU.
--world_size N --rank R --rendezvous HOST:PORT trains with
DistributedDataParallel over Gloo (NCCL on a CUDA device, one per rank), as
trainer_bench's c10d ranks: --batch is
the global batch, buffers are not broadcast (BatchNorm per replica).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from resnet50_v2 import ResNet50V2  # noqa: E402
from revnet50 import RevNet50  # noqa: E402

try:
    from torch.utils.flop_counter import FlopCounterMode
except ImportError:  # PyTorch < 2.1 (Debian's 1.13): no --flops
    FlopCounterMode = None


class PatchHead(nn.Module):
    def __init__(self, cin, hidden, out):
        super().__init__()
        self.fc1 = nn.Linear(cin, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, out)

    def forward(self, x):
        return self.fc2(F.dropout(F.relu(self.bn(self.fc1(x))), 0.5, self.training))


def triplet_semihard(emb, labels, margin):
    d = torch.cdist(emb, emb).pow(2)
    same = labels[:, None] == labels[None, :]
    neg = ~same
    inf = torch.tensor(float("inf"), device=emb.device)
    srt = torch.where(neg, d, inf).sort(1).values
    nneg = neg.sum(1, keepdim=True)
    idx = torch.searchsorted(srt.detach().contiguous(), d.detach().contiguous(), right=True)
    outside = srt.gather(1, idx.clamp(max=d.size(0) - 1))
    inside = torch.where(neg, d, -inf).max(1, keepdim=True).values
    semi = torch.where(idx < nneg, outside, inside)
    pos = (same & ~torch.eye(d.size(0), dtype=torch.bool, device=d.device)).float()
    return ((margin + d - semi).clamp(min=0) * pos).sum() / pos.sum()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--method", default="rotation")
    p.add_argument("--arch", default="resnet50_v2", choices=["resnet50_v2", "revnet50"])
    p.add_argument("--memory_saving", type=int, default=1,
                   help="revnet50: the reversible backward of models/ (0: plain autograd)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--compile", action="store_true", help="torch.compile the network")
    p.add_argument("--flops", action="store_true",
                   help="also count one training step's model FLOPs")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--image", type=int, default=32)
    p.add_argument("--width", type=int, default=1)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--views", type=int, default=8)
    p.add_argument("--embedding", type=int, default=1000)
    p.add_argument("--head_hidden", type=int, default=1024)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--channels_last", action="store_true")
    p.add_argument("--bf16", action="store_true",
                   help="bfloat16 autocast for the forward pass and loss")
    p.add_argument("--world_size", type=int, default=1)
    p.add_argument("--rank", type=int, default=0)
    p.add_argument("--rendezvous", default="")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the C++ trainer on CUDA
    patch = a.method in ("jigsaw", "relative_patch_location")
    outputs = {"rotation": 4, "supervised": 10}.get(a.method, a.embedding)
    if a.arch == "revnet50":
        net = RevNet50(a.width, a.channels, outputs, small_input=not patch,
                       patch_strides=patch, memory_saving=bool(a.memory_saving))
    else:
        net = ResNet50V2(a.width, a.channels, outputs, small_input=not patch,
                         patch_strides=patch)
    net = net.to(dev)
    modules = [net]
    head = None
    if a.method == "jigsaw":
        head = PatchHead(9 * a.embedding, a.head_hidden, 100)
    elif a.method == "relative_patch_location":
        head = PatchHead(2 * a.embedding, a.head_hidden, 8)
    if head is not None:
        head = head.to(dev)
        modules.append(head)
    params = [q for m in modules for q in m.parameters()]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)
    mf = torch.channels_last if a.channels_last else torch.contiguous_format
    net = net.to(memory_format=mf)
    model = net
    if a.world_size > 1:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel as DDP
        backend = "nccl" if dev.type == "cuda" else "gloo"  # as sslab's auto
        dist.init_process_group(backend, init_method="tcp://" + a.rendezvous,
                                world_size=a.world_size, rank=a.rank)
        net = DDP(net, broadcast_buffers=False)
        if head is not None:
            head = DDP(head, broadcast_buffers=False)
    if a.compile:
        net = torch.compile(net)
    B = a.batch // a.world_size  # this rank's part of the global batch
    perms = torch.stack([torch.randperm(9) for _ in range(100)]).to(dev)
    views = {"rotation": 1, "supervised": 1, "exemplar": a.views}.get(a.method, 9)
    total = a.steps + a.warmup
    data = torch.randn(total, B, views, a.channels, a.image, a.image, device=dev)
    classes = torch.randint(0, 10, (B,), device=dev)
    arange = lambda n: torch.arange(n, device=dev)  # noqa: E731
    times = []
    flops = None
    for step in range(total):
        counter = None
        if a.flops and step == total - 1 and FlopCounterMode is not None:
            # Model FLOPs of the last step, outside the timed ones.
            counter = FlopCounterMode(display=False)
            counter.__enter__()
            # Model FLOPs: eager, and without RevNet's recomputation.
            net = model
            for m in model.modules():
                if hasattr(m, "memory_saving"):
                    m.memory_saving = False
        t0 = time.perf_counter()
        x = data[step]
        autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.bf16)
        autocast.__enter__()
        if a.method == "rotation":
            img = x[:, 0]
            x = torch.stack([torch.rot90(img, r, (2, 3)) for r in range(4)], 1)
            labels = arange(4).repeat(B)
            logits = net(x.flatten(0, 1).contiguous(memory_format=mf))
            loss = F.cross_entropy(logits, labels)
            acc = (logits.argmax(1) == labels).float().mean()
        elif a.method == "supervised":
            logits = net(x.flatten(0, 1).contiguous(memory_format=mf))
            loss = F.cross_entropy(logits, classes)
            acc = (logits.argmax(1) == classes).float().mean()
        elif a.method == "exemplar":
            emb = net(x.flatten(0, 1).contiguous(memory_format=mf))
            labels = arange(B).repeat_interleave(views)
            loss = triplet_semihard(emb, labels, 0.5)
            with torch.no_grad():
                d = torch.cdist(emb, emb) + torch.diag(
                    torch.full((B * views,), float("inf"), device=dev))
                acc = (labels[d.argmin(1)] == labels).float().mean()
        elif a.method == "jigsaw":
            chosen = torch.randint(0, 100, (B,), device=dev)
            cells = perms[chosen] + arange(B)[:, None] * 9
            x = x.flatten(0, 1)[cells.view(-1)]
            emb = net(x.contiguous(memory_format=mf))
            logits = head(emb.reshape(B, -1))
            loss = F.cross_entropy(logits, chosen)
            acc = (logits.argmax(1) == chosen).float().mean()
        else:
            emb = net(x.flatten(0, 1).contiguous(memory_format=mf)).reshape(B, 9, -1)
            nb = emb[:, [0, 1, 2, 3, 5, 6, 7, 8]]
            pairs = torch.cat([nb, emb[:, 4:5].expand_as(nb)], 2).reshape(B * 8, -1)
            labels = arange(8).repeat(B)
            logits = head(pairs)
            loss = F.cross_entropy(logits, labels)
            acc = (logits.argmax(1) == labels).float().mean()
        autocast.__exit__(None, None, None)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item(), acc.item()  # syncs the device, as the C++ progress hook
        if counter is not None:
            counter.__exit__(None, None, None)
            flops = counter.get_total_flops()
        else:
            times.append(time.perf_counter() - t0)
    measured = sum(times[a.warmup:])
    steps = len(times) - a.warmup
    result = {"impl": "python-compile" if a.compile else "python", "method": a.method,
              "arch": a.arch, "device": a.device, "batch": a.batch,
              "world_size": a.world_size, "threads": a.threads,
              "images_per_second": a.batch * steps / measured,
              "seconds_per_step": measured / steps,
              "parameters": sum(q.numel() for q in model.parameters())}
    if flops is not None:
        result["flops_per_step"] = flops
    print(json.dumps(result))


if __name__ == "__main__":
    main()
