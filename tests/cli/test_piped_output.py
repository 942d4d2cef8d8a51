"""Output piped at 80 columns: every table keeps each identifier and number whole (no ellipsis, no name
broken across lines), and no command prints a Python dict."""

from __future__ import annotations

import json
import re

import pytest

from alphanas.cli import main


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from alphanas import zoo
    from alphanas.ir import save_onnx

    d = tmp_path_factory.mktemp("piped")
    save_onnx(zoo.build("resnet_small", input_size=8, in_channels=1, num_classes=10), d / "a_model_with_a_long_name.onnx")
    save_onnx(zoo.build("cnn", input_size=8, in_channels=1, num_classes=10), d / "cnn.onnx")
    return d


def run(capsys, monkeypatch, argv) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    assert main([str(a) for a in argv]) == 0
    out = capsys.readouterr().out
    assert "…" not in out, out  # rich's truncation mark
    assert not re.search(r"\{'\w+': ", out), out  # a Python dict
    return out


def whole_lines(text: str) -> set[str]:
    """Every token on every line (split at white space and table rules)."""
    return {tok for line in text.splitlines() for tok in re.split(r"[\s│┃|:,()]+", line) if tok}


def test_inspect_nodes_and_properties_keep_names_and_numbers_whole(capsys, monkeypatch, models):
    m = models / "a_model_with_a_long_name.onnx"
    rep = json.loads(run(capsys, monkeypatch, ["inspect", m, "--json", "--properties"]))
    text = run(capsys, monkeypatch, ["inspect", m, "--nodes", "--properties"])
    tokens = whole_lines(text)
    for row in rep["nodes_table"]:
        assert row["name"] in tokens, row["name"]
    for block in rep["properties"]["blocks"]:
        assert block["name"] in tokens, block["name"]
    assert f"{rep['params']:,}" in text and f"{rep['flops']:,}" in text


def test_rewrite_bench_zoo_and_passes_tables_whole(capsys, monkeypatch, models, tmp_path):
    a, b = models / "a_model_with_a_long_name.onnx", models / "cnn.onnx"
    text = run(capsys, monkeypatch, ["rewrite", a, "-o", tmp_path / "r.onnx"])
    rep = json.loads(run(capsys, monkeypatch, ["rewrite", a, "-o", tmp_path / "r2.onnx", "--json"]))
    for side in ("before", "after"):
        assert f"{rep[side]['params']:,}" in text and f"{rep[side]['flops']:,}" in text
    text = run(capsys, monkeypatch, ["bench", a, b, "--repeats", "2", "--warmup", "0"])
    assert a.name in whole_lines(text) and b.name in whole_lines(text)
    rows = json.loads(run(capsys, monkeypatch, ["bench", a, "--repeats", "2", "--warmup", "0", "--json"]))
    assert rows[0]["batch"] == 1
    text = run(capsys, monkeypatch, ["zoo", "list"])
    from alphanas import zoo

    for name in zoo.describe():
        assert name in whole_lines(text)
    text = run(capsys, monkeypatch, ["rewrite", "--list"])
    from alphanas import passes

    for name in passes.available():
        assert name in whole_lines(text) or f"{name}*" in text.replace(" *", "*")


def test_mutate_shows_exact_changes_and_no_empty_target(capsys, monkeypatch, models, tmp_path):
    m = models / "a_model_with_a_long_name.onnx"
    rep = json.loads(run(capsys, monkeypatch, ["mutate", m, "-o", tmp_path / "a.onnx", "--seed", "3", "--json"]))
    text = run(capsys, monkeypatch, ["mutate", m, "-o", tmp_path / "b.onnx", "--seed", "3"])
    for line in text.splitlines():
        assert line.strip() not in ("target:", "original:", "achieved:"), text
    for key in ("nodes", "params", "flops"):  # the exact difference beside the percentage
        d = rep["after"][key] - rep["before"][key]
        assert (f"{d:+,}" if d else "0") in text
