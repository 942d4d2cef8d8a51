"""LSTM/GRU/RNN (alphanas/ir/ops/recurrent.py), ``If`` inlined at import and ``Clip`` with computed bounds:
the torch lowering against onnxruntime over the ONNX attributes, shapes with symbolic sizes, hand-computed
cost counts, training through the lowered module, and one-line refusals."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from alphanas.errors import UnsupportedModelError
from alphanas.ir import cost, from_onnx, to_onnx, to_torch
from alphanas.ir.runtime import ort
from alphanas.ir.torch_lowering import write_back

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _model(op, *, steps=5, batch=3, feat=4, hidden=3, direction="forward", layout=0, seq_lens=None, state=True,
           peepholes=False, const_weights=True, seed=0, **attrs):
    """One recurrent node with every optional input it is given; returns (model, feeds)."""
    rng = np.random.default_rng(seed)
    dirs = 2 if direction == "bidirectional" else 1
    g = GATES[op]
    inputs, inits, feeds = [], [], {}

    def tensor(name, array, const):
        if const:
            inits.append(onnx.numpy_helper.from_array(array, name))
        else:
            inputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype), list(array.shape)))
            feeds[name] = array
        return name

    x_shape = [steps, batch, feat] if layout == 0 else [batch, steps, feat]
    state_shape = [dirs, batch, hidden] if layout == 0 else [batch, dirs, hidden]
    names = [tensor("X", rng.standard_normal(x_shape).astype(np.float32), False),
             tensor("W", (rng.standard_normal([dirs, g * hidden, feat]) * 0.5).astype(np.float32), const_weights),
             tensor("R", (rng.standard_normal([dirs, g * hidden, hidden]) * 0.5).astype(np.float32), const_weights),
             tensor("B", (rng.standard_normal([dirs, 2 * g * hidden]) * 0.5).astype(np.float32), True),
             tensor("sequence_lens", np.array(seq_lens, np.int32), False) if seq_lens is not None else "",
             tensor("initial_h", rng.standard_normal(state_shape).astype(np.float32), False) if state else ""]
    if op == "LSTM":
        names.append(tensor("initial_c", rng.standard_normal(state_shape).astype(np.float32), False) if state else "")
        names.append(tensor("P", (rng.standard_normal([dirs, 3 * hidden]) * 0.5).astype(np.float32), True)
                     if peepholes else "")
    while names[-1] == "":
        names.pop()
    outs = ["Y", "Y_h", "Y_c"][:3 if op == "LSTM" else 2]
    node = helper.make_node(op, names, outs, hidden_size=hidden, direction=direction, layout=layout, **attrs)
    graph = helper.make_graph([node], "rnn", inputs, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    return model, feeds


def _reference(model, feeds):
    """onnxruntime's outputs; it has no batch-first kernels, so layout 1 runs as layout 0 on transposed data."""
    node = model.graph.node[0]
    layout = next((a.i for a in node.attribute if a.name == "layout"), 0)
    if layout == 0:
        return ort().InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for a in m.graph.node[0].attribute:
        if a.name == "layout":
            a.i = 0
    for vi in m.graph.input:
        if vi.name in ("X", "initial_h", "initial_c"):
            d = vi.type.tensor_type.shape.dim
            d[0].dim_value, d[1].dim_value = d[1].dim_value, d[0].dim_value
    swapped = {k: (v.transpose(1, 0, 2) if k in ("X", "initial_h", "initial_c") else v) for k, v in feeds.items()}
    out = ort().InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, swapped)
    return [out[0].transpose(2, 0, 1, 3)] + [o.transpose(1, 0, 2) for o in out[1:]]


def _lowered(model, feeds):
    g = from_onnx(model)
    assert not any(n.is_opaque for n in g.nodes), [n.op_type for n in g.nodes]
    module = to_torch(g)
    with torch.no_grad():
        out = module(*[torch.from_numpy(feeds[v.name]) for v in g.inputs])
    return [o.numpy() for o in (out if isinstance(out, (tuple, list)) else [out])]


VARIANTS = [
    ("LSTM", {}), ("LSTM", {"direction": "reverse", "peepholes": True}),
    ("LSTM", {"direction": "bidirectional", "clip": 0.6, "seq_lens": [5, 2, 4]}),
    ("LSTM", {"layout": 1, "input_forget": 1, "peepholes": True, "seq_lens": [3, 5, 1]}),
    ("LSTM", {"activations": ["HardSigmoid", "LeakyRelu", "ScaledTanh"], "activation_alpha": [0.3, 0.1, 0.8],
              "activation_beta": [0.4, 1.2], "state": False}),
    ("LSTM", {"const_weights": False, "direction": "bidirectional", "layout": 1}),
    ("GRU", {}), ("GRU", {"linear_before_reset": 1, "direction": "bidirectional", "seq_lens": [1, 5, 3]}),
    ("GRU", {"direction": "reverse", "clip": 0.5, "layout": 1}),
    ("GRU", {"activations": ["Affine", "Elu"], "activation_alpha": [0.5, 0.7], "activation_beta": [0.1]}),
    ("RNN", {}), ("RNN", {"direction": "bidirectional", "activations": ["Relu", "Tanh"], "seq_lens": [2, 5, 5]}),
    ("RNN", {"direction": "reverse", "clip": 0.4, "layout": 1, "state": False}),
]


@pytest.mark.parametrize("op,attrs", VARIANTS, ids=[f"{op}-{i}" for i, (op, _) in enumerate(VARIANTS)])
def test_lowering_matches_onnxruntime(op, attrs):
    model, feeds = _model(op, **attrs)
    ref = _reference(model, feeds)
    got = _lowered(model, feeds)
    assert len(got) == len(ref)
    for r, g in zip(ref, got):
        assert r.shape == g.shape
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)


def _lstm_bidirectional(x_dims):
    rng = np.random.default_rng(0)
    inits = [onnx.numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
             for n, s in (("W", [2, 12, 4]), ("R", [2, 12, 3]), ("B", [2, 24]), ("P", [2, 9]))]
    node = helper.make_node("LSTM", ["X", "W", "R", "B", "", "", "", "P"], ["Y", "Y_h", "Y_c"], direction="bidirectional")
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("Y", "Y_h", "Y_c")]
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, x_dims)
    return from_onnx(helper.make_model(helper.make_graph([node], "g", [x], outs, inits),
                                       opset_imports=[helper.make_opsetid("", 14)]))


def test_shapes_with_symbolic_sizes_and_cost():
    g = _lstm_bidirectional(["T", "N", 4])
    (n,) = g.nodes
    assert n.attrs["hidden_size"] == 3  # taken from R
    assert [v.shape for v in n.outputs] == [("T", 2, "N", 3), (2, "N", 3), (2, "N", 3)]
    assert cost.graph_params(g) == 2 * 12 * 4 + 2 * 12 * 3 + 2 * 24 + 2 * 9
    assert cost.counts(g)["macs"] is None  # depends on the sequence length T
    static = _lstm_bidirectional([7, 1, 4])
    # per direction and step: 4 gates x 3 hidden x (4 inputs + 3 recurrent) multiply-accumulates
    assert cost.counts(static)["macs"] == 2 * 7 * 4 * 3 * (4 + 3)
    assert cost.counts(static)["flops"] == 2 * 2 * 7 * 4 * 3 * (4 + 3) + 2 * 7 * 3 * (2 * 4 + 2)


def test_trains_and_writes_back():
    model, feeds = _model("GRU", direction="bidirectional", linear_before_reset=1)
    g = from_onnx(model)
    module = to_torch(g).train()
    params = dict(module.named_parameters())
    assert {g.nodes[0].inputs[i].name for i in (1, 2, 3)} <= set(module.alphanas_params.values())
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    y, y_h = module(*[torch.from_numpy(feeds[v.name]) for v in g.inputs])
    (y.square().mean() + y_h.abs().mean()).backward()
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in params.values())
    before = g.initializers["R"].const.copy()
    opt.step()
    write_back(g, module)
    assert not np.allclose(g.initializers["R"].const, before)


def test_export_round_trip_and_old_opset_refusal(tmp_path):
    model, feeds = _model("LSTM", layout=1, peepholes=True)
    g = from_onnx(model)
    again = to_onnx(g)
    onnx.checker.check_model(again, full_check=True)
    np.testing.assert_allclose(_lowered(again, feeds)[0], _lowered(model, feeds)[0], rtol=1e-6)
    with pytest.raises(UnsupportedModelError, match=r"LSTM.*layout 1 needs opset 14") as e:
        to_onnx(g, target_opset=13)
    assert "\n" not in str(e.value)


# -- If ------------------------------------------------------------------------------------------------


def _if_model(cond_from_shape: bool, nested: bool = False, x_shape=(2, 3)):
    """``y = If(cond, then: Relu(x) * 2, else: x - 1)``; the condition is ``Shape(x)[1] == 3`` or a graph input."""
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    then_nodes = [helper.make_node("Relu", ["x"], ["t_relu"]), helper.make_node("Constant", [], ["t_two"], value=two),
                  helper.make_node("Mul", ["t_relu", "t_two"], ["t_out"])]
    then_out = "t_out"
    if nested:  # an inner If on the same kind of condition, inside the taken branch
        inner_then = helper.make_graph([helper.make_node("Neg", ["t_out"], ["i_neg"])], "inner_then", [],
                                       [helper.make_tensor_value_info("i_neg", TensorProto.FLOAT, None)])
        inner_else = helper.make_graph([helper.make_node("Identity", ["t_out"], ["i_id"])], "inner_else", [],
                                       [helper.make_tensor_value_info("i_id", TensorProto.FLOAT, None)])
        then_nodes.append(helper.make_node("If", ["cond"], ["t_inner"], then_branch=inner_then, else_branch=inner_else))
        then_out = "t_inner"
    then_g = helper.make_graph(then_nodes, "then", [], [helper.make_tensor_value_info(then_out, TensorProto.FLOAT, None)])
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    else_g = helper.make_graph([helper.make_node("Constant", [], ["e_one"], value=one),
                                helper.make_node("Sub", ["x", "e_one"], ["e_out"])], "else", [],
                               [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, None)])
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))]
    nodes = []
    if cond_from_shape:
        nodes += [helper.make_node("Shape", ["x"], ["s"]),
                  helper.make_node("Constant", [], ["i1"], value=helper.make_tensor("i1", TensorProto.INT64, [], [1])),
                  helper.make_node("Gather", ["s", "i1"], ["d1"]),
                  helper.make_node("Constant", [], ["three"], value=helper.make_tensor("three", TensorProto.INT64, [], [3])),
                  helper.make_node("Equal", ["d1", "three"], ["cond"])]
    else:
        inputs.append(helper.make_tensor_value_info("cond", TensorProto.BOOL, []))
    nodes.append(helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g))
    graph = helper.make_graph(nodes, "if", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("x_shape,nested", [((2, 3), False), ((2, 4), False), ((2, 3), True), (("N", 3), True)])
def test_if_with_a_static_condition_is_inlined(x_shape, nested):
    model = _if_model(True, nested=nested, x_shape=x_shape)
    g = from_onnx(model)
    assert not any(n.op_type == "If" or n.is_opaque for n in g.nodes), [n.op_type for n in g.nodes]
    assert [v.name for v in g.outputs] == ["y"]  # the graph output keeps the If's name
    feeds = {"x": np.random.default_rng(0).standard_normal((2, x_shape[1])).astype(np.float32)}
    ref = ort().InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    with torch.no_grad():
        got = to_torch(g)(torch.from_numpy(feeds["x"])).numpy()
    np.testing.assert_allclose(got, ref[0], rtol=1e-6)
    onnx.checker.check_model(to_onnx(g), full_check=True)


def test_if_with_a_run_time_condition_is_refused_in_one_line():
    g = from_onnx(_if_model(False))
    assert [n.op_type for n in g.nodes] == ["If"]
    with pytest.raises(UnsupportedModelError, match=r"node 'if': op 'If' has a condition \('cond'\) computed at run time") as e:
        to_torch(g)
    assert "\n" not in str(e.value)


# -- Clip with computed bounds ---------------------------------------------------------------------------


def test_clip_with_computed_bounds_matches_onnxruntime():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5])
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], keepdims=0),  # a scalar computed from the data
             helper.make_node("Neg", ["m"], ["lo"]), helper.make_node("Clip", ["x", "lo", "m"], ["y"])]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    model = helper.make_model(helper.make_graph(nodes, "clip", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    g = from_onnx(model)
    clip = next(n for n in g.nodes if n.op_type == "Clip")
    assert not clip.is_opaque and len(clip.inputs) == 3
    feeds = {"x": np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)}
    ref = ort().InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    with torch.no_grad():
        got = to_torch(g)(torch.from_numpy(feeds["x"])).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-6)
