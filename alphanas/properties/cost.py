"""The cost property: parameters, MACs, FLOPs and peak activation memory (exact counts, batch 1).

A count that depends on a symbolic dimension other than the batch is ``None`` (unknown): it neither
satisfies nor violates a budget.

Cost is a property of the whole (sub)graph rather than of (input, output) pairs, so it has no
per-value domain: :meth:`CostProperty.infer` counts directly with :mod:`alphanas.ir.cost`. As a
target it is a budget: a candidate satisfies it when every count is at most the target's. Distance:
the sum over the budgeted counts of the relative excess ``max(0, candidate / target - 1)``.
Mutation scales each budget by a factor drawn from ``[1 - p/2, 1 + p/2]``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from alphanas.ir import cost as ir_cost
from alphanas.properties.base import Property

FIELDS = ("params", "macs", "flops", "peak_activation_bytes")


class CostProperty(Property):
    name: ClassVar[str] = "cost"
    domain: ClassVar = None

    def __init__(self, params: int | None = None, macs: int | None = None, flops: int | None = None,
                 peak_activation_bytes: int | None = None) -> None:
        self.params, self.macs, self.flops, self.peak_activation_bytes = params, macs, flops, peak_activation_bytes

    def values(self) -> dict[str, int | None]:
        return {f: getattr(self, f) for f in FIELDS}

    @classmethod
    def infer(cls, graph) -> "CostProperty":
        from alphanas.ir.graph import Graph

        g = graph if isinstance(graph, Graph) else graph.to_graph("cost")
        c = ir_cost.counts(g)
        return cls(c["params"], c["macs"], c["flops"], ir_cost.peak_activation_bytes_or_none(g))

    @classmethod
    def from_states(cls, graph_inputs, output_states):
        raise TypeError("the cost property has no per-value states; use CostProperty.infer")

    def distance(self, candidate: "CostProperty") -> float:
        total = 0.0
        for f, t in self.values().items():
            c = getattr(candidate, f)
            if t is None or c is None:
                continue
            if c > t:
                total += (c - t) / max(t, 1)
        return total

    def mutate(self, rng: np.random.Generator, p: float) -> "CostProperty":
        new = {}
        for f, t in self.values().items():
            factor = 1.0 + p * (rng.random() - 0.5)
            new[f] = None if t is None else int(round(t * factor))
        return CostProperty(**new)

    def to_json(self) -> dict:
        return self.values()

    @classmethod
    def from_json(cls, d: dict) -> "CostProperty":
        return cls(**{f: d.get(f) for f in FIELDS})

    def describe(self) -> str:
        v = self.values()
        peak = v["peak_activation_bytes"]
        count = lambda n: "?" if n is None else f"{n:,}"  # noqa: E731  (None: unknown, symbolic shapes)
        return (f"cost params {count(v['params'])}  MACs {count(v['macs'])}  FLOPs {count(v['flops'])}  peak activations "
                f"{'?' if peak is None else f'{peak / 2**20:.2f} MiB'}")
