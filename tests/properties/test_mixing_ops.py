"""Per-op soundness and exactness of the mixing abstraction against the autograd-Jacobian oracle.

For every registered op type there are one or more small one-op graphs (``cases.CASES``); the
abstract mixing must over-approximate the concrete one in every cell, and equal it for the op types
with a rule in ``access.EXACT`` (all of them). Max-type ops are also checked with the raw (unsmoothed) oracle at
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
    without_rule = {op for (_, op), opdef in op_registry().items() if access.rule_of(opdef) is None}
    assert without_rule == set(), "registered op types without a mixing rule (would be opaque)"
    assert access.EXACT <= set(access.RULES)


def test_rules_are_declared_by_op_definitions():
    for (_, op), opdef in op_registry().items():
        assert access.rule_of(opdef) is access.RULES[opdef.access], op


@pytest.mark.parametrize("op,make", ALL_CASES)
def test_single_op_sound_and_exact(op, make):
    g = make()
    abstract = MixingProperty.infer(g)
    for seed in (0, 1):
        # raw ops except the max-type ones (their one-hot gradient needs the smoothed oracle; see below)
        concrete = concrete_mixing(g, samples=2, seed=seed, positive=positive(op), smooth=op in MAX_OPS)
        assert weaker_cells(abstract, concrete) == [], abstract.describe() + "\n" + concrete.describe()
        if op in access.exact_ops():
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


def test_window_pattern_matches_enumeration():
    """``access.window`` looks only at border positions; enumerate every position instead and compare."""
    import itertools

    def enumerate_positions(j, n, out, k, stride, pad, d):
        keys, w = set(), 0
        for p in range(out):
            idx = [p * stride - pad + t * d for t in range(k)]
            inside = [i for i in idx if 0 <= i < n]
            if inside:
                keys.add((inside[0], len(inside)))
                w = max(w, len(inside))
        return (w, (1 << j) if len(keys) > 1 else 0, (j, stride, -pad, -pad + (k - 1) * d))

    for n, k, s, pad, d, extra in itertools.product(range(1, 9), range(1, 5), range(1, 4), range(0, 4), (1, 2), (0, 1)):
        out = max(1, (n + 2 * pad - d * (k - 1) - 1) // s + 1 + extra)  # extra: a ceil-mode position
        assert access.window(2, n, out, k, s, pad, d) == enumerate_positions(2, n, out, k, s, pad, d), (n, k, s, pad, d)


def test_clipped_reach_matches_enumeration():
    import itertools

    from alphanas.properties.mixing import _clipped_reach

    for cap, a, lo, hi, m in itertools.product(range(1, 8), (1, 2, 3), range(-5, 3), range(-1, 10), range(1, 6)):
        if hi >= lo:
            expected = max(min(a * q + hi, cap - 1) - max(a * q + lo, 0) + 1 for q in range(m))
            assert _clipped_reach((0, a, lo, hi), cap, (m,)) == expected
