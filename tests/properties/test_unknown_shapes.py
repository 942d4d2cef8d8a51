"""Properties past values of unknown shape, as published models have them (issue 12, item 2): ddddocr and
PP-OCRv4 rec reshape to a computed shape (an opaque Reshape of unknown rank), ddddocr's old model runs a
DynamicQuantizeLinear on such a value, Silero VAD selects between branches of different ranks with an
``If``. The downloaded models are not committed (CI has no internet): each structure is built here.

The analyses must give a sound, conservative answer, never a refusal or a crash: an output that depends on
an input through a value of unknown shape is *connected* to it (an opaque op used to make it look
independent), its mixing matrix is all-to-one where the ranks are known and ``?`` where a rank is not,
and counts that depend on an unknown shape are unknown (``None``), never negative. Expected values are
worked out by hand in each test.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h

from alphanas.ir import from_onnx
from alphanas.ir.cost import counts, peak_activation_bytes_or_none
from alphanas.properties import PropertySet
from alphanas.properties.mixing import UNKNOWN, MixingProperty
from alphanas.properties.report import compact, properties_report

A = 3  # Mixing.ALL_TO_ONE


def _model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    m = h.make_model(h.make_graph(nodes, "g", inputs, outputs, list(inits)), opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _reshape_model() -> onnx.ModelProto:
    """x [N, 4, 6] -> Reshape(x, s) with s a run-time shape of unknown length (rank unknown) -> Relu -> y;
    y -> Reshape to the constant [-1, 48] -> z (rank 2 again)."""
    return _model([h.make_node("Reshape", ["x", "s"], ["r"]), h.make_node("Relu", ["r"], ["y"]),
                   h.make_node("Reshape", ["y", "k"], ["z"])],
                  [h.make_tensor_value_info("x", T.FLOAT, ["N", 4, 6]), h.make_tensor_value_info("s", T.INT64, ["k"])],
                  [h.make_tensor_value_info("y", T.FLOAT, None), h.make_tensor_value_info("z", T.FLOAT, None)],
                  [h.make_tensor("k", T.INT64, [2], [-1, 48])])


def test_opaque_reshape_to_unknown_rank_gives_unknown_then_all_to_one():
    g = from_onnx(_reshape_model())
    assert g.nodes[0].outputs[0].shape is None  # the structure: a value of unknown rank
    props = PropertySet.infer(g)
    mix: MixingProperty = props["mixing"]
    # y (unknown rank) depends on x: connected, matrix unknown; never "independent"
    assert mix.matrices[0][0] == UNKNOWN
    # z has rank 2 again: every axis of x may reach every element of z (top), 3 x 2 cells
    assert mix.matrices[0][1] == ((A, A), (A, A), (A, A))
    # the shape input s: connected too (conservative), its one axis all-to-one onto z's two axes
    assert mix.matrices[1][0] == UNKNOWN and mix.matrices[1][1] == ((A, A),)
    # depth: Reshape and Relu of unknown shape are opaque (non-linear): x -> r -> y is one run of
    # non-linear ops, and the second opaque Reshape continues it: 1 and 1
    assert props["depth"].depths == ((1, 1), (1, 1))
    # shape: y is not required (unknown), z is [?, 48]
    assert props["shape"].outputs[0] is None and props["shape"].outputs[1][1] == 48
    # JSON round trip keeps the unknown matrices
    assert MixingProperty.from_json(json.loads(json.dumps(mix.to_json()))) == mix
    assert "in0->out0: ?" in mix.describe()


def test_dynamic_quantize_linear_past_unknown_rank():
    # ddddocr (old): DynamicQuantizeLinear on a value of unknown shape; its quantized output is unknown too
    # (scale and zero point are scalars), the dequantized value and the ReLU after it as well
    m = _model([h.make_node("Reshape", ["x", "s"], ["r"]),
                h.make_node("DynamicQuantizeLinear", ["r"], ["q", "sc", "zp"]),
                h.make_node("DequantizeLinear", ["q", "sc", "zp"], ["dq"]), h.make_node("Relu", ["dq"], ["out"]),
                h.make_node("ReduceSum", ["x"], ["total"], keepdims=0)],
               [h.make_tensor_value_info("x", T.FLOAT, ["N", 4, 6]), h.make_tensor_value_info("s", T.INT64, ["k"])],
               [h.make_tensor_value_info("out", T.FLOAT, None), h.make_tensor_value_info("total", T.FLOAT, [])])
    g = from_onnx(m)
    dql = next(n for n in g.nodes if n.op_type == "DynamicQuantizeLinear")
    assert dql.outputs[0].shape is None and dql.outputs[1].shape == ()
    props = PropertySet.infer(g)
    mix = props["mixing"]
    assert mix.matrices[0][0] == UNKNOWN  # connected through the quantization, not "independent"
    # total = ReduceSum over every axis of x (no unknown on its path): exact, each axis all-to-one onto a scalar
    assert mix.matrices[0][1] == ((), (), ())
    assert props["depth"].depths[0] == (1, 1)  # x -> opaque chain (one non-linear run); x -> ReduceSum (linear)
    # counts: DequantizeLinear/Relu have unknown shapes: FLOPs unknown (None), never negative
    c = counts(g)
    assert c["flops"] is None and c["params"] == 0
    assert peak_activation_bytes_or_none(g) is None  # a sum that left out the unknown values would be no bound


def _if_model() -> onnx.ModelProto:
    """Silero VAD: an If whose branches give different ranks ([N, 4] or [4N]): its output has unknown rank;
    the branches read x from the outer scope (captured)."""
    then = h.make_graph([h.make_node("Relu", ["x"], ["t"])], "then", [], [h.make_tensor_value_info("t", T.FLOAT, None)])
    flat = h.make_tensor("flat", T.INT64, [1], [-1])
    els = h.make_graph([h.make_node("Reshape", ["x", "flat"], ["e"])], "else", [],
                       [h.make_tensor_value_info("e", T.FLOAT, None)], [flat])
    return _model([h.make_node("If", ["c"], ["i"], then_branch=then, else_branch=els),
                   h.make_node("Sigmoid", ["i"], ["out"]), h.make_node("Relu", ["x"], ["side"])],
                  [h.make_tensor_value_info("x", T.FLOAT, ["N", 4]), h.make_tensor_value_info("c", T.BOOL, [])],
                  [h.make_tensor_value_info("out", T.FLOAT, None), h.make_tensor_value_info("side", T.FLOAT, ["N", 4])])


def test_if_with_branches_of_different_rank():
    g = from_onnx(_if_model())
    node = next(n for n in g.nodes if n.op_type == "If")
    assert node.outputs[0].shape is None
    props = PropertySet.infer(g)
    mix = props["mixing"]
    # out depends on x (read by the branches, a captured input of the If) and on the condition c
    assert mix.matrices[0][0] == UNKNOWN and mix.matrices[1][0] == UNKNOWN
    # side = Relu(x): exact and untouched by the If (one-to-one on the batch; the size-4 axis one-to-one)
    assert mix.matrices[0][1] == ((1, 0), (0, 1)) and mix.matrices[1][1] is None
    # depth: If (opaque, non-linear) then Sigmoid of unknown shape (opaque, non-linear): one run
    assert props["depth"].depths == ((1, 1), (1, None))


def test_properties_report_and_inspect_show_question_marks(tmp_path, capsys):
    from alphanas.cli import main

    g = from_onnx(_if_model())
    rep = properties_report(g)
    assert rep["model"]["properties"]["mixing"]["matrices"][0][0] == "?"
    assert compact("?") == "?"
    path = tmp_path / "if.onnx"
    onnx.save(_if_model(), path)
    assert main(["inspect", "--properties", str(path)]) == 0  # was a one-line refusal (exit 2)
    out = capsys.readouterr().out
    assert "? (unknown rank" in out
    assert main(["inspect", "--properties", "--json", str(path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["properties"]["model"]["properties"]["mixing"]["matrices"][0][0] == "?"


def test_unknown_target_and_candidate_distances():
    # an unknown target asks only for the connection; an unknown candidate may mix everything
    t = MixingProperty([[UNKNOWN]])
    assert t.distance(MixingProperty([[((1, 0), (0, 1))]])) == 0.0
    assert t.distance(MixingProperty([[None]])) == 1.0
    known = MixingProperty([[((A, 0), (0, 1))]])
    assert known.distance(MixingProperty([[UNKNOWN]])) == 0.0
    assert known.distance(MixingProperty([[None]])) == 1.0
    assert np.isfinite(known.distance(known))


def test_inspect_properties_past_a_custom_domain_op(tmp_path, capsys):
    # an op of a custom domain whose output shape nobody knows (was refused in one line, exit 2)
    from alphanas.cli import main

    m = h.make_model(h.make_graph([h.make_node("MyOp", ["x"], ["y"], domain="com.example"),
                                   h.make_node("Relu", ["y"], ["z"])], "g",
                                  [h.make_tensor_value_info("x", T.FLOAT, ["N", 3])],
                                  [h.make_tensor_value_info("z", T.FLOAT, None)]),
                     opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.example", 1)])
    m.ir_version = 8
    path = tmp_path / "custom.onnx"
    onnx.save(m, path)
    assert main(["inspect", "--properties", "--json", str(path)]) == 0
    props = json.loads(capsys.readouterr().out)["properties"]["model"]["properties"]
    assert props["mixing"]["matrices"] == [["?"]] and props["depth"]["depths"] == [[1]]
