"""``--input-shape NAME:DIMS`` on inspect, rewrite, mutate and bench; bad values: one line, exit 2."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from alphanas.cli import main


@pytest.fixture
def strided(tmp_path):
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, "height", "width"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.full((4, 3, 3, 3), 0.1, np.float32), "w")
    nodes = [helper.make_node("Conv", ["images", "w"], ["c"], name="conv", strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w]), opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "strided.onnx"
    onnx.save(m, path)
    return path


def test_inspect_counts_exactly_with_input_shape(strided, capsys):
    assert main(["inspect", str(strided), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["macs"] is None and rep["symbolic_dims"] == ["height", "width"]
    assert main(["inspect", str(strided), "--json", "--input-shape", "images:1,3,320,320"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["macs"] == 160 * 160 * 4 * 27 and rep["symbolic_dims"] == []
    assert main(["inspect", str(strided)]) == 0
    out = capsys.readouterr().out
    assert "MACs ?" in out and "--input-shape" in out and "-" not in out.split("MACs")[1].split()[0]


@pytest.mark.parametrize("value,message", [
    ("images:1,3,x,4", "must be integers"), ("nope:1,3,8,8", "not an input of the model"),
    ("images:1,3,8", "rank"), ("images", "NAME:DIMS"),
])
@pytest.mark.parametrize("command", ["inspect", "rewrite", "mutate", "bench"])
def test_bad_input_shape_is_one_line_exit_2(strided, tmp_path, capsys, command, value, message):
    args = {"inspect": ["inspect", str(strided)], "rewrite": ["rewrite", str(strided), "-o", str(tmp_path / "o.onnx")],
            "mutate": ["mutate", str(strided), "-o", str(tmp_path / "o.onnx")],
            "bench": ["bench", str(strided), "--repeats", "1", "--warmup", "0"]}[command]
    rc = main([*args, "--input-shape", value])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "o.onnx").exists()


def test_rewrite_and_bench_take_input_shape(strided, tmp_path, capsys):
    out = tmp_path / "o.onnx"
    assert main(["rewrite", str(strided), "-o", str(out), "--verify", "--input-shape", "images:1,3,16,16"]) == 0
    dims = [d.dim_value for d in onnx.load(out).graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 16, 16]
    capsys.readouterr()
    assert main(["bench", str(strided), "--repeats", "2", "--warmup", "0", "--json",
                 "--input-shape", "images:1,3,24,24"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and rows[0]["median_ms"] > 0
