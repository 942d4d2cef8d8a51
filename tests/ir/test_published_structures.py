"""Structures found in published models (the corpus of ``alphanas.bench.corpus``: OCR models, Silero VAD,
YOLO-family detectors), reproduced on small models built here: CI has no internet, and the downloaded
models are not committed. Each test names the model it stands for. Oracles: onnxruntime's outputs on
the original model, ONNX's own shape arithmetic, hand-written expected names and sizes."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from alphanas import passes
from alphanas.errors import AlphanasError
from alphanas.ir import from_onnx, symbolic, to_onnx
from alphanas.ir.runtime import parse_input_values, random_feeds, verification_feeds
from alphanas.passes.builtin import DEFAULT_PIPELINE
from alphanas.passes.equivalence import compare, reference_feeds, reference_outputs, rewrite_guard

ort = pytest.importorskip("onnxruntime")


def _model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    m = h.make_model(h.make_graph(nodes, "g", inputs, outputs, list(inits)), opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _run(model: onnx.ModelProto, feeds: dict) -> list:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _unnamed(shape) -> onnx.TypeProto:
    """A float tensor type whose ``None`` dims have neither value nor name, and ``-1`` a negative value."""
    t = h.make_tensor_type_proto(T.FLOAT, [1] * len(shape))
    for d, s in zip(t.tensor_type.shape.dim, shape):
        d.Clear()
        if s is not None:
            d.dim_value = s  # (a negative dim_value, as some exporters write for "dynamic")
    return t


def test_unnamed_negative_and_question_mark_dims_are_fresh_per_value():
    # ddddocr's old model: inputs and inferred shapes with unnamed dims; they were all "?0", one symbol for
    # different sizes, and a later Reshape to [-1, 1024] was refused
    a = h.make_value_info("a", _unnamed([None, 1, 2, 512]))
    b = h.make_value_info("b", _unnamed([-1, 7]))
    c = h.make_tensor_value_info("c", T.FLOAT, ["?", 3])
    shape = h.make_tensor("shape", T.INT64, [2], [-1, 1024])
    m = _model([h.make_node("Reshape", ["a", "shape"], ["r"]), h.make_node("Relu", ["b"], ["rb"]),
                h.make_node("Relu", ["c"], ["rc"])],
               [a, b, c], [h.make_tensor_value_info(n, T.FLOAT, None) for n in ("r", "rb", "rc")], [shape])
    g = from_onnx(m)
    dims = {v.name: v.shape for v in g.inputs}
    assert all(symbolic.is_unknown(d[0]) for d in dims.values())
    assert len({d[0] for d in dims.values()}) == 3  # never one symbol for two sizes
    r = next(v for v in g.outputs if v.name == "r")
    assert r.shape == (dims["a"][0], 1024)
    feeds = {"a": np.ones((3, 1, 2, 512), np.float32), "b": np.ones((5, 7), np.float32),
             "c": np.ones((2, 3), np.float32)}
    for x, y in zip(_run(m, feeds), _run(to_onnx(g), feeds)):
        np.testing.assert_array_equal(x, y)


def test_expressions_over_unknowns_parse_and_normalise():
    # an unknown times a constant (a Reshape that merged axes) must divide back; N*2 is 2*N
    assert symbolic.to_dim(symbolic.to_expr("1024*?x#0") / 1024) == "?x#0"
    assert symbolic.symbols_of("1024*?x#0") == {"?x#0"}
    assert symbolic.to_dim(symbolic.to_expr("N*2")) == "2*N" == symbolic.mul("N", 2)
    assert symbolic.to_expr("?x#0") == symbolic.to_expr("?x#0")


@pytest.mark.parametrize("op", ["Identity", "Dropout"])
def test_identity_and_dropout_graph_outputs_keep_their_names(op):
    # OCR recognition models end in an Identity (Paddle) or Dropout: the output name is the model's API
    m = _model([h.make_node("Relu", ["x"], ["r"]), h.make_node(op, ["r"], ["out"]),
                h.make_node("Sigmoid", ["r"], ["s"])],
               [h.make_tensor_value_info("x", T.FLOAT, ["N", 4])],
               [h.make_tensor_value_info("out", T.FLOAT, None), h.make_tensor_value_info("s", T.FLOAT, None)])
    g = from_onnx(m)
    assert [v.name for v in g.outputs] == ["out", "s"]
    rewritten = passes.pipeline(list(DEFAULT_PIPELINE)).run(g).graph
    saved = to_onnx(rewritten)
    assert [o.name for o in saved.graph.output] == ["out", "s"]
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    for a, b in zip(_run(m, {"x": x}), _run(saved, {"x": x})):
        np.testing.assert_allclose(a, b)


def test_reshape_chain_leaves_a_reshape_to_a_runtime_shape_alone():
    # PP-OCR recognition / ddddocr: Reshape to a shape computed from a runtime value (opaque, no shape)
    # followed by a static reshape; reshape-chain crashed ("value has no shape")
    shp = h.make_tensor_value_info("shp", T.INT64, [1])
    shp.type.tensor_type.shape.dim[0].Clear()  # a shape vector of unknown length: the output's rank is unknown
    nodes = [h.make_node("Relu", ["x"], ["rx"]), h.make_node("Reshape", ["rx", "shp"], ["r1"]),
             h.make_node("Flatten", ["r1"], ["out"])]
    m = _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, [2, 4]), shp],
               [h.make_tensor_value_info("out", T.FLOAT, None), h.make_tensor_value_info("r1", T.FLOAT, None)])
    g = from_onnx(m)
    assert next(v for v in g.outputs if v.name == "r1").shape is None
    feeds = {"x": np.arange(8, dtype=np.float32).reshape(2, 4), "shp": np.array([4, 2], np.int64)}
    rewritten = passes.pipeline(["reshape-chain", "dce"]).run(g).graph
    for a, b in zip(_run(m, feeds), _run(to_onnx(rewritten), feeds)):
        np.testing.assert_array_equal(a, b)


def _silero_like() -> onnx.ModelProto:
    """Silero VAD's structure: audio ``input`` [batch, samples] (unnamed dims), reflect-padded by 64 (so it
    needs more than 64 samples), a recurrent ``state`` [2, batch, 128] whose batch axis is not leading
    and shares no symbol, and an int64 scalar ``sr`` that must be 16000 (else the If fails)."""
    audio = h.make_value_info("input", _unnamed([None, None]))
    state = h.make_value_info("state", _unnamed([2, None, 128]))
    sr = h.make_tensor_value_info("sr", T.INT64, [])
    ok = h.make_graph([h.make_node("Identity", ["one"], ["y"])], "ok", [], [h.make_tensor_value_info("y", T.FLOAT, [1])])
    bad = h.make_graph([h.make_node("Reshape", ["one", "bad_shape"], ["y2"])], "bad", [],
                       [h.make_tensor_value_info("y2", T.FLOAT, None)])  # fails: 1 element to 7
    nodes = [
        h.make_node("Pad", ["input", "pads"], ["padded"], mode="reflect"),
        h.make_node("ReduceSum", ["padded", "axis1"], ["energy"], keepdims=1),  # [batch, 1]
        h.make_node("Add", ["state", "energy"], ["new_state"]),  # [2, batch, 128]: batch must match
        h.make_node("Equal", ["sr", "rate"], ["is16k"]),
        h.make_node("If", ["is16k"], ["gate"], then_branch=ok, else_branch=bad),
        h.make_node("Mul", ["energy", "gate"], ["out"]),
    ]
    inits = [h.make_tensor("pads", T.INT64, [4], [0, 64, 0, 64]), h.make_tensor("axis1", T.INT64, [1], [1]),
             h.make_tensor("rate", T.INT64, [], [16000]), h.make_tensor("one", T.FLOAT, [1], [1.0]),
             h.make_tensor("bad_shape", T.INT64, [1], [7])]
    return _model(nodes, [audio, state, sr],
                  [h.make_tensor_value_info("out", T.FLOAT, None), h.make_tensor_value_info("new_state", T.FLOAT, None)],
                  inits)


def test_silero_like_model_gets_runnable_verification_inputs():
    m = _silero_like()
    g = from_onnx(m)
    feeds = random_feeds(g, 1, 0)
    assert feeds["sr"].dtype == np.int64 and feeds["sr"].shape == () and int(feeds["sr"]) == 16000
    with pytest.raises(Exception, match="(?i)pad"):  # at the default sizes: 32 samples cannot be reflect-padded by 64
        reference_outputs(g, verification_feeds(g))
    feeds_list, ref = reference_feeds(g)
    assert len(feeds_list) == 2 and len(ref) == 2
    for f in feeds_list:
        n, samples = f["input"].shape
        assert samples > 64 and f["state"].shape == (2, n, 128)
    assert {f["input"].shape[0] for f in feeds_list} == {1, 2}  # two sizes: a dynamic batch is exercised
    # rewrite --verify end to end: the guard and the final comparison run on those inputs
    pm = passes.pipeline(list(DEFAULT_PIPELINE))
    pm.guard = rewrite_guard(g)
    rewritten = pm.run(g).graph
    assert compare(g, rewritten).ok


def test_input_values_override_and_parse():
    m = _silero_like()
    g = from_onnx(m)
    values = parse_input_values(["sr:8000"])
    assert int(random_feeds(g, 1, 0, input_values=values)["sr"]) == 8000
    with pytest.raises(AlphanasError, match="sr:16000"):
        parse_input_values(["sr"])
    with pytest.raises(AlphanasError, match="number"):
        parse_input_values(["sr:fast"])
    with pytest.raises(AlphanasError, match="cannot verify"):  # 8000 takes the failing branch: one line
        compare(g, g, input_values=values)


def test_schema_violation_is_one_line_refusal():
    m = _model([h.make_node("Relu", ["x", "x"], ["y"])], [h.make_tensor_value_info("x", T.FLOAT, [1, 4])],
               [h.make_tensor_value_info("y", T.FLOAT, None)])
    with pytest.raises(AlphanasError) as e:
        from_onnx(m)
    assert "\n" not in str(e.value) and "Relu" in str(e.value)


def test_corpus_benchmark_on_small_models(tmp_path, capsys):
    from alphanas.bench import corpus

    onnx.save(_silero_like(), str(tmp_path / "vad.onnx"))
    m = _model([h.make_node("Relu", ["x"], ["r"]), h.make_node("Identity", ["r"], ["out"])],
               [h.make_tensor_value_info("x", T.FLOAT, ["N", 4])], [h.make_tensor_value_info("out", T.FLOAT, None)])
    onnx.save(m, str(tmp_path / "relu.onnx"))
    results = corpus.run_corpus(tmp_path)
    assert [r.name for r in results] == ["relu.onnx", "vad.onnx"]
    for r in results:
        assert r.status("ort") == "ok" and r.passes, r.steps
    assert results[0].status("torch") == "ok"
    assert corpus.main([str(tmp_path), "--markdown", "--json", str(tmp_path / "out.json")]) == 0
    out = capsys.readouterr().out
    assert "| relu.onnx |" in out and "2 models, 2 run by onnxruntime; of those, 2 pass" in out
    assert corpus.main([str(tmp_path / "nothing")]) == 2
