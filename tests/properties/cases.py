"""Small graphs for the property tests: one-op cases for every registered op type, zoo cuts, random graphs."""

from __future__ import annotations

import numpy as np

from alphanas.ir import GraphBuilder
from alphanas.ir.subgraph import Subgraph

X4 = ("N", 4, 6, 6)


def _one(op: str, xshape=X4, *, consts=(), name="t", **attrs):
    b = GraphBuilder(name, seed=0)
    x = b.input("x", xshape)
    cs = [b.const(f"c{i}", np.asarray(c, np.float32)) for i, c in enumerate(consts)]
    return b.build(b.op(op, x, *cs, **attrs))


def _two(op: str, sa, sb, **attrs):
    b = GraphBuilder("t", seed=0)
    x, y = b.input("x", sa), b.input("y", sb)
    out = b.op(op, x, y, **attrs)
    return b.build(*(out if isinstance(out, list) else [out]))


def _conv(k=3, stride=1, groups=1, dilation=1, padding="same", cin=4, cout=4, shape=None):
    b = GraphBuilder("conv", seed=0)
    x = b.input("x", shape or ("N", cin, 6, 6))
    return b.build(b.conv(x, cout, k, stride=stride, groups=groups, dilation=dilation, padding=padding))


def _bn():
    b = GraphBuilder("bn", seed=0)
    x = b.input("x", X4)
    return b.build(b.batchnorm(x))


def _ln(axis):
    b = GraphBuilder("ln", seed=0)
    x = b.input("x", ("N", 5, 6))
    d = (5, 6) if axis == 1 else (6,)
    return b.build(b.op("LayerNormalization", x, b.const("s", np.ones(d, np.float32)), b.const("b", np.zeros(d, np.float32)),
                        axis=axis))


def _in():
    b = GraphBuilder("in", seed=0)
    x = b.input("x", X4)
    return b.build(b.op("InstanceNormalization", x, b.const("s", np.ones(4, np.float32)), b.const("b", np.zeros(4, np.float32))))


def _gemm_const():
    b = GraphBuilder("gemm", seed=0)
    x = b.input("x", ("N", 5))
    return b.build(b.dense(x, 3))


def _matmul_const():
    b = GraphBuilder("mm", seed=0)
    x = b.input("x", ("N", 4, 5))
    return b.build(b.op("MatMul", x, b.const("w", np.ones((5, 3), np.float32))))


def _split():
    b = GraphBuilder("split", seed=0)
    x = b.input("x", ("N", 5, 4))
    return b.build(*b.op("Split", x, axis=1, split=[2, 3]))


def _concat():
    b = GraphBuilder("cat", seed=0)
    x, y = b.input("x", ("N", 2, 4)), b.input("y", ("N", 3, 4))
    return b.build(b.concat([x, y], axis=1))


UNARY = ["Relu", "Sigmoid", "Tanh", "Gelu", "LeakyRelu", "Elu", "Softplus", "Exp", "Erf", "Neg", "Abs", "HardSigmoid",
         "Swish", "Identity", "Dropout"]
POSITIVE = {"Log", "Sqrt", "Reciprocal", "Pow"}

#: op type -> list of (label, graph builder); every registered op type must appear
CASES: dict[str, list] = {op: [(op.lower(), lambda op=op: _one(op))] for op in UNARY}
CASES.update({
    "Log": [("log", lambda: _one("Log"))],
    "Sqrt": [("sqrt", lambda: _one("Sqrt"))],
    "Reciprocal": [("reciprocal", lambda: _one("Reciprocal"))],
    "Clip": [("relu6", lambda: _one("Clip", min=0.0, max=6.0))],
    "Cast": [("cast", lambda: _one("Cast", to=11))],
    "Softmax": [(f"softmax{a}", lambda a=a: _one("Softmax", ("N", 5, 6), axis=a)) for a in (0, 1, -1)],
    "Add": [("add", lambda: _two("Add", X4, X4)), ("add_bcast", lambda: _two("Add", X4, ("N", 4, 1, 1))),
            ("add_const", lambda: _one("Add", consts=[np.ones((4, 1, 1))]))],
    "Sub": [("sub_bcast", lambda: _two("Sub", X4, (6,)))],
    "Mul": [("mul_gate", lambda: _two("Mul", X4, ("N", 4, 1, 1)))],
    "Div": [("div", lambda: _two("Div", X4, X4))],
    "Pow": [("pow", lambda: _one("Pow", consts=[np.float32(2.0)]))],
    "Conv": [("conv1x1", lambda: _conv(1)), ("conv3x3", lambda: _conv(3)), ("conv_dw", lambda: _conv(3, groups=4)),
             ("conv_grouped", lambda: _conv(3, groups=2, cout=6)), ("conv_dw_mult", lambda: _conv(3, groups=4, cout=8)),
             ("conv_s2", lambda: _conv(3, stride=2)), ("conv_1x1_s2", lambda: _conv(1, stride=2)),
             ("conv_dil2", lambda: _conv(3, dilation=2)), ("conv_valid5", lambda: _conv(5, padding=0)),
             ("conv_asym", lambda: _conv([1, 3], padding=[0, 1, 0, 1])),
             ("conv_small", lambda: _conv(3, shape=("N", 2, 3, 3), cin=2)), ("conv1d", lambda: _conv(3, shape=("N", 3, 7), cin=3))],
    "Gemm": [("gemm_dense", _gemm_const), ("gemm_dyn", lambda: _two("Gemm", (4, 5), (5, 3))),
             ("gemm_dyn_t", lambda: _two("Gemm", (5, 4), (3, 5), transA=1, transB=1))],
    "MatMul": [("matmul_w", _matmul_const), ("matmul_qk", lambda: _two("MatMul", ("N", 4, 5), ("N", 5, 4))),
               ("matmul_vec", lambda: _two("MatMul", ("N", 4, 5), (5,))),
               ("matmul_bcast", lambda: _two("MatMul", ("N", 2, 4, 5), (1, 5, 3)))],
    "BatchNormalization": [("bn", _bn)],
    "LayerNormalization": [("ln_last", lambda: _ln(-1)), ("ln_axis1", lambda: _ln(1))],
    "InstanceNormalization": [("instnorm", _in)],
    "LRN": [("lrn", lambda: _one("LRN", ("N", 6, 3, 3), size=3))],
    "MaxPool": [("maxpool2", lambda: _one("MaxPool", kernel_shape=[2, 2], strides=[2, 2])),
                ("maxpool3s2p1", lambda: _one("MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))],
    "AveragePool": [("avgpool2", lambda: _one("AveragePool", kernel_shape=[2, 2], strides=[2, 2])),
                    ("avgpool3s1", lambda: _one("AveragePool", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])),
                    ("avgpool_whole", lambda: _one("AveragePool", kernel_shape=[6, 6], strides=[1, 1]))],
    "GlobalAveragePool": [("gap", lambda: _one("GlobalAveragePool"))],
    "GlobalMaxPool": [("gmp", lambda: _one("GlobalMaxPool"))],
    "ReduceMean": [("mean_hw", lambda: _one("ReduceMean", axes=[2, 3], keepdims=0)),
                   ("mean_all", lambda: _one("ReduceMean", ("N", 3, 4)))],
    "ReduceSum": [("sum_c", lambda: _one("ReduceSum", axes=[1], keepdims=1))],
    "ReduceMax": [("max_last", lambda: _one("ReduceMax", ("N", 3, 5), axes=[-1], keepdims=0))],
    "Flatten": [("flatten1", lambda: _one("Flatten", axis=1)), ("flatten2", lambda: _one("Flatten", axis=2))],
    "Reshape": [("reshape_merge", lambda: _one("Reshape", X4, shape=[0, 4, 36])),
                ("reshape_split", lambda: _one("Reshape", ("N", 6, 8), shape=[0, 6, 2, 4])),
                ("reshape_regroup", lambda: _one("Reshape", ("N", 6, 4), shape=[0, 4, 6]))],
    "Transpose": [("transpose", lambda: _one("Transpose", perm=[0, 2, 3, 1]))],
    "Concat": [("concat", _concat)],
    "Split": [("split", _split)],
    "Slice": [("slice", lambda: _one("Slice", starts=[1, 0], ends=[5, 6], axes=[2, 3], steps=[2, 3])),
              ("slice_one", lambda: _one("Slice", starts=[2], ends=[3], axes=[1]))],
    "Pad": [("pad", lambda: _one("Pad", pads=[0, 0, 1, 2, 0, 0, 2, 1])),
            ("pad_reflect", lambda: _one("Pad", pads=[0, 0, 1, 1, 0, 0, 1, 1], mode="reflect"))],
    "Squeeze": [("squeeze", lambda: _one("Squeeze", ("N", 4, 1, 6), axes=[2]))],
    "Unsqueeze": [("unsqueeze", lambda: _one("Unsqueeze", ("N", 4, 6), axes=[1]))],
})


def eval_shape(shape, batch: int) -> tuple[int, ...]:
    """A shape with symbolic dimensions (``"N"``, ``"N*4"``) evaluated at ``N = batch``."""
    out = []
    for d in shape:
        if isinstance(d, int):
            out.append(d)
        else:
            total = 1
            for part in str(d).split("*"):
                total *= int(part) if part.isdigit() else batch
            out.append(total)
    return tuple(out)


def positive(op: str) -> bool:
    return op in POSITIVE


# -- zoo cuts ----------------------------------------------------------------------------------------

#: small instances of the zoo models (tensors of at most a few hundred elements per sample)
ZOO_SMALL = {
    "cnn": dict(input_size=6, width=3),
    "resnet_small": dict(input_size=6, widths=(3, 4, 4)),
    "resnet18": dict(input_size=6, width=2),
    "mobilenetv2": dict(input_size=8, width_mult=0.1),
    "efficientnet_b0": dict(input_size=8, width_mult=0.1),
    "vit_ti16": dict(input_size=4, patch_size=2, dim=6, depth=1, heads=2, mlp_dim=8),
}


def zoo_graph(name: str):
    from alphanas import zoo

    return zoo.build(name, **ZOO_SMALL[name])


def random_subgraph(graph, rng: np.random.Generator, max_nodes: int = 5, max_elems: int = 400):
    """A connected subgraph grown from a random node by random neighbours (αNAS's random_subgraph),
    or None when its boundary tensors are too large for full Jacobians."""
    nodes = graph.nodes
    start = nodes[int(rng.integers(len(nodes)))]
    chosen = {id(start): start}
    target = int(rng.integers(1, max_nodes + 1))
    for _ in range(4 * target):
        if len(chosen) >= target:
            break
        cands = []
        for n in chosen.values():
            cands += [v.producer for v in n.inputs if v is not None and v.producer is not None]
            cands += [u for v in n.outputs for u, _ in v.uses]
        cands = [c for c in cands if id(c) not in chosen]
        if not cands:
            break
        c = cands[int(rng.integers(len(cands)))]
        chosen[id(c)] = c
    sub = Subgraph(graph, chosen.values())
    if not sub.inputs or not sub.outputs:
        return None
    for v in sub.inputs + sub.outputs:
        if v.shape is None or v.numel() > max_elems:
            return None
    return sub
