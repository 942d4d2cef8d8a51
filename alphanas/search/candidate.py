"""One point of the search: an architecture, where it came from, and what it measured.

A :class:`Candidate` is what the evolution loop, the store, parent selection and the Pareto logic
pass around. ``graph`` is the architecture as generated (its initial weights included); tabular
benchmarks (NAS-Bench-201) may leave it ``None`` and identify the cell by ``key`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alphanas.ir.graph import Graph
from alphanas.strenum import StrEnum


class CandidateStatus(StrEnum):
    """Where a candidate stands. A ``str``: it compares equal to, prints as, and is stored (SQLite, JSON) as
    its value (``"done"``), so stores written before the enum existed read back unchanged."""

    PENDING = "pending"  # generated and stored, not yet evaluated
    DONE = "done"  # evaluated; its metrics count
    FAILED = "failed"  # crash, divergence, or no valid mutation (``error`` says why)
    REJECTED = "rejected"  # violates a constraint; never trained
    DUPLICATE = "duplicate"  # same structural hash as an earlier candidate

    @property
    def final(self) -> bool:
        """True once the candidate will never be evaluated again."""
        return self is not CandidateStatus.PENDING


#: every value :attr:`Candidate.status` takes
STATUSES = tuple(CandidateStatus)
#: statuses after which a candidate is never evaluated again
FINAL_STATUSES = tuple(s for s in CandidateStatus if s.final)


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
    status: CandidateStatus = CandidateStatus.PENDING
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    id: int | None = None  # row id in the store
    key: Any = None  # tabular id (e.g. NB201 arch string) when graph is None
    description: str = ""  # what the mutation changed, in words
    trial: int | None = None  # position in the search's deterministic trial sequence

    def __post_init__(self) -> None:
        self.status = CandidateStatus(self.status)  # a plain string ("done") is accepted and converted

    @property
    def done(self) -> bool:
        return self.status == CandidateStatus.DONE

    @property
    def final(self) -> bool:
        return CandidateStatus(self.status).final


__all__ = ["FINAL_STATUSES", "STATUSES", "Candidate", "CandidateStatus"]
