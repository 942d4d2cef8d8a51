"""Seed-model zoo: builds, verifies, ONNX/onnxruntime == torch, published parameter counts, options."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import alphanas
from alphanas.errors import AlphanasError
from alphanas.ir.cost import graph_params
from tests.ir.test_zoo_util import check_onnx_vs_torch, perturb_weights
from alphanas.ir.hashing import structural_hash
from alphanas.ir.torch_lowering import to_torch

MODELS = ["cnn", "resnet_small", "resnet18", "resnet34", "mobilenetv2", "efficientnet_b0", "vit_ti16"]
SMALL = [(8, 1), (32, 3)]


def test_registry_lists_every_model():
    assert set(MODELS) <= set(alphanas.zoo.names())
    assert all(alphanas.zoo.describe()[m] for m in MODELS)


@pytest.mark.parametrize("size,channels", SMALL, ids=["8x8x1", "32x32x3"])
@pytest.mark.parametrize("name", MODELS)
def test_model_onnx_runtime_matches_torch(name, size, channels):
    g = alphanas.zoo.build(name, input_size=size, in_channels=channels, num_classes=7, seed=1)
    g.verify()
    assert g.inputs[0].shape == ("N", channels, size, size)
    assert g.outputs[0].shape == ("N", 7)
    # every spatial size stays >= 1 (strides are capped on small inputs)
    for n in g.nodes:
        for v in n.outputs:
            assert all(not isinstance(d, int) or d >= 1 for d in v.shape), (n.name, v.shape)
    assert check_onnx_vs_torch(perturb_weights(g, seed=2), batch=2) <= 1e-4


# Published parameter counts (torchvision mobilenet_v2 / efficientnet_b0, timm vit_tiny_patch16_224,
# and the CIFAR ResNets of kuangliu/pytorch-cifar; BN affine parameters counted, running stats not).
PUBLISHED = [
    ("mobilenetv2", dict(input_size=224, in_channels=3, num_classes=1000), 3_504_872),
    ("efficientnet_b0", dict(input_size=224, in_channels=3, num_classes=1000), 5_288_548),
    ("vit_ti16", dict(input_size=224, in_channels=3, num_classes=1000), 5_717_416),
    ("resnet18", dict(input_size=32, in_channels=3, num_classes=10), 11_173_962),
    ("resnet34", dict(input_size=32, in_channels=3, num_classes=10), 21_282_122),
]


@pytest.mark.parametrize("name,options,count", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_parameter_counts(name, options, count):
    g = alphanas.zoo.build(name, **options)
    assert graph_params(g) == count


def _resnet_hand_count(widths, blocks, cin, classes):
    """Hand formula for the residual CNNs: conv weights + 2 BN params per channel + dense."""
    total = cin * widths[0] * 9 + 2 * widths[0]
    prev = widths[0]
    for stage, (w, n) in enumerate(zip(widths, blocks)):
        for i in range(n):
            total += prev * w * 9 + w * w * 9 + 4 * w
            if prev != w or (stage > 0 and i == 0):
                total += prev * w + 2 * w
            prev = w
    return total + prev * classes + classes


def test_resnet_small_and_width_options_match_hand_counts():
    g = alphanas.zoo.build("resnet_small")
    assert graph_params(g) == _resnet_hand_count([16, 32, 64], [1, 1, 1], 1, 10) == 77_754
    g = alphanas.zoo.build("resnet_small", widths=(8, 16), blocks=(2, 1), in_channels=3, num_classes=4)
    assert graph_params(g) == _resnet_hand_count([8, 16], [2, 1], 3, 4)
    g = alphanas.zoo.build("resnet18", width=16, num_classes=10)
    assert graph_params(g) == _resnet_hand_count([16, 32, 64, 128], [2, 2, 2, 2], 3, 10)


def _conv_strides(g):
    return [n.attrs["strides"][0] for n in g.nodes if n.op_type == "Conv"]


def test_strides_are_capped_on_small_inputs():
    # MobileNetV2 down-samples 5 times (to 1/32); on 8x8 only the first three halvings remain.
    big = alphanas.zoo.build("mobilenetv2", input_size=224)
    small = alphanas.zoo.build("mobilenetv2", input_size=8, in_channels=1)
    assert _conv_strides(big).count(2) == 5
    assert _conv_strides(small).count(2) == 3
    gap = next(n for n in small.nodes if n.op_type == "GlobalAveragePool")
    assert gap.inputs[0].shape[2:] == (1, 1)
    # the block structure does not change
    assert [n.op_type for n in big.nodes] == [n.op_type for n in small.nodes]
    r = alphanas.zoo.build("resnet18", input_size=8, in_channels=1)
    assert next(n for n in r.nodes if n.op_type == "GlobalAveragePool").inputs[0].shape[2:] == (1, 1)


def test_mobilenetv2_width_multiplier():
    g = alphanas.zoo.build("mobilenetv2", width_mult=0.5, input_size=32)
    convs = [n for n in g.nodes if n.op_type == "Conv"]
    # stem 32*0.5 = 16; first block projects to 16*0.5 = 8; the last conv stays at 1280 (multiplier < 1)
    assert convs[0].outputs[0].shape[1] == 16
    assert convs[2].outputs[0].shape[1] == 8
    assert convs[-1].outputs[0].shape[1] == 1280
    wide = alphanas.zoo.build("mobilenetv2", width_mult=1.4, input_size=32)
    assert [n for n in wide.nodes if n.op_type == "Conv"][-1].outputs[0].shape[1] == 1792
    assert graph_params(g) < 3_504_872 < graph_params(wide)


def test_efficientnet_squeeze_excite_structure():
    g = alphanas.zoo.build("efficientnet_b0", input_size=32)
    gates = [n for n in g.nodes if n.op_type == "Mul" and n.name.endswith("se.scale")]
    assert len(gates) == 16
    # block 2: input 16 channels, expanded to 96; squeeze to 16 // 4 = 4
    fc1 = g.node("blocks.2.se.fc1")
    assert fc1.inputs[1].const.shape == (4, 96, 1, 1)
    assert sum(n.op_type == "Swish" for n in g.nodes) == 1 + 16 + 15 + 16 + 1  # stem, dw, expand, SE, head


def test_vit_patch_size_and_tokens():
    g = alphanas.zoo.build("vit_ti16", input_size=32)
    assert g.node("patch_embed").attrs["kernel_shape"] == [8, 8]
    assert g.initializers["pos_embed"].const.shape == (1, 17, 192)
    g = alphanas.zoo.build("vit_ti16", input_size=32, patch_size=4, depth=2)
    assert g.initializers["pos_embed"].const.shape == (1, 65, 192)
    assert sum(n.op_type == "Softmax" for n in g.nodes) == 2
    assert alphanas.zoo.build("vit_ti16", input_size=30, depth=1).node("patch_embed").attrs["kernel_shape"] == [6, 6]
    with pytest.raises(AlphanasError, match="patch_size"):
        alphanas.zoo.build("vit_ti16", input_size=32, patch_size=5)


def test_vit_class_token_is_prepended_exactly():
    """The Pad/Sub/Add prologue equals concat(cls, tokens) + pos (checked with plain torch)."""
    g = alphanas.zoo.build("vit_ti16", input_size=8, in_channels=1, depth=1, seed=3)
    stem_out = g.node("pos.add").outputs[0]
    g.outputs[:] = [stem_out]
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        got = to_torch(g).eval()(x)
        w = torch.from_numpy(g.initializers["patch_embed.weight"].const)
        b = torch.from_numpy(g.initializers["patch_embed.bias"].const)
        tok = torch.nn.functional.conv2d(x, w, b, stride=2).flatten(2).transpose(1, 2)
        cls = torch.from_numpy(g.initializers["cls_token"].const).expand(2, -1, -1)
        want = torch.cat([cls, tok], 1) + torch.from_numpy(g.initializers["pos_embed"].const)
    assert torch.allclose(got, want, atol=1e-6)


def test_seed_determinism():
    a = alphanas.zoo.build("resnet_small", seed=5)
    b = alphanas.zoo.build("resnet_small", seed=5)
    c = alphanas.zoo.build("resnet_small", seed=6)
    wa, wb, wc = a.weights, b.weights, c.weights
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert not np.array_equal(wa["conv1.weight"], wc["conv1.weight"])
    assert structural_hash(a) == structural_hash(c)


@pytest.mark.parametrize("name,options,match", [
    ("resnet18", dict(input_size=0), "input_size"),
    ("mobilenetv2", dict(num_classes=-1), "num_classes"),
    ("mobilenetv2", dict(width_mult=0), "width_mult"),
    ("efficientnet_b0", dict(dropout=1.5), "dropout"),
    ("resnet_small", dict(blocks=(1, 1), widths=(8, 16, 32)), "blocks"),
    ("vit_ti16", dict(heads=5), "heads"),
    ("cnn", dict(depth=3), "bad option"),
    ("no_such_model", {}, "unknown zoo model"),
])
def test_bad_options_raise_alphanas_error(name, options, match):
    with pytest.raises(AlphanasError, match=match):
        alphanas.zoo.build(name, **options)


def test_resnet_small_trains_on_digits():
    """The default digits seed reaches >= 95% test accuracy in a few epochs (Adam, batch 64)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=0.2, stratify=d.target, random_state=0)
    torch.manual_seed(0)
    model = to_torch(alphanas.zoo.build("resnet_small", seed=0))
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    xtr_t, ytr_t = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for _ in range(5):
        model.train()
        perm = torch.randperm(len(ytr))
        for i in range(0, len(perm), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xtr_t[idx]), ytr_t[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean())
    assert acc >= 0.95
