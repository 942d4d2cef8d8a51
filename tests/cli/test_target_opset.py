"""``--target-opset`` of ``alphanas rewrite`` and ``alphanas mutate``: the model is written at its own opset
by default, at the opset asked for otherwise."""

from __future__ import annotations

import onnx

from alphanas.cli import main


def _opset(path) -> int:
    return {o.domain: o.version for o in onnx.load(str(path)).opset_import}[""]


def test_rewrite_keeps_the_opset_or_converts(demo_model, tmp_path):
    own = _opset(demo_model)
    kept, converted = tmp_path / "kept.onnx", tmp_path / "converted.onnx"
    assert main(["rewrite", str(demo_model), "-o", str(kept)]) == 0
    assert _opset(kept) == own
    target = 13 if own != 13 else 17
    assert main(["rewrite", str(demo_model), "-o", str(converted), "--target-opset", str(target), "--verify"]) == 0
    assert _opset(converted) == target
    onnx.checker.check_model(str(converted), full_check=True)
