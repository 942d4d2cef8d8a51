"""Models exported from PyTorch with both exporters: import, save, and the saved model runs equal to the
original in onnxruntime at two input sizes; symbolic shapes stay truthful; the YOLO-style model is
costed exactly with input shapes given."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from alphanas.ir import cost, load_onnx, save_onnx, symbolic
from alphanas.ir.runtime import ort
from tests.models.exported import EXPORTERS, SPECS

pytest.importorskip("onnxscript")

CASES = [(name, exporter) for name in SPECS for exporter in EXPORTERS]


def _run(path, feeds):
    return ort().InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)


@pytest.mark.parametrize("name,exporter", CASES)
def test_round_trip_runs_equal_at_two_sizes(exported_model, tmp_path, name, exporter):
    spec = SPECS[name]
    src = exported_model(name, exporter)
    graph = load_onnx(src)
    out = tmp_path / "saved.onnx"
    save_onnx(graph, out)
    for binding in spec.check_sizes(exporter):
        feeds = spec.feeds(binding)
        expected, got = _run(src, feeds), _run(out, feeds)
        assert len(expected) == len(got)
        for e, g in zip(expected, got):
            assert e.shape == g.shape
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def _declared_dims(model: onnx.ModelProto) -> dict[str, list]:
    out = {}
    for vi in list(model.graph.value_info) + list(model.graph.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
            out[vi.name] = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                            for d in vi.type.tensor_type.shape.dim]
    return out


@pytest.mark.parametrize("name,exporter", [(n, e) for n in ("yolo", "unet", "detection_head") for e in EXPORTERS])
def test_saved_shapes_hold_at_run_time(exported_model, tmp_path, name, exporter):
    """Every dimension the saved model declares (value_info and outputs) is the size onnxruntime
    computes, at both input sizes: a symbol or expression never stands for two sizes."""
    spec = SPECS[name]
    out = tmp_path / "saved.onnx"
    save_onnx(load_onnx(exported_model(name, exporter)), out)
    model = onnx.load(out)
    declared = _declared_dims(model)
    assert any(isinstance(d, str) for dims in declared.values() for d in dims)
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {o.name for o in probe.graph.output}
    probe.graph.output.extend(vi for vi in model.graph.value_info if vi.name not in known)
    names = [o.name for o in probe.graph.output]
    graph_inputs = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    for binding in spec.check_sizes(exporter):
        feeds = spec.feeds(binding)
        symbols = {}
        for n, dims in graph_inputs.items():
            for d, size in zip(dims, feeds[n].shape):
                if isinstance(d, str):
                    symbols.update(_solve(d, size))
        results = ort().InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
        for n, r in zip(names, results):
            for d, size in zip(declared.get(n, []), np.shape(r)):
                if d is not None:
                    assert symbolic.evaluate(d, symbols) == size, (n, d, symbols)


def _solve(dim: str, size: int) -> dict[str, int]:
    """The binding of the one symbol of an input dimension (``height`` or ``16*height_16``) to ``size``."""
    (name,) = symbolic.symbols_of(dim)
    for v in range(1, size + 1):
        if symbolic.evaluate(dim, {name: v}) == size:
            return {name: v}
    raise AssertionError(f"no value of {name} gives {dim} = {size}")


def _tiny_yolo_macs(h: int, w: int) -> int:
    """TinyYolo's multiply-accumulates counted by hand (batch norm folded into the convolutions)."""
    def conv(cin, cout, k, oh, ow):
        return oh * ow * cout * cin * k * k

    s2, s4, s8, s16 = [(h // f, w // f) for f in (2, 4, 8, 16)]
    return (conv(3, 4, 3, *s2) + conv(4, 8, 3, *s4) + conv(8, 8, 3, *s8) + conv(8, 16, 3, *s16)
            + conv(24, 8, 3, *s8) + conv(8, 7, 1, *s8) + conv(16, 7, 1, *s16))


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_yolo_costed_exactly_with_input_shapes(exported_model, exporter):
    src = exported_model("yolo", exporter)
    dynamic = load_onnx(src)
    unknown = cost.counts(dynamic)
    assert unknown["macs"] is None and unknown["flops"] is None  # never counted at 1 nor negative
    assert {"height", "width"} & set(cost.symbolic_dims(dynamic)) or {"height_16", "width_16"} <= set(cost.symbolic_dims(dynamic))
    for size in (320, 640):
        fixed = load_onnx(src, input_shapes={"images": (1, 3, size, size)})
        counts = cost.counts(fixed)
        assert counts["macs"] == _tiny_yolo_macs(size, size)
        static = cost.counts(load_onnx(exported_model("yolo", exporter, static={"height": size, "width": size})))
        assert counts == static
        assert fixed.outputs[0].shape == (1, (size // 8) ** 2 + (size // 16) ** 2, 7)


def test_pyramid_levels_get_distinct_sizes(exported_model):
    """A stride-2 convolution over a symbolic height gives ONNX's floor expression, not the same symbol."""
    graph = load_onnx(exported_model("yolo", "legacy"))
    convs = [n for n in graph.nodes if n.op_type == "Conv"]
    heights = [n.outputs[0].shape[2] for n in convs[:4]]
    assert heights[0] == "floor(height/2 - 1/2) + 1"
    assert len(set(heights)) == 4
    for h, expected in zip(heights, (160, 80, 40, 20)):
        assert symbolic.evaluate(h, {"height": 320}) == expected


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_transformer_costs_unknown_not_crashing(exported_model, exporter):
    graph = load_onnx(exported_model("transformer", exporter))
    assert cost.counts(graph)["flops"] is None
    fixed = load_onnx(exported_model("transformer", exporter), input_shapes={"x": (2, 5, 8)})
    counts = cost.counts(fixed)
    assert counts["macs"] > 0 and counts["flops"] > 0


def _recurrent_spec(name: str):
    from torch import nn

    from tests.models.exported import Recurrent, Spec

    if name in SPECS:
        return SPECS[name]
    return Spec(name, lambda: Recurrent(nn.RNN), {"x": (("batch", "seq", 4), "float32")},
                ({"batch": 2, "seq": 5}, {"batch": 3, "seq": 9}))


@pytest.mark.parametrize("name,exporter", [("lstm", "legacy"), ("gru", "legacy"), ("rnn", "legacy"),
                                           ("lstm", "dynamo"), ("gru", "dynamo")])
def test_recurrent_exports_lower_and_match_onnxruntime(exported_model, tmp_path, name, exporter):
    """nn.LSTM / nn.GRU / nn.RNN (batch first, a Linear head) exported as ONNX LSTM/GRU/RNN nodes (the dynamo
    exporter's zero state is an ``Expand`` to a run-time shape): the lowered module (eval mode) matches
    onnxruntime within 1e-4 of the output scale at two sequence lengths."""
    from alphanas.ir import to_torch
    from tests.models.exported import assert_lowered_matches, export

    spec = _recurrent_spec(name)
    src = exported_model(name, exporter) if name in SPECS else export(spec, exporter, tmp_path / f"{name}.onnx")
    graph = load_onnx(src)
    assert name.upper() in {n.op_type for n in graph.nodes} and not any(n.is_opaque for n in graph.nodes)
    module = to_torch(graph)
    for binding in spec.check_sizes(exporter):
        feeds = spec.feeds(binding)
        assert_lowered_matches(module, graph, feeds, _run(src, feeds))
