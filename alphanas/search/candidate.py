"""One point of the search: an architecture, where it came from, and what it measured.

A :class:`Candidate` is what the evolution loop, the store, parent selection and the Pareto logic
pass around. ``graph`` is the architecture as generated (its initial weights included); tabular
benchmarks (NAS-Bench-201) may leave it ``None`` and identify the cell by ``key`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alphanas.ir.graph import Graph

#: every value :attr:`Candidate.status` takes
STATUSES = ("pending", "done", "failed", "rejected", "duplicate")
#: statuses after which a candidate is never evaluated again
FINAL_STATUSES = ("done", "failed", "rejected", "duplicate")


@dataclass
class Candidate:
    """An architecture in the search with its lineage, properties, metrics and status.

    ``metrics`` holds plain floats: ``val_acc``/``test_acc`` (fractions in [0, 1]; only ``val_acc`` is
    used to select), ``params``, ``flops``, ``latency_ms``, ``train_s``, ... ``status`` is ``pending``
    until evaluated, then ``done``, ``failed`` (crash or divergence; ``error`` says why), ``rejected``
    (violates a constraint, never trained) or ``duplicate`` (same structural hash as an earlier one).
    """

    graph: Graph | None  # None for tabular candidates / after unloading
    hash: str  # structural hash (Graph.structural_hash)
    parent_id: int | None = None
    mutation: str = "seed"  # 'seed' | 'duplicate_block' | 'delete_block' | 'property' | 'random_edit' | 'random_sample'
    properties: dict | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    status: str = "pending"
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    id: int | None = None  # row id in the store
    key: Any = None  # tabular id (e.g. NB201 arch string) when graph is None
    description: str = ""  # what the mutation changed, in words
    trial: int | None = None  # position in the search's deterministic trial sequence

    @property
    def done(self) -> bool:
        return self.status == "done"

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES
