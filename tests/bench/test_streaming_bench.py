"""The streaming benchmark: every path measured, identical weights with augmentation off, JSON via the CLI."""

from __future__ import annotations

import json

from alphanas.bench.streaming import main, markdown, run


def test_streaming_benchmark_rows_and_identical_weights(tmp_path):
    res = run(n=96, size=8, epochs=1, batch_size=32, workers=(0, 1), model="cnn", device="cpu")
    assert [r["path"] for r in res["rows"]] == ["in-memory", "streaming, 0 workers", "streaming, 1 worker",
                                               "streaming, memmap, 1 worker"]
    assert [r["streamed"] for r in res["rows"]] == [False, True, True, True]
    assert res["identical_weights"] is True
    assert all(r["images_per_s"] > 0 for r in res["rows"]) and res["rows"][0]["vs_in_memory"] == 1.0
    assert markdown(res).count("\n") == 5
    out = tmp_path / "s.json"
    assert main(["--n", "64", "--size", "8", "--epochs", "1", "--workers", "0", "--no-memmap", "--model", "cnn",
                 "--device", "cpu", "--json", str(out)]) == 0
    assert len(json.loads(out.read_text())["rows"]) == 2
