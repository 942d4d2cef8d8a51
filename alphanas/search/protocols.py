"""The collaborators of the evolution loop, as protocols: what :class:`~alphanas.search.evolution.Evolution`
needs of an evaluator, a mutation strategy, a parent selection, an executor, a store and a proxy screen.

Any object with these methods and attributes works (structural typing); the built-in ones are
:class:`~alphanas.search.evaluators.TrainEvaluator`, :class:`~alphanas.search.mutations.Mutator`,
the functions of :data:`alphanas.search.selection.SELECTIONS`, the executors of
:mod:`alphanas.search.executors`, :class:`~alphanas.search.store.Store` and
:class:`~alphanas.search.proxies.ProxyScreen`.
"""

from __future__ import annotations

import concurrent.futures as cf
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from alphanas.ir.graph import Graph

if TYPE_CHECKING:
    import numpy as np

    from alphanas.search.candidate import Candidate, CandidateStatus
    from alphanas.search.evaluators import Evaluation
    from alphanas.search.mutations import Mutant


@runtime_checkable
class Evaluator(Protocol):
    """Anything with ``evaluate(graph, *, seed, parent=None) -> dict[str, float]`` (plain floats; accuracies
    are fractions, ``val_acc`` selects). It travels to worker processes, so it must pickle."""

    def evaluate(self, graph: Graph, *, seed: int, parent: Graph | None = None) -> dict[str, float]: ...


@runtime_checkable
class TrainingEvaluator(Evaluator, Protocol):
    """An evaluator that also returns the trained graph (the search stores its weights)."""

    def run(self, graph: Graph, *, seed: int, parent: Graph | None = None) -> Evaluation: ...


class MutationStrategy(Protocol):
    """Draws and applies one mutation of a parent; its settings are part of the search's identity."""

    strategy: str
    probabilities: dict[str, float] | None
    synthesizer: str
    p: float
    pick: str
    focus: str | None

    def propose(self, parent: Graph, seed_graph: Graph, rng: np.random.Generator) -> Mutant:
        """One mutant of ``parent`` (raises :class:`~alphanas.search.mutations.MutationFailed`)."""
        ...


class ParentSelection(Protocol):
    """Chooses one parent from the population (options such as ``objectives`` come as keywords)."""

    def __call__(self, pop: Sequence[Any], rng: random.Random, **options: Any) -> Any: ...


class Executor(Protocol):
    """Runs evaluation tasks: ``workers`` at once, each returning a future."""

    workers: int

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future: ...

    def shutdown(self) -> None: ...


class CandidateStore(Protocol):
    """Where the search keeps its settings, candidates and their ONNX models (see :class:`~alphanas.search.store.Store`)."""

    dir: Path

    def check_config(self, config: dict[str, Any], compatible: set[str]) -> None: ...

    def candidates(self, status: CandidateStatus | str | None = None) -> list[Candidate]: ...

    def add(self, cand: Candidate, model: Graph | bytes | None = None) -> int: ...

    def update(self, cand: Candidate) -> None: ...

    def model_path(self, cid: int, trained: bool = False) -> Path: ...

    def save_model(self, cid: int, model: Graph | bytes, trained: bool = False) -> Path: ...

    def load_model(self, cid: int, trained: bool = False) -> Graph: ...


class Screen(Protocol):
    """A zero-cost pre-screen: scores mutants so that only the best ``keep`` fraction is trained."""

    proxy: str
    keep: float

    def scores(self, graphs: list[Graph], *, seed: int = 0) -> list[float]: ...


__all__ = ["CandidateStore", "Evaluator", "Executor", "MutationStrategy", "ParentSelection", "Screen",
           "TrainingEvaluator"]
