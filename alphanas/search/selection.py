"""Parent selection over evaluated candidates.

Every function takes the population as a sequence of done candidates, **oldest first** (the order in
which they were evaluated), and a ``random.Random`` so that the same seed gives the same parents.
Fitness is read from ``candidate.metrics``: ``key`` is a metric name (default ``'val_acc'``, never a
test metric) or a callable ``candidate -> float``; larger is better.

- :func:`tournament`: best of ``k`` drawn uniformly without replacement from the whole population.
- :func:`regularized`: regularized evolution (Real et al., 2019): only the newest ``population``
  candidates are alive (aging), the parent is the best of ``sample`` drawn from them.
- :func:`pareto_near`: αNAS's default: weight each candidate by its normalised distance to an anchor
  sampled on the Pareto front of ``objectives``, keep the closest ``max(10, 10%)`` and sample with
  probability proportional to ``10 ** -distance``.
- :func:`select_parent`: dispatch by name (``'pareto' | 'regularized' | 'tournament'``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from alphanas.search.pareto import oriented_values, pareto_front, resolve_senses
from alphanas.search.protocols import ParentSelection

__all__ = ["tournament", "regularized", "pareto_near", "select_parent", "SELECTIONS", "fitness"]

Key = str | Callable[[Any], float]


def fitness(candidate: Any, key: Key = "val_acc") -> float:
    """The candidate's fitness under ``key``; ``-inf`` when the metric is missing or NaN."""
    value = key(candidate) if callable(key) else candidate.metrics.get(key)
    if value is None:
        return -math.inf
    value = float(value)
    return -math.inf if math.isnan(value) else value


def _require(pop: Sequence[Any]) -> None:
    if not pop:
        raise ValueError("cannot select a parent from an empty population")


def _best(candidates: Sequence[Any], key: Key) -> Any:
    # max() keeps the first of equal maxima, so ties go to the earliest drawn: deterministic by seed.
    return max(candidates, key=lambda c: fitness(c, key))


def tournament(pop: Sequence[Any], rng: random.Random, k: int = 3, key: Key = "val_acc") -> Any:
    """Best of ``min(k, len(pop))`` candidates drawn uniformly without replacement."""
    _require(pop)
    return _best(rng.sample(list(pop), min(k, len(pop))), key)


def regularized(pop: Sequence[Any], rng: random.Random, population: int = 10, sample: int = 3,
                key: Key = "val_acc") -> Any:
    """Regularized (aging) evolution: best of ``sample`` candidates drawn uniformly with replacement
    from the newest ``population`` ones, as in Real et al.; older candidates can never be parents."""
    _require(pop)
    alive = list(pop)[-population:]
    return _best([rng.choice(alive) for _ in range(sample)], key)


def pareto_near(pop: Sequence[Any], rng: random.Random, objectives: Sequence[str] = ("val_acc", "params"),
                senses: Mapping[str, str] | None = None, accuracy_only: float = 0.2,
                keep_fraction: float = 0.1, keep_min: int = 10) -> Any:
    """αNAS parent selection near the Pareto front of ``objectives`` (first one is the accuracy).

    With probability ``accuracy_only`` only the first objective is used. Otherwise every objective is
    min-max normalised to [0, 1] (1 = best), an anchor is drawn uniformly from the front and each
    candidate's weight is its Euclidean distance to the anchor. The ``max(keep_min, keep_fraction·n)``
    closest candidates stay, their weights are rescaled to [0, 1] and one is sampled with probability
    proportional to ``10 ** -weight``. Candidates missing an objective are chosen only if no complete
    candidate exists.
    """
    _require(pop)
    pop = list(pop)
    objectives = list(objectives)
    if rng.random() < accuracy_only:
        objectives = objectives[:1]
    resolved = resolve_senses(objectives, senses)
    oriented = [oriented_values(c.metrics, resolved) for c in pop]
    complete = [i for i, o in enumerate(oriented) if o is not None]
    if not complete:
        return rng.choice(pop)
    lows = [min(oriented[i][d] for i in complete) for d in range(len(objectives))]
    highs = [max(oriented[i][d] for i in complete) for d in range(len(objectives))]
    normalised = {i: tuple((oriented[i][d] - lows[d]) / (highs[d] - lows[d]) if highs[d] > lows[d] else 1.0
                           for d in range(len(objectives))) for i in complete}
    front = pareto_front([pop[i].metrics for i in complete], objectives, resolved)
    anchor = normalised[complete[rng.choice(front)]]
    distance = {i: math.dist(normalised[i], anchor) for i in complete}
    keep = max(keep_min, math.ceil(keep_fraction * len(complete)))
    kept = sorted(complete, key=lambda i: (distance[i], i))[:keep]
    top = max(distance[i] for i in kept)
    weights = [10.0 ** -(distance[i] / top if top > 0 else 0.0) for i in kept]
    return pop[rng.choices(kept, weights=weights)[0]]


SELECTIONS: dict[str, ParentSelection] = {
    "pareto": pareto_near,
    "regularized": regularized,
    "tournament": tournament,
}


def select_parent(name: str, pop: Sequence[Any], rng: random.Random, **kw: Any) -> Any:
    """Select one parent with the selection named ``name`` ('pareto' | 'regularized' | 'tournament');
    keyword arguments go to that function."""
    try:
        selection = SELECTIONS[name]
    except KeyError:
        raise ValueError(f"unknown selection {name!r}; choose one of {', '.join(SELECTIONS)}") from None
    return selection(pop, rng, **kw)
