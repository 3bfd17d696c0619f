"""ResNet50 v2 as models/ builds it, in Python PyTorch eager: the peer network
of the C++ benchmarks (bench/trainer/trainer_bench.py,
bench/evaluator/extraction_vs_pytorch.py).

16k-channel root conv (3x3 stride 1 with small_input, else 7x7 stride 2, or
stride 1 with patch_strides, then a zero-padded 3x3/2 max-pool),
pre-activation bottlenecks (3, 4, 6, 3) with stage strides (1, 2, 2, 2) or
(1, 2, 2, 1) with patch_strides, final BN-ReLU, global mean, optional linear
head. BatchNorm eps 1e-3 as in the official code.
"""
import torch.nn as nn
import torch.nn.functional as F

EPS = 1e-3


def bn(c):
    return nn.BatchNorm2d(c, eps=EPS, momentum=0.1)


class BottleneckV2(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        inner = cout // 4
        self.bn1 = bn(cin)
        self.conv1 = nn.Conv2d(cin, inner, 1, bias=False)
        self.bn2 = bn(inner)
        self.conv2 = nn.Conv2d(inner, inner, 3, stride, 1, bias=False)
        self.bn3 = bn(inner)
        self.conv3 = nn.Conv2d(inner, cout, 1, bias=False)
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride, bias=False)
                         if stride > 1 or cin != cout else None)

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        h = self.conv1(pre)
        h = self.conv2(F.relu(self.bn2(h)))
        h = self.conv3(F.relu(self.bn3(h)))
        return h + (self.shortcut(pre) if self.shortcut is not None else x)


class ResNet50V2(nn.Module):
    def __init__(self, k, in_ch=3, num_outputs=0, small_input=False,
                 patch_strides=False):
        super().__init__()
        root = 16 * k
        self.small_input = small_input
        if small_input:
            self.root = nn.Conv2d(in_ch, root, 3, 1, 1, bias=False)
        else:
            self.root = nn.Conv2d(in_ch, root, 7, 1 if patch_strides else 2, 3,
                                  bias=False)
        strides = [1, 2, 2, 1 if patch_strides else 2]
        blocks, cin, cout = [], root, 4 * root
        for stage, n in enumerate([3, 4, 6, 3]):
            units = []
            for u in range(n):
                units.append(BottleneckV2(cin, cout, strides[stage] if u == 0 else 1))
                cin = cout
            blocks.append(nn.Sequential(*units))
            cout *= 2
        self.blocks = nn.ModuleList(blocks)
        self.final_bn = bn(cin)
        self.logits = nn.Linear(cin, num_outputs) if num_outputs > 0 else None

    def endpoints(self, x):
        """after_root, block1..block4 and pre_logits, as models/ names them."""
        x = self.root(x)
        if not self.small_input:
            x = F.max_pool2d(F.pad(x, (1, 1, 1, 1)), 3, 2)
        out = {"after_root": x}
        for n, block in enumerate(self.blocks):
            x = block(x)
            out[f"block{n + 1}"] = x
        out["pre_logits"] = F.relu(self.final_bn(x)).mean((2, 3))
        return out

    def forward(self, x):
        return self.logits(self.endpoints(x)["pre_logits"])
