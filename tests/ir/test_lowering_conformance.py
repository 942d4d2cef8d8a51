"""The ONNX backend node tests as a lowering conformance test: every case of an op with an ``OpDef``
that imports is lowered to torch (eval mode) and reproduces the expected outputs, or is refused with a
one-line error; no mismatch and no crash (:mod:`alphanas.bench.lowering`, which also prints the counts)."""

from __future__ import annotations

import pytest

from alphanas.bench import lowering

#: lowered cases as measured (onnx 1.23, torch 2.x); the count only goes up
MIN_LOWERED = 592


@pytest.fixture(scope="module")
def results():
    return lowering.run_all()


def test_no_crash_and_no_mismatch(results):
    bad = [(r.outcome, r.name, r.detail) for r in results if r.outcome in ("crash", "mismatch")]
    assert not bad, bad


def test_refusals_are_one_line_and_name_the_node(results):
    for r in results:
        if r.outcome == "refused":
            assert r.detail and "\n" not in r.detail, r


def test_lowered_count(results):
    s = lowering.summary(results)
    assert s["cases"] > 400, s["outcomes"]  # the generator produced the suite
    assert s["outcomes"]["lowered"] >= MIN_LOWERED, s["outcomes"]


def test_to_torch_is_in_eval_mode():
    import alphanas
    from alphanas.ir import to_torch

    g = alphanas.zoo.build("cnn", input_size=8, in_channels=1, num_classes=10, width=8, seed=0)
    module = to_torch(g)
    assert not module.training and not any(m.training for m in module.modules())


def test_unsupported_element_type_is_one_line():
    import numpy as np
    from onnx import TensorProto, helper

    from alphanas.errors import UnsupportedModelError
    from alphanas.ir import from_onnx, to_torch

    node = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT8E4M3FN)
    model = helper.make_model(helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT8E4M3FN, [2])]), opset_imports=[helper.make_opsetid("", 21)])
    g = from_onnx(model)
    with pytest.raises(UnsupportedModelError, match=r"\(Cast\).*float8_e4m3fn") as e:
        to_torch(g)
    assert "\n" not in str(e.value)
    assert np.dtype(g.outputs[0].dtype).name == "float8_e4m3fn"
