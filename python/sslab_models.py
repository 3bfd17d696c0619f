"""The study's networks in PyTorch, interchangeable with sslab's C++ models.

A re-implementation of models/ (ResNet50 v1/v2, RevNet50, VGG19-BN widened by
a factor k) with the same parameter and buffer names and the same forward
pass, so that a backbone trained by the C++ trainer loads here strictly and
gives the same endpoint tensors up to float rounding.

Images are float tensors [N, C, H, W] scaled to [-1, 1]. Endpoints, in
network order:
  resnet50_v1, resnet50_v2, revnet50:
      after_root, block1, block2, block3, block4, pre_logits
  vgg19_bn:
      block1, block2, block3, block4, fc6, pre_logits
plus "logits" when the network has a head (num_outputs > 0). Spatial
endpoints are [N, C, H, W]; pre_logits and logits are [N, D].

    import sslab_models
    model = sslab_models.load("run-7-backbone.pt")        # an export
    model = sslab_models.from_checkpoint("epoch-0035.ckpt")  # or a checkpoint
    with torch.no_grad():
        features = model.forward_endpoints(images, ["block3", "pre_logits"])

Depends on torch and the standard library only. The sources this mirrors are
models/internal/{layers,resnet,revnet,vgg}.cc and trainer/pretext.cc
(PretextModelImpl::BackboneOptions); keep them in step.
"""

from __future__ import annotations

import json
import math
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ARCHITECTURES",
    "EXPORT_FORMAT",
    "CHECKPOINT_FORMAT",
    "DEFAULT_OPTIONS",
    "Backbone",
    "build",
    "load",
    "from_checkpoint",
]

# Spellings of experiment/vocabulary.h (the run config's "architecture").
ARCHITECTURES = ("resnet50_v1", "resnet50_v2", "revnet50", "vgg19_bn")

# "format" of exporter::ExportBackbone's files and of training checkpoints.
EXPORT_FORMAT = "sslab-backbone-1"
CHECKPOINT_FORMAT = "sslab.checkpoint.v1"

# models::ModelOptions' defaults; see models/model.h for what each means.
DEFAULT_OPTIONS = {
    "architecture": "resnet50_v2",
    "width": 4,
    "last_relu": True,
    "in_channels": 3,
    "num_outputs": 1000,
    "small_input": False,
    "patch_strides": False,
    "image_size": 0,
    "batch_norm_momentum": 0.1,
}

# BatchNorm eps of the official TF code (kBatchNormEps).
_BATCH_NORM_EPS = 1e-3
# Units per stage of the 50-layer networks.
_UNITS = (3, 4, 6, 3)
_RESNET_ENDPOINTS = ("after_root", "block1", "block2", "block3", "block4",
                     "pre_logits")
_VGG_ENDPOINTS = ("block1", "block2", "block3", "block4", "fc6", "pre_logits")


# --------------------------------------------------------------------------
# Options


def _resolve_options(options: dict) -> dict:
    """ModelOptions with defaults filled in, types checked and values
    validated as models::CreateModel does. Raises ValueError naming the field.
    """
    if not isinstance(options, dict):
        raise ValueError(f"model options must be a dict, got "
                         f"{type(options).__name__}")
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        # An option this module does not know may change the network: refuse
        # rather than build something else.
        raise ValueError(f"unknown model option(s) {unknown}; known: "
                         f"{sorted(DEFAULT_OPTIONS)}")
    o = dict(DEFAULT_OPTIONS)
    o.update(options)

    if o["architecture"] not in ARCHITECTURES:
        raise ValueError(f"architecture: unknown value {o['architecture']!r}; "
                         f"expected one of {ARCHITECTURES}")
    for field in ("width", "in_channels", "num_outputs", "image_size"):
        value = o[field]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{field}: expected an int, got {value!r}")
    for field in ("last_relu", "small_input", "patch_strides"):
        if not isinstance(o[field], bool):
            raise ValueError(f"{field}: expected a bool, got {o[field]!r}")
    momentum = o["batch_norm_momentum"]
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
        raise ValueError(f"batch_norm_momentum: expected a number, got "
                         f"{momentum!r}")
    o["batch_norm_momentum"] = float(momentum)

    if o["width"] < 1:
        raise ValueError(f"width: the widening factor k must be >= 1, got "
                         f"{o['width']}")
    if o["in_channels"] < 1:
        raise ValueError(f"in_channels must be >= 1, got {o['in_channels']}")
    if o["num_outputs"] < 0:
        raise ValueError(f"num_outputs must be >= 0, got {o['num_outputs']}")
    if o["image_size"] < 0:
        raise ValueError(f"image_size must be >= 0, got {o['image_size']}")
    if not 0.0 <= o["batch_norm_momentum"] <= 1.0:
        raise ValueError(f"batch_norm_momentum must be in [0, 1], got "
                         f"{o['batch_norm_momentum']}")
    if o["architecture"] == "vgg19_bn" and not o["last_relu"]:
        raise ValueError("last_relu: VGG19-BN has no (-) variant (fc7 always "
                         "ends with a ReLU)")
    if o["architecture"] == "vgg19_bn" and _vgg_fc6_kernel(o) < 1:
        raise ValueError(f"image_size: {_resolved_image_size(o)} px is too "
                         f"small for VGG19-BN (needs >= "
                         f"{16 if o['small_input'] else 32})")
    if o["architecture"] == "resnet50_v1" and not o["last_relu"]:
        raise ValueError("last_relu: ResNet50 v1 always ends with a ReLU; "
                         "v1(-) does not exist")
    return o


def _resolved_image_size(o: dict) -> int:
    """ResolvedImageSize: image_size, or its default when 0."""
    if o["image_size"] > 0:
        return o["image_size"]
    if o["small_input"]:
        return 32
    if o["patch_strides"]:
        return 64
    return 224


def _vgg_fc6_kernel(o: dict) -> int:
    """VggFc6Kernel: the spatial side left after VGG19-BN's max-pools."""
    side = _resolved_image_size(o)
    for _ in range(4 if o["small_input"] else 5):
        side //= 2
    return side


def _stage_strides(o: dict) -> Tuple[int, int, int, int]:
    return (1, 2, 2, 1 if o["patch_strides"] else 2)


# --------------------------------------------------------------------------
# Building blocks (models/internal/layers.cc)


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int,
          padding: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel, stride=stride,
                     padding=padding, bias=False)


def _batch_norm(channels: int, momentum: float) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BATCH_NORM_EPS, momentum=momentum)


def _root_max_pool(x: torch.Tensor) -> torch.Tensor:
    # Zero padding (tf.pad), not -inf: it matters for v2 and RevNet, whose
    # roots have no ReLU and can be negative.
    return F.max_pool2d(F.pad(x, (1, 1, 1, 1)), kernel_size=3, stride=2)


def _initialize_weights(module: nn.Module) -> None:
    """InitializeWeights: He-normal convs (ReLU gain), BatchNorm 1/0, linear
    He-normal without gain, zero biases."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in",
                                        nonlinearity="relu")
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.zero_()
            elif isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, mode="fan_in",
                                        nonlinearity="linear")
                if m.bias is not None:
                    m.bias.zero_()


class BottleneckV1(nn.Module):
    """ResNet v1 bottleneck: conv1x1-BN-ReLU, conv3x3(stride)-BN-ReLU,
    conv1x1-BN, + shortcut (projection conv1x1+BN when stride > 1 or the width
    changes), ReLU. Inner width = out / 4."""

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 momentum: float):
        super().__init__()
        inner = out_channels // 4
        self.conv1 = _conv(in_channels, inner, 1, 1, 0)
        self.bn1 = _batch_norm(inner, momentum)
        self.conv2 = _conv(inner, inner, 3, stride, 1)
        self.bn2 = _batch_norm(inner, momentum)
        self.conv3 = _conv(inner, out_channels, 1, 1, 0)
        self.bn3 = _batch_norm(out_channels, momentum)
        self.shortcut_conv = None
        self.shortcut_bn = None
        if stride > 1 or in_channels != out_channels:
            self.shortcut_conv = _conv(in_channels, out_channels, 1, stride, 0)
            self.shortcut_bn = _batch_norm(out_channels, momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        if self.shortcut_conv is not None:
            shortcut = self.shortcut_bn(self.shortcut_conv(x))
        else:
            shortcut = x
        return F.relu(h + shortcut)


class BottleneckV2(nn.Module):
    """ResNet v2 (pre-activation) bottleneck: BN-ReLU, then the projection (if
    any) on the pre-activated input, conv1x1, BN-ReLU-conv3x3(stride),
    BN-ReLU-conv1x1, + shortcut unless `shortcut` is False (RevNet's F)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 momentum: float, shortcut: bool = True):
        super().__init__()
        inner = out_channels // 4
        self.shortcut = shortcut
        self.bn1 = _batch_norm(in_channels, momentum)
        self.conv1 = _conv(in_channels, inner, 1, 1, 0)
        self.bn2 = _batch_norm(inner, momentum)
        self.conv2 = _conv(inner, inner, 3, stride, 1)
        self.bn3 = _batch_norm(inner, momentum)
        self.conv3 = _conv(inner, out_channels, 1, 1, 0)
        self.shortcut_conv = None
        if shortcut and (stride > 1 or in_channels != out_channels):
            self.shortcut_conv = _conv(in_channels, out_channels, 1, stride, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        h = self.conv1(pre)
        h = self.conv2(F.relu(self.bn2(h)))
        h = self.conv3(F.relu(self.bn3(h)))
        if not self.shortcut:
            return h
        if self.shortcut_conv is not None:
            return h + self.shortcut_conv(pre)
        return h + x


class ConvBnRelu(nn.Module):
    """Bias-free conv (stride 1), BatchNorm, ReLU. Children: conv, bn."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int,
                 padding: int, momentum: float):
        super().__init__()
        self.conv = _conv(in_channels, out_channels, kernel, 1, padding)
        self.bn = _batch_norm(out_channels, momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class RevStage(nn.Module):
    """A run of reversible units on `channels` channels. Children "0", "1",
    ... are the units' residual functions F (v2 bottlenecks without shortcut
    on half the channels). Each unit maps [x1, x2] to [x2, x1 + F(x2)].

    Plain autograd here: the C++ memory-saving backward computes the same
    gradients but is not needed to reproduce the forward pass."""

    def __init__(self, channels: int, units: int, momentum: float):
        super().__init__()
        if channels % 2:
            raise ValueError("RevNet needs even channels")
        self.half = channels // 2
        for i in range(units):
            self.add_module(str(i), BottleneckV2(self.half, self.half, 1,
                                                 momentum, shortcut=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for f in self.children():
            x1, x2 = x[:, :self.half], x[:, self.half:]
            x = torch.cat([x2, x1 + f(x2)], dim=1)
        return x


# --------------------------------------------------------------------------
# Networks


class Backbone(nn.Module):
    """A network that can return any of its endpoints (models::BackboneImpl).

    `options` holds the resolved model options (every field set);
    `metadata` what load() or from_checkpoint() read beside the weights
    (empty after build()). Use those three rather than the subclasses.
    """

    def __init__(self, options: dict):
        super().__init__()
        self.options = dict(options)
        self.metadata = {}

    def endpoint_names(self) -> List[str]:
        """Representation endpoints in network order (without "logits")."""
        raise NotImplementedError

    def _endpoints(self, images: torch.Tensor
                   ) -> Iterator[Tuple[str, torch.Tensor]]:
        """Yields (name, value) for every endpoint in order, logits last."""
        raise NotImplementedError

    def _all_names(self) -> List[str]:
        names = self.endpoint_names()
        if self.options["num_outputs"] > 0:
            names.append("logits")
        return names

    def forward_endpoints(self, images: torch.Tensor,
                          wanted: Optional[Sequence[str]] = None
                          ) -> Dict[str, torch.Tensor]:
        """Runs the network once and returns the `wanted` endpoints by name
        (all of them, "logits" included when the network has a head, when
        `wanted` is None or empty). Stops at the deepest wanted endpoint.
        Raises ValueError naming the valid endpoints for an unknown name
        (also "logits" without a head)."""
        names = self._all_names()
        if isinstance(wanted, str):
            wanted = [wanted]
        wanted = set(wanted) if wanted else set(names)
        unknown = sorted(wanted - set(names))
        if unknown:
            raise ValueError(f"unknown endpoint(s) {unknown}; this network "
                             f"has: {', '.join(names)}")
        deepest = max(names.index(name) for name in wanted)
        result = {}
        for index, (name, value) in enumerate(self._endpoints(images)):
            if name in wanted:
                result[name] = value
            if index == deepest:
                break
        return result

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits [N, num_outputs]; raises ValueError without a head."""
        if self.options["num_outputs"] <= 0:
            raise ValueError("forward() needs a head: num_outputs is 0")
        return self.forward_endpoints(images, ["logits"])["logits"]

    def _pooled_endpoints(self, x: torch.Tensor):
        """How ResNet and RevNet end: final_bn (+ ReLU unless last_relu is
        false) when they have one, the spatial mean as pre_logits, then the
        logits."""
        if self.final_bn is not None:
            x = self.final_bn(x)
            if self.options["last_relu"]:
                x = F.relu(x)
        x = x.mean(dim=(2, 3))
        yield "pre_logits", x
        if self.logits is not None:
            yield "logits", self.logits(x)


class ResNet(Backbone):
    """ResNet50 v1 or v2 (models/internal/resnet.cc). Parameter names:
    root_conv, root_bn (v1), block{1..4}.{i}.{conv1,bn1,...,shortcut_conv,
    shortcut_bn}, final_bn (v2), logits (with a head)."""

    def __init__(self, options: dict):
        super().__init__(options)
        o = self.options
        self.v2 = o["architecture"] != "resnet50_v1"
        m = o["batch_norm_momentum"]
        root_channels = 16 * o["width"]
        if o["small_input"]:
            self.root_conv = _conv(o["in_channels"], root_channels, 3, 1, 1)
        else:
            self.root_conv = _conv(o["in_channels"], root_channels, 7,
                                   1 if o["patch_strides"] else 2, 3)
        self.root_bn = None if self.v2 else _batch_norm(root_channels, m)

        unit_type = BottleneckV2 if self.v2 else BottleneckV1
        in_channels, out_channels = root_channels, 4 * root_channels
        for stage, (units, stride) in enumerate(zip(_UNITS,
                                                    _stage_strides(o))):
            stage_units = nn.ModuleList()
            for unit in range(units):
                stage_units.append(unit_type(in_channels, out_channels,
                                             stride if unit == 0 else 1, m))
                in_channels = out_channels
            self.add_module(f"block{stage + 1}", stage_units)
            out_channels *= 2
        self.final_bn = _batch_norm(in_channels, m) if self.v2 else None
        self.logits = (nn.Linear(in_channels, o["num_outputs"])
                       if o["num_outputs"] > 0 else None)
        _initialize_weights(self)

    def endpoint_names(self) -> List[str]:
        return list(_RESNET_ENDPOINTS)

    def _endpoints(self, images):
        x = self.root_conv(images)
        if self.root_bn is not None:
            x = F.relu(self.root_bn(x))
        if not self.options["small_input"]:
            x = _root_max_pool(x)
        yield "after_root", x
        for stage in range(1, 5):
            for unit in getattr(self, f"block{stage}"):
                x = unit(x)
            yield f"block{stage}", x
        # v1 units end with a ReLU already; last_relu is always true there.
        yield from self._pooled_endpoints(x)


class RevNet(Backbone):
    """RevNet50 (models/internal/revnet.cc). Parameter names: root_conv,
    block{1..4}.{i}.{bn1,conv1,bn2,conv2,bn3,conv3}, final_bn, logits."""

    def __init__(self, options: dict):
        super().__init__(options)
        o = self.options
        m = o["batch_norm_momentum"]
        channels = 64 * o["width"]
        # A fixed-width projection: no BatchNorm, no ReLU.
        if o["small_input"]:
            self.root_conv = _conv(o["in_channels"], channels, 3, 1, 1)
        else:
            self.root_conv = _conv(o["in_channels"], channels, 7,
                                   1 if o["patch_strides"] else 2, 3)
        for stage, units in enumerate(_UNITS):
            self.add_module(f"block{stage + 1}", RevStage(channels, units, m))
            if stage < 3:
                channels *= 2
        self.final_bn = _batch_norm(channels, m)
        self.logits = (nn.Linear(channels, o["num_outputs"])
                       if o["num_outputs"] > 0 else None)
        _initialize_weights(self)

    def endpoint_names(self) -> List[str]:
        return list(_RESNET_ENDPOINTS)

    def _endpoints(self, images):
        x = self.root_conv(images)
        if not self.options["small_input"]:
            x = _root_max_pool(x)
        yield "after_root", x
        for stage, stride in enumerate(_stage_strides(self.options)):
            if stage > 0:
                # Average pool as TF's "SAME" (a partial last window averages
                # what it covers), then zero channels on both sides to double
                # the width: no learned transition.
                if stride > 1:
                    x = F.avg_pool2d(x, kernel_size=stride, stride=stride,
                                     ceil_mode=True, count_include_pad=False)
                pad = x.size(1) // 2
                x = F.pad(x, (0, 0, 0, 0, pad, pad))
            x = getattr(self, f"block{stage + 1}")(x)
            yield f"block{stage + 1}", x
        yield from self._pooled_endpoints(x)


class Vgg(Backbone):
    """VGG19-BN (models/internal/vgg.cc). Parameter names:
    stage{1..5}.{i}.{conv,bn}, fc6.{conv,bn}, fc7.{conv,bn}, logits."""

    def __init__(self, options: dict):
        super().__init__(options)
        o = self.options
        m = o["batch_norm_momentum"]
        w = 8 * o["width"]
        widths = ([w] * 2, [2 * w] * 2, [4 * w] * 4, [8 * w] * 4, [8 * w] * 4)
        in_channels = o["in_channels"]
        for stage, stage_widths in enumerate(widths):
            units = nn.ModuleList()
            for out_channels in stage_widths:
                units.append(ConvBnRelu(in_channels, out_channels, 3, 1, m))
                in_channels = out_channels
            self.add_module(f"stage{stage + 1}", units)
        fc = 512 * o["width"]
        # A "valid" conv over what the pools leave of the built-for image.
        self.fc6 = ConvBnRelu(in_channels, fc, _vgg_fc6_kernel(o), 0, m)
        self.fc7 = ConvBnRelu(fc, fc, 1, 0, m)
        self.logits = (nn.Linear(fc, o["num_outputs"])
                       if o["num_outputs"] > 0 else None)
        _initialize_weights(self)

    def endpoint_names(self) -> List[str]:
        return list(_VGG_ENDPOINTS)

    def _endpoints(self, images):
        x = images
        for stage in range(1, 6):
            for unit in getattr(self, f"stage{stage}"):
                x = unit(x)
            # The paper's block1..block4 are stages 2..5, before their pools.
            if stage > 1:
                yield f"block{stage - 1}", x
            if stage > 1 or not self.options["small_input"]:
                x = F.max_pool2d(x, kernel_size=2, stride=2)
        x = self.fc6(x)
        yield "fc6", x
        # A no-op average at the built-for size; larger inputs slide fc6.
        x = self.fc7(x).mean(dim=(2, 3))
        yield "pre_logits", x
        if self.logits is not None:
            yield "logits", self.logits(x)


# --------------------------------------------------------------------------
# Entry points


def build(options: dict) -> Backbone:
    """A freshly initialised network for model `options`: a dict with (some
    of) the keys of the run config's "model" object -- architecture, width,
    last_relu, in_channels, num_outputs, small_input, patch_strides,
    image_size, batch_norm_momentum; absent keys take DEFAULT_OPTIONS.
    Raises ValueError naming the field for a bad or unknown option."""
    o = _resolve_options(options)
    if o["architecture"] in ("resnet50_v1", "resnet50_v2"):
        return ResNet(o)
    if o["architecture"] == "revnet50":
        return RevNet(o)
    return Vgg(o)


def _as_dict(value, what: str) -> dict:
    """`value` as a dict; JSON text is parsed (pickles may carry either)."""
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError as e:
            raise ValueError(f"{what} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a dict but {type(value).__name__}")
    return value


def _target_device(map_location):
    if isinstance(map_location, (str, torch.device)):
        return torch.device(map_location)
    return None


def _load_state(model: Backbone, state: dict, source: str, hint: str,
                map_location) -> Backbone:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{source} does not fit {model.options}: {e}{hint}"
                         ) from None
    device = _target_device(map_location)
    if device is not None:
        model.to(device)
    return model.eval()


def load(path, map_location="cpu") -> Backbone:
    """Loads a backbone export (exporter::ExportBackbone, format
    "sslab-backbone-1") and returns it in eval mode. The file is a dict
    {"format", "model_options", "method", "epoch", "run_id", "state_dict"};
    the network is built from "model_options" and loaded strictly.
    `model.metadata` holds method, epoch and run_id.

    Raises ValueError for another format or a state dict that does not fit
    the options exactly; OSError when the file cannot be read."""
    data = torch.load(path, map_location=map_location)
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not an sslab backbone export (not a dict)")
    found = data.get("format")
    if found != EXPORT_FORMAT:
        hint = (" (a training checkpoint: use from_checkpoint)"
                if found == CHECKPOINT_FORMAT else "")
        raise ValueError(f"{path}: format is {found!r}, expected "
                         f"{EXPORT_FORMAT!r}{hint}")
    for key in ("model_options", "state_dict"):
        if key not in data:
            raise ValueError(f"{path}: export lacks {key!r}")
    options = _as_dict(data["model_options"], f"{path}: model_options")
    state = _as_dict(data["state_dict"], f"{path}: state_dict")
    model = build(options)
    model.metadata = {key: data.get(key) for key in ("method", "epoch",
                                                      "run_id")}
    return _load_state(
        model, state, str(path),
        "\n(model_options must be the backbone's resolved options -- "
        "num_outputs, patch_strides, image_size as the trainer derived them "
        "-- not the run config's raw \"model\" object)", map_location)


def _view_size(config: dict, is_patch_method: bool) -> int:
    """trainer::ViewSize: the side of the views the backbone is trained on."""
    image_size = config.get("image_size", 224)
    if not is_patch_method:
        return image_size
    # The paper's 64 px patches of 85 px cells; std::lround rounds half up.
    return int(math.floor((image_size // 3) * 64.0 / 85.0 + 0.5))


def _backbone_options(config: dict) -> dict:
    """PretextModelImpl::BackboneOptions: the run config's "model" object
    with the fields the trainer derives from the method."""
    method = config.get("method", "rotation")
    options = dict(_as_dict(config.get("model", {}), 'config "model"'))
    if method == "rotation":
        options["num_outputs"] = 4
    elif method == "supervised":
        options["num_outputs"] = config.get("num_classes", 1000)
    elif method in ("exemplar", "jigsaw", "relative_patch_location"):
        options["num_outputs"] = config.get("embedding_dim", 1000)
    else:
        raise ValueError(f"method: unknown value {method!r}")
    is_patch_method = method in ("jigsaw", "relative_patch_location")
    options["patch_strides"] = is_patch_method
    if options.get("image_size", 0) == 0:
        options["image_size"] = _view_size(config, is_patch_method)
    return options


def from_checkpoint(path, map_location="cpu") -> Backbone:
    """Loads the backbone of a C++ training checkpoint (epoch-NNNN.ckpt) and
    returns it in eval mode. The options are derived from the checkpoint's
    config as the trainer does (num_outputs and patch_strides from the
    method, image_size from the view size when 0); tensors "backbone.*" are
    loaded strictly, the pretext head's are ignored. `model.metadata` holds
    method, epoch and step.

    Raises ValueError for another format or tensors that do not fit; OSError
    when the file cannot be read."""
    data = torch.load(path, map_location=map_location)
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not an sslab training checkpoint")
    found = data.get("format")
    if found != CHECKPOINT_FORMAT:
        hint = (" (a backbone export: use load)"
                if found == EXPORT_FORMAT else "")
        raise ValueError(f"{path}: format is {found!r}, expected "
                         f"{CHECKPOINT_FORMAT!r}{hint}")
    if not isinstance(data.get("model"), dict):
        raise ValueError(f"{path}: checkpoint lacks its \"model\" tensors")
    config = _as_dict(data.get("config", "{}"), f"{path}: config")
    model = build(_backbone_options(config))
    prefix = "backbone."
    state = {key[len(prefix):]: value for key, value in data["model"].items()
             if key.startswith(prefix)}
    model.metadata = {"method": config.get("method", "rotation"),
                      "epoch": data.get("epoch"), "step": data.get("step")}
    return _load_state(model, state, str(path), "", map_location)
