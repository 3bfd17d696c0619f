"""RevNet50 as models/ builds it, in Python PyTorch eager: the peer network
of the C++ trainer benchmark on GPU (bench/gpu/run.sh).

Root conv of 64k channels (3x3 stride 1 with small_input, else 7x7 stride 2,
or stride 1 with patch_strides, then a zero-padded 3x3/2 max-pool), no
BatchNorm or ReLU after it. Four reversible stages of (3, 4, 6, 3) units at
64k, 128k, 256k, 512k channels; each unit splits the channels in halves,
y1 = x1 + F(x2), out = (x2, y1), with F a pre-activation bottleneck of the
half width and no shortcut. Between stages a 2x2 average pool (where the
stage strides) and zero channels on both sides double the width. Final BN,
ReLU, global mean, optional linear head. BatchNorm eps 1e-3.

memory_saving=True trains as models/internal/revnet.cc does: each stage is
one autograd node that keeps only its output and recomputes its units from
the inverse in the backward pass. memory_saving=False is plain autograd (the
form torch.compile traces without graph breaks).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

EPS = 1e-3


def bn(c):
    return nn.BatchNorm2d(c, eps=EPS, momentum=0.1)


class ResidualF(nn.Module):
    """BN-ReLU-conv1x1, BN-ReLU-conv3x3, BN-ReLU-conv1x1 at width c / 4."""

    def __init__(self, c):
        super().__init__()
        inner = c // 4
        self.bn1, self.conv1 = bn(c), nn.Conv2d(c, inner, 1, bias=False)
        self.bn2, self.conv2 = bn(inner), nn.Conv2d(inner, inner, 3, 1, 1, bias=False)
        self.bn3, self.conv3 = bn(inner), nn.Conv2d(inner, c, 1, bias=False)

    def forward(self, x):
        h = self.conv1(F.relu(self.bn1(x)))
        h = self.conv2(F.relu(self.bn2(h)))
        return self.conv3(F.relu(self.bn3(h)))


def run_units(units, x):
    half = x.size(1) // 2
    for f in units:
        x1, x2 = x[:, :half], x[:, half:]
        x = torch.cat([x2, x1 + f(x2)], 1)
    return x


class KeepBatchNormStats:
    """Restores the running statistics of `module` on exit, so that a unit
    recomputed in the backward pass does not count its batch twice."""

    def __init__(self, module):
        self.saved = [(b, b.clone()) for b in module.buffers()] if module.training else []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        with torch.no_grad():
            for b, v in self.saved:
                b.copy_(v)


def bf16_autocast_enabled(device_type):
    if device_type == "cuda":
        return torch.is_autocast_enabled() and torch.get_autocast_gpu_dtype() == torch.bfloat16
    return torch.is_autocast_cpu_enabled() and torch.get_autocast_cpu_dtype() == torch.bfloat16


class ReversibleStage(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, units, *params):
        with torch.no_grad():
            y = run_units(units, x)
        ctx.units = units
        ctx.bf16 = bf16_autocast_enabled(x.device.type)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        # The backward pass runs outside the caller's autocast: recompute
        # under the forward's (as models/internal/revnet.cc does).
        with torch.autocast(y.device.type, dtype=torch.bfloat16, enabled=ctx.bf16):
            return ReversibleStage.reverse(ctx, y, grad)

    @staticmethod
    def reverse(ctx, y, grad):
        units = ctx.units
        half = y.size(1) // 2
        out = y.detach()
        param_grads = []
        for f in reversed(units):
            with torch.enable_grad(), KeepBatchNormStats(f):
                x2 = out[:, :half].detach().requires_grad_(True)
                f_out = f(x2)
                x1 = out[:, half:] - f_out.detach()
                grad_y2, grad_y1 = grad[:, :half], grad[:, half:]
                params = [p for p in f.parameters() if p.requires_grad]
                g = torch.autograd.grad(f_out, [x2] + params, grad_y1, allow_unused=True)
            param_grads = list(g[1:]) + param_grads
            grad = torch.cat([grad_y1, grad_y2 + g[0]], 1)
            out = torch.cat([x1, x2.detach()], 1)
        return (grad, None, *param_grads)


class RevStage(nn.Module):
    def __init__(self, channels, units, memory_saving):
        super().__init__()
        self.units = nn.ModuleList(ResidualF(channels // 2) for _ in range(units))
        self.memory_saving = memory_saving

    def forward(self, x):
        if not (self.memory_saving and self.training and torch.is_grad_enabled()):
            return run_units(self.units, x)
        params = [p for f in self.units for p in f.parameters() if p.requires_grad]
        return ReversibleStage.apply(x, self.units, *params)


class RevNet50(nn.Module):
    def __init__(self, k, in_ch=3, num_outputs=0, small_input=False,
                 patch_strides=False, memory_saving=True):
        super().__init__()
        c = 64 * k
        self.small_input = small_input
        if small_input:
            self.root = nn.Conv2d(in_ch, c, 3, 1, 1, bias=False)
        else:
            self.root = nn.Conv2d(in_ch, c, 7, 1 if patch_strides else 2, 3, bias=False)
        self.strides = [1, 2, 2, 1 if patch_strides else 2]
        stages = []
        for stage, units in enumerate([3, 4, 6, 3]):
            if stage > 0:
                c *= 2
            stages.append(RevStage(c, units, memory_saving))
        self.stages = nn.ModuleList(stages)
        self.final_bn = bn(c)
        self.logits = nn.Linear(c, num_outputs) if num_outputs > 0 else None

    def forward(self, x):
        x = self.root(x)
        if not self.small_input:
            x = F.max_pool2d(F.pad(x, (1, 1, 1, 1)), 3, 2)
        for stage, block in enumerate(self.stages):
            if stage > 0:
                s = self.strides[stage]
                if s > 1:
                    x = F.avg_pool2d(x, s, s, ceil_mode=True, count_include_pad=False)
                pad = x.size(1) // 2
                x = F.pad(x, (0, 0, 0, 0, pad, pad))
            x = block(x)
        x = F.relu(self.final_bn(x)).mean((2, 3))
        return self.logits(x) if self.logits is not None else x
