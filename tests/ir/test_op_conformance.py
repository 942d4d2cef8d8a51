"""Op conformance: every registered op, over several attribute settings.

For each case the graph is built with the builder, then
  * exported to ONNX (checker, full check) and run under onnxruntime: the output shapes must equal
    our shape functions' (symbolic batch taken as 2), and the values must equal the torch lowering's;
  * re-imported from its own export: the structural hash must not change (export/import is stable).
Every registered op must have at least one case here (``test_every_op_is_covered``).
"""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
import torch

from alphanas.ir import GraphBuilder, from_onnx, registry, runtime, to_onnx
from alphanas.ir.cost import graph_flops, graph_macs, graph_params
from alphanas.ir.hashing import structural_hash
from alphanas.ir.torch_lowering import to_torch

BATCH = 2
CASES: dict[str, list] = {}


def case(op_type: str, *, positive: bool = False, tol: float = 1e-4, ids: list[str] | None = None):
    """Register ``fn(b, rng) -> outputs`` (a list of values) as a conformance case of ``op_type``."""

    def deco(fn):
        CASES.setdefault(op_type, []).append((fn, positive, tol))
        return fn

    return deco


def w(b: GraphBuilder, name: str, *shape, scale: float = 0.5):
    return b.const(name, (b.rng.standard_normal(shape) * scale).astype(np.float32))


# -- linear ---------------------------------------------------------------------------------------

@case("Conv")
def conv_variants(b):
    x = b.input("x", ("N", 4, 9, 10))
    return [
        b.op("Conv", x, w(b, "w1", 6, 4, 3, 3), w(b, "b1", 6)),                                     # plain, no pad
        b.op("Conv", x, w(b, "w2", 8, 2, 3, 3), w(b, "b2", 8), group=2, pads=[1, 1, 1, 1]),           # grouped
        b.op("Conv", x, w(b, "w3", 4, 1, 3, 3), None, group=4, strides=[2, 2], pads=[1, 0, 1, 2]),   # depthwise, asym pads
        b.op("Conv", x, w(b, "w4", 5, 4, 3, 2), None, dilations=[2, 3], strides=[1, 2]),              # dilated
        b.op("Conv", x, w(b, "w5", 3, 4, 1, 1), w(b, "b5", 3), strides=[3, 3]),                       # 1x1 strided
    ]


@case("Conv")
def conv_1d_3d(b):
    x1 = b.input("x1", (BATCH, 3, 11))
    x3 = b.input("x3", (BATCH, 2, 5, 6, 7))
    return [
        b.op("Conv", x1, w(b, "w1", 4, 3, 3), w(b, "b1", 4), pads=[2, 1], strides=[2]),
        b.op("Conv", x3, w(b, "w3", 4, 2, 3, 3, 3), w(b, "b3", 4), pads=[1, 1, 1, 1, 1, 1], strides=[1, 2, 2]),
    ]


@case("Gemm")
def gemm_variants(b):
    a = b.input("a", (3, 5))
    at = b.input("at", (5, 3))
    return [
        b.op("Gemm", a, w(b, "w1", 4, 5), w(b, "c1", 4), transB=1),
        b.op("Gemm", at, w(b, "w2", 5, 4), w(b, "c2", 3, 4), transA=1, alpha=0.5, beta=2.0),
        b.op("Gemm", a, w(b, "w3", 5, 4), None, alpha=-1.5),
        b.op("Gemm", at, w(b, "w4", 4, 5), b.const("c4", np.array(0.3, np.float32)), transA=1, transB=1, beta=0.5),
    ]


@case("MatMul")
def matmul_variants(b):
    x = b.input("x", ("N", 3, 4, 5))
    v = b.input("v", (5,))
    y = b.input("y", (BATCH, 1, 4, 5))
    return [
        b.op("MatMul", x, w(b, "w1", 5, 6)),            # batched @ matrix
        b.op("MatMul", y, w(b, "w2", 3, 5, 2)),         # broadcast batch dims
        b.op("MatMul", v, w(b, "w3", 2, 5, 3)),         # vector @ batched
        b.op("MatMul", x, v),                           # batched @ vector
    ]


# -- element-wise ---------------------------------------------------------------------------------

def _unary_case(op_type: str, attr_sets: list[dict], positive: bool = False, tol: float = 1e-4):
    def fn(b):
        x = b.input("x", ("N", 3, 4))
        return [b.op(op_type, x, **attrs) for attrs in attr_sets]

    case(op_type, positive=positive, tol=tol)(fn)


for _op, _attrs in {
    "Relu": [{}], "Sigmoid": [{}], "Tanh": [{}], "Exp": [{}], "Erf": [{}], "Neg": [{}], "Abs": [{}],
    "Softplus": [{}],
    "Gelu": [{}, {"approximate": "tanh"}],
    "LeakyRelu": [{}, {"alpha": 0.3}],
    "Elu": [{}, {"alpha": 0.5}],
    "HardSigmoid": [{}, {"alpha": 0.5, "beta": 0.1}],
    "Swish": [{}, {"alpha": 0.5}],
    "Softmax": [{}, {"axis": 1}, {"axis": 0}, {"axis": -2}],
    "Clip": [{"min": -0.5, "max": 0.7}, {"min": 0.1}, {"max": -0.2}, {}],
    "Identity": [{}],
    "Dropout": [{}, {"ratio": 0.2}],
    "HardSwish": [{}], "Mish": [{}],
    "Selu": [{}, {"alpha": 1.5, "gamma": 2.0}],
}.items():
    _unary_case(_op, _attrs)

for _op in ("Log", "Sqrt", "Reciprocal"):
    _unary_case(_op, [{}], positive=True)


@case("Clip")
def clip_tensor_bounds(b):
    x = b.input("x", ("N", 3, 4))
    lo, hi = b.input("lo", ()), b.input("hi", (1,))  # bounds computed at run time (a one-element tensor too)
    return [b.op("Clip", x, lo, hi), b.op("Clip", x, None, hi), b.op("Clip", x, lo)]


def _recurrent(b, op: str, x, hidden: int, *, bias: bool = True, peepholes: bool = False, **attrs):
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    name = f"{op.lower()}{len(b.graph.nodes)}"
    feat = x.shape[2]
    ins = [x, w(b, name + "_w", dirs, gates * hidden, feat), w(b, name + "_r", dirs, gates * hidden, hidden),
           w(b, name + "_b", dirs, 2 * gates * hidden) if bias else None]
    if peepholes:
        ins += [None, None, None, w(b, name + "_p", dirs, 3 * hidden)]
    return b.op(op, *ins, hidden_size=hidden, **attrs)


@case("LSTM")
def lstm_variants(b):
    x = b.input("x", ("N", 3, 3))  # (a symbolic sequence length)
    return [*_recurrent(b, "LSTM", x, 4),
            *_recurrent(b, "LSTM", x, 2, direction="bidirectional", peepholes=True, clip=0.8),
            *_recurrent(b, "LSTM", x, 3, direction="reverse", bias=False, input_forget=1,
                        activations=["HardSigmoid", "Tanh", "Relu"], activation_alpha=[0.3], activation_beta=[0.4])]


@case("GRU")
def gru_variants(b):
    x = b.input("x", ("N", 2, 3))
    return [*_recurrent(b, "GRU", x, 4), *_recurrent(b, "GRU", x, 2, direction="bidirectional", linear_before_reset=1),
            *_recurrent(b, "GRU", x, 3, direction="reverse", clip=0.5)]


@case("RNN")
def rnn_variants(b):
    x = b.input("x", ("N", 2, 3))
    return [*_recurrent(b, "RNN", x, 4), *_recurrent(b, "RNN", x, 2, direction="bidirectional", activations=["Relu", "Tanh"])]


@case("Cast")
def cast_variants(b):
    x = b.input("x", ("N", 3))
    return [b.op("Cast", x, to=onnx.TensorProto.INT64), b.op("Cast", x, to=onnx.TensorProto.DOUBLE),
            b.op("Cast", x, to=onnx.TensorProto.FLOAT16)]


def _binary_case(op_type: str, positive: bool = False):
    def fn(b):
        x = b.input("x", ("N", 3, 4))
        y = b.input("y", (4,))
        z = b.input("z", (1, 3, 1))
        c = b.const("c", np.abs(b.rng.standard_normal((3, 1))).astype(np.float32) + 0.5)
        s = b.const("s", np.array(1.5, np.float32))
        return [b.op(op_type, x, y), b.op(op_type, z, x), b.op(op_type, x, c), b.op(op_type, s, y)]

    case(op_type, positive=positive)(fn)


for _op in ("Add", "Sub", "Mul", "Div"):
    _binary_case(_op)
_binary_case("Pow", positive=True)


@case("ConvTranspose")
def conv_transpose_variants(b):
    x = b.input("x", ("N", 4, 5, 5))
    ct = lambda name, wshape, bias=True, **a: b.op(  # noqa: E731
        "ConvTranspose", x, w(b, name, *wshape), *([w(b, name + "_b", wshape[1] * a.get("group", 1))] if bias else []), **a)
    return [ct("up2", (4, 3, 2, 2), strides=[2, 2]),
            ct("up3p", (4, 2, 3, 3), strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]),
            ct("asym", (4, 3, 3, 3), bias=False, pads=[0, 1, 2, 0], dilations=[2, 1]),
            ct("grouped", (4, 2, 3, 3), strides=[1, 2], group=2)]


@case("Resize")
def resize_variants(b):
    x = b.input("x", ("N", 2, 4, 5))
    return [b.op("Resize", x, mode="nearest", scales=[1.0, 1.0, 2.0, 2.0]),
            b.op("Resize", x, mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor",
                 scales=[1.0, 1.0, 1.5, 0.6]),
            b.op("Resize", x, mode="linear", scales=[2.0, 3.0], axes=[2, 3]),
            b.op("Resize", x, mode="linear", coordinate_transformation_mode="align_corners", sizes=[7, 3], axes=[2, 3]),
            b.op("Resize", x, mode="cubic", coordinate_transformation_mode="pytorch_half_pixel", sizes=[6, 9], axes=[2, 3]),
            b.op("Resize", x, mode="cubic", exclude_outside=1, cubic_coeff_a=-0.5, scales=[1.0, 1.0, 0.8, 1.7])]


@case("ArgMax")
def argmax_variants(b):
    x = b.input("x", ("N", 3, 4))
    return [b.op("ArgMax", x, axis=1), b.op("ArgMax", x, axis=-1, keepdims=0, select_last_index=1)]


@case("ArgMin")
def argmin_variants(b):
    x = b.input("x", ("N", 3, 4))
    return [b.op("ArgMin", x, axis=2), b.op("ArgMin", x, axis=0, keepdims=0)]


@case("TopK")
def topk_variants(b):
    x = b.input("x", ("N", 3, 5))
    return [*b.op("TopK", x, k=2), *b.op("TopK", x, k=3, axis=1, largest=0)]


@case("CumSum")
def cumsum_variants(b):
    x = b.input("x", ("N", 3, 4))
    return [b.op("CumSum", x, axis=1), b.op("CumSum", x, axis=-1, exclusive=1, reverse=1)]


@case("GatherElements")
def gather_elements_variants(b):
    x = b.input("x", ("N", 3, 4))
    idx = b.const("idx", np.array([[[0, 2, 1, 1]], [[2, -1, 0, 0]]], np.int64))
    return [b.op("GatherElements", x, idx, axis=1)]


@case("ScatterElements")
def scatter_elements_variants(b):
    x, u = b.input("x", (2, 3, 4)), b.input("u", (2, 1, 4))
    idx = b.const("idx", np.array([[[0, 2, 1, 1]], [[2, -1, 0, 0]]], np.int64))
    return [b.op("ScatterElements", x, idx, u, axis=1), b.op("ScatterElements", x, idx, u, axis=1, reduction="add")]


@case("ScatterND")
def scatter_nd_variants(b):
    x, u = b.input("x", (4, 3, 2)), b.input("u", (2, 3, 2))
    idx = b.const("idx", np.array([[2], [0]], np.int64))
    return [b.op("ScatterND", x, idx, u), b.op("ScatterND", x, idx, u, reduction="mul")]


@case("Expand")
def expand_variants(b):
    x, y = b.input("x", ("N", 3, 1)), b.input("y", (3, 1))
    return [b.op("Expand", x, shape=[1, 3, 4]), b.op("Expand", y, shape=[2, 1, 5])]


@case("Expand")
def expand_to_a_computed_shape(b):
    """A zero state for a dynamic batch, as the dynamo exporter writes it: Expand(0, [Shape(x)[0], 6])."""
    x = b.input("x", ("N", 3))
    batch = b.op("Shape", x, start=0, end=1)
    target = b.op("Concat", batch, b.const("six", np.array([6], np.int64)), axis=0)
    zero = b.const("zero", np.array(0.0, np.float32))
    return [b.op("Add", b.op("Expand", zero, target, shape=["N", 6]), b.op("Tile", x, repeats=[1, 2]))]


@case("Tile")
def tile_variants(b):
    x = b.input("x", ("N", 3, 2))
    return [b.op("Tile", x, repeats=[1, 2, 3]), b.op("Tile", x, repeats=[2, 1, 1])]


@case("Einsum")
def einsum_variants(b):
    x, y = b.input("x", ("N", 3, 4)), b.input("y", ("N", 4, 5))
    return [b.op("Einsum", x, y, equation="bij,bjk->bik"), b.op("Einsum", x, equation="bij->bji"),
            b.op("Einsum", x, w(b, "wq", 4, 2), equation="...j,jk"), b.op("Einsum", x, equation="bij->b")]


@case("GroupNormalization")
def groupnorm_variants(b):
    x = b.input("x", ("N", 6, 3, 4))
    return [b.op("GroupNormalization", x, w(b, "s", 6), w(b, "bb", 6), num_groups=3),
            b.op("GroupNormalization", x, w(b, "s1", 6), w(b, "b1", 6), num_groups=6, epsilon=1e-3)]


@case("Shape")
def shape_variants(b):
    x = b.input("x", ("N", 3, 4))
    return [b.op("Shape", x), b.op("Shape", x, start=1), b.op("Shape", x, start=0, end=1)]


@case("Size")
def size_variants(b):
    return [b.op("Size", b.input("x", ("N", 3, 4)))]


@case("ConstantOfShape")
def constant_of_shape_variants(b):
    s = b.op("Shape", b.input("x", ("N", 3, 4)))
    return [b.op("ConstantOfShape", s, value=1.5, dtype=onnx.TensorProto.FLOAT),
            b.op("ConstantOfShape", s, value=7, dtype=onnx.TensorProto.INT64)]


@case("Range")
def range_variants(b):
    n = b.op("Squeeze", b.op("Shape", b.input("x", ("N", 3, 4)), start=0, end=1), axes=[0])
    return [b.op("Range", b.const("zero", np.array(0, np.int64)), n, b.const("one", np.array(1, np.int64))),
            b.op("Range", b.op("Cast", n, to=onnx.TensorProto.FLOAT), b.const("lim", np.float32(-1.0)),
                 b.const("step", np.float32(-0.5)))]


@case("PRelu")
def prelu_variants(b):
    x = b.input("x", ("N", 3, 4))
    return [b.op("PRelu", x, w(b, "slope_c", 3, 1)), b.op("PRelu", x, w(b, "slope_w", 4)),
            b.op("PRelu", x, b.input("slope", (1, 3, 4)))]


for _op in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"):
    @case(_op)
    def _compare(b, op=_op):
        x, y = b.input("x", ("N", 3, 4)), b.input("y", (4,))
        xr = b.op("Cast", b.op("Cast", x, to=onnx.TensorProto.INT32), to=onnx.TensorProto.FLOAT)  # (ties for Equal)
        return [b.op(op, x, y), b.op(op, xr, b.const("z", np.zeros((3, 1), np.float32)))]


for _op in ("And", "Or", "Xor", "Not"):
    @case(_op)
    def _logic(b, op=_op):
        x, y = b.input("x", ("N", 3, 4)), b.input("y", (4,))
        p, q = b.op("Greater", x, y), b.op("Less", y, b.const("h", np.float32(0.3)))
        return [b.op(op, p)] if op == "Not" else [b.op(op, p, q)]


@case("Where")
def where_variants(b):
    x, y = b.input("x", ("N", 3, 4)), b.input("y", (4,))
    cond = b.op("Greater", x, y)
    return [b.op("Where", cond, x, y), b.op("Where", cond, w(b, "k", 3, 1), x)]


# -- normalisation --------------------------------------------------------------------------------

def _bn(b, x, c, name):
    return b.op("BatchNormalization", x, w(b, f"{name}.s", c), w(b, f"{name}.b", c), w(b, f"{name}.m", c),
                b.const(f"{name}.v", b.rng.uniform(0.5, 2.0, c).astype(np.float32)), epsilon=1e-3)


@case("BatchNormalization")
def batchnorm_ranks(b):
    return [_bn(b, b.input("x2", ("N", 5)), 5, "bn2"), _bn(b, b.input("x3", (BATCH, 4, 6)), 4, "bn3"),
            _bn(b, b.input("x4", ("N", 3, 4, 5)), 3, "bn4"), _bn(b, b.input("x5", (BATCH, 2, 3, 4, 5)), 2, "bn5")]


@case("BatchNormalization")
def batchnorm_shared_params(b):
    # two nodes reading the same statistics lower to the functional form, not nn.BatchNorm2d
    x = b.input("x", ("N", 3, 4, 4))
    s, bias, m = w(b, "s", 3), w(b, "b", 3), w(b, "m", 3)
    v = b.const("v", np.array([0.5, 1.0, 2.0], np.float32))
    y = b.op("BatchNormalization", x, s, bias, m, v)
    return [b.op("BatchNormalization", y, s, bias, m, v)]


@case("LayerNormalization")
def layernorm_variants(b):
    x = b.input("x", ("N", 3, 4, 5))
    return [b.op("LayerNormalization", x, w(b, "s1", 5), w(b, "b1", 5)),
            b.op("LayerNormalization", x, w(b, "s2", 4, 5), None, axis=-2, epsilon=1e-3),
            b.op("LayerNormalization", x, w(b, "s3", 3, 4, 5), w(b, "b3", 3, 4, 5), axis=1)]


@case("InstanceNormalization")
def instancenorm(b):
    x = b.input("x", ("N", 3, 5, 6))
    return [b.op("InstanceNormalization", x, w(b, "s", 3), w(b, "b", 3), epsilon=1e-4)]


@case("LRN")
def lrn_variants(b):
    x = b.input("x", ("N", 7, 4, 4))
    return [b.op("LRN", x, size=5), b.op("LRN", x, size=3, alpha=1e-2, beta=0.5, bias=2.0)]


# -- pooling and reductions -----------------------------------------------------------------------

@case("MaxPool")
def maxpool_variants(b):
    x = b.input("x", ("N", 3, 9, 10))
    x1 = b.input("x1", (BATCH, 2, 11))
    return [
        b.op("MaxPool", x, kernel_shape=[3, 3], strides=[2, 2]),
        b.op("MaxPool", x, kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        b.op("MaxPool", x, kernel_shape=[3, 2], strides=[2, 3], pads=[1, 0, 1, 1], ceil_mode=1),
        b.op("MaxPool", x, kernel_shape=[2, 2], pads=[1, 1, 1, 1], dilations=[2, 2]),
        b.op("MaxPool", x1, kernel_shape=[3], strides=[2], pads=[1, 1]),
    ]


@case("AveragePool")
def avgpool_variants(b):
    x = b.input("x", ("N", 3, 9, 10))
    x3 = b.input("x3", (BATCH, 2, 5, 6, 7))
    return [
        b.op("AveragePool", x, kernel_shape=[3, 3], strides=[2, 2]),
        b.op("AveragePool", x, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        b.op("AveragePool", x, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1),
        b.op("AveragePool", x, kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        b.op("AveragePool", x, kernel_shape=[2, 3], strides=[1, 2], pads=[0, 1, 1, 2]),
        b.op("AveragePool", x3, kernel_shape=[2, 2, 2], strides=[2, 2, 2]),
    ]


@case("GlobalAveragePool")
def gap_variants(b):
    return [b.op("GlobalAveragePool", b.input("x", ("N", 3, 4, 5))), b.op("GlobalAveragePool", b.input("x1", (BATCH, 3, 7))),
            b.op("GlobalAveragePool", b.input("x3", (BATCH, 2, 3, 4, 5)))]


@case("GlobalMaxPool")
def gmp_variants(b):
    return [b.op("GlobalMaxPool", b.input("x", ("N", 3, 4, 5))), b.op("GlobalMaxPool", b.input("x1", (BATCH, 3, 7)))]


def _reduce_case(op_type: str):
    def fn(b):
        x = b.input("x", ("N", 3, 4, 5))
        return [b.op(op_type, x, axes=[2, 3]), b.op(op_type, x, axes=[-1], keepdims=0),
                b.op(op_type, x, axes=[1, 3], keepdims=0), b.op(op_type, x), b.op(op_type, x, keepdims=0)]

    case(op_type)(fn)


for _op in ("ReduceMean", "ReduceSum", "ReduceMax"):
    _reduce_case(_op)


# -- data movement --------------------------------------------------------------------------------

@case("Flatten")
def flatten_variants(b):
    x = b.input("x", ("N", 3, 4, 5))
    return [b.op("Flatten", x), b.op("Flatten", x, axis=0), b.op("Flatten", x, axis=2), b.op("Flatten", x, axis=-1),
            b.op("Flatten", x, axis=4)]


@case("Reshape")
def reshape_variants(b):
    x = b.input("x", ("N", 3, 4, 5))
    s = b.input("s", (BATCH, 6, 4))
    return [b.op("Reshape", x, shape=[0, -1]), b.op("Reshape", x, shape=[0, 12, 5]), b.op("Reshape", x, shape=[-1, 5]),
            b.op("Reshape", s, shape=[4, 3, -1]), b.op("Reshape", s, shape=[0, 0, 2, 2])]


@case("Transpose")
def transpose_variants(b):
    x = b.input("x", ("N", 3, 4, 5))
    return [b.op("Transpose", x), b.op("Transpose", x, perm=[0, 2, 3, 1]), b.op("Transpose", x, perm=[3, 0, 2, 1])]


@case("Concat")
def concat_variants(b):
    x = b.input("x", ("N", 3, 4))
    y = b.input("y", ("N", 2, 4))
    z = b.input("z", (BATCH, 3, 4))
    return [b.op("Concat", x, y, x, axis=1), b.op("Concat", x, z, axis=-1), b.op("Concat", x, z, axis=0)]


@case("Split")
def split_variants(b):
    x = b.input("x", ("N", 6, 5))
    return [*b.op("Split", x, axis=1, split=[1, 2, 3]), *b.op("Split", x, axis=-1, split=[4, 1])]


@case("Slice")
def slice_variants(b):
    x = b.input("x", ("N", 6, 7))
    big = 2**63 - 1
    return [b.op("Slice", x, starts=[1, 2], ends=[5, -1], axes=[1, 2]),
            b.op("Slice", x, starts=[0], ends=[big], axes=[-1], steps=[2]),
            b.op("Slice", x, starts=[-3], ends=[6], axes=[1], steps=[1]),
            b.op("Slice", x, starts=[0, 1, 0], ends=[big, 4, 3]),
            b.op("Slice", x, starts=[-1, 5], ends=[-big, 0], axes=[2, 1], steps=[-2, -1])]


@case("Gather")
def gather_variants(b):
    x = b.input("x", ("N", 5, 6))
    ids = b.input("ids", ("N", 3), np.int64)                  # dynamic indices (random 0/1)
    table = w(b, "table", 7, 4)                               # an embedding table: trainable
    return [
        b.op("Gather", x, b.const("i0", np.array(0, np.int64)), axis=1),           # x[:, 0] (ViT class token)
        b.op("Gather", x, b.const("i1", np.array([0, -1, 2], np.int64)), axis=2),  # negative index
        b.op("Gather", x, b.const("i2", np.array([[4, 1], [1, 3]], np.int64)), axis=-2),
        b.op("Gather", x, b.const("i3", np.array([1, 0, 1], np.int32)), axis=0),   # along the batch
        b.op("Gather", table, ids),                                                 # embedding lookup
        b.op("Gather", x, ids, axis=2),
    ]


@case("Pad")
def pad_variants(b):
    x = b.input("x", ("N", 2, 5, 6))
    return [b.op("Pad", x, pads=[0, 0, 1, 2, 0, 0, 3, 0]),
            b.op("Pad", x, pads=[0, 1, 1, 0, 0, 2, 0, 1], value=1.5),
            b.op("Pad", x, pads=[0, 0, 2, 1, 0, 0, 1, 3], mode="reflect"),
            b.op("Pad", x, pads=[0, 0, 2, 1, 0, 0, 1, 3], mode="edge"),
            b.op("Pad", x, pads=[0, 0, 2, 1, 0, 0, 1, 3], mode="wrap")]


@case("Squeeze")
def squeeze_variants(b):
    x = b.input("x", ("N", 1, 4, 1))
    return [b.op("Squeeze", x, axes=[1]), b.op("Squeeze", x, axes=[-1, 1]), b.op("Squeeze", b.input("y", (1, 3, 1, 2)))]


@case("Unsqueeze")
def unsqueeze_variants(b):
    x = b.input("x", ("N", 3, 4))
    return [b.op("Unsqueeze", x, axes=[1]), b.op("Unsqueeze", x, axes=[0, -1]), b.op("Unsqueeze", x, axes=[4, 1])]


ALL = [(op, i, entry) for op, entries in sorted(CASES.items()) for i, entry in enumerate(entries)]


def test_every_op_is_covered():
    registered = {op for _, op in registry()}
    missing = registered - set(CASES)
    assert not missing, f"ops registered without a conformance case: {sorted(missing)}"


def _concrete(d) -> int:
    """A dimension with every symbol (a symbolic expression such as ``N*60`` or ``N+2``) at BATCH."""
    if isinstance(d, int):
        return d
    if d.startswith("?"):  # a fresh unknown (a run-time value's length): no expected size
        return None
    expr = re.sub(r"[A-Za-z_?][\w?]*", str(BATCH), d)
    assert re.fullmatch(r"[\d+*() ]+", expr), d
    return int(eval(expr))  # noqa: S307  (digits, + and * only)


def _feeds(g, positive: bool):
    feeds = runtime.random_feeds(g, batch=BATCH, seed=0)
    if positive:
        feeds = {k: np.abs(v) + 0.5 for k, v in feeds.items()}
    return feeds


@pytest.mark.parametrize("op_type,index,entry", ALL, ids=[f"{op}-{i}" for op, i, _ in ALL])
def test_op_conformance(op_type, index, entry):
    fn, positive, tol = entry
    b = GraphBuilder(f"{op_type}_{index}", seed=index)
    g = b.build(*fn(b))
    assert any(n.op_type == op_type for n in g.nodes)
    model = to_onnx(g)
    onnx.checker.check_model(model, full_check=True)
    feeds = _feeds(g, positive)
    ort_out = runtime.session(model, "cpu", threads=1).run(None, feeds)
    for v, o in zip(g.outputs, ort_out):
        expect = tuple(_concrete(d) for d in v.shape)
        expect = tuple(o.shape[i] if e is None else e for i, e in enumerate(expect))  # (fresh unknowns: any size)
        assert o.shape == expect, f"{v.name}: onnxruntime shape {o.shape}, our shape function {v.shape}"
        assert o.dtype == v.dtype, f"{v.name}: onnxruntime dtype {o.dtype}, ours {v.dtype}"
    module = to_torch(g).eval()
    with torch.no_grad():
        t_out = module(*[torch.from_numpy(feeds[v.name]) for v in g.inputs])
    t_out = [t_out] if isinstance(t_out, torch.Tensor) else list(t_out)
    for v, o, t in zip(g.outputs, ort_out, t_out):
        t = t.numpy()
        assert t.shape == o.shape and t.dtype == o.dtype, (v.name, t.shape, t.dtype)
        scale = max(1.0, float(np.abs(o.astype(np.float64)).max()))
        assert float(np.abs(t.astype(np.float64) - o).max()) <= tol * scale, v.name
    # the export re-imports to the same structure (import drops Identity and Dropout by design, except
    # where one would rename a graph output: then an Identity keeps the output's name)
    again = from_onnx(model)
    if op_type in ("Identity", "Dropout"):
        assert [v.name for v in again.outputs] == [v.name for v in g.outputs]
        assert all(n.op_type in ("Identity", "Dropout") for n in again.nodes), [n.op_type for n in again.nodes]
    else:
        assert not any(n.is_opaque for n in again.nodes)
        assert structural_hash(again) == structural_hash(g)


# -- hand-computed cost counts --------------------------------------------------------------------

def test_cost_conv_dense():
    b = GraphBuilder("c", seed=0)
    x = b.input("x", ("N", 16, 8, 8))
    y = b.conv(x, 32, 3)                       # 32*16*9 + 32 = 4640 params; 32*8*8*16*9 = 294912 MACs
    y = b.conv(y, 32, 3, groups=32, bias=False, stride=2)  # depthwise: 32*9 = 288 params; 32*4*4*9 = 4608 MACs
    y = b.dense(b.flatten(b.global_avgpool(y)), 10)        # 32*10 + 10 = 330 params; 320 MACs
    g = b.build(y)
    assert graph_params(g) == 4640 + 288 + 330
    assert graph_macs(g) == 294912 + 4608 + 320
    conv1, conv2, gap, _, dense = g.nodes
    assert conv1.opdef.flops(conv1) == 2 * 294912 + 32 * 64     # bias add per output element
    assert conv2.opdef.flops(conv2) == 2 * 4608
    assert gap.opdef.flops(gap) == 32 * 16
    assert dense.opdef.macs(dense) == 320


def test_cost_norm_matmul_shared_weights():
    b = GraphBuilder("c", seed=0)
    x = b.input("x", ("N", 3, 4, 5))
    y = b.batchnorm(x)                                  # scale + bias trainable: 6; statistics are not parameters
    wm = w(b, "wm", 5, 7)
    y1 = b.op("MatMul", y, wm)                          # 3*4*7 outputs x 5 = 420 MACs
    y2 = b.op("MatMul", y, wm)                          # shared weight counted once
    g = b.build(b.add(y1, y2))
    assert graph_params(g) == 6 + 35
    assert graph_macs(g) == 2 * 420
    assert graph_params(g) == graph_params(g) and graph_flops(g) == graph_flops(g)
