"""Parent selection: determinism by seed, aging, tournament size, Pareto-near sampling."""

import random
from collections import Counter
from types import SimpleNamespace

import pytest

from alphanas.search.selection import (fitness, pareto_near, regularized, select_parent, tournament)


def population(accs, params=None):
    params = params or [1.0] * len(accs)
    return [SimpleNamespace(id=i, metrics={"val_acc": a, "params": p}) for i, (a, p) in enumerate(zip(accs, params))]


def draws(fn, pop, seed, n=50, **kw):
    rng = random.Random(seed)
    return [fn(pop, rng, **kw).id for _ in range(n)]


@pytest.mark.parametrize("name", ["tournament", "regularized", "pareto"])
def test_same_seed_same_parents(name):
    pop = population([0.1 * (i % 7) for i in range(30)], [float(i % 5) for i in range(30)])
    a = draws(lambda p, r, **kw: select_parent(name, p, r, **kw), pop, seed=11)
    b = draws(lambda p, r, **kw: select_parent(name, p, r, **kw), pop, seed=11)
    c = draws(lambda p, r, **kw: select_parent(name, p, r, **kw), pop, seed=12)
    assert a == b
    assert a != c


def test_regularized_only_newest_are_alive():
    # the oldest candidates are the best ones, but aging must never pick them
    pop = population([0.99] * 5 + [0.1 * i for i in range(10)])
    chosen = set(draws(regularized, pop, seed=0, n=300, population=10, sample=3))
    assert chosen <= set(range(5, 15))
    # best of 3 out of 10: the newest (best) one is picked with probability 1 - 0.9**3 = 0.271
    counts = Counter(draws(regularized, pop, seed=1, n=4000, population=10, sample=3))
    assert counts[14] / 4000 == pytest.approx(0.271, abs=0.03)
    # the worst alive candidate wins only when all three draws are it: 0.001
    assert counts[5] / 4000 < 0.01


def test_tournament_picks_best_of_k():
    pop = population([0.5, 0.9, 0.1, 0.7])
    assert set(draws(tournament, pop, seed=0, k=4)) == {1}
    # k=1 is uniform sampling
    assert set(draws(tournament, pop, seed=0, n=200, k=1)) == {0, 1, 2, 3}
    # k=2: the worst can never win
    assert 2 not in draws(tournament, pop, seed=0, n=200, k=2)


def test_key_may_be_callable_and_missing_metric_loses():
    pop = population([0.5, 0.9])
    assert tournament(pop, random.Random(0), k=2, key=lambda c: -c.metrics["val_acc"]).id == 0
    pop.append(SimpleNamespace(id=2, metrics={}))
    assert fitness(pop[2]) == float("-inf")
    assert tournament(pop, random.Random(0), k=3).id == 1


def test_pareto_near_prefers_front():
    # 20 dominated candidates and 3 front candidates; the front must be sampled far more than its share
    accs = [0.3 + 0.01 * i for i in range(20)] + [0.9, 0.8, 0.7]
    params = [50.0] * 20 + [10.0, 5.0, 1.0]
    pop = population(accs, params)
    counts = Counter(draws(pareto_near, pop, seed=4, n=1000, objectives=("val_acc", "params"), keep_min=5))
    front_share = sum(counts[i] for i in (20, 21, 22)) / 1000
    assert front_share > 0.5
    assert set(counts) <= set(range(23))


def test_pareto_near_accuracy_only_is_greedy_on_accuracy():
    pop = population([0.2, 0.95, 0.5], [1.0, 100.0, 2.0])
    # with only the accuracy objective the anchor is the most accurate candidate, distance 0
    counts = Counter(draws(pareto_near, pop, seed=0, n=2000, accuracy_only=1.0, keep_min=3))
    assert counts.most_common(1)[0][0] == 1


def test_errors():
    with pytest.raises(ValueError):
        select_parent("nope", population([0.1]), random.Random(0))
    with pytest.raises(ValueError):
        tournament([], random.Random(0))
