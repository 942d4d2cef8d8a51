"""Opsets, domains, subgraphs, non-tensor types and dtypes through import and export.

A model is written at its own opsets (all of its opset imports, model fields and functions kept);
``target_opset`` converts; the IR's own nodes are emitted in the form each opset defines.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from alphanas.ir import from_onnx, to_onnx
from alphanas.ir.onnx_io import MAX_IMPORT_OPSET, graph_opset


def _session(model: onnx.ModelProto):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 4
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _run(model: onnx.ModelProto, feeds: dict) -> list:
    return _session(model).run(None, feeds)


def _same_outputs(a: onnx.ModelProto, b: onnx.ModelProto, feeds: dict) -> None:
    ours, theirs = _run(a, feeds), _run(b, feeds)
    assert len(ours) == len(theirs)
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), rtol=1e-5, atol=1e-6)


def _opsets(model: onnx.ModelProto) -> dict[str, int]:
    return {o.domain: o.version for o in model.opset_import}


def _vi(name, elem=TensorProto.FLOAT, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def test_reads_every_opset_onnx_defines():
    assert MAX_IMPORT_OPSET == onnx.defs.onnx_opset_version()


def test_opset12_model_with_an_ml_node_round_trips_at_its_own_opsets():
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        # legacy softmax (opset < 13: coerced to 2-D at axis 1) and ReduceMean with attribute axes
        helper.make_node("Softmax", ["r"], ["sm"], axis=1),
        helper.make_node("ReduceMean", ["sm"], ["rm"], axes=[1], keepdims=1),
        helper.make_node("Scaler", ["rm"], ["y"], domain="ai.onnx.ml", offset=[0.5], scale=[2.0]),
    ]
    g = helper.make_graph(nodes, "ml12", [_vi("x", shape=[4, 3])], [_vi("y", shape=[4, 1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 12), helper.make_opsetid("ai.onnx.ml", 2)],
                          producer_name="test-producer", producer_version="7.1", doc_string="a doc")
    m.ir_version = 7
    m.metadata_props.add(key="author", value="me")
    graph = from_onnx(m)
    assert [n.op_type for n in graph.nodes if n.is_opaque] == ["Scaler"]
    out = to_onnx(graph)
    assert _opsets(out) == {"": 12, "ai.onnx.ml": 2}
    assert (out.producer_name, out.producer_version, out.doc_string, out.ir_version) == ("test-producer", "7.1", "a doc", 7)
    assert {p.key: p.value for p in out.metadata_props} == {"author": "me"}
    onnx.checker.check_model(out, full_check=True)
    reduce = [n for n in out.graph.node if n.op_type == "ReduceMean"]
    assert [a.name for a in reduce[0].attribute if a.name == "axes"] == ["axes"]  # the opset-12 form
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    _same_outputs(out, m, {"x": x})


def test_model_with_only_the_ml_domain():
    node = helper.make_node("Normalizer", ["x"], ["y"], domain="ai.onnx.ml", norm="L2")
    m = helper.make_model(helper.make_graph([node], "ml", [_vi("x", shape=[2, 3])], [_vi("y", shape=[2, 3])]),
                          opset_imports=[helper.make_opsetid("ai.onnx.ml", 1)])
    m.ir_version = 8
    out = to_onnx(from_onnx(m))
    assert _opsets(out) == {"ai.onnx.ml": 1}
    _same_outputs(out, m, {"x": np.arange(6, dtype=np.float32).reshape(2, 3)})


def test_opset23_model_round_trips_at_opset23():
    w = numpy_helper.from_array(np.random.default_rng(1).normal(size=(4, 3, 3, 3)).astype(np.float32), "w")
    scale = numpy_helper.from_array(np.ones(4, np.float32), "scale")
    axes = numpy_helper.from_array(np.array([2, 3], np.int64), "axes")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("RMSNormalization", ["t", "scale"], ["n"], axis=-1),  # new in opset 23: opaque
        helper.make_node("Transpose", ["n"], ["u"], perm=[0, 3, 1, 2]),
        helper.make_node("ReduceMean", ["u", "axes"], ["y"], keepdims=0),
    ]
    g = helper.make_graph(nodes, "o23", [_vi("x", shape=["N", 3, 8, 8])], [_vi("y", shape=None)], [w, scale, axes])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 23)])
    m.ir_version = 11
    graph = from_onnx(m)
    assert graph_opset(graph) == 23
    out = to_onnx(graph)
    assert _opsets(out) == {"": 23}
    onnx.checker.check_model(out, full_check=True)
    x = np.random.default_rng(2).normal(size=(2, 3, 8, 8)).astype(np.float32)
    _same_outputs(out, m, {"x": x})


def test_custom_domain_node_keeps_its_domain_attributes_and_version():
    node = helper.make_node("Frobnicate", ["x"], ["y"], domain="my.ops", name="frob", level=3, gain=0.5,
                            mode="fast", table=[1, 2, 3], weights=numpy_helper.from_array(np.eye(2, dtype=np.float32)))
    m = helper.make_model(helper.make_graph([node], "custom", [_vi("x", shape=[2, 2])], [_vi("y", shape=[2, 2])]),
                          opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.ops", 4)])
    graph = from_onnx(m)
    out = to_onnx(graph)
    (n,) = out.graph.node
    assert (n.op_type, n.domain, n.name) == ("Frobnicate", "my.ops", "frob")
    assert [a.SerializeToString() for a in n.attribute] == [a.SerializeToString() for a in node.attribute]
    assert _opsets(out) == {"": 17, "my.ops": 4}


def _if_model(opset: int) -> onnx.ModelProto:
    """y = If(c) then (a * 2, read from the outer scope) else (a - 1); ``a`` = Identity(x + 1) is read only
    inside the branches (it must stay alive and named), and the then-branch reduces with the form of
    ReduceMean its opset defines."""
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
    if opset >= 18:
        axes = numpy_helper.from_array(np.array([1], np.int64), "ax")
        reduce = [helper.make_node("Constant", [], ["ax"], value=axes),
                  helper.make_node("ReduceMean", ["m", "ax"], ["t"], keepdims=1)]
    else:
        reduce = [helper.make_node("ReduceMean", ["m"], ["t"], axes=[1], keepdims=1)]
    then = helper.make_graph([helper.make_node("Mul", ["a", "two"], ["m"])] + reduce, "then", [], [_vi("t")])
    other = helper.make_graph([helper.make_node("Sub", ["a", "one"], ["s"]),
                               helper.make_node("ReduceMax", ["s"], ["e"], axes=[1], keepdims=1)]
                              if opset < 18 else
                              [helper.make_node("Sub", ["a", "one"], ["s"]),
                               helper.make_node("ReduceMax", ["s"], ["e"], keepdims=1)], "else", [], [_vi("e")])
    nodes = [helper.make_node("Add", ["x", "one"], ["a0"]), helper.make_node("Identity", ["a0"], ["a"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)]
    g = helper.make_graph(nodes, "if", [_vi("x", shape=[2, 3]), _vi("c", TensorProto.BOOL, [])], [_vi("y")], [two, one])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("opset", [13, 16, 21])
def test_if_model_round_trips(opset):
    m = _if_model(opset)
    out = to_onnx(from_onnx(m))
    assert _opsets(out) == {"": opset}
    onnx.checker.check_model(out, full_check=True)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for c in (True, False):
        _same_outputs(out, m, {"x": x, "c": np.array(c)})


def test_renamed_outer_scope_value_is_still_read_by_the_branches():
    graph = from_onnx(_if_model(16))
    a = next(v for n in graph.nodes for v in n.outputs if v.name == "a0")
    graph.rename_value(a, "renamed")
    out = to_onnx(graph)
    onnx.checker.check_model(out, full_check=True)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    _same_outputs(out, _if_model(16), {"x": x, "c": np.array(True)})


def test_loop_body_keeps_its_order_and_opset():
    # the body's Unsqueeze has the opset-11 form (axes attribute): written at opset 21 it would be invalid
    body = helper.make_graph(
        [helper.make_node("Add", ["acc", "x"], ["acc2"]),
         helper.make_node("Unsqueeze", ["acc2"], ["u"], axes=[0]),
         helper.make_node("Identity", ["c"], ["c2"])],
        "body", [_vi("i", TensorProto.INT64, []), _vi("c", TensorProto.BOOL, []), _vi("acc", shape=[3])],
        [_vi("c2", TensorProto.BOOL, []), _vi("acc2", shape=[3]), _vi("u", shape=[1, 3])])
    loop = helper.make_node("Loop", ["n", "", "z"], ["final", "stack"], body=body)
    g = helper.make_graph([loop], "loop", [_vi("x", shape=[3]), _vi("n", TensorProto.INT64, []), _vi("z", shape=[3])],
                          [_vi("final", shape=[3]), _vi("stack", shape=["n", 1, 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])
    m.ir_version = 6
    out = to_onnx(from_onnx(m))
    assert _opsets(out) == {"": 11}
    assert [n.op_type for n in out.graph.node[0].attribute[0].g.node] == ["Add", "Unsqueeze", "Identity"]
    onnx.checker.check_model(out, full_check=True)
    feeds = {"x": np.ones(3, np.float32), "n": np.array(4, np.int64), "z": np.zeros(3, np.float32)}
    _same_outputs(out, m, feeds)


def test_opaque_op_whose_schema_changed_is_written_at_its_own_opset():
    # Scatter exists until opset 10 (then ScatterElements); Upsample until 9
    nodes = [helper.make_node("Scatter", ["x", "i", "u"], ["s"], axis=1), helper.make_node("Relu", ["s"], ["y"])]
    g = helper.make_graph(nodes, "scatter", [_vi("x", shape=[2, 3]), _vi("i", TensorProto.INT64, [2, 1]),
                                             _vi("u", shape=[2, 1])], [_vi("y")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 10)])
    m.ir_version = 5
    out = to_onnx(from_onnx(m))
    assert _opsets(out) == {"": 10}
    feeds = {"x": np.zeros((2, 3), np.float32), "i": np.array([[1], [2]], np.int64), "u": np.ones((2, 1), np.float32)}
    _same_outputs(out, m, feeds)
    converted = to_onnx(from_onnx(m), target_opset=13)  # converted with onnx.version_converter
    assert _opsets(converted) == {"": 13}
    assert "ScatterElements" in [n.op_type for n in converted.graph.node]
    _same_outputs(converted, m, feeds)


def _canonical_zoo_model() -> onnx.ModelProto:
    """Many ops whose ONNX form changed across opsets, at opset 21 (all canonical in the IR)."""
    i64 = lambda name, *v: numpy_helper.from_array(np.array(v, np.int64), name)  # noqa: E731
    f32 = lambda name, v: numpy_helper.from_array(np.array(v, np.float32), name)  # noqa: E731
    inits = [f32("lo", 0.0), f32("hi", 6.0), i64("pads", 0, 0, 1, 1, 0, 0, 1, 1), i64("st", 0), i64("en", 2), i64("ax1", 1),
             i64("split", 1, 1), i64("ax0", 0), numpy_helper.from_array(np.ones(6, np.float32), "lns"),
             numpy_helper.from_array(np.zeros(6, np.float32), "lnb"), i64("ax23", 2, 3), f32("ratio", 0.25)]
    nodes = [
        helper.make_node("Clip", ["x", "lo", "hi"], ["clip"]),
        helper.make_node("Pad", ["clip", "pads"], ["pad"]),
        helper.make_node("MaxPool", ["pad"], ["mp"], kernel_shape=[2, 2], strides=[1, 1]),
        helper.make_node("AveragePool", ["mp"], ["ap"], kernel_shape=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Slice", ["ap", "st", "en", "ax1"], ["sl"]),
        helper.make_node("Split", ["ap", "split"], ["sa", "sb"], axis=1),
        helper.make_node("Add", ["sa", "sb"], ["sab"]),
        helper.make_node("Add", ["sl", "sab"], ["sum"]),
        helper.make_node("Softmax", ["sum"], ["sm"], axis=1),
        helper.make_node("Gelu", ["sm"], ["ge"]),
        helper.make_node("LayerNormalization", ["ge", "lns", "lnb"], ["ln"], axis=-1),
        helper.make_node("Dropout", ["ln", "ratio"], ["dr"]),
        helper.make_node("ReduceMean", ["dr", "ax23"], ["rm"], keepdims=1),
        helper.make_node("ReduceSum", ["dr", "ax1"], ["rs"], keepdims=1),
        helper.make_node("Squeeze", ["rm", "ax0"], ["sq"]),
        helper.make_node("Unsqueeze", ["sq", "ax0"], ["us"]),
        helper.make_node("Mul", ["us", "rs"], ["y0"]),
        helper.make_node("Cast", ["y0"], ["y"], to=TensorProto.FLOAT),
    ]
    g = helper.make_graph(nodes, "zoo", [_vi("x", shape=[1, 2, 4, 4])], [_vi("y")], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    return m


@pytest.mark.parametrize("target", [9, 10, 11, 12, 13, 17, 18, 19, 20, 21, 22, 23])
def test_canonical_nodes_are_written_in_the_form_of_the_target_opset(target):
    m = _canonical_zoo_model()
    graph = from_onnx(m, keep_dropout=True)
    assert not [n.op_type for n in graph.nodes if n.is_opaque]
    out = to_onnx(graph, target_opset=target)
    assert _opsets(out) == {"": target}
    onnx.checker.check_model(out, full_check=True)
    x = np.random.default_rng(3).normal(size=(1, 2, 4, 4)).astype(np.float32) * 4
    _same_outputs(out, m, {"x": x})


def test_swish_is_written_at_every_opset():
    node = helper.make_node("Swish", ["x"], ["y"], alpha=1.5)
    m = helper.make_model(helper.make_graph([node], "swish", [_vi("x", shape=[2, 3])], [_vi("y")]),
                          opset_imports=[helper.make_opsetid("", 24)])
    x = np.linspace(-3, 3, 6, dtype=np.float32).reshape(2, 3)
    expected = x / (1 + np.exp(-1.5 * x))
    for target in (9, 13, 21, 24):
        out = to_onnx(from_onnx(m), target_opset=target)
        onnx.checker.check_model(out, full_check=True)
        np.testing.assert_allclose(_run(out, {"x": x})[0], expected, rtol=1e-5, atol=1e-6)


def test_sequence_and_optional_inputs_pass_through():
    seq = helper.make_tensor_sequence_value_info("seq", TensorProto.FLOAT, None)
    opt = helper.make_value_info("opt", helper.make_optional_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, [2])))
    nodes = [helper.make_node("SequenceLength", ["seq"], ["n"]),
             helper.make_node("OptionalHasElement", ["opt"], ["has"]),
             helper.make_node("SequenceAt", ["seq", "zero"], ["first"]),
             helper.make_node("Relu", ["first"], ["r"])]
    zero = numpy_helper.from_array(np.array(0, np.int64), "zero")
    g = helper.make_graph(nodes, "seq", [seq, opt], [_vi("n", TensorProto.INT64, []), _vi("has", TensorProto.BOOL, []),
                                                      _vi("r", shape=[2])], [zero])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    graph = from_onnx(m)
    out = to_onnx(graph)
    assert [i.type for i in out.graph.input] == [i.type for i in m.graph.input]
    onnx.checker.check_model(out, full_check=True)
    feeds = {"seq": [np.array([-1.0, 2.0], np.float32)], "opt": np.array([1.0, 2.0], np.float32)}
    ours, theirs = _run(out, feeds), _run(m, feeds)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("elem", [TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2,
                                  TensorProto.INT4, TensorProto.UINT4, TensorProto.STRING, TensorProto.COMPLEX64,
                                  TensorProto.FLOAT16, TensorProto.BOOL])
def test_every_dtype_is_carried_through(elem):
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    values = np.array([1, 0, 1, 1], dtype=np.float32).astype(dtype) if elem != TensorProto.STRING else \
        np.array(["a", "bc", "", "d"], dtype=object)
    init = numpy_helper.from_array(values.reshape(2, 2), "w")
    node = helper.make_node("Combine", ["x", "w"], ["y"], domain="my.ops")
    g = helper.make_graph([node], "dtypes", [_vi("x", elem, ["N", 2])], [_vi("y", elem, ["N", 2])], [init])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("my.ops", 1)])
    out = to_onnx(from_onnx(m))
    assert out.graph.input[0].type == m.graph.input[0].type
    assert out.graph.output[0].type == m.graph.output[0].type
    (w,) = out.graph.initializer
    assert w.data_type == elem
    np.testing.assert_array_equal(numpy_helper.to_array(w), numpy_helper.to_array(init))


def test_cast_keeps_saturate():
    node = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT8E4M3FN, saturate=0)
    m = helper.make_model(helper.make_graph([node], "cast", [_vi("x", shape=[3])], [_vi("y", TensorProto.FLOAT8E4M3FN, [3])]),
                          opset_imports=[helper.make_opsetid("", 21)])
    out = to_onnx(from_onnx(m))
    (cast,) = out.graph.node
    assert {a.name: helper.get_attribute_value(a) for a in cast.attribute} == {"to": TensorProto.FLOAT8E4M3FN, "saturate": 0}
    x = np.array([1.0, 1000.0, -3.0], np.float32)
    assert str(_run(out, {"x": x})[0]) == str(_run(m, {"x": x})[0])


def test_dropout_in_training_mode_from_a_graph_input_is_kept():
    node = helper.make_node("Dropout", ["x", "r", "t"], ["y"], seed=0)
    g = helper.make_graph([node], "drop", [_vi("x", shape=[2, 3]), _vi("r", shape=[]), _vi("t", TensorProto.BOOL, [])],
                          [_vi("y", shape=[2, 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    graph = from_onnx(m)
    assert [(n.op_type, n.is_opaque) for n in graph.nodes] == [("Dropout", True)]
    out = to_onnx(graph)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for ratio, training in ((0.5, False), (0.0, True)):
        _same_outputs(out, m, {"x": x, "r": np.array(ratio, np.float32), "t": np.array(training)})


def test_dropout_with_a_ratio_from_a_graph_input_is_the_identity_at_inference():
    node = helper.make_node("Dropout", ["x", "r"], ["y"])
    g = helper.make_graph([node, helper.make_node("Relu", ["y"], ["z"])], "drop",
                          [_vi("x", shape=[2, 3]), _vi("r", shape=[])], [_vi("z", shape=[2, 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    graph = from_onnx(m)
    assert [n.op_type for n in graph.nodes] == ["Relu"]
    graph = from_onnx(m, keep_dropout=True)  # kept: opaque, with its computed ratio
    assert [(n.op_type, n.is_opaque) for n in graph.nodes] == [("Dropout", True), ("Relu", False)]
    _same_outputs(to_onnx(graph), m, {"x": np.ones((2, 3), np.float32), "r": np.array(0.3, np.float32)})


def test_old_opsets_import_as_opaque_nodes_and_round_trip():
    # opset 6: Add still has legacy broadcast attributes; the IR keeps such nodes as they are
    nodes = [helper.make_node("Add", ["x", "b"], ["s"], broadcast=1), helper.make_node("Relu", ["s"], ["y"])]
    g = helper.make_graph(nodes, "old", [_vi("x", shape=[2, 3]), _vi("b", shape=[3])], [_vi("y", shape=[2, 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 6)])
    m.ir_version = 3
    graph = from_onnx(m)
    assert all(n.is_opaque for n in graph.nodes)
    out = to_onnx(graph)
    assert _opsets(out) == {"": 6}
    assert [a.SerializeToString() for a in out.graph.node[0].attribute] == [a.SerializeToString() for a in nodes[0].attribute]
    onnx.checker.check_model(out, full_check=True)  # (onnxruntime runs opset 7 and newer only)


def test_model_local_functions_are_kept_even_when_unused():
    f = helper.make_function("my.fns", "Twice", ["X"], ["Y"], [helper.make_node("Add", ["X", "X"], ["Y"])],
                             [helper.make_opsetid("", 18)])
    m = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "f", [_vi("x", shape=[2])],
                                            [_vi("y", shape=[2])]),
                          opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("my.fns", 1)], functions=[f])
    out = to_onnx(from_onnx(m))
    assert [(fn.domain, fn.name) for fn in out.functions] == [("my.fns", "Twice")]
    onnx.checker.check_model(out, full_check=True)


def test_target_opset_out_of_range_is_refused():
    from alphanas.errors import AlphanasError

    graph = from_onnx(_canonical_zoo_model())
    with pytest.raises(AlphanasError, match="target opset"):
        to_onnx(graph, target_opset=MAX_IMPORT_OPSET + 1)


def test_a_model_with_external_data_is_saved_with_external_data(tmp_path):
    from alphanas.ir import load_onnx, save_onnx

    w = numpy_helper.from_array(np.random.default_rng(4).normal(size=(64, 64)).astype(np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "ext", [_vi("x", shape=[1, 64])],
                          [_vi("y", shape=[1, 64])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    src = tmp_path / "src.onnx"
    onnx.save_model(onnx.ModelProto.FromString(m.SerializeToString()), str(src), save_as_external_data=True,
                    location="src.bin", size_threshold=0)
    dst = tmp_path / "out" / "dst.onnx"
    save_onnx(load_onnx(src), dst)
    stored = onnx.load(str(dst), load_external_data=False)
    assert [t.name for t in stored.graph.initializer if t.data_location == TensorProto.EXTERNAL] == ["w"]
    assert (dst.parent / "dst.onnx.data").exists()
    x = np.ones((1, 64), np.float32)
    np.testing.assert_allclose(_session_path(dst).run(None, {"x": x})[0], _run(m, {"x": x})[0], rtol=1e-6)


def _session_path(path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
