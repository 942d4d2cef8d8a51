"""The property benchmark runs (tiny repeat count) and prints the documented JSON keys (no timing asserts)."""

from __future__ import annotations

import json

import pytest

from alphanas.bench import properties as bench
from alphanas.cli import main
from alphanas.errors import AlphanasError


def test_benchmark_json_keys(capsys):
    assert main(["benchmark", "properties", "--models", "resnet50", "--repeats", "1", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == ["resnet50"]
    r = rows[0]
    assert set(r) == set(bench.ROW_KEYS) >= {"model", "properties_ms", "shape_inference_ms", "ratio"}
    assert r["properties_ms"] > 0 and r["shape_inference_ms"] > 0
    assert r["ratio"] == pytest.approx(r["properties_ms"] / r["shape_inference_ms"])
    assert r["nodes"] > 100 and r["blocks"] > 10


def test_benchmark_rejects_unknown_model():
    with pytest.raises(AlphanasError, match="unknown"):
        bench.main(["--models", "alexnet"])


def test_structure_only_keeps_shapes():
    """Weights become inputs, but shape inference still derives every dimension (the light ResNet-50's weights
    come from ``ConstantOfShape`` nodes whose integer shape operands must stay initializers)."""
    import onnx

    _, proto = bench.load_model("resnet50")
    assert proto.graph.initializer and all(t.data_type == onnx.TensorProto.INT64 for t in proto.graph.initializer)
    inferred = onnx.shape_inference.infer_shapes(proto)
    out = inferred.graph.output[0].type.tensor_type.shape
    assert [d.dim_value for d in out.dim][1:] == [1000]
    values = list(inferred.graph.value_info) + list(inferred.graph.output)
    assert len(values) == len(proto.graph.node)  # every node output inferred (all nodes have one output)
    for v in values:
        dims = v.type.tensor_type.shape.dim
        assert dims and all(d.HasField("dim_value") for d in dims), v.name
