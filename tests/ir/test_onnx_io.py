"""ONNX input/output beyond the op set: external-data weights, atomic saves, opaque (unknown) ops.

External data is what models over protobuf's 2 GB limit need. ``save_onnx`` switches to it above
``external_data_threshold`` bytes of weights, so a threshold of 0 runs the very same code path on a
small model; loading is checked on a model written by ``onnx.save_model(save_as_external_data=True)``.
Opaque nodes are checked with a custom-domain op defined by a model-local function (so that
onnxruntime can run it, before and after our round trip) and with one that nothing defines.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from alphanas import zoo
from alphanas.errors import AlphanasError
from alphanas.ir import load_onnx, runtime, save_onnx, to_onnx
from alphanas.ir.onnx_io import EXTERNAL_DATA_THRESHOLD
from alphanas.ir.hashing import structural_hash
from alphanas.ir.torch_lowering import to_torch


def _cnn():
    return zoo.build("cnn", input_size=8, in_channels=1, num_classes=10, width=8, seed=1)


def _outputs(model_or_path, x):
    sess = runtime.session(model_or_path, "cpu", threads=1)
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def _x(seed=0):
    return np.random.default_rng(seed).standard_normal((3, 1, 8, 8)).astype(np.float32)


def _external_tensors(path) -> list[str]:
    m = onnx.load(str(path), load_external_data=False)
    return [t.name for t in m.graph.initializer if t.data_location == TensorProto.EXTERNAL]


def test_default_threshold_is_protobuf_limit():
    assert 2**31 - (128 << 20) < EXTERNAL_DATA_THRESHOLD < 2**31


def test_load_model_written_with_external_data(tmp_path):
    g = _cnn()
    x = _x()
    expected = _outputs(to_onnx(g), x)
    path = tmp_path / "ext.onnx"
    onnx.save_model(to_onnx(g), str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.weights", size_threshold=0)
    assert (tmp_path / "ext.weights").exists() and len(_external_tensors(path)) == len(g.initializers)
    loaded = load_onnx(path)
    for name, v in g.initializers.items():
        np.testing.assert_array_equal(loaded.initializers[name].const, v.const)
    assert structural_hash(loaded) == structural_hash(g)
    np.testing.assert_allclose(_outputs(to_onnx(loaded), x), expected, rtol=0, atol=0)


def test_missing_external_data_is_a_user_error(tmp_path):
    path = tmp_path / "ext.onnx"
    onnx.save_model(to_onnx(_cnn()), str(path), save_as_external_data=True, location="w.bin", size_threshold=0)
    (tmp_path / "w.bin").unlink()
    with pytest.raises(AlphanasError, match="not a readable ONNX model"):
        load_onnx(path)


@pytest.mark.parametrize("how", ["threshold", "forced"])
def test_save_with_external_data_round_trips(tmp_path, how):
    g = _cnn()
    path = tmp_path / "big.onnx"
    if how == "threshold":  # the automatic >2 GB path, with the limit lowered to this model's size
        save_onnx(g, path, external_data_threshold=0)
    else:
        save_onnx(g, path, external_data=True)
    data = tmp_path / "big.onnx.data"
    assert data.exists()
    external = _external_tensors(path)
    big = {n for n, v in g.initializers.items() if v.const.nbytes >= 1024}
    assert big and set(external) == big  # small tensors stay inline
    m = onnx.load(str(path), load_external_data=False)
    assert {e.value for t in m.graph.initializer for e in t.external_data if e.key == "location"} == {"big.onnx.data"}
    onnx.checker.check_model(str(path), full_check=True)
    # only the model and its data are left: no temporary files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.onnx", "big.onnx.data"]
    x = _x(1)
    expected = _outputs(to_onnx(g), x)
    np.testing.assert_allclose(_outputs(str(path), x), expected, rtol=0, atol=0)  # onnxruntime reads the side file
    again = load_onnx(path)
    np.testing.assert_allclose(_outputs(to_onnx(again), x), expected, rtol=0, atol=0)


def test_small_model_stays_in_one_file_and_save_is_atomic(tmp_path):
    g = _cnn()
    path = tmp_path / "m.onnx"
    save_onnx(g, path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"] and not _external_tensors(path)
    before = path.read_bytes()
    bad = _cnn()
    bad.nodes[0].attrs["strides"] = [0, 0]  # the export fails onnx.checker: nothing may be written
    with pytest.raises(onnx.shape_inference.InferenceError):
        save_onnx(bad, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    with pytest.raises(onnx.shape_inference.InferenceError):
        save_onnx(bad, tmp_path / "new.onnx", external_data=True)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


# -- opaque nodes ---------------------------------------------------------------------------------

def _shift_function() -> onnx.FunctionProto:
    """my.ops::Shift(X; shift) = X + shift, at opset 17 (the export converts the body to its opset)."""
    const = helper.make_node("Constant", [], ["c"], value_float=0.0)
    const.attribute[0].ref_attr_name = "shift"
    return helper.make_function("my.ops", "Shift", ["X"], ["Y"], [const, helper.make_node("Add", ["X", "c"], ["Y"])],
                                [helper.make_opsetid("", 17)], attributes=["mode", "shift"])


def custom_model(with_function: bool) -> onnx.ModelProto:
    """x -> Relu -> my.ops::Shift(mode="fast", shift=0.75) -> Tanh -> y; ``Shift`` is a model-local
    function when ``with_function``, else an op nothing defines (no shape is known after it)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("Shift", ["a"], ["b"], domain="my.ops", name="shift", mode="fast", shift=0.75),
             helper.make_node("Tanh", ["b"], ["y"])]
    m = helper.make_model(helper.make_graph(nodes, "custom", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.ops", 3)],
                          functions=[_shift_function()] if with_function else [])
    m.ir_version = 8
    return m


def _shift_node(model: onnx.ModelProto) -> onnx.NodeProto:
    (node,) = [n for n in model.graph.node if n.op_type == "Shift"]
    return node


@pytest.mark.parametrize("with_function", [True, False], ids=["function", "unknown"])
def test_opaque_node_survives_round_trip(tmp_path, with_function):
    original = custom_model(with_function)
    src = tmp_path / "custom.onnx"
    onnx.save_model(original, str(src))
    g = load_onnx(src)
    ops = {n.op_type: n for n in g.nodes}
    assert ops["Shift"].is_opaque and ops["Shift"].domain == "my.ops" and not ops["Relu"].is_opaque
    if with_function:  # ONNX infers the function's output shape, so Tanh is an ordinary op again
        assert ops["Shift"].outputs[0].shape == ("N", 4) and not ops["Tanh"].is_opaque
    else:  # nothing is known after Shift: the op reading it stays opaque too instead of failing
        assert ops["Shift"].outputs[0].shape is None and ops["Tanh"].is_opaque
    out = tmp_path / "out.onnx"
    save_onnx(g, out)
    exported = onnx.load(str(out))
    node = _shift_node(exported)
    assert node.domain == "my.ops" and list(node.input) and list(node.output)
    assert {a.name: helper.get_attribute_value(a) for a in node.attribute} == {"mode": b"fast", "shift": 0.75}
    assert {o.domain: o.version for o in exported.opset_import}["my.ops"] == 3
    assert [(f.domain, f.name) for f in exported.functions] == ([("my.ops", "Shift")] if with_function else [])
    again = load_onnx(out)
    assert structural_hash(again) == structural_hash(g)
    if with_function:  # onnxruntime can run it: same outputs before and after the round trip
        onnx.checker.check_model(exported, full_check=True)
        x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
        expected = np.tanh(np.maximum(x, 0) + 0.75)
        for m in (original, exported):
            np.testing.assert_allclose(_outputs(m, x), expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(AlphanasError, match="opaque"):
        to_torch(g)


def test_onnxruntime_session_of_a_model_too_large_to_serialise(monkeypatch):
    """Models over protobuf's limit reach onnxruntime through a temporary external-data file (the
    limit is lowered to 0 here, so that a small model takes that path)."""
    g = _cnn()
    model = to_onnx(g)
    x = _x(2)
    expected = _outputs(model, x)
    monkeypatch.setattr(runtime, "SERIALIZE_LIMIT", 0)
    np.testing.assert_array_equal(_outputs(g, x), expected)
    np.testing.assert_array_equal(_outputs(model, x), expected)
    # the caller's model keeps its weights inside
    assert all(t.data_location == TensorProto.DEFAULT and t.raw_data for t in model.graph.initializer)
