"""Symbolic dimensions: ONNX's shape arithmetic (or fresh unknowns), never a refused model, never a
symbol standing for two sizes; costs unknown (not 1, not negative) until input shapes are given."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from alphanas.errors import AlphanasError
from alphanas.ir import cost, load_onnx, parse_input_shapes, save_onnx, symbolic
from alphanas.ir.opdef import broadcast_shapes, dim_product, dim_sum
from alphanas.ir.ops.linear import conv_out
from alphanas.ir.runtime import ort
from alphanas.properties.cost import CostProperty

INT_MAX = 2**63 - 1


def _save(tmp_path, nodes, inputs, outputs, initializers=(), opset=17, name="m.onnx"):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(m, path)
    return path


def _i64(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def _run(path, feeds):
    return ort().InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)


def test_window_over_a_symbol_follows_onnx():
    assert conv_out("height", 3, 2, 1, 1, 1) == "floor(height/2 - 1/2) + 1"
    assert conv_out("height", 3, 1, 1, 1, 1) == "height"  # a 'same' window keeps the size
    assert conv_out("height", 2, 2, 0, 0, 1, ceil=True) is None  # ceil mode: a fresh unknown
    quarter = conv_out(conv_out("h", 3, 2, 1, 1, 1), 3, 2, 1, 1, 1)
    assert quarter != conv_out("h", 3, 2, 1, 1, 1)
    for h in (5, 16, 17, 320):
        assert symbolic.evaluate(quarter, {"h": h}) == conv_out(conv_out(h, 3, 2, 1, 1, 1), 3, 2, 1, 1, 1)


def test_sums_products_and_broadcasts_of_symbols():
    assert dim_sum(["N", "N", 3]) == "2*N + 3"
    assert dim_product(["N", 3, "h"]) == "3*N*h"
    assert dim_product([2, 3]) == 6 and dim_sum([2, 3]) == 5
    assert broadcast_shapes(("a", 1), ("a", 4)) == ("a", 4)
    assert broadcast_shapes(("a",), ("b",)) == ("Max(a, b)",)
    assert symbolic.equal("2*N + 3", dim_sum(["N", 3, "N"])) is True
    assert symbolic.equal("N", "N + 1") is False
    assert symbolic.equal("N", "M") is None


def test_strings_that_are_not_expressions_are_atoms():
    for name in ("unk__64", "batch_size", "?3", "input.1:0", "lambda", "N"):
        assert symbolic.symbols_of(name) == {name}
        assert symbolic.evaluate(name, {name: 7}) == 7


def test_slice_of_an_unknown_dimension_imports_and_runs(tmp_path):
    """The issue's refusal: Slice over ('unk__64',) gave 'cannot infer output shape'."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["unk__64"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Slice", ["x", "s1", "e1"], ["y"], name="slice"),
             helper.make_node("Slice", ["x", "s2", "e2"], ["z"], name="head")]
    path = _save(tmp_path, nodes, [x], [y, z], [_i64("s1", [1]), _i64("e1", [INT_MAX]), _i64("s2", [0]), _i64("e2", [3])])
    graph = load_onnx(path)
    assert graph.outputs[0].shape == ("unk__64 - 1",)
    assert graph.outputs[1].shape == ("Min(3, unk__64)",)
    save_onnx(graph, tmp_path / "out.onnx")
    for n in (2, 6):
        feeds = {"x": np.arange(n, dtype=np.float32)}
        for e, g in zip(_run(path, feeds), _run(tmp_path / "out.onnx", feeds)):
            np.testing.assert_array_equal(e, g)
        assert symbolic.evaluate(graph.outputs[1].shape[0], {"unk__64": n}) == min(3, n)


def test_pad_and_reshape_over_symbols(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, "L"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
             helper.make_node("Reshape", ["p", "shape"], ["y"], name="flat")]
    path = _save(tmp_path, nodes, [x], [y], [_i64("pads", [0, 0, 1, 0, 0, 2]), _i64("shape", [0, -1])])
    graph = load_onnx(path)
    padded = graph.nodes[0].outputs[0].shape
    assert padded == ("N", 4, "L + 3")  # not 'L' again: the size changed
    assert graph.outputs[0].shape == ("N", "4*L + 12")
    save_onnx(graph, tmp_path / "out.onnx")
    feeds = {"x": np.ones((2, 4, 5), np.float32)}
    np.testing.assert_array_equal(_run(path, feeds)[0], _run(tmp_path / "out.onnx", feeds)[0])


def _strided_model(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return _save(tmp_path, nodes, [x], [y], [w])


def test_costs_with_symbolic_dims_are_unknown_until_shapes_are_given(tmp_path):
    path = _strided_model(tmp_path)
    graph = load_onnx(path)
    c = cost.counts(graph)
    assert c["params"] == 72 and c["macs"] is None and c["flops"] is None
    assert cost.summary(graph)["peak_activation_bytes"] is None
    assert cost.symbolic_dims(graph) == ["H", "W"]  # the batch N counts as 1
    assert "?" in CostProperty.infer(graph).describe()
    fixed = load_onnx(path, input_shapes={"x": (3, 2, 32, 20)})
    assert fixed.outputs[0].shape == (3, 4, 16, 10)
    c = cost.counts(fixed)
    assert c["macs"] == 16 * 10 * 4 * 18 * 3  # the static batch of 3 is counted as given
    assert c["flops"] == 2 * c["macs"] + 16 * 10 * 4 * 3


def test_batch_symbol_counts_as_one(tmp_path):
    path = _strided_model(tmp_path)
    fixed = load_onnx(path, input_shapes={"x": (1, 2, 32, 20)})
    model = onnx.load(path)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].ClearField("dim_param")
    dims[2].dim_value = 32
    dims[3].ClearField("dim_param")
    dims[3].dim_value = 20
    onnx.save(model, tmp_path / "batch_only.onnx")
    assert cost.counts(load_onnx(tmp_path / "batch_only.onnx")) == cost.counts(fixed)


@pytest.mark.parametrize("text,message", [
    ("images", "write NAME:DIMS"), ("images:1,x,3", "must be integers"), ("images:1,0,3", "positive"),
    (":1,2", "write NAME:DIMS"),
])
def test_bad_input_shape_text(text, message):
    with pytest.raises(AlphanasError, match=message):
        parse_input_shapes([text])


def test_input_shape_checked_against_the_model(tmp_path):
    path = _strided_model(tmp_path)
    with pytest.raises(AlphanasError, match="not an input of the model"):
        load_onnx(path, input_shapes={"y": (1, 2, 8, 8)})
    with pytest.raises(AlphanasError, match="rank 4"):
        load_onnx(path, input_shapes={"x": (1, 2, 8)})
    with pytest.raises(AlphanasError, match="static dimension 2"):
        load_onnx(path, input_shapes={"x": (1, 3, 8, 8)})
    with pytest.raises(AlphanasError, match="given twice"):
        parse_input_shapes(["x:1,2,8,8", "x:1,2,4,4"])


def test_unknown_dims_are_not_exported_as_symbols(tmp_path):
    """Fresh unknowns (ceil-mode pooling over a symbol) are written as unknown dims, never as a shared name."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, "H", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
             helper.make_node("Relu", ["p"], ["y"], name="relu")]
    path = _save(tmp_path, nodes, [x], [y])
    graph = load_onnx(path)
    assert symbolic.is_unknown(graph.outputs[0].shape[2]) and graph.outputs[0].shape[3] == 2
    save_onnx(graph, tmp_path / "out.onnx")
    out = onnx.load(tmp_path / "out.onnx")
    for vi in list(out.graph.value_info) + list(out.graph.output):
        for d in vi.type.tensor_type.shape.dim:
            assert not d.dim_param.startswith("?")
    for h in (3, 4):
        feeds = {"x": np.random.default_rng(0).standard_normal((2, 1, h, 4)).astype(np.float32)}
        np.testing.assert_array_equal(_run(path, feeds)[0], _run(tmp_path / "out.onnx", feeds)[0])
