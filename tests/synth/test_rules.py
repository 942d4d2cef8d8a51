"""Every mutation rule family fires on a hand-built graph, and the alternative it adds materialises into
a valid whole graph (IR verify, ONNX checker, onnxruntime, torch forward/backward) with the same
output shape as the original under torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alphanas.ir.builder import GraphBuilder
from alphanas.ir.subgraph import Subgraph
from alphanas.synth.accept import strip_skips
from alphanas.synth.egraph import build_egraph, export, pop
from alphanas.synth.problem import Vocabulary
from alphanas.synth.rules import FAMILIES
from alphanas.synth.term import Materializer, T, Term, encode
from alphanas.synth.verify import check_graph, copy_with_subgraph
from alphanas.ir.torch_lowering import to_torch


def alternatives(graph, names, family, limit=400, depth=7):
    """Root terms (skips removed) that the e-graph holds after running one rule family."""
    sub = Subgraph(graph, [n for n in graph.nodes if n.name in names])
    enc = encode(sub)
    shapes = {enc.value_terms[id(v)]: tuple(v.shape) for v in enc.inputs}
    for n in sub.nodes:
        if enc.value_terms[id(n.outputs[0])].op == "fix":
            shapes[enc.value_terms[id(n.outputs[0])]] = tuple(n.outputs[0].shape)
    eg, _, _ = build_egraph(enc, Vocabulary(families=(family,), acts=("relu", "gelu")), shapes, iterations=3,
                            max_enodes=20000, deadline=float("inf"))
    try:
        ex = export(eg, enc)
    finally:
        pop(eg)
    memo: dict = {}

    def terms(cls, d):
        if d == 0:
            return set()
        key = (cls, d)
        if key in memo:
            return memo[key]
        memo[key] = set()
        out = set()
        for i in ex.classes[cls]:
            n = ex.nodes[i]
            if n.op == "widen":
                continue
            kid_sets = [terms(k, d - 1) for k in n.kids]
            combos = [()]
            for ks in kid_sets:
                combos = [c + (k,) for c in combos for k in ks][:limit]
            for c in combos:
                out.add(Term(n.op, n.params, c))
        memo[key] = {strip_skips(t) for t in list(out)[:limit]}
        return memo[key]

    root = ex.term_class[enc.roots[0]]
    return sub, enc, terms(root, depth)


def materialise_and_check(graph, sub, term):
    """Splice ``term`` in place of ``sub`` in a copy; every check must pass and torch shapes must match."""
    g2, sub2 = copy_with_subgraph(graph, sub)
    enc2 = encode(sub2)
    m = Materializer(enc2.fixed, np.random.default_rng(0))
    out = m.build(term, sub2.inputs)
    g2.replace(sub2, m.nodes, {sub2.outputs[0]: out})
    check_graph(g2)
    x = torch.randn(2, *graph.inputs[0].shape[1:])
    with torch.no_grad():
        want = to_torch(graph).eval()(x).shape
        got = to_torch(g2).eval()(x).shape
    assert got == want
    return g2


def conv_graph(cin=16, cout=32, k=3, size=8):
    b = GraphBuilder("t", seed=0)
    x = b.input("x", ("N", cin, size, size))
    y = b.relu(b.conv(x, cout, kernel=k, name="c"), name="r")
    return b.build(b.conv(y, 8, kernel=1, name="head"))


X = T("input", (0,))


def test_families_are_all_implemented():
    from egglog import EGraph

    from alphanas.synth import rules

    assert set(FAMILIES) == set(rules.FAMILY_RULESETS)
    prog = rules.program(FAMILIES, ("relu", "gelu"))
    eg = EGraph(save_egglog_string=True)
    eg.register(*prog.facts)
    eg.run(prog.round(last=True))
    text = eg.as_egglog_string
    assert text.count("(rule") > 60


def test_kernel_size():
    g = conv_graph(k=3)
    sub, enc, alts = alternatives(g, {"c"}, "kernel")
    for k in (1, 5):
        t = T("conv", (32, k, 1, 1, 1), X)
        assert t in alts
    materialise_and_check(g, sub, T("conv", (32, 5, 1, 1, 1), X))


def test_conv_to_depthwise_separable_and_back():
    g = conv_graph(k=3)
    sub, enc, alts = alternatives(g, {"c"}, "sepconv")
    sep = T("conv", (32, 1, 1, 1, 1), T("conv", (16, 3, 1, 16, 0), X))
    assert sep in alts
    g2 = materialise_and_check(g, sub, sep)
    # and back: the separable pair is rewritten to one dense k x k convolution
    names = {n.name for n in g2.nodes if n.op_type == "Conv" and n.name.startswith("syn")}
    _, _, back = alternatives(g2, names, "sepconv")
    assert T("conv", (32, 3, 1, 1, 1), X) in back


def test_grouped_conv():
    g = conv_graph(k=1)
    sub, enc, alts = alternatives(g, {"c"}, "group")
    assert T("conv", (32, 1, 1, 2, 1), X) in alts and T("conv", (32, 1, 1, 4, 1), X) in alts
    materialise_and_check(g, sub, T("conv", (32, 1, 1, 4, 1), X))


@pytest.mark.parametrize("factor", [(1, 4), (1, 2), (2, 1), (4, 1)])
def test_hidden_width(factor):
    g = conv_graph(cout=32)
    sub, enc, alts = alternatives(g, {"c", "r", "head"}, "width")
    h = 32 * factor[0] // factor[1]
    t = T("conv", (8, 1, 1, 1, 1), T("act", ("relu",), T("conv", (h, 3, 1, 1, 1), X)))
    assert t in alts
    materialise_and_check(g, sub, t)


def test_activation_swap():
    g = conv_graph()
    sub, enc, alts = alternatives(g, {"r"}, "act_swap")
    assert T("act", ("gelu",), X) in alts
    materialise_and_check(g, sub, T("act", ("gelu",), X))


def test_norm_swap():
    b = GraphBuilder("t", seed=0)
    x = b.input("x", ("N", 8, 6, 6))
    g = b.build(b.relu(b.batchnorm(b.conv(x, 8), name="bn")))
    sub, enc, alts = alternatives(g, {"bn"}, "norm_swap")
    assert T("norm", ("in",), X) in alts
    materialise_and_check(g, sub, T("norm", ("in",), X))


def test_insert_and_remove_activation():
    g = conv_graph()
    sub, enc, alts = alternatives(g, {"c", "r"}, "act_insdel")
    conv = T("conv", (32, 3, 1, 1, 1), X)
    assert conv in alts  # relu removed
    assert T("act", ("relu",), T("act", ("relu",), conv)) in alts or T("act", ("relu",), conv) in alts
    assert T("act", ("relu",), T("conv", (32, 3, 1, 1, 1), T("act", ("relu",), X))) in alts  # inserted on the input
    materialise_and_check(g, sub, conv)
    materialise_and_check(g, sub, T("act", ("relu",), T("conv", (32, 3, 1, 1, 1), T("act", ("relu",), X))))


def test_insert_and_remove_norm():
    g = conv_graph()
    sub, enc, alts = alternatives(g, {"c", "r"}, "norm_insdel")
    ins = T("act", ("relu",), T("norm", ("bn",), T("conv", (32, 3, 1, 1, 1), X)))
    assert ins in alts
    materialise_and_check(g, sub, ins)
    b = GraphBuilder("t", seed=0)
    x = b.input("x", ("N", 8, 6, 6))
    g = b.build(b.relu(b.batchnorm(b.conv(x, 8, name="c"), name="bn"), name="r"))
    sub, enc, alts = alternatives(g, {"c", "bn"}, "norm_insdel")
    assert T("conv", (8, 3, 1, 1, 1), X) in alts
    materialise_and_check(g, sub, T("conv", (8, 3, 1, 1, 1), X))


def test_pooling_swap_insert_remove():
    b = GraphBuilder("t", seed=0)
    x = b.input("x", ("N", 8, 6, 6))
    y = b.relu(b.conv(x, 8, name="c"), name="r")
    g = b.build(b.maxpool(y, 3, stride=1, padding=1, name="p"))
    sub, enc, alts = alternatives(g, {"r", "p"}, "pool")
    relu = T("act", ("relu",), X)
    assert T("pool", ("avg", 3, 1), relu) in alts  # max -> avg
    assert relu in alts  # stride-1 pool removed
    assert T("pool", ("max", 3, 1), T("pool", ("max", 3, 1), relu)) in alts  # pool inserted after an activation
    materialise_and_check(g, sub, T("pool", ("avg", 3, 1), relu))
    materialise_and_check(g, sub, T("pool", ("max", 3, 1), T("pool", ("max", 3, 1), relu)))


def test_low_rank_dense_and_pointwise_conv():
    b = GraphBuilder("t", seed=0)
    x = b.input("x", ("N", 32))
    g = b.build(b.relu(b.dense(x, 32, name="d"), name="r"))
    sub, enc, alts = alternatives(g, {"d"}, "lowrank")
    t = T("dense", (32, 1), T("dense", (8, 0), X))
    assert t in alts
    materialise_and_check(g, sub, t)
    g = conv_graph(k=1)
    sub, enc, alts = alternatives(g, {"c"}, "lowrank")
    t = T("conv", (32, 1, 1, 1, 1), T("conv", (4, 1, 1, 1, 0), X))
    assert t in alts
    materialise_and_check(g, sub, t)


def test_add_and_drop_residual():
    g = conv_graph(cin=16, cout=16)
    sub, enc, alts = alternatives(g, {"c"}, "residual")
    t = T("add", (), T("conv", (16, 3, 1, 1, 1), X), X)
    assert t in alts
    g2 = materialise_and_check(g, sub, t)
    adds = {n.name for n in g2.nodes if n.op_type in ("Add", "Conv") and n.name.startswith("syn")}
    _, _, back = alternatives(g2, adds, "residual")
    assert T("conv", (16, 3, 1, 1, 1), X) in back


def test_drop_branch_of_multiply():
    b = GraphBuilder("t", seed=0)
    x = b.input("x", ("N", 8, 6, 6))
    y = b.relu(b.conv(x, 8, name="c"), name="r")
    s = b.sigmoid(b.conv(b.global_avgpool(y, name="gap"), 8, kernel=1, name="se"), name="sg")
    g = b.build(b.conv(b.mul(y, s, name="m"), 8, kernel=1, name="head"))
    sub, enc, alts = alternatives(g, {"gap", "se", "sg", "m"}, "branch")
    assert X in alts  # x * gate(x) -> x
    g2 = materialise_and_check(g, sub, X)
    assert "Mul" not in {n.op_type for n in g2.nodes}
