"""The IR core: use-def tracking, ``verify`` naming the offending node, ``Subgraph`` boundaries,
``Graph.replace``, the isomorphism-invariant structural hash, ``copy`` and the builder.

Values are checked against numpy computations of the same network (an independent oracle) run
through onnxruntime on the exported graph.
"""

from __future__ import annotations

import numpy as np
import pytest

from alphanas.errors import InvalidGraphError
from alphanas.ir import Graph, GraphBuilder, Node, Subgraph, Value, runtime
from alphanas.ir.cost import graph_params
from alphanas.ir.hashing import structural_hash
from alphanas.ir.torch_lowering import to_torch


def _residual(seed: int = 0, order: str = "ab") -> Graph:
    """x -> dense -> relu -> dense -> add(x) -> tanh; ``order`` chooses the operand order of the add."""
    b = GraphBuilder("res", seed=seed)
    x = b.input("x", ("N", 6))
    h = b.dense(b.relu(b.dense(x, 6, name="fc1")), 6, name="fc2")
    y = b.add(h, x) if order == "ab" else b.add(x, h)
    return b.build(b.tanh(y))


def _numpy_residual(g: Graph, x: np.ndarray, act=lambda a: np.maximum(a, 0)) -> np.ndarray:
    w = g.weights
    h = act(x @ w["fc1.weight"].T + w["fc1.bias"]) @ w["fc2.weight"].T + w["fc2.bias"]
    return np.tanh(h + x)


def _run(g: Graph, x: np.ndarray) -> np.ndarray:
    return runtime.session(g, "cpu", threads=1).run(None, {g.inputs[0].name: x})[0]


X = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)


def test_builder_graph_shapes_use_def_and_values():
    g = _residual()
    assert [n.op_type for n in g.nodes] == ["Gemm", "Relu", "Gemm", "Add", "Tanh"]
    assert all(v.shape == ("N", 6) for n in g.nodes for v in n.outputs)
    x = g.inputs[0]
    assert sorted(n.op_type for n in x.users()) == ["Add", "Gemm"]
    relu = g.node("relu")
    assert relu.inputs[0].producer is g.node("fc1") and relu.outputs[0].uses == [(g.node("fc2"), 0)]
    assert graph_params(g) == 2 * (36 + 6)
    np.testing.assert_allclose(_run(g, X), _numpy_residual(g, X), rtol=1e-5, atol=1e-6)


def test_verify_names_the_offending_node():
    g = _residual()
    ghost = Value("ghost", ("N", 6))
    g.node("add").set_input(1, ghost)
    with pytest.raises(InvalidGraphError, match=r"node 'add' \(Add\) input 1 'ghost' has no producer \(dangling input\)"):
        g.verify()

    g = _residual()
    g.nodes[0], g.nodes[1] = g.nodes[1], g.nodes[0]
    with pytest.raises(InvalidGraphError, match=r"node 'relu' .*defined later"):
        g.verify()
    g.toposort()  # restores a valid order
    g.verify()

    g = _residual()
    g.node("tanh").inputs[0].uses.clear()  # use-def out of date
    with pytest.raises(InvalidGraphError, match=r"node 'tanh': use-def"):
        g.verify()

    g = _residual()
    g.node("tanh").outputs[0].name = g.node("relu").outputs[0].name
    with pytest.raises(InvalidGraphError, match=r"node 'tanh': output name 'relu' is already defined by 'relu'"):
        g.verify()

    g = _residual()
    g.nodes.append(Node("Relu", [g.outputs[0], g.outputs[0]], [Value("r2", ("N", 6))], {}, "two_inputs"))
    with pytest.raises(InvalidGraphError, match=r"node 'two_inputs' \(Relu\) has 2 inputs"):
        g.verify()


def test_cycle_is_reported_with_its_nodes():
    g = _residual()
    relu, fc2 = g.node("relu"), g.node("fc2")
    relu.set_input(0, fc2.outputs[0])  # relu -> fc2 -> relu
    with pytest.raises(InvalidGraphError, match=r"has a cycle: (relu -> fc2|fc2 -> relu)"):
        g.toposort()


def test_subgraph_boundary():
    g = _residual()
    sub = Subgraph(g, [g.node("fc1"), g.node("relu"), g.node("fc2")])
    assert [v.name for v in sub.inputs] == ["x"]                  # weights are not boundary inputs
    assert sub.outputs == [g.node("fc2").outputs[0]]
    between = Subgraph.between(g, g.inputs, [g.node("add").outputs[0]])
    assert [n.name for n in between.nodes] == ["fc1", "relu", "fc2", "add"]
    alone = sub.to_graph()
    alone.verify()
    assert [v.shape for v in alone.inputs] == [("N", 6)] and len(alone.nodes) == 3


def test_replace_rewires_uses_drops_old_nodes_and_keeps_semantics():
    g = _residual()
    relu = g.node("relu")
    sub = Subgraph(g, [relu])
    new = Node("Sigmoid", [sub.inputs[0]], [Value("gate", ("N", 6))], {}, "gate")
    g.replace(sub, [new])
    assert [n.op_type for n in g.nodes] == ["Gemm", "Sigmoid", "Gemm", "Add", "Tanh"]
    assert relu not in g.nodes and not relu.inputs[0] and g.node("fc2").inputs[0] is new.outputs[0]
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    np.testing.assert_allclose(_run(g, X), _numpy_residual(g, X, act=sig), rtol=1e-5, atol=1e-6)


def test_replace_a_region_with_new_weights():
    g = _residual()
    sub = Subgraph(g, [g.node("fc1"), g.node("relu"), g.node("fc2")])
    w = Value("w_new", const=np.eye(6, dtype=np.float32) * 2)
    mm = Node("MatMul", [sub.inputs[0], w], [Value("double", ("N", 6))], {}, "double")
    g.replace(sub, [mm])
    assert [n.op_type for n in g.nodes] == ["MatMul", "Add", "Tanh"]
    assert set(g.initializers) == {"w_new"}  # the old weights went with their nodes
    np.testing.assert_allclose(_run(g, X), np.tanh(3 * X), rtol=1e-5, atol=1e-6)


def test_replace_with_wrong_shape_is_refused():
    g = _residual()
    sub = Subgraph(g, [g.node("relu")])
    bad = Node("Flatten", [sub.inputs[0]], [Value("flat", ("N", 3))], {"axis": 1}, "flat")
    with pytest.raises(InvalidGraphError, match=r"'flat' has shape \['N', 3\] but replaces 'relu' of shape \['N', 6\]"):
        g.replace(sub, [bad])


def test_structural_hash_ignores_names_order_and_commutative_operands():
    a = _residual(seed=0)
    b = _residual(seed=1, order="ba")  # other weights, swapped Add operands
    for n in b.nodes:
        n.name = "renamed_" + n.name
        for v in n.outputs:
            v.name = "v_" + v.name
    assert structural_hash(a) == structural_hash(b)
    assert structural_hash(a, with_weights=True) != structural_hash(b, with_weights=True)
    assert structural_hash(a, with_weights=True) == structural_hash(_residual(seed=0), with_weights=True)

    # independent branches listed in the other order
    def two_branches(first: str) -> Graph:
        bb = GraphBuilder("br", seed=0)
        x = bb.input("x", ("N", 4))
        outs = {}
        for kind in (first, "tanh" if first == "relu" else "relu"):
            outs[kind] = getattr(bb, kind)(x)
        return bb.build(bb.concat([outs["relu"], outs["tanh"]]))

    assert structural_hash(two_branches("relu")) == structural_hash(two_branches("tanh"))

    c = _residual()
    c.node("fc1").attrs["alpha"] = 0.5  # any attribute counts
    assert structural_hash(c) != structural_hash(a)
    d = _residual()
    d.node("tanh").op_type = "Sigmoid"
    assert structural_hash(d) != structural_hash(a)
    # a non-commutative op with swapped operands is a different graph
    e1, e2 = GraphBuilder("s", 0), GraphBuilder("s", 0)
    p, q = e1.input("p", ("N", 3)), e1.input("q", ("N", 3))
    r, s = e2.input("p", ("N", 3)), e2.input("q", ("N", 3))
    assert structural_hash(e1.build(e1.op("Sub", p, q))) != structural_hash(e2.build(e2.op("Sub", s, r)))


def test_copy_is_independent():
    g = _residual()
    h = g.copy()
    h.verify()
    assert structural_hash(h) == structural_hash(g)
    sub = Subgraph(h, [h.node("relu")])
    h.replace(sub, [Node("Tanh", [sub.inputs[0]], [Value("t", ("N", 6))], {}, "t")])
    assert [n.op_type for n in g.nodes] == ["Gemm", "Relu", "Gemm", "Add", "Tanh"]
    g.verify()
    assert structural_hash(h) != structural_hash(g)


def test_builder_rejects_bad_attributes_and_shapes():
    b = GraphBuilder("bad", seed=0)
    x = b.input("x", ("N", 3, 8, 8))
    with pytest.raises(InvalidGraphError, match=r"unknown attribute"):
        b.op("Relu", x, alpha=1.0)
    with pytest.raises(InvalidGraphError, match=r"cannot infer output shape"):
        b.op("Add", x, b.input("y", ("N", 4, 8, 8)))


def test_public_api_round_trip(tmp_path):
    """The stable names: alphanas.zoo.build, alphanas.save_onnx, alphanas.load_onnx, Graph.to_torch."""
    import torch

    import alphanas

    g = alphanas.zoo.build("cnn", input_size=8, in_channels=1, num_classes=10, width=8, seed=2)
    assert isinstance(g, alphanas.Graph)
    alphanas.save_onnx(g, tmp_path / "cnn.onnx")
    again = alphanas.load_onnx(tmp_path / "cnn.onnx")
    assert structural_hash(again, with_weights=True) == structural_hash(g, with_weights=True)
    module = to_torch(again)
    assert isinstance(module, torch.nn.Module)
    x = np.random.default_rng(1).standard_normal((3, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        logits = module.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits, _run(g, x), rtol=1e-4, atol=1e-5)


def test_graph_is_the_name_authority():
    from alphanas.ir.builder import GraphBuilder
    from alphanas.ir.graph import Node, Value

    b = GraphBuilder("names")
    x = b.input("x", ("N", 4))
    g = b.build(b.relu(x, name="r"))
    assert g.has_name("x") and g.has_name("r") and not g.has_name("y")
    # a node built outside and inserted: its names become taken, so generated names avoid them
    y = Value("y", ("N", 4))
    g.insert_nodes(1, [Node("Sigmoid", [g.outputs[0]], [y], {}, "s")])
    assert [n.name for n in g.nodes] == ["r", "s"] and g.has_name("y")
    assert g.unique_name("y") != "y" and g.unique_node_name("s") != "s"
    g.outputs = [y]
    g.verify()
    # renaming: the new name is taken; the old one only after release_name
    g.rename_value(y, "out")
    assert y.name == "out" and g.has_name("out") and g.has_name("y")
    g.release_name("y")
    assert g.unique_name("y") == "y"
    # appends can be undone
    g.append_node(Node("Relu", [y], [Value("z", ("N", 4))], {}, "extra"))
    assert y.uses and len(g.nodes) == 3
    g.remove_nodes_from(2)
    assert len(g.nodes) == 2 and not y.uses
    g.verify()
