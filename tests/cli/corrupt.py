"""Corruptions of valid ONNX models for the fuzz test: each takes a model and a random generator and returns
the bytes of a broken (or oddly formed) model file."""

from __future__ import annotations

import random
from collections.abc import Callable

import onnx
from onnx import TensorProto, helper


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    return m


def _pick(rng: random.Random, seq):
    return seq[rng.randrange(len(seq))] if len(seq) else None


def drop_field(m: onnx.ModelProto, rng: random.Random) -> None:
    """Clear one field somewhere: a node's inputs, outputs or op type, an initializer's data or dims, the
    graph's inputs or outputs, the opset imports, a value's type."""
    node, init = _pick(rng, m.graph.node), _pick(rng, m.graph.initializer)
    choice = rng.randrange(9)
    if choice == 0 and node is not None:
        del node.input[:]
    elif choice == 1 and node is not None:
        del node.output[:]
    elif choice == 2 and node is not None:
        node.op_type = ""
    elif choice == 3 and init is not None:
        init.ClearField("raw_data")
        init.ClearField("float_data")
    elif choice == 4 and init is not None:
        del init.dims[:]
    elif choice == 5:
        del m.graph.input[:]
    elif choice == 6:
        del m.graph.output[:]
    elif choice == 7:
        del m.opset_import[:]
    elif m.graph.input:
        _pick(rng, m.graph.input).ClearField("type")


def wrong_type(m: onnx.ModelProto, rng: random.Random) -> None:
    """A wrong element type (valid or not), an attribute of the wrong kind, or data of the wrong size."""
    choice = rng.randrange(4)
    if choice == 0 and m.graph.input:
        _pick(rng, m.graph.input).type.tensor_type.elem_type = rng.choice([0, 2, 3, 7, 8, 9, 16, 23, 99])
    elif choice == 1 and m.graph.initializer:
        _pick(rng, m.graph.initializer).data_type = rng.choice([0, 6, 7, 9, 10, 11, 99])
    elif choice == 2:
        node = _pick(rng, m.graph.node)
        if node is not None:
            attr = _pick(rng, node.attribute)
            if attr is None:
                node.attribute.append(helper.make_attribute(rng.choice(["axis", "kernel_shape", "pads"]), 1.5))
            else:
                attr.type = rng.choice([onnx.AttributeProto.FLOAT, onnx.AttributeProto.STRING,
                                        onnx.AttributeProto.INTS, onnx.AttributeProto.GRAPH])
    elif m.graph.initializer:
        t = _pick(rng, m.graph.initializer)
        t.raw_data = t.raw_data[: len(t.raw_data) // 2]


def cycle(m: onnx.ModelProto, rng: random.Random) -> None:
    """Make an earlier node read a later node's output (or its own)."""
    nodes = list(m.graph.node)
    if len(nodes) < 1:
        return
    i = rng.randrange(len(nodes))
    j = rng.randrange(i, len(nodes))
    if nodes[i].input and nodes[j].output:
        nodes[i].input[rng.randrange(len(nodes[i].input))] = nodes[j].output[0]


def bad_dims(m: onnx.ModelProto, rng: random.Random) -> None:
    """A huge, negative or zero dimension on an input, an output or an initializer."""
    value = rng.choice([-1, -7, 0, 2**31, 2**40, 2**62])
    choice = rng.randrange(3)
    if choice == 0 and m.graph.input:
        dims = _pick(rng, m.graph.input).type.tensor_type.shape.dim
        if dims:
            d = _pick(rng, dims)
            d.Clear()
            d.dim_value = value
    elif choice == 1 and m.graph.output:
        dims = _pick(rng, m.graph.output).type.tensor_type.shape.dim
        if dims:
            _pick(rng, dims).dim_value = value
    elif m.graph.initializer:
        t = _pick(rng, m.graph.initializer)
        if t.dims:
            t.dims[rng.randrange(len(t.dims))] = value


def opset(m: onnx.ModelProto, rng: random.Random) -> None:
    """Another default-domain opset (old, new, unknown), a second one, or an odd extra domain."""
    choice = rng.randrange(4)
    if choice == 0 and m.opset_import:
        m.opset_import[0].version = rng.choice([1, 6, 8, 10, 13, 22, 25, 30, 1000])
    elif choice == 1:
        m.opset_import.append(helper.make_opsetid("", rng.choice([11, 17])))
    elif choice == 2:
        m.opset_import.append(helper.make_opsetid(rng.choice(["ai.onnx.ml", "com.microsoft", "x.y"]), 1))
    else:
        m.ir_version = rng.choice([0, 1, 3, 99])


def broken_subgraph(m: onnx.ModelProto, rng: random.Random) -> None:
    """An ``If`` on the first input whose branches are broken (empty, dangling, mistyped, wrong arity)."""
    if not m.graph.input or not m.graph.output:
        return
    x, y = m.graph.input[0].name, m.graph.output[0].name
    out = helper.make_tensor_value_info("branch_out", TensorProto.FLOAT, None)
    kind = rng.randrange(4)
    then_nodes = [] if kind == 0 else [helper.make_node("Relu", ["ghost" if kind == 1 else x], ["branch_out"])]
    then_g = helper.make_graph(then_nodes, "then", [], [out] if kind != 3 else [])
    else_g = helper.make_graph([helper.make_node("Identity", [x], ["branch_out"])], "else", [],
                               [helper.make_tensor_value_info("branch_out", rng.choice([1, 7, 9]), None)])
    cond = "cond_" + str(rng.randrange(1000))
    m.graph.node.append(helper.make_node("ReduceMax", [x], [cond + "_f"], keepdims=0))
    m.graph.node.append(helper.make_node("Cast", [cond + "_f"], [cond], to=TensorProto.BOOL))
    m.graph.node.append(helper.make_node("If", [cond], [y + "_if"], then_branch=then_g, else_branch=else_g))
    m.graph.output.append(helper.make_tensor_value_info(y + "_if", TensorProto.FLOAT, None))


CORRUPTIONS: dict[str, Callable[[onnx.ModelProto, random.Random], None]] = {
    f.__name__: f for f in (drop_field, wrong_type, cycle, bad_dims, opset, broken_subgraph)}


def corrupt(model: onnx.ModelProto, names: list[str], seed: int, truncate: float | None = None) -> bytes:
    """``model`` with the corruptions ``names`` applied in order (seeded), serialised; ``truncate`` (a
    fraction) cuts the bytes short."""
    rng = random.Random(seed)
    m = _copy(model)
    for name in names:
        CORRUPTIONS[name](m, rng)
    data = m.SerializeToString()
    return data[: int(len(data) * truncate)] if truncate is not None else data
