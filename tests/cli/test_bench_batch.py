"""bench --batch on models whose batch dimension is fixed: re-batched through the IR, or refused."""

import json

import numpy as np
import onnx
import pytest

from alphanas.bench.onnx_parity import light_path
from alphanas.cli import main
from alphanas.ir.runtime import session, session_feeds


def test_static_batch_model_is_rebatched_and_throughput_uses_the_batch_run(capsys):
    path = light_path("squeezenet")
    proto = onnx.load(path)
    inits = {t.name for t in proto.graph.initializer}
    data = [i for i in proto.graph.input if i.name not in inits]
    assert [i.type.tensor_type.shape.dim[0].dim_value for i in data] == [1]  # static batch 1
    assert main(["bench", path, "--batch", "1,4", "--repeats", "3", "--warmup", "1", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["batch"] for r in rows] == [1, 4]
    assert rows[0]["rebatched_from"] is None and rows[1]["rebatched_from"] == 1
    for r in rows:  # samples per second = the batch actually run / the median time
        assert r["throughput_per_s"] == pytest.approx(r["batch"] / (r["median_ms"] / 1e3))
        assert r["p10_ms"] <= r["median_ms"] <= r["p90_ms"] and r["repeats"] == 3 and r["warmup"] == 1


def test_rebatched_model_computes_the_same_per_sample_outputs():
    from alphanas.latency import rebatch

    path = light_path("squeezenet")
    original = onnx.load(path).SerializeToString()
    four = rebatch(original, 4, path)
    s1, s4 = session(original, "cpu"), session(four, "cpu")
    x4 = next(iter(session_feeds(s4, 4, 0).values()))
    name = s1.get_inputs()[0].name
    y4 = s4.run(None, {name: x4})[0]
    assert y4.shape[0] == 4
    for i in range(4):  # independent oracle: the original model run on each sample alone
        np.testing.assert_allclose(y4[i:i + 1], s1.run(None, {name: x4[i:i + 1]})[0], rtol=1e-4, atol=1e-6)


def test_model_whose_constants_fix_the_batch_is_refused_in_one_line(capsys):
    path = light_path("resnet50")  # ends in Reshape to a constant shape [1, 2048]
    assert main(["bench", path, "--batch", "2", "--repeats", "1", "--warmup", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "batch dimension is fixed at 1" in err and "--batch 1" in err
