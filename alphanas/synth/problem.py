"""Synthesis problems and results.

A :class:`SynthesisProblem` is a subgraph in its context (the whole graph, the boundary input values
and their shapes, and the input shapes of every other place the same block is used), a target
:class:`~alphanas.properties.PropertySet`, a :class:`Vocabulary`, a budget (wall-clock seconds and
e-nodes) and a seed. A synthesizer answers with a :class:`SynthesisResult` or raises
:class:`SynthesisFailed` carrying the best distance it reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alphanas.errors import AlphanasError
from alphanas.ir.graph import Graph, Node, Value
from alphanas.ir.subgraph import Subgraph
from alphanas.synth.rules import FAMILIES
from alphanas.synth.term import ACT_OPS, NORM_OPS


class SynthesisFailed(AlphanasError):
    """No satisfying, different subgraph was found within the budget (or every result failed checks).

    Not a user error: the CLI prints the message on one line and exits with status 1.
    """

    exit_code = 1

    def __init__(self, reason: str, best_distance: float = float("inf")) -> None:
        super().__init__(f"{reason} (best distance {best_distance:.3g})")
        self.reason = reason
        self.best_distance = best_distance


class BudgetExceeded(SynthesisFailed):
    """The mutation's time budget ran out before its result was verified (``what="verification"``) or
    before synthesis could start (``what="the mutation"``): any result is dropped (an unverified graph is
    never returned). ``stage`` names the check that was cut (or would not fit),
    ``elapsed_s`` the time the mutation had spent and ``budget_s`` its budget."""

    def __init__(self, stage: str, elapsed_s: float, budget_s: float, why: str = "", what: str = "verification") -> None:
        SynthesisFailed.__init__(self, f"{what} exceeded the budget: cut at {stage} after {elapsed_s:.2f} s "
                                       f"of a {budget_s:.2f} s budget{'; ' + why if why else ''}")
        self.stage, self.elapsed_s, self.budget_s = stage, elapsed_s, budget_s

    def __str__(self) -> str:  # (no best distance: nothing was wrong with the result but the time)
        return self.reason


@dataclass(frozen=True)
class Vocabulary:
    """What synthesis may use: activation kinds, norm kinds, rule families, kernel sizes, width factors.

    A search space restricts synthesis by passing a smaller vocabulary (e.g. ``acts=("relu",)``).
    """

    #: default: every activation and norm kind of the registered ops (for the built-in ops: relu, gelu,
    #: swish, sigmoid, tanh, relu6 and bn, ln, in)
    acts: tuple[str, ...] = field(default_factory=lambda: tuple(ACT_OPS))
    norms: tuple[str, ...] = field(default_factory=lambda: tuple(NORM_OPS))
    families: tuple[str, ...] = FAMILIES
    kernels: tuple[int, ...] = (1, 3, 5)
    widths: tuple[tuple[int, int], ...] = ((1, 4), (1, 2), (2, 1), (4, 1))

    def __post_init__(self) -> None:
        for a in self.acts:
            if a not in ACT_OPS:
                raise AlphanasError(f"vocabulary: unknown activation {a!r}; choose from {sorted(ACT_OPS)}")
        for n in self.norms:
            if n not in NORM_OPS:
                raise AlphanasError(f"vocabulary: unknown norm {n!r}; choose from {sorted(NORM_OPS)}")
        for f in self.families:
            if f not in FAMILIES:
                raise AlphanasError(f"vocabulary: unknown rule family {f!r}; choose from {list(FAMILIES)}")


@dataclass
class SynthesisProblem:
    """Everything a synthesizer needs; ``subgraph`` is a view on ``graph`` (which it must not modify)."""

    graph: Graph
    subgraph: Subgraph
    target: Any  # PropertySet
    names: tuple[str, ...] = ("shape", "depth", "mixing")
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    budget_s: float = 1.0
    max_enodes: int = 4000
    seed: int = 0
    #: "random": a seeded random pick among satisfying results (diversity); "cheapest": fewest FLOPs
    pick: str = "random"
    #: other places the same block is used, as (input shapes, output shapes): a result must run in
    #: each of them with those output shapes (the subgraph's own context is always checked)
    contexts: list[tuple[list[tuple], list[tuple]]] = field(default_factory=list)

    @property
    def inputs(self) -> list[Value]:
        return self.subgraph.inputs

    @property
    def outputs(self) -> list[Value]:
        return self.subgraph.outputs


@dataclass
class EGraphStats:
    """How an e-graph synthesis went: the e-graph's size, the rewriting rounds run, the extraction."""

    enodes: int
    eclasses: int
    iterations: int  # mutation rounds run (the e-node budget and the deadline may stop them early)
    passes: int = 0  # fixed-point passes of the last extraction stage
    evaluations: int = 0  # transfer-function evaluations
    pareto_k: int = 0  # Pareto entries per class of the last extraction stage
    satisfying: int = 0  # satisfying root alternatives found by the stage that answered


@dataclass
class ProgressiveStats:
    """How a progressive synthesis went: attempts (restarts), candidate evaluations, chains re-synthesized."""

    attempts: int
    evaluations: int
    chains: int
    satisfying: int | None = None  # pick="cheapest": accepted results the cheapest was chosen from
    flops: int | None = None  # pick="cheapest": the FLOPs of the returned subgraph


@dataclass
class SynthesisResult:
    """A synthesized replacement: new nodes reading the subgraph inputs, and which value replaces which.

    ``graph`` is the whole graph with the replacement spliced in (verified unless ``synthesize`` was
    asked not to), ``new``/``old`` the replacement and the replaced subgraph as graphs of their own.
    """

    nodes: list[Node]
    output_map: dict  # old boundary Value -> new Value
    achieved: Any  # PropertySet
    distance: float
    synth_ms: float
    description: str
    synthesizer: str
    graph: Graph
    new: Graph
    old: Graph
    verify_ms: float
    stats: EGraphStats | ProgressiveStats
