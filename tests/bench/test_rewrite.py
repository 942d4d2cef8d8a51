"""The rewrite benchmark (``alphanas benchmark rewrite``) on two small zoo models."""

from __future__ import annotations

import json

import pytest

from alphanas.bench import rewrite
from alphanas.cli import main


def test_benchmark_small_models(tmp_path, capsys):
    out, png, keep = tmp_path / "r.json", tmp_path / "r.png", tmp_path / "files"
    assert main(["benchmark", "rewrite", "--models", "cnn,resnet_small", "--repeats", "2", "--warmup", "0",
                 "--threads", "1", "--keep", str(keep), "--json", str(out), "--plot", str(png), "--markdown"]) == 0
    text = capsys.readouterr().out
    data = json.loads(out.read_text())
    by_name = {m["model"]: m for m in data["models"]}
    # hand counts: the cnn has 4 Conv+BN pairs, resnet_small 9 (the zoo graphs have nothing else to remove)
    assert by_name["cnn"]["nodes"]["original"] == 16 and by_name["cnn"]["nodes"]["alphanas"] == 12
    assert by_name["resnet_small"]["nodes"]["original"] == 31 and by_name["resnet_small"]["nodes"]["alphanas"] == 22
    for m in data["models"]:
        assert m["nodes"]["imported"] == m["nodes"]["original"]  # zoo exports are already canonical
        assert m["max_error"]["alphanas"] < 1e-4
        for key in ("latency_ms", "raw_latency_ms"):
            assert m[key]["original"] > 0 and m[key]["alphanas"] > 0
        if data["onnxsim"]:
            assert m["nodes"]["onnxsim"] is not None and m["max_error"]["onnxsim"] < 1e-4
    assert (keep / "cnn.onnx").is_file() and (keep / "cnn.alphanas.onnx").is_file()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| cnn | 16 | 16 | 12 |" in text
    s = data["summary"]["alphanas"]["nodes_ratio"]
    assert s == pytest.approx((12 / 16 * 22 / 31) ** 0.5)


def test_unknown_model_is_a_user_error(capsys):
    assert main(["benchmark", "rewrite", "--models", "cnn,nonesuch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--models: unknown nonesuch" in err


def test_lists_all_models():
    names = rewrite.all_models()
    assert len([n for n in names if n.startswith("light_")]) == 9 and "vit_ti16" in names
