"""Small PyTorch models exported to ONNX in the tests, with both of torch's exporters.

Each :class:`Spec` builds a tiny model (widths of a few channels, so that export and onnxruntime runs
take milliseconds), names its inputs, which of their axes are dynamic, and two concrete input sizes
for checks at more than one size. :func:`export` writes the model with the dynamo exporter
(``dynamo=True``, at its default opset; needs ``onnxscript``) or with the legacy TorchScript exporter
(``dynamo=False``) and dynamic axes named as the spec says.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class Spec:
    """A model to export: how to build it, its inputs (name -> (shape with named dynamic axes, dtype))
    and two concrete bindings of the dynamic axes."""

    name: str
    build: Callable[[], nn.Module]
    #: input name -> (shape: ints and axis names, numpy dtype name)
    inputs: dict[str, tuple[tuple, str]]
    #: two bindings of the axis names, for checks at two input sizes
    sizes: tuple[dict[str, int], dict[str, int]]
    #: axis names -> torch.export's minimum (the dynamo exporter specialises sizes 0 and 1)
    dim_min: dict[str, int] = field(default_factory=dict)
    #: axis names -> the multiple the size must be (torch.export needs it where strided and upsampled
    #: maps are joined)
    multiple: dict[str, int] = field(default_factory=dict)
    #: axis names the legacy exporter bakes in at the size traced (``sizes[0]``)
    legacy_fixed: tuple[str, ...] = ()

    def check_sizes(self, exporter: str) -> tuple[dict[str, int], dict[str, int]]:
        """The two bindings at which the export of ``exporter`` is valid."""
        if exporter != "legacy":
            return self.sizes
        first, second = self.sizes
        return first, {**second, **{d: first[d] for d in self.legacy_fixed}}

    def shape(self, input_name: str, binding: dict[str, int]) -> tuple[int, ...]:
        return tuple(d if isinstance(d, int) else binding[d] for d in self.inputs[input_name][0])

    def feeds(self, binding: dict[str, int], seed: int = 0) -> dict[str, np.ndarray]:
        """Random inputs at ``binding`` (booleans half true, integers as 0/1 masks)."""
        rng = np.random.default_rng(seed)
        out = {}
        for name, (_, dtype) in self.inputs.items():
            shape = self.shape(name, binding)
            if dtype == "bool":
                a = rng.random(shape) < 0.7
                a[..., 0] = True  # every query attends to at least one key
                out[name] = a
            else:
                out[name] = rng.standard_normal(shape).astype(dtype)
        return out


class TransformerEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)

    def forward(self, x):
        return self.encoder(x)


class Recurrent(nn.Module):
    def __init__(self, cell: type[nn.Module]) -> None:
        super().__init__()
        self.rnn = cell(input_size=4, hidden_size=6, batch_first=True)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y)


class DetectionHead(nn.Module):
    """A feature map upsampled (Resize), joined with a skip (Concat), split into box / objectness /
    class parts (Split), activated, joined and flattened into (batch, anchors * H * W, 4 + 1 + classes)."""

    def __init__(self, anchors: int = 2, classes: int = 3) -> None:
        super().__init__()
        self.anchors, self.outputs = anchors, 5 + classes
        self.stem = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.head = nn.Conv2d(4 + 3, anchors * self.outputs, 1)

    def forward(self, x):
        f = F.interpolate(torch.relu(self.stem(x)), scale_factor=2.0, mode="nearest")
        y = self.head(torch.cat([f, x], dim=1))
        b, _, h, w = y.shape
        y = y.reshape(b, self.anchors, self.outputs, h, w).permute(0, 1, 3, 4, 2)
        box, obj, cls = torch.split(y, [4, 1, self.outputs - 5], dim=-1)
        y = torch.cat([box.tanh(), obj.sigmoid(), cls.softmax(-1)], dim=-1)
        return y.reshape(b, -1, self.outputs)


class MaskedAttention(nn.Module):
    """Single-head attention whose padding mask is applied with ``Where(Not(Equal(mask, 0)))``."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.scale = dim ** -0.5

    def forward(self, x, mask):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = q @ k.transpose(-1, -2) * self.scale
        keep = torch.logical_not(torch.eq(mask.to(torch.int64), 0)).unsqueeze(1)
        scores = torch.where(keep, scores, torch.full_like(scores, -1e4))
        return scores.softmax(-1) @ v


class UNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.down1 = nn.Conv2d(2, 4, 3, padding=1)
        self.down2 = nn.Conv2d(4, 8, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.out = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        a = torch.relu(self.down1(x))
        b = torch.relu(self.down2(a))
        return self.out(torch.cat([torch.relu(self.up(b)), a], dim=1))


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.SiLU())


class TinyYolo(nn.Module):
    """A YOLO-style detector: a stride-2 backbone (/2, /4, /8, /16), a top-down pyramid (upsample and
    concatenate) and one 1x1 head per level (/8 and /16), flattened and concatenated."""

    def __init__(self, outputs: int = 7) -> None:
        super().__init__()
        self.outputs = outputs
        self.b1, self.b2 = _conv(3, 4, 2), _conv(4, 8, 2)
        self.b3, self.b4 = _conv(8, 8, 2), _conv(8, 16, 2)
        self.lateral = _conv(16 + 8, 8, 1)
        self.head8 = nn.Conv2d(8, outputs, 1)
        self.head16 = nn.Conv2d(16, outputs, 1)

    def forward(self, x):
        p8 = self.b3(self.b2(self.b1(x)))
        p16 = self.b4(p8)
        up = F.interpolate(p16, scale_factor=2.0, mode="nearest")
        p8 = self.lateral(torch.cat([up, p8], dim=1))
        outs = [self.head8(p8).flatten(2), self.head16(p16).flatten(2)]
        return torch.cat(outs, dim=2).transpose(1, 2)


class CNN3(nn.Module):
    """The user's three-convolution CNN of the issue: conv-relu-pool twice, a third convolution, global
    average pooling and a linear classifier (digits-sized: 1 channel, 8x8, 10 classes)."""

    def __init__(self, in_channels: int = 1, classes: int = 10) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(in_channels, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 16, 3, padding=1)
        self.c3 = nn.Conv2d(16, 16, 3, padding=1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = F.max_pool2d(torch.relu(self.c1(x)), 2)
        x = torch.relu(self.c2(x))
        x = torch.relu(self.c3(x))
        return self.fc(x.mean(dim=(2, 3)))


class SqueezeExcite(nn.Module):
    def __init__(self, ch: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(ch, hidden, 1), nn.Conv2d(hidden, ch, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * F.hardsigmoid(self.fc2(torch.relu(self.fc1(s))))


class InvertedResidual(nn.Module):
    """MobileNetV3's block: 1x1 expansion, depthwise 3x3, squeeze-and-excite, 1x1 projection, with a
    residual where the shapes agree."""

    def __init__(self, cin: int, hidden: int, cout: int, stride: int) -> None:
        super().__init__()
        self.residual = stride == 1 and cin == cout
        self.body = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.Hardswish(),
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.Hardswish(), SqueezeExcite(hidden, 4),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetV3Like(nn.Module):
    """A MobileNetV3-like classifier (the issue's OCR direction classifier): hard-swish stem, inverted
    residuals with squeeze-and-excite, global pooling and a linear head; height and width dynamic."""

    def __init__(self, in_channels: int = 3, classes: int = 4) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8),
                                  nn.Hardswish())
        self.blocks = nn.Sequential(InvertedResidual(8, 16, 8, 1), InvertedResidual(8, 16, 12, 2),
                                    InvertedResidual(12, 24, 12, 1))
        self.fc = nn.Linear(12, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class ConvNeXtBlock(nn.Module):
    """ConvNeXt's block: depthwise 7x7, LayerNorm over channels (channels-last), 1x1 expansion with GELU,
    1x1 projection, a per-channel scale and the residual."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(ch, ch, 7, padding=3, groups=ch)
        self.norm = nn.LayerNorm(ch)
        self.pw1, self.pw2 = nn.Linear(ch, 4 * ch), nn.Linear(4 * ch, ch)
        self.gamma = nn.Parameter(torch.full((ch,), 0.5))

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.gamma * self.pw2(F.gelu(self.pw1(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)


class ConvNeXtLike(nn.Module):
    """A ConvNeXt-like classifier: patchify stem, two blocks, global pooling, LayerNorm and a linear head."""

    def __init__(self, in_channels: int = 3, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(in_channels, 8, 2, stride=2)
        self.blocks = nn.Sequential(ConvNeXtBlock(8), ConvNeXtBlock(8))
        self.norm = nn.LayerNorm(8)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x)).mean(dim=(2, 3))
        return self.fc(self.norm(x))


SPECS: dict[str, Spec] = {s.name: s for s in [
    Spec("transformer", TransformerEncoder, {"x": (("batch", "seq", 8), "float32")},
         ({"batch": 2, "seq": 5}, {"batch": 3, "seq": 9}), legacy_fixed=("seq",)),
    Spec("lstm", lambda: Recurrent(nn.LSTM), {"x": (("batch", "seq", 4), "float32")},
         ({"batch": 2, "seq": 5}, {"batch": 3, "seq": 9})),
    Spec("gru", lambda: Recurrent(nn.GRU), {"x": (("batch", "seq", 4), "float32")},
         ({"batch": 2, "seq": 5}, {"batch": 3, "seq": 9})),
    Spec("detection_head", DetectionHead, {"images": (("batch", 3, "height", "width"), "float32")},
         ({"batch": 2, "height": 16, "width": 24}, {"batch": 3, "height": 32, "width": 16}),
         multiple={"height": 2, "width": 2}),
    Spec("masked_attention", MaskedAttention,
         {"x": (("batch", "seq", 8), "float32"), "mask": (("batch", "seq"), "bool")},
         ({"batch": 2, "seq": 5}, {"batch": 3, "seq": 9})),
    Spec("unet", UNet, {"x": (("batch", 2, "height", "width"), "float32")},
         ({"batch": 2, "height": 16, "width": 24}, {"batch": 3, "height": 32, "width": 16})),
    Spec("yolo", TinyYolo, {"images": ((1, 3, "height", "width"), "float32")},
         ({"height": 320, "width": 320}, {"height": 640, "width": 640}), multiple={"height": 16, "width": 16}),
    Spec("cnn3", CNN3, {"x": (("batch", 1, 8, 8), "float32")}, ({"batch": 2}, {"batch": 3})),
    Spec("mobilenetv3", MobileNetV3Like, {"x": (("batch", 3, "height", "width"), "float32")},
         ({"batch": 2, "height": 16, "width": 24}, {"batch": 3, "height": 32, "width": 16})),
    Spec("convnext", ConvNeXtLike, {"x": (("batch", 3, 16, 16), "float32")}, ({"batch": 2}, {"batch": 3})),
]}

EXPORTERS = ("dynamo", "legacy")


def build(spec: Spec) -> nn.Module:
    torch.manual_seed(0)
    model = spec.build().eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    return model


def assert_lowered_matches(module: nn.Module, graph, feeds: dict[str, np.ndarray], expected: list) -> None:
    """``module`` (``graph`` lowered, in eval mode) fed ``feeds`` by input name reproduces ``expected``
    (onnxruntime's outputs): same shapes, scaled error at most 1e-4."""
    from alphanas.passes.equivalence import output_error

    assert not module.training
    with torch.no_grad():
        got = module(*[torch.from_numpy(feeds[v.name]) for v in graph.inputs])
    got = got if isinstance(got, (tuple, list)) else [got]
    for e, g in zip(expected, got):
        assert e.shape == tuple(g.shape)
        assert output_error(e, g.numpy()) <= 1e-4


def export(spec: Spec, exporter: str, path: Path, static: dict[str, int] | None = None) -> Path:
    """Write ``spec``'s model to ``path`` with ``exporter`` (``"dynamo"`` or ``"legacy"``); dynamic axes
    named as in the spec, or all axes static at the binding ``static``."""
    model = build(spec)
    binding = static or spec.sizes[0]
    args = tuple(torch.from_numpy(a) for a in spec.feeds(binding).values())
    names = list(spec.inputs)
    dynamic = {n: {i: d for i, d in enumerate(spec.inputs[n][0]) if isinstance(d, str)} for n in names}
    fastpath = torch.backends.mha.get_fastpath_enabled()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.backends.mha.set_fastpath_enabled(False)  # the legacy exporter cannot write the fused encoder layer
        if exporter == "dynamo":
            shapes = None
            if static is None:
                dims: dict[str, torch.export.Dim] = {}
                for axes in dynamic.values():
                    for d in axes.values():
                        k = spec.multiple.get(d, 1)
                        base = torch.export.Dim(d if k == 1 else f"{d}_{k}", min=max(1, spec.dim_min.get(d, 2) // k))
                        dims.setdefault(d, base if k == 1 else k * base)
                shapes = tuple({i: dims[d] for i, d in axes.items()} for axes in dynamic.values())
            program = torch.onnx.export(model, args, input_names=names, dynamic_shapes=shapes, dynamo=True,
                                        verbose=False)
            program.save(str(path))
        else:
            buf = io.BytesIO()
            torch.onnx.export(model, args, buf, input_names=names, output_names=["output"], dynamo=False,
                              opset_version=17, dynamic_axes=None if static is not None else dynamic)
            path.write_bytes(buf.getvalue())
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return path


@pytest.fixture(scope="session")
def exported_model(tmp_path_factory) -> Callable[..., Path]:
    """``exported_model(name, exporter, static=None)``: the path of ``SPECS[name]`` exported with
    ``exporter``, written once per test session."""
    folder = tmp_path_factory.mktemp("exported")
    cache: dict[tuple, Path] = {}

    def get(name: str, exporter: str, static: dict[str, int] | None = None) -> Path:
        key = (name, exporter, tuple(sorted((static or {}).items())))
        if key not in cache:
            suffix = "" if static is None else "_" + "_".join(f"{k}{v}" for k, v in sorted(static.items()))
            cache[key] = export(SPECS[name], exporter, folder / f"{name}_{exporter}{suffix}.onnx", static=static)
        return cache[key]

    return get
