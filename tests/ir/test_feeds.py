"""Verification inputs: a dynamic model runs at two sizes, values are realistic per dtype (random booleans,
indices in range), input shapes can be given, and NaN in both outputs at the same place is equal."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from alphanas.ir import from_onnx
from alphanas.ir.graph import Graph
from alphanas.ir.runtime import index_bounds, session, session_feeds, verification_feeds
from alphanas.passes.equivalence import compare, output_error


def attention_mask_model() -> onnx.ModelProto:
    """Masked softmax over an embedding: ids [batch, seq] -> Gather(table[50, 8]) -> scores; positions where
    ``mask`` is false get -inf; softmax over the sequence. An all-false row gives NaN."""
    table = numpy_helper.from_array(np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32), "table")
    neg_inf = numpy_helper.from_array(np.array(-np.inf, np.float32), "neg_inf")
    nodes = [helper.make_node("Gather", ["table", "ids"], ["emb"]),
             helper.make_node("ReduceSum", ["emb"], ["scores"], axes=[2], keepdims=0),
             helper.make_node("Where", ["mask", "scores", "neg_inf"], ["masked"]),
             helper.make_node("Softmax", ["masked"], ["y"], axis=-1)]
    graph = helper.make_graph(
        nodes, "masked",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("mask", TensorProto.BOOL, ["batch", "seq"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq"])], [table, neg_inf])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])


def strided_convnet() -> onnx.ModelProto:
    """Two 3x3 stride-2 convolutions without padding over a symbolic height and width: invalid at 1x1."""
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    w2 = numpy_helper.from_array(np.ones((4, 4, 3, 3), np.float32), "w2")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], strides=[2, 2]),
             helper.make_node("Conv", ["c", "w2"], ["y"], strides=[2, 2])]
    graph = helper.make_graph(nodes, "strided",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "height", "width"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, w2])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _graph_with_inputs(**inputs) -> Graph:
    g = Graph("inputs")
    for name, (shape, dtype) in inputs.items():
        g.add_input(name, shape, dtype)
    return g


def test_dynamic_model_runs_at_two_sizes_with_one_size_per_symbol():
    g = _graph_with_inputs(x=(("N", 3, "height", "width"), np.float32), y=(("N", "height"), np.float32))
    feeds = verification_feeds(g)
    assert [f["x"].shape for f in feeds] == [(1, 3, 32, 32), (3, 3, 64, 64)]
    assert [f["y"].shape for f in feeds] == [(1, 32), (3, 64)]  # the same symbol, the same size
    sess = session(strided_convnet(), "cpu")
    outs = [sess.run(None, {"x": f["x"]})[0].shape for f in feeds]
    assert outs == [(1, 4, 7, 7), (3, 4, 15, 15)]


def test_static_model_runs_once_and_batch_fixes_every_symbol():
    assert len(verification_feeds(_graph_with_inputs(x=((2, 3), np.float32)), trials=2)) == 2
    feeds = verification_feeds(_graph_with_inputs(x=(("N", 3, "H"), np.float32)), batch=2)
    assert [f["x"].shape for f in feeds] == [(2, 3, 2)]


def test_input_shapes_override():
    g = _graph_with_inputs(x=(("N", 3, "height", "width"), np.float32), m=(("N",), np.bool_))
    feeds = verification_feeds(g, input_shapes={"x": [2, 3, 320, 320]})
    assert [f["x"].shape for f in feeds] == [(2, 3, 320, 320), (2, 3, 320, 320)]
    assert [f["m"].shape for f in feeds] == [(1,), (3,)]


def test_realistic_values_per_dtype():
    graph = from_onnx(attention_mask_model())
    assert index_bounds(graph) == {"ids": 50}
    for feeds in verification_feeds(graph, seed=3):
        ids, mask = feeds["ids"], feeds["mask"]
        assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < 50
        assert mask.dtype == np.bool_ and mask.any() and not mask.all()
    big = verification_feeds(graph)[1]["ids"]
    assert big.max() >= 4  # indices spread over the table, not only 0 and 1
    sess = session(attention_mask_model(), "cpu")
    feeds = session_feeds(sess, 2, length=16, index_bounds={"ids": 50})
    assert feeds["ids"].shape == (2, 16) and feeds["ids"].max() < 50 and feeds["mask"].dtype == np.bool_


def test_nan_in_both_outputs_at_the_same_place_is_equal():
    nan = np.array([[np.nan, np.nan], [0.5, 0.5]], np.float32)
    assert output_error(nan, nan.copy()) == 0.0
    assert output_error(np.full((2, 2), np.nan, np.float32), np.full((2, 2), np.nan, np.float32)) == 0.0
    assert output_error(nan, np.array([[np.nan, 0.1], [0.5, 0.5]], np.float32)) == float("inf")
    assert output_error(np.array([np.inf, 1.0]), np.array([np.inf, 1.0])) == 0.0
    assert output_error(np.array([np.inf, 1.0]), np.array([-np.inf, 1.0])) == float("inf")
    assert output_error(np.array([2.0, 1.0]), np.array([2.0, 1.1])) == pytest.approx(0.05)


def test_masked_attention_with_an_all_false_row_verifies():
    graph = from_onnx(attention_mask_model())
    assert compare(graph, graph.copy()).ok
    ref = session(attention_mask_model(), "cpu").run(None, {"ids": np.zeros((1, 4), np.int64),
                                                               "mask": np.zeros((1, 4), bool)})[0]
    assert np.isnan(ref).all()  # what an all-false mask gives; both models give it, so it is equal
    one = {"ids": [1, 1], "mask": [1, 1]}
    assert any(not f["mask"].any() for f in verification_feeds(graph, input_shapes=one, trials=8))
    assert compare(graph, graph.copy(), input_shapes=one, trials=8).ok
