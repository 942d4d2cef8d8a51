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


def _gather(xshape, axis, indices):
    b = GraphBuilder("gather", seed=0)
    x = b.input("x", xshape)
    return b.build(b.op("Gather", x, b.const("idx", np.asarray(indices, np.int64)), axis=axis))


def _select(*compare: str, swap: bool = False):
    """``Where(cmp(x, y), x, y)`` through the comparison/logic ops ``compare`` (applied innermost first):
    the logic ops' outputs are bool, so their reads are checked through the selection they steer."""
    b = GraphBuilder("select", seed=0)
    x, y = b.input("x", ("N", 4, 6)), b.input("y", ("N", 1, 6))
    cond = b.op(compare[0], x, y)
    for op in compare[1:]:
        cond = b.op(op, cond) if op == "Not" else b.op(op, cond, b.op("Less", x, y))
    return b.build(b.op("Where", cond, y, x) if swap else b.op("Where", cond, x, y))


def _arg(op: str):
    """The extreme itself, picked by ``op``'s index: ``GatherElements(x, ArgMax(x))`` (indices carry no derivative)."""
    b = GraphBuilder("arg", seed=0)
    x = b.input("x", ("N", 4, 6))
    return b.build(b.op("GatherElements", x, b.op(op, x, axis=1), axis=1))


def _indexed(op: str, **attrs):
    b = GraphBuilder("idx", seed=0)
    x, u = b.input("x", (2, 3, 4)), b.input("u", (2, 1, 4))
    if op == "ScatterND":
        return b.build(b.op(op, x, b.const("i", np.array([[1], [0]], np.int64)), b.input("v", (2, 3, 4)), **attrs))
    idx = b.const("i", np.array([[[0, 2, 1, 1]], [[2, -1, 0, 0]]], np.int64))
    ins = (x, idx, u) if op == "ScatterElements" else (x, idx)
    return b.build(b.op(op, *ins, axis=1, **attrs))


def _topk():
    b = GraphBuilder("topk", seed=0)
    x = b.input("x", ("N", 4, 6))
    return b.build(b.op("TopK", x, k=3)[0])


def _scaled_by(make):
    """``x * float(make(b, x))``: a shape-valued op's result steering a float output (its own output
    carries no derivative)."""
    b = GraphBuilder("sized", seed=0)
    x = b.input("x", ("N", 4, 6))
    return b.build(b.op("Mul", x, b.op("Cast", make(b, x), to=1)))


def _recurrent(op: str, **attrs):
    """One LSTM/GRU/RNN layer over ``x`` (sequence 4, batch N, 3 features), hidden size 2, all outputs."""
    b = GraphBuilder(op.lower(), seed=0)
    x = b.input("x", (4, "N", 3))
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    rng = np.random.default_rng(0)
    w = b.const("w", (rng.standard_normal((dirs, gates * 2, 3)) * 0.5).astype(np.float32))
    r = b.const("r", (rng.standard_normal((dirs, gates * 2, 2)) * 0.5).astype(np.float32))
    return b.build(*b.op(op, x, w, r, hidden_size=2, **attrs))


def _clip_tensor():
    """``Clip(x, -|y|, |y|)``: bounds computed from a scalar input (read by every output element)."""
    b = GraphBuilder("clip_tensor", seed=0)
    x, y = b.input("x", ("N", 4, 6)), b.input("y", ())
    bound = b.op("Abs", y)
    return b.build(b.op("Clip", x, b.op("Neg", bound), bound))


def _split():
    b = GraphBuilder("split", seed=0)
    x = b.input("x", ("N", 5, 4))
    return b.build(*b.op("Split", x, axis=1, split=[2, 3]))


def _concat():
    b = GraphBuilder("cat", seed=0)
    x, y = b.input("x", ("N", 2, 4)), b.input("y", ("N", 3, 4))
    return b.build(b.concat([x, y], axis=1))


UNARY = ["Relu", "Sigmoid", "Tanh", "Gelu", "LeakyRelu", "Elu", "Softplus", "Exp", "Erf", "Neg", "Abs", "HardSigmoid",
         "Swish", "Identity", "Dropout", "HardSwish", "Mish", "Selu"]
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
             ("conv_small", lambda: _conv(3, shape=("N", 2, 3, 3), cin=2)),
             ("conv1d", lambda: _conv(3, shape=("N", 3, 7), cin=3))],
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
    "Gather": [("gather_token", lambda: _gather(("N", 5, 4), 1, 0)),
               ("gather_rows", lambda: _gather(("N", 5, 4), 1, [3, 1, 1, 4])),
               ("gather_stride", lambda: _gather(("N", 6, 4), 1, [0, 2, 4])),
               ("gather_2d", lambda: _gather(("N", 3, 5), 2, [[0, 4], [2, 2]])),
               ("gather_one", lambda: _gather(("N", 3, 5), -1, [-1]))],
    "ConvTranspose": [("convT_up2", lambda: _one("ConvTranspose", consts=[np.ones((4, 3, 2, 2))], strides=[2, 2])),
                      ("convT_pad", lambda: _one("ConvTranspose", consts=[np.ones((4, 2, 3, 3))], pads=[1, 1, 1, 1]))],
    "Resize": [("resize_nearest2", lambda: _one("Resize", scales=[1.0, 1.0, 2.0, 2.0])),
               ("resize_linear", lambda: _one("Resize", mode="linear", sizes=[4, 9], axes=[2, 3]))],
    "ArgMax": [("argmax", lambda: _arg("ArgMax"))],
    "ArgMin": [("argmin", lambda: _arg("ArgMin"))],
    "TopK": [("topk", _topk)],
    "CumSum": [("cumsum", lambda: _one("CumSum", axis=2)),
               ("cumsum_rev", lambda: _one("CumSum", axis=1, exclusive=1, reverse=1))],
    "GatherElements": [("gather_elements", lambda: _indexed("GatherElements"))],
    "ScatterElements": [("scatter_elements", lambda: _indexed("ScatterElements")),
                        ("scatter_add", lambda: _indexed("ScatterElements", reduction="add"))],
    "ScatterND": [("scatter_nd", lambda: _indexed("ScatterND"))],
    "Expand": [("expand", lambda: _one("Expand", ("N", 4, 1, 6), shape=[1, 4, 5, 6])),
               ("expand_rank", lambda: _one("Expand", (1, 6), shape=[3, 4, 6]))],
    "Tile": [("tile", lambda: _one("Tile", repeats=[1, 1, 2, 1]))],
    "Einsum": [("einsum_bmm", lambda: _two("Einsum", ("N", 3, 4), ("N", 4, 5), equation="bij,bjk->bik")),
               ("einsum_w", lambda: _one("Einsum", ("N", 3, 4), consts=[np.ones((4, 2))], equation="...j,jk"))],
    "GroupNormalization": [("groupnorm", lambda: _one("GroupNormalization", consts=[np.ones(4), np.zeros(4)], num_groups=2))],
    "Shape": [("shape", lambda: _scaled_by(lambda b, x: b.op("Shape", x, start=2)))],
    "Size": [("size", lambda: _scaled_by(lambda b, x: b.op("Size", x)))],
    "ConstantOfShape": [("constant_of_shape", lambda: _scaled_by(
        lambda b, x: b.op("ConstantOfShape", b.op("Shape", x, start=2), value=2.0, dtype=1)))],
    "Range": [("range", lambda: _scaled_by(lambda b, x: b.op(
        "Range", *[b.const(k, np.array(v, np.int64)) for k, v in (("a", 1), ("l", 7), ("d", 1))])))],
    "PRelu": [("prelu", lambda: _one("PRelu", consts=[np.full((4, 1, 1), 0.25)]))],
    "Where": [("where_max", lambda: _select("Greater")), ("where_min", lambda: _select("Greater", swap=True))],
    **{op: [(op.lower(), lambda op=op: _select(op))] for op in ("Less", "Greater", "LessOrEqual", "GreaterOrEqual")},
    "Equal": [("equal", lambda: _select("Greater", "Equal"))],
    "Not": [("not", lambda: _select("Greater", "Not"))],
    **{op: [(op.lower(), lambda op=op: _select("Greater", op))] for op in ("And", "Or", "Xor")},
    "Squeeze": [("squeeze", lambda: _one("Squeeze", ("N", 4, 1, 6), axes=[2]))],
    "Unsqueeze": [("unsqueeze", lambda: _one("Unsqueeze", ("N", 4, 6), axes=[1]))],
    "LSTM": [("lstm", lambda: _recurrent("LSTM")), ("lstm_bidi", lambda: _recurrent("LSTM", direction="bidirectional"))],
    "GRU": [("gru", lambda: _recurrent("GRU", linear_before_reset=1))],
    "RNN": [("rnn_reverse", lambda: _recurrent("RNN", direction="reverse"))],
})
CASES["Clip"] = CASES.get("Clip", []) + [("clip_tensor", _clip_tensor)]


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


# -- random graphs (driven by a ``random.Random``, e.g. hypothesis' ``st.randoms()``) -----------------

MAX_ELEMS = 256  # per sample (batch 1): keeps full Jacobians small

RANDOM_UNARY = ["Relu", "Sigmoid", "Tanh", "Gelu", "LeakyRelu", "Elu", "Softplus", "Erf", "Neg", "Abs", "HardSigmoid",
                "Swish", "Clip"]
#: ops whose gradient is a one-hot arg-max (the oracle needs many raw samples or smoothing for them)
MAX_OPS = {"MaxPool", "GlobalMaxPool", "ReduceMax"}


def _ints(shape) -> bool:
    return all(isinstance(d, int) for d in shape)


def _numel(shape) -> int:
    return int(np.prod([d if isinstance(d, int) else 1 for d in shape]))


def _conv_out(n, k, s, p0, p1, d):
    return (n + p0 + p1 - d * (k - 1) - 1) // s + 1


def _r_conv(b, r, x, vals):
    if len(x.shape) not in (3, 4) or not _ints(x.shape[1:]):
        return None
    cin = x.shape[1]
    groups = r.choice([g for g in range(1, cin + 1) if cin % g == 0])
    cout = groups * r.choice([1, 2]) if r.random() < 0.5 else groups * r.randint(1, 3)
    n = len(x.shape) - 2
    k = [r.choice([1, 2, 3]) for _ in range(n)]
    d = r.choice([1, 1, 2])
    s = [r.choice([1, 1, 2]) for _ in range(n)]
    pads = [r.randint(0, kk - 1) for kk in k] + [r.randint(0, kk - 1) for kk in k]
    out = [_conv_out(x.shape[2 + i], k[i], s[i], pads[i], pads[n + i], d) for i in range(n)]
    if min(out) < 1:
        return None
    return b.conv(x, cout, k, stride=s, padding=pads, dilation=d, groups=groups, bias=r.random() < 0.5)


def _r_pool(b, r, x, vals):
    if len(x.shape) not in (3, 4) or not _ints(x.shape[2:]):
        return None
    n = len(x.shape) - 2
    k = [r.choice([1, 2, 3]) for _ in range(n)]
    s = [r.choice([1, 2, 3]) for _ in range(n)]
    pads = [r.randint(0, kk // 2) for kk in k] * 2
    ceil = int(r.random() < 0.3)
    for i in range(n):
        size = x.shape[2 + i] + 2 * pads[i] - k[i]
        if size < 0:
            return None
        if ceil and (-(-size // s[i])) * s[i] >= x.shape[2 + i] + pads[i]:
            return None  # the last window would start in the right padding (torch and ONNX differ there)
    op = r.choice(["MaxPool", "AveragePool"])
    extra = {"count_include_pad": r.randint(0, 1)} if op == "AveragePool" else {}
    return b.op(op, x, kernel_shape=k, strides=s, pads=pads, ceil_mode=ceil, **extra)


def _r_global_pool(b, r, x, vals):
    if len(x.shape) not in (3, 4) or not _ints(x.shape[1:]):
        return None
    return b.op(r.choice(["GlobalAveragePool", "GlobalMaxPool"]), x)


def _r_unary(b, r, x, vals):
    op = r.choice(RANDOM_UNARY)
    return b.op(op, x, min=0.0, max=6.0) if op == "Clip" else b.op(op, x)


def _r_batchnorm(b, r, x, vals):
    if len(x.shape) < 2 or not isinstance(x.shape[1], int):
        return None
    return b.batchnorm(x)


def _r_layernorm(b, r, x, vals):
    if not isinstance(x.shape[-1], int):
        return None
    return b.layernorm(x)


def _r_softmax(b, r, x, vals):
    return b.softmax(x, axis=r.randrange(-len(x.shape), len(x.shape)))


def _r_reduce(b, r, x, vals):
    rank = len(x.shape)
    axes = sorted(r.sample(range(rank), r.randint(1, min(2, rank))))
    keep = int(rank - len(axes) < 1 or r.random() < 0.5)
    return b.op(r.choice(["ReduceMean", "ReduceSum", "ReduceMax"]), x, axes=axes, keepdims=keep)


def _r_transpose(b, r, x, vals):
    perm = list(range(len(x.shape)))
    r.shuffle(perm)
    return b.transpose(x, perm)


def _r_reshape(b, r, x, vals):
    s = list(x.shape)
    if len(s) < 2 or s[0] != "N" or not _ints(s[1:]):
        return None  # keep the batch axis first (Reshape's 0 copies the dimension at the same index)
    k = r.randrange(1, len(s))
    if r.random() < 0.5 and k + 1 < len(s) and isinstance(s[k], int) and isinstance(s[k + 1], int):
        new = s[:k] + [s[k] * s[k + 1]] + s[k + 2:]  # merge two axes
    elif isinstance(s[k], int) and s[k] > 1 and len(s) < 5:
        f = [q for q in range(2, s[k] + 1) if s[k] % q == 0]
        q = r.choice(f)
        new = s[:k] + [q, s[k] // q] + s[k + 1:]  # split one axis
    else:
        return None
    return b.reshape(x, [0 if isinstance(d, str) else d for d in new])


def _r_flatten(b, r, x, vals):
    return b.flatten(x, axis=r.randint(1, len(x.shape)))


def _same_shape(vals, x):
    return [v for v in vals if v.shape == x.shape]


def _r_join(b, r, x, vals):
    """Add/Mul/Sub with an earlier value of the same shape (a residual join), a new input, or a
    broadcast per-channel gate."""
    op = r.choice(["Add", "Add", "Mul", "Sub"])
    choice = r.random()
    if choice < 0.3 and all(isinstance(d, int) or d == "N" for d in x.shape):
        y = b.input(f"in{len(b.graph.inputs)}", x.shape)
    elif choice < 0.5 and len(x.shape) >= 3 and _ints(x.shape[1:]):
        y = b.op("ReduceMean", x, axes=list(range(2, len(x.shape))), keepdims=1)
    else:
        y = r.choice(_same_shape(vals, x))
    return b.op(op, x, y) if r.random() < 0.5 else b.op(op, y, x)


def _r_concat(b, r, x, vals):
    axis = r.randrange(len(x.shape))
    if not isinstance(x.shape[axis], int):
        return None
    others = [v for v in vals if len(v.shape) == len(x.shape) and isinstance(v.shape[axis], int)
              and all(a == c for i, (a, c) in enumerate(zip(v.shape, x.shape)) if i != axis)]
    y = r.choice(others)
    return b.concat([x, y] if r.random() < 0.5 else [y, x], axis=axis)


def _r_slice(b, r, x, vals):
    axes = [k for k, d in enumerate(x.shape) if isinstance(d, int) and d >= 2]
    if not axes:
        return None
    k = r.choice(axes)
    n = x.shape[k]
    start = r.randrange(n)
    end = r.randint(start + 1, n)
    return b.op("Slice", x, starts=[start], ends=[end], axes=[k], steps=[r.choice([1, 1, 2])])


def _r_pad(b, r, x, vals):
    rank = len(x.shape)
    if rank < 3 or not _ints(x.shape[2:]):
        return None
    mode = r.choice(["constant", "constant", "reflect", "edge"])
    lim = [(d - 1 if mode == "reflect" else 2) for d in x.shape[2:]]
    sp = [r.randint(0, min(2, m)) for m in lim for _ in range(1)]
    ep = [r.randint(0, min(2, m)) for m in lim]
    return b.op("Pad", x, pads=[0, 0] + sp + [0, 0] + ep, mode=mode)


def _r_dense(b, r, x, vals):
    if not isinstance(x.shape[-1], int) or len(x.shape) < 2:
        return None
    return b.dense(x, r.randint(1, 5), bias=r.random() < 0.5)


def _r_attention(b, r, x, vals):
    """``softmax(x @ x^T) @ x`` on the last two axes (self-attention without projections)."""
    if len(x.shape) < 2 or not _ints(x.shape[-2:]):
        return None
    perm = list(range(len(x.shape)))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    s = b.op("MatMul", x, b.transpose(x, perm))
    return b.op("MatMul", b.softmax(s, axis=-1), x)


def _r_split(b, r, x, vals):
    axes = [k for k, d in enumerate(x.shape) if isinstance(d, int) and d >= 2]
    if not axes:
        return None
    k = r.choice(axes)
    first = r.randint(1, x.shape[k] - 1)
    parts = b.op("Split", x, axis=k, split=[first, x.shape[k] - first])
    return r.choice(parts)


RANDOM_OPS = [_r_conv, _r_conv, _r_pool, _r_global_pool, _r_unary, _r_unary, _r_batchnorm, _r_layernorm, _r_softmax,
              _r_reduce, _r_transpose, _r_reshape, _r_flatten, _r_join, _r_join, _r_concat, _r_slice, _r_pad,
              _r_dense, _r_attention, _r_split]


def random_graph(r, steps: int | None = None):
    """A random graph of ``steps`` (default 1-6) random layers on an ``(N, C, H, W)`` input: convolutions
    (kernel, stride, dilation, padding, groups), pools, activations, norms, softmax, reductions,
    transposes, reshapes, residual joins, concatenations, slices, pads, dense layers, attention, splits.
    Every value holds at most :data:`MAX_ELEMS` elements per sample; one or two outputs."""
    import math

    from alphanas.ir import GraphBuilder

    b = GraphBuilder("random", seed=r.randrange(1 << 30))
    x = b.input("x", ("N", r.randint(1, 4), r.randint(1, 6), r.randint(1, 6)) if r.random() < 0.8
                else ("N", r.randint(1, 4), r.randint(2, 8)))
    vals = [x]
    steps = r.randint(1, 6) if steps is None else steps
    done = 0
    for _ in range(20 * steps):
        if done >= steps:
            break
        before = len(b.graph.nodes)
        y = r.choice(RANDOM_OPS)(b, r, vals[-1] if r.random() < 0.7 else r.choice(vals), vals)
        if y is None:
            continue
        if _numel(y.shape) > MAX_ELEMS or any(isinstance(d, int) and d < 1 for d in y.shape):
            for node in b.graph.nodes[before:][::-1]:  # too large: undo the layer
                b.graph.remove_node(node)
            for v in list(b.graph.inputs):
                if not v.uses and v is not x:
                    b.graph.inputs.remove(v)
            continue
        vals.append(y)
        done += 1
    outs = [vals[-1]] if vals[-1] is not x else [b.op("Identity", x)]
    produced = [v for v in vals[1:-1] if v.producer is not None]
    if produced and r.random() < 0.3:
        outs.append(r.choice(produced))
    del math
    return b.build(*outs)
