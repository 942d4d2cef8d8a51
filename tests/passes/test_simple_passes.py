"""Each simple pass fires on a graph built for it.

For every built-in pass but ``egraph`` (see ``test_egraph.py``): a small hand-built graph on which the pass
must act; the test checks ``modified``, the hand-computed op list after it, and that onnxruntime computes
the same outputs before and after. A pass that never changes anything fails here.
"""

from __future__ import annotations

import numpy as np

from alphanas.ir.builder import GraphBuilder
from alphanas.passes import get_pass
from alphanas.passes.equivalence import compare, randomize_weights


def ops(graph) -> list[str]:
    return [n.op_type for n in graph.nodes]


def fire(name: str, graph):
    """Run pass ``name`` on a copy of ``graph``; the result is valid, modified, and computes what ``graph`` does."""
    before = ops(graph)
    result = get_pass(name)(graph.copy())
    assert result.modified, f"{name} did not fire"
    result.graph.verify()
    eq = compare(graph, result.graph, batch=2, seed=5)
    assert eq.ok, eq.message
    assert ops(graph) == before, "the input graph is the caller's copy"
    return result.graph


def test_dce_removes_a_dead_branch_and_its_weight():
    b = GraphBuilder("dce", seed=0)
    x = b.input("x", ("N", 4))
    y = b.sigmoid(b.relu(x))
    dead = b.mul(b.tanh(x), b.const("unused_scale", np.full((4,), 2.0, np.float32)))
    g = b.build(y)
    assert dead.uses == [] and "unused_scale" in g.initializers
    out = fire("dce", g)
    assert ops(out) == ["Relu", "Sigmoid"] and not out.initializers


def test_identity_elim_bypasses_identity_and_dropout():
    b = GraphBuilder("ident", seed=0)
    x = b.input("x", ("N", 4))
    y = b.op("Identity", x)
    y = b.op("Dropout", b.relu(y))
    g = b.build(b.sigmoid(y))
    out = fire("identity-elim", g)
    assert ops(out) == ["Relu", "Sigmoid"]
    assert out.nodes[0].inputs[0] is out.inputs[0]


def test_const_fold_evaluates_a_constant_subexpression():
    b = GraphBuilder("fold", seed=0)
    x = b.input("x", ("N", 3))
    two = b.const("two", np.full((3,), 2.0, np.float32))
    three = b.const("three", np.array([1.0, 3.0, 5.0], np.float32))
    g = b.build(b.add(x, b.mul(two, three)))
    out = fire("const-fold", g)
    assert ops(out) == ["Add"]
    folded = out.nodes[0].inputs[1]
    assert folded.is_const and np.array_equal(folded.const, [2.0, 6.0, 10.0])
    assert list(out.initializers) == [folded.name], "the folded operands are dropped"


def test_bn_fold_folds_batchnorm_into_conv():
    b = GraphBuilder("bn", seed=0)
    x = b.input("x", ("N", 3, 6, 6))
    g = randomize_weights(b.build(b.relu(b.batchnorm(b.conv(x, 4, kernel=3)))), seed=1)
    out = fire("bn-fold", g)
    assert ops(out) == ["Conv", "Relu"]


def test_bn_fold_folds_per_channel_mul_and_add_into_conv():
    b = GraphBuilder("affine", seed=0)
    x = b.input("x", ("N", 3, 6, 6))
    y = b.conv(x, 4, kernel=3, bias=False)
    y = b.mul(y, b.const("s", np.array([0.5, 1.5, 2.0, -1.0], np.float32).reshape(1, 4, 1, 1)))
    y = b.add(y, b.const("t", np.array([0.1, 0.2, 0.3, 0.4], np.float32).reshape(1, 4, 1, 1)))
    out = fire("bn-fold", b.build(b.relu(y)))
    assert ops(out) == ["Conv", "Relu"]
    assert len(out.nodes[0].inputs) == 3, "the Add became the conv's bias"


def test_cse_merges_equal_nodes_and_equal_constants():
    b = GraphBuilder("cse", seed=0)
    x = b.input("x", ("N", 4))
    r1, r2 = b.relu(x, name="r1"), b.relu(x, name="r2")
    c1 = b.const("c1", np.arange(4, dtype=np.float32))
    c2 = b.const("c2", np.arange(4, dtype=np.float32))
    g = b.build(b.add(b.add(r1, c1, name="a1"), b.add(r2, c2, name="a2"), name="sum"))
    out = fire("cse", g)
    # r2 merges into r1, then c2 into c1, so a2 computes what a1 does and goes too
    assert ops(out) == ["Relu", "Add", "Add"]
    total = out.nodes[-1]
    assert total.inputs[0] is total.inputs[1] and len(out.initializers) == 1


def test_reshape_chain_merges_reshapes_and_transposes():
    b = GraphBuilder("chain", seed=0)
    x = b.input("x", ("N", 2, 3, 4))
    y = b.reshape(b.flatten(x), [-1, 4, 6])
    z = b.transpose(b.transpose(x, [0, 2, 3, 1]), [0, 2, 3, 1])
    g = b.build(b.sigmoid(y), b.relu(z))
    out = fire("reshape-chain", g)
    assert sorted(ops(out)) == ["Relu", "Reshape", "Sigmoid", "Transpose"]
    reshape = next(n for n in out.nodes if n.op_type == "Reshape")
    transpose = next(n for n in out.nodes if n.op_type == "Transpose")
    assert reshape.inputs[0] is out.inputs[0] and reshape.attrs["shape"] == [-1, 4, 6]
    assert transpose.inputs[0] is out.inputs[0] and transpose.attrs["perm"] == [0, 3, 1, 2]


def test_reshape_chain_drops_a_round_trip():
    b = GraphBuilder("round", seed=0)
    x = b.input("x", ("N", 2, 3, 4))
    g = b.build(b.sigmoid(b.reshape(b.flatten(x), [-1, 2, 3, 4])))
    assert ops(fire("reshape-chain", g)) == ["Sigmoid"]
