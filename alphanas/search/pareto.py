"""Pareto logic over metric dictionaries: dominance, fronts, crowding distance, 2-D hypervolume.

A *point* is a mapping from objective name to value (typically ``Candidate.metrics``). ``senses`` maps
each objective to ``'max'`` (accuracy) or ``'min'`` (params, flops, latency_ms). Points missing an
objective, or holding NaN for it, are never on a front.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["dominates", "pareto_front", "pareto_ranks", "crowding_distance", "hypervolume_2d",
           "hypervolume_improvement_2d", "default_sense",
           "resolve_senses", "oriented_values"]

_MAXIMIZED = ("acc", "accuracy", "score")


def default_sense(objective: str) -> str:
    """'max' for accuracy-like objectives (names containing 'acc' or 'score'), else 'min'."""
    return "max" if any(word in objective.lower() for word in _MAXIMIZED) else "min"


def resolve_senses(objectives: Sequence[str], senses: Mapping[str, str] | None) -> dict[str, str]:
    """``{objective: 'max' | 'min'}`` for each objective, from ``senses`` or :func:`default_sense`."""
    resolved = {}
    for objective in objectives:
        sense = (senses or {}).get(objective) or default_sense(objective)
        if sense not in ("max", "min"):
            raise ValueError(f"objective {objective!r}: sense must be 'max' or 'min', not {sense!r}")
        resolved[objective] = sense
    return resolved


def oriented_values(point: Mapping[str, float], senses: Mapping[str, str]) -> tuple[float, ...] | None:
    """The point as a tuple where larger is better on every axis; None when a value is missing/NaN."""
    values = []
    for objective, sense in senses.items():
        value = point.get(objective)
        if value is None:
            return None
        value = float(value)
        if math.isnan(value):
            return None
        values.append(value if sense == "max" else -value)
    return tuple(values)


def _dominates_oriented(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def dominates(a: Mapping[str, float], b: Mapping[str, float], senses: Mapping[str, str]) -> bool:
    """True when ``a`` is at least as good as ``b`` on every objective of ``senses`` and better on one.

    A point with a missing or NaN objective dominates nothing and is dominated by every complete point.
    """
    oa, ob = oriented_values(a, senses), oriented_values(b, senses)
    if oa is None:
        return False
    if ob is None:
        return True
    return _dominates_oriented(oa, ob)


def pareto_front(points: Sequence[Mapping[str, float]], objectives: Sequence[str],
                 senses: Mapping[str, str] | None = None) -> list[int]:
    """Indices (ascending) of the non-dominated points. Exact duplicates are all kept on the front."""
    resolved = resolve_senses(objectives, senses)
    oriented = [oriented_values(point, resolved) for point in points]
    complete = [i for i, o in enumerate(oriented) if o is not None]
    return [i for i in complete
            if not any(_dominates_oriented(oriented[j], oriented[i]) for j in complete if j != i)]


def pareto_ranks(points: Sequence[Mapping[str, float]], objectives: Sequence[str],
                 senses: Mapping[str, str] | None = None) -> list[int]:
    """Non-dominated sorting: rank 0 for the front, 1 for the front of the rest, ...; incomplete
    points get rank ``len(points)``."""
    ranks = [len(points)] * len(points)
    remaining = list(range(len(points)))
    rank = 0
    while remaining:
        front = pareto_front([points[i] for i in remaining], objectives, senses)
        if not front:
            break
        for local in front:
            ranks[remaining[local]] = rank
        chosen = {remaining[local] for local in front}
        remaining = [i for i in remaining if i not in chosen]
        rank += 1
    return ranks


def crowding_distance(points: Sequence[Mapping[str, float]], objectives: Sequence[str]) -> list[float]:
    """NSGA-II crowding distance of each point within ``points`` (usually one front).

    Boundary points of each objective get ``inf``; inner points the sum over objectives of the
    normalised gap between their neighbours. Senses do not matter (the gap is symmetric).
    """
    n = len(points)
    distance = [0.0] * n
    if n <= 2:
        return [math.inf] * n
    for objective in objectives:
        order = sorted(range(n), key=lambda i: float(points[i][objective]))
        low, high = float(points[order[0]][objective]), float(points[order[-1]][objective])
        distance[order[0]] = distance[order[-1]] = math.inf
        if high == low:
            continue
        for before, here, after in zip(order, order[1:], order[2:]):
            gap = float(points[after][objective]) - float(points[before][objective])
            distance[here] += gap / (high - low)
    return distance


def hypervolume_improvement_2d(front: np.ndarray, candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """How much each candidate point would add to the hypervolume of ``front`` (both objectives
    maximized; arrays of shape ``(F, 2)``, ``(C, 2)`` and ``(2,)``), bounded by ``reference``: the area of
    the candidate's box minus its overlap with the front's boxes (the front clipped to the candidate)."""
    front = np.asarray(front, dtype=float).reshape(-1, 2)
    cand = np.asarray(candidates, dtype=float).reshape(-1, 2)
    ref = np.asarray(reference, dtype=float)
    box = np.clip(cand[:, 0] - ref[0], 0.0, None) * np.clip(cand[:, 1] - ref[1], 0.0, None)
    if len(front) == 0:
        return box
    x = np.minimum(front[None, :, 0], cand[:, None, 0])
    y = np.minimum(front[None, :, 1], cand[:, None, 1])
    order = np.argsort(-x, axis=1, kind="stable")
    x, y = np.take_along_axis(x, order, 1), np.take_along_axis(y, order, 1)
    before = np.concatenate([np.full((len(cand), 1), ref[1]), np.maximum.accumulate(y, axis=1)[:, :-1]], axis=1)
    before = np.maximum(before, ref[1])
    overlap = (np.clip(x - ref[0], 0.0, None) * np.clip(y - before, 0.0, None)).sum(1)
    return np.maximum(box - overlap, 0.0)


def hypervolume_2d(points: Sequence[Mapping[str, float]], objectives: Sequence[str],
                   senses: Mapping[str, str] | None, reference: Mapping[str, float]) -> float:
    """Area dominated by ``points`` and bounded by the ``reference`` point (2 objectives).

    Points that do not strictly improve on the reference in both objectives contribute nothing.
    """
    if len(objectives) != 2:
        raise ValueError("hypervolume_2d needs exactly two objectives")
    resolved = resolve_senses(objectives, senses)
    ref = oriented_values(reference, resolved)
    if ref is None:
        raise ValueError("the reference point must hold both objectives")
    oriented = [o for o in (oriented_values(p, resolved) for p in points)
                if o is not None and o[0] > ref[0] and o[1] > ref[1]]
    area, best_y = 0.0, ref[1]
    for x, y in sorted(oriented, reverse=True):  # sweep from the best first objective down
        if y > best_y:
            area += (x - ref[0]) * (y - best_y)
            best_y = y
    return area
