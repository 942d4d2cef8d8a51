"""Zoo models against independent, hand-written torch modules with the same weights.

Each reference module is ordinary torch code (nn.Conv2d, nn.BatchNorm2d, nn.Linear, nn.LayerNorm,
torch.cat of the class token, ...). Our weights are copied in by name (the zoo names initializers
like torch's ``state_dict`` keys), the module is exported with the TorchScript exporter
(``torch.onnx.export(..., dynamo=False)``), imported with ``alphanas.load_onnx``, and the imported
graph, the reference module and our graph must give the same outputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import alphanas
from alphanas.ir.zoo.common import make_divisible
from alphanas.ir.zoo.mobilenet import SETTINGS as MBV2_SETTINGS
from tests.ir.test_zoo_util import ort_output, perturb_weights, rel_err, torch_output
from alphanas.ir.cost import graph_params
from alphanas.ir.torch_lowering import to_torch

pytestmark = [pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export"),
              pytest.mark.filterwarnings("ignore:It is recommended that constant folding be turned off")]

# -- reference modules -----------------------------------------------------------------------------


class BasicBlock(nn.Module):
    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != width:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, width, 1, stride, bias=False), nn.BatchNorm2d(width))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet18(nn.Module):
    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for i, width in enumerate((64, 128, 256, 512)):
            blocks = []
            for j in range(2):
                blocks.append(BasicBlock(cin, width, 2 if i > 0 and j == 0 else 1))
                cin = width
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class ConvBN(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.ReLU6() if act else nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: int) -> None:
        super().__init__()
        hidden = int(round(cin * t))
        self.use_res = stride == 1 and cin == cout
        if t != 1:
            self.expand = ConvBN(cin, hidden, 1)
        self.dw = ConvBN(hidden, hidden, 3, stride, groups=hidden)
        self.project = ConvBN(hidden, cout, 1, act=False)

    def forward(self, x):
        y = self.expand(x) if hasattr(self, "expand") else x
        y = self.project(self.dw(y))
        return x + y if self.use_res else y


class MobileNetV2(nn.Module):
    """Written from the paper's Table 2 (plain strides: valid for inputs of 32x32 and more)."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.stem = ConvBN(in_channels, 32, 3, 2)
        blocks, cin = [nn.Identity()], 32
        for t, c, n, s in MBV2_SETTINGS:
            for j in range(n):
                blocks.append(InvertedResidual(cin, make_divisible(c), s if j == 0 else 1, t))
                cin = make_divisible(c)
        self.features = nn.ModuleList(blocks)
        self.head = ConvBN(cin, 1280, 1)
        self.dropout = nn.Dropout(0.2)
        self.classifier = nn.Linear(1280, num_classes)

    def forward(self, x):
        x = self.stem(x)
        for block in self.features[1:]:
            x = block(x)
        x = F.adaptive_avg_pool2d(self.head(x), 1).flatten(1)
        return self.classifier(self.dropout(x))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim, eps=1e-6)
        self.q, self.k, self.v, self.proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):
        n, t, d = x.shape
        h = self.ln1(x)
        q, k, v = (f(h).reshape(n, t, self.heads, d // self.heads).transpose(1, 2) for f in (self.q, self.k, self.v))
        attn = torch.softmax(q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1)
        return x + self.proj((attn @ v).transpose(1, 2).reshape(n, t, d))


class MLP(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.ln2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class Layer(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.attn, self.mlp = Attention(dim, heads), MLP(dim, hidden)

    def forward(self, x):
        return self.mlp(self.attn(x))


class ViT(nn.Module):
    def __init__(self, size: int, patch: int, cin: int, classes: int, dim=192, depth=12, heads=3, hidden=768) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(cin, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, (size // patch) ** 2 + 1, dim))
        self.layers = nn.ModuleList(Layer(dim, heads, hidden) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x)[:, 0])


# -- weight copying and the comparison -------------------------------------------------------------


def copy_weights(graph, module: nn.Module) -> None:
    """Load our initializers into ``module`` by name; MatMul weights are (in, out), Linear's (out, in)."""
    matmul_weights = {n.inputs[1].name for n in graph.nodes if n.op_type == "MatMul" and n.inputs[1].is_const}
    state = {}
    for key, ref in module.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        assert key in graph.initializers, f"reference weight {key} has no counterpart in the graph"
        a = graph.initializers[key].const
        state[key] = torch.from_numpy(a.T.copy() if key in matmul_weights else a.copy())
        assert state[key].shape == ref.shape, key
    missing, unexpected = module.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)


def compare(graph, module: nn.Module, tmp_path, dynamic_batch: bool, opaque_ok: frozenset = frozenset(),
            untrainable: int = 0) -> None:
    """Reference == ours; the exported reference imports, runs under onnxruntime and (when no op of
    ``opaque_ok`` stayed opaque) lowers to torch with the same outputs; it has as many parameters,
    less ``untrainable`` weights that the exporter turned into plain constants."""
    module.eval()
    copy_weights(graph, module)
    x = np.random.default_rng(0).standard_normal((2, *graph.inputs[0].shape[1:])).astype(np.float32)
    feeds = {graph.inputs[0].name: x}
    ours = ort_output(graph, feeds)
    with torch.no_grad():
        ref = module(torch.from_numpy(x)).numpy()
    assert rel_err(ref, ours) <= 1e-4
    path = tmp_path / "reference.onnx"
    # PRESERVE keeps BatchNormalization nodes (eval export would fold them into the convolutions)
    torch.onnx.export(module, (torch.from_numpy(x),), str(path), dynamo=False, input_names=["x"], output_names=["y"],
                      training=torch.onnx.TrainingMode.PRESERVE,
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}} if dynamic_batch else None)
    imported = alphanas.load_onnx(path)
    imported.verify()
    opaque = {n.op_type for n in imported.nodes if n.is_opaque}
    assert opaque <= opaque_ok
    if dynamic_batch:
        assert isinstance(imported.inputs[0].shape[0], str)
    assert rel_err(ort_output(imported, {"x": x}), ours) <= 1e-4
    if not opaque:
        assert rel_err(torch_output(imported, {"x": x}), ours) <= 1e-4
    assert graph_params(imported) == graph_params(graph) - untrainable


@pytest.mark.parametrize("size,channels", [(8, 1), (32, 3)], ids=["8x8x1", "32x32x3"])
def test_resnet18_matches_reference_module(tmp_path, size, channels):
    g = perturb_weights(alphanas.zoo.build("resnet18", input_size=size, in_channels=channels, num_classes=10, seed=3))
    compare(g, CifarResNet18(channels, 10), tmp_path, dynamic_batch=True)


def test_mobilenetv2_matches_reference_module(tmp_path):
    g = perturb_weights(alphanas.zoo.build("mobilenetv2", input_size=32, in_channels=3, num_classes=10, seed=4))
    compare(g, MobileNetV2(3, 10), tmp_path, dynamic_batch=True)


@pytest.mark.parametrize("size,patch", [(8, 2), (32, 8)])
def test_vit_ti16_matches_reference_module(tmp_path, size, patch):
    g = perturb_weights(alphanas.zoo.build("vit_ti16", input_size=size, in_channels=3, num_classes=10, seed=5))
    assert g.node("patch_embed").attrs["kernel_shape"] == [patch, patch]
    # the class-token broadcast reads the batch size, so the reference is exported with a fixed batch
    # and the class token, expanded to the fixed batch, is folded into a constant read by Concat;
    # ``x[:, 0]`` exports as Gather, which imports as a regular op and lowers to torch.
    compare(g, ViT(size, patch, 3, 10), tmp_path, dynamic_batch=False, untrainable=192)


def test_vit_with_dynamic_batch_lowers_with_shape_computations(tmp_path):
    """The class-token broadcast of a dynamic-batch export computes its target shape at run time
    (``Expand`` to ``Shape``/``Where`` results): it imports as an ``Expand`` with a computed shape, the
    model round-trips, and both onnxruntime and the torch lowering match the module at any batch."""
    module = ViT(8, 2, 3, 10, depth=1).eval()
    path = tmp_path / "vit_dynamic.onnx"
    torch.onnx.export(module, (torch.zeros(2, 3, 8, 8),), str(path), dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    imported = alphanas.load_onnx(path)
    assert isinstance(imported.inputs[0].shape[0], str)
    assert not any(n.is_opaque for n in imported.nodes)
    expand = next(n for n in imported.nodes if n.op_type == "Expand")
    assert len(expand.inputs) == 2  # the target shape, computed at run time, stays an input
    assert sum(n.op_type == "Shape" for n in imported.nodes) == 1
    lowered = to_torch(imported)
    for batch in (1, 5):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 8, 8)).astype(np.float32)
        with torch.no_grad():
            ref = module(torch.from_numpy(x)).numpy()
            got = lowered(torch.from_numpy(x)).numpy()
        assert rel_err(ort_output(imported, {"x": x}), ref) <= 1e-4
        assert rel_err(got, ref) <= 1e-4
