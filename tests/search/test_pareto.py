"""Pareto logic against hand-computed fronts, ranks, crowding distances and areas."""

import math

import numpy as np
import pytest

from alphanas.search.pareto import (crowding_distance, default_sense, dominates, hypervolume_2d,
                                    pareto_front, pareto_ranks)

SENSES = {"acc": "max", "params": "min"}

# Hand-drawn: (acc, params). Front = A(90,10) B(80,5) C(95,20) F(70,1); D(85,15) is dominated by A,
# E(80,8) by B, G(90,10) duplicates A (kept: neither dominates the other).
POINTS = [
    {"acc": 90, "params": 10},  # 0 A
    {"acc": 80, "params": 5},   # 1 B
    {"acc": 95, "params": 20},  # 2 C
    {"acc": 85, "params": 15},  # 3 D
    {"acc": 80, "params": 8},   # 4 E
    {"acc": 70, "params": 1},   # 5 F
    {"acc": 90, "params": 10},  # 6 G
]


def test_dominance_respects_senses():
    assert dominates(POINTS[0], POINTS[3], SENSES)
    assert not dominates(POINTS[3], POINTS[0], SENSES)
    assert not dominates(POINTS[0], POINTS[6], SENSES)  # equal points do not dominate
    assert not dominates(POINTS[0], POINTS[1], SENSES) and not dominates(POINTS[1], POINTS[0], SENSES)
    flipped = {"acc": "min", "params": "max"}
    assert dominates(POINTS[3], POINTS[0], flipped)


def test_missing_or_nan_objective_never_on_front():
    points = [{"acc": 50, "params": 1}, {"acc": math.nan, "params": 0}, {"params": 0}]
    assert pareto_front(points, ["acc", "params"], SENSES) == [0]
    assert dominates(points[0], points[1], SENSES) and not dominates(points[1], points[0], SENSES)


def test_front_hand_computed():
    assert pareto_front(POINTS, ["acc", "params"], SENSES) == [0, 1, 2, 5, 6]
    assert pareto_front(POINTS, ["acc"], SENSES) == [2]
    assert pareto_front(POINTS, ["params"], SENSES) == [5]
    # senses default from the names: 'acc' is maximised, 'params' minimised
    assert pareto_front(POINTS, ["acc", "params"], None) == [0, 1, 2, 5, 6]
    assert default_sense("val_acc") == "max" and default_sense("latency_ms") == "min"
    with pytest.raises(ValueError):
        pareto_front(POINTS, ["acc"], {"acc": "up"})


def test_front_matches_brute_force_on_random_points():
    import random
    rng = random.Random(3)
    for _ in range(20):
        points = [{"a": rng.randint(0, 5), "b": rng.randint(0, 5), "c": rng.randint(0, 5)} for _ in range(15)]
        senses = {"a": "max", "b": "min", "c": "max"}
        expected = [i for i, p in enumerate(points)
                    if not any(all((q[k] >= p[k]) if s == "max" else (q[k] <= p[k]) for k, s in senses.items())
                               and q != p for q in points)]
        assert pareto_front(points, list(senses), senses) == expected


def test_ranks_hand_computed():
    # rank 0: A B C F G; rank 1: D E
    assert pareto_ranks(POINTS, ["acc", "params"], SENSES) == [0, 0, 0, 1, 1, 0, 0]


def test_crowding_distance_hand_computed():
    front = [{"x": 0, "y": 4}, {"x": 1, "y": 2}, {"x": 3, "y": 1}, {"x": 4, "y": 0}]
    d = crowding_distance(front, ["x", "y"])
    assert d[0] == math.inf and d[3] == math.inf
    assert d[1] == pytest.approx((3 - 0) / 4 + (4 - 1) / 4)
    assert d[2] == pytest.approx((4 - 1) / 4 + (2 - 0) / 4)
    assert crowding_distance(front[:2], ["x", "y"]) == [math.inf, math.inf]


def test_hypervolume_hand_computed():
    # Front B(80,5) A(90,10) C(95,20) against reference (60, 25):
    # strips from the best accuracy down: C: (95-60)*(25-20)=175, A: (90-60)*(20-10)=300, B: (80-60)*(10-5)=100
    # F(70,1): (70-60)*(5-1)=40. Dominated points and duplicates add nothing.
    assert hypervolume_2d(POINTS, ["acc", "params"], SENSES, {"acc": 60, "params": 25}) == pytest.approx(615)
    # a point not better than the reference in both objectives contributes nothing
    assert hypervolume_2d([{"acc": 50, "params": 1}], ["acc", "params"], SENSES, {"acc": 60, "params": 25}) == 0
    with pytest.raises(ValueError):
        hypervolume_2d(POINTS, ["acc"], SENSES, {"acc": 0})


def test_hypervolume_improvement_hand_computed_and_against_the_area():
    from alphanas.search.pareto import hypervolume_improvement_2d

    # both maximized; front (3,1) and (1,3), reference (0,0): area 3 + 3 - 1 = 5.
    front = np.array([[3.0, 1.0], [1.0, 3.0]])
    gains = hypervolume_improvement_2d(front, np.array([[2.0, 2.0], [4.0, 4.0], [0.5, 0.5], [3.0, 0.5]]),
                                       np.zeros(2))
    # (2,2) adds the unit square [1,2]x[1,2]; (4,4) dominates both: 16 - 5; dominated points add nothing
    assert gains.tolist() == pytest.approx([1.0, 11.0, 0.0, 0.0])
    assert hypervolume_improvement_2d(np.zeros((0, 2)), np.array([[2.0, 3.0]]), np.zeros(2)).tolist() == [6.0]
    # against hypervolume_2d of the front with and without each point, on random points
    rng = np.random.default_rng(0)
    senses = {"a": "max", "b": "max"}
    for _ in range(50):
        pts = rng.uniform(0, 1, size=(rng.integers(1, 8), 2))
        cand = rng.uniform(-0.2, 1.2, size=(6, 2))
        as_dicts = [{"a": a, "b": b} for a, b in pts]
        base = hypervolume_2d(as_dicts, ["a", "b"], senses, {"a": 0.1, "b": 0.05})
        want = [hypervolume_2d([*as_dicts, {"a": a, "b": b}], ["a", "b"], senses, {"a": 0.1, "b": 0.05}) - base
                for a, b in cand]
        assert hypervolume_improvement_2d(pts, cand, np.array([0.1, 0.05])) == pytest.approx(want, abs=1e-12)
