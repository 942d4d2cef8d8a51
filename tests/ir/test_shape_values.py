"""Shape computations over a symbolic batch (``x.view(x.size(0), -1)`` exported with a dynamic
batch) resolve at import to static canonical reshapes; the rest of the chain disappears.

Oracle: the torch module itself (exported with ``torch.onnx.export``), onnxruntime on the original
export, and the torch lowering of the imported graph, at several batch sizes.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from torch import nn

from alphanas.ir import from_onnx, load_onnx, runtime, to_onnx
from alphanas.ir.shape_values import Unknown, evaluate, reshape_target
from tests.ir.test_zoo_util import rel_err
from alphanas.ir.torch_lowering import to_torch

pytestmark = [pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export"),
              pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")]


class Heads(nn.Module):
    """view(size(0), -1), an attention-style reshape from x.shape, and a scale from a static dim."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 6, 3, padding=1)
        self.fc = nn.Linear(6 * 4, 5)

    def forward(self, x):
        y = self.conv(x)                                   # [n, 6, 4, 4]
        n, c, h, w = y.shape
        t = y.reshape(n, c, h * w).transpose(1, 2)         # [n, 16, 6]
        heads = t.reshape(n, h * w, 2, c // 2)             # symbolic n, static rest
        scale = (c // 2) ** 0.5                            # a float from a static dimension
        z = (heads / scale).reshape(t.shape[0], -1, c)     # [n, 16, 6]
        return self.fc(z.transpose(1, 2).reshape(n, c, h, w)[:, :, 0].reshape(z.size(0), -1))


def _export(module, path, shape):
    torch.onnx.export(module.eval(), (torch.zeros(*shape),), str(path), dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    return onnx.load(str(path))


def test_dynamic_batch_reshapes_become_static(tmp_path):
    module = Heads()
    original = _export(module, tmp_path / "heads.onnx", (2, 2, 4, 4))
    assert any(n.op_type == "Shape" for n in original.graph.node)  # the export does compute shapes
    g = load_onnx(tmp_path / "heads.onnx")
    assert not [n.op_type for n in g.nodes if n.is_opaque]
    assert {n.op_type for n in g.nodes} & {"Shape", "Concat", "Unsqueeze"} == set()
    assert [n.inputs[0].dtype.kind for n in g.nodes if n.op_type == "Gather"] == ["f"]  # only [:, :, 0] is left
    assert all(n.attrs["shape"].count(-1) <= 1 for n in g.nodes if n.op_type == "Reshape")
    assert g.inputs[0].shape[0] == "batch" and g.outputs[0].shape == ("batch", 5)
    exported = to_onnx(g)
    onnx.checker.check_model(exported, full_check=True)
    lowered = to_torch(g).eval()
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 2, 4, 4)).astype(np.float32)
        with torch.no_grad():
            ref = module(torch.from_numpy(x)).numpy()
            ours_torch = lowered(torch.from_numpy(x)).numpy()
        assert rel_err(runtime.run(original, {"x": x}, "cpu")[0], ref) <= 1e-5
        assert rel_err(runtime.run(exported, {"x": x}, "cpu")[0], ref) <= 1e-5
        assert rel_err(ours_torch, ref) <= 1e-5


def test_unresolvable_target_stays_opaque_and_runs():
    # reshape x [N, M, 6] to [M, N, 6] read from its own shape: no static canonical target exists
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "M", 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "perm"], ["t"], axis=0),
             helper.make_node("Reshape", ["x", "t"], ["y"])]
    perm = onnx.numpy_helper.from_array(np.array([1, 0, 2], np.int64), "perm")
    m = helper.make_model(helper.make_graph(nodes, "swap", [x], [y], [perm]), opset_imports=[helper.make_opsetid("", 17)])
    g = from_onnx(m)
    # (Shape has a definition: it stays a canonical node reading the run-time shape; the Reshape stays opaque)
    assert [n.op_type for n in g.nodes if n.is_opaque] == ["Reshape"]
    a = np.arange(2 * 3 * 6, dtype=np.float32).reshape(2, 3, 6)
    np.testing.assert_array_equal(runtime.run(to_onnx(g), {"x": a}, "cpu")[0], a.reshape(3, 2, 6))


def _obj(*v):
    a = np.empty(len(v), dtype=object)
    a[:] = v
    return a


def test_evaluate_rules():
    s = _obj("N", 3, 8, 8)
    idx0 = np.array(0, dtype=object)
    assert evaluate("Gather", [s, idx0], {}, 17).tolist() == "N"
    assert evaluate("Gather", [s, _obj(0, 2)], {"axis": 0}, 17).tolist() == ["N", 8]
    assert evaluate("Unsqueeze", [np.array("N", dtype=object), _obj(0)], {}, 17).tolist() == ["N"]
    assert evaluate("Concat", [_obj("N"), _obj(-1)], {"axis": 0}, 17).tolist() == ["N", -1]
    assert evaluate("Slice", [s, _obj(1), _obj(3)], {}, 17).tolist() == [3, 8]
    assert evaluate("Mul", [_obj(8), _obj(8)], {}, 17).tolist() == [64]
    assert evaluate("Mul", [_obj("N"), _obj(1)], {}, 17).tolist() == ["N"]
    # arithmetic on sizes gives exact expressions (the multi-head reshape of x.size(0) * heads); a quotient
    # only when it divides exactly
    assert evaluate("Mul", [_obj("N"), _obj(2)], {}, 17).tolist() == ["2*N"]
    assert evaluate("Add", [_obj("N"), _obj("N")], {}, 17).tolist() == ["2*N"]
    assert evaluate("Sub", [_obj("N"), _obj(1)], {}, 17).tolist() == ["N - 1"]
    assert evaluate("Div", [_obj("2*N"), _obj(2)], {}, 17).tolist() == ["N"]
    assert evaluate("Div", [_obj("N"), _obj(2)], {}, 17) is None        # floor(N/2) is not an exact quotient
    assert evaluate("Div", [_obj(6), _obj(2)], {}, 17).tolist() == [3]
    assert evaluate("Equal", [_obj("N", -1), _obj(-1, -1)], {}, 17).tolist() == [False, True]
    assert evaluate("Equal", [_obj("N"), _obj(3)], {}, 17) is None      # N may be 3
    assert evaluate("Where", [_obj(False, True), _obj(1, 1), _obj("N", -1)], {}, 17).tolist() == ["N", 1]
    assert evaluate("Cast", [s], {"to": TensorProto.FLOAT}, 17) is None
    assert evaluate("Range", [_obj(0), _obj("N"), _obj(1)], {}, 17) is None


def test_reshape_target():
    assert reshape_target(("N", 4, 8, 8), ["N", -1]) == [0, -1]
    assert reshape_target(("N", 4, 8, 8), ["N", 4, 64]) == [0, 4, 64]
    assert reshape_target(("N", 16, 6), ["N", 16, 2, 3]) == [0, 16, 2, 3]
    assert reshape_target(("N", 16, 6), [16, "N", 6]) == [16, -1, 6]
    with pytest.raises(Unknown):
        reshape_target(("N", "M", 6), ["M", "N", 6])
