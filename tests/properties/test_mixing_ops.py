"""Per-op soundness and exactness of the mixing abstraction against the autograd-Jacobian oracle.

For every registered op type there are one or more small one-op graphs (``cases.CASES``); the
abstract mixing must over-approximate the concrete one in every cell, and equal it for the op types
in ``access.EXACT`` (all of them). Max-type ops are also checked with the raw (unsmoothed) oracle at
many random points, which is what the claim "EXACT includes MaxPool/GlobalMaxPool/ReduceMax" rests on.
"""

from __future__ import annotations

import numpy as np
import pytest

from alphanas.ir.opdef import registry as op_registry
from alphanas.properties import MixingProperty, access
from alphanas.properties.oracle import concrete_mixing
from tests.properties.cases import CASES, MAX_OPS, positive

ALL_CASES = [pytest.param(op, mk, id=label) for op, cases in sorted(CASES.items()) for label, mk in cases]


def weaker_cells(abstract: MixingProperty, concrete: MixingProperty) -> list[str]:
    """Cells where the abstract value is below the concrete one (empty when sound)."""
    bad = []
    for i, row in enumerate(concrete.matrices):
        for j, mc in enumerate(row):
            if mc is None:
                continue
            ma = abstract.matrices[i][j]
            if ma is None:
                bad.append(f"in{i}->out{j}: abstract says independent")
                continue
            a, c = np.array(ma), np.array(mc)
            for k, jj in zip(*np.nonzero(a < c)):
                bad.append(f"in{i}->out{j} cell ({k},{jj}): abstract {a[k, jj]} < concrete {c[k, jj]}")
    return bad


def test_every_registered_op_type_has_cases_and_a_rule():
    registered = {op for (_, op) in op_registry()}
    assert registered - set(CASES) == set(), "registered op types without a property test case"
    assert registered - set(access.RULES) == set(), "registered op types without a mixing rule (would be opaque)"
    assert access.EXACT <= set(access.RULES)


def test_rules_are_attached_to_op_definitions():
    for (_, op), opdef in op_registry().items():
        assert opdef.extras.get("mixing") is access.RULES[op], op


@pytest.mark.parametrize("op,make", ALL_CASES)
def test_single_op_sound_and_exact(op, make):
    g = make()
    abstract = MixingProperty.infer(g)
    for seed in (0, 1):
        # raw ops except the max-type ones (their one-hot gradient needs the smoothed oracle; see below)
        concrete = concrete_mixing(g, samples=2, seed=seed, positive=positive(op), smooth=op in MAX_OPS)
        assert weaker_cells(abstract, concrete) == [], abstract.describe() + "\n" + concrete.describe()
        if op in access.EXACT:
            assert abstract == concrete, abstract.describe() + "\n" + concrete.describe()


@pytest.mark.parametrize("op,make", [p for p in ALL_CASES if p.values[0] in MAX_OPS])
def test_max_ops_exact_with_raw_gradients(op, make):
    """Without smoothing, a max's gradient picks one arg-max per window; over 40 random points every window
    element has been the arg-max, and the union of the supports gives the abstract value exactly. With
    only 3 points the raw union is still incomplete (so the smoothed oracle is needed for few samples)."""
    g = make()
    abstract = MixingProperty.infer(g)
    assert concrete_mixing(g, samples=40, seed=3, smooth=False) == abstract
    assert concrete_mixing(g, samples=40, seed=3, smooth=True) == abstract
    assert concrete_mixing(g, samples=2, seed=3, smooth=False) != abstract
