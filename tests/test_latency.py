"""``alphanas bench`` and :mod:`alphanas.latency`: JSON rows, ratios, batches, and user errors."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from alphanas import latency
from alphanas.cli import main
from alphanas.ir import save_onnx
from alphanas.ir.builder import GraphBuilder


def model(tmp_path, name: str, width: int):
    b = GraphBuilder(name, seed=0)
    x = b.input("x", ("N", 3, 8, 8))
    path = tmp_path / f"{name}.onnx"
    save_onnx(b.build(b.global_avgpool(b.relu(b.conv(x, width, kernel=3)))), path)
    return path


@pytest.fixture
def models(tmp_path):
    return model(tmp_path, "small", 4), model(tmp_path, "wide", 32)


def test_json_rows(models, capsys):
    a, b = models
    assert main(["bench", str(a), str(b), "--batch", "1,3", "--warmup", "1", "--repeats", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["batch"]) for r in rows] == [(str(a), 1), (str(b), 1), (str(a), 3), (str(b), 3)]
    for r in rows:
        assert {"model", "provider", "batch", "median_ms", "p90_ms", "ratio"} <= set(r)
        assert r["provider"] == "CPUExecutionProvider"
        assert 0 < r["median_ms"] <= r["p90_ms"]
    for first, second in (rows[0:2], rows[2:4]):
        assert first["ratio"] == 1.0
        assert second["ratio"] == pytest.approx(second["median_ms"] / first["median_ms"])


def test_table_and_no_ort_optimize(models, capsys):
    a, _ = models
    assert main(["bench", str(a), "--warmup", "0", "--repeats", "2", "--no-ort-optimize"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"small\.onnx\s+│\s+CPU\s+│\s+1\s+│\s+[\d.]+\s+│\s+[\d.]+-[\d.]+\s+│\s+[\d,.]+\s+│\s+1\.000", text), text


def test_library_labels_and_graphs(models):
    from alphanas.ir import load_onnx

    a, b = models
    rows = latency.benchmark([load_onnx(a), b], labels=["in-memory", "file"], warmup=0, repeats=2)
    assert [r["model"] for r in rows] == ["in-memory", "file"] and rows[0]["throughput_per_s"] > 0


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("case,message", [
    ("missing", "no such file"),
    ("not-onnx", "not a readable ONNX model"),
    ("directory", "is a directory"),
    ("bad-batch", "--batch: expected integers"),
    ("zero-batch", "batch sizes must be >= 1"),
    ("cuda", "CUDA provider of onnxruntime is not available"),
])
def test_user_errors_exit_2(case, message, models, tmp_path, capsys):
    a, _ = models
    paths, extra = [a], []
    if case == "missing":
        paths = [a, tmp_path / "missing.onnx"]
    elif case == "not-onnx":
        bad = tmp_path / "bad.onnx"
        bad.write_text("not a model")
        paths = [bad]
    elif case == "directory":
        paths = [tmp_path]
    elif case == "bad-batch":
        extra = ["--batch", "1,a"]
    elif case == "zero-batch":
        extra = ["--batch", "0"]
    elif case == "cuda":
        from alphanas.ir.runtime import ort

        if "CUDAExecutionProvider" in ort().get_available_providers():
            pytest.skip("CUDA is available here")
        extra = ["--provider", "cuda"]
    hashes = {p: sha(p) for p in paths if p.is_file()}
    assert main(["bench", *map(str, paths), "--warmup", "0", "--repeats", "1", *extra]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alphanas: error:") and message in lines[0], captured.err
    assert "Traceback" not in captured.err + captured.out
    assert all(sha(p) == h for p, h in hashes.items())
