"""The egglog equality-saturation optimizer, one rule at a time on hand-built graphs.

Each test checks that the rewrite fires (or, for a look-alike that is not an identity, does not), that
the node list is the hand-computed one, and that onnxruntime computes the same outputs before and after.
"""

from __future__ import annotations

import numpy as np
import pytest

from alphanas.ir.builder import GraphBuilder
from alphanas.ir.cost import graph_flops
from alphanas.passes import get_pass
from alphanas.passes.egraph import EGraphOptimizer
from alphanas.passes.equivalence import compare, randomize_weights
from alphanas.ir.hashing import structural_hash


def optimize(graph, **options):
    """Run the optimizer on a copy; check the result is valid and computes the same as ``graph``."""
    result = EGraphOptimizer(**options)(graph.copy())
    result.graph.verify()
    eq = compare(graph, result.graph, batch=2, seed=3)
    assert eq.ok, eq.message
    return result


def ops(graph) -> list[str]:
    return [n.op_type for n in graph.nodes]


def builder():
    b = GraphBuilder("rules", seed=0)
    return b, b.input("x", ("N", 2, 3, 4))


def test_registered_as_egraph():
    assert isinstance(get_pass("egraph"), EGraphOptimizer)


def test_transpose_of_transpose_identity_vanishes():
    b, x = builder()
    y = b.transpose(b.transpose(x, [0, 2, 3, 1], name="t1"), [0, 3, 1, 2], name="t2")
    g = b.build(b.sigmoid(y))
    r = optimize(g)
    assert r.modified and ops(r.graph) == ["Sigmoid"]
    assert r.graph.nodes[0].inputs[0] is r.graph.inputs[0]


def test_transpose_of_transpose_composes():
    b, x = builder()
    y = b.transpose(b.transpose(x, [0, 2, 3, 1], name="t1"), [0, 2, 3, 1], name="t2")
    g = b.build(b.sigmoid(y))
    r = optimize(g)
    assert r.modified and ops(r.graph) == ["Transpose", "Sigmoid"]
    # out[i] = in[p[q[i]]] with p = q = [0, 2, 3, 1]
    assert r.graph.nodes[0].attrs["perm"] == [0, 3, 1, 2]


def test_shared_transpose_stays_for_its_other_user():
    b, x = builder()
    t1 = b.transpose(x, [0, 2, 3, 1], name="t1")
    back = b.transpose(t1, [0, 3, 1, 2], name="t2")
    g = b.build(b.sigmoid(back), b.relu(t1))
    r = optimize(g)
    assert r.modified and sorted(ops(r.graph)) == ["Relu", "Sigmoid", "Transpose"]
    sig = next(n for n in r.graph.nodes if n.op_type == "Sigmoid")
    assert sig.inputs[0] is r.graph.inputs[0]


def test_reshape_of_reshape_merges():
    b, x = builder()
    g = b.build(b.sigmoid(b.reshape(b.reshape(x, [-1, 24], name="r1"), [-1, 4, 6], name="r2")))
    r = optimize(g)
    assert r.modified and ops(r.graph) == ["Reshape", "Sigmoid"]
    assert r.graph.nodes[0].attrs["shape"] == [-1, 4, 6] and r.graph.nodes[0].inputs[0] is r.graph.inputs[0]


def test_reshape_back_to_the_input_shape_vanishes():
    b, x = builder()
    g = b.build(b.sigmoid(b.reshape(b.flatten(x, name="f"), [-1, 2, 3, 4], name="r")))
    r = optimize(g)
    assert r.modified and ops(r.graph) == ["Sigmoid"]


def test_extraction_cost_counts_nodes():
    """Merging two reshapes saves no FLOPs, only a node: with ``node_weight=0`` (FLOPs only) the
    extracted term costs the same, so the graph is left as it is."""
    b, x = builder()
    g = b.build(b.sigmoid(b.reshape(b.reshape(x, [-1, 24], name="r1"), [-1, 4, 6], name="r2")))
    assert not EGraphOptimizer(node_weight=0)(g.copy()).modified
    assert EGraphOptimizer(node_weight=1)(g.copy()).modified


@pytest.mark.parametrize("op,neutral,const_first", [("Mul", 1.0, False), ("Mul", 1.0, True), ("Div", 1.0, False),
                                                    ("Add", 0.0, False), ("Add", 0.0, True), ("Sub", 0.0, False)])
def test_neutral_element_vanishes(op, neutral, const_first):
    b, x = builder()
    s = b.sigmoid(x)
    c = b.const("c", np.full((1, 2, 1, 1), neutral, np.float32))
    y = b.op(op, *((c, s) if const_first else (s, c)), name="arith")
    g = b.build(b.relu(y))
    r = optimize(g)
    assert r.modified and ops(r.graph) == ["Sigmoid", "Relu"]
    assert not r.graph.initializers, "the unused constant is dropped"


@pytest.mark.parametrize("op,value,const_first,shape", [
    ("Mul", 2.0, False, (1,)),            # not a neutral element
    ("Sub", 0.0, True, (1,)),             # 0 - x is -x
    ("Div", 1.0, True, (1,)),             # 1 / x
    ("Add", 0.0, False, (3, 2, 3, 4)),    # broadcasting changes the shape: the node is needed
])
def test_non_identities_stay(op, value, const_first, shape):
    b, x = builder()
    s = b.sigmoid(x)
    c = b.const("c", np.full(shape, value, np.float32))
    y = b.op(op, *((c, s) if const_first else (s, c)), name="arith")
    g = b.build(b.relu(y))
    r = EGraphOptimizer()(g.copy())
    assert not r.modified and ops(r.graph) == ["Sigmoid", op, "Relu"]


def pad(b, x, pads, value=0.0, name="pad"):
    return b.op("Pad", x, pads=pads, mode="constant", value=value, name=name)


def test_pads_merge():
    b, x = builder()
    y = pad(b, pad(b, x, [0, 0, 1, 0, 0, 0, 0, 2], name="p1"), [0, 0, 0, 1, 0, 1, 2, 0], name="p2")
    g = b.build(b.sigmoid(y))
    r = optimize(g)
    assert r.modified and ops(r.graph) == ["Pad", "Sigmoid"]
    assert r.graph.nodes[0].attrs["pads"] == [0, 0, 1, 1, 0, 1, 2, 2]
    assert tuple(r.graph.outputs[0].shape) == ("N", 3, 3 + 1 + 2, 4 + 1 + 2)


def test_pads_with_different_values_stay():
    b, x = builder()
    y = pad(b, pad(b, x, [0, 0, 1, 1, 0, 0, 1, 1], 0.0, name="p1"), [0, 0, 1, 1, 0, 0, 1, 1], 1.0, name="p2")
    r = EGraphOptimizer()(b.build(b.sigmoid(y)).copy())
    assert not r.modified and ops(r.graph) == ["Pad", "Pad", "Sigmoid"]


def test_zero_pad_vanishes():
    b, x = builder()
    r = optimize(b.build(b.sigmoid(pad(b, b.relu(x), [0] * 8))))
    assert r.modified and ops(r.graph) == ["Relu", "Sigmoid"]


def test_zero_pad_merges_into_conv():
    b, x = builder()
    y = b.conv(pad(b, x, [0, 0, 1, 2, 0, 0, 1, 0]), 5, kernel=3, padding=[0, 1, 1, 0])
    g = b.build(b.sigmoid(y))
    r = optimize(g)
    assert r.modified and ops(r.graph) == ["Conv", "Sigmoid"]
    assert r.graph.nodes[0].attrs["pads"] == [1, 3, 2, 0]  # conv pads are [h_begin, w_begin, h_end, w_end]


@pytest.mark.parametrize("value,pads", [(1.0, [0, 0, 1, 1, 0, 0, 1, 1]),   # not a zero pad
                                        (0.0, [0, 1, 1, 1, 0, 0, 1, 1])])  # pads channels
def test_pads_that_conv_cannot_absorb_stay(value, pads):
    b, x = builder()
    y = b.conv(pad(b, x, pads, value), 5, kernel=3, padding=0)
    r = EGraphOptimizer()(b.build(b.sigmoid(y)).copy())
    assert not r.modified and ops(r.graph) == ["Pad", "Conv", "Sigmoid"]


@pytest.mark.parametrize("bias", [True, False])
def test_conv_batchnorm_folds(bias):
    b, x = builder()
    y = b.batchnorm(b.conv(x, 6, kernel=3, bias=bias))
    g = randomize_weights(b.build(b.relu(y)), seed=2)  # a BN with random statistics, not the identity
    r = optimize(g)
    assert r.modified and ops(r.graph) == ["Conv", "Relu"]
    # hand count per element of the N x 6 x 3 x 4 output at batch 1: the BN cost 2 FLOPs; a Conv that had
    # no bias gets one from the fold (1 FLOP)
    assert graph_flops(g) - graph_flops(r.graph) == (2 - (0 if bias else 1)) * 6 * 3 * 4


def test_batchnorm_after_a_shared_conv_stays():
    b, x = builder()
    c = b.conv(x, 6, kernel=3)
    g = randomize_weights(b.build(b.relu(b.batchnorm(c)), b.sigmoid(c)), seed=2)
    r = optimize(g)
    # folding would need a second Conv (more FLOPs than the BN it removes): the cost model says no
    assert sorted(ops(r.graph)) == ["BatchNormalization", "Conv", "Relu", "Sigmoid"]


def test_rules_chain_through_removed_nodes():
    """transpose pair -> skip, then the two pads around it meet and merge, then the pad goes into the conv."""
    b, x = builder()
    y = pad(b, x, [0, 0, 1, 0, 0, 0, 0, 0], name="p1")
    y = b.transpose(b.transpose(y, [0, 1, 3, 2], name="t1"), [0, 1, 3, 2], name="t2")
    y = pad(b, y, [0, 0, 0, 1, 0, 0, 0, 0], name="p2")
    g = b.build(b.sigmoid(b.conv(y, 4, kernel=1, padding=0)))
    r = optimize(g)
    assert r.modified and ops(r.graph) == ["Conv", "Sigmoid"]
    assert r.graph.nodes[0].attrs["pads"] == [1, 1, 0, 0]


def test_deterministic():
    b, x = builder()
    y = pad(b, b.transpose(b.transpose(x, [0, 2, 3, 1]), [0, 3, 1, 2]), [0, 0, 1, 1, 0, 0, 1, 1])
    g = b.build(b.sigmoid(b.conv(y, 3, kernel=3, padding=0)))
    hashes = {structural_hash(EGraphOptimizer()(g.copy()).graph) for _ in range(2)}
    assert len(hashes) == 1


def test_on_a_zoo_model_alone():
    """Without bn-fold before it, the optimizer folds all 9 Conv+BN pairs of resnet_small (31 - 9 = 22)."""
    from tests.passes.conftest import zoo_model

    g = zoo_model("resnet_small")
    r = optimize(g)
    assert sum(n.op_type == "BatchNormalization" for n in g.nodes) == 9
    assert r.modified and len(r.graph.nodes) == 22
    assert not any(n.op_type == "BatchNormalization" for n in r.graph.nodes)


def test_extraction_pairing_a_conv_key_with_another_convs_weight_is_refused():
    # egglog has been seen (rarely) to extract conv_bn(key of conv A, weight of conv B); the
    # consistency check must refuse such a term, and accept the terms as encoded
    from alphanas.ir import GraphBuilder
    from alphanas.passes.egraph import T, _Codec, _vec

    b = GraphBuilder("two", seed=0)
    x = b.input("x", ("N", 3, 8, 8))
    y = b.conv(x, 4, 3, padding="same")
    z = b.conv(y, 4, 1)
    g = b.build(z)
    codec = _Codec(g, 10)
    roots = codec.encode()
    assert codec.consistent([codec.terms[id(v)] for v in roots])
    a, c = codec.convs
    bad = T.conv(codec.leaf(c.inputs[0]), codec.leaf(c.inputs[1]), T.none(), 0, _vec([0, 0, 0, 0]), 256)
    assert codec.convs[0] is a and not codec.consistent([bad])
    # a key this codec never made (seen once in CI inside egglog's extraction): priced out, and refused
    from alphanas.passes.egraph import UNBUILDABLE

    stray = T.conv(codec.leaf(c.inputs[0]), codec.leaf(c.inputs[1]), T.none(), 7, _vec([0, 0, 0, 0]), 256)
    assert codec.self_cost(stray) == UNBUILDABLE and not codec.consistent([stray])
    assert codec.self_cost(bad) < UNBUILDABLE


def test_terms_enter_the_egraph_exactly_as_encoded():
    """Regression (the flaky ``test_on_a_zoo_model_alone``): registering the roots with ``EGraph.register`` let
    egglog-python bind every shared subexpression, the small integers that leaves, conv keys and BN keys share
    included, to a global ``let``; now and then (depending on the run) that added a convolution keyed as
    another one, e.g. ``conv(x7, w7, none, 1, ...)``. ``add_terms`` adds the terms without such bindings, so
    the e-graph holds exactly the encoded convolutions, each with its own key."""
    import re

    from egglog import EGraph

    from alphanas.passes.egraph import _Codec, _pair_up, add_terms
    from tests.passes.conftest import zoo_model

    codec = _Codec(zoo_model("resnet_small").copy(), 10_000)
    roots = codec.encode()
    egraph = EGraph()
    add_terms(egraph, _pair_up([codec.terms[id(v)] for v in roots]))
    assert egraph._state.expr_to_let_counter == 0, "no let bindings: nothing can stand for a wrong value"
    egraph.register(*codec.facts)
    weight_leaf = {codec.leaf_index[id(c.inputs[1])]: k for k, c in enumerate(codec.convs)}
    convs = re.findall(r"TensorTerm\.conv\(TensorTerm\.leaf\(\d+\), TensorTerm\.leaf\((\d+)\), [^,]+, (\d+), Vec",
                       str(egraph.freeze()))
    assert sorted((int(w), int(k)) for w, k in convs) == sorted(weight_leaf.items())
