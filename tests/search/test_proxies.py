"""Zero-cost proxies: synflow by hand on a 2-layer linear net, grad-norm against plain torch autograd,
and deterministic ranking by ProxyScreen."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from alphanas.data import load_dataset
from alphanas.errors import AlphanasError
from alphanas.ir import zoo
from alphanas.ir.builder import GraphBuilder
from alphanas.search.proxies import ProxyScreen, grad_norm, proxy_batch, synflow


def two_layer(bias: bool, seed: int = 0):
    b = GraphBuilder("mlp", seed=seed)
    x = b.input("x", ("N", 4))
    h = b.dense(x, 3, bias=bias, name="fc1")
    y = b.dense(h, 2, bias=bias, name="fc2")
    g = b.build(y)
    # signed weights with a clear spread, so that abs() matters
    rng = np.random.default_rng(seed + 10)
    for v in g.initializers.values():
        v.const = rng.normal(size=v.const.shape).astype(np.float32)
    return g


def test_synflow_two_layer_linear_without_bias_by_hand():
    g = two_layer(bias=False)
    w1, w2 = np.abs(g.weights["fc1.weight"]).astype(np.float64), np.abs(g.weights["fc2.weight"]).astype(np.float64)
    # R = 1^T |W2| |W1| 1 ; dR/dW1[j,i] = sum_k |W2[k,j]| ; dR/dW2[k,j] = sum_i |W1[j,i]|
    col = w2.sum(axis=0)             # [3]
    h = w1.sum(axis=1)               # [3]
    s1 = (w1 * col[:, None]).sum()
    s2 = (w2 * h[None, :]).sum()
    r = w2.sum(axis=0) @ w1.sum(axis=1)
    assert synflow(g) == pytest.approx(s1 + s2, rel=1e-12)
    # each layer of a bias-free linear chain conserves the flow: every layer contributes R
    assert synflow(g) == pytest.approx(2 * r, rel=1e-12)


def test_synflow_two_layer_linear_with_bias_by_hand():
    g = two_layer(bias=True, seed=3)
    w = {k: np.abs(v).astype(np.float64) for k, v in g.weights.items()}
    w1, b1, w2, b2 = w["fc1.weight"], w["fc1.bias"], w["fc2.weight"], w["fc2.bias"]
    h = w1.sum(axis=1) + b1          # hidden activations on the all-ones input
    c = w2.sum(axis=0)               # dR/dh
    expected = b2.sum() + (w2 * h[None, :]).sum() + (b1 * c).sum() + (w1 * c[:, None]).sum()
    assert synflow(g) == pytest.approx(expected, rel=1e-12)


def test_synflow_leaves_graph_untouched_and_ignores_signs_only_through_abs():
    g = two_layer(bias=True)
    before = {k: v.copy() for k, v in g.weights.items()}
    s = synflow(g)
    assert all(np.array_equal(before[k], g.weights[k]) for k in before)
    flipped = g.copy()
    for v in flipped.initializers.values():
        v.const = -v.const
    assert synflow(flipped) == pytest.approx(s, rel=1e-12)


class _TorchCnn(nn.Module):
    """The zoo 'cnn' at width 4, written directly in torch (the independent reference)."""

    def __init__(self, g):
        super().__init__()
        w = g.weights
        self.convs, self.bns = nn.ModuleList(), nn.ModuleList()
        for stage in range(2):
            for i in range(2):
                p = f"stage{stage}.{i}"
                cw = torch.tensor(w[f"{p}.conv.weight"])
                conv = nn.Conv2d(cw.shape[1], cw.shape[0], 3, padding=1, bias=False)
                conv.weight.data.copy_(cw)
                bn = nn.BatchNorm2d(cw.shape[0])
                bn.weight.data.copy_(torch.tensor(w[f"{p}.bn.weight"]))
                bn.bias.data.copy_(torch.tensor(w[f"{p}.bn.bias"]))
                self.convs.append(conv)
                self.bns.append(bn)
        hw = torch.tensor(w["head.weight"])
        self.head = nn.Linear(hw.shape[1], hw.shape[0])
        self.head.weight.data.copy_(hw)
        self.head.bias.data.copy_(torch.tensor(w["head.bias"]))

    def forward(self, x):
        for k, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = F.relu(bn(conv(x)))
            if k == 1:
                x = F.max_pool2d(x, 2)
        return self.head(x.mean(dim=(2, 3)))


def test_grad_norm_matches_torch_autograd():
    g = zoo.build("cnn", width=4, num_classes=4)
    ds = load_dataset("synthetic", seed=0)
    x, y = proxy_batch(ds, 32, seed=1)
    ref = _TorchCnn(g)
    ref.train()
    loss = F.cross_entropy(ref(torch.tensor(x)), torch.tensor(y))
    loss.backward()
    expected = sum(float(m.weight.grad.norm()) for m in [*ref.convs, ref.head])
    assert grad_norm(g, (x, y)) == pytest.approx(expected, rel=1e-4)


def _widths():
    return [zoo.build("cnn", width=w, num_classes=4, seed=0) for w in (2, 8, 4, 16)]


@pytest.mark.parametrize("proxy", ["synflow", "grad_norm"])
def test_proxy_screen_is_deterministic_and_keeps_top_fraction(proxy):
    screen = ProxyScreen(proxy=proxy, keep=0.5, batch_size=32, dataset_name="synthetic")
    graphs = _widths()
    s1 = screen.scores(graphs, seed=5)
    s2 = screen.scores(_widths(), seed=5)
    assert s1 == s2 and all(math.isfinite(v) for v in s1)
    order = screen.rank(graphs, seed=5)
    assert [s1[i] for i in order] == sorted(s1, reverse=True)
    kept = screen.select(graphs, seed=5)
    assert kept == sorted(order[:2])
    assert ProxyScreen(proxy=proxy, keep=0.01, dataset_name="synthetic").select(graphs, seed=5) == [order[0]]
    assert ProxyScreen(proxy=proxy, keep=1.0, dataset_name="synthetic").select(graphs, seed=5) == [0, 1, 2, 3]


def test_synflow_grows_with_width_on_the_cnn():
    s = ProxyScreen(proxy="synflow").scores(_widths())
    # widths 2, 8, 4, 16: more paths -> more synaptic flow
    assert s[0] < s[2] < s[1] < s[3]


def test_proxy_screen_rejects_bad_settings():
    with pytest.raises(AlphanasError):
        ProxyScreen(proxy="jacov")
    with pytest.raises(AlphanasError):
        ProxyScreen(keep=0.0)
