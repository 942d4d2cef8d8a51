"""Quantized (QDQ) models keep their form through import, ``rewrite`` (the default pipeline) and export:
integer weights are never folded into floats, the file keeps its size, and onnxruntime computes the same."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from alphanas.cli import main
from alphanas.ir import load_onnx, save_onnx
from alphanas.ir.runtime import session

quantization = pytest.importorskip("onnxruntime.quantization")


def _float_convnet(rng: np.random.Generator) -> onnx.ModelProto:
    """conv 3->64, conv 64->64 stride 2, global pool, linear 64->10 (about 40 k weights)."""
    def weight(name, shape):
        return numpy_helper.from_array((0.2 * rng.standard_normal(shape)).astype(np.float32), name)

    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("GlobalAveragePool", ["r2"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1)]
    graph = helper.make_graph(
        nodes, "qnet", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [weight("w1", [64, 3, 3, 3]), weight("b1", [64]), weight("w2", [64, 64, 3, 3]), weight("b2", [64]),
         weight("w3", [10, 64]), weight("b3", [10])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def qdq_model(tmp_path_factory):
    """A QDQ model made by onnxruntime's ``quantize_static`` (int8 weights, int32 biases, uint8 activations)."""
    folder = tmp_path_factory.mktemp("qdq")
    rng = np.random.default_rng(0)
    onnx.save_model(_float_convnet(rng), str(folder / "float.onnx"))
    samples = [{"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)} for _ in range(4)]

    class Calibration(quantization.CalibrationDataReader):
        def __init__(self):
            self.samples = iter(samples)

        def get_next(self):
            return next(self.samples, None)

    quantization.quantize_static(str(folder / "float.onnx"), str(folder / "qdq.onnx"), Calibration(),
                                 quant_format=quantization.QuantFormat.QDQ, weight_type=quantization.QuantType.QInt8,
                                 activation_type=quantization.QuantType.QUInt8)
    return folder / "qdq.onnx"


def _integer_tensors(model: onnx.ModelProto) -> dict[str, bytes]:
    """The integer initializers with more than one element (weights and biases), name -> bytes."""
    out = {}
    for t in model.graph.initializer:
        a = numpy_helper.to_array(t)
        if a.dtype.kind in "iu" and a.size > 1:
            out[t.name] = a.tobytes()
    return out


def _outputs(path, x):
    return session(str(path), "cpu", optimize=False).run(None, {"x": x})


def _assert_same_quantized_model(original, written):
    a, b = onnx.load(str(original)), onnx.load(str(written))
    ops = lambda m: Counter(n.op_type for n in m.graph.node)  # noqa: E731
    assert ops(b)["DequantizeLinear"] == ops(a)["DequantizeLinear"] == 12
    assert ops(b)["QuantizeLinear"] == ops(a)["QuantizeLinear"]
    weights = _integer_tensors(a)
    assert {k: weights[k] for k in ("w1_quantized", "w2_quantized", "w3_quantized", "b1_quantized")}, weights
    assert _integer_tensors(b) == weights  # int8 weights and int32 biases byte-identical, by name
    assert not any(numpy_helper.to_array(t).dtype.kind == "f" and t.name.startswith(("w1", "w2", "w3"))
                   and numpy_helper.to_array(t).size > 1 for t in b.graph.initializer), "a weight became float"
    size_a, size_b = original.stat().st_size, written.stat().st_size
    assert abs(size_b - size_a) <= 0.05 * size_a, (size_a, size_b)
    x = np.random.default_rng(1).standard_normal((1, 3, 16, 16)).astype(np.float32)
    for r, g in zip(_outputs(original, x), _outputs(written, x)):
        np.testing.assert_array_equal(r, g)


def test_import_export_keeps_quantization(qdq_model, tmp_path):
    save_onnx(load_onnx(qdq_model), tmp_path / "out.onnx")
    _assert_same_quantized_model(qdq_model, tmp_path / "out.onnx")


def test_rewrite_keeps_quantization(qdq_model, tmp_path, capsys):
    out = tmp_path / "out.onnx"
    assert main(["rewrite", str(qdq_model), "-o", str(out), "--verify"]) == 0
    assert "verified with onnxruntime" in capsys.readouterr().out
    _assert_same_quantized_model(qdq_model, out)


def test_const_fold_leaves_dequantize_linear(qdq_model):
    from alphanas.passes import pipeline

    graph = load_onnx(qdq_model)
    result = pipeline(["const-fold"]).run(graph)
    assert Counter(n.op_type for n in result.graph.nodes)["DequantizeLinear"] == 12
    assert not result.modified
