"""Soundness on random subgraphs: cuts of the zoo models and random graphs from hypothesis.

For every subgraph, against the concrete oracles (:mod:`alphanas.properties.oracle`): the abstract
mixing over-approximates the autograd-Jacobian mixing in every cell, and depth and shape equal the
ones of the executed torch program. 6 x 35 zoo cuts + 100 random graphs + 60 random single ops
(which must be exact) = 370 subgraphs.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphanas.properties import PropertySet, access
from alphanas.properties.oracle import concrete_depth, concrete_mixing, concrete_shapes
from tests.properties.cases import MAX_OPS, ZOO_SMALL, eval_shape, random_graph, random_subgraph, zoo_graph
from tests.properties.test_mixing_ops import weaker_cells

CUTS_PER_MODEL = 35
BATCH = 2


def check_against_oracles(g, seed: int) -> PropertySet:
    """Assert mixing over-approximation and equal depth/shape; returns the inferred properties."""
    props = PropertySet.infer(g)
    concrete = concrete_mixing(g, samples=2, batch=BATCH, seed=seed)
    assert weaker_cells(props["mixing"], concrete) == [], props["mixing"].describe() + "\n" + concrete.describe()
    assert [list(r) for r in props["depth"].depths] == concrete_depth(g)
    assert [eval_shape(s, BATCH) for s in props["shape"].outputs] == concrete_shapes(g, batch=BATCH)
    return props


@pytest.mark.parametrize("model", sorted(ZOO_SMALL))
def test_zoo_cuts(model):
    g = zoo_graph(model)
    rng = np.random.default_rng(7)
    checked, sizes = 0, set()
    for _ in range(50 * CUTS_PER_MODEL):
        if checked == CUTS_PER_MODEL:
            break
        sub = random_subgraph(g, rng, max_nodes=6, max_elems=300)
        if sub is None:
            continue
        check_against_oracles(sub.to_graph(), seed=checked)
        checked += 1
        sizes.add(len(sub.nodes))
    assert checked == CUTS_PER_MODEL
    assert len(sizes) >= 3  # cuts of several sizes, not only single nodes


_SETTINGS = dict(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@settings(max_examples=100, **_SETTINGS)
@given(st.randoms(use_true_random=False))
def test_random_graphs(r):
    g = random_graph(r)
    check_against_oracles(g, seed=r.randrange(1 << 16))


@settings(max_examples=60, **_SETTINGS)
@given(st.randoms(use_true_random=False))
def test_random_single_ops_are_exact(r):
    """One random op with random parameters (kernel, stride, dilation, pads, groups, axes, permutations,
    slices, ...) on a random input: the abstraction is exact (``access.EXACT``), except for a node that
    reads one value in two operands (``x - x``, ``concat(x, x)``), which is a join of two paths."""
    g = random_graph(r, steps=1)
    props = check_against_oracles(g, seed=r.randrange(1 << 16))
    node = g.nodes[-1]
    operands = [id(v) for v in node.inputs if v is not None and not v.is_const]
    if len(g.nodes) == 1 and node.op_type in access.exact_ops() and len(set(operands)) == len(operands):
        raw = concrete_mixing(g, samples=2, batch=BATCH, seed=1, smooth=node.op_type in MAX_OPS)
        assert props["mixing"] == raw, props["mixing"].describe() + "\n" + raw.describe()
