"""Adding an op type is one file: an op defined and registered here, and nowhere else, is picked up by
shape inference, the cost model, the properties, ONNX export and import, the torch lowering and the
synthesis vocabulary.

The op is ``Softsign`` (``x / (1 + |x|)``, an ONNX op alphanas does not define). It is registered for
this module only (the fixture unregisters it), so the rest of the suite sees the built-in registry.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from alphanas.ir import GraphBuilder, from_onnx, runtime, to_onnx, to_torch
from alphanas.ir.cost import graph_flops, graph_params, node_flops, node_params
from alphanas.ir.opdef import OpGroup, lookup, ops_in, register, registry, unregister
from alphanas.ir.ops.elementwise import ACTIVATION, Unary
from alphanas.ir.subgraph import Subgraph
from alphanas.properties import DepthProperty, MixingProperty, PropertySet
from alphanas.properties.oracle import concrete_mixing
from alphanas.synth import SynthesisProblem, Vocabulary, synthesize
from alphanas.synth.term import ACT_OPS, encode
from alphanas.ir.hashing import structural_hash


class Softsign(Unary):
    """``x / (1 + |x|)``: an activation; three FLOPs per element (abs, add, divide)."""

    op_type = "Softsign"
    groups = ACTIVATION
    fn = staticmethod(F.softsign)
    synth_kinds = {"softsign": {}}

    def flops(self, node):
        return 3 * node.outputs[0].numel()


def softsign(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.abs(x))


@pytest.fixture(scope="module", autouse=True)
def softsign_registered():
    assert lookup("Softsign") is None, "Softsign is built in now: pick another op for this test"
    register(Softsign)
    yield
    unregister("Softsign")


def conv_softsign_conv():
    """conv3x3 -> softsign -> conv1x1 on 3 -> 4 -> 2 channels at 6x6."""
    b = GraphBuilder("softsign", seed=0)
    x = b.input("x", ("N", 3, 6, 6))
    y = b.op("Softsign", b.conv(x, 4, 3, name="c1"), name="s")
    return b.build(b.conv(y, 2, 1, name="c2"))


def test_registered_in_its_groups():
    assert isinstance(lookup("Softsign"), Softsign)
    assert "Softsign" in ops_in(OpGroup.ACTIVATION) and "Softsign" in ops_in(OpGroup.NONLINEAR)


def test_shape_and_cost():
    g = conv_softsign_conv()
    s = next(n for n in g.nodes if n.op_type == "Softsign")
    assert s.outputs[0].shape == ("N", 4, 6, 6)
    assert node_params(s) == 0 and node_flops(s) == 3 * 4 * 6 * 6
    assert graph_params(g) == (4 * 3 * 9 + 4) + (2 * 4 + 2)
    without = sum(node_flops(n) for n in g.nodes if n is not s)
    assert graph_flops(g) == without + 3 * 4 * 6 * 6


def test_properties():
    g = conv_softsign_conv()
    assert DepthProperty.infer(g).depths == ((3,),)  # linear, non-linear, linear
    props = PropertySet.infer(g, ("shape", "depth", "mixing"))
    assert props["depth"] == DepthProperty.infer(g)
    # the element-wise access rule it inherits is exact: the abstraction equals the autograd Jacobians
    assert MixingProperty.infer(g) == concrete_mixing(g, samples=2, seed=0)


def test_onnx_round_trip_and_torch_lowering():
    b = GraphBuilder("one", seed=0)
    g = b.build(b.op("Softsign", b.input("x", ("N", 5))))
    model = to_onnx(g)
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node] == ["Softsign"]
    again = from_onnx(model)
    assert [n.op_type for n in again.nodes] == ["Softsign"] and not again.nodes[0].is_opaque
    assert structural_hash(again) == structural_hash(g)
    feeds = runtime.random_feeds(g, batch=3, seed=0)
    (ort_out,) = runtime.session(model, "cpu", threads=1).run(None, feeds)
    np.testing.assert_allclose(ort_out, softsign(feeds["x"]), rtol=1e-6, atol=1e-6)
    with torch.no_grad():
        torch_out = to_torch(g).eval()(torch.from_numpy(feeds["x"]))
    np.testing.assert_allclose(torch_out.numpy(), ort_out, rtol=1e-6, atol=1e-6)


def test_whole_graph_lowering_matches_onnxruntime():
    g = conv_softsign_conv()
    feeds = runtime.random_feeds(g, batch=2, seed=1)
    (ort_out,) = runtime.session(to_onnx(g), "cpu", threads=1).run(None, feeds)
    with torch.no_grad():
        torch_out = to_torch(g).eval()(torch.from_numpy(feeds["x"]))
    np.testing.assert_allclose(torch_out.numpy(), ort_out, rtol=1e-5, atol=1e-5)


def test_synthesis_vocabulary():
    assert ACT_OPS["softsign"] == "Softsign"
    assert Vocabulary().acts[-1] == "softsign"  # after the built-in activations, whose order is kept
    Vocabulary(acts=("softsign",))  # a known kind
    g = conv_softsign_conv()
    s = next(n for n in g.nodes if n.op_type == "Softsign")
    (root,) = encode(Subgraph(g, [s])).roots
    assert root[:2] == ("act", ("softsign",))


@pytest.mark.parametrize("synthesizer,acts", [("egraph", ("relu", "softsign")), ("progressive", ("softsign",))])
def test_synthesis_builds_it(synthesizer, acts):
    """conv -> relu, to be replaced by something of the same shape, depth and mixing: the e-graph's only
    change is the swap relu -> softsign; the progressive synthesizer's only non-linear op is softsign."""
    b = GraphBuilder("t", seed=0)
    x = b.input("x", ("N", 4, 6, 6))
    y = b.relu(b.conv(x, 4, name="c"), name="r")
    g = b.build(b.conv(y, 2, kernel=1, name="head"))
    sub = Subgraph(g, [n for n in g.nodes if n.name in ("c", "r")])
    target = PropertySet.infer(sub.to_graph("o"), ("shape", "depth", "mixing"))
    problem = SynthesisProblem(graph=g, subgraph=sub, target=target, seed=0, budget_s=20.0,
                               vocabulary=Vocabulary(acts=acts, families=("act_swap",)))
    res = synthesize(problem, synthesizer)  # (verified: ONNX checker, onnxruntime, torch forward and backward)
    assert res.distance == 0
    ops = [n.op_type for n in res.nodes]
    assert "Softsign" in ops and "Relu" not in ops, ops


def test_unregister_removes_it_everywhere():
    unregister("Softsign")
    try:
        assert lookup("Softsign") is None and ("", "Softsign") not in registry()
        assert "Softsign" not in ops_in(OpGroup.ACTIVATION)
        assert "softsign" not in ACT_OPS and "softsign" not in Vocabulary().acts
    finally:
        register(Softsign)
    assert "softsign" in Vocabulary().acts
