"""``alphanas zoo list|export`` and ``alphanas inspect`` on real models.

``inspect``'s parameter and MAC counts are checked against torch: the trainable parameters of the
lowered module, and ``torch.utils.flop_counter.FlopCounterMode`` (which counts 2 FLOPs per
multiply-accumulate of convolutions and matrix products) on a batch-1 forward pass.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from alphanas import zoo
from alphanas.cli import main
from alphanas.ir import load_onnx
from alphanas.ir.torch_lowering import to_torch


def test_zoo_list_names_every_model(capsys):
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    for name in zoo.names():
        assert name in out


@pytest.mark.parametrize("name,size,channels", [("cnn", 8, 1), ("mobilenetv2", 32, 3)])
def test_zoo_export_then_inspect_matches_torch_counts(tmp_path, capsys, name, size, channels):
    out = tmp_path / f"{name}.onnx"
    assert main(["zoo", "export", name, "--input-size", str(size), "--in-channels", str(channels),
                 "--num-classes", "7", "-o", str(out)]) == 0
    capsys.readouterr()
    g = load_onnx(out)
    assert list(g.inputs[0].shape) == ["N", channels, size, size] and list(g.outputs[0].shape) == ["N", 7]
    assert main(["inspect", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    module = to_torch(g).eval()
    assert rep["params"] == sum(p.numel() for p in module.parameters())
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.zeros(1, channels, size, size))
    assert rep["macs"] == counter.get_total_flops() // 2
    assert rep["opaque_ops"] == {} and sum(rep["ops"].values()) == rep["nodes"] == len(g.nodes)
    assert rep["inputs"][0]["shape"] == ["N", channels, size, size]
    # the table form shows the same totals
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"params {rep['params']:,}" in text and f"MACs {rep['macs']:,}" in text


def test_zoo_export_refuses_to_overwrite_and_unknown_names(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["zoo", "export", "cnn", "-o", str(out)]) == 0
    before = out.read_bytes()
    assert main(["zoo", "export", "cnn", "--seed", "1", "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["zoo", "export", "cnn", "--seed", "1", "-o", str(out), "--force"]) == 0
    assert out.read_bytes() != before  # another seed, other weights
    assert main(["zoo", "export", "nosuchnet", "-o", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert "unknown zoo model 'nosuchnet'" in err and err.count("\n") == 1
    assert not (tmp_path / "x.onnx").exists()


def test_inspect_counts_the_weights_of_an_opaque_op_but_never_its_flops_as_zero(tmp_path, capsys):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((3, 3, 3, 3), np.float32), "W")  # 81 parameters for the Conv
    c = numpy_helper.from_array(np.ones((90,), np.float32), "C")  # 90 read only by the custom op
    g = helper.make_graph([helper.make_node("Conv", ["X", "W"], ["Y"], pads=[1, 1, 1, 1]),
                           helper.make_node("MyOp", ["Y", "C"], ["Z"], domain="com.example")], "custom",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("Z", TensorProto.FLOAT, None)], [w, c])
    path = tmp_path / "custom.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)]),
              path)
    assert main(["inspect", str(path), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["params"] == 81 + 90 and rep["opaque_params"] == 90
    # the Conv's FLOPs by hand: 8x8 outputs x 3 channels x (3x3x3 MACs) x 2
    assert rep["flops"] is None and rep["macs"] is None  # no total that leaves a node out
    assert rep["flops_known"] == 8 * 8 * 3 * 27 * 2 and rep["flops_unknown_nodes"] == ["myop"]
    assert [r["flops"] for r in rep["nodes_table"]] == [8 * 8 * 3 * 27 * 2, None]
    assert main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    assert "FLOPs 10,368 + ?" in text and "opaque node(s) are unknown" in text
    assert [line for line in text.splitlines() if "MyOp (opaque)" in line][0].rstrip(" │").endswith("?")
