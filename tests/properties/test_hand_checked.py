"""Hand-checked property values: the expected tables are written out by hand from the op semantics
(rows: input axes, columns: output axes; ``.`` none, ``1`` one-to-one, ``M`` many-to-one, ``A``
all-to-one), and each is also confirmed by the autograd oracle."""

from __future__ import annotations

import numpy as np
import pytest

from alphanas.ir import GraphBuilder
from alphanas.properties import DepthProperty, MixingProperty, PropertySet
from alphanas.properties.oracle import concrete_mixing
from alphanas.properties.report import compact


def _mixing(g) -> str:
    m = MixingProperty.infer(g).matrices[0][0]
    assert concrete_mixing(g, samples=2).matrices[0][0] == m  # the oracle agrees with the hand-written table
    return compact(m)


def _conv(k, *, groups=1, stride=1, size=6, padding="same", layers=1):
    b = GraphBuilder("conv", seed=0)
    y = b.input("x", ("N", 4, size, size))
    for _ in range(layers):
        y = b.conv(y, 4, k, stride=stride, groups=groups, padding=padding)
    return b.build(y)


def test_conv_1x1_vs_3x3():
    # 1x1: each output pixel reads one pixel per channel, all channels
    assert _mixing(_conv(1)) == "1...|AAAA|..1.|...1"
    # 3x3: a 3-pixel window along H and along W, moving with the output position
    assert _mixing(_conv(3)) == "1...|AAAA|..M.|...M"


def test_depthwise_vs_dense_conv():
    assert _mixing(_conv(3, groups=4)) == "1...|.1..|..M.|...M"  # channel c reads only channel c
    assert _mixing(_conv(3, groups=1)) == "1...|AAAA|..M.|...M"  # every input channel
    assert _mixing(_conv(3, groups=2)) == "1...|.M..|..M.|...M"  # 2 of the 4 channels, moving with the output


def test_strided_conv():
    # 3x3 stride 2 on 6x6 -> 3x3: windows rows {-1..1, 1..3, 3..5} clipped: still local
    assert _mixing(_conv(3, stride=2)) == "1...|AAAA|..M.|...M"
    # 1x1 stride 2: one pixel per output, every other row
    assert _mixing(_conv(1, stride=2)) == "1...|AAAA|..1.|...1"
    # two 3x3 stride-2 convs on 6x6 -> 2x2: output row 0 reads input rows 0..3, row 1 rows 1..5 -- not all 6
    assert _mixing(_conv(3, stride=2, layers=2)) == "1...|AAAA|..M.|...M"
    # three of them: 6 -> 3 -> 2 -> 1, one output pixel that reads every input pixel
    assert _mixing(_conv(3, stride=2, layers=3)) == "1...|AAAA|AAAA|AAAA"
    # a valid 3x3 conv on a 3x3 input: the single output pixel reads the whole input
    assert _mixing(_conv(3, size=3, padding=0)) == "1...|AAAA|AAAA|AAAA"


def _pool(op, **attrs):
    b = GraphBuilder("pool", seed=0)
    x = b.input("x", ("N", 4, 6, 6))
    return b.build(b.op(op, x, **attrs))


def test_global_vs_local_pooling():
    assert _mixing(_pool("GlobalAveragePool")) == "1...|.1..|AAAA|AAAA"
    assert _mixing(_pool("GlobalMaxPool")) == "1...|.1..|AAAA|AAAA"
    assert _mixing(_pool("AveragePool", kernel_shape=[2, 2], strides=[2, 2])) == "1...|.1..|..M.|...M"
    assert _mixing(_pool("MaxPool", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])) == "1...|.1..|..M.|...M"
    # a "local" pool whose window is the whole input is global
    assert _mixing(_pool("AveragePool", kernel_shape=[6, 6], strides=[1, 1])) == "1...|.1..|AAAA|AAAA"


@pytest.mark.parametrize("axis,expected", [
    (-1, "1..|.1.|AAA"),  # tokens (N, T, D): softmax over features mixes D into every output axis
    (1, "1..|AAA|..1"),  # over tokens: T is all-to-one
    (0, "AAA|.1.|..1"),  # over the batch
])
def test_softmax_axes(axis, expected):
    b = GraphBuilder("softmax", seed=0)
    x = b.input("x", ("N", 5, 6))
    assert _mixing(b.build(b.softmax(x, axis=axis))) == expected


def test_reshape_merging_axes():
    b = GraphBuilder("reshape", seed=0)
    x = b.input("x", ("N", 4, 6, 6))
    # (N, C, H, W) -> (N, C, H*W): H and W both move one-to-one with the merged axis
    assert _mixing(b.build(b.reshape(x, [0, 4, 36]))) == "1..|.1.|..1|..1"
    b = GraphBuilder("reshape", seed=0)
    x = b.input("x", ("N", 6, 8))
    # splitting: the 8-axis moves with both new axes
    assert _mixing(b.build(b.reshape(x, [0, 6, 2, 4]))) == "1...|.1..|..11"
    b = GraphBuilder("flatten", seed=0)
    x = b.input("x", ("N", 4, 6, 6))
    assert _mixing(b.build(b.flatten(x))) == "1.|.1|.1|.1"


def _attention(mlp_only: bool = False):
    """Single-head self-attention with projections and a residual, on tokens (N, T=4, D=6)."""
    b = GraphBuilder("attn", seed=0)
    x = b.input("x", ("N", 4, 6))
    if mlp_only:
        return b.build(b.add(b.dense(b.gelu(b.dense(x, 8, name="fc1")), 6, name="fc2"), x))
    q, k, v = (b.dense(x, 6, name=n) for n in ("q", "k", "v"))
    scores = b.scale(b.op("MatMul", q, b.transpose(k, [0, 2, 1])), 1 / np.sqrt(6))
    out = b.dense(b.op("MatMul", b.softmax(scores), v), 6, name="proj")
    return b.build(b.add(out, x))


def test_attention_block_mixes_tokens_mlp_does_not():
    assert _mixing(_attention()) == "1..|AAA|AAA"  # every output token reads every token and feature
    assert _mixing(_attention(mlp_only=True)) == "1..|.1.|AAA"  # token t reads only token t
    # depth: dense, matmul, scale (linear) -> softmax -> matmul, dense, add (linear): L N L
    assert DepthProperty.infer(_attention()).depths == ((3,),)
    # the MLP: dense -> gelu -> dense, add: L N L
    assert DepthProperty.infer(_attention(mlp_only=True)).depths == ((3,),)


def test_cifarnet_depth_is_seven():
    """αNAS's example: conv, conv, relu, pool, conv, relu, pool, flatten, dense, relu, dense -> L N L N L N L."""
    b = GraphBuilder("cifarnet", seed=0)
    x = b.input("x", ("N", 3, 8, 8))
    y = b.maxpool(b.relu(b.conv(b.conv(x, 4), 4)), 2)
    y = b.maxpool(b.relu(b.conv(y, 4)), 2)
    y = b.dense(b.relu(b.dense(b.flatten(y), 8)), 10)
    g = b.build(y)
    props = PropertySet.infer(g, ("shape", "depth", "cost"))
    assert props["depth"].depths == ((7,),)
    assert props["shape"].outputs == (("N", 10),)
    # parameters by hand: convs 3*4*9+4, 4*4*9+4, 4*4*9+4; dense 16*8+8, 8*10+10
    assert props["cost"].params == (112 + 148 + 148) + (136 + 90)


def test_multi_input_residual_pairs():
    """Two inputs, two outputs: pairs are independent (None) where no path exists."""
    b = GraphBuilder("two", seed=0)
    x, y = b.input("x", ("N", 2, 4, 4)), b.input("y", ("N", 2, 4, 4))
    a = b.relu(b.conv(x, 2))
    s = b.add(a, y)
    g = b.build(a, s)
    props = PropertySet.infer(g)
    assert props["depth"].depths == ((2, 3), (None, 1))
    m = props["mixing"]
    assert m.matrices[1][0] is None
    assert compact(m.matrices[1][1]) == "1...|.1..|..1.|...1"
    assert compact(m.matrices[0][1]) == "1...|AAAA|..M.|...M"
