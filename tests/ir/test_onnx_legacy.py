"""Legacy ONNX forms are normalised at import and still compute the same function.

Small models are written with ``onnx.helper`` at opsets 9 to 21, in the form each opset requires
(attributes before an op moved them to inputs, inputs after). Each is imported, exported at opset 21
and run under onnxruntime; the output must equal onnxruntime's output on the original model.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from alphanas.ir import EXPORT_OPSET, from_onnx, runtime, to_onnx

OPSETS = [9, 10, 11, 12, 13, 17, 18, 21]
X_SHAPE = [2, 3, 4, 5]


def _model(nodes, opset, *, inputs=None, outputs=("y",), inits=(), init_as_inputs=False) -> onnx.ModelProto:
    inputs = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, X_SHAPE)]
    init_protos = [numpy_helper.from_array(np.asarray(a), n) for n, a in inits]
    if init_as_inputs:  # IR version 3 style: every initializer is also a graph input
        inputs = list(inputs) + [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in init_protos]
    g = helper.make_graph(nodes, f"legacy{opset}", inputs,
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], init_protos)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 3 if init_as_inputs else min(helper.find_min_ir_version_for([helper.make_opsetid("", opset)]), 10)
    return m


def _i64(*v):
    return np.array(v, dtype=np.int64)


def _f32(*v):
    return np.array(v, dtype=np.float32)


def _check(model: onnx.ModelProto, *, original: onnx.ModelProto | None = None, banned=()):
    """Import ``model``, export at opset 21, and compare with onnxruntime on ``original`` (default: the model)."""
    g = from_onnx(model)
    assert not [n.op_type for n in g.nodes if n.is_opaque]
    present = {n.op_type for n in g.nodes}
    assert not present & set(banned), present & set(banned)
    exported = to_onnx(g, target_opset=EXPORT_OPSET)
    assert exported.opset_import[0].version == EXPORT_OPSET
    onnx.checker.check_model(exported, full_check=True)
    feeds = runtime.random_feeds(g, seed=0)
    theirs = runtime.session(original or model, "cpu", threads=1).run(None, feeds)
    ours = runtime.session(exported, "cpu", threads=1).run(None, feeds)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    return g


@pytest.mark.parametrize("opset", OPSETS)
def test_sum_of_three(opset):
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in (("x", X_SHAPE), ("y1", [5]), ("y2", [3, 1, 1]))]
    m = _model([helper.make_node("Sum", ["x", "y1", "y2"], ["y"])], opset, inputs=ins)
    g = _check(m, banned={"Sum"})
    assert [n.op_type for n in g.nodes] == ["Add", "Add"]


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("axis", [1, 2, -1])
def test_softmax_axis(opset, axis):
    # before opset 13 the input is coerced to 2-D at `axis`; from 13 it is a per-axis softmax
    m = _model([helper.make_node("Softmax", ["x"], ["y"], axis=axis)], opset)
    _check(m)


@pytest.mark.parametrize("opset", OPSETS)
def test_softmax_default_axis(opset):
    _check(_model([helper.make_node("Softmax", ["x"], ["y"])], opset))


def _bn_inits():
    rng = np.random.default_rng(0)
    return [("s", rng.uniform(0.5, 1.5, 3).astype(np.float32)), ("b", _f32(0.1, -0.2, 0.3)),
            ("m", _f32(0.05, 0.0, -0.1)), ("v", rng.uniform(0.5, 2.0, 3).astype(np.float32))]


@pytest.mark.parametrize("opset", OPSETS)
def test_batchnorm(opset):
    extra = {"training_mode": 0} if opset >= 14 else {}
    m = _model([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3, momentum=0.8, **extra)],
               opset, inits=_bn_inits())
    g = _check(m)
    assert g.nodes[0].op_type == "BatchNormalization"


def test_batchnorm_legacy_attrs():
    # `spatial` (opset 7-8) and `consumed_inputs` (opset 1-5) are not valid at opset 9+, but models
    # converted by old tools still carry them; spatial=1 is the normal form and is accepted. The
    # oracle is the same model without them (onnxruntime rejects the attributes).
    clean = _model([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)], 9,
                   inits=_bn_inits())
    legacy = onnx.ModelProto()
    legacy.CopyFrom(clean)
    legacy.graph.node[0].attribute.extend([helper.make_attribute("spatial", 1),
                                           helper.make_attribute("consumed_inputs", [0, 0, 0, 1, 1])])
    _check(legacy, original=clean)
    # spatial=0 (per-element statistics) has no canonical form: it stays opaque, not silently wrong
    legacy.graph.node[0].attribute[1].i = 0
    g = from_onnx(legacy)
    assert [n.op_type for n in g.nodes if n.is_opaque] == ["BatchNormalization"]


@pytest.mark.parametrize("opset", OPSETS)
def test_constants_folded(opset):
    nodes = [
        helper.make_node("Constant", [], ["c1"], value=numpy_helper.from_array(_f32(1, 2, 3, 4, 5))),
        helper.make_node("Constant", [], ["shape"], value=numpy_helper.from_array(_i64(3, 1, 1))),
        helper.make_node("ConstantOfShape", ["shape"], ["c2"], value=numpy_helper.from_array(_f32(0.5))),
        helper.make_node("Add", ["x", "c1"], ["t"]),
        helper.make_node("Mul", ["t", "c2"], ["y"]),
    ]
    if opset >= 12:
        nodes.insert(0, helper.make_node("Constant", [], ["c3"], value_float=2.0))
        nodes.append(helper.make_node("Mul", ["y", "c3"], ["y2"]))
    m = _model(nodes, opset, outputs=("y", "y2") if opset >= 12 else ("y",))
    g = _check(m, banned={"Constant", "ConstantOfShape"})
    assert {n.op_type for n in g.nodes} == {"Add", "Mul"}
    assert all(v.is_const for n in g.nodes for v in n.inputs[1:])


@pytest.mark.parametrize("opset", OPSETS)
def test_dropout_identity_removed(opset):
    if opset >= 12:
        drop = [helper.make_node("Constant", [], ["ratio"], value=numpy_helper.from_array(np.array(0.3, np.float32))),
                helper.make_node("Dropout", ["a", "ratio"], ["d", "mask"])]
    else:
        drop = [helper.make_node("Dropout", ["a"], ["d", "mask"], ratio=0.3)]
    nodes = [helper.make_node("Relu", ["x"], ["a"]), *drop, helper.make_node("Identity", ["d"], ["i"]),
             helper.make_node("Sigmoid", ["i"], ["y"])]
    g = _check(_model(nodes, opset), banned={"Dropout", "Identity"})
    assert [n.op_type for n in g.nodes] == ["Relu", "Sigmoid"]


def test_initializers_listed_as_inputs():
    w = np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32)
    m = _model([helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])], 9,
               inits=[("w", w), ("b", _f32(1, 2, 3, 4))], init_as_inputs=True)
    assert len(m.graph.input) == 3
    g = _check(m)
    assert [v.name for v in g.inputs] == ["x"] and set(g.initializers) == {"w", "b"}


@pytest.mark.parametrize("opset", OPSETS)
def test_clip(opset):
    if opset < 11:
        nodes = [helper.make_node("Clip", ["x"], ["y"], min=-0.5, max=0.8), helper.make_node("Clip", ["x"], ["y2"], min=0.1)]
        inits = []
    else:
        nodes = [helper.make_node("Clip", ["x", "lo", "hi"], ["y"]), helper.make_node("Clip", ["x", "lo2"], ["y2"]),
                 helper.make_node("Clip", ["x", "", "hi"], ["y3"])]
        inits = [("lo", np.array(-0.5, np.float32)), ("hi", np.array(0.8, np.float32)), ("lo2", np.array(0.1, np.float32))]
    _check(_model(nodes, opset, inits=inits, outputs=tuple(o for n in nodes for o in n.output)))


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad(opset, mode):
    pads = [0, 0, 1, 2, 0, 0, 2, 1]
    if opset < 11:
        nodes = [helper.make_node("Pad", ["x"], ["y"], pads=pads, mode=mode, value=1.5 if mode == "constant" else 0.0)]
        inits = []
    else:
        ins = ["x", "pads"] + (["value"] if mode == "constant" else [])
        nodes = [helper.make_node("Pad", ins, ["y"], mode=mode)]
        inits = [("pads", _i64(*pads)), ("value", np.array(1.5, np.float32))][: len(ins) - 1]
    outputs = ["y"]
    if opset >= 18:  # pads over selected axes only
        nodes.append(helper.make_node("Pad", ["x", "pads2", "", "axes"], ["y2"], mode=mode))
        inits += [("pads2", _i64(1, 2, 2, 1)), ("axes", _i64(-1, 2))]
        outputs.append("y2")
    g = _check(_model(nodes, opset, inits=inits, outputs=tuple(outputs)))
    assert all(n.attrs["pads"] is not None for n in g.nodes)


@pytest.mark.parametrize("opset", OPSETS)
def test_split(opset):
    if opset < 13:
        nodes = [helper.make_node("Split", ["x"], ["a", "b"], axis=3, split=[2, 3]),
                 helper.make_node("Split", ["x"], ["c", "d", "e"], axis=1)]
        inits = []
    else:
        even = {"num_outputs": 3} if opset >= 18 else {}  # required from opset 18 without sizes
        nodes = [helper.make_node("Split", ["x", "sizes"], ["a", "b"], axis=-1),
                 helper.make_node("Split", ["x"], ["c", "d", "e"], axis=1, **even)]
        inits = [("sizes", _i64(2, 3))]
    outs = ["a", "b", "c", "d", "e"]
    if opset >= 18:  # uneven num_outputs split: ceil-sized chunks, the last smaller
        nodes.append(helper.make_node("Split", ["x"], ["f", "h"], axis=2, num_outputs=2))
        outs += ["f", "h"]
    g = _check(_model(nodes, opset, inits=inits, outputs=tuple(outs)))
    assert sorted(n.attrs["split"] for n in g.nodes)[-1] in ([2, 3], [1, 1, 1], [2, 2])


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce_mean(opset, keepdims):
    if opset < 18:
        nodes = [helper.make_node("ReduceMean", ["x"], ["y"], axes=[1, -1], keepdims=keepdims),
                 helper.make_node("ReduceMean", ["x"], ["y2"], keepdims=keepdims)]
        inits = []
    else:
        nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=keepdims),
                 helper.make_node("ReduceMean", ["x"], ["y2"], keepdims=keepdims)]
        inits = [("axes", _i64(1, -1))]
    _check(_model(nodes, opset, inits=inits, outputs=("y", "y2")))


@pytest.mark.parametrize("opset", OPSETS)
def test_squeeze_unsqueeze(opset):
    if opset < 13:
        nodes = [helper.make_node("Unsqueeze", ["x"], ["u"], axes=[0, 3]), helper.make_node("Squeeze", ["u"], ["y"], axes=[0]),
                 helper.make_node("Squeeze", ["u"], ["y2"])]
        inits = []
    else:
        nodes = [helper.make_node("Unsqueeze", ["x", "ax1"], ["u"]), helper.make_node("Squeeze", ["u", "ax2"], ["y"]),
                 helper.make_node("Squeeze", ["u"], ["y2"])]
        inits = [("ax1", _i64(0, 3)), ("ax2", _i64(0))]
    _check(_model(nodes, opset, inits=inits, outputs=("y", "y2")))


@pytest.mark.parametrize("opset", OPSETS)
def test_slice(opset):
    if opset < 10:
        nodes = [helper.make_node("Slice", ["x"], ["y"], starts=[1, -3], ends=[3, 1000], axes=[1, 3])]
        inits = []
    else:
        nodes = [helper.make_node("Slice", ["x", "st", "en", "ax"], ["y"]),
                 helper.make_node("Slice", ["x", "st2", "en2", "ax2", "sp"], ["y2"])]
        inits = [("st", _i64(1, -3)), ("en", _i64(3, 1000)), ("ax", _i64(1, 3)),
                 ("st2", _i64(0, 4)), ("en2", _i64(2**63 - 1, 0)), ("ax2", _i64(2, -1)), ("sp", _i64(2, -2))]
    outputs = tuple(o for n in nodes for o in n.output)
    g = from_onnx(_model(nodes, opset, inits=inits, outputs=outputs))
    assert all(n.op_type == "Slice" and not n.is_opaque for n in g.nodes)
    # negative steps have no torch lowering but must round-trip through ONNX
    _check(_model(nodes, opset, inits=inits, outputs=outputs))


@pytest.mark.parametrize("opset", OPSETS)
def test_reshape_from_shape_chain(opset):
    # the flatten idiom of exporters: Reshape(x, Concat(Gather(Shape(x), 0), [-1])) on a static input
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Constant", [], ["i0"], value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0]) if opset < 13 else
        helper.make_node("Unsqueeze", ["n", "zero"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    inits = [("minus1", _i64(-1))] + ([("zero", _i64(0))] if opset >= 13 else [])
    g = _check(_model(nodes, opset, inits=inits))
    assert [n.op_type for n in g.nodes] == ["Reshape"]
    assert g.nodes[0].attrs["shape"] == [2, -1] and g.outputs[0].shape == (2, 60)
